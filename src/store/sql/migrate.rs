//! Running the crate's own migrations next to the application's.

use sqlx::Database;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::pool::PoolConnection;

use crate::error::StoreError;

/// The table in which the SQL stores record which of the crate's migrations have run.
///
/// It is not sqlx's default `_sqlx_migrations`, so the crate's migrations and the application's
/// own (`sqlx::migrate!()` or `sqlx migrate run`) live side by side in one database without
/// either migrator seeing the other's versions as unknown.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::{MIGRATIONS_TABLE, SqliteStore};
/// use sqlx::sqlite::SqlitePoolOptions;
///
/// // One connection: each connection to `sqlite::memory:` is a database of its own.
/// let pool = SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await?;
/// SqliteStore::new(pool.clone()).migrate().await?;
/// let query = format!("SELECT COUNT(*) FROM {MIGRATIONS_TABLE}");
/// let applied: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query)).fetch_one(&pool).await?;
/// assert!(applied > 0);
/// // sqlx's own table, for the application's migrations, is left alone.
/// let sqlx_table = "SELECT COUNT(*) FROM sqlite_master WHERE name = '_sqlx_migrations'";
/// assert_eq!(sqlx::query_scalar::<_, i64>(sqlx_table).fetch_one(&pool).await?, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub const MIGRATIONS_TABLE: &str = "_sessionward_migrations";

/// Applies the pending migrations of `embedded` (built by `sqlx::migrate!("migrations/<db>")`)
/// to `pool`, tracking them in [`MIGRATIONS_TABLE`]. Idempotent.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) async fn run<DB>(embedded: &Migrator, pool: &sqlx::Pool<DB>) -> Result<(), StoreError>
where
    DB: Database,
    DB::Connection: Migrate,
{
    run_on(embedded, &mut pool.acquire().await?).await
}

/// [`run`] on a connection the caller already holds (and may have locked).
pub(crate) async fn run_on<DB>(
    embedded: &Migrator,
    conn: &mut PoolConnection<DB>,
) -> Result<(), StoreError>
where
    DB: Database,
    DB::Connection: Migrate,
{
    let mut migrator = Migrator::with_migrations(embedded.iter().cloned().collect());
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);

    if let Err(e) = migrator.run(&mut *conn).await {
        // On PostgreSQL and MySQL the migrator holds a session-level lock that it releases only
        // on success: close this connection instead of handing the lock back to the pool.
        conn.close_on_drop();
        return Err(StoreError::Backend(Box::new(e)));
    }
    Ok(())
}
