//! Database sessions: an opaque random token in the cookie, its SHA-256 in a [`SessionStore`].

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::record_cache::RecordCache;
use super::unsettled::Unsettled;
use crate::cache::SessionCache;
use crate::config::{DefaultLifetimes, Lifetimes, Persistence};
use crate::credential::Presented;
use crate::error::{Error, StoreError, within};
use crate::limit::{LimitedCreate, SessionLimit};
use crate::notify::{Change, Notifier};
use crate::session::SessionInfo;
use crate::store::{SessionRecord, SessionStore};
use crate::strategy::{
    CHANGE_ATTEMPTS, LoginFailed, Lookup, NewToken, SessionStart, Started, Strategy, TokenRoom,
    ValidSession,
};
use crate::token::{SessionToken, TokenHash};

/// Database sessions live 7 days after their last extension, 30 days at most.
pub(crate) const DATABASE_DEFAULTS: DefaultLifetimes = DefaultLifetimes {
    max_age: time::Duration::days(7),
    absolute_timeout: time::Duration::days(30),
};

pub(crate) struct DatabaseStrategy<S> {
    store: S,
    lifetimes: Lifetimes,
    timeout: std::time::Duration,
    /// Recently read sessions, when [`SessionConfig::cache`](crate::SessionConfig::cache) is
    /// set. Every change this strategy makes drops or amends the copy before it returns.
    cache: Option<Arc<RecordCache>>,
    /// With a cache and a store that has a change feed: tells the other instances what this
    /// one ended or changed, and drops what they did from the cache.
    notifier: Option<Arc<Notifier>>,
    /// [`SessionConfig::max_sessions_per_user`](crate::SessionConfig::max_sessions_per_user).
    limit: Option<SessionLimit>,
}

impl<S: SessionStore> DatabaseStrategy<S> {
    pub(crate) fn new(
        store: S,
        lifetimes: Lifetimes,
        timeout: std::time::Duration,
        cache: Option<SessionCache>,
        change_notices: bool,
    ) -> Self {
        let notifier = match (&cache, change_notices) {
            (Some(_), true) => store
                .change_feed()
                .map(|feed| Arc::new(Notifier::new(feed, timeout))),
            _ => None,
        };
        Self {
            store,
            lifetimes,
            timeout,
            cache: cache.map(|settings| Arc::new(RecordCache::new(settings, timeout))),
            notifier,
            limit: None,
        }
    }

    /// Logins keep each user within `limit` (the store must enforce it: the layer checked).
    pub(crate) fn with_session_limit(mut self, limit: Option<SessionLimit>) -> Self {
        self.limit = limit;
        self
    }

    /// Inserts `record`, within the device limit when there is one. Returns the sessions ended
    /// to make room; [`Error::SessionLimitReached`] when the policy refuses instead.
    async fn insert(
        &self,
        record: &SessionRecord,
        now: OffsetDateTime,
    ) -> Result<Vec<Uuid>, Error> {
        let Some(limit) = self.limit else {
            within(self.timeout, self.store.create(record)).await?;
            return Ok(Vec::new());
        };
        let create = self.store.create_within_limit(record, limit, now);
        // Which sessions it ends is known only from its answer.
        let unsettled = self.unsettled(Change::User {
            user: record.user_id.clone(),
            keep: None,
        });
        match within(self.timeout, create).await? {
            LimitedCreate::Created { ended } => {
                for id in &ended {
                    self.forget(&Change::Session(*id));
                }
                // Armed until the other instances are told: a caller that stops waiting
                // meanwhile still has them told (the guard does it).
                for id in &ended {
                    self.announce(Change::Session(*id)).await;
                    tracing::info!(session = %id, "session revoked (device limit)");
                }
                unsettled.settled();
                Ok(ended)
            }
            LimitedCreate::Refused => {
                unsettled.settled();
                tracing::info!("login refused (device limit)");
                Err(Error::SessionLimitReached)
            }
        }
    }

    /// A guard for a write that changes what `scope` names, until its outcome is dealt with.
    fn unsettled(&self, scope: Change) -> Unsettled {
        Unsettled::new(&self.cache, &self.notifier, scope)
    }

    /// Tells the other instances about a change this one made (when they keep copies).
    async fn announce(&self, change: Change) {
        if let Some(notifier) = &self.notifier {
            notifier.publish(change).await;
        }
    }

