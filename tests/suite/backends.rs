//! Test support: a fresh, migrated store per test, for every backend.
//!
//! SQLite runs on a private in-memory database. PostgreSQL and MySQL/MariaDB need a server: set
//! `SESSIONWARD_TEST_POSTGRES_URL` / `SESSIONWARD_TEST_MYSQL_URL` to a URL whose user may create
//! databases; every call creates its own `sessionward_t_<random hex>` database, so tests running
//! in parallel (some of which delete expired rows) never see each other's sessions. Without the
//! variable (or the cargo feature) those tests print `SKIP` and pass, unless
//! `SESSIONWARD_REQUIRE_DATABASES=1`, which makes a missing database a failure (CI).
//!
//! Redis works the same way with `SESSIONWARD_TEST_REDIS_URL` (a single Redis, e.g.
//! `redis://127.0.0.1:6379`) and `SESSIONWARD_TEST_REDIS_CLUSTER_URL` (a cluster, e.g.
//! `redis-cluster://127.0.0.1:7001?node=127.0.0.1:7002&node=127.0.0.1:7003`, which
//! `.ci/redis-cluster` starts) and `--features redis`: every store gets its own random key prefix
//! (`sessionward-test:<unix seconds>:<random hex>`) instead of its own database. Keys that earlier
//! runs left (the HTTP tests' sessions expire in 2030) are swept once per run, when older than an
//! hour.

#![allow(dead_code)]

use std::sync::Arc;

use sessionward::jwt::RevocationStore;
use sessionward::{MemoryStore, SessionStore, SqliteStore};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};

/// Every store the crate ships.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Sqlite,
    Postgres,
    MySql,
    /// One Redis server.
    Redis,
    /// A Redis Cluster (three masters in CI).
    RedisCluster,
}

impl Backend {
    /// All backends, for tests that loop.
    pub const ALL: [Backend; 6] = [
        Backend::Memory,
        Backend::Sqlite,
        Backend::Postgres,
        Backend::MySql,
        Backend::Redis,
        Backend::RedisCluster,
    ];

    /// The environment variable holding the server URL, for server backends.
    fn url_var(self) -> Option<&'static str> {
        match self {
            Backend::Memory | Backend::Sqlite => None,
            Backend::Postgres => Some("SESSIONWARD_TEST_POSTGRES_URL"),
            Backend::MySql => Some("SESSIONWARD_TEST_MYSQL_URL"),
            Backend::Redis => Some("SESSIONWARD_TEST_REDIS_URL"),
            Backend::RedisCluster => Some("SESSIONWARD_TEST_REDIS_CLUSTER_URL"),
        }
    }

    /// Whether this is one of the Redis backends.
    pub fn is_redis(self) -> bool {
        matches!(self, Backend::Redis | Backend::RedisCluster)
    }
}

/// A fresh store, plus a raw handle on its database for inspecting what was written.
pub struct TestStore {
    pub store: Arc<dyn SessionStore>,
    /// The same database as a JWT revocation list.
    pub revocations: Arc<dyn RevocationStore>,
    raw: Raw,
}

impl TestStore {
    fn new<S: SessionStore + RevocationStore + Clone>(store: S, raw: Raw) -> Self {
        Self {
            store: Arc::new(store.clone()),
            revocations: Arc::new(store),
            raw,
        }
    }
}

enum Raw {
    Memory,
    Sqlite(SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    #[cfg(feature = "redis")]
    Redis(sessionward::RedisStore),
}

impl TestStore {
    /// The PostgreSQL pool of a PostgreSQL store (for what only SQL can do to it).
    #[cfg(feature = "postgres")]
    pub fn postgres_pool(&self) -> Option<&sqlx::PgPool> {
        match &self.raw {
            Raw::Postgres(pool) => Some(pool),
            _ => None,
        }
    }

    /// The MySQL pool of a MySQL store (for what only SQL can do to it).
    #[cfg(feature = "mysql")]
    pub fn mysql_pool(&self) -> Option<&sqlx::MySqlPool> {
        match &self.raw {
            Raw::MySql(pool) => Some(pool),
            _ => None,
        }
    }

