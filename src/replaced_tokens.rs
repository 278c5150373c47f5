//! [`ReplacedTokens`]: the session cookies this process just handed a new token in place of,
//! so that a request still carrying one, in flight while its replacement was made, does not
//! clear the cookie the replacement went into.
//!
//! A browser sends its requests with the cookie it holds. When one of them logs in again,
//! rotates the token or, on JWT sessions, updates the data or revokes the other sessions (see
//! `Strategy::ends_the_token`), the others already on their way carry the token that just
//! stopped working. Each of them finds it unknown (or
//! revoked) and, if its answer reached the browser after the one that set the new token, a
//! clearing `Set-Cookie` would remove the new token with it: the browser would be signed out.
//! So for [`REPLACED_TOKEN_GRACE`] after a request of this process replaced a token, a request
//! that comes with it is answered as no session (401 on protected routes), its cookie left
//! alone. After that, the token is cleared like any other that no longer works.

use std::hash::BuildHasher;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use time::OffsetDateTime;

use crate::change_marks::ChangeMarks;

/// How long after a token was replaced a request that still carries it leaves its cookie
/// alone: longer than a request that was on its way while the replacement was made can take
/// to be answered.
pub(crate) const REPLACED_TOKEN_GRACE: Duration = Duration::from_secs(60);

/// At most this many replaced tokens are remembered; the oldest are forgotten first (a
/// forgotten token's cookie is cleared, as before there was this list). About 1 MB.
const MAX_REPLACED_TOKENS: usize = 10_000;

/// The tokens this process replaced in the last [`REPLACED_TOKEN_GRACE`], by a keyed hash of
/// their text (no token is kept; a collision only leaves one dead cookie uncleared a minute
/// longer).
pub(crate) struct ReplacedTokens {
    keys: std::collections::hash_map::RandomState,
    marks: Mutex<ChangeMarks<u64, (), OffsetDateTime>>,
}

impl ReplacedTokens {
    pub(crate) fn new() -> Self {
        Self {
            keys: std::collections::hash_map::RandomState::new(),
            marks: Mutex::new(ChangeMarks::new(REPLACED_TOKEN_GRACE, MAX_REPLACED_TOKENS)),
        }
    }

    /// Remembers `tokens` as replaced at `now`.
    pub(crate) fn remember<'a>(&self, tokens: impl Iterator<Item = &'a str>, now: OffsetDateTime) {
        let mut marks = self.marks.lock().unwrap_or_else(PoisonError::into_inner);
        for token in tokens {
            marks.mark(self.keys.hash_one(token), now, ());
        }
    }

    /// Whether any of `tokens` was replaced less than [`REPLACED_TOKEN_GRACE`] before `now`.
    pub(crate) fn any_replaced<'a>(
        &self,
        mut tokens: impl Iterator<Item = &'a str>,
        now: OffsetDateTime,
    ) -> bool {
        let marks = self.marks.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.any(|token| marks.marked_lately(&self.keys.hash_one(token), now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_token_is_remembered_for_the_grace_only() {
        let replaced = ReplacedTokens::new();
        let t0 = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        replaced.remember(["old"].into_iter(), t0);
        assert!(replaced.any_replaced(["other", "old"].into_iter(), t0));
        assert!(!replaced.any_replaced(["other"].into_iter(), t0));
        let just_before = t0 + REPLACED_TOKEN_GRACE - time::Duration::seconds(1);
        assert!(replaced.any_replaced(["old"].into_iter(), just_before));
        let after = t0 + REPLACED_TOKEN_GRACE;
        assert!(!replaced.any_replaced(["old"].into_iter(), after));
    }

    #[test]
    fn a_flood_of_replacements_forgets_the_oldest_and_stays_bounded() {
        let replaced = ReplacedTokens::new();
        let t0 = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let tokens: Vec<String> = (0..MAX_REPLACED_TOKENS + 10)
            .map(|i| format!("token-{i}"))
            .collect();
        replaced.remember(tokens.iter().map(String::as_str), t0);
        let marks = replaced.marks.lock().unwrap();
        assert_eq!(marks.len(), MAX_REPLACED_TOKENS);
        drop(marks);
        assert!(!replaced.any_replaced(["token-0"].into_iter(), t0));
        let newest = tokens.last().unwrap().as_str();
        assert!(replaced.any_replaced([newest].into_iter(), t0));
    }
}
