//! [`JwtConfig`]: keys, issuer and audience, leeway, revocation refresh, and the issue callback.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::keys::JwtKeys;
use crate::error::Error;

/// Why a token is being issued: what the [`on_issue`](JwtConfig::on_issue) callback sees in
/// [`TokenIssue::reason`].
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use sessionward::jwt::{IssueReason, JwtConfig, JwtKey, JwtKeys, TokenIssue};
/// use sessionward::{MemoryStore, SessionConfig, SessionLayer, testing::SignedIn};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let keys = JwtKeys::new(JwtKey::hs256("main", [7u8; 32])?)?;
/// let reasons = Arc::new(Mutex::new(Vec::new()));
/// let seen = reasons.clone();
/// let jwt = JwtConfig::new(keys, "app", "app").on_issue(move |issue: TokenIssue<serde_json::Value>| {
///     seen.lock().unwrap().push(issue.reason);
///     async move { Ok(issue.data) }
/// });
/// let layer = SessionLayer::jwt(jwt, MemoryStore::new(), SessionConfig::default());
/// SignedIn::cookie(&layer, "alice", &serde_json::json!({})).await?;
/// assert_eq!(*reasons.lock().unwrap(), [IssueReason::SignIn]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueReason {
    /// Sign-in ([`Sessions::login`](crate::Sessions::login)).
    SignIn,
    /// Sliding re-issue, [`Sessions::refresh`](crate::Sessions::refresh), rotation, or keeping
    /// the current token alive across `revoke_others`.
    Refresh,
    /// [`Sessions::update`](crate::Sessions::update) / [`Sessions::modify`](crate::Sessions::modify).
    Update,
}

/// What the issue callback ([`JwtConfig::on_issue`]) sees: Auth.js's `jwt` callback, typed.
/// The data it returns is what the token carries.
///
/// ```
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use serde::{Deserialize, Serialize};
/// use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys, TokenIssue};
/// use sessionward::{MemoryStore, Session, SessionConfig, SessionLayer, testing::SignedIn};
/// use tower::ServiceExt;
///
/// #[derive(Serialize, Deserialize)]
/// struct UserData { role: String }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let keys = JwtKeys::new(JwtKey::hs256("main", [7u8; 32])?)?;
/// let jwt = JwtConfig::new(keys, "app", "app").on_issue(|issue: TokenIssue<UserData>| async move {
///     let mut data = issue.data;
///     // The role the application's database holds now (SELECT role FROM users WHERE id = $1).
///     data.role = if issue.user_id == "alice" { "admin".into() } else { "user".into() };
///     Ok(data)
/// });
/// let layer = SessionLayer::jwt(jwt, MemoryStore::new(), SessionConfig::default());
/// let app = Router::new()
///     .route("/role", get(|session: Session<UserData>| async move { session.role.clone() }))
///     .layer(layer.clone());
///
/// let alice = SignedIn::cookie(&layer, "alice", &UserData { role: "user".into() }).await?;
/// let response = app.oneshot(alice.request(Request::get("/role")).body(Body::empty())?).await?;
/// assert_eq!(axum::body::to_bytes(response.into_body(), 64).await?, "admin");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct TokenIssue<D> {
    /// The user the token is for (`sub`).
    pub user_id: String,
    /// The session (`sid`).
    pub session_id: Uuid,
    /// Why it is being issued.
    pub reason: IssueReason,
    /// The session data about to become the token's custom claims.
    pub data: D,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The erased callback: takes and returns the data as JSON text.
pub(crate) type IssueHook = Arc<
    dyn Fn(String, Uuid, IssueReason, String) -> BoxFuture<Result<String, Error>> + Send + Sync,
>;

/// The largest [`JwtConfig::leeway`]: 5 minutes. A larger one makes
/// [`SessionLayer::jwt`](crate::SessionLayer::jwt) panic at start-up.
///
/// ```
/// use std::panic::{AssertUnwindSafe, catch_unwind};
/// use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys, MAX_LEEWAY};
/// use sessionward::{MemoryStore, SessionConfig, SessionLayer};
///
/// # let keys = JwtKeys::new(JwtKey::hs256("main", [7u8; 32]).unwrap()).unwrap();
/// let jwt = JwtConfig::new(keys, "app", "app");
/// let start = |jwt: JwtConfig| {
///     catch_unwind(AssertUnwindSafe(|| {
///         SessionLayer::jwt(jwt, MemoryStore::new(), SessionConfig::default())
///     }))
/// };
/// assert!(start(jwt.clone().leeway(MAX_LEEWAY)).is_ok());
/// assert!(start(jwt.leeway(MAX_LEEWAY + time::Duration::seconds(1))).is_err());
/// ```
pub const MAX_LEEWAY: time::Duration = time::Duration::minutes(5);

