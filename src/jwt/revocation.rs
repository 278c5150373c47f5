//! JWT revocation: the stored list, and the in-memory copy every request checks.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Instant;

use time::OffsetDateTime;
use uuid::Uuid;

use super::SignInTime;
use super::listed_keys::{KeyHashing, ListedKey, ListedKeys, TokenKeyHashes};
use crate::clock::Clock;
use crate::error::bounded;
use crate::error::{Error, StoreError};
use crate::notify::{Change, Coalesced, Follower, Notifier};
use crate::store::{Revocation, RevocationStore, Revoked};

/// How far back each refresh looks beyond the previous one, at least, to catch entries written
/// by instances whose clocks run behind or whose transactions committed late; longer with a
/// long store timeout (see `RevocationList::overlap`).
const OVERLAP: time::Duration = time::Duration::seconds(30);
/// An entry's write starts at most this long, plus the store timeout, after its `revoked_at`
/// (see `RevocationList::latest_write`).
const WRITE_DELAY: time::Duration = time::Duration::seconds(10);
/// Expired entries are deleted from the store every this many refreshes: batch after batch
/// until one comes back short (every expired entry is gone), within the store timeout.
const CLEANUP_EVERY: u32 = 120;
const CLEANUP_BATCH: u32 = 1_000;
/// Change notices ask for a re-read at most once per this interval, however many arrive.
const RESYNC_SPACING: std::time::Duration = std::time::Duration::from_millis(50);

#[derive(Default)]
struct Entries {
    sessions: HashMap<Uuid, OffsetDateTime>,
    /// user id -> (latest revoked_at, its expiry)
    users: HashMap<String, (OffsetDateTime, OffsetDateTime)>,
    /// user id -> the user's data changes, in the order they were made.
    data_changes: HashMap<String, BTreeMap<(OffsetDateTime, Uuid), DataChange>>,
    /// Crate-clock time at which the last successful refresh started.
    since: Option<OffsetDateTime>,
    /// user id -> the expiries of the session entries this process added for the user's
    /// sessions (the entries read from the store name no user): each user's share of the list.
    ended_by_user: HashMap<String, Vec<OffsetDateTime>>,
}

/// One user-wide data change ([`Revoked::UserData`]).
struct DataChange {
    /// The merge patch; `None` when the stored text is not a JSON object, which no token can
    /// take: the tokens it covers are no session (fail closed).
    patch: Option<serde_json::Value>,
    expires_at: OffsetDateTime,
}

/// What the revocation list is asked about a verified token.
pub(crate) struct TokenFacts<'a> {
    pub(crate) sid: Uuid,
    pub(crate) user: &'a str,
    /// When its user signed in.
    pub(crate) signed_in: SignInTime,
    /// The time its data dates from.
    pub(crate) data_at: SignInTime,
    /// The hashes of its session and user in the list's filter, worked out when it was
    /// verified; `None` to work them out now.
    pub(crate) hashes: Option<&'a TokenKeyHashes>,
}

/// Where a verified token stands against the revocation list.
pub(crate) enum Standing {
    /// Neither revoked nor behind a data change: the token's own session.
    Current,
    /// Its session, or every session of its user since its sign-in, was revoked.
    Revoked,
    /// Its data predates some of its user's data changes.
    Changed(PendingChanges),
    /// A data change it must take cannot be applied (its stored patch is not a JSON object):
    /// no session (fail closed).
    UnreadableChange,
}

/// What a token whose data predates some of its user's data changes must take: the patches,
/// oldest first, and the time its data is up to date with once they are applied.
pub(crate) struct PendingChanges {
    pub(crate) patches: Vec<serde_json::Value>,
    /// One microsecond after the latest change applied.
    pub(crate) data_at: SignInTime,
}

