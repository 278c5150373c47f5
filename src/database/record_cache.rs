//! The in-process copy of recently read sessions behind [`SessionCache`]: looked up by token
//! hash, dropped by session id or by user when this process changes or ends a session.
//!
//! A read that was in flight while this process changed a session must not put its older copy
//! back: every change leaves a mark (per session, or per user for revoke-all), and a copy read
//! before a mark is not kept. Marks live as long as a store read can take (the store timeout),
//! then nothing read before them can still arrive; they are bounded in number (see
//! [`ChangeMarks`]), since other instances' notices, forged ones included, make them too.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::cache::SessionCache;
use crate::change_marks::ChangeMarks;
use crate::session::ValidSession;
use crate::store::SessionRecord;
use crate::token::TokenHash;

/// Recently read sessions, each usable for `ttl` after it was read from the store.
pub(crate) struct RecordCache {
    settings: SessionCache,
    /// Keys the user marks: a user id of any length (a notice may name one of 7 KiB) is kept
    /// as a 64-bit hash. Two users that share one only make a read in flight count as
    /// overtaken when it was not, never the reverse.
    user_keys: std::hash::RandomState,
    entries: Mutex<Entries>,
}

/// The most change marks kept of each kind (sessions, users).
const MAX_CHANGE_MARKS: usize = 10_000;

struct Entries {
    by_hash: HashMap<TokenHash, Cached>,
    by_id: HashMap<Uuid, TokenHash>,
    by_user: HashMap<String, HashSet<Uuid>>,
    /// Insertion order, for eviction. May name entries already dropped or replaced (those are
    /// skipped); compacted when it grows past twice the capacity.
    order: VecDeque<(TokenHash, Instant)>,
    /// When a session was last changed or ended (by this process, or as a notice said).
    changed: ChangeMarks<Uuid, ()>,
    /// When a user's sessions were last ended, and the one kept (keyed by the user id's hash).
    changed_users: ChangeMarks<u64, Option<Uuid>>,
    /// When every copy was last dropped at once (a notice said anything may have changed).
    cleared_at: Option<Instant>,
}

struct Cached {
    record: SessionRecord,
    read_at: Instant,
    /// The session this copy resolves to, built on the copy's first hit and shared by the
    /// hits after it (no copy of its text per request); dropped when the copy is amended.
    resolved: Option<Arc<ValidSession>>,
}