/// The default [`JwtConfig::max_revoked_sessions`].
const DEFAULT_MAX_REVOKED_SESSIONS: usize = 1_000_000;

/// JWT settings. Lifetimes, cookie and timeouts come from the
/// [`SessionConfig`](crate::SessionConfig) passed beside it.
///
/// The token's claims, as a client receives them:
///
/// ```
/// use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
/// use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
/// use sessionward::{MemoryStore, SessionConfig, SessionLayer, testing::SignedIn};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| "x".repeat(32));
/// let keys = JwtKeys::new(JwtKey::hs256("2026-11", secret)?)?;
/// let jwt = JwtConfig::new(keys, "https://app.example", "app.example")
///     .leeway(time::Duration::seconds(5));
/// let layer = SessionLayer::jwt(jwt, MemoryStore::new(), SessionConfig::default());
///
/// let alice = SignedIn::bearer(&layer, "alice", &serde_json::json!({ "role": "admin" })).await?;
/// let (_, authorization) = alice.header();
/// let token = authorization.to_str()?.trim_start_matches("Bearer ");
/// let claims = token.split('.').nth(1).ok_or("a JWT has three parts")?;
/// let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims)?)?;
/// assert_eq!(claims["iss"], "https://app.example");
/// assert_eq!(claims["aud"], "app.example");
/// assert_eq!(claims["sub"], "alice");
/// assert_eq!(claims["role"], "admin"); // the session data, as claims of its own
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct JwtConfig {
    pub(crate) keys: JwtKeys,
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) leeway: time::Duration,
    pub(crate) revocation_refresh: std::time::Duration,
    pub(crate) revocation_max_staleness: Option<std::time::Duration>,
    pub(crate) hook: Option<IssueHook>,
    pub(crate) verified_tokens: usize,
    pub(crate) max_revoked_sessions: usize,
    pub(crate) max_revoked_sessions_per_user: Option<usize>,
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtConfig")
            .field("keys", &self.keys)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("revocation_refresh", &self.revocation_refresh)
            .field("revocation_max_staleness", &self.max_staleness())
            .field("hook", &self.hook.is_some())
            .field("verified_tokens", &self.verified_tokens)
            .field("max_revoked_sessions", &self.max_revoked_sessions)
            .field(
                "max_revoked_sessions_per_user",
                &self.revoked_sessions_per_user(),
            )
            .finish()
    }
}

