//! Tokens this process has already verified: a browser sends the same token on every request
//! until it is re-issued, so its signature and claims are checked once, not on every request.
//!
//! Only a token that passed every time-independent check (signature with the pinned key and
//! algorithm, `iss`, `aud`, claim types, lifetime limits) is kept, under its **whole text**: a
//! hit means the very same bytes were verified before, so a tampered copy is never a hit. What
//! depends on the time (`exp`, `abs_exp`, `iat`, `nbf`) and revocation are checked on every
//! request, hit or not.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use uuid::Uuid;

use super::listed_keys::{KeyHashing, TokenKeyHashes};
use super::{Claims, SignInTime, TokenFacts};
use crate::clock::from_unix_seconds;
use crate::config::Persistence;
use crate::session::ValidSession;

/// A verified token: the session it stands for, and what every request checks again (its
/// times, and its standing against the revocation list). A hit hands out a copy: the session
/// is shared, the rest is copied, so no request writes to what the cache keeps but the
/// session's count.
#[derive(Clone, Debug)]
pub(crate) struct Verified {
    /// The session the token stands for; its `token` is the token's whole text, which a hit
    /// must present. Built once: every part of it comes from the token alone.
    pub(crate) session: Arc<ValidSession>,
    /// The time claims, checked on every request.
    pub(crate) times: TimeClaims,
    /// Whether the session is remembered (`ephemeral` absent), for the sliding extension.
    pub(crate) persistence: Persistence,
    /// The session id (`sid`), the revocation list's key.
    sid: Uuid,
    /// The sign-in time (`auth_time`) and the time the data dates from, as the revocation list
    /// compares them. The session holds these, the session id and the persistence too, in
    /// other forms or further into memory; these copies sit in the map slot, which a hit has
    /// just read, ready for the list and the lifetime checks.
    signed_in: SignInTime,
    data_at: SignInTime,
    /// The hashes of its session and user in the revocation list's filter.
    hashes: TokenKeyHashes,
}

/// The claims of a token that depend on the time: whole seconds since the Unix epoch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimeClaims {
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    pub(crate) abs_exp: i64,
    pub(crate) nbf: Option<i64>,
}

impl TimeClaims {
    /// When the token was issued (the session's last extension), when it expires, and the
    /// session's absolute limit: what [`Lifetimes::due_to_extend`](crate::config::Lifetimes::due_to_extend) compares.
    pub(crate) fn lifetime(&self) -> (OffsetDateTime, OffsetDateTime, OffsetDateTime) {
        (
            from_unix_seconds(self.iat),
            from_unix_seconds(self.exp),
            from_unix_seconds(self.abs_exp),
        )
    }
}

impl Verified {
    /// The verified `token` with `claims` and the custom claims as JSON text, `data`; its keys
    /// hashed with the revocation list's `hashing`.
    pub(crate) fn new(token: &str, claims: &Claims, data: String, hashing: KeyHashing) -> Self {
        Self {
            session: Arc::new(claims.session(data, token.to_owned())),
            times: TimeClaims {
                iat: claims.iat,
                exp: claims.exp,
                abs_exp: claims.abs_exp,
                nbf: claims.nbf,
            },
            persistence: Persistence::from_persistent(!claims.ephemeral),
            sid: claims.sid,
            signed_in: claims.auth_time,
            data_at: claims.data_time(),
            hashes: hashing.token(claims.sid, &claims.sub),
        }
    }

    /// What the revocation list is asked about this token.
    pub(crate) fn facts(&self) -> TokenFacts<'_> {
        TokenFacts {
            sid: self.sid,
            user: &self.session.info.user_id,
            signed_in: self.signed_in,
            data_at: self.data_at,
            hashes: Some(&self.hashes),
        }
    }
}