impl RecordCache {
    pub(crate) fn new(settings: SessionCache, store_timeout: Duration) -> Self {
        // How long a change mark must be kept: the longest a store read can take.
        let mark_lifetime = store_timeout + Duration::from_secs(1);
        Self {
            settings,
            user_keys: std::hash::RandomState::new(),
            entries: Mutex::new(Entries {
                by_hash: HashMap::new(),
                by_id: HashMap::new(),
                by_user: HashMap::new(),
                order: VecDeque::new(),
                changed: ChangeMarks::new(mark_lifetime, MAX_CHANGE_MARKS),
                changed_users: ChangeMarks::new(mark_lifetime, MAX_CHANGE_MARKS),
                cleared_at: None,
            }),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing the cache: start over.
        self.entries.lock().unwrap_or_else(|poisoned| {
            let mut entries = poisoned.into_inner();
            entries.drop_every_copy();
            entries
        })
    }

    fn user_key(&self, user_id: &str) -> u64 {
        self.user_keys.hash_one(user_id)
    }

    /// The cached copy of the session with this token hash, if it was read less than `ttl` ago.
    #[cfg(test)]
    pub(crate) fn get(&self, hash: &TokenHash) -> Option<SessionRecord> {
        let entries = self.entries();
        let cached = entries.by_hash.get(hash)?;
        (cached.read_at.elapsed() < self.settings.ttl).then(|| cached.record.clone())
    }

    /// The session of the copy with this token hash, if the copy was read less than `ttl` ago
    /// and `usable` says it may answer: `resolve` makes it on the copy's first hit, and the
    /// hits after it share that one.
    pub(crate) fn session(
        &self,
        hash: &TokenHash,
        usable: impl FnOnce(&SessionRecord) -> bool,
        resolve: impl FnOnce(&SessionRecord) -> ValidSession,
    ) -> Option<Arc<ValidSession>> {
        let mut entries = self.entries();
        let cached = entries.by_hash.get_mut(hash)?;
        if cached.read_at.elapsed() >= self.settings.ttl || !usable(&cached.record) {
            return None;
        }
        let session = (cached.resolved)
            .get_or_insert_with(|| Arc::new(resolve(&cached.record)))
            .clone();
        Some(session)
    }

    /// Keeps `record`, read from the store by a read that started at `read_started` (or just
    /// written by this process), unless this process changed the session since.
    pub(crate) fn put(&self, record: &SessionRecord, read_started: Instant) {
        // The staleness bound counts from when the read started: the row may have changed in
        // the store any time after that.
        let read_at = read_started;
        let user_key = self.user_key(&record.user_id);
        let mut entries = self.entries();
        if entries.changed_since(record, user_key, read_started) {
            return;
        }
        entries.remove_id(record.id);
        while entries.by_hash.len() >= self.settings.capacity {
            if !entries.evict_oldest() {
                break;
            }
        }
        entries.by_id.insert(record.id, record.token_hash);
        entries
            .by_user
            .entry(record.user_id.clone())
            .or_default()
            .insert(record.id);
        entries.by_hash.insert(
            record.token_hash,
            Cached {
                record: record.clone(),
                read_at,
                resolved: None,
            },
        );
        entries.order.push_back((record.token_hash, read_at));
        if entries.order.len() > 2 * self.settings.capacity {
            entries.compact_order();
        }
    }

    /// Changes the cached copy of session `id`, if there is one, keeping its read time (the
    /// staleness bound counts from the last store read). `change` returns `false` when the copy
    /// is not the one the change was made from (concurrent writers of one process finish in
    /// any order): then the copy is dropped instead, and the next request reads the store.
    pub(crate) fn amend(&self, id: Uuid, change: impl FnOnce(&mut SessionRecord) -> bool) {
        let mut entries = self.entries();
        entries.changed.mark(id, Instant::now(), ());
        let Some(hash) = entries.by_id.get(&id).copied() else {
            return;
        };
        let applied = entries.by_hash.get_mut(&hash).is_some_and(|cached| {
            cached.resolved = None;
            change(&mut cached.record)
        });
        if !applied {
            entries.remove_id(id);
        }
    }

    /// Drops the copy of session `id`.
    pub(crate) fn remove(&self, id: Uuid) {
        let mut entries = self.entries();
        entries.changed.mark(id, Instant::now(), ());
        entries.remove_id(id);
    }

    /// Drops the copies a change covers (this process's own, or another instance's), with a
    /// mark, so that a read in flight does not put an old copy back.
    pub(crate) fn drop_copies(&self, change: &crate::notify::Change) {
        use crate::notify::Change;
        match change {
            Change::Session(id) => self.remove(*id),
            Change::User { user, keep } => self.remove_user(user, *keep),
            Change::Everything => self.clear(),
            Change::Revocations | Change::Nothing => {}
        }
    }

    /// Drops every copy, and keeps none read before now.
    pub(crate) fn clear(&self) {
        self.entries().drop_every_copy();
    }

    /// Drops the copies of every session of `user_id` except `keep`.
    pub(crate) fn remove_user(&self, user_id: &str, keep: Option<Uuid>) {
        let user_key = self.user_key(user_id);
        let mut entries = self.entries();
        entries.changed_users.mark(user_key, Instant::now(), keep);
        let Some(ids) = entries.by_user.get(user_id) else {
            return;
        };
        let doomed: Vec<Uuid> = ids.iter().copied().filter(|id| Some(*id) != keep).collect();
        for id in doomed {
            entries.remove_id(id);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().by_hash.len()
    }
}

/// Other instances' notices drop copies the way this process's own changes do: with a mark, so
/// that a read in flight does not put the old copy back.
impl crate::notify::Follower for RecordCache {
    fn apply(self: std::sync::Arc<Self>, change: crate::notify::Change) {
        self.drop_copies(&change);
    }

    fn resync(self: std::sync::Arc<Self>) {
        self.clear();
    }
}

impl Entries {
    /// Whether the session was changed after a read that started at `read_started`.
    fn changed_since(&self, record: &SessionRecord, user_key: u64, read_started: Instant) -> bool {
        let session_changed = self
            .changed
            .changed_since(&record.id, read_started, |_| true);
        let user_changed = self
            .changed_users
            .changed_since(&user_key, read_started, |kept| *kept != Some(record.id));
        let cleared = self.cleared_at.is_some_and(|at| at >= read_started);
        session_changed || user_changed || cleared
    }

    /// Drops every copy, and keeps none read before now; the change marks stay.
    fn drop_every_copy(&mut self) {
        self.by_hash.clear();
        self.by_id.clear();
        self.by_user.clear();
        self.order.clear();
        self.cleared_at = Some(Instant::now());
    }

    fn remove_id(&mut self, id: Uuid) {
        let Some(hash) = self.by_id.remove(&id) else {
            return;
        };
        if let Some(cached) = self.by_hash.remove(&hash) {
            self.forget_user_session(&cached.record.user_id, id);
        }
    }

    fn forget_user_session(&mut self, user_id: &str, id: Uuid) {
        if let Some(ids) = self.by_user.get_mut(user_id) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_user.remove(user_id);
            }
        }
    }

