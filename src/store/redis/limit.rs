//! `create_within_limit`: a new session within its user's device limit.
//!
//! The count is made where a user's sessions are listed: the user's index, one cluster slot.
//! One script counts the listed sessions, marks those that must end as being ended (or
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
//! 4. Delete each session being ended (record, pointer, index entries): from then on it is no
//!    session. Until then it stays listed, so the user's list and revoke-all still find it
//!    (it still works), but no login counts it again: a session is marked once.
//!
//! If step 4 fails (or step 3's reply is lost), the sessions marked stay listed, and the
//! script hands them back to the next login within the limit, which deletes them: a session
//! marked is never left working and out of every index. A login whose step 4 failed removes
//! its own new session again (as a refused one) and fails: its caller answers 503.
//!
//! Steps 1 to 4 run to completion even when the caller stops waiting (see `tasks`), with one
//! exception: a login whose caller stopped waiting (answered 503) leaves no session. Before
//! step 3 it stops (its claim removed), so it ends nobody's session; after step 4 its new
//! session is removed again (those it ended stay ended).

use fred::types::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::RedisStore;
use super::delete::Check;
use super::keys::micros;
use super::scripts::USER_LIMIT;
use super::sessions::{reply, text};
use super::tasks::{self, Caller};
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
        let (store, record) = (self.clone(), record.clone());
        tasks::to_completion_watched(|caller| store.create_limited(record, limit, now, caller))
            .await
    }

    async fn create_limited(
        self,
        record: SessionRecord,
        limit: SessionLimit,
        now: OffsetDateTime,
        caller: Caller,
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
        // 2. The new session, in no index yet; none for a caller that stopped waiting (its
        // login answered 503), which must end nobody's session either.
        if caller.gone() {
            return Err(Caller::gone_error());
        }
        self.claim(&record).await?;
        self.unless_caller_gone(&record, &caller).await?;
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
        let keys = self.keys.user_index(&user);
        let listing = async {
            let answer = USER_LIMIT.run::<Value>(&self.redis(), keys, args).await?;
            Ok::<_, StoreError>(reply(answer))
        };
        let (code, values) = self.index_claimed(&record, listing).await?;
        // 4. The sessions being ended stop working: those this login marked, then those an
        // earlier one marked and could not delete.
        let marked: Vec<Uuid> = (0..values.len())
            .filter_map(|i| text(&values, i))
            .filter_map(|id| Uuid::parse_str(&id).ok())
            .collect();
        let ended = self.end_marked(&user, marked).await;
        if code == 0 || ended.is_err() {
            self.unclaim(&record).await;
        }
        let ended = ended?;
        if code == 0 {
            return Ok(LimitedCreate::Refused);
        }
        // Counted and made room for, but nobody waits for it any more: removed again. (The
        // sessions it ended stay ended: a session marked is always ended.)
        self.unless_caller_gone(&record, &caller).await?;
        Ok(LimitedCreate::Created { ended })
    }

    /// Deletes each of `user`'s sessions in `ids`, up to 64 at a time. Returns those this call
    /// deleted (a concurrent login or sign-out may delete one first); the first error, after
    /// every deletion has run, if any failed.
    async fn end_marked(&self, user: &str, ids: Vec<Uuid>) -> Result<Vec<Uuid>, StoreError> {
        let outcomes = tasks::all(ids.iter().map(|id| {
            let check = Check::Owner(user.to_owned());
            self.clone()
                .delete_session(id.hyphenated().to_string(), check)
        }))
        .await?;
        Ok(ids
            .into_iter()
            .zip(outcomes)
            .filter(|(_, outcome)| outcome.is_deleted())
            .map(|(id, _)| id)
            .collect())
    }
}
