//! [`ChangeMarks`]: when each recently changed key was changed, bounded in number and expiring
//! by age, so that a read in flight during a change does not put an old copy back.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The time of the latest change of each key, kept for `lifetime` (the longest a store read can
/// take: no read that started before an older mark can still finish). At most `capacity` marks
/// are kept: the oldest are dropped first, and what they said is kept conservatively as a floor
/// (every read that started at or before the newest dropped mark counts as overtaken by a
/// change). So marks fed by other instances' notices, forged ones included, cost bounded
/// memory, and marking never scans: expired marks leave from the front of the queue.
pub(crate) struct ChangeMarks<K, V> {
    lifetime: Duration,
    capacity: usize,
    /// Key -> time and detail of its latest mark.
    latest: HashMap<K, (Instant, V)>,
    /// Every mark in the order made (a key marked twice is in it twice).
    order: VecDeque<(K, Instant)>,
    /// Reads that started at or before this count as overtaken by a change (a mark was
    /// dropped before its lifetime was over).
    floor: Option<Instant>,
}

impl<K: Hash + Eq + Clone, V> ChangeMarks<K, V> {
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
    pub(crate) fn mark(&mut self, key: K, at: Instant, detail: V) {
        while let Some((_, made)) = self.order.front() {
            if at.saturating_duration_since(*made) < self.lifetime {
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
        self.latest.insert(key, (at, detail));
    }

    /// Whether a read of `key` that started at `read_started` was overtaken by a change:
    /// `matters` decides about the detail of the key's latest mark.
    pub(crate) fn changed_since(
        &self,
        key: &K,
        read_started: Instant,
        matters: impl FnOnce(&V) -> bool,
    ) -> bool {
        self.floor.is_some_and(|floor| floor >= read_started)
            || self
                .latest
                .get(key)
                .is_some_and(|(at, detail)| *at >= read_started && matters(detail))
    }

    /// How many marks are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Drops the oldest mark; returns when it was made.
    fn drop_oldest(&mut self) -> Option<Instant> {
        let (key, made) = self.order.pop_front()?;
        if self.latest.get(&key).is_some_and(|(at, _)| *at == made) {
            self.latest.remove(&key);
        }
        Some(made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_detail_of_the_latest_mark_decides() {
        let mut marks = ChangeMarks::new(Duration::from_secs(4), 10);
        let t0 = Instant::now();
        // Revoke-others of alice, keeping session 7: a read of 7 stands, a read of 8 does not.
        marks.mark("alice", t0, Some(7));
        assert!(!marks.changed_since(&"alice", t0, |kept| *kept != Some(7)));
        assert!(marks.changed_since(&"alice", t0, |kept| *kept != Some(8)));
    }
}
