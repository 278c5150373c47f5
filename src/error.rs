//! Errors, and how each one answers over HTTP.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::responder::refusal;

/// What can go wrong with a session. Every variant maps to one HTTP answer (see
/// [`Error::status`]); none of them ever carries a token or a secret. The extractors reject
/// with the narrower [`SessionRejection`](crate::SessionRejection), which converts into this.
/// The 401, 403 and 503 answers can be shaped with
/// [`SessionConfig::rejection_responder`](crate::SessionConfig::rejection_responder).
///
/// A handler returns it with `?`, and the client gets its answer:
///
/// ```
/// use axum::{Router, body::Body, http::{Request, StatusCode}, routing::post};
/// use sessionward::{Error, MemoryStore, SessionConfig, SessionLayer, Sessions};
/// use tower::ServiceExt;
///
/// async fn rotate(sessions: Sessions) -> Result<&'static str, Error> {
///     sessions.rotate().await?; // Error::Unauthenticated without a session
///     Ok("rotated")
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let app = Router::new()
///     .route("/rotate", post(rotate))
///     .layer(SessionLayer::database(MemoryStore::new(), SessionConfig::default()));
/// let response = app.oneshot(Request::post("/rotate").body(Body::empty())?).await?;
/// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(Error::Conflict.status(), StatusCode::CONFLICT);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No session, or the one presented is unknown, expired, revoked or malformed. 401.
    #[error("no valid session")]
    Unauthenticated,
    /// A guard refused the session: it lacks the role, permission or property the route needs.
    /// 403.
    #[error("forbidden")]
    Forbidden,
    /// 403: the route needs a recent sign-in or re-authentication
    /// ([`require_fresh`](crate::require_fresh)); confirm the password, then call
    /// [`Sessions::reauthenticated`](crate::Sessions::reauthenticated).
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// The session's data was changed by a concurrent request since this request read it;
    /// nothing was written. Retry with [`Sessions::modify`](crate::Sessions::modify). 409.
    #[error("the session was changed by a concurrent request")]
    Conflict,
    /// The session store could not answer in time or failed. 503: a check that cannot be made
    /// never lets a request through.
    #[error("the session store is unavailable")]
    Store(#[source] Arc<StoreError>),
    /// Session data could not be encoded (for JWT sessions: it must be a JSON object whose
    /// fields avoid the registered claim names). 500. Stored data that does not fit the type a
    /// handler asks for is not this error: it is no valid session (401).
    #[error("session data could not be encoded")]
    Data(#[source] Arc<serde_json::Error>),
    /// A session token could not be signed (a key the crypto backend refuses). 500.
    #[error("the session token could not be signed")]
    Signing,
    /// The session is too large to hand to the client: its token (JWT sessions carry the data
    /// in the token) is longer than the layer accepts back, or, for a cookie, the cookie's name,
    /// value and attributes are over the 4096 bytes browsers keep. Nothing was issued or
    /// changed: the client keeps the session it had. 413: the request asked to keep more than
    /// a session can carry; keep large data in the application's database instead.
    ///
    /// ```
    /// # async fn handler(sessions: sessionward::Sessions) -> Result<(), sessionward::Error> {
    /// # let cart = serde_json::json!({});
    /// match sessions.update(&cart).await {
    ///     Err(sessionward::Error::TooLarge { size, limit, .. }) => {
    ///         tracing::warn!(size, limit, "cart too large for the session");
    ///     }
    ///     other => other?,
    /// }
    /// # Ok(()) }
    /// ```
    #[error(
        "the session is too large: {size} bytes as {}, over the limit of {limit} bytes",
        if *cookie { "a cookie (name, value and attributes)" } else { "a token" }
    )]
    TooLarge {
        /// The size in bytes: of the token, or of the whole cookie.
        size: usize,
        /// The limit it is over.
        limit: usize,
        /// Whether the limit is the browsers' cookie limit (otherwise the layer's token limit).
        cookie: bool,
    },
    /// A login was refused because its user already holds the most sessions allowed
    /// ([`SessionConfig::max_sessions_per_user`](crate::SessionConfig::max_sessions_per_user)
    /// with [`SessionLimitPolicy::RefuseNewLogin`](crate::SessionLimitPolicy::RefuseNewLogin)).
    /// Nothing changed. 409: the user's other sessions are in the way; ending one (on another
    /// device, or from a "your sessions" page) lets the next login through.
    #[error("too many sessions: sign out on another device first")]
    SessionLimitReached,
    /// The request did not pass through a [`SessionLayer`](crate::SessionLayer). 500: a
    /// wiring mistake in the application.
    #[error("no SessionLayer is installed on this route")]
    MissingLayer,
    /// The strategy cannot do this: Auth.js sessions are read-only (Next.js signs users in and
    /// out), so `login`, `logout`, `rotate`, `update`, `refresh` and `revoke*` answer this. 501.
    #[error("not supported: {0}")]
    Unsupported(&'static str),
}