    /// The cached session of `token`, when there is a cache and its copy is fresh and needs
    /// no decision the store must make (expiry, sliding extension).
    fn cached(&self, token: &SessionToken, now: OffsetDateTime) -> Option<Arc<ValidSession>> {
        let cache = self.cache.as_ref()?;
        if let Some(notifier) = &self.notifier {
            notifier.follow(cache);
        }
        cache.session(
            &token.hash(),
            |record| Self::valid_at(record, now) && !self.due(record, now),
            |record| Self::to_resolved(record.clone(), token.as_str().to_owned()),
        )
    }

    /// The store's row for this token hash, kept in the cache.
    async fn load(&self, hash: &TokenHash) -> Result<Option<SessionRecord>, Error> {
        let read_started = Instant::now();
        let record = within(self.timeout, self.store.load(hash)).await?;
        if let (Some(cache), Some(record)) = (&self.cache, &record) {
            cache.put(record, read_started);
        }
        Ok(record)
    }

    /// Whether the session is due for its sliding extension now.
    fn due(&self, record: &SessionRecord, now: OffsetDateTime) -> bool {
        self.lifetimes.due_to_extend(
            (
                record.refreshed_at,
                record.expires_at,
                record.absolute_expires_at,
            ),
            now,
            Persistence::from_persistent(record.persistent),
        )
    }

    /// Drops the cached copies `scope` covers (ended, or changed in a way a copy cannot follow).
    fn forget(&self, scope: &Change) {
        if let Some(cache) = &self.cache {
            cache.drop_copies(scope);
        }
    }

    /// Runs a store call that ends or changes what `scope` names: the copies it covers are
    /// dropped before and after it (a read in flight meanwhile cannot put an old one back), and
    /// when `changed` says the call did change something, the other instances are told. A call
    /// whose outcome is unknown (it failed, timed out, or its caller stopped waiting) counts as
    /// a change.
    async fn change_in_store<T>(
        &self,
        scope: Change,
        call: impl Future<Output = Result<T, StoreError>>,
        changed: impl FnOnce(&T) -> bool,
    ) -> Result<T, Error> {
        self.forget(&scope);
        let unsettled = self.unsettled(scope.clone());
        let result = within(self.timeout, call).await;
        self.forget(&scope);
        let value = result?;
        // Armed until the other instances are told: a caller that stops waiting meanwhile
        // (the write is made) still has them told, by the guard.
        if changed(&value) {
            self.announce(scope).await;
        }
        unsettled.settled();
        Ok(value)
    }

    /// Applies a change this strategy just wrote to the cached copy of session `id`.
    fn amend(&self, id: Uuid, change: impl FnOnce(&mut SessionRecord) -> bool) {
        if let Some(cache) = &self.cache {
            cache.amend(id, change);
        }
    }

    /// Applies `patch` to one session's data by compare-and-swap, reading the session again
    /// after each lost race. `false` when the patch changes nothing in it, or the session ended
    /// meanwhile; [`Error::Conflict`] after [`CHANGE_ATTEMPTS`] lost races.
    async fn patch_session(
        &self,
        mut record: SessionRecord,
        patch: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        for _ in 0..CHANGE_ATTEMPTS {
            let Some(data) = crate::merge_patch::patched(&record.data, patch)? else {
                return Ok(false);
            };
            let write = self.store.update_data(record.id, record.version, &data);
            let scope = Change::Session(record.id);
            if self
                .change_in_store(scope, write, |written| *written)
                .await?
            {
                return Ok(true);
            }
            // Changed meanwhile (or rotated, or ended): the session as it is now.
            let reread = match self.load(&record.token_hash).await? {
                Some(found) if found.id == record.id => Some(found),
                _ => within(self.timeout, self.store.list_user_sessions(&record.user_id))
                    .await?
                    .into_iter()
                    .find(|r| r.id == record.id),
            };
            match reread {
                Some(found) if Self::valid_at(&found, now) => record = found,
                _ => return Ok(false),
            }
        }
        Err(Error::Conflict)
    }

    fn valid_at(record: &SessionRecord, now: OffsetDateTime) -> bool {
        now < record.expires_at && now < record.absolute_expires_at
    }

    fn to_resolved(mut record: SessionRecord, token: String) -> ValidSession {
        let data = std::mem::take(&mut record.data);
        let version = record.version;
        ValidSession {
            info: info(record, true),
            data,
            version,
            data_at: 0,
            token,
        }
    }

