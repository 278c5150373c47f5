//! [`Timed`]: a store whose every call is timed (feature `metrics`).

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SessionRecord, SessionStore};
use crate::error::StoreError;
use crate::instrument::store_call;
use crate::limit::{LimitedCreate, SessionLimit};
use crate::token::TokenHash;

/// Wraps the store a layer is given, so that every call lands in the store call histogram
/// under the name of its method.
#[derive(Clone, Debug)]
pub(crate) struct Timed<S>(pub(crate) S);

#[async_trait]
impl<S: SessionStore> SessionStore for Timed<S> {
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        store_call("create", self.0.create(record)).await
    }
    async fn load(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        store_call("load", self.0.load(token_hash)).await
    }
    async fn touch(
        &self,
        id: Uuid,
        refreshed_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        store_call("touch", self.0.touch(id, refreshed_at, expires_at)).await
    }
    async fn update_data(
        &self,
        id: Uuid,
        expected_version: i64,
        data: &str,
    ) -> Result<bool, StoreError> {
        let call = self.0.update_data(id, expected_version, data);
        store_call("update_data", call).await
    }
    async fn reauthenticate(
        &self,
        id: Uuid,
        authenticated_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let call = self.0.reauthenticate(id, authenticated_at);
        store_call("reauthenticate", call).await
    }
    async fn rotate(&self, id: Uuid, old: &TokenHash, new: &TokenHash) -> Result<bool, StoreError> {
        store_call("rotate", self.0.rotate(id, old, new)).await
    }
    async fn delete(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        store_call("delete", self.0.delete(user_id, id)).await
    }
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        let call = self.0.delete_user_sessions(user_id, keep);
        store_call("delete_user_sessions", call).await
    }
    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        store_call("list_user_sessions", self.0.list_user_sessions(user_id)).await
    }
    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        store_call("delete_expired", self.0.delete_expired(now, batch)).await
    }
    fn enforces_session_limits(&self) -> bool {
        self.0.enforces_session_limits()
    }
    async fn create_within_limit(
        &self,
        record: &SessionRecord,
        limit: SessionLimit,
        now: OffsetDateTime,
    ) -> Result<LimitedCreate, StoreError> {
        let call = self.0.create_within_limit(record, limit, now);
        store_call("create_within_limit", call).await
    }
    fn change_feed(&self) -> Option<std::sync::Arc<dyn crate::notify::ChangeFeed>> {
        self.0.change_feed()
    }
}

#[cfg(feature = "jwt")]
#[async_trait]
impl<S: super::RevocationStore> super::RevocationStore for Timed<S> {
    async fn add_revocation(&self, revocation: &super::Revocation) -> Result<(), StoreError> {
        store_call("add_revocation", self.0.add_revocation(revocation)).await
    }
    async fn revocations_since(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Vec<super::Revocation>, StoreError> {
        store_call("revocations_since", self.0.revocations_since(since, now)).await
    }
    async fn delete_expired_revocations(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let call = self.0.delete_expired_revocations(now, batch);
        store_call("delete_expired_revocations", call).await
    }
    fn change_feed(&self) -> Option<std::sync::Arc<dyn crate::notify::ChangeFeed>> {
        self.0.change_feed()
    }
}
