//! Test support: a fresh, migrated store per test, for every backend.
//!
//! SQLite runs on a private in-memory database. PostgreSQL and MySQL/MariaDB need a server: set
//! `SESSIONWARD_TEST_POSTGRES_URL` / `SESSIONWARD_TEST_MYSQL_URL` to a URL whose user may create
//! databases; every call creates its own `sessionward_t_<random hex>` database, so tests running
//! in parallel (some of which delete expired rows) never see each other's sessions. Without the
//! variable (or the cargo feature) those tests print `SKIP` and pass, unless
//! `SESSIONWARD_REQUIRE_DATABASES=1`, which makes a missing database a failure (CI).

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
}

impl Backend {
    /// All backends, for tests that loop.
    pub const ALL: [Backend; 4] = [
        Backend::Memory,
        Backend::Sqlite,
        Backend::Postgres,
        Backend::MySql,
    ];

    /// The environment variable holding the server URL, for server backends.
    fn url_var(self) -> Option<&'static str> {
        match self {
            Backend::Memory | Backend::Sqlite => None,
            Backend::Postgres => Some("SESSIONWARD_TEST_POSTGRES_URL"),
            Backend::MySql => Some("SESSIONWARD_TEST_MYSQL_URL"),
        }
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
}

impl TestStore {
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
                 absolute_expires_at::text, user_agent, ip \
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
                 CAST(absolute_expires_at AS CHAR), user_agent, ip \
                 FROM sessionward_sessions ORDER BY id",
            )
            .fetch_all(pool)
            .await
            .expect("dump mysql rows")
            .iter()
            .map(columns)
            .collect(),
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
    let var = backend
        .url_var()
        .expect("fresh_database is for PostgreSQL and MySQL");
    let base = match std::env::var(var) {
        Ok(url) if !url.is_empty() && feature_enabled(backend) => url,
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
            return None;
        }
    };
    let name = format!("sessionward_t_{}", uuid::Uuid::new_v4().simple());
    create_database(backend, &base, &name).await;
    Some(with_database(&base, &name))
}

fn feature_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres",
        Backend::MySql => "mysql",
        Backend::Memory | Backend::Sqlite => "sqlite",
    }
}

fn feature_enabled(backend: Backend) -> bool {
    match backend {
        Backend::Postgres => cfg!(feature = "postgres"),
        Backend::MySql => cfg!(feature = "mysql"),
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
