//! The settings of a SQL store's load batching.

/// How a SQL store shares statements between concurrent session loads.
///
/// While fewer than [`max_in_flight`](Self::max_in_flight) load statements are running, a load
/// goes out at once, alone, with the same single-row statement as without batching: a quiet
/// server pays nothing for it. Loads that arrive while that many are running wait for the
/// first of them to finish, and then go out together, up to [`max_batch`](Self::max_batch) in
/// one statement, `token_hash IN (...)` with a few fixed numbers of placeholders (2, 4, 8, 16,
/// 32 or 64), so the statement caches stay small and PostgreSQL plans each statement once and
/// keeps the plan. There is no timer: a load never waits for others to arrive, only for a
/// running statement.
///
/// Each load still reads the store when it is made (a load never joins a statement that was
/// already sent), so a batched load sees every write that finished before it, as an unbatched
/// one does. Writes are never batched.
///
/// The connection a statement ran on is kept for the next one: handed to the loads queued
/// behind it, or parked for the next load for 10 to 20 ms before it goes back to the pool. So
/// the pool's checkout, and the ping sqlx's `test_before_acquire` makes before it, are paid
/// once per run of up to 32 statements rather than once per statement. A connection is never
/// kept after a failed statement, nor while the pool has none to spare for its other users,
/// and a load whose kept connection fails (the server closed it) runs again on a fresh one.
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
    /// `None`: [`LoadBatching::max_waiting`]'s default.
    max_waiting: Option<usize>,
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
            max_waiting: None,
        }
    }

    /// No batching: every load is its own statement, sent at once, as many at a time as the
    /// pool has connections.
    pub fn off() -> Self {
        Self {
            max_in_flight: usize::MAX,
            max_batch: 1,
            max_waiting: None,
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

    /// At most `max_waiting` loads (at least 1) wait for a statement; one more fails at once
    /// with [`StoreError::Overloaded`](crate::StoreError::Overloaded) (503), instead of waiting
    /// behind loads that will time out before their turn.
    ///
    /// ```
    /// use sessionward::LoadBatching;
    ///
    /// assert_eq!(LoadBatching::default().max_waiting(), 4_096);
    /// assert_eq!(LoadBatching::default().with_max_waiting(100).max_waiting(), 100);
    /// ```
    pub fn with_max_waiting(self, max_waiting: usize) -> Self {
        Self {
            max_waiting: Some(max_waiting.max(1)),
            ..self
        }
    }

    /// How many loads may wait for a statement at once: by default the loads of 64 full rounds
    /// of statements (`64 × max_in_flight × max_batch`), at least 1,024. A burst of loads the
    /// database cannot serve within their `store_timeout` is refused at the door, and the
    /// loads already queued still get their turn.
    pub fn max_waiting(&self) -> usize {
        self.max_waiting.unwrap_or_else(|| {
            self.max_in_flight
                .saturating_mul(self.max_batch)
                .saturating_mul(64)
                .max(1_024)
        })
    }
}

/// One statement at a time, for up to 64 sessions. With the connection kept from statement
/// to statement, one statement in flight leaves no connection idle that a second would use,
/// and makes the batches twice as large. On the 2-core machine of the crate's bench
/// (PostgreSQL, read-only, one run of 1 and 2 statements in flight) 1 served 23.6k / 38.7k /
/// 33.7k requests per second at 16 / 64 / 256 connections against 19.3k / 27.5k / 35.4k for
/// 2, with a lower p99 at each. Raise it when the database has many more cores than the
/// application server sends it loads, or when single statements can be slow (a table much
/// larger than the database's memory): a slow statement holds up the loads behind it.
impl Default for LoadBatching {
    fn default() -> Self {
        Self::new(1, Self::MAX_BATCH)
    }
}
