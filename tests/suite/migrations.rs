//! The crate's migrations coexist with an application's own sqlx migrations in one database:
//! each migrator keeps its own table (`_sqlx_migrations` vs `_sessionward_migrations`), neither
//! sees the other's versions as missing, and both are idempotent, in either order.

use std::path::{Path, PathBuf};

use sessionward::MIGRATIONS_TABLE;
use sessionward::{SessionStore, SqliteStore, StoreError};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{ColumnIndex, Database, Decode, Executor, IntoArguments, Pool, Type};

use crate::backends::Backend;

/// Every migration the crate ships on SQLite and PostgreSQL, in order: sessions, revocations,
/// the sessions' `authenticated_at` and `persistent`, and the revocation list's data changes
/// (issue 17).
const STORE_VERSIONS: &[i64] = &[
    20261127000001,
    20261127000002,
    20261204000017,
    20261205000018,
    20261205000019,
];
/// On MySQL also the change-notice table (PostgreSQL has `NOTIFY`, SQLite no other instance),
/// and the revocation subject widened to any user id (its other stores' columns hold any).
const MYSQL_STORE_VERSIONS: &[i64] = &[
    20261127000001,
    20261127000002,
    20261128000003,
    20261204000017,
    20261205000018,
    20261205000019,
    20261208000020,
];

/// A temporary directory holding the application's own migrations; removed on drop.
struct AppMigrations(PathBuf);

impl AppMigrations {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "sessionward_app_migrations_{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        std::fs::write(
            dir.join("0001_create_app_users.sql"),
            "CREATE TABLE app_users (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL);\n",
        )
        .expect("write app migration");
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for AppMigrations {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the application's migrator (default table) before and after the store's, each twice,
/// then checks that both schemas exist and each migrations table holds only its own versions.
async fn check_coexistence<DB>(
    pool: &Pool<DB>,
    store: &dyn SessionStore,
    store_versions: &[i64],
    migrate_store: impl AsyncFn() -> Result<(), StoreError>,
) where
    DB: Database,
    DB::Connection: Migrate,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    i64: Type<DB> + for<'r> Decode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
    DB::Arguments: IntoArguments<DB>,
{
    assert_eq!(MIGRATIONS_TABLE, "_sessionward_migrations");
    let dir = AppMigrations::new();
    let app = Migrator::new(dir.path())
        .await
        .expect("resolve app migrations");

    app.run(pool).await.expect("app migrations, first run");
    migrate_store()
        .await
        .expect("store migrations after the app's");
    migrate_store().await.expect("store migrations, second run");
    app.run(pool)
        .await
        .expect("app migrations after the store's");
    // A migrator resolved afresh, as after an application restart.
    Migrator::new(dir.path())
        .await
        .expect("resolve app migrations again")
        .run(pool)
        .await
        .expect("app migrations, second run");

    let app_versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(pool)
            .await
            .expect("read _sqlx_migrations");
    assert_eq!(
        app_versions,
        [1],
        "the app's table holds only the app's migrations"
    );
    let expected_store_versions = store_versions;
    let store_versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sessionward_migrations ORDER BY version")
            .fetch_all(pool)
            .await
            .expect("read _sessionward_migrations");
    assert_eq!(
        store_versions, expected_store_versions,
        "the crate's table holds only the crate's migrations"
    );

    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM app_users")
        .fetch_one(pool)
        .await
        .expect("app_users exists");
    assert_eq!(users, 0);
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessionward_sessions")
        .fetch_one(pool)
        .await
        .expect("sessionward_sessions exists");
    assert_eq!(sessions, 0);
    // And the store works on the migrated schema.
    assert_eq!(store.list_user_sessions("nobody").await.expect("query"), []);
}

#[tokio::test]
async fn sqlite_migrations_coexist_with_the_applications() {
    // A file database with several connections, as an application would run it.
    let dir = AppMigrations::new();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("app.db"))
        .create_if_missing(true);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .expect("open sqlite file");
    let store = SqliteStore::new(pool.clone());
    check_coexistence(&pool, &store, STORE_VERSIONS, async || {
        store.migrate().await
    })
    .await;
    pool.close().await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_migrations_coexist_with_the_applications() {
    let Some(url) = crate::backends::fresh_database(Backend::Postgres).await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    let store = sessionward::PostgresStore::new(pool.clone());
    check_coexistence(&pool, &store, STORE_VERSIONS, async || {
        store.migrate().await
    })
    .await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_migrations_coexist_with_the_applications() {
    let Some(url) = crate::backends::fresh_database(Backend::MySql).await else {
        return;
    };
    let pool = sqlx::MySqlPool::connect(&url).await.expect("connect");
    let store = sessionward::MySqlStore::new(pool.clone());
    check_coexistence(&pool, &store, MYSQL_STORE_VERSIONS, async || {
        store.migrate().await
    })
    .await;
}

/// Several instances starting at once all migrate successfully: sqlx's migration lock
/// (advisory lock / `GET_LOCK`) serializes them.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_concurrent_migrations_all_succeed() {
    let Some(url) = crate::backends::fresh_database(Backend::Postgres).await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    let (a, b) = (
        sessionward::PostgresStore::new(pool.clone()),
        sessionward::PostgresStore::new(pool.clone()),
    );
    let (ra, rb, rc) = tokio::join!(a.migrate(), b.migrate(), a.migrate());
    ra.expect("first");
    rb.expect("second");
    rc.expect("third");
}

/// See [`postgres_concurrent_migrations_all_succeed`].
#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_concurrent_migrations_all_succeed() {
    let Some(url) = crate::backends::fresh_database(Backend::MySql).await else {
        return;
    };
    let pool = sqlx::MySqlPool::connect(&url).await.expect("connect");
    let (a, b) = (
        sessionward::MySqlStore::new(pool.clone()),
        sessionward::MySqlStore::new(pool.clone()),
    );
    let (ra, rb, rc) = tokio::join!(a.migrate(), b.migrate(), a.migrate());
    ra.expect("first");
    rb.expect("second");
    rc.expect("third");
}

/// Without the feature, the server tests report SKIP (or fail under
/// `SESSIONWARD_REQUIRE_DATABASES=1`) instead of vanishing silently.
#[cfg(not(all(feature = "postgres", feature = "mysql")))]
#[tokio::test]
async fn server_migrations_need_their_features() {
    #[cfg(not(feature = "postgres"))]
    assert!(
        crate::backends::fresh_database(Backend::Postgres)
            .await
            .is_none()
    );
    #[cfg(not(feature = "mysql"))]
    assert!(
        crate::backends::fresh_database(Backend::MySql)
            .await
            .is_none()
    );
}
