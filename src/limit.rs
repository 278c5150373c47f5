//! The device limit: how many sessions one user may hold at once, and what a login does when
//! the user already holds that many ([`SessionStore::create_within_limit`]).
//!
//! [`SessionStore::create_within_limit`]: crate::SessionStore::create_within_limit
//!
//! A leaf: the stores enforce it, the configuration names it.

use uuid::Uuid;

/// What a login does when its user already holds the most sessions allowed
/// ([`SessionConfig::max_sessions_per_user`](crate::SessionConfig::max_sessions_per_user)).
///
/// ```
/// use sessionward::{SessionConfig, SessionLimitPolicy};
///
/// assert_eq!(SessionLimitPolicy::default(), SessionLimitPolicy::EndLeastRecentlyUsed);
/// // A bank: a third device must sign out somewhere first.
/// let config = SessionConfig::default()
///     .max_sessions_per_user(2)
///     .session_limit_policy(SessionLimitPolicy::RefuseNewLogin);
/// ```
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

/// A user's session limit, as a store enforces it: what the layer hands
/// [`SessionStore::create_within_limit`](crate::SessionStore::create_within_limit), and what a
/// store of your own receives there.
///
/// ```
/// use sessionward::{SessionLimit, SessionLimitPolicy};
///
/// let limit = SessionLimit { max_sessions: 3, policy: SessionLimitPolicy::default() };
/// assert_eq!(limit.policy, SessionLimitPolicy::EndLeastRecentlyUsed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimit {
    /// The most live (unexpired) sessions one user may hold, the new one included. At least 1.
    pub max_sessions: u32,
    /// What happens at the limit.
    pub policy: SessionLimitPolicy,
}

/// What [`SessionStore::create_within_limit`](crate::SessionStore::create_within_limit) did.
///
/// ```
/// use sessionward::{
///     LimitedCreate, MemoryStore, SessionLimit, SessionLimitPolicy, SessionRecord, SessionStore,
///     SessionToken,
/// };
/// use time::{Duration, OffsetDateTime};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
/// let sign_in = |minutes_ago: i64| SessionRecord {
///     id: uuid::Uuid::new_v4(),
///     token_hash: SessionToken::generate().hash(),
///     user_id: "alice".into(),
///     data: "{}".into(),
///     version: 0,
///     created_at: now - Duration::minutes(minutes_ago),
///     authenticated_at: now - Duration::minutes(minutes_ago),
///     refreshed_at: now - Duration::minutes(minutes_ago),
///     expires_at: now + Duration::days(7),
///     absolute_expires_at: now + Duration::days(30),
///     user_agent: None,
///     ip: None,
///     persistent: true,
/// };
/// let store = MemoryStore::new();
/// let one = SessionLimit { max_sessions: 1, policy: SessionLimitPolicy::EndLeastRecentlyUsed };
/// let laptop = sign_in(60);
/// store.create_within_limit(&laptop, one, now).await?;
/// // The phone's sign-in ends the laptop's session, which was used least recently.
/// let made = store.create_within_limit(&sign_in(0), one, now).await?;
/// assert_eq!(made, LimitedCreate::Created { ended: vec![laptop.id] });
/// // With the other policy, a further sign-in is refused and nothing is written.
/// let strict = SessionLimit { policy: SessionLimitPolicy::RefuseNewLogin, ..one };
/// assert_eq!(store.create_within_limit(&sign_in(0), strict, now).await?, LimitedCreate::Refused);
/// assert_eq!(store.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
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
