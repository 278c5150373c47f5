//! [`SessionStore`] on SQLite.

use async_trait::async_trait;
use sqlx::Row as _;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SessionRecord, SessionStore, migrate};
use crate::error::StoreError;
use crate::token::TokenHash;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// The columns of `sessionward_sessions`, in the order of every INSERT and SELECT below.
macro_rules! columns {
    () => {
        "id, token_hash, user_id, data, version, created_at, refreshed_at, expires_at, \
         absolute_expires_at, user_agent, ip"
    };
}

/// Sessions in a SQLite table, `sessionward_sessions`.
///
/// Times are stored as unix microseconds (UTC), the id as hyphenated text, and the token only as
/// its SHA-256 digest. Create the table with [`migrate`](Self::migrate), which records its
/// progress in [`MIGRATIONS_TABLE`](crate::store::MIGRATIONS_TABLE) and so coexists with the
/// application's own sqlx migrations. Clones share the pool.
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
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// A store on `pool`. Run [`migrate`](Self::migrate) once before serving requests.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// The pool the store runs on.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Creates or upgrades the `sessionward_sessions` table. Safe to call on every start.
    ///
    /// SQLite has no migration lock: when several processes share one database file, let one of
    /// them migrate before the others start.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrate::run(&MIGRATOR, &self.pool).await
    }
}

/// Unix microseconds. Every `OffsetDateTime` the `time` crate can hold fits in an `i64` of
/// microseconds (±9999 years is about 3.2e17), so the cast never truncates.
fn to_micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos().div_euclid(1_000)) as i64
}

fn from_micros(micros: i64, column: &'static str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| StoreError::Corrupt(column))
}

fn decode(row: &SqliteRow) -> Result<SessionRecord, StoreError> {
    fn get<'r, T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>>(
        row: &'r SqliteRow,
        column: &'static str,
    ) -> Result<T, StoreError> {
        row.try_get(column).map_err(|_| StoreError::Corrupt(column))
    }
    let time = |column| get::<i64>(row, column).and_then(|m| from_micros(m, column));

    let id: String = get(row, "id")?;
    let hash: Vec<u8> = get(row, "token_hash")?;
    Ok(SessionRecord {
        id: Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt("id"))?,
        token_hash: TokenHash::from_slice(&hash).ok_or(StoreError::Corrupt("token_hash"))?,
        user_id: get(row, "user_id")?,
        data: get(row, "data")?,
        version: get(row, "version")?,
        created_at: time("created_at")?,
        refreshed_at: time("refreshed_at")?,
        expires_at: time("expires_at")?,
        absolute_expires_at: time("absolute_expires_at")?,
        user_agent: get(row, "user_agent")?,
        ip: get(row, "ip")?,
    })
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO sessionward_sessions (",
            columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(record.id.hyphenated())
        .bind(record.token_hash.as_bytes().as_slice())
        .bind(record.user_id.as_str())
        .bind(record.data.as_str())
        .bind(record.version)
        .bind(to_micros(record.created_at))
        .bind(to_micros(record.refreshed_at))
        .bind(to_micros(record.expires_at))
        .bind(to_micros(record.absolute_expires_at))
        .bind(record.user_agent.as_deref())
        .bind(record.ip.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn load(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM sessionward_sessions WHERE token_hash = ?"
        ))
        .bind(token_hash.as_bytes().as_slice())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
    }

    async fn touch(
        &self,
        id: Uuid,
        refreshed_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessionward_sessions SET refreshed_at = ?, expires_at = ? WHERE id = ?",
        )
        .bind(to_micros(refreshed_at))
        .bind(to_micros(expires_at))
        .bind(id.hyphenated())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_data(
        &self,
        id: Uuid,
        expected_version: i64,
        data: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessionward_sessions SET data = ?, version = version + 1 \
             WHERE id = ? AND version = ?",
        )
        .bind(data)
        .bind(id.hyphenated())
        .bind(expected_version)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn rotate(&self, id: Uuid, old: &TokenHash, new: &TokenHash) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessionward_sessions SET token_hash = ? WHERE id = ? AND token_hash = ?",
        )
        .bind(new.as_bytes().as_slice())
        .bind(id.hyphenated())
        .bind(old.as_bytes().as_slice())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessionward_sessions WHERE id = ? AND user_id = ?")
            .bind(id.hyphenated())
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        let query = match keep {
            None => sqlx::query("DELETE FROM sessionward_sessions WHERE user_id = ?").bind(user_id),
            Some(keep) => {
                sqlx::query("DELETE FROM sessionward_sessions WHERE user_id = ? AND id <> ?")
                    .bind(user_id)
                    .bind(keep.hyphenated())
            }
        };
        Ok(query.execute(&self.pool).await?.rows_affected())
    }

    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM sessionward_sessions WHERE user_id = ? ORDER BY created_at DESC, id DESC"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode)
        .collect()
    }

    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM sessionward_sessions WHERE id IN (SELECT id FROM sessionward_sessions \
             WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)",
        )
        .bind(to_micros(now))
        .bind(i64::from(batch))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
