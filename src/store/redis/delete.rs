//! Deleting sessions: one (`delete`), all of a user's (`delete_user_sessions`), the expired ones
//! (`delete_expired`). All three go through [`RedisStore::delete_session`].

use fred::interfaces::SortedSetsInterface as _;
use fred::types::Value;
use fred::types::sorted_sets::ZSort;
use time::OffsetDateTime;
use uuid::Uuid;

use super::RedisStore;
use super::keys::{self, micros};
use super::scripts::DELETE;
use super::sessions::{MAX_MOVES, reply, text};
use super::tasks;
use crate::error::StoreError;

/// What must hold for a session to be deleted.
#[derive(Clone, Debug)]
pub(super) enum Check {
    /// It belongs to this user.
    Owner(String),
    /// It expired at or before this time (µs).
    ExpiredAt(i64),
}

/// What [`RedisStore::delete_session`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Deleted the session.
    Deleted,
    /// The session exists and the check refused it; for [`Check::ExpiredAt`], with its
    /// `expires_at` (µs).
    Refused(Option<i64>),
    /// For [`Check::ExpiredAt`]: the session expired, but a rotation is moving it; left alone.
    Busy,
    /// No such session.
    Missing,
}

impl Outcome {
    pub(super) fn is_deleted(self) -> bool {
        self == Outcome::Deleted
    }
}

/// How many expired sessions `delete_expired` checks per request to the index.
const PAGE: u32 = 100;

impl RedisStore {
    /// Deletes session `id` if `check` holds: the record its pointer names (marked by a rotation
    /// or not), the record a mark names, then the pointer if it still names the deleted record,
    /// and its index entries. If the pointer moved meanwhile (a rotation's step 3), follows it
    /// and deletes that record too. A rotation racing this finds its old record or its pointer
    /// gone and removes its copy (see `rotate.rs`), so the session stays deleted either way.
    ///
    /// The expiry cleanup ([`Check::ExpiredAt`]) is the exception: it leaves a record that a
    /// rotation is moving alone ([`Outcome::Busy`]), so that it never ends a session that a
    /// request is rotating (and may extend on its new record); the next cleanup finds it moved.
    pub(super) async fn delete_session(
        self,
        id: String,
        check: Check,
    ) -> Result<Outcome, StoreError> {
        let (mode, value) = match &check {
            Check::Owner(user) => ("user", user.clone()),
            Check::ExpiredAt(t) => ("expired", t.to_string()),
        };
        let args: Vec<Value> = vec![id.as_str().into(), mode.into(), value.into()];
        let pointer = self.keys.pointer(&id);
        let mut deleted = false;
        let mut next = self.pointer(&id).await?;
        for _ in 0..MAX_MOVES {
            let Some(hex) = next.take() else { break };
            let done = DELETE
                .run::<Value>(
                    &self.redis(),
                    vec![self.keys.record_hex(&hex)],
                    args.clone(),
                )
                .await?;
            let (code, values) = reply(done);
            let expires = text(&values, 1).and_then(|e| e.parse::<i64>().ok());
            match code {
                1 => {
                    deleted = true;
                    let user = text(&values, 0).unwrap_or_default();
                    let moving_to = text(&values, 2);
                    let copy = async {
                        match &moving_to {
                            // A rotation was moving it: its copy goes too.
                            Some(to) => self.del_if_field(self.keys.record_hex(to), "i", &id).await,
                            None => Ok(false),
                        }
                    };
                    let expiry = async {
                        match expires {
                            Some(e) => {
                                self.index_remove(self.keys.expiry(keys::bucket(e)), &id)
                                    .await
                            }
                            None => Ok(()),
                        }
                    };
                    let (unpointed, copy, listed, expiry) = tokio::join!(
                        self.del_if_value(pointer.clone(), &hex),
                        copy,
                        self.user_remove(&user, &id),
                        expiry,
                    );
                    copy?;
                    listed?;
                    expiry?;
                    if unpointed? {
                        break;
                    }
                    // The pointer moved to a rotation's new record (or is gone): follow it.
                    next = self.pointer(&id).await?;
                }
                0 | 2 if deleted => break,
                0 => return Ok(Outcome::Refused(expires)),
                2 => return Ok(Outcome::Busy),
                _ => {
                    // No record of this session there: moved by a rotation, or gone.
                    match self.pointer(&id).await? {
                        Some(now) if now != hex => next = Some(now),
                        Some(_) => {
                            // The pointer names a record that is gone (expired): it goes too.
                            self.del_if_value(pointer.clone(), &hex).await?;
                            break;
                        }
                        None => break,
                    }
                }
            }
        }
        if deleted {
            return Ok(Outcome::Deleted);
        }
        if let Check::Owner(user) = &check {
            // If it was this user's, it is over: prune its index entry.
            self.user_remove(user, &id).await?;
        }
        Ok(Outcome::Missing)
    }

