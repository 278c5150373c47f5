//! The storage contract for database sessions ([`SessionStore`]), and the stores that ship
//! with the crate.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::token::TokenHash;

use crate::limit::{Held, LimitedCreate, SessionLimit};

mod memory;
pub use memory::MemoryStore;
mod portable;
pub(crate) use portable::refuse_unportable;

#[cfg(feature = "metrics")]
mod timed;
#[cfg(feature = "metrics")]
pub(crate) use timed::Timed;

#[cfg(feature = "jwt")]
mod revocation;
#[cfg(feature = "jwt")]
pub use revocation::{Revocation, RevocationStore, Revoked};

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod sql;
#[cfg(feature = "mysql")]
pub use sql::MySqlStore;
#[cfg(feature = "postgres")]
pub use sql::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sql::SqliteStore;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use sql::{LoadBatching, MIGRATIONS_TABLE, SqlStore};
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
pub use redis::RedisStore;

/// One stored session: a row of the `sessionward_sessions` table. The layer makes them; a
/// store of your own, or a test of one, builds them by hand:
///
/// ```
/// use sessionward::{MemoryStore, SessionRecord, SessionStore, SessionToken};
/// use time::{Duration, OffsetDateTime};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
/// let token = SessionToken::generate(); // the client gets `token.as_str()`, the store the hash
/// let record = SessionRecord {
///     id: uuid::Uuid::new_v4(),
///     token_hash: token.hash(),
///     user_id: "alice".into(),
///     data: r#"{"role":"admin"}"#.into(),
///     version: 0,
///     created_at: now,
///     authenticated_at: now,
///     refreshed_at: now,
///     expires_at: now + Duration::days(7),
///     absolute_expires_at: now + Duration::days(30),
///     user_agent: Some("Mozilla/5.0".into()),
///     ip: Some("203.0.113.7".into()),
///     persistent: true,
/// };
/// let store = MemoryStore::new();
/// store.create(&record).await?;
/// assert_eq!(store.load(&token.hash()).await?, Some(record));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    /// Public id: safe to show in a "your sessions" list and to use in revoke URLs. Never a
    /// credential.
    pub id: Uuid,
    /// SHA-256 of the secret token (unique). The raw token is never stored.
    pub token_hash: TokenHash,
    /// The user the session belongs to (indexed, for list and revoke-all).
    pub user_id: String,
    /// The application's custom data, as JSON text.
    pub data: String,
    /// Bumped on every data change; the compare-and-swap key of
    /// [`SessionStore::update_data`].
    pub version: i64,
    /// When the session was created (login).
    pub created_at: OffsetDateTime,
    /// When the user last proved who they are for this session: the login, or the latest
    /// re-authentication ([`SessionStore::reauthenticate`]). Step-up guards
    /// ([`require_fresh`](crate::require_fresh)) compare with it.
    pub authenticated_at: OffsetDateTime,
    /// When the session's lifetime was last extended (creation, sliding refresh, refresh()).
    pub refreshed_at: OffsetDateTime,
    /// When the session expires unless extended before then.
    pub expires_at: OffsetDateTime,
    /// The hard limit: no extension ever goes past it.
    pub absolute_expires_at: OffsetDateTime,
    /// The `User-Agent` the session was created with, for session lists.
    pub user_agent: Option<String>,
    /// The client address the session was created from, for session lists.
    pub ip: Option<String>,
    /// `true` for a session signed in with "remember me" (a persistent cookie, `max_age`);
    /// `false` for a browser-session cookie and the shorter
    /// [`browser_session_lifetime`](crate::SessionConfig::browser_session_lifetime). Set at
    /// [`create`](SessionStore::create) and never changed: a store must keep it as written.
    pub persistent: bool,
}

/// The live sessions among `records` at `now`, as the device limit weighs them.
#[cfg_attr(
    not(any(
        feature = "sqlite",
        feature = "postgres",
        feature = "mysql",
        feature = "redis"
    )),
    allow(dead_code)
)]
pub(crate) fn live_sessions<'a>(
    records: impl IntoIterator<Item = &'a SessionRecord>,
    now: OffsetDateTime,
) -> Vec<Held> {
    records
        .into_iter()
        .filter(|r| r.expires_at > now && r.absolute_expires_at > now)
        .map(|r| Held {
            id: r.id,
            refreshed_at: r.refreshed_at,
            created_at: r.created_at,
        })
        .collect()
}

