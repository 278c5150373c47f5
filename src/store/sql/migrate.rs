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
