//! An in-process store: for tests, demos and single-instance services that can lose sessions on
//! restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SessionRecord, SessionStore, live_sessions};
use crate::error::StoreError;
use crate::limit::{LimitedCreate, SessionLimit};
use crate::token::TokenHash;

/// Sessions in a `HashMap` behind a mutex, indexed by token hash. Keeps the full
/// [`SessionStore`] contract (no upsert, no resurrection, version checks), so it behaves like
/// the SQL stores, but everything is gone when the process exits. Clones share the same map.
///
/// ```
/// use sessionward::{MemoryStore, SessionConfig, SessionLayer};
///
/// let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Rows>>,
    #[cfg(feature = "jwt")]
    revocations: Arc<Mutex<Vec<crate::store::Revocation>>>,
}

#[derive(Debug, Default)]
struct Rows {
    by_id: HashMap<Uuid, SessionRecord>,
    id_by_hash: HashMap<TokenHash, Uuid>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many sessions are held, expired ones included.
    pub fn len(&self) -> usize {
        self.rows().by_id.len()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn rows(&self) -> MutexGuard<'_, Rows> {
        // No code path panics while holding the lock; recover the data if one ever did.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Rows {
    /// Whether `record`'s id or token hash is taken.
    fn taken(&self, record: &SessionRecord) -> bool {
        self.by_id.contains_key(&record.id) || self.id_by_hash.contains_key(&record.token_hash)
    }

    /// Inserts `record`; [`StoreError::Duplicate`] when its id or token hash is taken.
    fn insert(&mut self, record: &SessionRecord) -> Result<(), StoreError> {
        if self.taken(record) {
            return Err(StoreError::Duplicate);
        }
        self.id_by_hash.insert(record.token_hash, record.id);
        self.by_id.insert(record.id, record.clone());
        Ok(())
    }

    fn remove(&mut self, id: Uuid) -> bool {
        match self.by_id.remove(&id) {
            Some(record) => {
                self.id_by_hash.remove(&record.token_hash);
                true
            }
            None => false,
        }
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.rows().insert(record)
    }

    async fn load(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        let rows = self.rows();
        Ok(rows
            .id_by_hash
            .get(token_hash)
            .and_then(|id| rows.by_id.get(id))
            .cloned())
    }

    async fn touch(
        &self,
        id: Uuid,
        refreshed_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Ok(match self.rows().by_id.get_mut(&id) {
            Some(record) => {
                record.refreshed_at = refreshed_at;
                record.expires_at = expires_at;
                true
            }
            None => false,
        })
    }

    async fn update_data(
        &self,
        id: Uuid,
        expected_version: i64,
        data: &str,
    ) -> Result<bool, StoreError> {
        Ok(match self.rows().by_id.get_mut(&id) {
            Some(record) if record.version == expected_version => {
                record.data = data.to_owned();
                record.version += 1;
                true
            }
            _ => false,
        })
    }

    async fn reauthenticate(
        &self,
        id: Uuid,
        authenticated_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Ok(match self.rows().by_id.get_mut(&id) {
            Some(record) => {
                record.authenticated_at = authenticated_at;
                true
            }
            None => false,
        })
    }

    async fn rotate(&self, id: Uuid, old: &TokenHash, new: &TokenHash) -> Result<bool, StoreError> {
        let mut rows = self.rows();
        if rows.id_by_hash.contains_key(new) {
            return Err(StoreError::Duplicate);
        }
        let Some(record) = rows.by_id.get_mut(&id).filter(|r| r.token_hash == *old) else {
            return Ok(false);
        };
        record.token_hash = *new;
        rows.id_by_hash.remove(old);
        rows.id_by_hash.insert(*new, id);
        Ok(true)
    }

    async fn delete(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        let mut rows = self.rows();
        let owned = rows.by_id.get(&id).is_some_and(|r| r.user_id == user_id);
        Ok(owned && rows.remove(id))
    }

    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        let mut rows = self.rows();
        let doomed: Vec<Uuid> = rows
            .by_id
            .values()
            .filter(|r| r.user_id == user_id && Some(r.id) != keep)
            .map(|r| r.id)
            .collect();
        for id in &doomed {
            rows.remove(*id);
        }
        Ok(doomed.len() as u64)
    }

    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let mut list: Vec<SessionRecord> = self
            .rows()
            .by_id
            .values()
            .filter(|r| r.user_id == user_id)
            .cloned()
            .collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(list)
    }

    fn enforces_session_limits(&self) -> bool {
        true
    }

    /// Under the store's one lock: counting, ending and creating are one step.
    async fn create_within_limit(
        &self,
        record: &SessionRecord,
        limit: SessionLimit,
        now: OffsetDateTime,
    ) -> Result<LimitedCreate, StoreError> {
        let mut rows = self.rows();
        if rows.taken(record) {
            return Err(StoreError::Duplicate); // before anything ends
        }
        let mine = rows.by_id.values().filter(|r| r.user_id == record.user_id);
        let Some(ended) = limit.make_room(live_sessions(mine, now)) else {
            return Ok(LimitedCreate::Refused);
        };
        for id in &ended {
            rows.remove(*id);
        }
        rows.insert(record)?;
        Ok(LimitedCreate::Created { ended })
    }

    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        let mut rows = self.rows();
        let doomed: Vec<Uuid> = rows
            .by_id
            .values()
            .filter(|r| r.expires_at <= now)
            .map(|r| r.id)
            .take(batch as usize)
            .collect();
        for id in &doomed {
            rows.remove(*id);
        }
        Ok(doomed.len() as u64)
    }
}

#[cfg(feature = "jwt")]
#[async_trait]
impl crate::store::RevocationStore for MemoryStore {
    async fn add_revocation(
        &self,
        revocation: &crate::store::Revocation,
    ) -> Result<(), StoreError> {
        let mut list = self.revocations.lock().unwrap_or_else(|p| p.into_inner());
        if list.iter().any(|r| r.id == revocation.id) {
            return Err(StoreError::Duplicate);
        }
        list.push(revocation.clone());
        Ok(())
    }

    async fn revocations_since(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Vec<crate::store::Revocation>, StoreError> {
        let list = self.revocations.lock().unwrap_or_else(|p| p.into_inner());
        Ok(list
            .iter()
            .filter(|r| r.revoked_at >= since && r.expires_at > now)
            .cloned()
            .collect())
    }

    async fn delete_expired_revocations(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let mut list = self.revocations.lock().unwrap_or_else(|p| p.into_inner());
        let mut deleted = 0;
        list.retain(|r| {
            let doomed = r.expires_at <= now && deleted < u64::from(batch);
            deleted += u64::from(doomed);
            !doomed
        });
        Ok(deleted)
    }
}
