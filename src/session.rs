//! What a handler sees of a session.

use std::ops::Deref;
use std::sync::Arc;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// A session the current request holds, in strategy-neutral form.
///
/// Laid out in this order (`repr(C)`) so that, inside its `Arc`, the token sits right after the
/// reference counts: a hit of the verified-token cache reads the token, then counts one more
/// holder, and the two often share one cache line (the `Arc` is 16-byte aligned, a line 64).
#[derive(Clone)]
#[repr(C)]
pub(crate) struct ValidSession {
    /// The secret the client holds, needed to re-send it or rotate it. Never logged.
    pub(crate) token: String,
    /// The application's data as JSON text.
    pub(crate) data: String,
    /// The data's version (compare-and-swap key).
    pub(crate) version: i64,
    /// JWT sessions: when the data was last brought up to date with the user's data changes,
    /// in microseconds since the Unix epoch (the `data_at` claim). 0 for the other strategies,
    /// whose data is read from the store.
    pub(crate) data_at: i64,
    /// Public facts (with `current` = true).
    pub(crate) info: SessionInfo,
}

impl std::fmt::Debug for ValidSession {
    /// Everything but the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidSession")
            .field("token", &"<redacted>")
            .field("version", &self.version)
            .field("data_at", &self.data_at)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// One session's public facts: what a "your sessions" page lists. Holds no credential. It
/// serializes with its times in RFC 3339.
///
/// ```
/// use axum::{Json, Router, body::Body, http::Request, routing::get};
/// use sessionward::{MemoryStore, SessionConfig, SessionInfo, SessionLayer, Sessions};
/// use sessionward::testing::SignedIn;
/// use tower::ServiceExt;
///
/// async fn my_sessions(sessions: Sessions) -> Result<Json<Vec<SessionInfo>>, sessionward::Error> {
///     Ok(Json(sessions.list().await?))
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
/// let app = Router::new().route("/sessions", get(my_sessions)).layer(layer.clone());
///
/// let alice = SignedIn::cookie(&layer, "alice", &serde_json::json!({})).await?;
/// let response = app.oneshot(alice.request(Request::get("/sessions")).body(Body::empty())?).await?;
/// let listed: serde_json::Value =
///     serde_json::from_slice(&axum::body::to_bytes(response.into_body(), 64 * 1024).await?)?;
/// assert_eq!(listed[0]["id"], alice.info().id.to_string());
/// assert_eq!(listed[0]["current"], true);
/// assert!(listed[0]["expires_at"].as_str().is_some_and(|t| t.ends_with('Z')));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    /// Public id, safe to show and to use in revoke URLs.
    pub id: Uuid,
    /// The user the session belongs to.
    pub user_id: String,
    /// When the session was created (login).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the user last proved who they are for this session: the sign-in, or the latest
    /// [re-authentication](crate::Sessions::reauthenticated). What
    /// [`require_fresh`](crate::require_fresh) compares with.
    #[serde(with = "time::serde::rfc3339")]
    pub authenticated_at: OffsetDateTime,
    /// When its lifetime was last extended.
    #[serde(with = "time::serde::rfc3339")]
    pub refreshed_at: OffsetDateTime,
    /// When it expires unless extended.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The hard limit no extension passes.
    #[serde(with = "time::serde::rfc3339")]
    pub absolute_expires_at: OffsetDateTime,
    /// The `User-Agent` it was created with.
    pub user_agent: Option<String>,
    /// The client address it was created from.
    pub ip: Option<String>,
    /// Whether the session was signed in with "remember me" (a persistent cookie, the full
    /// lifetime), or without (a browser-session cookie and the shorter
    /// [`browser_session_lifetime`](crate::SessionConfig::browser_session_lifetime)); see
    /// [`LoginOptions::remember`](crate::LoginOptions::remember).
    pub persistent: bool,
    /// Whether this is the session of the request that asked.
    pub current: bool,
}