    /// Every column of every row of `sessionward_sessions` (ordered by id), each as the bytes of
    /// its text form, or its raw bytes for binary columns; NULL is empty. Empty for `Memory`.
    pub async fn dump_rows(&self) -> Vec<Vec<Vec<u8>>> {
        fn columns<R: sqlx::Row>(row: &R) -> Vec<Vec<u8>>
        where
            usize: sqlx::ColumnIndex<R>,
            for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database>,
        {
            (0..row.len())
                .map(|i| {
                    row.try_get_unchecked::<Option<Vec<u8>>, _>(i)
                        .expect("column readable as bytes")
                        .unwrap_or_default()
                })
                .collect()
        }
        match &self.raw {
            Raw::Memory => Vec::new(),
            // SQLite hands out the text form of INTEGER columns when asked for bytes.
            Raw::Sqlite(pool) => sqlx::query("SELECT * FROM sessionward_sessions ORDER BY id")
                .fetch_all(pool)
                .await
                .expect("dump sqlite rows")
                .iter()
                .map(columns)
                .collect(),
            #[cfg(feature = "postgres")]
            Raw::Postgres(pool) => sqlx::query(
                "SELECT id::text, token_hash, user_id, data::text, version::text, \
                 created_at::text, refreshed_at::text, expires_at::text, \
                 absolute_expires_at::text, user_agent, ip, authenticated_at::text, \
                 persistent::text \
                 FROM sessionward_sessions ORDER BY id",
            )
            .fetch_all(pool)
            .await
            .expect("dump postgres rows")
            .iter()
            .map(columns)
            .collect(),
            #[cfg(feature = "mysql")]
            Raw::MySql(pool) => sqlx::query(
                "SELECT id, token_hash, user_id, data, CAST(version AS CHAR), \
                 CAST(created_at AS CHAR), CAST(refreshed_at AS CHAR), CAST(expires_at AS CHAR), \
                 CAST(absolute_expires_at AS CHAR), user_agent, ip, \
                 CAST(authenticated_at AS CHAR), CAST(persistent AS CHAR) \
                 FROM sessionward_sessions ORDER BY id",
            )
            .fetch_all(pool)
            .await
            .expect("dump mysql rows")
            .iter()
            .map(columns)
            .collect(),
            #[cfg(feature = "redis")]
            Raw::Redis(store) => redis::dump(store).await,
        }
    }

    /// Overwrites every stored row with values the database accepts but no session can be
    /// decoded from (an 8-byte token hash, or an id that is not a UUID). Returns `false` for
    /// `Memory`, which cannot hold a malformed row.
    pub async fn corrupt_all_rows(&self) -> bool {
        match &self.raw {
            Raw::Memory => false,
            Raw::Sqlite(pool) => {
                sqlx::query(
                    "UPDATE sessionward_sessions SET token_hash = substr(token_hash, 1, 8)",
                )
                .execute(pool)
                .await
                .expect("corrupt sqlite rows");
                true
            }
            #[cfg(feature = "postgres")]
            Raw::Postgres(pool) => {
                sqlx::query(
                    "UPDATE sessionward_sessions SET token_hash = substring(token_hash FROM 1 FOR 8)",
                )
                    .execute(pool)
                    .await
                    .expect("corrupt postgres rows");
                true
            }
            #[cfg(feature = "mysql")]
            Raw::MySql(pool) => {
                // BINARY(32) pads short values, so break the id instead.
                sqlx::query("UPDATE sessionward_sessions SET id = CONCAT('bad-', LEFT(id, 8))")
                    .execute(pool)
                    .await
                    .expect("corrupt mysql rows");
                true
            }
            #[cfg(feature = "redis")]
            Raw::Redis(store) => redis::corrupt(store).await,
        }
    }
}

impl TestStore {
    /// Makes every stored session look written before `authenticated_at` existed (SQL: the
    /// column NULL; Redis: the field gone). `false` for the memory store.
    pub async fn forget_authentication_times(&self) -> bool {
        let sql = "UPDATE sessionward_sessions SET authenticated_at = NULL";
        match &self.raw {
            Raw::Memory => false,
            Raw::Sqlite(pool) => {
                sqlx::query(sql).execute(pool).await.expect("sqlite");
                true
            }
            #[cfg(feature = "postgres")]
            Raw::Postgres(pool) => {
                sqlx::query(sql).execute(pool).await.expect("postgres");
                true
            }
            #[cfg(feature = "mysql")]
            Raw::MySql(pool) => {
                sqlx::query(sql).execute(pool).await.expect("mysql");
                true
            }
            #[cfg(feature = "redis")]
            Raw::Redis(store) => {
                use fred::interfaces::HashesInterface as _;
                let client = store.client();
                for key in redis::keys(client, &format!("{}:s:*", store.prefix())).await {
                    let _: i64 = client.hdel(key.as_str(), "t").await.expect("HDEL");
                }
                true
            }
        }
    }