impl Entries {
    /// Adds an entry, after marking its key in `keys`. Entries only grow: a second entry for
    /// the same session or user never shortens or moves back what is already known.
    fn insert(&mut self, r: Revocation, keys: &ListedKeys) {
        keys.add(&match &r.target {
            Revoked::Session(sid) => ListedKey::Session(*sid),
            Revoked::User(user) | Revoked::UserData { user_id: user, .. } => ListedKey::User(user),
        });
        match r.target {
            Revoked::Session(sid) => {
                let expires = self.sessions.entry(sid).or_insert(r.expires_at);
                *expires = (*expires).max(r.expires_at);
            }
            Revoked::User(user) => {
                let entry = self
                    .users
                    .entry(user)
                    .or_insert((r.revoked_at, r.expires_at));
                entry.0 = entry.0.max(r.revoked_at);
                entry.1 = entry.1.max(r.expires_at);
            }
            Revoked::UserData { user_id, patch } => {
                let patch = serde_json::from_str(&patch)
                    .ok()
                    .filter(serde_json::Value::is_object);
                let change = DataChange {
                    patch,
                    expires_at: r.expires_at,
                };
                // Keyed by time and id: the same entry read again replaces itself.
                let changes = self.data_changes.entry(user_id).or_default();
                changes.insert((r.revoked_at, r.id), change);
            }
        }
    }

    /// Where a token stands: revoked when its session is, or when a revocation of all its
    /// user's sessions was made at or after its sign-in (to the microsecond); otherwise the
    /// data changes of its user made at or after the time its data dates from, oldest first.
    fn standing(&self, token: &TokenFacts<'_>) -> Standing {
        let revoked = self.sessions.contains_key(&token.sid)
            || self
                .users
                .get(token.user)
                .is_some_and(|(at, _)| token.signed_in <= SignInTime::at(*at));
        if revoked {
            return Standing::Revoked;
        }
        // The common case, on every request: no change of anyone's data is in force.
        let Some(changes) = self.data_changes.get(token.user) else {
            return Standing::Current;
        };
        let mut pending = PendingChanges {
            patches: Vec::new(),
            data_at: token.data_at,
        };
        for ((at, _), change) in changes.iter() {
            let at = SignInTime::at(*at);
            if at < token.data_at {
                continue;
            }
            let Some(patch) = change.patch.clone() else {
                return Standing::UnreadableChange;
            };
            pending.patches.push(patch);
            pending.data_at = at.next();
        }
        if pending.patches.is_empty() {
            Standing::Current
        } else {
            Standing::Changed(pending)
        }
    }

    /// Forgets the entries expired at `now`; when it forgot any, `keys` is rebuilt from the
    /// entries that remain.
    fn forget_expired(&mut self, now: OffsetDateTime, keys: &ListedKeys) {
        self.ended_by_user.retain(|_, ends| {
            ends.retain(|expires| *expires > now);
            !ends.is_empty()
        });
        let before = self.len();
        self.sessions.retain(|_, expires| *expires > now);
        self.users.retain(|_, (_, expires)| *expires > now);
        self.data_changes.retain(|_, changes| {
            changes.retain(|_, change| change.expires_at > now);
            !changes.is_empty()
        });
        if self.len() == before {
            return;
        }
        let sessions = self.sessions.keys().map(|sid| ListedKey::Session(*sid));
        let users = (self.users.keys())
            .chain(self.data_changes.keys())
            .map(|user| ListedKey::User(user));
        keys.rebuild(sessions.chain(users));
    }

    /// Entries held: sessions, users, and each user's data changes.
    fn len(&self) -> usize {
        let changes: usize = self.data_changes.values().map(BTreeMap::len).sum();
        self.sessions.len() + self.users.len() + changes
    }
}

/// The in-memory copy of the revocation list. Requests read it without a store round-trip;
/// revocations made by this process enter it at once; a background task refreshes it from the
/// store every `interval` for revocations made by other instances. When no refresh has
/// succeeded for `max_staleness`, checks fail (503) instead of trusting an old copy.
pub(crate) struct RevocationList {
    store: Box<dyn RevocationStore>,
    entries: RwLock<Entries>,
    /// The keys `entries` may hold, read without its lock.
    keys: ListedKeys,
    /// When this list was made: the origin of `synced_at`.
    made_at: Instant,
    /// Nanoseconds from `made_at` to the start of the last successful refresh, plus one; 0
    /// before the first. An atomic, so that checking freshness takes no lock.
    synced_at: std::sync::atomic::AtomicU64,
    refresh: tokio::sync::Mutex<Runs>,
    /// Refresh attempts finished, successful or not.
    attempts: std::sync::atomic::AtomicU64,
    /// Refresh attempts started: the number of the latest.
    started: std::sync::atomic::AtomicU64,
    interval: std::time::Duration,
    max_staleness: std::time::Duration,
    timeout: std::time::Duration,
    /// How many revoked sessions the copy may hold before this process adds no more
    /// ([`JwtConfig::max_revoked_sessions`](crate::jwt::JwtConfig::max_revoked_sessions)).
    max_sessions: usize,
    /// How many of them this process adds for one user's sessions.
    max_sessions_per_user: usize,
    clock: Clock,
    task: OnceLock<()>,
    /// Announces this process's revocations to the other instances, and re-reads the store
    /// when they announce theirs, when the store has a change feed.
    notifier: Option<Notifier>,
    /// The re-reads that notices ask for: at most one waiting, at most one per
    /// [`RESYNC_SPACING`].
    resyncs: Coalesced,
}

