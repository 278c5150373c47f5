//! [`RedisStore`]: sessions, and the JWT revocation list, in Redis or Redis Cluster.

use std::fmt;
use std::time::Duration;

use fred::prelude::{Builder, Client, ClientLike as _, Config, Options, ReconnectPolicy};

use crate::error::StoreError;

mod create;
mod delete;
mod feed;
mod keys;
mod limit;
mod record;
mod rotate;
mod scripts;
mod sessions;
mod tasks;

#[cfg(feature = "jwt")]
mod revocations;

/// The longest retention accepted by [`RedisStore::expired_retention`].
const MAX_RETENTION: Duration = Duration::from_secs(30 * 24 * 3_600);

/// Sessions in Redis or Redis Cluster: the [`SessionStore`](crate::SessionStore) and the JWT
/// revocation list (`RevocationStore`, with the `jwt` feature), built on the [`fred`] client.
///
/// A session loads in one round trip (the whole record lives under the hash of its token); the
/// other operations take two to four. Every key expires in Redis with its session, so no cleanup
/// job is needed. The keys are below; what each operation sends, and why concurrent logouts,
/// rotations and updates never lose an update or bring a session back, on a single Redis as on
/// a cluster, is in `docs/redis.md` in the repository.
///
/// Clones share the client.
///
/// From a URL (`redis://host:port`, or fred's cluster form
/// `redis-cluster://host:port?node=host:port&node=host:port`):
///
/// ```no_run
/// # async fn demo() -> Result<(), sessionward::StoreError> {
/// use sessionward::{RedisStore, SessionConfig, SessionLayer};
///
/// let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
/// let layer = SessionLayer::database(store, SessionConfig::default());
/// # Ok(()) }
/// ```
///
/// From a fred client of your own (any configuration; keys under your prefix):
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionward::fred::prelude::{ClientLike as _, Config, Builder};
/// use sessionward::RedisStore;
///
/// let config = Config::from_url(
///     "redis-cluster://127.0.0.1:7001?node=127.0.0.1:7002&node=127.0.0.1:7003",
/// )?;
/// let client = Builder::from_config(config).build()?;
/// client.init().await?;
/// let store = RedisStore::new(client).key_prefix("myapp:sessions");
/// # Ok(()) }
/// ```
///
/// # Key layout
///
/// Every key starts with the store's prefix `P` (default `sessionward`, see
/// [`RedisStore::key_prefix`]). No key holds a raw token: session records are found by the
/// SHA-256 of the token, in hex.
///
/// | key | type | holds | expires (Redis `PEXPIREAT`) |
/// | --- | --- | --- | --- |
/// | `P:s:<hex token hash>` | hash | the whole session record | `expires_at` + retention, moved by `touch` |
/// | `P:i:<session id>` | string | the hex hash of the session's current record | max(`expires_at`, `absolute_expires_at`) + retention |
/// | `P:u:{<user tag>}:<user id>` | sorted set | the user's session ids, scored by `created_at` | the latest of its sessions' |
/// | `P:ud:{<user tag>}:<user id>` | sorted set | the same ids, scored by when each session's keys expire (same slot: both carry the user tag as hash tag) | the latest of its sessions' |
/// | `P:ue:{<user tag>}:<user id>` | sorted set | those of the ids that a login within the device limit is ending, with the same scores (still listed until deleted; not counted again) | the latest of its sessions' |
/// | `P:x:<hour>` | sorted set | ids of sessions expiring in that hour, scored by `expires_at` | the end of the hour + retention |
/// | `P:x` | sorted set | the hours that have a `P:x:<hour>` bucket, scored by the bucket's expiry | the latest bucket's |
/// | `P:rv:{P}:ids` / `:log` / `:exp` | hash / sorted sets | the JWT revocation list (entries by id; ids by `revoked_at`; ids by `expires_at`) | the latest entry's `expires_at` + retention |
///
/// The *user tag* is the first 8 bytes of the SHA-256 of the user id, in hex: every user id,
/// including an empty one or one holding `{` or `}`, gives all three of its keys the same hash tag,
/// so they live in one cluster slot. (Before 0.1.0 was released the tag was the user id itself,
/// which split such users' keys across slots; sessions stored under that layout are not listed
/// by `list_user_sessions` or ended by `delete_user_sessions`, and expire on their own.)
///
/// The record's fields are listed in `record.rs`: id, user id, data, version, the five times as
/// microseconds since the Unix epoch (so they round-trip exactly, like the SQL stores), user
/// agent and address (`authenticated_at`, field `t`, may be absent on records written
/// before it existed: then it is `created_at`), `b` = `1` on a session signed in without
/// "remember me" (absent otherwise), and, only while a rotation moves it, the mark `m`.
///
/// # Expiry: nothing needs a cleanup job
///
/// Every key expires in Redis on its own, so a deployment that never runs
/// [`delete_expired_sessions`](crate::delete_expired_sessions) keeps no garbage: a session is
/// gone at most *retention* (default one hour, [`RedisStore::expired_retention`]) after its
/// `expires_at`. Until then an expired session still loads and lists, as a row of the SQL stores
/// does until cleanup: the layer rejects it with its own clock (stores never read a clock; Redis
/// expiring keys by its own clock is only the garbage collector). Running the cleanup anyway
/// frees expired sessions earlier: [`delete_expired`](crate::SessionStore::delete_expired) reads
/// the hourly expiry index (`P:x:<hour>`, for the hours up to `now` that `P:x` lists) and deletes
/// at most `batch` sessions per call, each only if its record still says it expired, exactly as
/// the SQL stores count them.
///
/// Two indexes outlive the sessions they list, because they list many: the list of hours, and a
/// user's index. Each forgets, whenever something is added to it, the entries whose keys Redis
/// has expired by then: those two scripts read Redis's `TIME`, since it is Redis's clock that
/// expired the keys (no session time is ever compared with Redis's clock). So, cleanup or not,
/// a user's index holds the sessions whose id pointer Redis still keeps: those not yet past
/// their absolute limit plus the retention, idle-expired ones included until then.
///
/// # Why it is correct
///
/// Which round trips each operation makes, why no interleaving of them loses an update or brings
/// a session back, and how a Redis that is down or slow is answered: `docs/redis.md` in the
/// repository. The tests in `tests/suite/redis_races.rs` run those races many times on a single
/// Redis and on a three-master cluster.
///
/// # Requirements
///
/// Redis 7.0 or later (or Valkey): the scripts use `PEXPIREAT ... NX | GT` and `ZRANGE ...
/// BYSCORE`. `maxmemory-policy noeviction` (Redis's default): every key here has a TTL, so
/// under a `volatile-*` or `allkeys-*` policy a full Redis would evict JWT revocations (a
/// revoked token accepted again) and users' session indexes (a sign-out everywhere that misses
/// sessions); with `noeviction` a full Redis refuses writes, which the layer answers with 503.
/// Redis Cluster works as it is; Sentinel and TLS work through fred's URL forms and
/// features (enable fred's `enable-rustls` feature in your own `Cargo.toml` for `rediss://`).
#[derive(Clone)]
pub struct RedisStore {
    client: Client,
    options: Options,
    keys: keys::Keys,
    /// How long expired sessions are kept, in microseconds.
    retention: i64,
}

