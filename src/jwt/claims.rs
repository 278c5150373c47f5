//! The claims of a sessionward JWT.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

pub(crate) use super::sign_in_time::SignInTime;
use crate::clock::from_unix_seconds;
use crate::session::{SessionInfo, ValidSession};

/// Claim names the crate sets itself; custom session data may not use them.
pub(crate) const RESERVED: [&str; 12] = [
    "sub",
    "sid",
    "jti",
    "iat",
    "exp",
    "nbf",
    "iss",
    "aud",
    "auth_time",
    "abs_exp",
    "ephemeral",
    "data_at",
];

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// Whether `audience` is (one of) the token's audience(s).
    pub(crate) fn names(&self, audience: &str) -> bool {
        match self {
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

/// Every claim of a token. Times are whole seconds since the Unix epoch; a claim of the wrong
/// JSON type fails deserialization, so such a token is never a session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The user id.
    pub(crate) sub: String,
    /// The session id: the same across re-issues, the key of logout revocation.
    pub(crate) sid: Uuid,
    /// New on every issue.
    pub(crate) jti: String,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nbf: Option<i64>,
    pub(crate) iss: String,
    pub(crate) aud: Audience,
    /// Sign-in time, to the microsecond: what "revoke all of a user's sessions" compares
    /// against.
    pub(crate) auth_time: SignInTime,
    /// The absolute limit, fixed at sign-in: no re-issue goes past it.
    pub(crate) abs_exp: i64,
    /// `true` for a session signed in without "remember me": a browser-session cookie and the
    /// shorter browser-session lifetime. Absent (false) otherwise, as on tokens from before it.
    /// Signed like every claim, so a client cannot turn its session into a remembered one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) ephemeral: bool,
    /// When the data was last brought up to date with the user's data changes
    /// ([`Sessions::update_user_sessions`](crate::Sessions::update_user_sessions)), to the
    /// microsecond: a change made at or after it is not in the token yet. Absent on tokens from
    /// before it: their data dates from the sign-in ([`data_time`](Self::data_time)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) data_at: Option<SignInTime>,
    /// The application's data, as further top-level claims.
    #[serde(flatten)]
    pub(crate) custom: Map<String, Value>,
}

impl Claims {
    /// When the token's data dates from: `data_at`, or the sign-in.
    pub(crate) fn data_time(&self) -> SignInTime {
        self.data_at.unwrap_or(self.auth_time)
    }

    /// The session the signed `token` with these claims stands for, with `data` (the custom
    /// claims as JSON text): everything in it comes from the token.
    pub(crate) fn session(&self, data: String, token: String) -> ValidSession {
        ValidSession {
            info: SessionInfo {
                persistent: !self.ephemeral,
                ..SessionInfo::of_token(
                    self.sid,
                    self.sub.clone(),
                    self.auth_time.to_datetime(),
                    from_unix_seconds(self.iat),
                    from_unix_seconds(self.exp),
                    from_unix_seconds(self.abs_exp),
                )
            },
            data,
            version: 0,
            data_at: self.data_time().micros(),
            token,
        }
    }
}

/// Turns the application's data (JSON text) into custom claims: it must be a JSON object whose
/// keys avoid the reserved claim names.
pub(crate) fn custom_claims(data: &str) -> Result<Map<String, Value>, serde_json::Error> {
    use serde::de::Error as _;
    let Value::Object(map) = serde_json::from_str(data)? else {
        return Err(serde_json::Error::custom(
            "JWT session data must serialize to a JSON object (its fields become claims)",
        ));
    };
    refuse_reserved(&map)?;
    Ok(map)
}

/// An error naming the first field of `fields` that is a claim of the token's own
/// ([`RESERVED`]), which session data may not set.
pub(crate) fn refuse_reserved(fields: &Map<String, Value>) -> Result<(), serde_json::Error> {
    use serde::de::Error as _;
    match RESERVED.iter().find(|name| fields.contains_key(**name)) {
        Some(clash) => Err(serde_json::Error::custom(format!(
            "JWT session data may not use the reserved claim name {clash:?}"
        ))),
        None => Ok(()),
    }
}
