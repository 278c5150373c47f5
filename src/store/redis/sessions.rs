//! [`SessionStore`] for [`RedisStore`]: the single-record operations (`load`, `touch`,
//! `update_data`), the user's list, and the shared helpers of the other steps.

use std::collections::HashMap;

use async_trait::async_trait;
use fred::interfaces::{HashesInterface as _, KeysInterface as _, SortedSetsInterface as _};
use fred::types::{ExpireOptions, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::keys::{self, BUCKET_MICROS, deadline_ms, micros, parse_hex};
use super::record;
use super::scripts::{
    BUCKET_REGISTER, DEL_IF_FIELD, DEL_IF_VALUE, INDEX_ADD, REAUTHENTICATE, TOUCH, UPDATE,
    USER_ADD, USER_EXTEND, USER_REMOVE,
};
use super::tasks::{self, Patience};
use super::{RedisStore, delete::Check};
use crate::error::StoreError;
use crate::limit::{LimitedCreate, SessionLimit};
use crate::store::{SessionRecord, SessionStore};
use crate::token::TokenHash;

/// How many times one operation follows a session's pointer to a new record (each move is a
/// completed rotation) before it gives up.
pub(super) const MAX_MOVES: usize = 8;

/// What a script answered: its status code, and the values after it.
pub(super) fn reply(value: Value) -> (i64, Vec<Value>) {
    match value {
        Value::Array(mut values) if !values.is_empty() => {
            let code = values.remove(0).as_i64().unwrap_or(-1);
            (code, values)
        }
        other => (other.as_i64().unwrap_or(-1), Vec::new()),
    }
}

/// The `index`th value of a script's reply, as text.
pub(super) fn text(values: &[Value], index: usize) -> Option<String> {
    values.get(index).cloned().and_then(Value::into_string)
}

impl RedisStore {
    /// Runs a single-record script on session `id`'s record, wherever rotations have moved it.
    /// `attempt` gets the record's hex key hash and returns the script's [`reply`]. A `-2` (a
    /// rotation holds the record) waits with [`Patience`], then reads the pointer again; `-1`
    /// (the key holds no record of this session) follows the pointer if it moved, at most
    /// [`MAX_MOVES`] times. Any other code is the answer. `None` when the session is gone: no
    /// pointer, a record that is not the session's and a pointer that did not move, or
    /// patience spent.
    async fn on_session_record<F, Fut>(
        &self,
        id: &str,
        mut attempt: F,
    ) -> Result<Option<(i64, Vec<Value>)>, StoreError>
    where
        F: FnMut(String) -> Fut,
        Fut: std::future::Future<Output = Result<(i64, Vec<Value>), StoreError>>,
    {
        let mut patience = Patience::new();
        let mut moves = 0;
        let Some(mut hex) = self.pointer(id).await? else {
            return Ok(None);
        };
        loop {
            let (code, values) = attempt(hex.clone()).await?;
            match code {
                -2 => {
                    // Once the rotation is done, the pointer names the new record.
                    if !patience.wait().await {
                        return Ok(None);
                    }
                }
                -1 => moves += 1,
                _ => return Ok(Some((code, values))),
            }
            match self.pointer(id).await? {
                Some(now) if code == -2 || (now != hex && moves < MAX_MOVES) => hex = now,
                _ => return Ok(None),
            }
        }
    }

    /// When a record expiring at `expires` (µs) may go: `PEXPIREAT` milliseconds.
    pub(super) fn record_deadline(&self, expires: i64) -> i64 {
        deadline_ms(expires.saturating_add(self.retention))
    }

    /// When a session's id pointer and user index entry may go: after its record, however far
    /// `touch` moves `expires_at` within the absolute limit.
    pub(super) fn pointer_deadline(&self, expires: i64, absolute: i64) -> i64 {
        self.record_deadline(expires.max(absolute))
    }

    /// When a bucket of the expiry index may go: after every record it can list.
    pub(super) fn bucket_deadline(&self, bucket: i64) -> i64 {
        self.record_deadline(bucket.saturating_add(1).saturating_mul(BUCKET_MICROS))
    }

    /// The hex hash the id pointer of `id` names.
    pub(super) async fn pointer(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.redis().get(self.keys.pointer(id)).await?)
    }

    /// Every field of the record under `hex`; empty when there is none.
    pub(super) async fn fields(&self, hex: &str) -> Result<HashMap<String, String>, StoreError> {
        Ok(self.redis().hgetall(self.keys.record_hex(hex)).await?)
    }

    /// Adds `member` to the index `key`, scored by the time `at` (µs), keeping the index until
    /// `deadline` (ms). Returns whether the index was created by this call.
    pub(super) async fn index_add(
        &self,
        key: String,
        at: i64,
        member: &str,
        deadline: i64,
    ) -> Result<bool, StoreError> {
        let args = vec![at.into(), member.into(), deadline.into()];
        Ok(INDEX_ADD.run::<i64>(&self.redis(), vec![key], args).await? == 1)
    }

    /// Lists session `id` of `user`, created at `created` (µs), in the user's index until
    /// `deadline` (ms); forgets the user's sessions that Redis has expired.
    pub(super) async fn user_add(
        &self,
        user: &str,
        created: i64,
        id: &str,
        deadline: i64,
    ) -> Result<(), StoreError> {
        let args = vec![created.into(), id.into(), deadline.into()];
        USER_ADD
            .run::<i64>(&self.redis(), self.keys.user_index(user), args)
            .await?;
        Ok(())
    }

    /// Removes session `id` from the index of `user` (and from those being ended).
    pub(super) async fn user_remove(&self, user: &str, id: &str) -> Result<(), StoreError> {
        USER_REMOVE
            .run::<i64>(&self.redis(), self.keys.user_index(user), vec![id.into()])
            .await?;
        Ok(())
    }

    /// Removes `member` from the index `key`.
    pub(super) async fn index_remove(&self, key: String, member: &str) -> Result<(), StoreError> {
        self.redis().zrem::<i64, _, _>(key, member).await?;
        Ok(())
    }

    /// Adds session `id`, expiring at `expires` (µs), to the expiry index; a bucket that this
    /// creates is added to the list of buckets, where `delete_expired` finds it.
    pub(super) async fn index_expiry(&self, id: &str, expires: i64) -> Result<(), StoreError> {
        let bucket = keys::bucket(expires);
        let deadline = self.bucket_deadline(bucket);
        let created = self
            .index_add(self.keys.expiry(bucket), expires, id, deadline)
            .await?;
        if created {
            let args = vec![bucket.into(), deadline.into()];
            BUCKET_REGISTER
                .run::<i64>(&self.redis(), vec![self.keys.buckets()], args)
                .await?;
        }
        Ok(())
    }

    /// Deletes the hash `key` if its `field` holds `value`. Returns whether it did.
    pub(super) async fn del_if_field(
        &self,
        key: String,
        field: &str,
        value: &str,
    ) -> Result<bool, StoreError> {
        let args = vec![field.into(), value.into()];
        Ok(DEL_IF_FIELD
            .run::<i64>(&self.redis(), vec![key], args)
            .await?
            == 1)
    }

    /// Deletes the string `key` if it holds `value`. Returns whether it did.
    pub(super) async fn del_if_value(&self, key: String, value: &str) -> Result<bool, StoreError> {
        let args = vec![value.into()];
        Ok(DEL_IF_VALUE
            .run::<i64>(&self.redis(), vec![key], args)
            .await?
            == 1)
    }

    /// The session `id` of `user` as its current record says, following rotations. `None`
    /// when it is gone; then its index entry (and a pointer left without a record) is pruned.
    async fn current(&self, id: String, user: String) -> Result<Option<SessionRecord>, StoreError> {
        let mut gone: Option<String> = None;
        for _ in 0..MAX_MOVES {
            let Some(hex) = self.pointer(&id).await? else {
                // Deleted: the pointer goes last, and never comes back.
                self.user_remove(&user, &id).await?;
                return Ok(None);
            };
            if gone.as_deref() == Some(hex.as_str()) {
                // Its record was gone and the pointer still names it: expired or deleted, and
                // nothing brings it back.
                let (unpointed, unlisted) = tokio::join!(
                    self.del_if_value(self.keys.pointer(&id), &hex),
                    self.user_remove(&user, &id),
                );
                unpointed?;
                unlisted?;
                return Ok(None);
            }
            let fields = self.fields(&hex).await?;
            let hash = parse_hex(&hex).ok_or(StoreError::Corrupt("token_hash"))?;
            match record::decode(&fields, hash)? {
                None => gone = Some(hex),
                Some(stored) if stored.record.id.hyphenated().to_string() != id => {
                    return Err(StoreError::Corrupt("id"));
                }
                Some(stored) if stored.record.user_id != user => return Ok(None),
                Some(stored) => return Ok(Some(stored.record)),
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    /// Redis pub/sub on the channel `<prefix>:changes`.
    fn change_feed(&self) -> Option<std::sync::Arc<dyn crate::ChangeFeed>> {
        Some(self.change_feed())
    }

    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let (store, record) = (self.clone(), record.clone());
        tasks::to_completion_watched(|caller| store.create_session(record, caller)).await
    }

    fn enforces_session_limits(&self) -> bool {
        true
    }

    /// Counted in the user's index by one script; see `limit.rs` for the steps around it.
    async fn create_within_limit(
        &self,
        record: &SessionRecord,
        limit: SessionLimit,
        now: OffsetDateTime,
    ) -> Result<LimitedCreate, StoreError> {
        self.create_within_limit_now(record, limit, now).await
    }

    async fn load(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        let fields: HashMap<String, String> =
            self.redis().hgetall(self.keys.record(token_hash)).await?;
        // A record that a rotation is moving is no longer its token's: see the module docs.
        Ok(record::decode(&fields, *token_hash)?
            .filter(|stored| stored.moving.is_none())
            .map(|stored| stored.record))
    }

    async fn touch(
        &self,
        id: Uuid,
        refreshed_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let id = id.hyphenated().to_string();
        let expires = micros(expires_at);
        let args: Vec<Value> = vec![
            id.as_str().into(),
            micros(refreshed_at).to_string().into(),
            expires.to_string().into(),
            self.record_deadline(expires).into(),
        ];
        let touched = self
            .on_session_record(&id, |hex| {
                let args = args.clone();
                let id = &id;
                async move {
                    // The expiry index entry goes along: an entry for a session that turns out
                    // to be gone is harmless (`delete_expired` checks the record and drops it).
                    let redis = self.redis();
                    let (done, indexed) = tokio::join!(
                        TOUCH.run::<Value>(&redis, vec![self.keys.record_hex(&hex)], args),
                        self.index_expiry(id, expires),
                    );
                    indexed?;
                    Ok(reply(done?))
                }
            })
            .await?;
        let Some((1, values)) = touched else {
            return Ok(false);
        };
        let absolute = text(&values, 0).and_then(|a| a.parse::<i64>().ok());
        if absolute.is_some_and(|absolute| expires > absolute) {
            // Past the absolute limit (the layer never does this): keep the pointer and the
            // user's index as long as the record.
            self.outlive(&id, text(&values, 1), expires).await?;
        }
        Ok(true)
    }

    async fn update_data(
        &self,
        id: Uuid,
        expected_version: i64,
        data: &str,
    ) -> Result<bool, StoreError> {
        let Some(next) = expected_version.checked_add(1) else {
            return Ok(false);
        };
        let id = id.hyphenated().to_string();
        let args: Vec<Value> = vec![
            id.as_str().into(),
            expected_version.to_string().into(),
            data.into(),
            next.to_string().into(),
        ];
        let updated = self
            .on_session_record(&id, |hex| {
                let args = args.clone();
                async move {
                    let code = UPDATE
                        .run::<i64>(&self.redis(), vec![self.keys.record_hex(&hex)], args)
                        .await?;
                    Ok((code, Vec::new()))
                }
            })
            .await?;
        // 0: the version differs.
        Ok(matches!(updated, Some((1, _))))
    }

    async fn reauthenticate(
        &self,
        id: Uuid,
        authenticated_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let id = id.hyphenated().to_string();
        let args: Vec<Value> = vec![
            id.as_str().into(),
            micros(authenticated_at).to_string().into(),
        ];
        let written = self
            .on_session_record(&id, |hex| {
                let args = args.clone();
                async move {
                    let code = REAUTHENTICATE
                        .run::<i64>(&self.redis(), vec![self.keys.record_hex(&hex)], args)
                        .await?;
                    Ok((code, Vec::new()))
                }
            })
            .await?;
        Ok(matches!(written, Some((1, _))))
    }

    async fn rotate(&self, id: Uuid, old: &TokenHash, new: &TokenHash) -> Result<bool, StoreError> {
        tasks::to_completion(self.clone().rotate_session(id, *old, *new)).await
    }

    async fn delete(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        let check = Check::Owner(user_id.to_owned());
        let deleted = self
            .clone()
            .delete_session(id.hyphenated().to_string(), check);
        Ok(tasks::to_completion(deleted).await?.is_deleted())
    }

    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        self.delete_all_of(user_id, keep).await
    }

    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let ids: Vec<String> = self
            .redis()
            .zrange(self.keys.user(user_id), 0, -1, None, false, None, false)
            .await?;
        let found = tasks::all(ids.into_iter().map(|id| {
            let this = self.clone();
            let user = user_id.to_owned();
            async move { this.current(id, user).await }
        }))
        .await?;
        let mut list: Vec<SessionRecord> = found.into_iter().flatten().collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(list)
    }

    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        self.delete_expired_sessions(now, batch).await
    }
}

impl RedisStore {
    /// Keeps the pointer of `id` and the index of `user` until the record of a session touched
    /// past its absolute limit may go.
    async fn outlive(
        &self,
        id: &str,
        user: Option<String>,
        expires: i64,
    ) -> Result<(), StoreError> {
        let deadline = self.record_deadline(expires);
        let redis = self.redis();
        let pointer =
            redis.pexpire_at::<i64, _>(self.keys.pointer(id), deadline, Some(ExpireOptions::GT));
        let index = async {
            let Some(user) = &user else { return Ok(0) };
            let args = vec![id.into(), deadline.into()];
            USER_EXTEND
                .run::<i64>(&redis, self.keys.user_index(user), args)
                .await
        };
        let (pointer, index) = tokio::join!(pointer, index);
        pointer?;
        index?;
        Ok(())
    }
}
