//! [`Coalesced`]: work that many signals ask for, run at most once per spacing, with at most one
//! run waiting.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Turns any number of requests for the same work into a bounded number of runs: while a run is
/// waiting, further requests join it; runs start at least `spacing` apart. A request made while
/// a run is under way is served by the next run, so no request is ever left unserved.
///
/// A flood of change notices (any database role may `NOTIFY`) so costs at most one store
/// re-read per `spacing`, and never a task per notice.
pub(crate) struct Coalesced {
    spacing: Duration,
    waiting: AtomicBool,
    last_start: Mutex<Option<Instant>>,
}

impl Coalesced {
    pub(crate) fn new(spacing: Duration) -> Self {
        Self {
            spacing,
            waiting: AtomicBool::new(false),
            last_start: Mutex::new(None),
        }
    }

    /// Asks for a run. `true`: the caller must start one (and call [`turn`](Self::turn) before
    /// the work); `false`: a run is already waiting and will serve this request too.
    pub(crate) fn request(&self) -> bool {
        !self.waiting.swap(true, Ordering::AcqRel)
    }

    /// Waits until the spacing since the previous run has passed, then lets the waiting run
    /// start: requests from now on ask for the next run.
    pub(crate) async fn turn(&self) {
        let wait = self.last().map_or(Duration::ZERO, |last| {
            self.spacing.saturating_sub(last.elapsed())
        });
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        *self.last_start.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        self.waiting.store(false, Ordering::Release);
    }

    fn last(&self) -> Option<Instant> {
        *self.last_start.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[tokio::test]
    async fn a_flood_of_requests_runs_once_per_spacing_and_the_last_request_is_served() {
        let gate = Arc::new(Coalesced::new(Duration::from_millis(20)));
        let runs = Arc::new(AtomicUsize::new(0));
        let start = tokio::time::Instant::now();
        // 500 requests, about one a millisecond.
        for _ in 0..500 {
            if gate.request() {
                let (gate, runs) = (gate.clone(), runs.clone());
                tokio::spawn(async move {
                    gate.turn().await;
                    runs.fetch_add(1, Ordering::SeqCst);
                });
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
        let runs = runs.load(Ordering::SeqCst);
        let elapsed = start.elapsed();
        assert!(
            runs as u128 <= elapsed.as_millis() / 20 + 1,
            "{runs} runs in {elapsed:?}"
        );
        assert!(runs >= 10, "requests were starved: {runs} runs");
        assert!(
            !gate.waiting.load(Ordering::SeqCst),
            "the last request was served"
        );
    }
}