    /// Extends `session` to the normal window from `now`, if that moves its expiry.
    async fn extend(
        &self,
        session: &ValidSession,
        now: OffsetDateTime,
    ) -> Result<Option<(ValidSession, NewToken)>, Error> {
        let persistence = Persistence::from_persistent(session.info.persistent);
        let expires_at = self
            .lifetimes
            .expiry(now, session.info.absolute_expires_at, persistence);
        if !within(
            self.timeout,
            self.store.touch(session.info.id, now, expires_at),
        )
        .await?
        {
            self.forget(&Change::Session(session.info.id));
            return Ok(None);
        }
        // Extensions only move forward: a later one may have been applied first.
        self.amend(session.info.id, |r| {
            r.refreshed_at = r.refreshed_at.max(now);
            r.expires_at = r.expires_at.max(expires_at);
            true
        });
        let mut extended = session.clone();
        extended.info.refreshed_at = now;
        extended.info.expires_at = expires_at;
        let issued = NewToken {
            token: session.token.clone(),
            expires_at,
            persistence,
        };
        Ok(Some((extended, issued)))
    }

    /// The new session of a login, under a token of its own.
    async fn insert_new(&self, start: SessionStart, now: OffsetDateTime) -> Result<Started, Error> {
        let absolute_expires_at = self.lifetimes.absolute_expiry(now);
        let persistence = start.persistence;
        let mut record = SessionRecord {
            id: Uuid::new_v4(),
            token_hash: SessionToken::generate().hash(),
            user_id: start.user_id,
            data: start.data,
            version: 0,
            created_at: now,
            authenticated_at: now,
            refreshed_at: now,
            expires_at: self.lifetimes.expiry(now, absolute_expires_at, persistence),
            absolute_expires_at,
            user_agent: start.client.user_agent,
            ip: start.client.ip,
            persistent: persistence.is_persistent(),
        };
        // A collision of 256-bit tokens or v4 ids does not happen; if a store reports one, draw
        // again rather than overwrite anything.
        for _ in 0..3 {
            let token = SessionToken::generate();
            record.id = Uuid::new_v4();
            record.token_hash = token.hash();
            // Before the row exists: a change that ends it before it is kept (a concurrent
            // revoke-all, a notice) keeps it out of the cache.
            let written_from = Instant::now();
            match self.insert(&record, now).await {
                Ok(ended) => {
                    tracing::info!(session = %record.id, "session created");
                    if let Some(cache) = &self.cache {
                        cache.put(&record, written_from);
                    }
                    let issued = NewToken {
                        token: token.as_str().to_owned(),
                        expires_at: record.expires_at,
                        persistence,
                    };
                    let session = Self::to_resolved(record, issued.token.clone());
                    return Ok(Started {
                        session,
                        issued,
                        ended,
                    });
                }
                Err(Error::Store(e)) if matches!(*e, StoreError::Duplicate) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Duplicate.into())
    }
}

/// The public facts of `record`, moved out of it (a load's strings are not copied again).
fn info(record: SessionRecord, current: bool) -> SessionInfo {
    SessionInfo {
        id: record.id,
        user_id: record.user_id,
        created_at: record.created_at,
        authenticated_at: record.authenticated_at,
        refreshed_at: record.refreshed_at,
        expires_at: record.expires_at,
        absolute_expires_at: record.absolute_expires_at,
        user_agent: record.user_agent,
        ip: record.ip,
        persistent: record.persistent,
        current,
    }
}

#[async_trait]
impl<S: SessionStore> Strategy for DatabaseStrategy<S> {
    /// A session the cache answers for: at hand, no store round-trip. A miss is left to
    /// [`resolve`](Strategy::resolve), which then reads the store without asking the cache
    /// again.
    fn resolve_at_once(
        &self,
        presented: &Presented,
        now: OffsetDateTime,
    ) -> Option<Result<Lookup, Error>> {
        self.cache.as_ref()?;
        let Some(token) = SessionToken::parse(&presented.token) else {
            return Some(Ok(Lookup::Invalid("malformed token")));
        };
        let cached = self.cached(&token, now);
        crate::instrument::cache_lookup(cached.is_some());
        Some(Ok(Lookup::Valid {
            session: cached?,
            reissue: None,
        }))
    }