impl RedisStore {
    /// The timeout of every command the store sends: a command on a connection that died
    /// unnoticed costs this much before it fails (`docs/redis.md` in the repository).
    pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

    /// A store on `client`, which should be connected (`client.init().await`) before the first
    /// request. Keys start with `sessionward`; see [`key_prefix`](Self::key_prefix).
    ///
    /// Every command the store sends uses fred's `fail_fast` option and a timeout of
    /// [`COMMAND_TIMEOUT`](Self::COMMAND_TIMEOUT) (what a Redis that is down costs:
    /// `docs/redis.md` in the repository); the rest of the client's configuration is yours.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            options: Options {
                fail_fast: true,
                timeout: Some(Self::COMMAND_TIMEOUT),
                ..Options::default()
            },
            keys: keys::Keys::new(keys::DEFAULT_PREFIX),
            retention: 3_600 * 1_000_000,
        }
    }

    /// Connects to `url` and waits until the connection is up (on a cluster: to every
    /// primary). Accepts every URL form of [`Config::from_url`]: `redis://[user:pass@]host:port`,
    /// `redis-cluster://host:port?node=host:port&node=host:port`, `redis-sentinel://...`, and
    /// with fred's TLS features `rediss://`.
    ///
    /// The client reconnects by itself (exponential backoff from 10 ms, doubling up to 2 s,
    /// forever), gives up on a connection attempt after 5 s, and drops a connection that has
    /// not answered for 10 s.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), sessionward::StoreError> {
    /// let store = sessionward::RedisStore::connect(
    ///     "redis-cluster://127.0.0.1:7001?node=127.0.0.1:7002&node=127.0.0.1:7003",
    /// )
    /// .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] for a malformed URL or a server that cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let config = Config::from_url(url)?;
        let mut builder = Builder::from_config(config);
        builder
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(5);
                c.internal_command_timeout = Duration::from_secs(5);
                c.unresponsive.max_timeout = Some(Duration::from_secs(10));
                c.unresponsive.interval = Duration::from_secs(2);
                c.tcp.nodelay = Some(true);
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 10, 2_000, 2));
        let client = builder.build()?;
        // Resolves once connected; the connection task it returns runs on by itself.
        let _connection = client.init().await?;
        Ok(Self::new(client))
    }

    /// The change feed of the instances sharing this Redis and prefix (pub/sub).
    pub(crate) fn change_feed(&self) -> std::sync::Arc<dyn crate::ChangeFeed> {
        std::sync::Arc::new(feed::RedisChangeFeed::new(
            self.client.clone(),
            self.options.clone(),
            self.prefix(),
        ))
    }

    /// Puts every key under `prefix` instead of `sessionward`: to share one Redis between
    /// applications, or to keep tests apart. The prefix is 1 to 64 printable ASCII characters,
    /// with no space, no brace (`{`, `}`: they would change the keys' cluster hash tags) and no
    /// `SCAN` pattern character (`*`, `?`, `[`, `]`, `\`). A `:` is fine.
    ///
    /// ```no_run
    /// # async fn demo(client: sessionward::fred::prelude::Client) {
    /// let store = sessionward::RedisStore::new(client).key_prefix("myapp:sessions");
    /// # }
    /// ```
    ///
    /// <div class="warning">Instances that share sessions must use the same prefix; changing it
    /// signs everyone out.</div>
    ///
    /// # Panics
    ///
    /// When `prefix` breaks those rules.
    pub fn key_prefix(mut self, prefix: impl AsRef<str>) -> Self {
        let prefix = prefix.as_ref();
        if let Some(problem) = keys::prefix_problem(prefix) {
            panic!("sessionward: invalid Redis key prefix {prefix:?}: {problem}");
        }
        self.keys = keys::Keys::new(prefix);
        self
    }

    /// How long an expired session (and an expired JWT revocation entry) stays in Redis after
    /// its `expires_at`, unless the cleanup deletes it first (default one hour, at most 30
    /// days). Meanwhile it still loads (the layer rejects it as expired) and still lists, like a
    /// SQL row before cleanup; it also covers clocks that differ between the application and
    /// Redis. Zero lets Redis drop a session the moment it expires by Redis's clock.
    ///
    /// ```no_run
    /// # async fn demo(client: sessionward::fred::prelude::Client) {
    /// let store = sessionward::RedisStore::new(client)
    ///     .expired_retention(std::time::Duration::from_secs(24 * 3_600));
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `retention` is longer than 30 days (expired sessions are garbage: a month of it is
    /// plenty, and keeps the expiry index small).
    pub fn expired_retention(mut self, retention: Duration) -> Self {
        assert!(
            retention <= MAX_RETENTION,
            "sessionward: Redis expired_retention is at most 30 days"
        );
        self.retention = i64::try_from(retention.as_micros()).expect("at most 30 days");
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        self.keys.prefix()
    }

    /// The fred client the store runs on.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The client with the store's per-command options (`fail_fast`, the timeout).
    fn redis(&self) -> fred::clients::WithOptions<Client> {
        self.client.with_options(&self.options)
    }
}

/// Shows the prefix and the retention; never a key or a value.
impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.prefix())
            .field(
                "expired_retention",
                &Duration::from_micros(self.retention.unsigned_abs()),
            )
            .finish_non_exhaustive()
    }
}

impl From<fred::error::Error> for StoreError {
    fn from(e: fred::error::Error) -> Self {
        StoreError::Backend(Box::new(e))
    }
}
