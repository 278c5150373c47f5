//! `create_within_limit`: a new session within its user's device limit.
//!
//! The count is made where a user's sessions are listed: the user's index, one cluster slot.
//! One script counts the listed sessions, takes out of the index those that must end (or
//! refuses) and lists the new session, atomically, so concurrent logins of one user never list
//! more than the limit. The records live in other slots, so the steps around it are a sequence:
//!
//! 1. Read the user's sessions (`list_user_sessions`), to tell the script which listed ones
//!    have expired (not counted) and which live ones were used least recently (ended first).
//!    A session listed meanwhile, which this read missed, is counted, and ended (oldest
//!    sign-in first) only after those.
//! 2. Claim the new session (pointer and record, as `create` does), in no index yet.
//! 3. The script (`user_limit.lua`), beside the expiry index entry. Refused: the claim is
//!    removed again. A concurrent login that ends this session from here on finds its record
//!    and deletes it: the record exists before the session is counted.
//! 4. Delete each ended session (record, pointer, expiry entry): from here on it is no
//!    session; it was already out of the index, so no other login counts it.
//!
//! Steps 1 to 4 run to completion even when the caller stops waiting (see `tasks`).

use fred::types::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::RedisStore;
use super::keys::micros;
use super::scripts::USER_LIMIT;
use super::sessions::{reply, text};
use super::tasks;
use crate::error::StoreError;
use crate::limit::{LimitedCreate, SessionLimit, SessionLimitPolicy};
use crate::store::{SessionRecord, SessionStore, live_sessions};

impl RedisStore {
    /// See the module docs.
    pub(super) async fn create_within_limit_now(
        &self,
        record: &SessionRecord,
        limit: SessionLimit,
        now: OffsetDateTime,
    ) -> Result<LimitedCreate, StoreError> {
        tasks::to_completion(self.clone().create_limited(record.clone(), limit, now)).await
    }

    async fn create_limited(
        self,
        record: SessionRecord,
        limit: SessionLimit,
        now: OffsetDateTime,
    ) -> Result<LimitedCreate, StoreError> {
        let user = record.user_id.clone();
        let id = record.id.hyphenated().to_string();
        // 1. What this instance sees of the user's sessions.
        let listed = self.list_user_sessions(&user).await?;
        let mut live = live_sessions(&listed, now);
        live.sort_by_key(|h| (h.refreshed_at, h.created_at, h.id));
        let expired: Vec<String> = listed
            .iter()
            .filter(|r| !live.iter().any(|h| h.id == r.id))
            .map(|r| r.id.hyphenated().to_string())
            .collect();
        // 2. The new session, in no index yet.
        self.claim(&record).await?;
        // 3. Count, make room (or refuse), and list it, in one step.
        let refuse = limit.policy == SessionLimitPolicy::RefuseNewLogin;
        let deadline = self.pointer_deadline(
            micros(record.expires_at),
            micros(record.absolute_expires_at),
        );
        let mut args: Vec<Value> = vec![
            i64::from(limit.max_sessions.max(1)).into(),
            i64::from(refuse).into(),
            id.as_str().into(),
            micros(record.created_at).into(),
            deadline.into(),
            (expired.len() as i64).into(),
        ];
        args.extend(expired.into_iter().map(Value::from));
        args.extend(
            live.iter()
                .map(|h| Value::from(h.id.hyphenated().to_string())),
        );
        let keys = vec![self.keys.user(&user), self.keys.user_deadlines(&user)];
        let listing = async {
            let answer = USER_LIMIT.run::<Value>(&self.redis(), keys, args).await?;
            Ok::<_, StoreError>(reply(answer))
        };
        let (code, values) = self.index_claimed(&record, listing).await?;
        if code == 0 {
            self.unclaim(&record).await;
            return Ok(LimitedCreate::Refused);
        }
        // 4. The ended sessions stop working.
        let ended: Vec<Uuid> = (0..values.len())
            .filter_map(|i| text(&values, i))
            .filter_map(|id| Uuid::parse_str(&id).ok())
            .collect();
        for ended_id in &ended {
            self.delete(&user, *ended_id).await?;
        }
        Ok(LimitedCreate::Created { ended })
    }
}