impl RevocationList {
    pub(crate) fn new(
        store: impl RevocationStore,
        interval: std::time::Duration,
        max_staleness: std::time::Duration,
        timeout: std::time::Duration,
        (max_sessions, max_sessions_per_user): (usize, usize),
        clock: Clock,
        change_notices: bool,
    ) -> Arc<Self> {
        let notifier = change_notices
            .then(|| store.change_feed())
            .flatten()
            .map(|feed| Notifier::new(feed, timeout));
        Arc::new(Self {
            store: Box::new(store),
            entries: RwLock::new(Entries::default()),
            keys: ListedKeys::new(),
            made_at: Instant::now(),
            synced_at: std::sync::atomic::AtomicU64::new(0),
            refresh: tokio::sync::Mutex::new(Runs::default()),
            attempts: std::sync::atomic::AtomicU64::new(0),
            started: std::sync::atomic::AtomicU64::new(0),
            interval,
            max_staleness,
            timeout,
            max_sessions,
            max_sessions_per_user,
            clock,
            task: OnceLock::new(),
            notifier,
            resyncs: Coalesced::new(RESYNC_SPACING),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh(&self) -> bool {
        use std::sync::atomic::Ordering;
        match self.synced_at.load(Ordering::Acquire) {
            0 => false,
            synced => {
                let since_made = self.made_at.elapsed().as_nanos();
                since_made.saturating_sub(u128::from(synced - 1)) <= self.max_staleness.as_nanos()
            }
        }
    }

    /// Starts the background refresh and the following of change notices, once.
    fn start(self: &Arc<Self>) {
        self.task.get_or_init(|| {
            tokio::spawn(refresh_forever(Arc::downgrade(self), self.interval));
        });
        if let Some(notifier) = &self.notifier {
            notifier.follow(self);
        }
    }

    /// Makes sure the copy is fresh enough to answer, refreshing it inline when it is not (the
    /// first request, or after the store was unreachable), and starts the background refresh.
    pub(crate) async fn ready(self: &Arc<Self>) -> Result<(), Error> {
        self.start();
        if self.fresh() {
            return Ok(());
        }
        self.refresh(true).await
    }

    /// Where a verified token stands, as [`ready`](Self::ready) then
    /// [`Entries::standing`] would tell. This runs on every request: a token whose session and
    /// user the list holds no entry for is answered without its lock.
    pub(crate) async fn standing(
        self: &Arc<Self>,
        token: TokenFacts<'_>,
    ) -> Result<Standing, Error> {
        if let Some(standing) = self.standing_at_once(&token) {
            return Ok(standing);
        }
        self.refresh(true).await?;
        Ok(self.standing_in_copy(&token))
    }

    /// Where `token` stands against the store's list as it is now: the copy is read from the
    /// store first, however fresh it is. For the steps that re-issue a session signed in later
    /// (revoke-others, re-authentication): a token that escaped a revocation another instance
    /// made within the refresh interval (which its copy has not read yet) would escape it for
    /// good under a later sign-in time.
    pub(crate) async fn standing_now(
        self: &Arc<Self>,
        token: TokenFacts<'_>,
    ) -> Result<Standing, Error> {
        self.start();
        self.refresh_started_after_now().await?;
        Ok(self.standing_in_copy(&token))
    }

    /// [`standing`](Self::standing) when the copy is fresh enough to answer without waiting
    /// (nearly every request); `None` when it must be refreshed first.
    pub(crate) fn standing_at_once(self: &Arc<Self>, token: &TokenFacts<'_>) -> Option<Standing> {
        self.start();
        self.fresh().then(|| self.standing_in_copy(token))
    }

    /// How the list's filter hashes a token's keys: a verified token's hashes are worked out
    /// once with it ([`TokenFacts::hashes`]).
    pub(crate) fn key_hashing(&self) -> KeyHashing {
        self.keys.hashing()
    }

    /// Where `token` stands in the copy as it is.
    fn standing_in_copy(&self, token: &TokenFacts<'_>) -> Standing {
        if !may_be_listed(&self.keys, token) {
            return Standing::Current;
        }
        self.read().standing(token)
    }

    /// The sign-in time of a token of `user` issued `now`: `now` itself, unless a known
    /// revocation of the user's sessions was made in that very microsecond (or, from an
    /// instance whose clock runs ahead, later): then one microsecond after it, the earliest
    /// time it does not cover.
    pub(crate) fn earliest_auth_time(&self, user: &str, now: OffsetDateTime) -> SignInTime {
        let now = SignInTime::at(now);
        match self.read().users.get(user) {
            Some((at, _)) => now.max(SignInTime::at(*at).next()),
            None => now,
        }
    }

    /// The time the data of a token of `user` issued `now` with fresh data dates from (and
    /// the time of a data change made `now`): `now`, unless a known data change of the user was
    /// made in that very microsecond or later (a clock that did not move, or another
    /// instance's clock running ahead): then one microsecond after the latest, so that changes
    /// of one user made by this process are ordered and a fresh token is never covered by an
    /// older change.
    pub(crate) fn earliest_data_time(&self, user: &str, now: OffsetDateTime) -> SignInTime {
        let now = SignInTime::at(now);
        let entries = self.read();
        let latest = entries
            .data_changes
            .get(user)
            .and_then(|changes| changes.keys().next_back());
        match latest {
            Some((at, _)) => now.max(SignInTime::at(*at).next()),
            None => now,
        }
    }

    /// Stores a revocation, then applies it here at once; a session's revocation names the
    /// session's user in `user`, whose share of the list it counts against.
    /// Returns `false` when the store already held an entry with the same id: a session
    /// revocation's id is the session's `sid`, so this is how concurrent revocations of one
    /// session (two rotations racing) find out that another request got there first.
    pub(crate) async fn add(
        &self,
        revocation: Revocation,
        user: Option<&str>,
    ) -> Result<bool, Error> {
        let late = self.clock.now() - revocation.revoked_at;
        if late > self.latest_write() {
            tracing::warn!(
                late_ms = late.whole_milliseconds(),
                "revocation not written: it is dated too far back for the other instances to \
                 read it"
            );
            return Err(StoreError::Timeout(self.latest_write().unsigned_abs()).into());
        }
        let session_of = match &revocation.target {
            Revoked::Session(sid) => {
                let user = user.unwrap_or_default();
                self.make_room_for(*sid, user)?;
                Some(user)
            }
            Revoked::User(_) | Revoked::UserData { .. } => None,
        };
        let unannounced = Unannounced { list: Some(self) };
        let stored = bounded(self.timeout, self.store.add_revocation(&revocation)).await;
        let first = match stored {
            Ok(()) => true,
            Err(StoreError::Duplicate) => false,
            // Perhaps written all the same (a timeout): the guard tells the other instances
            // to read the list.
            Err(e) => return Err(e.into()),
        };
        if first {
            tracing::info!(target_kind = ?kind(&revocation.target), "session revoked (JWT)");
        }
        {
            let mut entries = self.write();
            if let (true, Some(user)) = (first, session_of) {
                let ends = entries.ended_by_user.entry(user.to_owned()).or_default();
                ends.push(revocation.expires_at);
            }
            entries.insert(revocation, &self.keys);
        }
        if let (true, Some(notifier)) = (first, &self.notifier) {
            notifier.publish(Change::Revocations).await;
        }
        unannounced.done();
        Ok(first)
    }

    /// Whether one more revoked session of `user` fits: the copy holds fewer than
    /// `max_revoked_sessions`, and this process added fewer than the user's share for the
    /// user's sessions.
    pub(crate) fn has_room_for_a_session(&self, user: &str) -> bool {
        self.room_for_a_session(&self.read(), user).is_ok()
    }

    /// `Err` with the limit reached when one more revoked session of `user` does not fit:
    /// one account looping on logins and updates fills its own share, not everyone's list.
    fn room_for_a_session(&self, entries: &Entries, user: &str) -> Result<(), usize> {
        if entries.sessions.len() >= self.max_sessions {
            return Err(self.max_sessions);
        }
        match entries.ended_by_user.get(user) {
            Some(ends) if ends.len() >= self.max_sessions_per_user => {
                Err(self.max_sessions_per_user)
            }
            _ => Ok(()),
        }
    }

    /// Whether the copy holds an entry of the session `sid` itself (not of its user).
    pub(crate) fn holds_session(&self, sid: Uuid) -> bool {
        self.read().sessions.contains_key(&sid)
    }

    /// [`StoreError::RevocationListFull`] when one more revoked session of `user` does not fit
    /// (see [`has_room_for_a_session`](Self::has_room_for_a_session)), unless the copy holds
    /// `sid` already (its entry would be written again, not added). The copy holds every
    /// instance's entries, so the list's bound holds everywhere, give or take what other
    /// instances added since the last refresh; a user's share is counted per instance.
    fn make_room_for(&self, sid: Uuid, user: &str) -> Result<(), StoreError> {
        let entries = self.read();
        if entries.sessions.contains_key(&sid) {
            return Ok(());
        }
        let Err(limit) = self.room_for_a_session(&entries, user) else {
            return Ok(());
        };
        tracing::warn!(
            limit,
            "the JWT revocation list, or this user's share of it, is full \
             (max_revoked_sessions): no session entry added"
        );
        Err(StoreError::RevocationListFull(limit))
    }

    /// The store timeout, as a time span.
    fn timeout_span(&self) -> time::Duration {
        time::Duration::try_from(self.timeout).unwrap_or(time::Duration::DAY)
    }

    /// How long after its `revoked_at` an entry's write may start: [`WRITE_DELAY`] plus the
    /// store timeout (a revoke-all dates its entry, then may wait for the list to be read).
    /// A refresh reads the entries made since its previous one, less the overlap: an entry
    /// written later than that could be dated before every other instance's window and never
    /// be read there. Past it the write is refused (503) and nothing is revoked (a slow issue
    /// callback of a revoke-others in between, say).
    fn latest_write(&self) -> time::Duration {
        WRITE_DELAY + self.timeout_span()
    }

    /// How long after an entry's date a token it covers may still be issued, with an expiry
    /// counted from then. A token is issued only after the copy was asked about it at that
    /// moment (see `JwtStrategy::reissue`), and a copy answers only while fresh: an instance
    /// misses an entry for at most its staleness limit after the entry was written, which is
    /// at most [`latest_write`](Self::latest_write) after its date, plus the overlap that
    /// allows for late commits and clocks that run apart.
    pub(crate) fn issue_horizon(&self) -> time::Duration {
        let staleness = time::Duration::try_from(self.max_staleness).unwrap_or(time::Duration::DAY);
        staleness + self.latest_write() + self.overlap()
    }

    /// How far back each refresh looks beyond the previous one: [`OVERLAP`], or more with a
    /// long store timeout, so that an entry written as late as [`latest_write`](Self::latest_write)
    /// allows, and committed up to a store timeout later, is still read.
    fn overlap(&self) -> time::Duration {
        OVERLAP.max(self.latest_write() + self.timeout_span() + time::Duration::seconds(10))
    }

    /// One refresh from the store. Refreshes are serialized. With `only_if_stale` (a request
    /// that found the copy stale), a caller that waited while another refresh ran takes that
    /// refresh's outcome instead of running a second one, so a request waits at most one store
    /// timeout.
    async fn refresh(&self, only_if_stale: bool) -> Result<(), Error> {
        use std::sync::atomic::Ordering;
        let seen = self.attempts.load(Ordering::Acquire);
        let mut runs = self.refresh.lock().await;
        if only_if_stale && self.fresh() {
            return Ok(());
        }
        if only_if_stale && self.attempts.load(Ordering::Acquire) != seen {
            return Err(StoreError::Stale(self.max_staleness).into());
        }
        self.run_refresh(&mut runs).await
    }

    /// A refresh that starts after this call, not one already under way (it may have read the
    /// store before a write the caller must see). Callers that queue meanwhile take the
    /// outcome of the first one that started after them: however many ask at once (every
    /// request that re-issued a token checks its session so), the store is read at most
    /// twice, and while it is down each waits at most about two store timeouts, not one per
    /// caller ahead of it.
    async fn refresh_started_after_now(&self) -> Result<(), Error> {
        use std::sync::atomic::Ordering;
        let arrival = self.started.load(Ordering::Acquire);
        let mut runs = self.refresh.lock().await;
        if let Some((number, outcome)) = &runs.last
            && *number > arrival
        {
            return outcome.clone();
        }
        self.run_refresh(&mut runs).await
    }

    /// One refresh from the store, under the refresh lock, its outcome kept for those queued
    /// behind it.
    async fn run_refresh(&self, runs: &mut Runs) -> Result<(), Error> {
        use std::sync::atomic::Ordering;
        let number = self.started.fetch_add(1, Ordering::AcqRel) + 1;
        let result = self.refresh_now(&mut runs.count).await;
        self.attempts.fetch_add(1, Ordering::Release);
        runs.last = Some((number, result.clone()));
        result
    }

    async fn refresh_now(&self, runs: &mut u32) -> Result<(), Error> {
        let started = Instant::now();
        let now = self.clock.now();
        let since = self
            .read()
            .since
            .map_or(OffsetDateTime::UNIX_EPOCH, |s| s - self.overlap());
        let fetched = bounded(self.timeout, self.store.revocations_since(since, now)).await?;
        {
            let mut entries = self.write();
            for r in fetched {
                entries.insert(r, &self.keys);
            }
            entries.forget_expired(now, &self.keys);
            entries.since = Some(now);
        }
        let synced = started.saturating_duration_since(self.made_at).as_nanos();
        let synced = u64::try_from(synced).unwrap_or(u64::MAX - 1) + 1;
        self.synced_at
            .store(synced, std::sync::atomic::Ordering::Release);
        *runs += 1;
        if (*runs).is_multiple_of(CLEANUP_EVERY) {
            // One batch per run could fall behind for good (1,000 per 120 refreshes, about
            // 1.7 entries a second at the default interval, against every logout, rotation and
            // update of every instance), and a new instance's first read takes every entry.
            let cleanup = async {
                loop {
                    let deleted = self
                        .store
                        .delete_expired_revocations(now, CLEANUP_BATCH)
                        .await?;
                    if deleted < u64::from(CLEANUP_BATCH) {
                        return Ok::<_, StoreError>(());
                    }
                }
            };
            if let Err(e) = bounded(self.timeout, cleanup).await {
                tracing::warn!(error = %e, "revocation cleanup failed");
            }
        }
        Ok(())
    }
}

/// What the refresh lock guards: how many refreshes succeeded (cleanup runs every
/// [`CLEANUP_EVERY`]), and the number and outcome of the last one.
#[derive(Default)]
struct Runs {
    count: u32,
    last: Option<(u64, Result<(), Error>)>,
}

/// Armed while [`RevocationList::add`] stores a revocation and announces it. Dropped armed (the
/// request that made it went away: a client that hung up, a timeout around the handler; or
/// the write failed in a way that does not say it was not made, such as a timeout), the store
/// may hold a revocation the other instances were not told of: they are told to read the list
/// (this copy reads it within its refresh interval, as it reads theirs; its freshness is left
/// alone, so a store that is down meanwhile does not fail every request here before
/// `max_staleness`).
struct Unannounced<'a> {
    list: Option<&'a RevocationList>,
}

impl Unannounced<'_> {
    /// The revocation is stored and announced, or refused as a duplicate.
    fn done(mut self) {
        self.list = None;
    }
}

impl Drop for Unannounced<'_> {
    fn drop(&mut self) {
        if let Some(notifier) = self.list.take().and_then(|list| list.notifier.as_ref()) {
            notifier.publish_detached(Change::Revocations);
        }
    }
}

