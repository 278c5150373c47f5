//! Cleanup of expired database sessions, in bounded batches.

use std::time::Duration;

use crate::clock::Clock;
use crate::error::StoreError;
use crate::store::SessionStore;

/// Deletes every session expired at `clock.now()`, `batch` rows per statement, so no single
/// statement holds long locks. Returns how many were deleted.
///
/// ```
/// # tokio_test_block_on(async {
/// use sessionward::{Clock, MemoryStore, delete_expired_sessions};
///
/// let store = MemoryStore::new();
/// let deleted = delete_expired_sessions(&store, &Clock::system(), 1_000).await?;
/// assert_eq!(deleted, 0);
/// # Ok::<(), sessionward::StoreError>(())
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
///
/// # Errors
///
/// The store's error; rows deleted by earlier batches stay deleted.
pub async fn delete_expired_sessions<S: SessionStore + ?Sized>(
    store: &S,
    clock: &Clock,
    batch: u32,
) -> Result<u64, StoreError> {
    let batch = batch.max(1);
    let now = clock.now();
    let mut total = 0;
    loop {
        let deleted = store.delete_expired(now, batch).await?;
        total += deleted;
        if deleted < u64::from(batch) {
            return Ok(total);
        }
        // Let other work on this runtime (and other transactions) in between batches.
        tokio::task::yield_now().await;
    }
}

/// Starts a background task that runs [`delete_expired_sessions`] every `period`. Failures are
/// logged and retried at the next period. The task stops when the returned handle is aborted
/// or the runtime shuts down.
///
/// ```no_run
/// # async fn demo() {
/// use sessionward::{Clock, MemoryStore, spawn_cleanup};
/// use std::time::Duration;
///
/// let store = MemoryStore::new();
/// let task = spawn_cleanup(store.clone(), Clock::system(), Duration::from_secs(300), 1_000);
/// // ... serve ...
/// task.abort();
/// # }
/// ```
///
/// # Panics
///
/// When called outside a Tokio runtime.
pub fn spawn_cleanup<S: SessionStore>(
    store: S,
    clock: Clock,
    period: Duration,
    batch: u32,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match delete_expired_sessions(&store, &clock, batch).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "expired sessions deleted"),
                Err(e) => tracing::warn!(error = %e, "expired-session cleanup failed"),
            }
        }
    })
}