/// Where database sessions live. Implemented by [`MemoryStore`] and, behind their features, by
/// `SqliteStore`, `PostgresStore`, `MySqlStore` and `RedisStore`.
///
/// Implement [`SessionStore`] to keep sessions anywhere else (DynamoDB, MongoDB, ...), and prove
/// it with the same contract suite the shipped stores pass: `sessionward::testing::contract`
/// (feature `test-util`).
/// The contract every implementation must keep:
///
/// - [`create`](SessionStore::create) inserts and fails with [`StoreError::Duplicate`] on a
///   conflicting id or token hash; it never overwrites.
/// - Writes to an existing session ([`touch`](SessionStore::touch),
///   [`update_data`](SessionStore::update_data), [`rotate`](SessionStore::rotate),
///   [`reauthenticate`](SessionStore::reauthenticate)) are
///   conditional: they change nothing and return `false` when the row is gone, so a request in
///   flight never resurrects a session that a concurrent logout deleted.
/// - [`update_data`](SessionStore::update_data) is a compare-and-swap on the version number, so
///   two concurrent writers never silently lose an update.
/// - Stores never read a clock: every time comes from the caller.
/// - [`delete_expired`](SessionStore::delete_expired) deletes at most `batch` rows per call.
/// - [`create_within_limit`](SessionStore::create_within_limit) counts, ends and creates in one
///   atomic step per user: concurrent logins of one user never leave more sessions than the
///   limit. A store that cannot do that keeps the defaults ([`enforces_session_limits`]
///   `false`), and [`SessionLayer::database`](crate::SessionLayer::database) refuses, at
///   start-up, a configuration with
///   [`max_sessions_per_user`](crate::SessionConfig::max_sessions_per_user) on it: a limit is
///   never silently ignored.
///
/// [`enforces_session_limits`]: SessionStore::enforces_session_limits
///
/// The generic test suite in `tests/` runs the same checks against every store.
///
/// Handlers never call the store: they use [`Sessions`](crate::Sessions), which also keeps
/// caches and other instances informed. Call it directly for work outside a request, such as a
/// report or an admin page, through the store the layer uses (clones of a store share its
/// sessions):
///
/// ```
/// use sessionward::{MemoryStore, SessionConfig, SessionLayer, SessionStore, StoreError};
/// use sessionward::testing::SignedIn;
///
/// /// How many sessions `user_id` has, on whatever store the application runs.
/// async fn session_count(store: &dyn SessionStore, user_id: &str) -> Result<usize, StoreError> {
///     Ok(store.list_user_sessions(user_id).await?.len())
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let layer = SessionLayer::database(store.clone(), SessionConfig::default());
/// SignedIn::cookie(&layer, "alice", &serde_json::json!({})).await?; // a browser
/// SignedIn::bearer(&layer, "alice", &serde_json::json!({})).await?; // an API client
/// assert_eq!(session_count(&store, "alice").await?, 2);
/// assert_eq!(session_count(&store, "bob").await?, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Inserts a new session. Fails with [`StoreError::Duplicate`] when the id or token hash
    /// already exists, and never overwrites.
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError>;

    /// Finds the session whose token hashes to `token_hash`, expired or not (the caller
    /// decides expiry with its own clock).
    async fn load(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError>;

    /// Extends a session: sets `refreshed_at` and `expires_at` if the row still exists.
    /// Returns `false`, writing nothing, when it does not.
    async fn touch(
        &self,
        id: Uuid,
        refreshed_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Replaces the data and bumps the version, only if the row exists with
    /// `expected_version`. Returns `false`, writing nothing, otherwise.
    async fn update_data(
        &self,
        id: Uuid,
        expected_version: i64,
        data: &str,
    ) -> Result<bool, StoreError>;

    /// Sets `authenticated_at` (the user re-authenticated: step-up), only if the row still
    /// exists; nothing else changes. Returns `false`, writing nothing, when it does not.
    async fn reauthenticate(
        &self,
        id: Uuid,
        authenticated_at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Swaps the token hash (rotation), only if the row still holds `old`. Returns `false`,
    /// writing nothing, otherwise.
    async fn rotate(&self, id: Uuid, old: &TokenHash, new: &TokenHash) -> Result<bool, StoreError>;

    /// Deletes one session of `user_id`. Returns whether a row was deleted; a session of another
    /// user is never touched.
    async fn delete(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError>;

    /// Deletes every session of `user_id`, except `keep` if given. Returns how many.
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
    ) -> Result<u64, StoreError>;

    /// Every session of `user_id` (expired ones included), newest first.
    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError>;

    /// Deletes at most `batch` sessions whose `expires_at` is at or before `now`. Returns how
    /// many; call again while it returns `batch`.
    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> Result<u64, StoreError>;

    /// Whether this store implements [`create_within_limit`](Self::create_within_limit).
    /// Default `false`: the layer then refuses a
    /// [`max_sessions_per_user`](crate::SessionConfig::max_sessions_per_user) configuration at
    /// start-up. Every store of the crate enforces limits.
    fn enforces_session_limits(&self) -> bool {
        false
    }

    /// Creates `record` unless its user already holds `limit.max_sessions` live sessions
    /// (`expires_at` and `absolute_expires_at` after `now`); at the limit, as `limit.policy`
    /// says, either deletes the user's least recently used sessions (oldest `refreshed_at`, then
    /// oldest `created_at`) to make room, or writes nothing and returns
    /// [`LimitedCreate::Refused`]. Counting, deleting and creating are one atomic step for the
    /// user: any number of concurrent calls for one user never leave more than
    /// `limit.max_sessions` live sessions. Fails with [`StoreError::Duplicate`] as
    /// [`create`](Self::create) does, having deleted nothing.
    ///
    /// The default answers [`StoreError::Unsupported`]: a store that enforces limits overrides
    /// this and [`enforces_session_limits`](Self::enforces_session_limits) together.
    async fn create_within_limit(
        &self,
        record: &SessionRecord,
        limit: SessionLimit,
        now: OffsetDateTime,
    ) -> Result<LimitedCreate, StoreError> {
        let _ = (record, limit, now);
        Err(StoreError::Unsupported(
            "this session store does not enforce max_sessions_per_user",
        ))
    }

    /// The channel on which instances sharing this store tell each other about ended and
    /// changed sessions, so that their [session caches](crate::SessionCache) drop stale copies
    /// within milliseconds instead of within the cache's `ttl`. `None` (the default): copies
    /// follow the store within `ttl` only. PostgreSQL (`LISTEN`/`NOTIFY`), MySQL (a polled
    /// table) and Redis (pub/sub) provide one; see [`ChangeFeed`](crate::ChangeFeed).
    fn change_feed(&self) -> Option<std::sync::Arc<dyn crate::notify::ChangeFeed>> {
        None
    }
}

#[async_trait]
impl<S: SessionStore + ?Sized> SessionStore for std::sync::Arc<S> {
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        (**self).create(record).await
    }
    async fn load(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        (**self).load(token_hash).await
    }
    async fn touch(
        &self,
        id: Uuid,
        refreshed_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        (**self).touch(id, refreshed_at, expires_at).await
    }
    async fn update_data(
        &self,
        id: Uuid,
        expected_version: i64,
        data: &str,
    ) -> Result<bool, StoreError> {
        (**self).update_data(id, expected_version, data).await
    }
    async fn rotate(&self, id: Uuid, old: &TokenHash, new: &TokenHash) -> Result<bool, StoreError> {
        (**self).rotate(id, old, new).await
    }
    async fn reauthenticate(
        &self,
        id: Uuid,
        authenticated_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        (**self).reauthenticate(id, authenticated_at).await
    }
    async fn delete(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        (**self).delete(user_id, id).await
    }
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        (**self).delete_user_sessions(user_id, keep).await
    }
    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        (**self).list_user_sessions(user_id).await
    }
    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        (**self).delete_expired(now, batch).await
    }
    fn enforces_session_limits(&self) -> bool {
        (**self).enforces_session_limits()
    }
    async fn create_within_limit(
        &self,
        record: &SessionRecord,
        limit: SessionLimit,
        now: OffsetDateTime,
    ) -> Result<LimitedCreate, StoreError> {
        (**self).create_within_limit(record, limit, now).await
    }
    fn change_feed(&self) -> Option<std::sync::Arc<dyn crate::notify::ChangeFeed>> {
        (**self).change_feed()
    }
}