/// A notice never says what is revoked: any database role may `NOTIFY` and any Redis client
/// may `PUBLISH`. A notice that the list changed (or that anything may have) makes the copy
/// re-read the store, coalesced: a flood of notices costs at most one store query per
/// [`RESYNC_SPACING`].
impl Follower for RevocationList {
    fn apply(self: Arc<Self>, change: Change) {
        match change {
            Change::Revocations | Change::Everything => self.resync(),
            Change::Session(_) | Change::User { .. } | Change::Nothing => {}
        }
    }

    fn resync(self: Arc<Self>) {
        if !self.resyncs.request() {
            return;
        }
        tokio::spawn(async move {
            self.resyncs.turn().await;
            if let Err(e) = self.refresh(false).await {
                tracing::warn!(error = %e, "revocation list refresh failed");
            }
        });
    }
}

/// Whether the list may hold an entry for the token's session or user; `false` means it
/// holds none, and the token is [`Standing::Current`].
fn may_be_listed(keys: &ListedKeys, token: &TokenFacts<'_>) -> bool {
    keys.may_hold_token(token.sid, token.user, token.hashes)
}

fn kind(target: &Revoked) -> &'static str {
    match target {
        Revoked::Session(_) => "session",
        Revoked::User(_) => "user",
        Revoked::UserData { .. } => "data change",
    }
}

