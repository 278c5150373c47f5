//! Session events: one hook receives every lifecycle event (sign-in, refresh, rotation, data
//! change, logout, revocations, rejected credentials), for audit logs and "new sign-in"
//! e-mails. See [`SessionEvents`] for delivery, order and loss.

mod hook;
mod reason;

pub use hook::SessionEvents;
pub use reason::RejectReason;

use time::OffsetDateTime;
use uuid::Uuid;

/// What happened to a session.
///
/// ```
/// use axum::{Router, body::Body, http::Request, routing::post};
/// use sessionward::{MemoryStore, SessionConfig, SessionEventKind, SessionEvents, SessionLayer};
/// use sessionward::{Sessions, testing::SignedIn};
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // A hook that forwards every event to a channel.
/// let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
/// let events = SessionEvents::new(move |event| {
///     let sender = sender.clone();
///     async move {
///         let _ = sender.send(event);
///     }
/// });
/// let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default().events(events));
/// let app = Router::new()
///     .route("/logout", post(|sessions: Sessions| async move {
///         sessions.logout().await.map(|ended| ended.to_string())
///     }))
///     .layer(layer.clone());
///
/// let alice = SignedIn::cookie(&layer, "alice", &serde_json::json!({})).await?;
/// app.oneshot(alice.request(Request::post("/logout")).body(Body::empty())?).await?;
/// assert_eq!(received.recv().await.map(|e| e.kind), Some(SessionEventKind::Created));
/// assert_eq!(received.recv().await.map(|e| e.kind), Some(SessionEventKind::LoggedOut));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionEventKind {
    /// A session was created (login; `login_token` for an API client).
    Created,
    /// A session's lifetime was extended: the sliding refresh, or
    /// [`Sessions::refresh`](crate::Sessions::refresh). On JWT sessions the token was
    /// re-issued.
    Refreshed,
    /// The session got a new token ([`Sessions::rotate`](crate::Sessions::rotate)).
    Rotated,
    /// The session's data changed ([`Sessions::update`](crate::Sessions::update),
    /// [`Sessions::modify`](crate::Sessions::modify)). On JWT sessions `session_id` is the new
    /// session id the data now lives under.
    DataUpdated,
    /// The session's user re-authenticated (step-up:
    /// [`Sessions::reauthenticated`](crate::Sessions::reauthenticated)).
    Reauthenticated,
    /// The session was ended by its own logout (or by a login that replaced it).
    LoggedOut,
    /// One session was revoked ([`Sessions::revoke`](crate::Sessions::revoke)); `session_id`
    /// is the revoked one.
    Revoked,
    /// Every session of the user but the current one was revoked
    /// ([`Sessions::revoke_others`](crate::Sessions::revoke_others)); `session_id` is the one
    /// kept.
    RevokedOthers,
    /// Every session of the user was revoked
    /// ([`Sessions::revoke_all`](crate::Sessions::revoke_all)); no `session_id`.
    RevokedAll,
    /// A request came with a credential that is no session; no user or session id (nothing
    /// from an unverified credential is reported).
    Rejected(RejectReason),
}

impl SessionEventKind {
    /// A short name for logs and JSON: `created`, `refreshed`, `rotated`, `data_updated`,
    /// `reauthenticated`, `logged_out`, `revoked`, `revoked_others`, `revoked_all`,
    /// `rejected`.
    ///
    /// ```
    /// use sessionward::{RejectReason, SessionEventKind};
    /// assert_eq!(SessionEventKind::DataUpdated.name(), "data_updated");
    /// assert_eq!(SessionEventKind::Rejected(RejectReason::Expired).name(), "rejected");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            SessionEventKind::Created => "created",
            SessionEventKind::Refreshed => "refreshed",
            SessionEventKind::Rotated => "rotated",
            SessionEventKind::DataUpdated => "data_updated",
            SessionEventKind::Reauthenticated => "reauthenticated",
            SessionEventKind::LoggedOut => "logged_out",
            SessionEventKind::Revoked => "revoked",
            SessionEventKind::RevokedOthers => "revoked_others",
            SessionEventKind::RevokedAll => "revoked_all",
            SessionEventKind::Rejected(_) => "rejected",
        }
    }
}

/// One lifecycle event, as the hook receives it. Carries no token or secret.
///
/// ```
/// use sessionward::{MemoryStore, SessionConfig, SessionEventKind, SessionEvents, SessionLayer};
/// use sessionward::testing::SignedIn;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // A hook that forwards every event to a channel.
/// let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
/// let events = SessionEvents::new(move |event| {
///     let sender = sender.clone();
///     async move {
///         let _ = sender.send(event);
///     }
/// });
/// let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default().events(events));
/// let alice = SignedIn::cookie(&layer, "alice", &serde_json::json!({})).await?;
///
/// let event = received.recv().await.expect("the sign-in's event");
/// assert_eq!(event.kind, SessionEventKind::Created);
/// assert_eq!(event.user_id.as_deref(), Some("alice"));
/// assert_eq!(event.session_id, Some(alice.info().id)); // the id `Sessions::list` shows
/// assert!(event.at >= alice.info().created_at);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionEvent {
    /// What happened.
    pub kind: SessionEventKind,
    /// The user, when the event concerns a known one (`None` for a rejection).
    pub user_id: Option<String>,
    /// The session's public id (the id [`Sessions::list`](crate::Sessions::list) shows), when
    /// the event concerns one session.
    pub session_id: Option<Uuid>,
    /// When it happened, by the layer's clock.
    pub at: OffsetDateTime,
    /// The `User-Agent` of the request that caused it (visible ASCII, at most 512 bytes).
    pub user_agent: Option<String>,
    /// The client address of the request that caused it (behind
    /// [trusted proxies](crate::SessionConfig::trust_proxies), the forwarded one).
    pub ip: Option<String>,
}