    /// Sends `notices` on the store's change feed the way an outsider can: PostgreSQL `NOTIFY`
    /// from a role with no privilege on any table, a row inserted into MySQL's
    /// `sessionward_changes`, Redis `PUBLISH` on the channel. `false` for stores without a feed.
    pub async fn forge_notices(&self, notices: &[String]) -> bool {
        match &self.raw {
            Raw::Memory | Raw::Sqlite(_) => false,
            #[cfg(feature = "postgres")]
            Raw::Postgres(pool) => {
                use sqlx::Connection as _;
                sqlx::query(
                    "DO $$ BEGIN \
                     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sessionward_forger') \
                     THEN CREATE ROLE sessionward_forger LOGIN; END IF; END $$",
                )
                .execute(pool)
                .await
                .expect("create the unprivileged role");
                let options = (*pool.connect_options())
                    .clone()
                    .username("sessionward_forger");
                let mut forger = sqlx::PgConnection::connect_with(&options)
                    .await
                    .expect("connect as the unprivileged role");
                for notice in notices {
                    sqlx::query("SELECT pg_notify('sessionward_changes', $1)")
                        .bind(notice)
                        .execute(&mut forger)
                        .await
                        .expect("NOTIFY as the unprivileged role");
                }
                true
            }
            #[cfg(feature = "mysql")]
            Raw::MySql(pool) => {
                for notice in notices {
                    sqlx::query("INSERT INTO sessionward_changes (notice) VALUES (?)")
                        .bind(notice)
                        .execute(pool)
                        .await
                        .expect("insert a notice row");
                }
                true
            }
            #[cfg(feature = "redis")]
            Raw::Redis(store) => {
                use sessionward::fred::prelude::PubsubInterface as _;
                let channel = format!("{}:changes", store.prefix());
                for notice in notices {
                    let _: i64 = store
                        .client()
                        .publish(channel.as_str(), notice.as_str())
                        .await
                        .expect("PUBLISH");
                }
                true
            }
        }
    }
}

/// A fresh, migrated store of `backend`, or `None` (after printing `SKIP`) when its database is
/// not configured.
pub async fn fresh_store(backend: Backend) -> Option<TestStore> {
    match backend {
        Backend::Memory => Some(TestStore::new(MemoryStore::new(), Raw::Memory)),
        Backend::Sqlite => {
            let pool = sqlite_memory_pool().await;
            let store = SqliteStore::new(pool.clone());
            store.migrate().await.expect("migrate sqlite");
            Some(TestStore::new(store, Raw::Sqlite(pool)))
        }
        Backend::Postgres => postgres_store().await,
        Backend::MySql => mysql_store().await,
        Backend::Redis | Backend::RedisCluster => redis_store(backend).await,
    }
}

/// A private in-memory SQLite database. One connection, never recycled: the database lives
/// exactly as long as the pool.
pub async fn sqlite_memory_pool() -> SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect("sqlite::memory:")
        .await
        .expect("open in-memory sqlite")
}

/// The URL of a freshly created, empty database on the `backend` server (PostgreSQL or MySQL),
/// or `None` (after printing `SKIP`) when that server is not configured.
///
/// # Panics
///
/// For `Memory` and `Sqlite`, which have no server.
pub async fn fresh_database(backend: Backend) -> Option<String> {
    assert!(
        matches!(backend, Backend::Postgres | Backend::MySql),
        "fresh_database is for PostgreSQL and MySQL"
    );
    let base = server_url(backend)?;
    let name = format!("sessionward_t_{}", uuid::Uuid::new_v4().simple());
    create_database(backend, &base, &name).await;
    Some(with_database(&base, &name))
}

