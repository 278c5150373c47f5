//! Running the steps of an operation: on its own task, many at a time, or again after a pause.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::StoreError;

/// Runs `work` on its own Tokio task and waits for it. If the caller stops waiting (a timeout,
/// a dropped request), the work still runs to its end, so a sequence of steps across cluster
/// slots is never left half done.
pub(super) async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The runtime is shutting down.
        Err(e) => Err(StoreError::Backend(Box::new(e))),
    }
}

/// [`to_completion`] for work that must not leave its result behind when nobody receives it:
/// `work` is given a [`Caller`] to ask whether its caller still waits (a login that timed out
/// was answered 503, and must not leave a session its user was never given).
pub(super) async fn to_completion_watched<T: Send + 'static, Fut>(
    work: impl FnOnce(Caller) -> Fut,
) -> Result<T, StoreError>
where
    Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    let gone = Arc::new(AtomicBool::new(false));
    // Dropped with the caller's future: when it stops waiting, or once it has the answer.
    let _waiting = Waiting(gone.clone());
    to_completion(work(Caller(gone))).await
}

/// Whether the caller of [`to_completion_watched`] stopped waiting.
pub(super) struct Caller(Arc<AtomicBool>);

impl Caller {
    /// `true` once the caller stopped waiting: what the work does from then on, nobody will
    /// be told.
    pub(super) fn gone(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// The error of work that stopped because its caller did (nobody reads it).
    pub(super) fn gone_error() -> StoreError {
        StoreError::Backend("the caller stopped waiting".into())
    }
}

/// Held by the caller's future: its drop says the caller no longer waits.
struct Waiting(Arc<AtomicBool>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// How many items of [`all`] run at once.
const IN_FLIGHT: usize = 64;

/// Runs every item of `work`, each on its own task, at most [`IN_FLIGHT`] at a time, and
/// returns their results in order; the first error if any failed (after every item has run).
/// Like [`to_completion`], every item runs to its end even when the caller stops waiting: a
/// user's index of any size is never a burst of commands, and never half handled.
pub(super) async fn all<T: Send + 'static, F>(
    work: impl IntoIterator<Item = F>,
) -> Result<Vec<T>, StoreError>
where
    F: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    let work: Vec<F> = work.into_iter().collect();
    to_completion(in_window(work, IN_FLIGHT)).await
}

/// Runs `work` with at most `window` items in flight, keeping their order.
async fn in_window<T: Send + 'static, F>(work: Vec<F>, window: usize) -> Result<Vec<T>, StoreError>
where
    F: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    let mut out = Vec::with_capacity(work.len());
    let mut running = std::collections::VecDeque::with_capacity(window);
    let mut first_error = None;
    let mut pending = work.into_iter();
    loop {
        while running.len() < window {
            let Some(item) = pending.next() else { break };
            running.push_back(tokio::spawn(item));
        }
        let Some(oldest) = running.pop_front() else {
            break;
        };
        match oldest.await {
            Ok(Ok(value)) => out.push(value),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                first_error.get_or_insert(StoreError::Backend(Box::new(e)));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// How long a write waits, in total, for a rotation that holds the record to finish: about a
/// second, in doubling pauses from 1 ms. A rotation takes a few round trips; one that has not
/// finished by then was cut off (see the module docs), and its session is over.
pub(super) struct Patience {
    pause: Duration,
}

/// The longest single pause of [`Patience`].
const LONGEST_PAUSE: Duration = Duration::from_millis(512);

impl Patience {
    pub(super) fn new() -> Self {
        Self {
            pause: Duration::from_millis(1),
        }
    }

    /// Waits a little longer each time; `false` (without waiting) once patience is spent.
    pub(super) async fn wait(&mut self) -> bool {
        if self.pause > LONGEST_PAUSE {
            return false;
        }
        tokio::time::sleep(self.pause).await;
        self.pause *= 2;
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn all_keeps_order_and_runs_at_most_the_window_at_once() {
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let work = (0..500u64).map(|i| {
            let (now, most) = (now.clone(), most.clone());
            async move {
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(running, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_micros(200 * (i % 7))).await;
                now.fetch_sub(1, Ordering::SeqCst);
                if i == 321 {
                    return Err(StoreError::Corrupt("321"));
                }
                Ok(i)
            }
        });
        let outcome = all(work).await;
        assert!(matches!(outcome, Err(StoreError::Corrupt("321"))));
        assert!(most.load(Ordering::SeqCst) <= IN_FLIGHT);
        assert_eq!(now.load(Ordering::SeqCst), 0, "every item ran to its end");
        let ordered = all((0..300u64).map(|i| async move {
            tokio::time::sleep(Duration::from_micros(300 - i)).await;
            Ok(i)
        }))
        .await
        .unwrap();
        assert_eq!(ordered, (0..300).collect::<Vec<_>>());
    }
}