impl Error {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthenticated => StatusCode::UNAUTHORIZED,
            Error::Forbidden | Error::ReauthenticationRequired => StatusCode::FORBIDDEN,
            Error::Conflict | Error::SessionLimitReached => StatusCode::CONFLICT,
            Error::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Data(_) | Error::Signing | Error::MissingLayer => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Error::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(Arc::new(e))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Data(Arc::new(e))
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match &self {
            Error::Store(source) => tracing::error!(error = %source, "session store unavailable"),
            Error::Data(source) => tracing::error!(error = %source, "session data error"),
            Error::MissingLayer => tracing::error!("session extractor used without SessionLayer"),
            Error::Signing => tracing::error!("session token signing failed"),
            Error::Unsupported(what) => tracing::warn!(what, "unsupported session operation"),
            Error::TooLarge {
                size,
                limit,
                cookie,
            } => {
                tracing::warn!(size, limit, cookie, "session too large to issue")
            }
            Error::Unauthenticated
            | Error::Forbidden
            | Error::ReauthenticationRequired
            | Error::Conflict
            | Error::SessionLimitReached => {}
        }
        refusal(self.status(), &self.to_string())
    }
}

/// A failure inside a [`SessionStore`](crate::SessionStore).
///
/// A store of your own reports its backend's failures as [`StoreError::Backend`], keeping the
/// cause; the request then answers 503, with the cause in the error's source chain (and in the
/// log), never in the response:
///
/// ```
/// use axum::http::StatusCode;
/// use sessionward::{Error, StoreError};
///
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// let error = Error::from(StoreError::Backend(Box::new(refused)));
/// assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
/// let store_error = std::error::Error::source(&error).expect("the store error");
/// assert!(std::error::Error::source(store_error).is_some()); // the io::Error
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `create` found a session with the same id or token hash; nothing was overwritten.
    #[error("a session with this id or token already exists")]
    Duplicate,
    /// The store did not answer within the configured timeout.
    #[error("the session store did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The JWT revocation list could not be refreshed for longer than its staleness limit, and
    /// the last attempt failed.
    #[error("the revocation list is older than {0:?} and could not be refreshed")]
    Stale(std::time::Duration),
    /// A row in the store could not be decoded (for example a corrupt token hash).
    #[error("a stored session row is malformed: {0}")]
    Corrupt(&'static str),
    /// The store does not do what was asked (a third-party store without
    /// [`create_within_limit`](crate::SessionStore::create_within_limit)).
    #[error("the session store cannot do this: {0}")]
    Unsupported(&'static str),
    /// The store had more loads waiting for a statement than it queues (the number, see
    /// [`LoadBatching::max_waiting`](crate::LoadBatching::max_waiting)): this one was refused
    /// at once instead of waiting behind loads that would time out first.
    #[error("the session store has {0} loads waiting already")]
    Overloaded(usize),
    /// The JWT revocation list holds as many revoked sessions as it may (the number, see
    /// [`JwtConfig::max_revoked_sessions`](crate::jwt::JwtConfig::max_revoked_sessions)):
    /// a rotation or data update, which would add one more, was refused and changed nothing.
    #[error("the revocation list holds {0} revoked sessions already")]
    RevocationListFull(usize),
    /// The backend failed (connection refused, pool exhausted, query error, ...).
    #[error("the session store backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A unique-key violation is [`StoreError::Duplicate`]; anything else is a backend failure
/// (any SQL feature).
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let duplicate = e
            .as_database_error()
            .is_some_and(|db| db.is_unique_violation());
        if duplicate {
            StoreError::Duplicate
        } else {
            StoreError::Backend(Box::new(e))
        }
    }
}

/// Runs one store call under `timeout`: a store that hangs is a store that is down (503),
/// never a request that hangs.
pub(crate) async fn bounded<T, E: Into<StoreError>>(
    timeout: std::time::Duration,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(StoreError::Timeout(timeout)),
    }
}

/// [`bounded`], as the request's error: a store (or database) that fails or does not answer
/// within `timeout` is [`Error::Store`] (503).
pub(crate) async fn within<T, E: Into<StoreError>>(
    timeout: std::time::Duration,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, Error> {
    Ok(bounded(timeout, call).await?)
}
