//! Better Auth's cookie cache (`session.cookieCache`): the `session_data` cookie that holds the
//! session and its user for `maxAge` seconds, in one of three encodings, so that a request can
//! be answered without a query.
//!
//! - `compact`: base64url of `{"session": <data>, "expiresAt": <ms>, "signature": <sig>}`,
//!   where `sig` is the base64url HMAC-SHA256, under the secret, of `<data>` with `expiresAt`
//!   appended as its last member: `JSON.stringify({...data, expiresAt})`. The data is signed
//!   as its exact JSON text, so it is read here as the raw text it arrived as.
//! - `jwt`: an HS256 JWT under the secret whose claims are the data plus `iat` and `exp`.
//! - `jwe`: a JWE (`dir`, `A256CBC-HS512`) under a key derived from the secret, claims as for
//!   `jwt` plus `jti`.
//!
//! The data is `{"session": {...}, "user": {...}, "updatedAt": <ms>, "version": "1"}`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::CookieCacheStrategy;
use super::signed::Signer;
use crate::jwe::{self, DerivedKeys};

/// The longest cache cookie read (all chunks joined): Better Auth chunks at about 4 KB.
pub(crate) const MAX_CACHE_LEN: usize = jwe::MAX_TOKEN_LEN;

/// What a cache cookie says about a session, once every check passed.
#[derive(Debug)]
pub(crate) struct Cached {
    pub(crate) session_id: String,
    pub(crate) user_id: String,
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) updated_at: OffsetDateTime,
    /// The user as Better Auth wrote it: the session's data.
    pub(crate) user: Map<String, Value>,
}

/// How cache cookies are checked: the encoding, its keys, the expected `version`.
pub(crate) struct CacheReader {
    pub(crate) strategy: CookieCacheStrategy,
    pub(crate) version: String,
    pub(crate) keys: DerivedKeys,
}

/// The compact encoding's envelope; `session` kept as the exact text that was signed.
#[derive(Deserialize)]
struct Compact<'a> {
    #[serde(borrow)]
    session: &'a RawValue,
    #[serde(rename = "expiresAt")]
    expires_at: i64,
    signature: String,
}

fn b64url(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()
}

fn millis(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos() / 1_000_000
}

impl CacheReader {
    /// The session in cache cookie `value`, if it is this app's (signed or encrypted with its
    /// secret), not past its own expiry nor the session's at `now`, of the expected version,
    /// and made for `token`, the session token the request presented. Anything else is `None`
    /// (and the caller asks the database), with the reason for the log.
    pub(crate) fn read(
        &self,
        signer: &Signer,
        value: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Cached, &'static str> {
        let value = super::signed::unquoted(value);
        if value.len() > MAX_CACHE_LEN {
            return Err("oversized cache cookie");
        }
        let (data, expires_ms) = match self.strategy {
            CookieCacheStrategy::Compact => compact(signer, value)?,
            CookieCacheStrategy::Jwt => jwt(signer, value, now)?,
            CookieCacheStrategy::Jwe => self.jwe(value, now)?,
        };
        if i128::from(expires_ms) < millis(now) {
            return Err("cache expired");
        }
        check(data, &self.version, token, now)
    }

    fn jwe(
        &self,
        value: &str,
        now: OffsetDateTime,
    ) -> Result<(Map<String, Value>, i64), &'static str> {
        let plain = jwe::parse(value)?
            .decrypt([&self.keys])
            .ok_or("cache decryption failed")?;
        let claims = object(serde_json::from_slice(&plain).map_err(|_| "cache is not JSON")?)?;
        // jose's 15-second tolerance, as Better Auth decrypts it.
        let expires_ms = time_claims(&claims, now, 15)?;
        Ok((claims, expires_ms))
    }
}

fn object(value: Value) -> Result<Map<String, Value>, &'static str> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err("cache is not a JSON object"),
    }
}

