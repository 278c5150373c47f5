//! A signed-in session in one call, through the application's own layer.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::{HeaderName, HeaderValue, Request, request};
use axum::routing::get;
use serde::Serialize;
use tower::ServiceExt;

use crate::error::Error;
use crate::handle::Sessions;
use crate::layer::SessionLayer;
use crate::session::SessionInfo;

/// A session started for a test through the application's own [`SessionLayer`], and the
/// header that presents it: `Cookie: session-id=...` or `Authorization: Bearer ...`.
///
/// The session is made the way a login handler makes it: [`Sessions::login`] (or
/// [`Sessions::login_token`]) runs inside a request through a clone of `layer`, so the token is
/// generated, hashed, stored or signed by the same strategy, store, keys, clock and
/// configuration as the application's; no step is skipped. Works for database and JWT sessions
/// alike.
///
/// ```
/// use axum::{Router, body::Body, http::{Request, StatusCode}, routing::get};
/// use sessionward::{MemoryStore, Session, SessionConfig, SessionLayer, testing::SignedIn};
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
/// let app = Router::new()
///     .route("/me", get(|s: Session<serde_json::Value>| async move { s.user_id().to_owned() }))
///     .layer(layer.clone());
///
/// let alice = SignedIn::cookie(&layer, "alice", &serde_json::json!({ "role": "admin" })).await?;
/// let response = app.oneshot(alice.request(Request::get("/me")).body(Body::empty())?).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SignedIn {
    name: HeaderName,
    value: HeaderValue,
    info: SessionInfo,
}

impl SignedIn {
    /// Starts a session for `user_id` with `data` as a browser gets it: the value of the
    /// `Set-Cookie` that [`Sessions::login`] answers with, to be sent back as `Cookie`.
    ///
    /// # Errors
    ///
    /// What [`Sessions::login`] answers: [`Error::Store`] when the store is down,
    /// [`Error::Data`] when `data` does not serialize, [`Error::Unsupported`] for read-only
    /// strategies (Auth.js), ...
    pub async fn cookie<D: Serialize>(
        layer: &SessionLayer,
        user_id: impl Into<String>,
        data: &D,
    ) -> Result<Self, Error> {
        let (started, set_cookie) = start(layer, user_id.into(), data, Room::Cookie).await?;
        let cookie = set_cookie.expect("a login's response sets the session cookie");
        // `name=value; Path=/; ...`: a request sends back `name=value`.
        let pair = cookie.split(';').next().unwrap_or_default().trim();
        Ok(Self::new(COOKIE, pair, started))
    }

    /// Starts a session for `user_id` with `data` as an API client gets it: the token of
    /// [`Sessions::login_token`], to be sent as `Authorization: Bearer <token>` (the layer must
    /// [`accept_bearer`](crate::SessionConfig::accept_bearer), as it does by default).
    ///
    /// ```
    /// use sessionward::{MemoryStore, SessionConfig, SessionLayer, testing::SignedIn};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
    /// let bob = SignedIn::bearer(&layer, "bob", &serde_json::json!({})).await?;
    /// let (name, value) = bob.header();
    /// assert_eq!(name, axum::http::header::AUTHORIZATION);
    /// assert!(value.to_str()?.starts_with("Bearer "));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`cookie`](Self::cookie).
    pub async fn bearer<D: Serialize>(
        layer: &SessionLayer,
        user_id: impl Into<String>,
        data: &D,
    ) -> Result<Self, Error> {
        let (started, _) = start(layer, user_id.into(), data, Room::Bearer).await?;
        let Started::Bearer(issued) = started else {
            unreachable!("a bearer login answers with its token")
        };
        let value = format!("Bearer {}", issued.token());
        Ok(Self::new(
            AUTHORIZATION,
            &value,
            Started::Cookie(issued.info().clone()),
        ))
    }

    fn new(name: HeaderName, value: &str, started: Started) -> Self {
        let mut value = HeaderValue::from_str(value).expect("tokens are header-safe");
        value.set_sensitive(true);
        let info = match started {
            Started::Cookie(info) => info,
            Started::Bearer(issued) => issued.info().clone(),
        };
        Self { name, value, info }
    }

    /// The header that presents the session: `(COOKIE, "session-id=...")` or
    /// `(AUTHORIZATION, "Bearer ...")`.
    pub fn header(&self) -> (HeaderName, HeaderValue) {
        (self.name.clone(), self.value.clone())
    }

    /// `request` with the session's header added: one line in a handler test.
    ///
    /// ```
    /// # use sessionward::{MemoryStore, SessionConfig, SessionLayer, testing::SignedIn};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
    /// let alice = SignedIn::cookie(&layer, "alice", &serde_json::json!({})).await?;
    /// let request = alice.request(axum::http::Request::get("/me")).body(axum::body::Body::empty())?;
    /// assert!(request.headers().contains_key("cookie"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn request(&self, request: request::Builder) -> request::Builder {
        request.header(self.name.clone(), self.value.clone())
    }

    /// The session's public facts (its public id, user, lifetimes), as [`Sessions::list`]
    /// would show them.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("header", &self.name)
            .field("value", &"<redacted>")
            .field("info", &self.info)
            .finish()
    }
}

/// Which login the request runs.
#[derive(Clone, Copy)]
enum Room {
    Cookie,
    Bearer,
}

/// What the login gave.
enum Started {
    Cookie(SessionInfo),
    Bearer(crate::handle::IssuedToken),
}

/// Runs the login in a request through a clone of `layer`; returns what it gave and the
/// response's first `Set-Cookie`.
async fn start<D: Serialize>(
    layer: &SessionLayer,
    user_id: String,
    data: &D,
    room: Room,
) -> Result<(Started, Option<String>), Error> {
    let data = serde_json::to_value(data)?;
    let outcome: Arc<Mutex<Option<Result<Started, Error>>>> = Arc::default();
    let slot = Arc::clone(&outcome);
    let login = move |sessions: Sessions| {
        let (slot, user_id, data) = (Arc::clone(&slot), user_id.clone(), data.clone());
        async move {
            let started = match room {
                Room::Cookie => sessions.login(user_id, &data).await.map(Started::Cookie),
                Room::Bearer => sessions
                    .login_token(user_id, &data)
                    .await
                    .map(Started::Bearer),
            };
            *slot.lock().expect("one request at a time") = Some(started);
        }
    };
    let app = Router::new().route("/", get(login)).layer(layer.clone());
    let response = match app.oneshot(Request::new(Body::empty())).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let started = outcome
        .lock()
        .expect("the request is over")
        .take()
        .expect("the login handler ran")?;
    let set_cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((started, set_cookie))
}
