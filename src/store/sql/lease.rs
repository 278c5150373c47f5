//! Connections the load queue keeps between statements, so a busy store's next statement goes
//! out at once on a connection it already holds: no return to the pool and no fresh checkout,
//! which costs a task and, with sqlx's default `test_before_acquire`, a round trip to the
//! database.
//!
//! A connection is kept at most [`HANDOFFS`] statements in a row, never after a failed
//! statement, and only while the pool has connections to spare for its other users (the fetch
//! decides both, by giving the connection back or not). Between statements it is either
//! handed straight to the next queued load, or parked here for at most about two
//! [`PARK_FOR`]s: a reaper task returns parked connections that long unused to the pool, so a
//! quiet store holds none and the pool's other users wait at most that long for one.

use std::time::{Duration, Instant};

use tokio::runtime::{Handle, TryCurrentError};

/// How many statements in a row one connection may serve before it goes back to the pool. The
/// pool's own checks (lifetime, idle test) and its other waiters get the connection back at
/// least this often; the checkout it saves is amortized to 1 in this many statements.
pub(super) const HANDOFFS: usize = 32;

/// How long a parked connection waits for the next load before the reaper may return it.
pub(super) const PARK_FOR: Duration = Duration::from_millis(10);

/// A connection kept between statements, and how many more statements it may serve.
pub(super) struct Lease<C> {
    pub(super) connection: C,
    pub(super) statements_left: usize,
}

impl<C> Lease<C> {
    /// The lease of a connection that has just served a statement, when it may serve another.
    pub(super) fn after(connection: C, statements_left: usize) -> Option<Self> {
        (statements_left > 0).then_some(Self {
            connection,
            statements_left,
        })
    }
}

/// Leases that no load was waiting for when their statement ended.
pub(super) struct Parked<C> {
    leases: Vec<(Lease<C>, Instant)>,
    /// Whether a reaper task is scheduled: at most one per queue.
    reaper_scheduled: bool,
    /// The runtime the last lease was parked on.
    runtime: Option<Handle>,
}

impl<C> Default for Parked<C> {
    fn default() -> Self {
        Self {
            leases: Vec::new(),
            reaper_scheduled: false,
            runtime: None,
        }
    }
}

/// sqlx returns a pooled connection to its pool on a task of the current runtime, and panics
/// where none runs: leases dropped there (a store dropped after `block_on` returned) are
/// dropped inside the runtime they were parked on. One that has shut down takes no task, and
/// its connections close.
impl<C> Drop for Parked<C> {
    fn drop(&mut self) {
        let _entered = self
            .runtime_to_enter(&Handle::try_current())
            .map(Handle::enter);
        self.leases.clear();
    }
}

impl<C> Parked<C> {
    /// Keeps `lease`, parked on `runtime`. True when the caller must schedule the reaper (none
    /// is scheduled).
    pub(super) fn park(&mut self, lease: Lease<C>, runtime: &Handle) -> bool {
        self.leases.push((lease, Instant::now()));
        self.runtime = Some(runtime.clone());
        !std::mem::replace(&mut self.reaper_scheduled, true)
    }

    /// The runtime to enter before dropping a connection where `current` (the caller's
    /// [`Handle::try_current`]) says none runs: the one the last lease was parked on. `None`
    /// inside a runtime, or when nothing was ever parked.
    pub(super) fn runtime_to_enter(
        &self,
        current: &Result<Handle, TryCurrentError>,
    ) -> Option<&Handle> {
        match current {
            Ok(_) => None,
            Err(_) => self.runtime.as_ref(),
        }
    }

    /// The most recently parked lease, if any.
    pub(super) fn take(&mut self) -> Option<Lease<C>> {
        self.leases.pop().map(|(lease, _)| lease)
    }

    /// Removes the leases parked at least [`PARK_FOR`] ago, to be dropped by the caller once its
    /// lock is released. Returns them and whether the reaper must look again.
    pub(super) fn reap(&mut self) -> (Vec<Lease<C>>, bool) {
        let now = Instant::now();
        let (stale, fresh) = std::mem::take(&mut self.leases)
            .into_iter()
            .partition(|(_, parked_at)| now.duration_since(*parked_at) >= PARK_FOR);
        self.leases = fresh;
        self.reaper_scheduled = !self.leases.is_empty();
        let stale = stale.into_iter().map(|(lease, _)| lease).collect();
        (stale, self.reaper_scheduled)
    }

    /// The reaper task ended without [`reap`](Self::reap) saying so (its runtime shut down):
    /// the next [`park`](Self::park) schedules one again.
    pub(super) fn reaper_gone(&mut self) {
        self.reaper_scheduled = false;
    }

    /// How many leases are parked.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.leases.len()
    }
}