    async fn resolve(&self, presented: &Presented, now: OffsetDateTime) -> Result<Lookup, Error> {
        let Some(token) = SessionToken::parse(&presented.token) else {
            return Ok(Lookup::Invalid("malformed token"));
        };
        let Some(record) = self.load(&token.hash()).await? else {
            return Ok(Lookup::Invalid("unknown token"));
        };
        if !Self::valid_at(&record, now) {
            return Ok(Lookup::Invalid("expired"));
        }
        let due = self.due(&record, now);
        let session = Self::to_resolved(record, token.as_str().to_owned());
        if !due {
            return Ok(Lookup::Valid {
                session: Arc::new(session),
                reissue: None,
            });
        }
        Ok(match self.extend(&session, now).await? {
            Some((session, issued)) => {
                tracing::debug!(session = %session.info.id, "session refreshed");
                Lookup::Valid {
                    session: Arc::new(session),
                    reissue: Some(issued),
                }
            }
            None => Lookup::Invalid("revoked while refreshing"),
        })
    }

    async fn login(
        &self,
        start: SessionStart,
        replacing: Option<&ValidSession>,
        now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<Started, LoginFailed> {
        // Refused before anything changes, the session it replaces included.
        crate::store::refuse_unportable(Some(&start.user_id), &start.data)?;
        // Ended first, so that it does not count against the user's session limit: from here
        // on, a failure leaves the request with no session.
        if let Some(old) = replacing {
            self.logout(old).await?;
        }
        let replaced_ended = replacing.is_some();
        self.insert_new(start, now)
            .await
            .map_err(|error| LoginFailed {
                error,
                replaced_ended,
            })
    }

    async fn logout(&self, session: &ValidSession) -> Result<(), Error> {
        let id = session.info.id;
        let delete = self.store.delete(&session.info.user_id, id);
        self.change_in_store(Change::Session(id), delete, |deleted| *deleted)
            .await?;
        tracing::info!(session = %session.info.id, "session revoked (logout)");
        Ok(())
    }

    async fn rotate(
        &self,
        session: &ValidSession,
        _now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<(ValidSession, NewToken), Error> {
        let old = SessionToken::parse(&session.token).ok_or(Error::Unauthenticated)?;
        let new = SessionToken::generate();
        let (old_hash, new_hash) = (old.hash(), new.hash());
        let rotate = self.store.rotate(session.info.id, &old_hash, &new_hash);
        let scope = Change::Session(session.info.id);
        if !self
            .change_in_store(scope, rotate, |rotated| *rotated)
            .await?
        {
            return Err(Error::Unauthenticated);
        }
        tracing::info!(session = %session.info.id, "session token rotated");
        let mut rotated = session.clone();
        rotated.token = new.as_str().to_owned();
        let issued = NewToken {
            token: rotated.token.clone(),
            expires_at: rotated.info.expires_at,
            persistence: Persistence::from_persistent(rotated.info.persistent),
        };
        Ok((rotated, issued))
    }

    async fn update(
        &self,
        session: &ValidSession,
        data: String,
        _now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<(ValidSession, Option<NewToken>), Error> {
        crate::store::refuse_unportable(None, &data)?;
        let unsettled = self.unsettled(Change::Session(session.info.id));
        let written = within(
            self.timeout,
            self.store
                .update_data(session.info.id, session.version, &data),
        )
        .await?;
        if written {
            // Only onto the copy this update was made from: two updates of one process can
            // finish in either order, and the later version must not be overwritten.
            self.amend(session.info.id, |r| {
                let from_this_copy = r.version == session.version;
                if from_this_copy {
                    r.data.clone_from(&data);
                    r.version += 1;
                }
                from_this_copy
            });
            self.announce(Change::Session(session.info.id)).await;
            unsettled.settled();
            let mut updated = session.clone();
            updated.data = data;
            updated.version += 1;
            return Ok((updated, None));
        }
        // Nothing written: either someone else changed the data, or the session is gone. The
        // cached copy is stale either way.
        self.forget(&Change::Session(session.info.id));
        unsettled.settled();
        let token = SessionToken::parse(&session.token).ok_or(Error::Unauthenticated)?;
        match self.load(&token.hash()).await? {
            Some(record) if record.id == session.info.id => Err(Error::Conflict),
            _ => Err(Error::Unauthenticated),
        }
    }

    async fn reauthenticate(
        &self,
        session: &ValidSession,
        now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<(ValidSession, Option<NewToken>), Error> {
        let id = session.info.id;
        let reauthenticate = self.store.reauthenticate(id, now);
        let unsettled = self.unsettled(Change::Session(id));
        let written = within(self.timeout, reauthenticate).await?;
        if !written {
            self.forget(&Change::Session(id));
            unsettled.settled();
            return Err(Error::Unauthenticated);
        }
        // Only forward: a later re-authentication may have been applied first.
        self.amend(id, |r| {
            r.authenticated_at = r.authenticated_at.max(now);
            true
        });
        self.announce(Change::Session(id)).await;
        unsettled.settled();
        tracing::info!(session = %id, "session re-authenticated");
        let mut fresh = session.clone();
        fresh.info.authenticated_at = now;
        Ok((fresh, None))
    }

    async fn reload(
        &self,
        session: &ValidSession,
        now: OffsetDateTime,
    ) -> Result<Option<ValidSession>, Error> {
        let Some(token) = SessionToken::parse(&session.token) else {
            return Ok(None);
        };
        Ok(self
            .load(&token.hash())
            .await?
            .filter(|r| r.id == session.info.id && Self::valid_at(r, now))
            .map(|r| Self::to_resolved(r, session.token.clone())))
    }

    async fn refresh(
        &self,
        session: &ValidSession,
        now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<(ValidSession, NewToken), Error> {
        let refreshed = self
            .extend(session, now)
            .await?
            .ok_or(Error::Unauthenticated)?;
        tracing::debug!(session = %session.info.id, "session refreshed on request");
        Ok(refreshed)
    }

    async fn list(
        &self,
        current: &ValidSession,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, Error> {
        let user_id = &current.info.user_id;
        let records = within(self.timeout, self.store.list_user_sessions(user_id)).await?;
        Ok(records
            .into_iter()
            .filter(|r| Self::valid_at(r, now))
            .map(|r| {
                let is_current = r.id == current.info.id;
                info(r, is_current)
            })
            .collect())
    }

    async fn revoke(&self, current: &ValidSession, id: Uuid) -> Result<bool, Error> {
        let delete = self.store.delete(&current.info.user_id, id);
        let deleted = self
            .change_in_store(Change::Session(id), delete, |deleted| *deleted)
            .await?;
        if deleted {
            tracing::info!(session = %id, "session revoked");
        }
        Ok(deleted)
    }

    async fn revoke_others(
        &self,
        current: &ValidSession,
        _now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<(u64, Option<(ValidSession, NewToken)>), Error> {
        let keep = current.info.id;
        let user_id = &current.info.user_id;
        let scope = Change::User {
            user: user_id.clone(),
            keep: Some(keep),
        };
        let delete = self.store.delete_user_sessions(user_id, Some(keep));
        let n = self.change_in_store(scope, delete, |n| *n > 0).await?;
        tracing::info!(count = n, kept = %keep, "other sessions of the user revoked");
        Ok((n, None))
    }

    /// Each live session of the user in turn, compare-and-swap on its version: a change that
    /// lands between the read and the write (the session's own `modify`, another admin) makes
    /// this one read again and re-apply the patch, so neither is lost. The cached copies are
    /// dropped here and, through the change notices, on the other instances.
    async fn update_user_sessions(
        &self,
        user_id: &str,
        patch: &serde_json::Value,
        now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<Vec<Uuid>, Error> {
        // The patch, not each session's data: data a store already holds it can hold again.
        crate::store::refuse_unportable(None, &patch.to_string())?;
        let records = within(self.timeout, self.store.list_user_sessions(user_id)).await?;
        let mut changed = Vec::new();
        for record in records.into_iter().filter(|r| Self::valid_at(r, now)) {
            let id = record.id;
            if self.patch_session(record, patch, now).await? {
                changed.push(id);
            }
        }
        tracing::info!(
            count = changed.len(),
            "data of every session of a user changed"
        );
        Ok(changed)
    }

    async fn revoke_all(&self, user_id: &str, _now: OffsetDateTime) -> Result<u64, Error> {
        let scope = Change::User {
            user: user_id.to_owned(),
            keep: None,
        };
        let delete = self.store.delete_user_sessions(user_id, None);
        let n = self.change_in_store(scope, delete, |n| *n > 0).await?;
        tracing::info!(count = n, "all sessions of a user revoked");
        Ok(n)
    }
}