/// `exp` (required, seconds) and `nbf` checked against `now` with `tolerance` seconds, as jose
/// does; returns `exp` in milliseconds (refused when that overflows).
fn time_claims(
    claims: &Map<String, Value>,
    now: OffsetDateTime,
    tolerance: i64,
) -> Result<i64, &'static str> {
    let now = now.unix_timestamp();
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or("cache has no exp")?;
    if exp <= now - tolerance {
        return Err("cache expired");
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf.as_i64().ok_or("cache nbf malformed")?;
        if nbf > now + tolerance {
            return Err("cache not yet valid");
        }
    }
    exp.checked_mul(1000).ok_or("cache exp out of range")
}

fn compact(signer: &Signer, value: &str) -> Result<(Map<String, Value>, i64), &'static str> {
    let text = b64url(value).ok_or("cache encoding malformed")?;
    let envelope: Compact<'_> =
        serde_json::from_slice(&text).map_err(|_| "cache envelope malformed")?;
    let data = envelope.session.get();
    // `JSON.stringify({...data, expiresAt})`: the data's text with one more member.
    let inner = data
        .strip_suffix('}')
        .filter(|d| d.starts_with('{'))
        .ok_or("cache data is not an object")?;
    let separator = if inner.trim() == "{" { "" } else { "," };
    let signed = format!("{inner}{separator}\"expiresAt\":{}}}", envelope.expires_at);
    if !signer.verify_base64url(signed.as_bytes(), &envelope.signature) {
        return Err("cache signature invalid");
    }
    let data = object(serde_json::from_str(data).map_err(|_| "cache data malformed")?)?;
    Ok((data, envelope.expires_at))
}

fn jwt(
    signer: &Signer,
    value: &str,
    now: OffsetDateTime,
) -> Result<(Map<String, Value>, i64), &'static str> {
    let mut parts = value.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("cache is not a JWT");
    };
    let fields = object(
        serde_json::from_slice(&b64url(header).ok_or("cache header malformed")?)
            .map_err(|_| "cache header malformed")?,
    )?;
    if fields.get("alg").and_then(Value::as_str) != Some("HS256") || fields.contains_key("crit") {
        return Err("cache alg unsupported");
    }
    let signature = b64url(signature).ok_or("cache signature malformed")?;
    let signed = &value[..header.len() + 1 + payload.len()];
    if !signer.verify(signed.as_bytes(), &signature) {
        return Err("cache signature invalid");
    }
    let claims = object(
        serde_json::from_slice(&b64url(payload).ok_or("cache payload malformed")?)
            .map_err(|_| "cache payload malformed")?,
    )?;
    let expires_ms = time_claims(&claims, now, 0)?;
    Ok((claims, expires_ms))
}

fn date(object: &Map<String, Value>, key: &str) -> Result<OffsetDateTime, &'static str> {
    object
        .get(key)
        .and_then(Value::as_str)
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        .ok_or("cache session time malformed")
}

fn string(object: &Map<String, Value>, key: &str) -> Result<String, &'static str> {
    match object.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err("cache session field missing"),
    }
}

