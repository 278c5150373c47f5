//! Strategies: how a presented token becomes a session, and how sessions are issued, changed and
//! ended. The layer, the extractors and the guards only talk to [`Strategy`], so a new strategy
//! (JWT, Auth.js) plugs in without touching them.

use async_trait::async_trait;
use axum::http::HeaderMap;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::SessionConfig;
use crate::cookie::CookieValue;
use crate::error::Error;
use crate::request::Presented;
use crate::session::SessionInfo;

mod cache;
pub(crate) mod database;
#[cfg(feature = "jwt")]
pub(crate) mod jwt;

/// A session the current request holds, in strategy-neutral form.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    /// Public facts (with `current` = true).
    pub(crate) info: SessionInfo,
    /// The application's data as JSON text.
    pub(crate) data: String,
    /// The data's version (compare-and-swap key).
    pub(crate) version: i64,
    /// The secret the client holds, needed to re-send it or rotate it. Never logged.
    pub(crate) token: String,
}

/// A token to hand to the client in the session cookie.
#[derive(Clone, Debug)]
pub(crate) struct Issued {
    pub(crate) token: String,
    pub(crate) expires_at: OffsetDateTime,
}

/// What a presented token turned out to be.
#[derive(Debug)]
pub(crate) enum Resolution {
    /// A valid session; `reissue` is set when the cookie must be re-sent (sliding refresh).
    Valid {
        session: Box<Resolved>,
        reissue: Option<Issued>,
    },
    /// No session: malformed, unknown, expired or revoked. The reason goes to the log.
    Invalid(&'static str),
}

/// Facts about the client recorded at login.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientMeta {
    pub(crate) user_agent: Option<String>,
    pub(crate) ip: Option<String>,
}

/// A way of keeping sessions. Every method gets "now" from the caller (the configured clock).
#[async_trait]
pub(crate) trait Strategy: Send + Sync + 'static {
    /// The credential a request carries. The default reads the configured session cookie and,
    /// without one, `Authorization: Bearer` (when accepted); a strategy whose token lives
    /// elsewhere (Auth.js: several names, chunked cookies) reads it itself. A cookie-borne
    /// credential must be reported as such: the layer's cross-origin check depends on it.
    fn presented(&self, headers: &HeaderMap, config: &SessionConfig) -> Presented {
        match config.cookie.read(headers) {
            CookieValue::One(value) => Presented::Token {
                value: value.to_owned(),
                from_cookie: true,
            },
            CookieValue::Unusable => Presented::Unusable,
            CookieValue::Absent if config.accept_bearer => crate::layer::bearer(headers),
            CookieValue::Absent => Presented::Nothing,
        }
    }

    /// Whether the layer writes the session cookie (re-issue, removal). `false` for a
    /// read-only strategy whose cookie belongs to another application.
    fn owns_cookie(&self) -> bool {
        true
    }

    /// Turns a presented token into a session, extending it when it is due.
    async fn resolve(&self, token: &str, now: OffsetDateTime) -> Result<Resolution, Error>;

    /// Starts a session for `user_id`, ending `replacing` first (session fixation).
    async fn login(
        &self,
        user_id: String,
        data: String,
        meta: ClientMeta,
        replacing: Option<&Resolved>,
        now: OffsetDateTime,
    ) -> Result<(Resolved, Issued), Error>;

    /// Ends the session.
    async fn logout(&self, session: &Resolved) -> Result<(), Error>;

    /// Gives the session a new token; the old one stops working.
    async fn rotate(
        &self,
        session: &Resolved,
        now: OffsetDateTime,
    ) -> Result<(Resolved, Issued), Error>;

    /// Replaces the data if nobody changed it since `session` was read; [`Error::Conflict`]
    /// otherwise, [`Error::Unauthenticated`] when the session is gone.
    async fn update(
        &self,
        session: &Resolved,
        data: String,
        now: OffsetDateTime,
    ) -> Result<(Resolved, Option<Issued>), Error>;

    /// Reads the session again (after a conflict). `None` when it is gone or expired.
    ///
    /// Default, for stateless strategies: the token in hand is the whole session.
    async fn reload(
        &self,
        session: &Resolved,
        _now: OffsetDateTime,
    ) -> Result<Option<Resolved>, Error> {
        Ok(Some(session.clone()))
    }

    /// Extends the session now.
    async fn refresh(
        &self,
        session: &Resolved,
        now: OffsetDateTime,
    ) -> Result<(Resolved, Issued), Error>;

    /// The live sessions of the current user, newest first, with `current` marked.
    ///
    /// Default, for stateless strategies: sessions cannot be enumerated, only the current one
    /// is known.
    async fn list(
        &self,
        current: &Resolved,
        _now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, Error> {
        Ok(vec![current.info.clone()])
    }

    /// Ends one session of the current user. `false` when the user has no such session.
    async fn revoke(&self, current: &Resolved, id: Uuid) -> Result<bool, Error>;

    /// Ends every session of the current user but `current`. Returns how many (when the
    /// strategy can count them) and, when keeping `current` alive needs a new token, that token.
    async fn revoke_others(
        &self,
        current: &Resolved,
        now: OffsetDateTime,
    ) -> Result<(u64, Option<(Resolved, Issued)>), Error>;

    /// Ends every session of `user_id`. Returns how many, when the strategy can count them.
    async fn revoke_all(&self, user_id: &str, now: OffsetDateTime) -> Result<u64, Error>;
}
