//! Extractor impls: `Session<D>`, `Option<Session<D>>` and `Sessions`.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::handle::{Sessions, to_session};
use crate::rejection::SessionRejection;
use crate::request::RequestSession;
use crate::session::Session;

pub(crate) fn request_session(parts: &Parts) -> Result<Arc<RequestSession>, SessionRejection> {
    parts
        .extensions
        .get::<Arc<RequestSession>>()
        .cloned()
        .ok_or(SessionRejection::MissingLayer)
}

/// The request's session, resolved; a failure to resolve it narrowed to a rejection.
async fn resolved(
    parts: &Parts,
) -> Result<Option<Arc<crate::strategy::ValidSession>>, SessionRejection> {
    request_session(parts)?
        .session()
        .await
        .map_err(SessionRejection::from_resolution)
}

/// Rejects only with [`SessionRejection::MissingLayer`] (500): it resolves nothing itself.
impl<S: Send + Sync> FromRequestParts<S> for Sessions {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, SessionRejection> {
        Ok(Sessions {
            request: request_session(parts)?,
        })
    }
}

/// Rejects with [`SessionRejection`]: 401 when there is no valid session, 503 when the store
/// is down, 500 without a layer.
impl<S, D> FromRequestParts<S> for Session<D>
where
    S: Send + Sync,
    D: DeserializeOwned + Send + 'static,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, SessionRejection> {
        let resolved = resolved(parts)
            .await?
            .ok_or(SessionRejection::Unauthenticated)?;
        // Stored data that does not fit `D` is no valid session.
        to_session(&resolved).map_err(|_| SessionRejection::Unauthenticated)
    }
}

/// `None` when there is no valid session; still 503 when the store is down (a check that
/// cannot be made is not the same as "logged out").
impl<S, D> OptionalFromRequestParts<S> for Session<D>
where
    S: Send + Sync,
    D: DeserializeOwned + Send + 'static,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &S,
    ) -> Result<Option<Self>, SessionRejection> {
        match resolved(parts).await? {
            Some(resolved) => Ok(to_session(&resolved).ok()),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The extractor's future is part of every handler's future that takes a session, and axum
    /// moves that whole when it boxes it: resolving that waits (on the store, on a refresh)
    /// lives in a box of its own, taken only when it is needed.
    #[test]
    fn the_session_extractor_future_stays_small() {
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        let future = <Session<serde_json::Value> as FromRequestParts<()>>::from_request_parts(
            &mut parts,
            &(),
        );
        let size = std::mem::size_of_val(&future);
        drop(future);
        assert!(
            size <= 128,
            "the Session extractor's future is {size} bytes"
        );
    }
}