    /// Drops the oldest live entry. `false` when there is none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((hash, inserted)) = self.order.pop_front() {
            let Entry::Occupied(cached) = self.by_hash.entry(hash) else {
                continue;
            };
            if cached.get().read_at != inserted {
                continue; // replaced since: a later position in `order` names it
            }
            let record = cached.remove().record;
            self.by_id.remove(&record.id);
            self.forget_user_session(&record.user_id, record.id);
            return true;
        }
        false
    }

    fn compact_order(&mut self) {
        let by_hash = &self.by_hash;
        self.order.retain(|(hash, inserted)| {
            by_hash
                .get(hash)
                .is_some_and(|cached| cached.read_at == *inserted)
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use time::OffsetDateTime;

    use super::*;
    use crate::token::SessionToken;

    fn record(user: &str) -> SessionRecord {
        let now = OffsetDateTime::now_utc();
        SessionRecord {
            id: Uuid::new_v4(),
            token_hash: SessionToken::generate().hash(),
            user_id: user.into(),
            data: "{}".into(),
            version: 0,
            created_at: now,
            authenticated_at: now,
            refreshed_at: now,
            expires_at: now,
            absolute_expires_at: now,
            user_agent: None,
            ip: None,
            persistent: true,
        }
    }

    fn cache(capacity: usize) -> RecordCache {
        RecordCache::new(
            SessionCache::new(Duration::from_secs(60)).capacity(capacity),
            Duration::from_secs(3),
        )
    }

    /// The session a copy resolves to, made from the copy's record as a hit would.
    fn resolved(record: &SessionRecord) -> ValidSession {
        ValidSession {
            info: crate::session::SessionInfo::of_token(
                record.id,
                record.user_id.clone(),
                record.created_at,
                record.refreshed_at,
                record.expires_at,
                record.absolute_expires_at,
            ),
            data: record.data.clone(),
            version: record.version,
            data_at: 0,
            token: "token".into(),
        }
    }

    #[test]
    fn hits_share_one_session_until_the_copy_is_amended_or_unusable() {
        let cache = cache(10);
        let r = record("u");
        cache.put(&r, Instant::now());
        let built = std::cell::Cell::new(0);
        let hit = |usable: bool| {
            cache.session(
                &r.token_hash,
                |_| usable,
                |record| {
                    built.set(built.get() + 1);
                    resolved(record)
                },
            )
        };
        let first = hit(true).expect("a fresh copy");
        let second = hit(true).expect("a fresh copy");
        assert!(
            Arc::ptr_eq(&first, &second),
            "the second hit shares the first's session"
        );
        assert_eq!(built.get(), 1);
        assert!(
            hit(false).is_none(),
            "a copy the caller cannot use answers nothing"
        );
        // A change this process made: the next hit sees it, never the shared old session.
        cache.amend(r.id, |record| {
            record.data = r#"{"n":1}"#.into();
            record.version += 1;
            true
        });
        let amended = hit(true).expect("the amended copy");
        assert_eq!(amended.data, r#"{"n":1}"#);
        assert_eq!((amended.version, built.get()), (1, 2));
        assert_eq!(
            first.data, "{}",
            "a session already handed out is not changed"
        );
        cache.remove(r.id);
        assert!(hit(true).is_none());
    }

    #[test]
    fn keeps_at_most_capacity_and_drops_the_oldest_first() {
        let cache = cache(3);
        let records: Vec<_> = (0..5).map(|_| record("u")).collect();
        for r in &records {
            cache.put(r, Instant::now());
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&records[0].token_hash).is_none());
        assert!(cache.get(&records[1].token_hash).is_none());
        assert!(cache.get(&records[4].token_hash).is_some());
        // Many re-reads of one session neither grow the cache nor evict the others early.
        for _ in 0..20 {
            cache.put(&records[4], Instant::now());
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&records[2].token_hash).is_some());
    }

    #[test]
    fn copies_expire_after_ttl() {
        let cache = RecordCache::new(
            SessionCache::new(Duration::from_millis(20)),
            Duration::from_secs(3),
        );
        let r = record("u");
        cache.put(&r, Instant::now());
        assert!(cache.get(&r.token_hash).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(cache.get(&r.token_hash).is_none());
    }

    /// The row may change in the store any time after its read started: a read that took
    /// long leaves its copy that much less time.
    #[test]
    fn the_ttl_counts_from_when_the_read_started() {
        let cache = RecordCache::new(
            SessionCache::new(Duration::from_millis(1_000)),
            Duration::from_secs(3),
        );
        let r = record("u");
        cache.put(&r, Instant::now() - Duration::from_millis(700));
        assert!(cache.get(&r.token_hash).is_some());
        std::thread::sleep(Duration::from_millis(400));
        assert!(cache.get(&r.token_hash).is_none());
    }

    #[test]
    fn drops_by_id_and_by_user_keeping_the_named_session() {
        let cache = cache(10);
        let (a1, a2, a3, b) = (record("a"), record("a"), record("a"), record("b"));
        for r in [&a1, &a2, &a3, &b] {
            cache.put(r, Instant::now());
        }
        cache.remove(a1.id);
        assert!(cache.get(&a1.token_hash).is_none());
        cache.remove_user("a", Some(a2.id));
        assert!(cache.get(&a2.token_hash).is_some());
        assert!(cache.get(&a3.token_hash).is_none());
        assert!(cache.get(&b.token_hash).is_some());
        cache.remove_user("a", None);
        assert!(cache.get(&a2.token_hash).is_none());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_rotated_session_is_cached_under_its_new_hash_only() {
        let cache = cache(10);
        let old = record("a");
        cache.put(&old, Instant::now());
        let mut rotated = old.clone();
        rotated.token_hash = SessionToken::generate().hash();
        cache.put(&rotated, Instant::now());
        assert!(cache.get(&old.token_hash).is_none());
        assert!(cache.get(&rotated.token_hash).is_some());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_read_in_flight_during_a_change_does_not_put_its_old_copy_back() {
        let cache = cache(10);
        let (a, a_kept, b) = (record("a"), record("a"), record("b"));
        let read_started = Instant::now();
        cache.remove(a.id); // logout while the read was in flight
        cache.put(&a, read_started);
        assert!(cache.get(&a.token_hash).is_none());
        // Revoke-others keeps one session: its copy may still be put, the others may not.
        let read_started = Instant::now();
        cache.remove_user("a", Some(a_kept.id));
        let mut a_other = record("a");
        a_other.user_id = "a".into();
        cache.put(&a_other, read_started);
        cache.put(&a_kept, read_started);
        cache.put(&b, read_started);
        assert!(cache.get(&a_other.token_hash).is_none());
        assert!(cache.get(&a_kept.token_hash).is_some());
        assert!(cache.get(&b.token_hash).is_some());
        // A read that starts after the change is kept.
        std::thread::sleep(Duration::from_millis(1));
        cache.put(&a, Instant::now());
        assert!(cache.get(&a.token_hash).is_some());
    }

    #[test]
    fn clear_drops_every_copy_and_keeps_no_read_that_started_before_it() {
        let cache = cache(10);
        let (a, b) = (record("a"), record("b"));
        cache.put(&a, Instant::now());
        let read_started = Instant::now();
        cache.clear();
        assert!(cache.get(&a.token_hash).is_none());
        cache.put(&b, read_started);
        assert!(cache.get(&b.token_hash).is_none());
        std::thread::sleep(Duration::from_millis(1));
        cache.put(&b, Instant::now());
        assert!(cache.get(&b.token_hash).is_some());
    }

    #[test]
    fn forged_notices_keep_the_marks_bounded_and_reads_in_flight_still_refused() {
        use crate::notify::Change;
        let cache = cache(10);
        let a = record("a");
        let read_started = Instant::now();
        cache.drop_copies(&Change::Session(a.id)); // a real logout, while a read is in flight
        // Then a flood of notices naming sessions and users that do not exist.
        for i in 0..50_000 {
            cache.drop_copies(&Change::Session(Uuid::new_v4()));
            cache.drop_copies(&Change::User {
                user: format!("{i}-{}", "x".repeat(200)),
                keep: None,
            });
        }
        {
            let entries = cache.entries();
            assert!(entries.changed.len() <= MAX_CHANGE_MARKS);
            assert!(entries.changed_users.len() <= MAX_CHANGE_MARKS);
        }
        // The logout's mark was pushed out by the flood, yet the old copy still stays out.
        cache.put(&a, read_started);
        assert!(cache.get(&a.token_hash).is_none());
        std::thread::sleep(Duration::from_millis(1));
        cache.put(&a, Instant::now());
        assert!(cache.get(&a.token_hash).is_some());
    }

    #[test]
    fn amend_changes_the_copy_in_place() {
        let cache = cache(10);
        let r = record("a");
        cache.put(&r, Instant::now());
        cache.amend(r.id, |r| {
            r.data = "{\"n\":1}".into();
            r.version = 1;
            true
        });
        let cached = cache.get(&r.token_hash).expect("cached");
        assert_eq!((cached.data.as_str(), cached.version), ("{\"n\":1}", 1));
        // A change made from another version than the copy's drops the copy.
        cache.amend(r.id, |_| false);
        assert!(cache.get(&r.token_hash).is_none());
    }
}