/// Refreshes the list every `interval` until the layer that owns it is dropped.
async fn refresh_forever(list: Weak<RevocationList>, interval: std::time::Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(list) = list.upgrade() else { return };
        if let Err(e) = list.refresh(false).await {
            tracing::warn!(error = %e, "revocation list refresh failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn entry(target: Revoked, expires_at: OffsetDateTime) -> Revocation {
        Revocation {
            id: Uuid::new_v4(),
            target,
            revoked_at: datetime!(2026-01-01 00:00 UTC),
            expires_at,
        }
    }

    /// What a token of `sid` and `user`, signed in and with data from before every entry,
    /// finds in `entries` when the filter `keys` is asked first, as requests ask it.
    fn standing_through(keys: &ListedKeys, entries: &Entries, sid: Uuid, user: &str) -> Standing {
        let before = SignInTime::at(datetime!(2025-01-01 00:00 UTC));
        let token = TokenFacts {
            sid,
            user,
            signed_in: before,
            data_at: before,
            hashes: None,
        };
        if !may_be_listed(keys, &token) {
            return Standing::Current;
        }
        entries.standing(&token)
    }

    /// A store whose reads of the list take 50 ms, counted.
    struct SlowReads {
        inner: crate::MemoryStore,
        reads: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl RevocationStore for SlowReads {
        async fn add_revocation(&self, revocation: &Revocation) -> Result<(), StoreError> {
            self.inner.add_revocation(revocation).await
        }
        async fn revocations_since(
            &self,
            since: OffsetDateTime,
            now: OffsetDateTime,
        ) -> Result<Vec<Revocation>, StoreError> {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            self.inner.revocations_since(since, now).await
        }
        async fn delete_expired_revocations(
            &self,
            now: OffsetDateTime,
            batch: u32,
        ) -> Result<u64, StoreError> {
            self.inner.delete_expired_revocations(now, batch).await
        }
    }

    /// Many requests checking their sessions against the store's list at once (each re-issued
    /// a token) share refreshes: the store is read at most twice, not once per request in a
    /// line; and a refresh that started before a caller is never its answer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_checks_against_the_store_share_refreshes_that_started_after_them() {
        let (clock, _control) = Clock::manual(datetime!(2026-01-01 00:00 UTC));
        let minute = std::time::Duration::from_secs(60);
        let store = Arc::new(SlowReads {
            inner: crate::MemoryStore::new(),
            reads: Default::default(),
        });
        let list = RevocationList::new(
            store.clone(),
            minute,
            minute,
            minute,
            (1_000, 10),
            clock,
            false,
        );
        let checks: Vec<_> = (0..20)
            .map(|_| {
                let list = list.clone();
                tokio::spawn(async move { list.refresh_started_after_now().await })
            })
            .collect();
        for check in checks {
            check.await.unwrap().unwrap();
        }
        let reads = store.reads.load(std::sync::atomic::Ordering::SeqCst);
        assert!((1..=2).contains(&reads), "{reads} reads for 20 checks");
        // One more, alone: a read of its own, even right after the others.
        list.refresh_started_after_now().await.unwrap();
        assert_eq!(
            store.reads.load(std::sync::atomic::Ordering::SeqCst),
            reads + 1
        );
    }

    #[tokio::test]
    async fn a_cleanup_run_deletes_every_expired_entry_not_only_one_batch() {
        let store = crate::MemoryStore::new();
        let expired = datetime!(2026-01-02 00:00 UTC);
        for _ in 0..3_500 {
            let target = Revoked::Session(Uuid::new_v4());
            store.add_revocation(&entry(target, expired)).await.unwrap();
        }
        let (clock, _control) = Clock::manual(datetime!(2026-03-01 00:00 UTC));
        let hour = std::time::Duration::from_secs(3_600);
        let timeout = std::time::Duration::from_secs(5);
        let limits = (1_000, 1_000);
        let list = RevocationList::new(store.clone(), hour, hour, timeout, limits, clock, false);
        for _ in 0..CLEANUP_EVERY {
            list.refresh(false).await.unwrap();
        }
        let before_expiry = expired - time::Duration::seconds(1);
        let left = store
            .revocations_since(OffsetDateTime::UNIX_EPOCH, before_expiry)
            .await
            .unwrap();
        assert_eq!(left.len(), 0, "expired entries left in the store");
    }

    #[tokio::test]
    async fn a_full_list_refuses_one_more_session_but_not_a_repeat_or_a_user() {
        let (clock, _control) = Clock::manual(datetime!(2026-01-01 00:00 UTC));
        let minute = std::time::Duration::from_secs(60);
        let list = RevocationList::new(
            crate::MemoryStore::new(),
            minute,
            minute,
            minute,
            (2, 1),
            clock,
            false,
        );
        let later = datetime!(2026-02-01 00:00 UTC);
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let session = |sid| Revocation {
            id: sid,
            ..entry(Revoked::Session(sid), later)
        };
        assert!(list.add(session(a), Some("ann")).await.unwrap());
        assert!(list.add(session(b), Some("bob")).await.unwrap());
        assert!(!list.has_room_for_a_session("cid"));
        let refused = list.add(session(c), Some("cid")).await;
        assert!(
            matches!(&refused, Err(Error::Store(e)) if matches!(**e, StoreError::RevocationListFull(2))),
            "{refused:?}"
        );
        assert!(
            !list.add(session(a), Some("ann")).await.unwrap(),
            "a repeat is a duplicate"
        );
        let user = entry(Revoked::User("someone".into()), later);
        assert!(
            list.add(user, None).await.unwrap(),
            "a user's entry is not a session's"
        );
        let stored = list
            .store
            .revocations_since(OffsetDateTime::UNIX_EPOCH, datetime!(2026-01-02 00:00 UTC))
            .await
            .unwrap();
        assert_eq!(stored.len(), 3, "nothing of the refused one was stored");
    }

    #[test]
    fn forgetting_expired_entries_keeps_every_remaining_one_visible_through_the_filter() {
        let (soon, later) = (
            datetime!(2026-02-01 00:00 UTC),
            datetime!(2026-03-01 00:00 UTC),
        );
        let keys = ListedKeys::new();
        let mut entries = Entries::default();
        let (gone, kept) = (Uuid::new_v4(), Uuid::new_v4());
        let patch = r#"{"role":"admin"}"#.to_owned();
        for revocation in [
            entry(Revoked::Session(gone), soon),
            entry(Revoked::User("gone-user".into()), soon),
            entry(Revoked::Session(kept), later),
            entry(Revoked::User("kept-user".into()), later),
            entry(
                Revoked::UserData {
                    user_id: "changed-user".into(),
                    patch,
                },
                later,
            ),
        ] {
            entries.insert(revocation, &keys);
        }
        entries.forget_expired(datetime!(2026-02-15 00:00 UTC), &keys);
        let other = Uuid::new_v4();
        assert!(matches!(
            standing_through(&keys, &entries, kept, "someone"),
            Standing::Revoked
        ));
        assert!(matches!(
            standing_through(&keys, &entries, other, "kept-user"),
            Standing::Revoked
        ));
        assert!(matches!(
            standing_through(&keys, &entries, other, "changed-user"),
            Standing::Changed(_)
        ));
        assert!(matches!(
            standing_through(&keys, &entries, gone, "gone-user"),
            Standing::Current
        ));
        assert!(
            !keys.may_hold(&ListedKey::Session(gone))
                || !keys.may_hold(&ListedKey::User("gone-user"))
        );
    }
}
