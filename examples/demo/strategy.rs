//! Picks the session strategy from `SESSION_STRATEGY`: `database` (default) or `jwt`.

use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys, MIN_HS256_SECRET};
use sessionward::{SessionConfig, SessionLayer};

use crate::store::Store;

/// The strategy the demo runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Database,
    Jwt,
}

impl Strategy {
    pub fn from_setting(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::to_ascii_lowercase).as_deref() {
            None | Some("database") => Ok(Strategy::Database),
            Some("jwt") => Ok(Strategy::Jwt),
            Some(other) => Err(format!(
                "SESSION_STRATEGY must be `database` or `jwt`, not {other:?}"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Database => "database sessions",
            Strategy::Jwt => "JWT sessions",
        }
    }
}

/// How many sessions one user may hold on database sessions, unless `MAX_SESSIONS_PER_USER`
/// says otherwise (JWT sessions have no device limit).
const DEFAULT_MAX_SESSIONS_PER_USER: u32 = 10;

/// The session layer for `strategy`. For database sessions, reads `MAX_SESSIONS_PER_USER`
/// (default 10: the 11th sign-in ends the user's least recently used session). For JWT, reads
/// `JWT_SECRET` (at least 32 bytes, refused otherwise), `JWT_ISSUER` and `JWT_AUDIENCE` (both
/// default `sessionward-demo`).
pub fn layer(
    strategy: Strategy,
    store: &Store,
    config: SessionConfig,
    setting: impl Fn(&str) -> Option<String>,
) -> Result<SessionLayer, String> {
    match strategy {
        Strategy::Database => {
            let max = match setting("MAX_SESSIONS_PER_USER") {
                Some(max) => max.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("MAX_SESSIONS_PER_USER must be a number from 1 up, not {max:?}")
                })?,
                None => DEFAULT_MAX_SESSIONS_PER_USER,
            };
            let config = config.max_sessions_per_user(max);
            Ok(SessionLayer::database(store.sessions.clone(), config))
        }
        Strategy::Jwt => {
            let secret = setting("JWT_SECRET").ok_or_else(|| {
                format!(
                    "SESSION_STRATEGY=jwt needs JWT_SECRET: at least {MIN_HS256_SECRET} random \
                     bytes, e.g. JWT_SECRET=$(head -c 48 /dev/urandom | base64)"
                )
            })?;
            let key = JwtKey::hs256("demo-1", secret.as_bytes()).map_err(|e| {
                format!("JWT_SECRET is unusable: {e}; e.g. JWT_SECRET=$(head -c 48 /dev/urandom | base64)")
            })?;
            let keys = JwtKeys::new(key).map_err(|e| e.to_string())?;
            let issuer = setting("JWT_ISSUER").unwrap_or_else(|| "sessionward-demo".to_owned());
            let audience = setting("JWT_AUDIENCE").unwrap_or_else(|| "sessionward-demo".to_owned());
            let jwt = JwtConfig::new(keys, issuer, audience);
            Ok(SessionLayer::jwt(jwt, store.revocations.clone(), config))
        }
    }
}
