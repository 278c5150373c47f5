//! The names of the keys a [`RedisStore`](super::RedisStore) writes, and the times they carry.

use std::fmt::Write as _;

use crate::token::TokenHash;

/// The prefix used when none is configured.
pub(super) const DEFAULT_PREFIX: &str = "sessionward";

/// The longest prefix accepted, in bytes.
const MAX_PREFIX_LEN: usize = 64;

/// The width of one bucket of the expiry index, in microseconds (one hour).
pub(super) const BUCKET_MICROS: i64 = 3_600 * 1_000_000;

/// Why a key prefix was refused, or `None` when it is fine: 1 to 64 printable ASCII
/// characters, none of them a space, a cluster hash tag brace (`{`, `}`) or a `SCAN` pattern
/// character (`*`, `?`, `[`, `]`, `\`).
pub(super) fn prefix_problem(prefix: &str) -> Option<&'static str> {
    if prefix.is_empty() {
        return Some("it is empty");
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return Some("it is longer than 64 bytes");
    }
    if !prefix.bytes().all(|b| b.is_ascii_graphic()) {
        return Some("it holds a character that is not printable ASCII, or a space");
    }
    if prefix.contains(['{', '}']) {
        return Some("it holds a brace, which would change the keys' cluster hash tags");
    }
    if prefix.contains(['*', '?', '[', ']', '\\']) {
        return Some("it holds a SCAN pattern character (* ? [ ] \\)");
    }
    None
}

/// Builds every key name from the store's prefix `P`:
///
/// | key | type | holds |
/// | --- | --- | --- |
/// | `P:s:<hex token hash>` | hash | the session record |
/// | `P:i:<session id>` | string | the hex token hash of the session's current record |
/// | `P:u:{<user tag>}:<user id>` | sorted set | the user's session ids, scored by `created_at` |
/// | `P:ud:{<user tag>}:<user id>` | sorted set | the same ids, scored by when their keys expire |
/// | `P:ue:{<user tag>}:<user id>` | sorted set | those of them a device limit is ending, same scores |
/// | `P:x:<hour>` | sorted set | ids of sessions expiring in that hour, scored by `expires_at` |
/// | `P:x` | sorted set | the hours that have such a bucket, scored by the bucket's deadline |
/// | `P:rv:{P}:ids`, `:log`, `:exp` | hash, sorted sets | the JWT revocation list |
#[derive(Clone, Debug)]
pub(super) struct Keys {
    prefix: std::sync::Arc<str>,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The session record of the token whose hash is `hash`: the one key `load` reads.
    pub(super) fn record(&self, hash: &TokenHash) -> String {
        self.record_hex(&hex(hash))
    }

    /// [`record`](Self::record), from the hash's hex form (as the id pointer holds it).
    pub(super) fn record_hex(&self, hex: &str) -> String {
        format!("{}:s:{hex}", self.prefix)
    }

    /// The id pointer of session `id`.
    pub(super) fn pointer(&self, id: &str) -> String {
        format!("{}:i:{id}", self.prefix)
    }

    /// The index of `user`'s sessions, by creation time. Its hash tag is the [`user_tag`], so
    /// that both per-user keys live in one cluster slot.
    pub(super) fn user(&self, user: &str) -> String {
        format!("{}:u:{{{}}}:{user}", self.prefix, user_tag(user))
    }

    /// The index of `user`'s sessions by the time their keys expire: what lets a script forget
    /// the sessions Redis has expired.
    pub(super) fn user_deadlines(&self, user: &str) -> String {
        format!("{}:ud:{{{}}}:{user}", self.prefix, user_tag(user))
    }

    /// The ids of `user`'s sessions that a login within the device limit is ending: still
    /// listed (so revoke-all and the list find them until their records are gone), no longer
    /// counted, and deleted by the next login within the limit if the one that ended them
    /// could not.
    pub(super) fn user_ending(&self, user: &str) -> String {
        format!("{}:ue:{{{}}}:{user}", self.prefix, user_tag(user))
    }

    /// All of `user`'s index, in the order the per-user scripts take their `KEYS`: ids by
    /// creation, by deadline, being ended. One cluster slot.
    pub(super) fn user_index(&self, user: &str) -> Vec<String> {
        vec![
            self.user(user),
            self.user_deadlines(user),
            self.user_ending(user),
        ]
    }

    /// One bucket of the expiry index.
    pub(super) fn expiry(&self, bucket: i64) -> String {
        format!("{}:x:{bucket}", self.prefix)
    }

    /// The list of the expiry index's buckets.
    pub(super) fn buckets(&self) -> String {
        format!("{}:x", self.prefix)
    }

