//! [`SessionStore`] on PostgreSQL.

use async_trait::async_trait;
use sqlx::Row as _;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SessionRecord, SessionStore, migrate};
use crate::error::StoreError;
use crate::token::TokenHash;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// The columns of `sessionward_sessions`, in the order of every INSERT and SELECT below. `data`
/// is JSONB: INSERT binds text and casts it, SELECT reads it back as text (`columns!("data::text
/// AS data")`), so the crate needs no JSON support from sqlx.
macro_rules! columns {
    ($data:literal) => {
        concat!(
            "id, token_hash, user_id, ",
            $data,
            ", version, created_at, refreshed_at, expires_at, absolute_expires_at, user_agent, ip"
        )
    };
}

/// Sessions in a PostgreSQL table, `sessionward_sessions`.
///
/// The id is a `UUID`, times are `TIMESTAMPTZ`, the data is `JSONB`, and the token is stored only
/// as its SHA-256 digest. Create the table with [`migrate`](Self::migrate), which records its
/// progress in [`MIGRATIONS_TABLE`](crate::store::MIGRATIONS_TABLE) and so coexists with the
/// application's own sqlx migrations. Clones share the pool.
///
/// Because the data column is `JSONB`, PostgreSQL normalizes the JSON text: it reads back
/// semantically equal to what was written, but not necessarily byte for byte (whitespace, key
/// order, duplicate keys).
///
/// ```no_run
/// use sessionward::{PostgresStore, SessionConfig, SessionLayer};
/// use sqlx::PgPool;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = PgPool::connect("postgres://app@localhost/app").await?;
/// let store = PostgresStore::new(pool);
/// store.migrate().await?;
/// let layer = SessionLayer::database(store, SessionConfig::default());
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// A store on `pool`. Run [`migrate`](Self::migrate) once before serving requests.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool the store runs on.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates or upgrades the `sessionward_sessions` table. Safe to call on every start, and
    /// from several processes at once.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrate::run(&MIGRATOR, &self.pool).await
    }
}

fn decode(row: &PgRow) -> Result<SessionRecord, StoreError> {
    fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
        row: &'r PgRow,
        column: &'static str,
    ) -> Result<T, StoreError> {
        row.try_get(column).map_err(|_| StoreError::Corrupt(column))
    }

    let hash: Vec<u8> = get(row, "token_hash")?;
    Ok(SessionRecord {
        id: get(row, "id")?,
        token_hash: TokenHash::from_slice(&hash).ok_or(StoreError::Corrupt("token_hash"))?,
        user_id: get(row, "user_id")?,
        data: get(row, "data")?,
        version: get(row, "version")?,
        created_at: get(row, "created_at")?,
        refreshed_at: get(row, "refreshed_at")?,
        expires_at: get(row, "expires_at")?,
        absolute_expires_at: get(row, "absolute_expires_at")?,
        user_agent: get(row, "user_agent")?,
        ip: get(row, "ip")?,
    })
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO sessionward_sessions (",
            columns!("data"),
            ") VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(record.id)
        .bind(record.token_hash.as_bytes().as_slice())
        .bind(record.user_id.as_str())
        .bind(record.data.as_str())
        .bind(record.version)
        .bind(record.created_at)
        .bind(record.refreshed_at)
        .bind(record.expires_at)
        .bind(record.absolute_expires_at)
        .bind(record.user_agent.as_deref())
        .bind(record.ip.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn load(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!("data::text AS data"),
            " FROM sessionward_sessions WHERE token_hash = $1"
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
            "UPDATE sessionward_sessions SET refreshed_at = $1, expires_at = $2 WHERE id = $3",
        )
        .bind(refreshed_at)
        .bind(expires_at)
        .bind(id)
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
            "UPDATE sessionward_sessions SET data = $1::jsonb, version = version + 1 \
             WHERE id = $2 AND version = $3",
        )
        .bind(data)
        .bind(id)
        .bind(expected_version)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn rotate(&self, id: Uuid, old: &TokenHash, new: &TokenHash) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessionward_sessions SET token_hash = $1 WHERE id = $2 AND token_hash = $3",
        )
        .bind(new.as_bytes().as_slice())
        .bind(id)
        .bind(old.as_bytes().as_slice())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessionward_sessions WHERE id = $1 AND user_id = $2")
            .bind(id)
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
            None => {
                sqlx::query("DELETE FROM sessionward_sessions WHERE user_id = $1").bind(user_id)
            }
            Some(keep) => {
                sqlx::query("DELETE FROM sessionward_sessions WHERE user_id = $1 AND id <> $2")
                    .bind(user_id)
                    .bind(keep)
            }
        };
        Ok(query.execute(&self.pool).await?.rows_affected())
    }

    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!("data::text AS data"),
            " FROM sessionward_sessions WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode)
        .collect()
    }

    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        // SKIP LOCKED: concurrent cleaners (one per instance) take disjoint batches instead of
        // queueing behind each other's row locks.
        let done = sqlx::query(
            "DELETE FROM sessionward_sessions WHERE id IN (SELECT id FROM sessionward_sessions \
             WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(now)
        .bind(i64::from(batch))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