/// The URL of the `backend` server from its environment variable, or `None` (after printing
/// `SKIP`) when it is not set or the cargo feature is off; a panic instead when
/// `SESSIONWARD_REQUIRE_DATABASES=1`.
///
/// # Panics
///
/// For `Memory` and `Sqlite`, which have no server.
pub fn server_url(backend: Backend) -> Option<String> {
    let var = backend.url_var().expect("a backend with a server");
    match std::env::var(var) {
        Ok(url) if !url.is_empty() && feature_enabled(backend) => Some(url),
        _ => {
            if std::env::var("SESSIONWARD_REQUIRE_DATABASES").as_deref() == Ok("1") {
                panic!(
                    "SESSIONWARD_REQUIRE_DATABASES=1 but {backend:?} tests cannot run: set {var} \
                     and build with --features {}",
                    feature_name(backend)
                );
            }
            eprintln!(
                "SKIP: {backend:?} tests need {var} (and --features {})",
                feature_name(backend)
            );
            None
        }
    }
}

fn feature_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres",
        Backend::MySql => "mysql",
        Backend::Redis | Backend::RedisCluster => "redis",
        Backend::Memory | Backend::Sqlite => "sqlite",
    }
}

fn feature_enabled(backend: Backend) -> bool {
    match backend {
        Backend::Postgres => cfg!(feature = "postgres"),
        Backend::MySql => cfg!(feature = "mysql"),
        Backend::Redis | Backend::RedisCluster => cfg!(feature = "redis"),
        Backend::Memory | Backend::Sqlite => true,
    }
}

/// `base` with its database path replaced by `database` (query parameters kept).
fn with_database(base: &str, database: &str) -> String {
    let (scheme, rest) = base.split_once("://").unwrap_or(("", base));
    let (location, query) = match rest.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (rest, None),
    };
    let authority = location.split('/').next().unwrap_or(location);
    let mut url = format!("{scheme}://{authority}/{database}");
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[allow(unused_variables)]
async fn create_database(backend: Backend, base: &str, name: &str) {
    // `name` is generated hex, safe to splice into the statement.
    match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(base)
                .await
                .expect("connect to SESSIONWARD_TEST_POSTGRES_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create postgres test database");
            let _ = conn.close().await;
        }
        #[cfg(feature = "mysql")]
        Backend::MySql => {
            use sqlx::Connection as _;
            let mut conn = sqlx::MySqlConnection::connect(base)
                .await
                .expect("connect to SESSIONWARD_TEST_MYSQL_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {name} CHARACTER SET utf8mb4"
            )))
            .execute(&mut conn)
            .await
            .expect("create mysql test database");
            let _ = conn.close().await;
        }
        _ => unreachable!("no server for {backend:?}"),
    }
}

#[cfg(feature = "postgres")]
async fn postgres_store() -> Option<TestStore> {
    let url = fresh_database(Backend::Postgres).await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .connect(&url)
        .await
        .expect("connect to the postgres test database");
    let store = sessionward::PostgresStore::new(pool.clone());
    store.migrate().await.expect("migrate postgres");
    Some(TestStore::new(store, Raw::Postgres(pool)))
}

#[cfg(not(feature = "postgres"))]
async fn postgres_store() -> Option<TestStore> {
    // Without the feature this prints SKIP (or panics when databases are required).
    let _ = fresh_database(Backend::Postgres).await;
    None
}

#[cfg(feature = "mysql")]
async fn mysql_store() -> Option<TestStore> {
    let url = fresh_database(Backend::MySql).await?;
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(5)
        .connect(&url)
        .await
        .expect("connect to the mysql test database");
    let store = sessionward::MySqlStore::new(pool.clone());
    store.migrate().await.expect("migrate mysql");
    Some(TestStore::new(store, Raw::MySql(pool)))
}

#[cfg(not(feature = "mysql"))]
async fn mysql_store() -> Option<TestStore> {
    // Without the feature this prints SKIP (or panics when databases are required).
    let _ = fresh_database(Backend::MySql).await;
    None
}

#[cfg(feature = "redis")]
async fn redis_store(backend: Backend) -> Option<TestStore> {
    let store = redis::fresh(backend).await?;
    Some(TestStore::new(store.clone(), Raw::Redis(store)))
}

#[cfg(not(feature = "redis"))]
async fn redis_store(backend: Backend) -> Option<TestStore> {
    // Without the feature this prints SKIP (or panics when databases are required).
    let _ = server_url(backend);
    None
}

