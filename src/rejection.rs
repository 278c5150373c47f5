//! [`SessionRejection`]: what the session extractors answer when they cannot hand a handler
//! its session.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::{Error, StoreError};

/// Why a [`Session`](crate::Session), `Option<Session<D>>` or [`Sessions`](crate::Sessions)
/// extractor refused a request: only what extraction can produce. It answers like axum's own
/// rejections (a status and a small JSON body `{"error": "..."}`), and converts into
/// [`Error`] so handlers returning `Result<_, sessionward::Error>` can use `?` on it. The
/// bodies of the 401 and 503 answers can be shaped with
/// [`SessionConfig::rejection_responder`](crate::SessionConfig::rejection_responder).
///
/// ```
/// use axum::extract::FromRequestParts;
/// use axum::http::{Request, StatusCode};
/// use sessionward::{Session, SessionRejection};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// // A request that never went through a SessionLayer.
/// let (mut parts, _) = Request::new(()).into_parts();
/// let rejection: SessionRejection =
///     Session::<serde_json::Value>::from_request_parts(&mut parts, &()).await.unwrap_err();
/// assert!(matches!(rejection, SessionRejection::MissingLayer));
/// assert_eq!(rejection.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// let error: sessionward::Error = rejection.into();
/// assert!(matches!(error, sessionward::Error::MissingLayer));
/// # });
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The request did not pass through a [`SessionLayer`](crate::SessionLayer). 500: a
    /// wiring mistake in the application. The only rejection of [`Sessions`](crate::Sessions).
    #[error("no SessionLayer is installed on this route")]
    MissingLayer,
    /// No session, or the one presented is unknown, expired, revoked, malformed, or its data
    /// does not fit the type the handler asks for. 401. (`Option<Session<D>>` answers `None`
    /// instead.)
    #[error("no valid session")]
    Unauthenticated,
    /// The session store could not answer in time or failed. 503: a check that cannot be made
    /// never lets a request through, not even as "logged out".
    #[error("the session store is unavailable")]
    StoreUnavailable(#[source] Arc<StoreError>),
    /// The session was due for its periodic refresh and the refreshed session could not be
    /// issued (a JWT key the crypto backend refuses: 500; a token over the size limit: 413).
    /// The answer is the inner error's.
    #[error("the session could not be refreshed")]
    RefreshFailed(#[source] Box<Error>),
}

impl SessionRejection {
    /// The HTTP status this rejection answers with.
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// assert_eq!(sessionward::SessionRejection::Unauthenticated.status(), StatusCode::UNAUTHORIZED);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            SessionRejection::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
            SessionRejection::Unauthenticated => StatusCode::UNAUTHORIZED,
            SessionRejection::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            SessionRejection::RefreshFailed(error) => error.status(),
        }
    }
}

impl From<SessionRejection> for Error {
    fn from(rejection: SessionRejection) -> Self {
        match rejection {
            SessionRejection::MissingLayer => Error::MissingLayer,
            SessionRejection::Unauthenticated => Error::Unauthenticated,
            SessionRejection::StoreUnavailable(source) => Error::Store(source),
            SessionRejection::RefreshFailed(error) => *error,
        }
    }
}

impl SessionRejection {
    /// What resolving a request's session failed with, narrowed: a store failure stays a
    /// store failure; anything else came from issuing the refreshed session.
    pub(crate) fn from_resolution(error: Error) -> Self {
        match error {
            Error::MissingLayer => SessionRejection::MissingLayer,
            Error::Unauthenticated => SessionRejection::Unauthenticated,
            Error::Store(source) => SessionRejection::StoreUnavailable(source),
            other => SessionRejection::RefreshFailed(Box::new(other)),
        }
    }
}

/// The same answer (status, body, log line) as the [`Error`] it converts into.
impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        Error::from(self).into_response()
    }
}
