//! [`ChangeMarks`]: when each recently changed key was changed, bounded in number and expiring
//! by age, so that a read in flight during a change does not put an old copy back (the session
//! cache), or a request still carrying a token that was just replaced does not clear the
//! cookie its replacement went into ([`ReplacedTokens`](crate::replaced_tokens::ReplacedTokens)).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The time of the latest change of each key, kept for `lifetime` (the longest a store read can
/// take: no read that started before an older mark can still finish). At most `capacity` marks
/// are kept: the oldest are dropped first, and what they said is kept conservatively as a floor
/// (every read that started at or before the newest dropped mark counts as overtaken by a
/// change). So marks fed by other instances' notices, forged ones included, cost bounded
/// memory, and marking never scans: expired marks leave from the front of the queue.
///
/// Marks are dated by `T`: the monotonic clock by default, or the crate's own clock where
/// what they decide must follow it (and tests move it by hand).
pub(crate) struct ChangeMarks<K, V, T = Instant> {
    lifetime: Duration,
    capacity: usize,
    /// Key -> time and detail of its latest mark.
    latest: HashMap<K, (T, V)>,
    /// Every mark in the order made (a key marked twice is in it twice).
    order: VecDeque<(K, T)>,
    /// Reads that started at or before this count as overtaken by a change (a mark was
    /// dropped before its lifetime was over).
    floor: Option<T>,
}

/// A time marks are dated by.
pub(crate) trait MarkTime: Copy + Ord {
    /// How long after `earlier` this is; zero when it is not after it.
    fn since(self, earlier: Self) -> Duration;
}

impl MarkTime for Instant {
    fn since(self, earlier: Self) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl MarkTime for time::OffsetDateTime {
    fn since(self, earlier: Self) -> Duration {
        Duration::try_from(self - earlier).unwrap_or(Duration::ZERO)
    }
}

/// What a mark says besides its time. A key's marks within their lifetime are kept as one
/// (its latest time), which must say no less than each of them: a later mark never lets a
/// read through that an earlier one stopped.
pub(crate) trait MarkDetail {
    /// This detail, of a later mark, together with an `earlier` one of the same key.
    fn and(self, earlier: Self) -> Self;
}

/// A mark that stops every read of its key.
impl MarkDetail for () {
    fn and(self, (): ()) {}
}

/// The one session a change of all of a user's sessions kept (`None`: it kept none): two
/// changes together keep a session only if both kept it.
impl MarkDetail for Option<uuid::Uuid> {
    fn and(self, earlier: Self) -> Self {
        if self == earlier { self } else { None }
    }
}

impl<K: Hash + Eq + Clone, V: MarkDetail, T: MarkTime> ChangeMarks<K, V, T> {
    pub(crate) fn new(lifetime: Duration, capacity: usize) -> Self {
        Self {
            lifetime,
            capacity: capacity.max(1),
            latest: HashMap::new(),
            order: VecDeque::new(),
            floor: None,
        }
    }

    /// Marks `key` as changed at `at` (not earlier than any mark before it), with `detail`.
    pub(crate) fn mark(&mut self, key: K, at: T, detail: V) {
        while let Some((_, made)) = self.order.front() {
            if at.since(*made) < self.lifetime {
                break;
            }
            self.drop_oldest();
        }
        while self.order.len() >= self.capacity {
            if let Some(made) = self.drop_oldest() {
                self.floor = Some(self.floor.map_or(made, |floor| floor.max(made)));
            }
        }
        self.order.push_back((key.clone(), at));
        let detail = match self.latest.remove(&key) {
            Some((_, earlier)) => detail.and(earlier),
            None => detail,
        };
        self.latest.insert(key, (at, detail));
    }

    /// Whether `key` was marked less than the marks' lifetime before `now`. Unlike
    /// [`changed_since`](ChangeMarks::changed_since), this forgets a mark dropped early to
    /// keep the capacity: for a question whose safe answer is "no".
    pub(crate) fn marked_lately(&self, key: &K, now: T) -> bool {
        self.latest
            .get(key)
            .is_some_and(|(at, _)| now.since(*at) < self.lifetime)
    }