/// Up to `capacity` verified tokens; when full, an arbitrary one makes room.
///
/// Every request of every worker thread looks here, so the tokens are spread over
/// [`SHARDS`] maps with a lock each (threads seldom meet on one lock). An entry is kept in its
/// map's own slot, not behind a pointer of its own, so a hit reads the slot and the session's
/// text, and writes only the session's count.
pub(crate) struct VerifiedTokens {
    /// Tokens kept per shard.
    capacity: usize,
    shards: [Padded<Mutex<Shard>>; SHARDS],
}

/// A shard's lock on a cache line of its own, so that two threads taking two different
/// shards never contend for one line.
#[repr(align(128))]
struct Padded<T>(T);

/// Maps (each behind its own lock) the verified tokens are spread over.
const SHARDS: usize = 16;

type Shard = HashMap<Tail, Verified, BuildHasherDefault<TailHasher>>;

/// The last 32 bytes of a token's text: within the signature, which differs between any two
/// tokens. Only the map's key; a hit also compares the whole text.
type Tail = [u8; 32];

/// Hashes a [`Tail`] by its first eight bytes, which are already signature text: only tokens
/// that passed verification are ever stored, so their keys spread like their signatures, and
/// anyone else's tokens can only miss (hashing them with a keyed hash would protect nothing).
#[derive(Default)]
struct TailHasher(u64);

impl Hasher for TailHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Some(first) = bytes.first_chunk::<8>() {
            self.0 = u64::from_le_bytes(*first);
        }
    }

    /// A `[u8; 32]` hashes its length first, the same for every tail: ignored.
    fn write_usize(&mut self, _: usize) {}
}

fn tail(token: &str) -> Tail {
    let bytes = token.as_bytes();
    let mut tail = [0u8; 32];
    let end = &bytes[bytes.len().saturating_sub(32)..];
    tail[..end.len()].copy_from_slice(end);
    tail
}

