//! Strategies: how a presented token becomes a session, and how sessions are issued, changed and
//! ended. The layer, the extractors and the guards only talk to [`Strategy`], so a new strategy
//! (JWT, Auth.js) plugs in without touching them.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::HeaderMap;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::{Persistence, SessionConfig};
use crate::credential::{Credential, Presented};
use crate::error::Error;
use crate::session::SessionInfo;
pub(crate) use crate::session::ValidSession;

/// A change a request makes to the session it came with, after which the client may hold a
/// new token ([`Strategy::ends_the_token`] says whether the old one still works).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenChange {
    /// A login while the request has a session: that session ends.
    LoginOver,
    /// [`Sessions::rotate`](crate::Sessions::rotate).
    Rotate,
    /// [`Sessions::update`](crate::Sessions::update) or [`modify`](crate::Sessions::modify).
    Update,
    /// [`Sessions::revoke_others`](crate::Sessions::revoke_others).
    RevokeOthers,
    /// [`Sessions::refresh`](crate::Sessions::refresh).
    Refresh,
    /// [`Sessions::reauthenticated`](crate::Sessions::reauthenticated).
    Reauthenticate,
}

/// A token to hand to the client in the session cookie.
#[derive(Clone)]
pub(crate) struct NewToken {
    pub(crate) token: String,
    pub(crate) expires_at: OffsetDateTime,
    /// Whether the cookie outlives the browser (`Max-Age`) or is a browser-session cookie.
    pub(crate) persistence: Persistence,
}

impl std::fmt::Debug for NewToken {
    /// Everything but the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("persistence", &self.persistence)
            .finish()
    }
}

/// What a login made: the session, its token, and the sessions of the same user it ended to
/// stay within the device limit.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) session: ValidSession,
    pub(crate) issued: NewToken,
    /// Public ids of the user's sessions ended to make room (database sessions with
    /// [`SessionConfig::max_sessions_per_user`]).
    pub(crate) ended: Vec<Uuid>,
}

/// Why a login failed, and whether the session it replaced had already been ended then (the
/// request's session is over, and its cookie must go).
#[derive(Debug)]
pub(crate) struct LoginFailed {
    pub(crate) error: Error,
    pub(crate) replaced_ended: bool,
}

impl From<Error> for LoginFailed {
    /// A failure before anything was ended.
    fn from(error: Error) -> Self {
        Self {
            error,
            replaced_ended: false,
        }
    }
}

impl From<crate::error::StoreError> for LoginFailed {
    /// A failure before anything was ended.
    fn from(error: crate::error::StoreError) -> Self {
        Error::from(error).into()
    }
}

/// What a login asks for: whose session, with which data, from which client, and whether it is
/// remembered.
#[derive(Clone, Debug)]
pub(crate) struct SessionStart {
    pub(crate) user_id: String,
    /// The application's data as JSON text.
    pub(crate) data: String,
    pub(crate) client: ClientRecord,
    pub(crate) persistence: Persistence,
}

/// What a presented token turned out to be.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// A valid session; `reissue` is set when the cookie must be re-sent (sliding refresh).
    Valid {
        session: Arc<ValidSession>,
        reissue: Option<NewToken>,
    },
    /// A valid session whose token is due for a new one (sliding refresh of a strategy that
    /// must sign a token to extend a session). The layer gets it through
    /// [`Strategy::refresh`] only for a cookie client, the one client that receives it on any
    /// request; a bearer client keeps its token and asks for a new one with
    /// [`Sessions::refresh`](crate::Sessions::refresh).
    #[cfg_attr(not(feature = "jwt"), allow(dead_code))]
    Due {
        session: Arc<ValidSession>,
        /// Whether the new token also brings the data up to date with changes made to every
        /// session of the user (a JWT session's pending data changes, already applied to
        /// `session`): the re-issue is then a `data_updated` event as well.
        data_changed: bool,
    },
    /// No session: malformed, unknown, expired or revoked. The reason goes to the log.
    Invalid(&'static str),
}

