//! Turning a presented token into verified claims: the key its `kid` names, that key's own
//! algorithm only, the signature, `iss`, `aud`, the claims' types and lifetime limits; then,
//! on every request, the times.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

use super::listed_keys::KeyHashing;
use super::verified::{TimeClaims, Verified, VerifiedTokens};
use super::{Claims, JwtConfig};
use crate::config::Lifetimes;

/// Tokens longer than this are rejected unread.
pub(crate) const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The header fields a token is verified by; every other header (`jku`, `jwk`, `x5u`, `x5c`,
/// ...) is ignored, never followed.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    alg: Algorithm,
    #[serde(borrow)]
    kid: Option<Cow<'a, str>>,
}

pub(crate) struct Verifier {
    config: JwtConfig,
    /// The longest a session may live from sign-in (`abs_exp - auth_time`), in seconds.
    longest: i64,
    /// The longest a token may live from its issue (`exp - iat`), in seconds: the configured
    /// window. A token issued with a longer one (before `max_age` was lowered) expires at its
    /// `iat` plus this, so that a revocation entry, kept only as long as the window allows,
    /// outlives every token it covers.
    window: i64,
    verified: VerifiedTokens,
    /// How the revocation list hashes a token's keys: once per verified token.
    hashing: KeyHashing,
}

impl Verifier {
    pub(crate) fn new(config: JwtConfig, lifetimes: &Lifetimes, hashing: KeyHashing) -> Self {
        let verified = VerifiedTokens::new(config.verified_tokens);
        Self {
            config,
            longest: whole_seconds_rounded_up(lifetimes.absolute_timeout),
            window: whole_seconds_rounded_up(lifetimes.window()),
            verified,
            hashing,
        }
    }

    /// The token's claims if it is valid at `now` (Unix seconds). `Err` carries the reason for
    /// the log.
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<Verified, &'static str> {
        let verified = match self.verified.get(token) {
            Some(verified) => verified,
            None => {
                let verified = self.check(token)?;
                self.verified.insert(verified.clone());
                verified
            }
        };
        self.check_times(&verified.times, now)?;
        Ok(verified)
    }

    /// Every check that does not depend on the time, in one pass over the token: the header
    /// parsed once, the signature with the key's own algorithm, the payload parsed once into
    /// `Claims` (whose required fields and their types deserialization enforces).
    fn check(&self, token: &str) -> Result<Verified, &'static str> {
        if token.len() > MAX_TOKEN_LEN {
            return Err("oversized token");
        }
        let (message, signature) = token.rsplit_once('.').ok_or("malformed token")?;
        let (header, payload) = message.split_once('.').ok_or("malformed token")?;
        let header = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| "malformed token")?;
        let header: JoseHeader = serde_json::from_slice(&header).map_err(|_| "malformed token")?;
        let kid = header.kid.as_deref().ok_or("token names no key")?;
        let key = self.config.keys.get(kid).ok_or("unknown key id")?;
        if header.alg != key.algorithm {
            return Err("algorithm does not match the key");
        }
        let signed = jsonwebtoken::crypto::verify(
            signature,
            message.as_bytes(),
            &key.decoding,
            key.algorithm,
        )
        .map_err(|_| "malformed signature")?;
        if !signed {
            return Err("bad signature");
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| "malformed claims")?;
        let mut claims: Claims =
            serde_json::from_slice(&payload).map_err(|_| "malformed claims")?;
        if claims.iss != self.config.issuer {
            return Err("wrong issuer");
        }
        if !claims.aud.names(&self.config.audience) {
            return Err("wrong audience");
        }
        let signed_in = claims.auth_time.whole_seconds();
        let times = [claims.iat, claims.exp, signed_in, claims.abs_exp];
        if !times.into_iter().chain(claims.nbf).all(plausible_time) {
            return Err("time claim out of range");
        }
        if claims.exp > claims.abs_exp
            || signed_in > claims.iat
            || claims.abs_exp - signed_in > self.longest
        {
            return Err("lifetime beyond the absolute limit");
        }
        claims.exp = claims.exp.min(claims.iat + self.window);
        let data = serde_json::to_string(&claims.custom).map_err(|_| "malformed claims")?;
        Ok(Verified::new(token, &claims, data, self.hashing))
    }

    /// The checks that depend on the time, with the configured leeway.
    fn check_times(&self, claims: &TimeClaims, now: i64) -> Result<(), &'static str> {
        let leeway = self.config.leeway.whole_seconds();
        if now >= claims.exp + leeway || now >= claims.abs_exp + leeway {
            return Err("expired");
        }
        if claims.iat > now + leeway || claims.nbf.is_some_and(|nbf| nbf > now + leeway) {
            return Err("not yet valid");
        }
        Ok(())
    }

    pub(crate) fn config(&self) -> &JwtConfig {
        &self.config
    }
}

/// `span` in whole seconds, rounded up: the limits are whole seconds at or before a time plus
/// `span`, so a span with a fraction of a second gives some tokens one second more than its
/// whole seconds.
fn whole_seconds_rounded_up(span: time::Duration) -> i64 {
    span.whole_seconds() + i64::from(span.subsec_nanoseconds() != 0)
}

/// A NumericDate between 1970 and 9999: anything else is not a time a token of ours carries,
/// and keeping to this range keeps every later sum and difference far from overflow.
fn plausible_time(seconds: i64) -> bool {
    (0..=253_402_300_799).contains(&seconds)
}
