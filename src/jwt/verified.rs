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
use std::sync::{Arc, Mutex, OnceLock};

use super::Claims;
use crate::session::ValidSession;

/// A verified token's claims, and the custom claims as the session data's JSON text.
#[derive(Debug)]
pub(crate) struct Verified {
    pub(crate) claims: Claims,
    pub(crate) data: String,
    /// The session the token stands for, built once on first use: every part of it comes
    /// from the token alone, so each request that presents the same token shares it.
    pub(crate) session: OnceLock<Arc<ValidSession>>,
}

impl Verified {
    pub(crate) fn new(claims: Claims, data: String) -> Self {
        Self {
            claims,
            data,
            session: OnceLock::new(),
        }
    }
}

/// Up to `capacity` verified tokens; when full, an arbitrary one makes room.
pub(crate) struct VerifiedTokens {
    capacity: usize,
    tokens: Mutex<HashMap<Tail, Entry, BuildHasherDefault<TailHasher>>>,
}

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

struct Entry {
    token: Box<str>,
    verified: Arc<Verified>,
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
            capacity,
            tokens: Mutex::new(HashMap::default()),
        }
    }

    fn tokens(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Tail, Entry, BuildHasherDefault<TailHasher>>> {
        self.tokens.lock().unwrap_or_else(|poisoned| {
            let mut tokens = poisoned.into_inner();
            tokens.clear();
            tokens
        })
    }

    /// The claims of `token`, if exactly this token was verified before.
    pub(crate) fn get(&self, token: &str) -> Option<Arc<Verified>> {
        if self.capacity == 0 {
            return None;
        }
        let tokens = self.tokens();
        let entry = tokens.get(&tail(token))?;
        (*entry.token == *token).then(|| entry.verified.clone())
    }

    /// Keeps `token`, which just passed every time-independent check.
    pub(crate) fn insert(&self, token: &str, verified: Arc<Verified>) {
        if self.capacity == 0 {
            return;
        }
        let key = tail(token);
        let mut tokens = self.tokens();
        if tokens.len() >= self.capacity
            && !tokens.contains_key(&key)
            && let Some(victim) = tokens.keys().next().copied()
        {
            tokens.remove(&victim);
        }
        let token = token.into();
        tokens.insert(key, Entry { token, verified });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified() -> Arc<Verified> {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "sub": "u", "sid": uuid::Uuid::nil(), "jti": "j", "iat": 1, "exp": 2,
            "iss": "i", "aud": "a", "auth_time": 1, "abs_exp": 3
        }))
        .unwrap();
        Arc::new(Verified::new(claims, "{}".into()))
    }

    #[test]
    fn a_hit_needs_the_whole_token_not_only_its_signature() {
        let cache = VerifiedTokens::new(10);
        let token = format!("{}.{}.{}", "h".repeat(20), "p".repeat(60), "s".repeat(43));
        cache.insert(&token, verified());
        assert!(cache.get(&token).is_some());
        // The same signature on another payload: same key, different text.
        let forged = format!("{}.{}.{}", "h".repeat(20), "q".repeat(60), "s".repeat(43));
        assert!(cache.get(&forged).is_none());
        assert!(cache.get("short").is_none());
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
        let cache = VerifiedTokens::new(3);
        for i in 0..10 {
            cache.insert(&format!("token-{i:040}"), verified());
        }
        assert_eq!(cache.tokens().len(), 3);
        let off = VerifiedTokens::new(0);
        off.insert("t", verified());
        assert!(off.get("t").is_none());
    }
}
