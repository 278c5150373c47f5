//! Which session ids and user ids the revocation list may hold an entry for, readable without
//! a lock: a request whose token matches neither (nearly every request) is answered without
//! taking the list's lock, which every worker thread would otherwise take on every request.
//!
//! It is a Bloom filter of 65,536 bits, two per key. The hash is a fast multiply-and-rotate
//! one with a per-process random seed, not a cryptographic one: a session id is random
//! already, and the most anyone who aimed user ids at chosen bits could win is the locked
//! check for their own requests. A
//! "maybe" is checked against the list itself; a "no" is exact: a key's bits are set before
//! the entry it stands for is visible, and cleared only by a rebuild from the entries that
//! remain. With many thousands of entries more answers are "maybe", and requests take the lock
//! as they did before.

use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

/// Words of the filter: 65,536 bits, 8 KiB.
const WORDS: usize = 1024;
const BITS: u64 = (WORDS * 64) as u64;

/// A key of the revocation list.
pub(crate) enum ListedKey<'a> {
    /// A revoked session.
    Session(Uuid),
    /// A user with a revocation of all sessions, or with data changes.
    User(&'a str),
}

/// The filter.
pub(crate) struct ListedKeys {
    hashing: KeyHashing,
    words: Box<[AtomicU64]>,
}

/// The filter's hash function: its per-process random seed. Copied out
/// ([`ListedKeys::hashing`]) so that a token's two keys are hashed once, when it is verified,
/// not on every request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyHashing {
    seed: u64,
}

/// The hashes of a token's two keys (its session and its user), worked out once by
/// [`KeyHashing::token`]. A filter uses them only when they were made with its own seed
/// ([`ListedKeys::may_hold_token`]): any others are worked out again, never trusted.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokenKeyHashes {
    seed: u64,
    session: u64,
    user: u64,
}

impl KeyHashing {
    fn random() -> Self {
        Self {
            seed: random_seed(),
        }
    }

    /// The hashes of the keys of a token of session `sid` and user `user`.
    pub(crate) fn token(&self, sid: Uuid, user: &str) -> TokenKeyHashes {
        TokenKeyHashes {
            seed: self.seed,
            session: self.key(&ListedKey::Session(sid)),
            user: self.key(&ListedKey::User(user)),
        }
    }

    fn key(&self, key: &ListedKey<'_>) -> u64 {
        match key {
            ListedKey::Session(sid) => self.hash(0, sid.as_bytes()),
            ListedKey::User(user) => self.hash(1, user.as_bytes()),
        }
    }

    /// The hash of `bytes` in the key space `kind` (a session id and a user id with the same
    /// bytes are different keys): eight bytes at a time, rotated, mixed in and multiplied,
    /// then the length, then a final mix so that both halves depend on every byte.
    fn hash(&self, kind: u64, bytes: &[u8]) -> u64 {
        let step = |hash: u64, word: u64| (hash.rotate_left(23) ^ word).wrapping_mul(MIX);
        let mut chunks = bytes.chunks_exact(8);
        let mut hash = step(self.seed, kind);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            hash = step(hash, word);
        }
        let mut last = [0u8; 8];
        last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        hash = step(step(hash, u64::from_le_bytes(last)), bytes.len() as u64);
        hash ^= hash >> 29;
        hash = hash.wrapping_mul(MIX);
        hash ^ (hash >> 32)
    }
}

/// An odd constant with well-mixed bits (from the golden ratio), the multiplier of the hash.
const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

