//! A store written the way someone else would write one: only against the public API (here a
//! `Mutex<HashMap>`), proven by the public contract suite (`sessionward::testing::contract`),
//! then used behind a real layer. A deliberately broken copy of it fails the suite, so the suite
//! can fail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::{Router, routing::get};
use sessionward::jwt::{Revocation, RevocationStore};
use sessionward::testing::{SignedIn, contract};
use sessionward::{
    Session, SessionConfig, SessionLayer, SessionRecord, SessionStore, StoreError, TokenHash,
};
use time::OffsetDateTime;
use tower::ServiceExt;
use uuid::Uuid;

/// Sessions by id, revocations in a list. `overwrite` makes `create` an upsert: the bug the
/// contract must catch.
#[derive(Clone, Default)]
struct HashMapStore {
    sessions: Arc<Mutex<HashMap<Uuid, SessionRecord>>>,
    revocations: Arc<Mutex<Vec<Revocation>>>,
    overwrite: bool,
}

impl HashMapStore {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<Uuid, SessionRecord>) -> T) -> T {
        f(&mut self.sessions.lock().unwrap())
    }
}

#[async_trait]
impl SessionStore for HashMapStore {
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.with(|rows| {
            let taken = rows.contains_key(&record.id)
                || rows.values().any(|r| r.token_hash == record.token_hash);
            if taken && !self.overwrite {
                return Err(StoreError::Duplicate);
            }
            rows.insert(record.id, record.clone());
            Ok(())
        })
    }

    async fn load(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.with(|rows| rows.values().find(|r| r.token_hash == *token_hash).cloned()))
    }

    async fn touch(
        &self,
        id: Uuid,
        refreshed_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|rows| match rows.get_mut(&id) {
            Some(r) => {
                (r.refreshed_at, r.expires_at) = (refreshed_at, expires_at);
                true
            }
            None => false,
        }))
    }

    async fn update_data(&self, id: Uuid, expected: i64, data: &str) -> Result<bool, StoreError> {
        Ok(self.with(|rows| match rows.get_mut(&id) {
            Some(r) if r.version == expected => {
                (r.data, r.version) = (data.to_owned(), expected + 1);
                true
            }
            _ => false,
        }))
    }

    async fn reauthenticate(&self, id: Uuid, at: OffsetDateTime) -> Result<bool, StoreError> {
        Ok(self.with(|rows| match rows.get_mut(&id) {
            Some(r) => {
                r.authenticated_at = at;
                true
            }
            None => false,
        }))
    }

    async fn rotate(&self, id: Uuid, old: &TokenHash, new: &TokenHash) -> Result<bool, StoreError> {
        self.with(|rows| {
            if rows.values().any(|r| r.token_hash == *new) {
                return Err(StoreError::Duplicate);
            }
            Ok(match rows.get_mut(&id) {
                Some(r) if r.token_hash == *old => {
                    r.token_hash = *new;
                    true
                }
                _ => false,
            })
        })
    }

    async fn delete(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        Ok(self.with(|rows| {
            let owned = rows.get(&id).is_some_and(|r| r.user_id == user_id);
            owned && rows.remove(&id).is_some()
        }))
    }

    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        Ok(self.with(|rows| {
            let before = rows.len();
            rows.retain(|id, r| r.user_id != user_id || Some(*id) == keep);
            (before - rows.len()) as u64
        }))
    }

    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let mut listed: Vec<SessionRecord> = self.with(|rows| {
            rows.values()
                .filter(|r| r.user_id == user_id)
                .cloned()
                .collect()
        });
        listed.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
        Ok(listed)
    }

    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        Ok(self.with(|rows| {
            let expired: Vec<Uuid> = rows
                .values()
                .filter(|r| r.expires_at <= now)
                .map(|r| r.id)
                .take(batch as usize)
                .collect();
            expired
                .iter()
                .filter(|id| rows.remove(id).is_some())
                .count() as u64
        }))
    }
}

#[async_trait]
impl RevocationStore for HashMapStore {
    async fn add_revocation(&self, revocation: &Revocation) -> Result<(), StoreError> {
        let mut list = self.revocations.lock().unwrap();
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
    ) -> Result<Vec<Revocation>, StoreError> {
        let list = self.revocations.lock().unwrap();
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
        let mut list = self.revocations.lock().unwrap();
        let mut deleted = 0;
        list.retain(|r| {
            let go = r.expires_at <= now && deleted < u64::from(batch);
            deleted += u64::from(go);
            !go
        });
        Ok(deleted)
    }
}

#[tokio::test]
async fn passes_the_session_store_contract() {
    contract::session_store(&HashMapStore::default()).await;
}

#[tokio::test]
async fn passes_the_revocation_store_contract() {
    contract::revocation_store(&HashMapStore::default()).await;
}

#[tokio::test]
#[should_panic(expected = "create_never_overwrites")]
async fn an_upserting_create_fails_the_contract() {
    let broken = HashMapStore {
        overwrite: true,
        ..HashMapStore::default()
    };
    contract::session_store_clauses::create_never_overwrites(&broken).await;
}

/// Once it passes the contract, the store serves an application like the shipped ones.
#[tokio::test]
async fn serves_a_real_layer() {
    let store = HashMapStore::default();
    let layer = SessionLayer::database(store.clone(), SessionConfig::default());
    let app = Router::new()
        .route(
            "/me",
            get(|s: Session<serde_json::Value>| async move { s.user_id().to_owned() }),
        )
        .layer(layer.clone());
    let alice = SignedIn::cookie(&layer, "alice", &serde_json::json!({}))
        .await
        .unwrap();
    let request = alice
        .request(Request::get("/me"))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(store.list_user_sessions("alice").await.unwrap().len(), 1);
}
