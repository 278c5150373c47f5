//! [`CountedPool`]: axum_session's `DatabasePool`, counted. Only the calls that reach the
//! database are counted; axum_session's own memory layer sits in front of this.

use std::sync::Arc;

use async_trait::async_trait;
use axum_session::{DatabaseError, DatabasePool};

use super::Counters;

/// An axum_session database pool whose every call is counted in [`Counters`].
#[derive(Clone, Debug)]
pub struct CountedPool<P> {
    inner: P,
    counters: Arc<Counters>,
}

impl<P> CountedPool<P> {
    /// Wraps `inner`.
    pub fn new(inner: P, counters: Arc<Counters>) -> Self {
        CountedPool { inner, counters }
    }
}

#[async_trait]
impl<P: DatabasePool + Send + Sync> DatabasePool for CountedPool<P> {
    async fn initiate(&self, table_name: &str) -> Result<(), DatabaseError> {
        self.inner.initiate(table_name).await
    }
    async fn count(&self, table_name: &str) -> Result<i64, DatabaseError> {
        self.counters.read();
        self.inner.count(table_name).await
    }
    async fn store(
        &self,
        id: &str,
        session: &str,
        expires: i64,
        table_name: &str,
    ) -> Result<(), DatabaseError> {
        self.counters.write();
        self.inner.store(id, session, expires, table_name).await
    }
    async fn load(&self, id: &str, table_name: &str) -> Result<Option<String>, DatabaseError> {
        self.counters.read();
        self.inner.load(id, table_name).await
    }
    async fn delete_one_by_id(&self, id: &str, table_name: &str) -> Result<(), DatabaseError> {
        self.counters.write();
        self.inner.delete_one_by_id(id, table_name).await
    }
    async fn exists(&self, id: &str, table_name: &str) -> Result<bool, DatabaseError> {
        self.counters.read();
        self.inner.exists(id, table_name).await
    }
    async fn delete_by_expiry(&self, table_name: &str) -> Result<Vec<String>, DatabaseError> {
        self.counters.write();
        self.inner.delete_by_expiry(table_name).await
    }
    async fn delete_all(&self, table_name: &str) -> Result<(), DatabaseError> {
        self.counters.write();
        self.inner.delete_all(table_name).await
    }
    async fn get_ids(&self, table_name: &str) -> Result<Vec<String>, DatabaseError> {
        self.counters.read();
        self.inner.get_ids(table_name).await
    }
    fn auto_handles_expiry(&self) -> bool {
        self.inner.auto_handles_expiry()
    }
}