/// The largest session cookie browsers keep: name, value and attributes together.
#[cfg_attr(not(feature = "jwt"), allow(dead_code))]
pub(crate) const MAX_COOKIE_LEN: usize = 4096;

/// Where a token about to be issued goes, which bounds its size: as a cookie, the whole
/// `Set-Cookie` must fit [`MAX_COOKIE_LEN`]; as a bearer token, only the layer's own token
/// limit applies. Every strategy method that may issue a token takes one; a strategy whose
/// tokens have a fixed size ignores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenRoom {
    /// A cookie whose name and attributes take `overhead` bytes beside the token.
    Cookie { overhead: usize },
    /// A bearer token.
    Bearer,
}

#[cfg_attr(not(feature = "jwt"), allow(dead_code))]
impl TokenRoom {
    /// [`Error::TooLarge`] when a token of `len` bytes does not fit, in `max_token` bytes
    /// (what the layer accepts back) and, for a cookie, in [`MAX_COOKIE_LEN`].
    pub(crate) fn check(self, len: usize, max_token: usize) -> Result<(), Error> {
        if len > max_token {
            return Err(Error::TooLarge {
                size: len,
                limit: max_token,
                cookie: false,
            });
        }
        match self {
            TokenRoom::Cookie { overhead } if overhead + len > MAX_COOKIE_LEN => {
                Err(Error::TooLarge {
                    size: overhead + len,
                    limit: MAX_COOKIE_LEN,
                    cookie: true,
                })
            }
            _ => Ok(()),
        }
    }
}

/// Facts about the client recorded at login.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientRecord {
    pub(crate) user_agent: Option<String>,
    pub(crate) ip: Option<String>,
}

/// The longest `User-Agent` recorded with a session.
const MAX_USER_AGENT: usize = 512;

/// Where [`ClientRecord`] comes from, kept as the request carried it (a header value is a
/// reference-counted buffer): the text is made only when a session is created, not on every
/// request.
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestClient {
    pub(crate) user_agent: Option<axum::http::HeaderValue>,
    pub(crate) ip: Option<std::net::IpAddr>,
}

impl RequestClient {
    /// The `User-Agent` (visible ASCII only, as `HeaderValue::to_str` reads it, cut to 512
    /// bytes) and the peer address.
    pub(crate) fn record(&self) -> ClientRecord {
        let user_agent = self
            .user_agent
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua[..ua.len().min(MAX_USER_AGENT)].to_owned());
        ClientRecord {
            user_agent,
            ip: self.ip.map(|ip| ip.to_string()),
        }
    }
}

/// How many lost races a change that re-reads and retries survives before it gives up with
/// [`Error::Conflict`] ([`Sessions::modify`](crate::Sessions::modify), one session of
/// [`Sessions::update_user_sessions`](crate::Sessions::update_user_sessions)).
pub(crate) const CHANGE_ATTEMPTS: usize = 64;