/// The checks Better Auth's `getSession` makes on a decoded cache: the session's token is the
/// one presented (compared in constant time), the version matches, the session has not
/// expired.
fn check(
    mut data: Map<String, Value>,
    version: &str,
    token: &str,
    now: OffsetDateTime,
) -> Result<Cached, &'static str> {
    let Some(Value::Object(session)) = data.remove("session") else {
        return Err("cache has no session");
    };
    let Some(Value::Object(user)) = data.remove("user") else {
        return Err("cache has no user");
    };
    let cached_token = string(&session, "token")?;
    if !bool::from(cached_token.as_bytes().ct_eq(token.as_bytes())) {
        return Err("cache of another session");
    }
    let cached_version = match data.get("version") {
        None | Some(Value::Null) => "1",
        Some(Value::String(v)) => v.as_str(),
        Some(_) => return Err("cache version malformed"),
    };
    if cached_version != version {
        return Err("cache of another version");
    }
    let expires_at = date(&session, "expiresAt")?;
    if expires_at < now {
        return Err("expired");
    }
    string(&user, "id")?;
    Ok(Cached {
        session_id: string(&session, "id")?,
        user_id: string(&session, "userId")?,
        expires_at,
        created_at: date(&session, "createdAt")?,
        updated_at: date(&session, "updatedAt")?,
        user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// An `exp` whose milliseconds overflow an `i64`, in a cache the secret signed: refused,
    /// not a panic (debug) or a wrapped time (release).
    #[test]
    fn an_exp_past_any_time_is_refused() {
        let signer = Signer::new(SECRET);
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"exp":{}}}"#, i64::MAX / 10));
        let signed = format!("{header}.{payload}");
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
        hmac::Mac::update(&mut mac, signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(hmac::Mac::finalize(mac).into_bytes());
        let cookie = format!("{signed}.{signature}");
        let reader = CacheReader {
            strategy: CookieCacheStrategy::Jwt,
            ..reader()
        };
        let read = reader.read(&signer, &cookie, "tok", NOW);
        assert_eq!(read.err(), Some("cache exp out of range"));
    }

    const SECRET: &str = "better-auth-secret-for-sessionward-tests-0123";
    const NOW: OffsetDateTime = datetime!(2031-03-01 12:00:00 UTC);

    fn data(token: &str) -> String {
        format!(
            r#"{{"session":{{"id":"s1","token":"{token}","userId":"u1","expiresAt":"2031-03-08T12:00:00.000Z","createdAt":"2031-03-01T12:00:00.000Z","updatedAt":"2031-03-01T12:00:00.000Z"}},"user":{{"id":"u1","name":"Ann","email":"ann@example.com","emailVerified":false}},"updatedAt":1930132800000,"version":"1"}}"#
        )
    }

    fn compact_cookie(data: &str, expires_at: i64, secret: &str) -> String {
        let signed = format!("{},\"expiresAt\":{expires_at}}}", &data[..data.len() - 1]);
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret.as_bytes()).unwrap();
        hmac::Mac::update(&mut mac, signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(hmac::Mac::finalize(mac).into_bytes());
        let envelope =
            format!(r#"{{"session":{data},"expiresAt":{expires_at},"signature":"{signature}"}}"#);
        URL_SAFE_NO_PAD.encode(envelope)
    }

    fn reader() -> CacheReader {
        CacheReader {
            strategy: CookieCacheStrategy::Compact,
            version: "1".into(),
            keys: DerivedKeys::better_auth(SECRET),
        }
    }

    #[test]
    fn a_compact_cache_is_read_only_for_its_token_within_its_expiry() {
        let signer = Signer::new(SECRET);
        let expires = 1_930_133_100_000; // NOW + 5 minutes
        let cookie = compact_cookie(&data("tok"), expires, SECRET);
        let cached = reader().read(&signer, &cookie, "tok", NOW).unwrap();
        assert_eq!(cached.user_id, "u1");
        assert_eq!(cached.session_id, "s1");
        assert_eq!(cached.user["name"], "Ann");
        assert_eq!(cached.expires_at, datetime!(2031-03-08 12:00 UTC));
        assert_eq!(
            reader().read(&signer, &cookie, "other", NOW).unwrap_err(),
            "cache of another session"
        );
        let later = NOW + time::Duration::minutes(6);
        assert_eq!(
            reader().read(&signer, &cookie, "tok", later).unwrap_err(),
            "cache expired"
        );
        let forged = compact_cookie(&data("tok"), expires, "another-secret-0123456789abcdef");
        assert!(reader().read(&signer, &forged, "tok", NOW).is_err());
        let stale_version = CacheReader {
            version: "2".into(),
            ..reader()
        };
        assert!(stale_version.read(&signer, &cookie, "tok", NOW).is_err());
        for garbage in ["", "!!", "e30", &"A".repeat(MAX_CACHE_LEN + 1)] {
            assert!(reader().read(&signer, garbage, "tok", NOW).is_err());
        }
    }
}