    /// How many marks are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Drops the oldest mark; returns when it was made.
    fn drop_oldest(&mut self) -> Option<T> {
        let (key, made) = self.order.pop_front()?;
        if self.latest.get(&key).is_some_and(|(at, _)| *at == made) {
            self.latest.remove(&key);
        }
        Some(made)
    }
}

impl<K: Hash + Eq + Clone, V: MarkDetail> ChangeMarks<K, V> {
    /// Whether a read of `key` that started at `read_started` was overtaken by a change:
    /// `matters` decides about the detail of the key's marks. A read that started longer than
    /// the marks' lifetime ago counts as overtaken: the marks that would say so may be gone
    /// (a task that ran late, on a busy runtime, after its store read timed out).
    pub(crate) fn changed_since(
        &self,
        key: &K,
        read_started: Instant,
        matters: impl FnOnce(&V) -> bool,
    ) -> bool {
        read_started.elapsed() >= self.lifetime
            || self.floor.is_some_and(|floor| floor >= read_started)
            || self
                .latest
                .get(key)
                .is_some_and(|(at, detail)| *at >= read_started && matters(detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn marks_expire_by_age_and_a_read_after_them_is_kept() {
        let mut marks = ChangeMarks::new(Duration::from_secs(4), 100);
        let t0 = Instant::now();
        marks.mark(1, t0, ());
        assert!(marks.changed_since(&1, t0, |_| true));
        assert!(!marks.changed_since(&1, t0 + Duration::from_millis(1), |_| true));
        assert!(!marks.changed_since(&2, t0, |_| true));
        // A later mark pushes out the ones older than the lifetime.
        marks.mark(2, t0 + Duration::from_secs(5), ());
        assert_eq!(marks.len(), 1);
    }

    #[test]
    fn a_flood_of_marks_stays_bounded_and_stays_correct() {
        let mut marks = ChangeMarks::new(Duration::from_secs(4), 1_000);
        let t0 = Instant::now();
        let read_started = t0;
        // 100,000 marks (forged notices naming random sessions) within the lifetime.
        for i in 0..100_000u32 {
            marks.mark(i, t0 + Duration::from_micros(u64::from(i)), ());
        }
        assert_eq!(marks.len(), 1_000);
        assert!(marks.latest.len() <= 1_000);
        // Mark 0 was dropped early, yet a read of key 0 that started before it is still refused.
        assert!(marks.changed_since(&0, read_started, |_| true));
        // A read that started after every mark is kept.
        let later = t0 + Duration::from_secs(1);
        assert!(!marks.changed_since(&0, later, |_| true));
    }

    #[test]
    fn the_detail_of_a_mark_decides_and_a_later_mark_never_lets_through_what_an_earlier_stopped() {
        let (seven, eight) = (Some(Uuid::from_u128(7)), Some(Uuid::from_u128(8)));
        let mut marks = ChangeMarks::new(Duration::from_secs(4), 10);
        let t0 = Instant::now();
        // Revoke-others of alice, keeping session 7: a read of 7 stands, a read of 8 does not.
        marks.mark("alice", t0, seven);
        assert!(!marks.changed_since(&"alice", t0, |kept| *kept != seven));
        assert!(marks.changed_since(&"alice", t0, |kept| *kept != eight));
        // Then revoke-all, then revoke-others keeping 8: a read of 8 from before both stays
        // overtaken (the revoke-all ended 8), and so does a read of 7.
        let mut marks = ChangeMarks::new(Duration::from_secs(4), 10);
        marks.mark("alice", t0 + Duration::from_millis(1), None);
        marks.mark("alice", t0 + Duration::from_millis(2), eight);
        assert!(marks.changed_since(&"alice", t0, |kept| *kept != eight));
        assert!(marks.changed_since(&"alice", t0, |kept| *kept != seven));
        // Two that kept the same session keep it.
        let mut marks = ChangeMarks::new(Duration::from_secs(4), 10);
        marks.mark("alice", t0 + Duration::from_millis(1), seven);
        marks.mark("alice", t0 + Duration::from_millis(2), seven);
        assert!(!marks.changed_since(&"alice", t0, |kept| *kept != seven));
    }

    #[test]
    fn a_read_that_started_longer_ago_than_the_marks_live_counts_as_overtaken() {
        let marks = ChangeMarks::<u32, ()>::new(Duration::from_millis(100), 10);
        let long_ago = Instant::now() - Duration::from_millis(200);
        assert!(marks.changed_since(&1, long_ago, |_| true));
        assert!(!marks.changed_since(&1, Instant::now(), |_| true));
    }
}
