//! A warning that is logged at most once per interval, however often its cause recurs.

use std::time::{Duration, Instant};

/// Decides when a recurring warning may be logged again, and counts what it held back.
pub(crate) struct RateLimitedWarning {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedWarning {
    pub(crate) fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(n)` when the warning may be logged now, `n` being how many occurrences were held
    /// back since the last one logged; `None` (and one more held back) otherwise.
    pub(crate) fn due(&mut self) -> Option<u64> {
        self.due_at(Instant::now())
    }

    fn due_at(&mut self, now: Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < self.every)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_once_per_interval_and_counts_the_rest() {
        let mut warning = RateLimitedWarning::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(warning.due_at(start), Some(0));
        let logged = (1..=2_000)
            .filter(|i| warning.due_at(start + Duration::from_millis(*i)).is_some())
            .count();
        assert_eq!(logged, 0, "2,000 occurrences within 2 s log nothing more");
        assert_eq!(
            warning.due_at(start + Duration::from_secs(10)),
            Some(2_000),
            "the next warning says how many were held back"
        );
        assert_eq!(warning.due_at(start + Duration::from_secs(11)), None);
    }
}