impl JwtConfig {
    /// Tokens signed with `keys`, issued by and for `issuer` / `audience` (both required and
    /// checked on every token). Leeway 30 s; revocation refresh every 5 s.
    pub fn new(keys: JwtKeys, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            keys,
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: time::Duration::seconds(30),
            revocation_refresh: std::time::Duration::from_secs(5),
            revocation_max_staleness: None,
            hook: None,
            verified_tokens: 10_000,
            max_revoked_sessions: DEFAULT_MAX_REVOKED_SESSIONS,
            max_revoked_sessions_per_user: None,
        }
    }

    /// Clock tolerance for `exp`, `nbf` and `iat` (default 30 s): whole seconds, from 0 to
    /// [`MAX_LEEWAY`] (5 minutes). Keep it small: it is how long an expired token still works.
    /// Tokens this crate issues never need it for themselves (their `iat` is never in the
    /// future), so 0 is fine when every instance's clock is in sync.
    ///
    /// ```
    /// # use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
    /// # let keys = JwtKeys::new(JwtKey::hs256("k", [7u8; 32]).unwrap()).unwrap();
    /// let jwt = JwtConfig::new(keys, "app", "app").leeway(time::Duration::seconds(5));
    /// ```
    ///
    /// A leeway outside that range (negative, a fraction of a second, over 5 minutes) makes
    /// [`SessionLayer::jwt`](crate::SessionLayer::jwt) panic at start-up.
    pub fn leeway(mut self, leeway: time::Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Panics with a message naming the setting when the settings cannot work.
    pub(crate) fn validate(&self) {
        let leeway = self.leeway;
        assert!(
            leeway >= time::Duration::ZERO
                && leeway <= MAX_LEEWAY
                && leeway.subsec_nanoseconds() == 0,
            "sessionward: JwtConfig::leeway must be whole seconds from 0 to {MAX_LEEWAY}, not \
             {leeway}"
        );
    }

    /// How often the in-memory revocation list is refreshed from the store (default 5 s): the
    /// bound on how long a revocation made by another instance takes to apply here.
    ///
    /// ```
    /// # use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
    /// # let keys = JwtKeys::new(JwtKey::hs256("k", [7u8; 32]).unwrap()).unwrap();
    /// let jwt = JwtConfig::new(keys, "app", "app")
    ///     .revocation_refresh(std::time::Duration::from_secs(1));
    /// ```
    pub fn revocation_refresh(mut self, interval: std::time::Duration) -> Self {
        self.revocation_refresh = interval;
        self
    }

    /// How long the in-memory revocation list may go without a successful refresh before
    /// requests fail with 503 instead of trusting it (default `max(6 × revocation_refresh,
    /// 30 s)`): how long JWT sessions keep working through a store outage.
    ///
    /// ```
    /// # use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
    /// # let keys = JwtKeys::new(JwtKey::hs256("k", [7u8; 32]).unwrap()).unwrap();
    /// let jwt = JwtConfig::new(keys, "app", "app")
    ///     .revocation_max_staleness(std::time::Duration::from_secs(10));
    /// ```
    pub fn revocation_max_staleness(mut self, limit: std::time::Duration) -> Self {
        self.revocation_max_staleness = Some(limit);
        self
    }

    /// How many tokens this process remembers as verified (default 10,000; 0 turns it off).
    /// A browser sends the same token on every request until it is re-issued; a remembered
    /// token skips the signature check and the claims parsing, and only the **exact same
    /// text** is remembered, so a changed byte is checked in full. Expiry and revocation are
    /// checked on every request regardless. Each entry holds the session built from the token
    /// (its text, user id and data), which every request with that token then shares, and the
    /// claims every request checks again: about 1.1 KiB for a token of 480 bytes. The tokens
    /// are spread over 16 parts with a lock each, and each part keeps its share
    /// (`capacity / 16`, rounded up), so at most 15 more than `capacity` are kept.
    ///
    /// ```
    /// # use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
    /// # let keys = JwtKeys::new(JwtKey::hs256("k", [7u8; 32]).unwrap()).unwrap();
    /// let jwt = JwtConfig::new(keys, "app", "app").verified_tokens(50_000);
    /// ```
    pub fn verified_tokens(mut self, capacity: usize) -> Self {
        self.verified_tokens = capacity;
        self
    }

    /// How many revoked sessions the revocation list may hold (default 1,000,000; at least 1).
    /// Every logout, rotation and data update of a JWT session adds one, kept until every
    /// token of that session has expired (the token lifetime, `max_age`, and about a minute
    /// after it was made), and every instance holds the whole list in memory: 32 bytes an
    /// entry, about 70 bytes with the map's spare room (measured: 71 MB for 1,000,000), plus
    /// about 150 bytes per user whose sessions this instance revoked (their share, below).
    ///
    /// User-wide revocations take one entry per user; data changes
    /// ([`Sessions::update_user_sessions`](crate::Sessions::update_user_sessions)), which the
    /// application makes, are not counted.
    ///
    /// When it, or the user's share of it
    /// ([`max_revoked_sessions_per_user`](Self::max_revoked_sessions_per_user)), is full, the
    /// list fails closed rather than grow: a logout or a revocation of one session ends
    /// **every** session of its user instead (one entry per user in memory), a login ends the
    /// session it replaces the same way, and a rotation or data update, which would keep the
    /// session, is refused with
    /// [`StoreError::RevocationListFull`](crate::StoreError::RevocationListFull) (503) and
    /// changes nothing. A warning is logged each time. Raise the limit when legitimate
    /// traffic reaches it, and keep data that changes on most requests out of a JWT session
    /// (each change is a revocation).
    ///
    /// Every instance must have the same lifetimes (`max_age`, `idle_timeout`,
    /// `absolute_timeout`): an entry is kept as long as the lifetimes of the instance that
    /// made it allow, and a token issued by an instance with longer ones could outlive it.
    ///
    /// ```
    /// # use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
    /// # let keys = JwtKeys::new(JwtKey::hs256("k", [7u8; 32]).unwrap()).unwrap();
    /// let jwt = JwtConfig::new(keys, "app", "app").max_revoked_sessions(5_000_000);
    /// ```
    pub fn max_revoked_sessions(mut self, limit: usize) -> Self {
        self.max_revoked_sessions = limit.max(1);
        self
    }

    /// How many of the revoked sessions on the list one user's may be, counted on each
    /// instance for the revocations it made (default: a hundredth of
    /// [`max_revoked_sessions`](Self::max_revoked_sessions), at least 1). One account looping
    /// on logins, rotations or updates fills its own share, not everyone's list; past it, that
    /// user's logouts end every session of the user and their rotations and updates are
    /// refused (503), as on a full list. With `n` instances, `n` shares of one user may be on
    /// the list.
    ///
    /// ```
    /// # use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
    /// # let keys = JwtKeys::new(JwtKey::hs256("k", [7u8; 32]).unwrap()).unwrap();
    /// let jwt = JwtConfig::new(keys, "app", "app").max_revoked_sessions_per_user(50_000);
    /// ```
    pub fn max_revoked_sessions_per_user(mut self, limit: usize) -> Self {
        self.max_revoked_sessions_per_user = Some(limit.max(1));
        self
    }

    /// One user's share of the revocation list (see
    /// [`max_revoked_sessions_per_user`](Self::max_revoked_sessions_per_user)).
    pub(crate) fn revoked_sessions_per_user(&self) -> usize {
        self.max_revoked_sessions_per_user
            .unwrap_or((self.max_revoked_sessions / 100).max(1))
    }

    pub(crate) fn max_staleness(&self) -> std::time::Duration {
        self.revocation_max_staleness.unwrap_or_else(|| {
            (self.revocation_refresh * 6).max(std::time::Duration::from_secs(30))
        })
    }

    /// A callback run whenever a token is issued or re-issued (sign-in, refresh, update) that
    /// may rewrite the session data, for example reload the user's role from the application's
    /// database: Auth.js's `jwt` callback. An error fails the request that issues the token:
    /// sign-in, an explicit refresh, rotation, update, `revoke_others`, or a cookie client's
    /// sliding re-issue. A bearer client's requests never run it on their own (no token is
    /// signed for a client that would not receive it), so a failing callback does not fail
    /// them. [`Error::Unauthenticated`] is the callback's way to end a session (a user who was
    /// deleted or banned): at a cookie client's re-issue the request has no session (401,
    /// `Option<Session>` is none) and the cookie is cleared; any other error (a role database
    /// that is down: [`Error::Store`]) is that request's answer, and the next one tries again.
    ///
    /// ```
    /// # use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys, TokenIssue};
    /// # let keys = JwtKeys::new(JwtKey::hs256("k", [7u8; 32]).unwrap()).unwrap();
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct UserData { role: String }
    ///
    /// let jwt = JwtConfig::new(keys, "app", "app").on_issue(|issue: TokenIssue<UserData>| async move {
    ///     let mut data = issue.data;
    ///     data.role = "user".into(); // e.g. SELECT role FROM users WHERE id = $1
    ///     Ok(data)
    /// });
    /// ```
    pub fn on_issue<D, F, Fut>(mut self, callback: F) -> Self
    where
        D: Serialize + DeserializeOwned + Send + 'static,
        F: Fn(TokenIssue<D>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<D, Error>> + Send + 'static,
    {
        let callback = Arc::new(callback);
        self.hook = Some(Arc::new(move |user_id, session_id, reason, data| {
            let callback = callback.clone();
            Box::pin(async move {
                let data: D = serde_json::from_str(&data)?;
                let issue = TokenIssue {
                    user_id,
                    session_id,
                    reason,
                    data,
                };
                let data = callback(issue).await?;
                Ok(serde_json::to_string(&data)?)
            })
        }));
        self
    }
}