    /// The JWT revocation list: entries by id, ids by `revoked_at`, ids by `expires_at`. One
    /// hash tag (the prefix), so one script can change all three on a cluster.
    #[cfg(feature = "jwt")]
    pub(super) fn revocations(&self) -> [String; 3] {
        let p = &self.prefix;
        [
            format!("{p}:rv:{{{p}}}:ids"),
            format!("{p}:rv:{{{p}}}:log"),
            format!("{p}:rv:{{{p}}}:exp"),
        ]
    }
}

/// The cluster hash tag of `user`'s keys: the first 8 bytes of the SHA-256 of the user id, in
/// hex. A tag taken from the user id itself would break on ids Redis does not read as a tag
/// (an empty id, or one holding `{` or `}`: each key would then hash on a different part, and
/// the scripts that change both of a user's keys would fail with CROSSSLOT); this one is 16
/// hex digits for every id. The key still ends with the whole user id, so two users whose
/// tags collide share a slot, never an index.
fn user_tag(user: &str) -> String {
    use sha2::Digest as _;
    hex_of(&sha2::Sha256::digest(user.as_bytes())[..8])
}

/// The lowercase hex form of a token hash.
pub(super) fn hex(hash: &TokenHash) -> String {
    hex_of(hash.as_bytes())
}

/// The lowercase hex form of `bytes`.
fn hex_of(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A token hash back from its hex form; `None` unless 64 hex digits.
pub(super) fn parse_hex(hex: &str) -> Option<TokenHash> {
    if hex.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(TokenHash(bytes))
}

pub(super) use crate::clock::{from_unix_micros as from_micros, unix_micros as micros};

/// A sorted-set score for a time in microseconds (exact up to the year 2255).
pub(super) fn score(micros: i64) -> f64 {
    micros as f64
}

/// The first millisecond at or after `micros`: a key's expiry deadline for `PEXPIREAT`.
pub(super) fn deadline_ms(micros: i64) -> i64 {
    micros.div_euclid(1_000) + i64::from(micros.rem_euclid(1_000) != 0)
}

/// The bucket of the expiry index that a session expiring at `micros` is listed in.
pub(super) fn bucket(micros: i64) -> i64 {
    micros.div_euclid(BUCKET_MICROS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_checked() {
        for good in ["sessionward", "app:sessions", "a", "my-app_1.sessions/v2"] {
            assert_eq!(prefix_problem(good), None, "{good}");
        }
        for bad in [
            "", "a b", "a{b", "a}b", "a*", "a?", "a[", "a]", "a\\b", "\u{e9}", "a\nb",
        ] {
            assert!(prefix_problem(bad).is_some(), "{bad:?}");
        }
        assert!(prefix_problem(&"a".repeat(65)).is_some());
        assert_eq!(prefix_problem(&"a".repeat(64)), None);
    }

    #[test]
    fn hashes_round_trip_through_hex() {
        let hash = crate::SessionToken::generate().hash();
        let text = hex(&hash);
        assert_eq!(text.len(), 64);
        assert_eq!(parse_hex(&text), Some(hash));
        assert_eq!(parse_hex(&text[1..]), None);
        assert_eq!(parse_hex(&format!("{}g", &text[1..])), None);
    }

    #[test]
    fn times_round_trip_at_microseconds() {
        let t = time::macros::datetime!(2030-01-02 03:04:05.123456 UTC);
        assert_eq!(from_micros(micros(t)), Some(t));
        let before_epoch = time::macros::datetime!(1969-12-31 23:59:59.999999 UTC);
        assert_eq!(micros(before_epoch), -1);
        assert_eq!(from_micros(-1), Some(before_epoch));
        assert_eq!(deadline_ms(1_000), 1);
        assert_eq!(deadline_ms(1_001), 2);
        assert_eq!(deadline_ms(-1), 0);
        assert_eq!(bucket(BUCKET_MICROS - 1), 0);
        assert_eq!(bucket(-1), -1);
    }

    #[test]
    fn user_keys_are_tagged_by_a_hash_of_the_user_id() {
        let keys = Keys::new("p");
        // SHA-256("alice") starts 2bd806c97f0e00af.
        assert_eq!(keys.user("alice"), "p:u:{2bd806c97f0e00af}:alice");
        assert_eq!(
            keys.user_deadlines("alice"),
            "p:ud:{2bd806c97f0e00af}:alice"
        );
        assert_eq!(keys.user_ending("alice"), "p:ue:{2bd806c97f0e00af}:alice");
        assert_eq!(keys.user(""), "p:u:{e3b0c44298fc1c14}:");
        #[cfg(feature = "jwt")]
        assert_eq!(keys.revocations()[0], "p:rv:{p}:ids");
    }
}
