//! Extractor impls: `Session<D>`, `Option<Session<D>>` and `Sessions`.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::request::RequestSession;
use crate::session::Session;
use crate::sessions::{Sessions, to_session};

pub(crate) fn request_session(parts: &Parts) -> Result<Arc<RequestSession>, Error> {
    parts
        .extensions
        .get::<Arc<RequestSession>>()
        .cloned()
        .ok_or(Error::MissingLayer)
}

impl<S: Send + Sync> FromRequestParts<S> for Sessions {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        Ok(Sessions {
            request: request_session(parts)?,
        })
    }
}

/// Rejects with 401 when there is no valid session, 503 when the store is down.
impl<S, D> FromRequestParts<S> for Session<D>
where
    S: Send + Sync,
    D: DeserializeOwned + Send + 'static,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let request = request_session(parts)?;
        let resolved = request.session().await?.ok_or(Error::Unauthenticated)?;
        to_session(&resolved)
    }
}

/// `None` when there is no valid session; still 503 when the store is down (a check that
/// cannot be made is not the same as "logged out").
impl<S, D> OptionalFromRequestParts<S> for Session<D>
where
    S: Send + Sync,
    D: DeserializeOwned + Send + 'static,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Error> {
        let request = request_session(parts)?;
        match request.session().await? {
            Some(resolved) => Ok(to_session(&resolved).ok()),
            None => Ok(None),
        }
    }
}
