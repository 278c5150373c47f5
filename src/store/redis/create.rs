//! `create`: a new session's record, id pointer and index entries.

use fred::interfaces::KeysInterface as _;
use fred::types::{Expiration, SetOptions, Value};

use super::RedisStore;
use super::keys::{self, micros};
use super::record;
use super::scripts::CREATE;
use super::tasks::Caller;
use crate::error::StoreError;
use crate::store::SessionRecord;

impl RedisStore {
    /// [`Claims`](Self::claim) the id and creates the record, then lists the session in the
    /// user index and the expiry index; if that fails, the session is removed again, so no
    /// session ever exists that revoke-all cannot find.
    ///
    /// Until this returns, only the caller knows the token and the id: no request can use,
    /// list, find in an index or delete the session before it is indexed, so nothing can see
    /// the pointer without its record in between. A caller that stopped waiting (its login
    /// answered 503) leaves no session: none is made, or the one made is removed again.
    pub(super) async fn create_session(
        self,
        record: SessionRecord,
        caller: Caller,
    ) -> Result<(), StoreError> {
        if caller.gone() {
            return Err(Caller::gone_error());
        }
        self.claim(&record).await?;
        let id = record.id.hyphenated().to_string();
        let deadline = self.pointer_deadline(
            micros(record.expires_at),
            micros(record.absolute_expires_at),
        );
        let created_at = micros(record.created_at);
        let listing = self.user_add(&record.user_id, created_at, &id, deadline);
        self.index_claimed(&record, listing).await?;
        self.unless_caller_gone(&record, &caller).await
    }

    /// `Ok` while the caller still waits for the new session `record`; otherwise removes it
    /// again: nobody was given its token, and a device limit must not count it.
    pub(super) async fn unless_caller_gone(
        &self,
        record: &SessionRecord,
        caller: &Caller,
    ) -> Result<(), StoreError> {
        if !caller.gone() {
            return Ok(());
        }
        self.unclaim(record).await;
        Err(Caller::gone_error())
    }

    /// Claims the id (`SET NX`) and creates the record (a script: only if its key is free), at
    /// once; a conflict on either undoes the other and is [`StoreError::Duplicate`]. The
    /// session is in no index yet: [`index_claimed`](Self::index_claimed) comes next.
    pub(super) async fn claim(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let id = record.id.hyphenated().to_string();
        let hex = keys::hex(&record.token_hash);
        let pointer = self.keys.pointer(&id);
        let key = self.keys.record_hex(&hex);
        let expires = micros(record.expires_at);
        let absolute = micros(record.absolute_expires_at);
        let pointer_deadline = self.pointer_deadline(expires, absolute);

        let mut args: Vec<Value> = vec![self.record_deadline(expires).into()];
        args.extend(record::fields(record).into_iter().map(Value::from));
        let redis = self.redis();
        let (claimed, created) = tokio::join!(
            redis.set::<Option<String>, _, _>(
                pointer.as_str(),
                hex.as_str(),
                Some(Expiration::PXAT(pointer_deadline)),
                Some(SetOptions::NX),
                false,
            ),
            CREATE.run::<i64>(&redis, vec![key.clone()], args),
        );
        let claimed = claimed.map(|reply| reply.is_some());
        let created = created.map(|n| n == 1);
        if !(matches!(claimed, Ok(true)) && matches!(created, Ok(true))) {
            // Undo the half that was done (best effort: if Redis fails now, what is left holds a
            // token nobody was given, and expires).
            let undo_pointer = async {
                if matches!(claimed, Ok(true)) {
                    let _ = self.del_if_value(pointer.clone(), &hex).await;
                }
            };
            let undo_record = async {
                if matches!(created, Ok(true)) {
                    let _ = self.del_if_field(key.clone(), "i", &id).await;
                }
            };
            tokio::join!(undo_pointer, undo_record);
            claimed?;
            created?;
            return Err(StoreError::Duplicate);
        }
        Ok(())
    }

    /// Lists the claimed session: `listing` (in its user's index) and the expiry index, at
    /// once. If either fails, the session is removed again, so no session ever exists that
    /// revoke-all cannot find.
    pub(super) async fn index_claimed<T>(
        &self,
        record: &SessionRecord,
        listing: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let id = record.id.hyphenated().to_string();
        let expires = micros(record.expires_at);
        let (listed, indexed) = tokio::join!(listing, self.index_expiry(&id, expires));
        match (listed, indexed) {
            (Ok(listed), Ok(())) => Ok(listed),
            (Err(e), _) | (_, Err(e)) => {
                self.unclaim(record).await;
                Err(e)
            }
        }
    }

    /// Removes a claimed session again, and its index entries (best effort: what is left
    /// holds a token nobody was given, and expires).
    pub(super) async fn unclaim(&self, record: &SessionRecord) {
        let id = record.id.hyphenated().to_string();
        let hex = keys::hex(&record.token_hash);
        let expires = micros(record.expires_at);
        let _ = tokio::join!(
            self.del_if_field(self.keys.record_hex(&hex), "i", &id),
            self.del_if_value(self.keys.pointer(&id), &hex),
            self.user_remove(&record.user_id, &id),
            self.index_remove(self.keys.expiry(keys::bucket(expires)), &id),
        );
    }
}