impl ListedKeys {
    /// An empty filter: every answer is "no".
    pub(crate) fn new() -> Self {
        Self {
            hashing: KeyHashing::random(),
            words: (0..WORDS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The filter's hash function.
    pub(crate) fn hashing(&self) -> KeyHashing {
        self.hashing
    }

    /// The two bits of a key's hash: (word, mask) each.
    fn bits(hash: u64) -> [(usize, u64); 2] {
        [hash % BITS, (hash >> 32) % BITS].map(|bit| ((bit / 64) as usize, 1 << (bit % 64)))
    }

    /// Whether both bits of a key's hash are set.
    fn may_hold_hash(&self, hash: u64) -> bool {
        Self::bits(hash)
            .into_iter()
            .all(|(word, mask)| self.words[word].load(Ordering::SeqCst) & mask != 0)
    }

    /// Marks `key`: from now on [`may_hold_token`](Self::may_hold_token) says "maybe" for
    /// it. Called before the entry it stands for is made visible.
    pub(crate) fn add(&self, key: &ListedKey<'_>) {
        for (word, mask) in Self::bits(self.hashing.key(key)) {
            self.words[word].fetch_or(mask, Ordering::SeqCst);
        }
    }

    /// `false` when the list holds no entry for `key`; `true` when it may.
    #[cfg(test)]
    pub(crate) fn may_hold(&self, key: &ListedKey<'_>) -> bool {
        self.may_hold_hash(self.hashing.key(key))
    }

    /// `false` when the list holds no entry for the session `sid` nor for `user`; `true` when
    /// it may. `known` are the token's hashes worked out at its verification: used when this
    /// filter's seed made them, worked out again otherwise.
    pub(crate) fn may_hold_token(
        &self,
        sid: Uuid,
        user: &str,
        known: Option<&TokenKeyHashes>,
    ) -> bool {
        let hashes = match known {
            Some(known) if known.seed == self.hashing.seed => *known,
            _ => self.hashing.token(sid, user),
        };
        self.may_hold_hash(hashes.session) || self.may_hold_hash(hashes.user)
    }

    /// Replaces the filter with one of exactly `keys`, which must be a subset of the keys it
    /// holds (what remains after expired entries are forgotten), and must not run beside
    /// [`add`](Self::add) (both run under the list's write lock). Each word goes from its old
    /// value to a value with only the remaining keys' bits, so a reader meanwhile still sees
    /// every remaining key.
    pub(crate) fn rebuild<'a>(&self, keys: impl IntoIterator<Item = ListedKey<'a>>) {
        let mut fresh = vec![0u64; WORDS];
        for key in keys {
            for (word, mask) in Self::bits(self.hashing.key(&key)) {
                fresh[word] |= mask;
            }
        }
        for (word, value) in self.words.iter().zip(fresh) {
            word.store(value, Ordering::SeqCst);
        }
    }
}

/// A seed from the operating system's random source; without one, from the time (the filter
/// stays correct either way, only harder to aim at).
fn random_seed() -> u64 {
    let mut seed = [0u8; 8];
    match getrandom::fill(&mut seed) {
        Ok(()) => u64::from_le_bytes(seed),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(MIX, |d| d.as_nanos() as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_added_key_is_always_a_maybe_and_an_absent_one_nearly_never() {
        let keys = ListedKeys::new();
        let sessions: Vec<Uuid> = (0..1_000).map(|_| Uuid::new_v4()).collect();
        let users: Vec<String> = (0..1_000).map(|i| format!("user-{i}")).collect();
        for sid in &sessions {
            keys.add(&ListedKey::Session(*sid));
        }
        for user in &users {
            keys.add(&ListedKey::User(user));
        }
        assert!(
            sessions
                .iter()
                .all(|s| keys.may_hold(&ListedKey::Session(*s)))
        );
        assert!(users.iter().all(|u| keys.may_hold(&ListedKey::User(u))));
        // 2,000 keys in 65,536 bits: about 0.4% false "maybe"s; 5% would mean a broken hash.
        let strangers = (0..10_000)
            .filter(|_| keys.may_hold(&ListedKey::Session(Uuid::new_v4())))
            .count();
        assert!(
            strangers < 500,
            "{strangers} of 10,000 unknown sessions said maybe"
        );
    }

    #[test]
    fn a_tokens_hashes_are_used_only_by_the_filter_whose_seed_made_them() {
        let keys = ListedKeys::new();
        let sid = Uuid::new_v4();
        keys.add(&ListedKey::User("revoked-user"));
        let own = keys.hashing().token(sid, "revoked-user");
        assert!(keys.may_hold_token(sid, "revoked-user", Some(&own)));
        assert!(keys.may_hold_token(sid, "revoked-user", None));
        // Made with another seed, the hashes point at other bits: worked out again, the
        // listed user is still a "maybe".
        let foreign = ListedKeys::new().hashing().token(sid, "revoked-user");
        assert!(keys.may_hold_token(sid, "revoked-user", Some(&foreign)));
        let empty = ListedKeys::new();
        let stranger = empty.hashing().token(sid, "stranger");
        assert!(!empty.may_hold_token(sid, "stranger", Some(&stranger)));
    }

    #[test]
    fn a_rebuild_keeps_the_remaining_keys_and_drops_the_forgotten() {
        let keys = ListedKeys::new();
        let kept = Uuid::new_v4();
        let forgotten: Vec<Uuid> = (0..100).map(|_| Uuid::new_v4()).collect();
        keys.add(&ListedKey::Session(kept));
        for sid in &forgotten {
            keys.add(&ListedKey::Session(*sid));
        }
        keys.rebuild([ListedKey::Session(kept), ListedKey::User("u")]);
        assert!(keys.may_hold(&ListedKey::Session(kept)));
        assert!(keys.may_hold(&ListedKey::User("u")));
        let still = forgotten
            .iter()
            .filter(|s| keys.may_hold(&ListedKey::Session(**s)))
            .count();
        assert!(
            still < 5,
            "{still} of 100 forgotten sessions still said maybe"
        );
        keys.rebuild([]);
        assert!(!keys.may_hold(&ListedKey::Session(kept)));
    }
}
