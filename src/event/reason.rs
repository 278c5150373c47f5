//! [`RejectReason`]: why a presented credential is no session, in a few categories.

/// Why a presented credential was refused, in categories fit for counting and alerting (the
/// exact reason goes to the `tracing` log). The hook receives it in
/// [`SessionEventKind::Rejected`](crate::SessionEventKind::Rejected).
///
/// ```
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use sessionward::{MemoryStore, RejectReason, Session, SessionConfig, SessionEventKind};
/// use sessionward::{SessionEvents, SessionLayer};
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
/// let app = Router::new()
///     .route("/", get(|s: Option<Session<serde_json::Value>>| async move { s.is_some().to_string() }))
///     .layer(SessionLayer::database(MemoryStore::new(), SessionConfig::default().events(events)));
///
/// let forged = Request::get("/").header("cookie", "session-id=not-a-token").body(Body::empty())?;
/// app.oneshot(forged).await?;
/// let event = received.recv().await.expect("the rejection's event");
/// assert_eq!(event.kind, SessionEventKind::Rejected(RejectReason::Malformed));
/// assert_eq!(event.user_id, None); // nothing from an unverified credential
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectReason {
    /// Not a token of this application's shape: wrong length or alphabet, unreadable cookie
    /// header, oversized.
    Malformed,
    /// Well formed, but no valid signature or claims (JWT), or not decryptable (Auth.js): a
    /// forged, foreign or tampered token.
    Invalid,
    /// Well formed, but no such session in the store.
    Unknown,
    /// The session expired (idle, absolute, or the token's own expiry).
    Expired,
    /// The session was ended (logout, revocation) before this request.
    Revoked,
}

impl RejectReason {
    /// The category of a strategy's log reason. Unknown texts are [`RejectReason::Invalid`].
    pub(crate) fn of(reason: &str) -> Self {
        match reason {
            "malformed token"
            | "unusable session cookie"
            | "oversized token"
            | "duplicated Authorization headers" => RejectReason::Malformed,
            "unknown token" => RejectReason::Unknown,
            "expired" => RejectReason::Expired,
            "revoked" | "revoked while refreshing" => RejectReason::Revoked,
            _ => RejectReason::Invalid,
        }
    }

    /// A short name: `malformed`, `invalid`, `unknown`, `expired`, `revoked`.
    ///
    /// ```
    /// assert_eq!(sessionward::RejectReason::Expired.name(), "expired");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::Invalid => "invalid",
            RejectReason::Unknown => "unknown",
            RejectReason::Expired => "expired",
            RejectReason::Revoked => "revoked",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_the_strategies_log_has_its_category() {
        assert_eq!(RejectReason::of("malformed token"), RejectReason::Malformed);
        assert_eq!(
            RejectReason::of("unusable session cookie"),
            RejectReason::Malformed
        );
        assert_eq!(RejectReason::of("unknown token"), RejectReason::Unknown);
        assert_eq!(RejectReason::of("expired"), RejectReason::Expired);
        assert_eq!(RejectReason::of("revoked"), RejectReason::Revoked);
        assert_eq!(
            RejectReason::of("revoked while refreshing"),
            RejectReason::Revoked
        );
        assert_eq!(RejectReason::of("bad signature"), RejectReason::Invalid);
    }
}
