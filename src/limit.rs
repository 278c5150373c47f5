//! The device limit: how many sessions one user may hold at once, and what a login does when
//! the user already holds that many ([`SessionStore::create_within_limit`]).
//!
//! [`SessionStore::create_within_limit`]: crate::SessionStore::create_within_limit
//!
//! A leaf: the stores enforce it, the configuration names it.

use uuid::Uuid;

/// What a login does when its user already holds the most sessions allowed
/// ([`SessionConfig::max_sessions_per_user`](crate::SessionConfig::max_sessions_per_user)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionLimitPolicy {
    /// The new login succeeds and the user's least recently used sessions end (the default):
    /// those whose last extension (`refreshed_at`) is the oldest, then the oldest sign-ins.
    /// Each ended session emits a `revoked` [event](crate::SessionEvents).
    #[default]
    EndLeastRecentlyUsed,
    /// The new login fails with [`Error::SessionLimitReached`](crate::Error::SessionLimitReached)
    /// (409) and nothing changes: the user signs out elsewhere first.
    RefuseNewLogin,
}

/// A user's session limit, as a store enforces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimit {
    /// The most live (unexpired) sessions one user may hold, the new one included. At least 1.
    pub max_sessions: u32,
    /// What happens at the limit.
    pub policy: SessionLimitPolicy,
}

/// What [`SessionStore::create_within_limit`](crate::SessionStore::create_within_limit) did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitedCreate {
    /// The session was created; these sessions of the same user were deleted to make room
    /// (empty when there was room).
    Created {
        /// The public ids of the sessions ended to make room.
        ended: Vec<Uuid>,
    },
    /// The user holds the most sessions allowed and the policy refuses new ones: nothing was
    /// written.
    Refused,
}

/// One live session of a user, as the limit weighs it.
#[cfg_attr(
    not(any(
        feature = "sqlite",
        feature = "postgres",
        feature = "mysql",
        feature = "redis"
    )),
    allow(dead_code)
)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Held {
    pub(crate) id: Uuid,
    pub(crate) refreshed_at: time::OffsetDateTime,
    pub(crate) created_at: time::OffsetDateTime,
}

impl SessionLimit {
    /// Which of `held` (a user's live sessions) end so that one more fits: none when there is
    /// room, the least recently used ones otherwise; `None` when the policy refuses instead.
    pub(crate) fn make_room(&self, mut held: Vec<Held>) -> Option<Vec<Uuid>> {
        let max = self.max_sessions.max(1) as usize;
        if held.len() < max {
            return Some(Vec::new());
        }
        if self.policy == SessionLimitPolicy::RefuseNewLogin {
            return None;
        }
        held.sort_by_key(|h| (h.refreshed_at, h.created_at, h.id));
        let excess = held.len() + 1 - max;
        Some(held.into_iter().take(excess).map(|h| h.id).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn held(n: u8, refreshed_hour: u8) -> Held {
        let t = datetime!(2030-01-01 0:00 UTC);
        Held {
            id: Uuid::from_u128(u128::from(n)),
            refreshed_at: t + time::Duration::hours(i64::from(refreshed_hour)),
            created_at: t,
        }
    }

    #[test]
    fn the_least_recently_extended_make_room_or_the_login_is_refused() {
        let end = SessionLimit {
            max_sessions: 2,
            policy: SessionLimitPolicy::EndLeastRecentlyUsed,
        };
        assert_eq!(end.make_room(vec![held(1, 0)]), Some(vec![]));
        let three = vec![held(1, 5), held(2, 1), held(3, 3)];
        let ended = end.make_room(three.clone()).unwrap();
        assert_eq!(ended, vec![Uuid::from_u128(2), Uuid::from_u128(3)]);
        let refuse = SessionLimit {
            policy: SessionLimitPolicy::RefuseNewLogin,
            ..end
        };
        assert_eq!(refuse.make_room(vec![held(1, 0)]), Some(vec![]));
        assert_eq!(refuse.make_room(three), None);
    }
}
