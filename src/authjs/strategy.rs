//! The read-only strategy behind [`SessionLayer::authjs`](crate::SessionLayer::authjs).

use async_trait::async_trait;
use axum::http::{HeaderMap, header};
use time::OffsetDateTime;
use uuid::Uuid;

use super::jwe::{self, DerivedKeys, MAX_TOKEN_LEN};
use super::{AuthJsConfig, AuthJsVersion};
use crate::config::SessionConfig;
use crate::error::Error;
use crate::request::Presented;
use crate::session::SessionInfo;
use crate::strategy::{ClientMeta, Issued, Resolution, Resolved, Strategy};

/// Auth.js's `clockTolerance`.
const CLOCK_TOLERANCE: i64 = 15;
/// The most chunks one cookie is split into (16 KiB / 3933 characters, rounded up).
const MAX_CHUNKS: usize = 8;
/// Separates the cookie name from the token in the value the strategy hands itself through
/// [`Presented::Token`]: a character neither a cookie name nor a compact JWE contains.
const SEPARATOR: char = ':';
/// The "cookie name" of a bearer token: try every configured name.
const ANY_NAME: &str = "*";

/// One configured cookie name with the keys every secret gives for it.
struct Name {
    name: String,
    keys: Vec<DerivedKeys>,
}

pub(crate) struct AuthJsStrategy {
    /// In order of preference: v5 names, then v4 names.
    names: Vec<Name>,
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
        assert!(
            !names.is_empty(),
            "sessionward: AuthJsConfig has no cookie name for the chosen version"
        );
        for Name { name, .. } in &names {
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
            assert!(valid, "sessionward: {name:?} is not a valid cookie name");
        }
        Self { names }
    }

    /// Decrypts and checks a token presented under `name` (`*`: any configured name).
    fn verify(&self, name: &str, token: &str, now: i64) -> Result<Claims, &'static str> {
        let parsed = jwe::parse(token)?;
        let keys = self
            .names
            .iter()
            .filter(|n| name == ANY_NAME || n.name == name)
            .flat_map(|n| &n.keys);
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

struct Claims {
    sub: String,
    id: Uuid,
    iat: i64,
    exp: i64,
    data: String,
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The cookies of one configured name found in a request.
#[derive(Default)]
struct Found<'a> {
    whole: Vec<&'a str>,
    chunks: Vec<(usize, &'a str)>,
    unusable: bool,
}

impl Found<'_> {
    fn is_empty(&self) -> bool {
        self.whole.is_empty() && self.chunks.is_empty() && !self.unusable
    }

    /// The token: the one cookie, or the chunks `0..n` joined in order.
    fn token(mut self) -> Option<String> {
        if self.unusable {
            return None;
        }
        match (self.whole.as_slice(), self.chunks.is_empty()) {
            ([one], true) => Some((*one).to_owned()),
            ([], false) => {
                self.chunks.sort_unstable_by_key(|(i, _)| *i);
                let in_order = self.chunks.iter().enumerate().all(|(n, (i, _))| n == *i);
                in_order.then(|| self.chunks.iter().map(|(_, v)| *v).collect())
            }
            _ => None,
        }
    }
}

/// Which of `names` a cookie called `cookie` is: `Some((index, None))` for the whole cookie,
/// `Some((index, Some(n)))` for chunk `n`.
fn classify(names: &[Name], cookie: &[u8]) -> Option<(usize, Option<usize>)> {
    names.iter().enumerate().find_map(|(i, n)| {
        let rest = cookie.strip_prefix(n.name.as_bytes())?;
        if rest.is_empty() {
            return Some((i, None));
        }
        let digits = rest.strip_prefix(b".")?;
        let valid =
            !digits.is_empty() && digits.len() <= 2 && digits.iter().all(u8::is_ascii_digit);
        if !valid {
            return None;
        }
        let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
        Some((i, Some(n)))
    })
}