/// A way of keeping sessions. Every method gets "now" from the caller (the configured clock).
#[async_trait]
pub(crate) trait Strategy: Send + Sync + 'static {
    /// The credential a request carries. The default reads the configured session cookie and,
    /// without one, `Authorization: Bearer` (when accepted); a strategy whose token lives
    /// elsewhere (Auth.js: several names, chunked cookies) reads it itself. A cookie-borne
    /// credential must be reported as such: the layer's cross-origin check depends on it.
    fn credential(&self, headers: &HeaderMap, config: &SessionConfig) -> Credential {
        crate::credential::session_cookie(
            headers,
            &config.cookie.name,
            config.previous_cookie.as_deref().map(|c| c.name.as_ref()),
            config.accept_bearer,
        )
    }

    /// Whether the layer writes the session cookie (re-issue, removal). `false` for a
    /// read-only strategy whose cookie belongs to another application.
    fn owns_cookie(&self) -> bool {
        true
    }

    /// Turns a presented token into a session, extending it when it is due, once
    /// [`resolve_at_once`](Self::resolve_at_once) had no answer for it. A request that
    /// presents several tokens (cookies under several names) has each tried in turn until
    /// one is valid.
    async fn resolve(&self, presented: &Presented, now: OffsetDateTime) -> Result<Lookup, Error>;

    /// The answer when the strategy has it at hand, without waiting for anything (a JWT whose
    /// revocation list is fresh, a cache hit): `None` when only [`resolve`](Self::resolve) can
    /// tell. The layer asks this first, so the common request builds no future for its
    /// lookup, and asks `resolve` only after a `None`: a strategy may leave out of `resolve`
    /// what it looked at here (the database strategy does not ask its cache again).
    fn resolve_at_once(
        &self,
        _presented: &Presented,
        _now: OffsetDateTime,
    ) -> Option<Result<Lookup, Error>> {
        None
    }

    /// Why this strategy cannot change sessions, for the methods it leaves to the defaults
    /// below, which answer [`Error::Unsupported`] with it: a read-only strategy (sessions made
    /// by another application) implements only what it does.
    fn read_only(&self) -> &'static str {
        "this session strategy cannot change sessions"
    }

    /// Starts the session `start` asks for and ends `replacing` (session fixation). A failure
    /// says whether `replacing` was ended before it: then the request has no session any
    /// more, whatever the error.
    async fn login(
        &self,
        _start: SessionStart,
        _replacing: Option<&ValidSession>,
        _now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<Started, LoginFailed> {
        Err(Error::Unsupported(self.read_only()).into())
    }

    /// Ends the session.
    async fn logout(&self, _session: &ValidSession) -> Result<(), Error> {
        Err(Error::Unsupported(self.read_only()))
    }

    /// Gives the session a new token; the old one stops working. [`Error::Unauthenticated`]
    /// when a concurrent rotation won (one successor only).
    async fn rotate(
        &self,
        _session: &ValidSession,
        _now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<(ValidSession, NewToken), Error> {
        Err(Error::Unsupported(self.read_only()))
    }

    /// Replaces the data if nobody changed it since `session` was read; [`Error::Conflict`]
    /// otherwise, [`Error::Unauthenticated`] when the session is gone. Returns the new token
    /// when the data lives in the token (which then ends every older token of the session).
    async fn update(
        &self,
        _session: &ValidSession,
        _data: String,
        _now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<(ValidSession, Option<NewToken>), Error> {
        Err(Error::Unsupported(self.read_only()))
    }

    /// Reads the session again (after a conflict). `None` when it is gone or expired.
    ///
    /// Default: the token in hand is the whole session.
    async fn reload(
        &self,
        session: &ValidSession,
        _now: OffsetDateTime,
    ) -> Result<Option<ValidSession>, Error> {
        Ok(Some(session.clone()))
    }

    /// Whether `change`, made by a request on the session it came with, ends that request's
    /// token (the session goes on under another token, or another session starts): another
    /// request still carrying the token then finds it gone, and must not clear the cookie the
    /// new token goes into (see [`ReplacedTokens`](crate::replaced_tokens::ReplacedTokens)).
    ///
    /// Default: rotations and logins over a session; the other changes keep the token (or
    /// give a new one beside it).
    fn ends_the_token(&self, change: TokenChange) -> bool {
        matches!(change, TokenChange::LoginOver | TokenChange::Rotate)
    }

    /// Whether `session`, which this request extended while resolving it, still stands at
    /// `now`, the end of the request: `false` when another request rotated, ended or revoked
    /// it meanwhile. The extension's cookie is then not sent: it would carry the token read
    /// at the start, and a browser that applies it after the other request's cookie would
    /// hold a token that no longer signs it in.
    ///
    /// Default: the session as [`reload`](Self::reload) reads it again.
    async fn still_stands(
        &self,
        session: &ValidSession,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        Ok(self.reload(session, now).await?.is_some())
    }

    /// Records that the session's user proved who they are again at `now` (step-up): the same
    /// session, its `authenticated_at` set to `now`. Returns the new token when the time lives
    /// in the token. [`Error::Unauthenticated`] when the session is gone.
    async fn reauthenticate(
        &self,
        _session: &ValidSession,
        _now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<(ValidSession, Option<NewToken>), Error> {
        Err(Error::Unsupported(self.read_only()))
    }

    /// Extends the session now.
    async fn refresh(
        &self,
        _session: &ValidSession,
        _now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<(ValidSession, NewToken), Error> {
        Err(Error::Unsupported(self.read_only()))
    }

    /// The live sessions of the current user, newest first, with `current` marked.
    ///
    /// Default, for stateless strategies: sessions cannot be enumerated, only the current one
    /// is known.
    async fn list(
        &self,
        current: &ValidSession,
        _now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, Error> {
        Ok(vec![current.info.clone()])
    }

    /// Ends one session of the current user. `false` when the user has no such session.
    async fn revoke(&self, _current: &ValidSession, _id: Uuid) -> Result<bool, Error> {
        Err(Error::Unsupported(self.read_only()))
    }

    /// Ends every session of the current user but `current`. Returns how many (when the
    /// strategy can count them) and, when keeping `current` alive needs a new token, that token.
    async fn revoke_others(
        &self,
        _current: &ValidSession,
        _now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<(u64, Option<(ValidSession, NewToken)>), Error> {
        Err(Error::Unsupported(self.read_only()))
    }

    /// Ends every session of `user_id`. Returns how many, when the strategy can count them.
    async fn revoke_all(&self, _user_id: &str, _now: OffsetDateTime) -> Result<u64, Error> {
        Err(Error::Unsupported(self.read_only()))
    }

    /// Applies `patch` (a JSON Merge Patch, an object) to the data of every live session of
    /// `user_id`, so that each session's next request sees it. Returns the ids of the sessions
    /// whose data changed. `room` is what a browser's session cookie leaves a token, for a
    /// strategy that hands the change out in new tokens.
    async fn update_user_sessions(
        &self,
        _user_id: &str,
        _patch: &serde_json::Value,
        _now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<Vec<Uuid>, Error> {
        Err(Error::Unsupported(self.read_only()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_debug_output_holds_a_token() {
        let token = crate::token::SessionToken::generate().as_str().to_owned();
        let now = OffsetDateTime::UNIX_EPOCH;
        let session = ValidSession {
            token: token.clone(),
            data: "{}".into(),
            version: 0,
            data_at: 0,
            info: SessionInfo {
                id: Uuid::nil(),
                user_id: "alice".into(),
                created_at: now,
                authenticated_at: now,
                refreshed_at: now,
                expires_at: now,
                absolute_expires_at: now,
                user_agent: None,
                ip: None,
                current: true,
                persistent: true,
            },
        };
        let issued = NewToken {
            token: token.clone(),
            expires_at: now,
            persistence: Persistence::Remembered,
        };
        let presented = crate::credential::Presented {
            token: token.clone(),
            source: crate::credential::Source::Bearer,
            companions: vec![Some(token.clone())],
        };
        let started = Started {
            session,
            issued,
            ended: Vec::new(),
        };
        for debug in [format!("{started:?}"), format!("{presented:?}")] {
            assert!(!debug.contains(&token), "{debug}");
            assert!(debug.contains("<redacted>"), "{debug}");
        }
    }

    #[test]
    fn client_meta_cuts_the_user_agent_and_formats_the_address() {
        let source = RequestClient {
            user_agent: Some(axum::http::HeaderValue::from_str(&"a".repeat(600)).unwrap()),
            ip: Some("2001:db8::1".parse().unwrap()),
        };
        let meta = source.record();
        assert_eq!(meta.user_agent.as_deref(), Some("a".repeat(512).as_str()));
        assert_eq!(meta.ip.as_deref(), Some("2001:db8::1"));
        // Bytes outside visible ASCII are not recorded (nor were they before this was lazy).
        let other = RequestClient {
            user_agent: Some(axum::http::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()),
            ip: None,
        };
        assert!(other.record().user_agent.is_none());
        let none = RequestClient::default().record();
        assert!(none.user_agent.is_none() && none.ip.is_none());
    }
}
