//! [`CountedStore`]: sessionward's `SessionStore` and `RevocationStore`, counted.

use std::sync::Arc;

use async_trait::async_trait;
use sessionward::jwt::{Revocation, RevocationStore};
use sessionward::{SessionRecord, SessionStore, StoreError, TokenHash};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Counters;

/// A sessionward store whose every call is counted in [`Counters`].
#[derive(Clone)]
pub struct CountedStore<S> {
    inner: S,
    counters: Arc<Counters>,
}

impl<S> CountedStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, counters: Arc<Counters>) -> Self {
        CountedStore { inner, counters }
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for CountedStore<S> {
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.counters.write();
        self.inner.create(record).await
    }
    async fn load(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        self.counters.read();
        self.inner.load(token_hash).await
    }
    async fn touch(
        &self,
        id: Uuid,
        refreshed_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.counters.write();
        self.inner.touch(id, refreshed_at, expires_at).await
    }
    async fn update_data(
        &self,
        id: Uuid,
        expected_version: i64,
        data: &str,
    ) -> Result<bool, StoreError> {
        self.counters.write();
        self.inner.update_data(id, expected_version, data).await
    }
    async fn rotate(&self, id: Uuid, old: &TokenHash, new: &TokenHash) -> Result<bool, StoreError> {
        self.counters.write();
        self.inner.rotate(id, old, new).await
    }
    async fn reauthenticate(&self, id: Uuid, at: OffsetDateTime) -> Result<bool, StoreError> {
        self.counters.write();
        self.inner.reauthenticate(id, at).await
    }
    async fn delete(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        self.counters.write();
        self.inner.delete(user_id, id).await
    }
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        self.counters.write();
        self.inner.delete_user_sessions(user_id, keep).await
    }
    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        self.counters.read();
        self.inner.list_user_sessions(user_id).await
    }
    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        self.counters.write();
        self.inner.delete_expired(now, batch).await
    }
    fn enforces_session_limits(&self) -> bool {
        self.inner.enforces_session_limits()
    }
    async fn create_within_limit(
        &self,
        record: &SessionRecord,
        limit: sessionward::SessionLimit,
        now: OffsetDateTime,
    ) -> Result<sessionward::LimitedCreate, StoreError> {
        self.counters.write();
        self.inner.create_within_limit(record, limit, now).await
    }
}

#[async_trait]
impl<S: RevocationStore> RevocationStore for CountedStore<S> {
    async fn add_revocation(&self, revocation: &Revocation) -> Result<(), StoreError> {
        self.counters.write();
        self.inner.add_revocation(revocation).await
    }
    async fn revocations_since(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Vec<Revocation>, StoreError> {
        self.counters.read();
        self.inner.revocations_since(since, now).await
    }
    async fn delete_expired_revocations(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        self.counters.write();
        self.inner.delete_expired_revocations(now, batch).await
    }
}
