//! Store calls per request, counted in the contender process by a transparent wrapper around
//! the store its session layer talks to (one wrapper per session crate's store trait).
//!
//! A read is a call that only looks (load, exists, list); a write is a call that changes
//! something (create, save, extend, update, rotate, delete, cleanup). For the SQL stores each
//! call is one SQL statement, except tower-sessions-sqlx-store's `create`, which is a
//! transaction of an existence check and an upsert, counted as one write.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

mod axum_session;
mod sessionward;
mod tower_sessions;

pub use axum_session::CountedPool;
pub use sessionward::CountedStore;
pub use tower_sessions::CountedTowerStore;

/// Store calls of one contender process.
#[derive(Debug, Default)]
pub struct Counters {
    reads: AtomicU64,
    writes: AtomicU64,
}

/// What `/__stats` answers.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct StoreCalls {
    /// Read calls so far.
    pub reads: u64,
    /// Write calls so far.
    pub writes: u64,
}

impl StoreCalls {
    /// Calls made between `earlier` and `self`.
    pub fn since(self, earlier: StoreCalls) -> StoreCalls {
        StoreCalls {
            reads: self.reads.saturating_sub(earlier.reads),
            writes: self.writes.saturating_sub(earlier.writes),
        }
    }

    /// Adds `other`.
    pub fn add(&mut self, other: StoreCalls) {
        self.reads += other.reads;
        self.writes += other.writes;
    }
}

impl Counters {
    /// Fresh counters, shared by the wrapper and `/__stats`.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Counts one read call.
    pub fn read(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one write call.
    pub fn write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> StoreCalls {
        StoreCalls {
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }
}
