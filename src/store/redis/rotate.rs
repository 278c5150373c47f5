//! `rotate`: moving a session's record from its old token hash to a new one, across slots.
//!
//! The four steps, and what each way out leaves behind (the [module docs](super) say why no
//! interleaving with `touch`, `update_data`, `delete` or another rotation goes wrong):
//!
//! 1. **Mark** the old record with the new hash (a script: only if it is this session's and
//!    unmarked) and read it; at the same time check that the new key is free. Not this
//!    session's, or already marked by another rotation: `false`, nothing written. New key
//!    taken: unmark, [`StoreError::Duplicate`].
//! 2. **Copy** it to the new key (a script: only if that key is free). Taken after all: unmark,
//!    `Duplicate`.
//! 3. **Repoint** the id from the old hash to the new (a script: only if it still names the
//!    old). It names nothing: a delete got there first; remove the copy, `false`.
//! 4. **Delete** the old record (a script: only if it still carries this rotation's mark). It is
//!    gone: a delete got there first, and the session must stay deleted; remove the copy and
//!    the pointer to it, `false`. Otherwise `true`.
//!
//! A Redis error between the steps undoes what it can (unmark, remove the copy); when the
//! outcome of a step is unknown the session is left marked, which ends it (see the module docs).

use fred::interfaces::KeysInterface as _;
use fred::types::Value;
use uuid::Uuid;

use super::RedisStore;
use super::keys;
use super::record::MOVING;
use super::scripts::{CREATE, DEL_IF_FIELD, FREEZE, REPOINT, UNFREEZE};
use crate::error::StoreError;
use crate::token::TokenHash;

impl RedisStore {
    /// The rotation of session `id` from `old` to `new`: the four steps above.
    pub(super) async fn rotate_session(
        self,
        id: Uuid,
        old: TokenHash,
        new: TokenHash,
    ) -> Result<bool, StoreError> {
        let id = id.hyphenated().to_string();
        let (old_hex, new_hex) = (keys::hex(&old), keys::hex(&new));
        let (old_key, new_key) = (
            self.keys.record_hex(&old_hex),
            self.keys.record_hex(&new_hex),
        );
        let pointer = self.keys.pointer(&id);
        let redis = self.redis();

        // 1. Mark.
        let (taken, marked) = tokio::join!(
            redis.exists::<i64, _>(new_key.as_str()),
            FREEZE.run::<Value>(
                &redis,
                vec![old_key.clone()],
                vec![id.as_str().into(), new_hex.as_str().into()],
            ),
        );
        let Value::Array(snapshot) = marked? else {
            // Not this session's record (rotated or deleted already), or another rotation has it.
            return Ok(false);
        };
        match taken {
            Ok(0) => {}
            Ok(_) => {
                self.unmark(&old_key, &new_hex).await;
                return Err(StoreError::Duplicate);
            }
            Err(e) => {
                self.unmark(&old_key, &new_hex).await;
                return Err(e.into());
            }
        }
        let mut fields = Vec::with_capacity(snapshot.len());
        let mut expires = None;
        for pair in snapshot.chunks(2) {
            let [field, value] = pair else { break };
            let (Some(field), Some(value)) = (field.as_string(), value.as_string()) else {
                continue;
            };
            if field == MOVING {
                continue;
            }
            if field == "e" {
                expires = value.parse::<i64>().ok();
            }
            fields.push(Value::from(field));
            fields.push(Value::from(value));
        }
        let Some(expires) = expires else {
            self.unmark(&old_key, &new_hex).await;
            return Err(StoreError::Corrupt("expires_at"));
        };

        // 2. Copy.
        let mut args = vec![Value::from(self.record_deadline(expires))];
        args.extend(fields);
        match CREATE.run::<i64>(&redis, vec![new_key.clone()], args).await {
            Ok(1) => {}
            Ok(_) => {
                self.unmark(&old_key, &new_hex).await;
                return Err(StoreError::Duplicate);
            }
            Err(e) => {
                let _ = self.del_if_field(new_key, "i", &id).await;
                self.unmark(&old_key, &new_hex).await;
                return Err(e.into());
            }
        }

        // 3. Repoint.
        let repointed = REPOINT
            .run::<i64>(
                &redis,
                vec![pointer.clone()],
                vec![old_hex.as_str().into(), new_hex.as_str().into()],
            )
            .await;
        match repointed {
            Ok(1) => {}
            Ok(_) => {
                // The pointer is gone: a delete removed the session while it was marked.
                self.del_if_field(new_key, "i", &id).await?;
                return Ok(false);
            }
            Err(e) => match self.pointer(&id).await {
                Ok(Some(now)) if now == new_hex => {}
                Ok(Some(now)) if now == old_hex => {
                    let _ = self.del_if_field(new_key, "i", &id).await;
                    self.unmark(&old_key, &new_hex).await;
                    return Err(e.into());
                }
                Ok(_) => {
                    let _ = self.del_if_field(new_key, "i", &id).await;
                    return Ok(false);
                }
                Err(_) => return Err(e.into()),
            },
        }

        // 4. Delete the old record.
        let args = vec![MOVING.into(), new_hex.as_str().into()];
        match DEL_IF_FIELD.run::<i64>(&redis, vec![old_key], args).await {
            Ok(1) => Ok(true),
            Ok(_) => {
                // A delete removed the marked old record after step 3: it wins.
                let (copy, pointer) = tokio::join!(
                    self.del_if_field(new_key, "i", &id),
                    self.del_if_value(pointer, &new_hex),
                );
                copy?;
                pointer?;
                Ok(false)
            }
            Err(e) => {
                // The rotation took effect at step 3; the old record stays marked (it loads as
                // nothing, no write lands on it) until it expires.
                tracing::warn!(error = %e, session = %id, "rotation left its old record marked");
                Ok(true)
            }
        }
    }

    /// Drops this rotation's mark from the old record (best effort: if Redis fails now, the
    /// record stays marked and the session is over).
    async fn unmark(&self, old_key: &str, new_hex: &str) {
        let unmarked = UNFREEZE
            .run::<i64>(
                &self.redis(),
                vec![old_key.to_owned()],
                vec![new_hex.into()],
            )
            .await;
        if let Err(e) = unmarked {
            tracing::warn!(error = %e, "a cancelled rotation could not unmark its record");
        }
    }
}
