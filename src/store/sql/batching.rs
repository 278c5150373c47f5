//! The settings of a SQL store's load batching.

/// How a SQL store shares statements between concurrent session loads.
///
/// While fewer than [`max_in_flight`](Self::max_in_flight) load statements are running, a load
/// goes out at once, alone, with the same single-row statement as without batching: a quiet
/// server pays nothing for it. Loads that arrive while that many are running wait for the
/// first of them to finish, and then go out together, up to [`max_batch`](Self::max_batch) in
/// one statement (PostgreSQL: `token_hash = ANY($1)`; MySQL and SQLite: `token_hash IN (...)`
/// with a few fixed numbers of placeholders, so the statement caches stay small). There is no
/// timer: a load never waits for others to arrive, only for a running statement.
///
/// Each load still reads the store when it is made (a load never joins a statement that was
/// already sent), so a batched load sees every write that finished before it, as an unbatched
/// one does. Writes are never batched.
///
/// While loads keep queueing, the connection a statement ran on goes straight to the next
/// statement (at most 32 in a row, never after a failed statement), so the pool's checkout,
/// and the ping sqlx's `test_before_acquire` makes before it, are paid once per run of
/// statements rather than once per statement.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use sessionward::{LoadBatching, SqliteStore};
///
/// # async fn example(pool: sqlx::SqlitePool) {
/// // At most 2 load statements at a time, each for up to 32 sessions.
/// let store = SqliteStore::new(pool).load_batching(LoadBatching::new(2, 32));
/// // Every load its own statement, as many at once as the pool allows.
/// # let pool = store.pool().clone();
/// let unbatched = SqliteStore::new(pool).load_batching(LoadBatching::off());
/// # }
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadBatching {
    max_in_flight: usize,
    max_batch: usize,
}

impl LoadBatching {
    /// The largest batch this crate sends: the number of placeholders of its largest `IN (...)`
    /// statement.
    pub const MAX_BATCH: usize = 64;

    /// At most `max_in_flight` load statements at once (at least 1), each for at most
    /// `max_batch` sessions (1 to [`MAX_BATCH`](Self::MAX_BATCH); clamped).
    pub fn new(max_in_flight: usize, max_batch: usize) -> Self {
        Self {
            max_in_flight: max_in_flight.max(1),
            max_batch: max_batch.clamp(1, Self::MAX_BATCH),
        }
    }

    /// No batching: every load is its own statement, sent at once, as many at a time as the
    /// pool has connections.
    pub fn off() -> Self {
        Self {
            max_in_flight: usize::MAX,
            max_batch: 1,
        }
    }

    /// How many load statements may run at once before loads start to wait and batch.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// How many sessions one statement loads at most.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }
}

/// Two statements at once, each for up to 64 sessions. On the 2-core machine of the crate's
/// bench, a sweep of 1, 2, 4 and 8 statements (PostgreSQL, read-only, 1 to 256 connections)
/// gave 2 the best ratio to an unbatched peer from 16 connections up, and more requests per
/// second at lower p99 than 4; more running statements mean
/// smaller batches, fewer mean idle connections. Raise it when the database has many more
/// cores than the application server.
impl Default for LoadBatching {
    fn default() -> Self {
        Self::new(2, Self::MAX_BATCH)
    }
}