impl SessionInfo {
    /// The current session's facts when all that is known of it is its token: no device was
    /// recorded with it, and the sign-in is the last authentication it knows of.
    #[cfg_attr(
        not(any(feature = "jwt", feature = "authjs", feature = "betterauth")),
        allow(dead_code)
    )]
    pub(crate) fn of_token(
        id: Uuid,
        user_id: String,
        created_at: OffsetDateTime,
        refreshed_at: OffsetDateTime,
        expires_at: OffsetDateTime,
        absolute_expires_at: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            user_id,
            created_at,
            authenticated_at: created_at,
            refreshed_at,
            expires_at,
            absolute_expires_at,
            user_agent: None,
            ip: None,
            persistent: true,
            current: true,
        }
    }
}

/// The current request's session, with the application's own data `D`.
///
/// As an extractor it answers 401 when the request has no valid session; use
/// `Option<Session<D>>` where a session is optional. It dereferences to `D`.
///
/// ```
/// use axum::{Json, Router, routing::get};
/// use serde::{Deserialize, Serialize};
/// use sessionward::Session;
///
/// #[derive(Clone, Serialize, Deserialize)]
/// struct UserData {
///     role: String,
///     permissions: Vec<String>,
/// }
///
/// async fn me(session: Session<UserData>) -> Json<serde_json::Value> {
///     Json(serde_json::json!({
///         "user_id": session.user_id(),
///         "role": session.role,
///         "expires_at": session.expires_at().to_string(),
///     }))
/// }
///
/// let app: Router = Router::new().route("/api/me", get(me));
/// ```
#[derive(Clone)]
pub struct Session<D> {
    /// The request's resolved session, shared (its token is never shown, see `Debug`).
    pub(crate) resolved: Arc<ValidSession>,
    pub(crate) data: D,
}

impl<D: std::fmt::Debug> std::fmt::Debug for Session<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("info", self.info())
            .field("data", &self.data)
            .field("version", &self.version())
            .finish()
    }
}

impl<D> Session<D> {
    /// Public id of the session.
    pub fn id(&self) -> Uuid {
        self.resolved.info.id
    }

    /// The user the session belongs to.
    pub fn user_id(&self) -> &str {
        &self.resolved.info.user_id
    }

    /// The application's data.
    pub fn data(&self) -> &D {
        &self.data
    }

    /// Takes the application's data out.
    pub fn into_data(self) -> D {
        self.data
    }

    /// When the session was created.
    pub fn created_at(&self) -> OffsetDateTime {
        self.resolved.info.created_at
    }

    /// When the user last proved who they are for this session (sign-in or re-authentication).
    pub fn authenticated_at(&self) -> OffsetDateTime {
        self.resolved.info.authenticated_at
    }

    /// When the session expires unless extended.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.resolved.info.expires_at
    }

    /// The hard limit no extension passes.
    pub fn absolute_expires_at(&self) -> OffsetDateTime {
        self.resolved.info.absolute_expires_at
    }

    /// The data's version number: bumped by every successful update.
    pub fn version(&self) -> i64 {
        self.resolved.version
    }

    /// All public facts about the session.
    pub fn info(&self) -> &SessionInfo {
        &self.resolved.info
    }
}

impl<D> Deref for Session<D> {
    type Target = D;

    fn deref(&self) -> &D {
        &self.data
    }
}

/// Reads a session's stored data as `D`. Data that does not fit (a session created before the
/// application changed its data type, or custom JWT claims of the wrong type) is no valid
/// session: a 401 and a warning in the log, never a 500.
///
/// The warning names the kind of failure (`data`: a value of the wrong type or a missing field;
/// `syntax`, `eof`), where in the JSON it happened and the requested type, but not serde's
/// message: that quotes the values it could not read, which may be personal data.
pub(crate) fn decode_data<D: serde::de::DeserializeOwned>(json: &str) -> Result<D, crate::Error> {
    serde_json::from_str(json).map_err(|e| {
        let category = match e.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "eof",
        };
        tracing::warn!(
            category,
            line = e.line(),
            column = e.column(),
            r#type = std::any::type_name::<D>(),
            "session data does not fit the requested type; treated as no session"
        );
        crate::Error::Unauthenticated
    })
}