impl AuthJsStrategy {
    /// The token among the request's `Cookie` headers, as `<name>:<token>`.
    fn read_cookies(&self, headers: &HeaderMap) -> Presented {
        let mut found: Vec<Found<'_>> = self.names.iter().map(|_| Found::default()).collect();
        let mut total = 0usize;
        for value in headers.get_all(header::COOKIE) {
            for pair in value.as_bytes().split(|&b| b == b';') {
                let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                    continue;
                };
                let Some((i, chunk)) = classify(&self.names, pair[..eq].trim_ascii()) else {
                    continue;
                };
                let raw = pair[eq + 1..].trim_ascii();
                if raw.is_empty() {
                    // Auth.js ignores empty chunks (its cleared cookies).
                    continue;
                }
                total += raw.len();
                let f = &mut found[i];
                match std::str::from_utf8(raw).ok().filter(|v| v.is_ascii()) {
                    None => f.unusable = true,
                    Some(v) => match chunk {
                        None => f.whole.push(v),
                        Some(n) if f.chunks.len() < MAX_CHUNKS => f.chunks.push((n, v)),
                        Some(_) => f.unusable = true,
                    },
                }
            }
        }
        if total > MAX_TOKEN_LEN {
            tracing::info!(reason = "oversized token", "session rejected");
            return Presented::Unusable;
        }
        let Some(i) = found.iter().position(|f| !f.is_empty()) else {
            return Presented::Nothing;
        };
        let name = &self.names[i].name;
        match found.swap_remove(i).token() {
            Some(token) => Presented::Token {
                value: format!("{name}{SEPARATOR}{token}"),
                from_cookie: true,
            },
            None => Presented::Unusable,
        }
    }
}

#[async_trait]
impl Strategy for AuthJsStrategy {
    fn presented(&self, headers: &HeaderMap, config: &SessionConfig) -> Presented {
        match self.read_cookies(headers) {
            Presented::Nothing if config.accept_bearer => match crate::layer::bearer(headers) {
                Presented::Token { value, .. } => Presented::Token {
                    value: format!("{ANY_NAME}{SEPARATOR}{value}"),
                    from_cookie: false,
                },
                other => other,
            },
            other => other,
        }
    }

    fn owns_cookie(&self) -> bool {
        false
    }

    async fn resolve(&self, token: &str, now: OffsetDateTime) -> Result<Resolution, Error> {
        let Some((name, token)) = token.split_once(SEPARATOR) else {
            return Ok(Resolution::Invalid("malformed token"));
        };
        let claims = match self.verify(name, token, now.unix_timestamp()) {
            Ok(claims) => claims,
            Err(reason) => return Ok(Resolution::Invalid(reason)),
        };
        let session = Resolved {
            info: SessionInfo {
                id: claims.id,
                user_id: claims.sub,
                created_at: at(claims.iat),
                refreshed_at: at(claims.iat),
                expires_at: at(claims.exp),
                absolute_expires_at: at(claims.exp),
                user_agent: None,
                ip: None,
                current: true,
            },
            data: claims.data,
            version: 0,
            token: token.to_owned(),
        };
        Ok(Resolution::Valid {
            session: Box::new(session),
            reissue: None,
        })
    }

    async fn login(
        &self,
        _user_id: String,
        _data: String,
        _meta: ClientMeta,
        _replacing: Option<&Resolved>,
        _now: OffsetDateTime,
    ) -> Result<(Resolved, Issued), Error> {
        Err(Error::Unsupported(UNSUPPORTED))
    }

    async fn logout(&self, _session: &Resolved) -> Result<(), Error> {
        Err(Error::Unsupported(UNSUPPORTED))
    }

    async fn rotate(
        &self,
        _session: &Resolved,
        _now: OffsetDateTime,
    ) -> Result<(Resolved, Issued), Error> {
        Err(Error::Unsupported(UNSUPPORTED))
    }

    async fn update(
        &self,
        _session: &Resolved,
        _data: String,
        _now: OffsetDateTime,
    ) -> Result<(Resolved, Option<Issued>), Error> {
        Err(Error::Unsupported(UNSUPPORTED))
    }

    async fn refresh(
        &self,
        _session: &Resolved,
        _now: OffsetDateTime,
    ) -> Result<(Resolved, Issued), Error> {
        Err(Error::Unsupported(UNSUPPORTED))
    }

    async fn revoke(&self, _current: &Resolved, _id: Uuid) -> Result<bool, Error> {
        Err(Error::Unsupported(UNSUPPORTED))
    }

    async fn revoke_others(
        &self,
        _current: &Resolved,
        _now: OffsetDateTime,
    ) -> Result<(u64, Option<(Resolved, Issued)>), Error> {
        Err(Error::Unsupported(UNSUPPORTED))
    }

    async fn revoke_all(&self, _user_id: &str, _now: OffsetDateTime) -> Result<u64, Error> {
        Err(Error::Unsupported(UNSUPPORTED))
    }
}
