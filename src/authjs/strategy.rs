//! The read-only strategy behind [`SessionLayer::authjs`](crate::SessionLayer::authjs).

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::HeaderMap;
use time::OffsetDateTime;

use crate::clock::from_unix_seconds;
use uuid::Uuid;

use super::{AuthJsConfig, AuthJsVersion, cookie_names};
use crate::config::SessionConfig;
use crate::credential::{AppCookieNames, Credential, Presented, Source};
use crate::error::Error;
use crate::jwe::{self, DerivedKeys, MAX_TOKEN_LEN};
use crate::session::SessionInfo;
use crate::strategy::{Lookup, Strategy, ValidSession};

/// Auth.js's `clockTolerance`.
const CLOCK_TOLERANCE: i64 = 15;

/// One configured cookie name with the keys every secret gives for it.
struct Name {
    name: String,
    keys: Vec<DerivedKeys>,
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

pub(crate) struct AuthJsStrategy {
    /// In order of preference: v5 names, then v4 names, of the scheme the app is served on.
    names: AppCookieNames<Name>,
}

const UNSUPPORTED: &str = "Auth.js sessions are read-only: sign in and out through Auth.js";

impl AuthJsStrategy {
    /// # Panics
    ///
    /// With no secret, an empty secret, no cookie name, or a name that is not a valid cookie
    /// name.
    pub(crate) fn new(config: AuthJsConfig) -> Self {
        assert!(
            !config.secrets.is_empty() && config.secrets.iter().all(|s| !s.is_empty()),
            "sessionward: AuthJsConfig needs at least one secret, none of them empty"
        );
        let (v5, v4) = match config.version {
            AuthJsVersion::V5 => (true, false),
            AuthJsVersion::V4 => (false, true),
            AuthJsVersion::Both => (true, true),
        };
        let mut names = Vec::new();
        if v5 {
            for name in &config.v5_names {
                let keys = config
                    .secrets
                    .iter()
                    .map(|s| DerivedKeys::v5(s, name))
                    .collect();
                names.push(Name {
                    name: name.to_string(),
                    keys,
                });
            }
        }
        if v4 {
            for name in &config.v4_names {
                let keys = config.secrets.iter().map(|s| DerivedKeys::v4(s)).collect();
                names.push(Name {
                    name: name.to_string(),
                    keys,
                });
            }
        }
        cookie_names::assert_valid(&names, "AuthJsConfig");
        Self {
            names: AppCookieNames::new(names, config.use_secure_cookies),
        }
    }

    /// Decrypts and checks a token presented under the cookie name of index `name` (`None`, a
    /// bearer token: under any configured name).
    fn verify(&self, name: Option<usize>, token: &str, now: i64) -> Result<Claims, &'static str> {
        let parsed = jwe::parse(token)?;
        let keys = match name {
            Some(index) => &self.names.read()[index..=index],
            None => self.names.read(),
        };
        let keys = keys.iter().flat_map(|n| &n.keys);
        let plain = parsed.decrypt(keys).ok_or("decryption failed")?;
        let claims: serde_json::Value =
            serde_json::from_slice(&plain).map_err(|_| "claims are not JSON")?;
        let serde_json::Value::Object(claims) = claims else {
            return Err("claims are not a JSON object");
        };
        let time = |claim: &str| -> Result<Option<i64>, &'static str> {
            match claims.get(claim) {
                None => Ok(None),
                Some(v) => v
                    .as_f64()
                    .filter(|t| t.is_finite() && (0.0..=253_402_300_799.0).contains(t))
                    .map(|t| Some(t.floor() as i64))
                    .ok_or("time claim out of range"),
            }
        };
        let exp = time("exp")?.ok_or("no exp claim")?;
        let iat = time("iat")?;
        if now >= exp + CLOCK_TOLERANCE {
            return Err("expired");
        }
        if time("nbf")?.is_some_and(|nbf| nbf > now + CLOCK_TOLERANCE) {
            return Err("not yet valid");
        }
        let sub = match claims.get("sub") {
            Some(serde_json::Value::String(sub)) if !sub.is_empty() => sub.clone(),
            _ => return Err("no sub claim"),
        };
        let id = claims
            .get("jti")
            .and_then(|j| j.as_str())
            .and_then(|j| Uuid::parse_str(j).ok())
            .unwrap_or_else(|| jwe::token_uuid(token));
        Ok(Claims {
            sub,
            id,
            iat: iat.unwrap_or(exp).min(exp),
            exp,
            data: serde_json::Value::Object(claims).to_string(),
        })
    }
}

impl AuthJsStrategy {
    /// Resolves one presented token.
    fn resolve_one(&self, presented: &Presented, now: OffsetDateTime) -> Lookup {
        let name = match presented.source {
            Source::Cookie { index } if index < self.names.read().len() => Some(index),
            Source::Bearer => None,
            _ => return Lookup::Invalid("malformed token"),
        };
        let token = presented.token.as_str();
        let claims = match self.verify(name, token, now.unix_timestamp()) {
            Ok(claims) => claims,
            Err(reason) => return Lookup::Invalid(reason),
        };
        let session = ValidSession {
            info: SessionInfo::of_token(
                claims.id,
                claims.sub,
                from_unix_seconds(claims.iat),
                from_unix_seconds(claims.iat),
                from_unix_seconds(claims.exp),
                from_unix_seconds(claims.exp),
            ),
            data: claims.data,
            version: 0,
            data_at: 0,
            token: token.to_owned(),
        };
        Lookup::Valid {
            session: Arc::new(session),
            reissue: None,
        }
    }
}

struct Claims {
    sub: String,
    id: Uuid,
    iat: i64,
    exp: i64,
    data: String,
}

#[async_trait]
impl Strategy for AuthJsStrategy {
    fn credential(&self, headers: &HeaderMap, config: &SessionConfig) -> Credential {
        self.names
            .credential(headers, MAX_TOKEN_LEN, config.accept_bearer)
    }

    fn owns_cookie(&self) -> bool {
        false
    }

    fn read_only(&self) -> &'static str {
        UNSUPPORTED
    }

    async fn resolve(&self, presented: &Presented, now: OffsetDateTime) -> Result<Lookup, Error> {
        Ok(self.resolve_one(presented, now))
    }
}
