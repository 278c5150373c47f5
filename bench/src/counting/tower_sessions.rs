//! [`CountedTowerStore`]: tower-sessions' `SessionStore` (core 0.14), counted.

use std::sync::Arc;

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::Counters;

/// A tower-sessions store whose every call is counted in [`Counters`].
#[derive(Clone, Debug)]
pub struct CountedTowerStore<S> {
    inner: S,
    counters: Arc<Counters>,
}

impl<S> CountedTowerStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, counters: Arc<Counters>) -> Self {
        CountedTowerStore { inner, counters }
    }
}

#[async_trait]
impl<S: SessionStore + Clone> SessionStore for CountedTowerStore<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.counters.write();
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.counters.write();
        self.inner.save(record).await
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.counters.read();
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.counters.write();
        self.inner.delete(id).await
    }
}