impl VerifiedTokens {
    /// `capacity` 0 keeps nothing.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.div_ceil(SHARDS),
            shards: std::array::from_fn(|_| Padded(Mutex::new(HashMap::default()))),
        }
    }

    /// The shard of `tail`, locked. It is picked by a byte the map's hash does not use, so
    /// the tokens of one shard still spread over its buckets.
    fn shard(&self, tail: &Tail) -> std::sync::MutexGuard<'_, Shard> {
        let Padded(shard) = &self.shards[usize::from(tail[16]) % SHARDS];
        shard.lock().unwrap_or_else(|poisoned| {
            let mut tokens = poisoned.into_inner();
            tokens.clear();
            tokens
        })
    }

    /// A copy of what was kept of `token`, if exactly this token was verified before.
    pub(crate) fn get(&self, token: &str) -> Option<Verified> {
        if self.capacity == 0 {
            return None;
        }
        let key = tail(token);
        let shard = self.shard(&key);
        let verified = shard.get(&key)?;
        (verified.session.token == token).then(|| verified.clone())
    }

    /// Keeps `verified`, whose token just passed every time-independent check.
    pub(crate) fn insert(&self, verified: Verified) {
        if self.capacity == 0 {
            return;
        }
        let key = tail(&verified.session.token);
        let mut tokens = self.shard(&key);
        if tokens.len() >= self.capacity
            && !tokens.contains_key(&key)
            && let Some(victim) = tokens.keys().next().copied()
        {
            tokens.remove(&victim);
        }
        tokens.insert(key, verified);
    }

    /// Tokens kept, over every shard.
    #[cfg(test)]
    fn len(&self) -> usize {
        (0..SHARDS)
            .map(|i| self.shards[i].0.lock().unwrap().len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(token: &str) -> Verified {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "sub": "u", "sid": uuid::Uuid::nil(), "jti": "j", "iat": 1, "exp": 2,
            "iss": "i", "aud": "a", "auth_time": 1, "abs_exp": 3
        }))
        .unwrap();
        let hashing = super::super::listed_keys::ListedKeys::new().hashing();
        Verified::new(token, &claims, "{}".into(), hashing)
    }

    #[test]
    fn a_hit_needs_the_whole_token_not_only_its_signature() {
        let cache = VerifiedTokens::new(10);
        let token = format!("{}.{}.{}", "h".repeat(20), "p".repeat(60), "s".repeat(43));
        cache.insert(verified(&token));
        assert!(cache.get(&token).is_some());
        // The same signature on another payload: same key, different text.
        let forged = format!("{}.{}.{}", "h".repeat(20), "q".repeat(60), "s".repeat(43));
        assert!(cache.get(&forged).is_none());
        assert!(cache.get("short").is_none());
    }

    #[test]
    fn every_hit_of_a_token_shares_the_session_built_at_its_verification() {
        let cache = VerifiedTokens::new(10);
        let token = format!("h.p.{}", "s".repeat(43));
        let verified = verified(&token);
        let built = verified.session.clone();
        cache.insert(verified);
        let (first, second) = (cache.get(&token).unwrap(), cache.get(&token).unwrap());
        assert!(Arc::ptr_eq(&first.session, &built));
        assert!(Arc::ptr_eq(&second.session, &built));
        assert_eq!(first.session.token, token);
        assert_eq!(first.facts().user, "u");
    }

    #[test]
    fn the_slots_copies_agree_with_the_session_they_stand_beside() {
        for ephemeral in [false, true] {
            let claims: Claims = serde_json::from_value(serde_json::json!({
                "sub": "u", "sid": uuid::Uuid::new_v4(), "jti": "j", "iat": 1_000,
                "exp": 2_000, "iss": "i", "aud": "a", "auth_time": 900, "abs_exp": 3_000,
                "ephemeral": ephemeral
            }))
            .unwrap();
            let hashing = super::super::listed_keys::ListedKeys::new().hashing();
            let verified = Verified::new("h.p.s", &claims, "{}".into(), hashing);
            let info = &verified.session.info;
            assert_eq!(
                verified.times.lifetime(),
                (info.refreshed_at, info.expires_at, info.absolute_expires_at)
            );
            assert_eq!(verified.persistence.is_persistent(), info.persistent);
            assert_eq!(verified.facts().sid, info.id);
        }
    }

    #[test]
    fn tails_hash_by_their_signature_bytes() {
        use std::hash::BuildHasher as _;
        let hasher = BuildHasherDefault::<TailHasher>::default();
        let a = tail(&format!("x.y.{}", "a".repeat(43)));
        let b = tail(&format!("x.y.{}", "b".repeat(43)));
        assert_ne!(hasher.hash_one(a), hasher.hash_one(b));
        assert_eq!(hasher.hash_one(a), u64::from_le_bytes([b'a'; 8]));
    }

    #[test]
    fn keeps_at_most_capacity_and_zero_keeps_nothing() {
        // One shard's worth: every token below lands in the same shard (byte 16 of its tail).
        let cache = VerifiedTokens::new(3 * SHARDS);
        for i in 0..10 {
            cache.insert(verified(&format!("token-{i:040}")));
        }
        assert_eq!(cache.len(), 3);
        let off = VerifiedTokens::new(0);
        off.insert(verified("t"));
        assert!(off.get("t").is_none());
    }

    #[test]
    fn tokens_spread_over_the_shards_and_each_is_found_again() {
        let cache = VerifiedTokens::new(10_000);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let tokens: Vec<String> = (0..1_000u64)
            .map(|i| {
                let mut state = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                let signature: String = (0..43)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        char::from(alphabet[(state % 64) as usize])
                    })
                    .collect();
                format!("h.p{i}.{signature}")
            })
            .collect();
        for token in &tokens {
            cache.insert(verified(token));
        }
        assert_eq!(cache.len(), 1_000);
        assert!(tokens.iter().all(|t| cache.get(t).is_some()));
        let busiest = (0..SHARDS)
            .map(|i| cache.shards[i].0.lock().unwrap().len())
            .max()
            .unwrap();
        assert!(
            busiest < 1_000 / SHARDS * 2,
            "{busiest} tokens in one shard"
        );
    }
}