/// The Redis side of the test stores: a fresh prefix per store, what is stored under it, and
/// the sweep of what earlier runs left.
#[cfg(feature = "redis")]
pub mod redis {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};

    use sessionward::RedisStore;
    use sessionward::fred::prelude::*;
    use sessionward::fred::types::{ClusterHash, CustomCommand};

    use super::{Backend, server_url};

    /// Where every test prefix starts.
    const TEST_PREFIX: &str = "sessionward-test";
    /// Test keys older than this are swept.
    const SWEEP_AFTER_SECS: u64 = 3_600;

    /// A store on the `backend` server under a prefix of its own, or `None` (after `SKIP`) when
    /// the server is not configured.
    pub async fn fresh(backend: Backend) -> Option<RedisStore> {
        let url = server_url(backend)?;
        let store = RedisStore::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connect to {backend:?} at {url}: {e:?}"));
        sweep_once(backend, store.client()).await;
        let prefix = format!(
            "{TEST_PREFIX}:{}:{}",
            unix_secs(),
            uuid::Uuid::new_v4().simple()
        );
        Some(store.key_prefix(prefix))
    }

    fn unix_secs() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
    }

    /// A store on `store`'s server and prefix `P`, signed in as the Redis user `name` (made
    /// anew on every node) that may read every key but write only `P:<pattern>` for each of
    /// `writable` (ACL glob patterns): how a test makes one step of a sequence fail, on a real
    /// server. The user is left in place, reset by the next call with the same name.
    pub async fn writing_only(
        backend: Backend,
        store: &RedisStore,
        name: &str,
        writable: &[String],
    ) -> RedisStore {
        let password = uuid::Uuid::new_v4().simple().to_string();
        let prefix = store.prefix();
        let mut rules = vec![
            "reset".to_owned(),
            "on".to_owned(),
            format!(">{password}"),
            "+@all".to_owned(),
            "allchannels".to_owned(),
            "%R~*".to_owned(),
        ];
        rules.extend(
            writable
                .iter()
                .map(|pattern| format!("~{prefix}:{pattern}")),
        );
        let mut command: Vec<Value> = vec!["SETUSER".into(), name.into()];
        command.extend(rules.into_iter().map(Value::from));
        let acl = || CustomCommand::new_static("ACL", ClusterHash::Random, false);
        let client = store.client();
        match client
            .cached_cluster_state()
            .map(|s| s.unique_primary_nodes())
        {
            Some(nodes) => {
                for node in nodes {
                    let on_node = client.with_options(&Options {
                        cluster_node: Some(node),
                        ..Options::default()
                    });
                    let _: Value = on_node.custom(acl(), command.clone()).await.expect("ACL");
                }
            }
            None => {
                let _: Value = client.custom(acl(), command).await.expect("ACL");
            }
        }
        let url = server_url(backend).expect("the store's server is configured");
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let url = format!("{scheme}://{name}:{password}@{rest}");
        RedisStore::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connect as {name}: {e:?}"))
            .key_prefix(prefix)
    }

    /// Every key matching `pattern`, from every primary of a cluster (or the one server).
    pub async fn keys(client: &Client, pattern: &str) -> Vec<String> {
        let nodes = client
            .cached_cluster_state()
            .map(|state| state.unique_primary_nodes());
        let mut keys = Vec::new();
        match nodes {
            Some(nodes) => {
                for node in nodes {
                    let on_node = client.with_options(&Options {
                        cluster_node: Some(node),
                        ..Options::default()
                    });
                    keys.extend(scan(&on_node, pattern).await);
                }
            }
            None => keys.extend(scan(client, pattern).await),
        }
        keys.sort();
        keys.dedup();
        keys
    }

    async fn scan(client: &(impl KeysInterface + Sync), pattern: &str) -> Vec<String> {
        let mut cursor = "0".to_owned();
        let mut keys = Vec::new();
        loop {
            let page: Value = client
                .scan_page(cursor.clone(), pattern, Some(1_000), None)
                .await
                .expect("SCAN");
            let mut page = page.into_array();
            assert_eq!(page.len(), 2, "SCAN answers a cursor and keys");
            let found = page.pop().expect("keys").into_array();
            cursor = page.pop().and_then(Value::into_string).expect("cursor");
            keys.extend(found.into_iter().filter_map(Value::into_string));
            if cursor == "0" {
                return keys;
            }
        }
    }

    /// Deletes, once per test binary and server, the test keys of runs older than an hour.
    async fn sweep_once(backend: Backend, client: &Client) {
        static SWEPT: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
        let flag = &SWEPT[usize::from(backend == Backend::RedisCluster)];
        if flag.swap(true, Ordering::SeqCst) {
            return;
        }
        let now = unix_secs();
        let stale: Vec<String> = keys(client, &format!("{TEST_PREFIX}:*"))
            .await
            .into_iter()
            .filter(|key| {
                key.split(':')
                    .nth(1)
                    .and_then(|secs| secs.parse::<u64>().ok())
                    .is_some_and(|secs| secs + SWEEP_AFTER_SECS < now)
            })
            .collect();
        for key in stale {
            let _: i64 = client.unlink(key.as_str()).await.expect("UNLINK");
        }
    }

    /// One row per session record under the store's prefix, ordered by id, in the column order
    /// of the SQL stores: id, token hash (the raw 32 bytes of the key's hex), user id, data,
    /// version, created, refreshed, expires, absolute expiry (microseconds), user agent, ip
    /// (empty when absent), authenticated at; each as the bytes Redis holds.
    ///
    /// Every other key must be one of the store's own, holding nothing but ids, hex token
    /// hashes and revocation entries: checked here, so that a test looking for a raw token in
    /// the rows covers all of storage.
    pub async fn dump(store: &RedisStore) -> Vec<Vec<Vec<u8>>> {
        let client = store.client();
        let prefix = store.prefix();
        let mut rows = Vec::new();
        for key in keys(client, &format!("{prefix}:*")).await {
            let kind = key[prefix.len() + 1..].split(':').next().unwrap_or("");
            match kind {
                "s" => {
                    let fields: HashMap<String, String> =
                        client.hgetall(key.as_str()).await.expect("HGETALL");
                    if fields.is_empty() {
                        continue; // expired between SCAN and HGETALL
                    }
                    let hex = &key[prefix.len() + 3..];
                    let hash = sessionward_hex(hex).unwrap_or_else(|| panic!("key {key}"));
                    let column = |name: &str| fields.get(name).cloned().unwrap_or_default();
                    let mut row = vec![column("i").into_bytes(), hash];
                    for name in ["u", "d", "v", "c", "r", "e", "a", "ua", "ip", "t", "b"] {
                        row.push(column(name).into_bytes());
                    }
                    assert!(
                        fields.keys().all(|f| [
                            "i", "u", "d", "v", "c", "r", "e", "a", "ua", "ip", "t", "b", "m"
                        ]
                        .contains(&f.as_str())),
                        "unexpected field in {fields:?}"
                    );
                    rows.push(row);
                }
                "i" => {
                    let value: Option<String> = client.get(key.as_str()).await.expect("GET");
                    if let Some(value) = value {
                        assert!(sessionward_hex(&value).is_some(), "{key} holds {value:?}");
                    }
                }
                "x" if key.len() == prefix.len() + 2 => {
                    // The list of expiry buckets: hour numbers.
                    let members: Vec<String> = client
                        .zrange(key.as_str(), 0, -1, None, false, None, false)
                        .await
                        .expect("ZRANGE");
                    for member in members {
                        assert!(member.parse::<i64>().is_ok(), "{key} lists {member:?}");
                    }
                }
                "u" | "ud" | "ue" | "x" => {
                    let members: Vec<String> = client
                        .zrange(key.as_str(), 0, -1, None, false, None, false)
                        .await
                        .expect("ZRANGE");
                    for member in members {
                        assert!(
                            uuid::Uuid::parse_str(&member).is_ok(),
                            "{key} lists {member:?}"
                        );
                    }
                }
                // The JWT revocation list: ids, times, session ids and user ids.
                "rv" => {}
                _ => panic!("a key the store does not write: {key}"),
            }
        }
        rows.sort_by(|a, b| a[0].cmp(&b[0]));
        rows
    }

    /// A token hash's 32 bytes from its 64 hex digits.
    fn sessionward_hex(hex: &str) -> Option<Vec<u8>> {
        if hex.len() != 64 {
            return None;
        }
        (0..32)
            .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
            .collect()
    }

    /// Overwrites the creation time of every record with text that is no time.
    pub async fn corrupt(store: &RedisStore) -> bool {
        let client = store.client();
        for key in keys(client, &format!("{}:s:*", store.prefix())).await {
            let _: i64 = client
                .hset(key.as_str(), ("c", "not a time"))
                .await
                .expect("HSET");
        }
        true
    }
}