    /// `delete_user_sessions`: every session the user index lists, except `keep`, each deleted
    /// as by `delete`, up to 64 at a time.
    pub(super) async fn delete_all_of(
        &self,
        user: &str,
        keep: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        let ids: Vec<String> = self
            .redis()
            .zrange(self.keys.user(user), 0, -1, None, false, None, false)
            .await?;
        let keep = keep.map(|id| id.hyphenated().to_string());
        let outcomes = tasks::all(ids.into_iter().filter(|id| Some(id) != keep.as_ref()).map(
            |id| {
                self.clone()
                    .delete_session(id, Check::Owner(user.to_owned()))
            },
        ))
        .await?;
        Ok(outcomes.into_iter().filter(|o| o.is_deleted()).count() as u64)
    }

    /// `delete_expired`: reads the expiry index, oldest hour first, over the hours up to `now`
    /// that still have a bucket (the list of buckets names them; Redis has expired the older
    /// ones), and deletes at most `batch` sessions whose record says they expired at `now`.
    /// Index entries that turn out stale (the session is gone, or was extended) are dropped or
    /// moved on the way.
    pub(super) async fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let now = micros(now);
        let listed: Vec<String> = self
            .redis()
            .zrange(self.keys.buckets(), 0, -1, None, false, None, false)
            .await?;
        let mut buckets: Vec<i64> = listed
            .iter()
            .filter_map(|bucket| bucket.parse().ok())
            .filter(|bucket| *bucket <= keys::bucket(now))
            .collect();
        buckets.sort_unstable();
        let mut deleted: u64 = 0;
        for bucket in buckets {
            let index = self.keys.expiry(bucket);
            // Entries left in place (sessions a rotation is moving) are skipped by rank.
            let mut kept: i64 = 0;
            // Every round removes or re-scores past `now` each entry it reads, except the kept
            // ones, so this ends; the bound only guards against entries re-added at or before
            // `now` meanwhile.
            for _ in 0..1_000 {
                let want = u64::from(batch) - deleted;
                if want == 0 {
                    return Ok(deleted);
                }
                let limit = i64::try_from(want.min(u64::from(PAGE))).unwrap_or(1);
                let ids: Vec<String> = self
                    .redis()
                    .zrange(
                        index.as_str(),
                        "-inf",
                        keys::score(now),
                        Some(ZSort::ByScore),
                        false,
                        Some((kept, limit)),
                        false,
                    )
                    .await?;
                if ids.is_empty() {
                    break;
                }
                let outcomes = tasks::all(ids.iter().map(|id| {
                    self.clone()
                        .delete_session(id.clone(), Check::ExpiredAt(now))
                }))
                .await?;
                let follow_up = tasks::all(ids.into_iter().zip(outcomes).map(|(id, outcome)| {
                    let this = self.clone();
                    let index = index.clone();
                    async move {
                        match outcome {
                            Outcome::Busy => return Ok(outcome),
                            Outcome::Refused(Some(expires)) => {
                                // Extended: list it where it now expires.
                                this.index_remove(index, &id).await?;
                                this.index_expiry(&id, expires).await?;
                            }
                            _ => this.index_remove(index, &id).await?,
                        }
                        Ok(outcome)
                    }
                }))
                .await?;
                for outcome in follow_up {
                    match outcome {
                        Outcome::Deleted => deleted += 1,
                        Outcome::Busy => kept += 1,
                        _ => {}
                    }
                }
            }
        }
        Ok(deleted)
    }
}
