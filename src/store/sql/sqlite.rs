//! [`SessionStore`](crate::SessionStore) on SQLite.

use sqlx::migrate::Migrator;
use sqlx::sqlite::{Sqlite, SqlitePool, SqliteQueryResult};
use time::OffsetDateTime;
use uuid::fmt::Hyphenated;

use super::migrate;
use super::store::{Dialect, SqlStore};
use crate::error::StoreError;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// Sessions in a SQLite table, `sessionward_sessions`.
///
/// Times are stored as unix microseconds (UTC), the id as hyphenated text, and the token only as
/// its SHA-256 digest. Create the table with [`migrate`](SqlStore::migrate), which records its
/// progress in [`MIGRATIONS_TABLE`](crate::MIGRATIONS_TABLE) and so coexists with the
/// application's own sqlx migrations. SQLite has no migration lock: when several processes share
/// one database file, let one of them migrate before the others start. Clones share the pool.
///
/// ```no_run
/// use sessionward::{SessionConfig, SessionLayer, SqliteStore};
/// use sqlx::SqlitePool;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = SqlitePool::connect("sqlite://sessions.db?mode=rwc").await?;
/// let store = SqliteStore::new(pool);
/// store.migrate().await?;
/// let layer = SessionLayer::database(store, SessionConfig::default());
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
pub type SqliteStore = SqlStore<Sqlite>;

/// SQLite runs the default statements of [`Dialect`].
impl Dialect for Sqlite {
    type Id = Hyphenated;

    /// The write lock at once: SQLite then runs one limited login at a time.
    const BEGIN_LIMITED: &'static str = "BEGIN IMMEDIATE";
    /// Unix microseconds.
    type Time = i64;

    const STORE: &'static str = "SqliteStore";

    /// Every `OffsetDateTime` the `time` crate can hold fits in an `i64` of microseconds (±9999
    /// years is about 3.2e17), so the cast never truncates.
    fn encode_time(t: OffsetDateTime) -> i64 {
        (t.unix_timestamp_nanos().div_euclid(1_000)) as i64
    }

    fn decode_time(micros: i64) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
        migrate::run(&MIGRATOR, pool).await
    }
}
