//! [`SessionStore`] on MySQL and MariaDB.

use std::io;

use async_trait::async_trait;
use sqlx::Row as _;
use sqlx::migrate::Migrator;
use sqlx::mysql::{MySqlPool, MySqlRow};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use uuid::Uuid;

use super::{SessionRecord, SessionStore, migrate};
use crate::error::StoreError;
use crate::token::TokenHash;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/mysql");

/// Longest user id the `user_id VARCHAR(255)` column holds, in characters.
const USER_ID_MAX_CHARS: usize = 255;
/// Longest user agent the `user_agent VARCHAR(512)` column holds, in characters.
const USER_AGENT_MAX_CHARS: usize = 512;
/// Longest client address the `ip VARCHAR(64)` column holds, in characters.
const IP_MAX_CHARS: usize = 64;

/// The columns of `sessionward_sessions`, in the order of every INSERT and SELECT below.
macro_rules! columns {
    () => {
        "id, token_hash, user_id, data, version, created_at, refreshed_at, expires_at, \
         absolute_expires_at, user_agent, ip"
    };
}

/// Sessions in a MySQL or MariaDB table, `sessionward_sessions`.
///
/// The id is hyphenated text, times are `DATETIME(6)` holding UTC, and the token is stored only as
/// its SHA-256 digest. Create the table with [`migrate`](Self::migrate), which records its
/// progress in [`MIGRATIONS_TABLE`](crate::store::MIGRATIONS_TABLE) and so coexists with the
/// application's own sqlx migrations. Clones share the pool.
///
/// Column limits: a user id longer than 255 characters is refused by
/// [`create`](SessionStore::create) (rather than left to the server, which would silently
/// truncate it outside strict mode); a user agent longer than 512 characters or an address longer
/// than 64 is stored truncated, since both only serve session lists.
///
/// ```no_run
/// use sessionward::{MySqlStore, SessionConfig, SessionLayer};
/// use sqlx::MySqlPool;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = MySqlPool::connect("mysql://app@localhost/app").await?;
/// let store = MySqlStore::new(pool);
/// store.migrate().await?;
/// let layer = SessionLayer::database(store, SessionConfig::default());
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct MySqlStore {
    pool: MySqlPool,
}

impl MySqlStore {
    /// A store on `pool`. Run [`migrate`](Self::migrate) once before serving requests.
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }

    /// The pool the store runs on.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Creates or upgrades the `sessionward_sessions` table. Safe to call on every start, and
    /// from several processes at once.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        // sqlx's own migration lock is `GET_LOCK(name, -1)`, which MariaDB answers with NULL
        // (it has no "wait forever") and sqlx does not check, so on MariaDB two instances
        // starting together would both apply the migration. Hold a lock of our own, with a
        // finite timeout that both servers honour, named per database (lock names are
        // server-wide).
        let mut conn = self.pool.acquire().await?;
        let locked: Option<i64> = sqlx::query_scalar(
            "SELECT GET_LOCK(CONCAT('sessionward_migrate_', CRC32(DATABASE())), 60)",
        )
        .fetch_one(&mut *conn)
        .await?;
        if locked != Some(1) {
            conn.close_on_drop();
            return Err(StoreError::Backend(Box::new(io::Error::new(
                io::ErrorKind::TimedOut,
                "could not take the sessionward migration lock within 60 s",
            ))));
        }
        // On failure `run_on` closes the connection, which releases the lock.
        migrate::run_on(&MIGRATOR, &mut conn).await?;
        sqlx::query("SELECT RELEASE_LOCK(CONCAT('sessionward_migrate_', CRC32(DATABASE())))")
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

/// The UTC wall-clock time a `DATETIME(6)` column holds.
fn to_utc(t: OffsetDateTime) -> PrimitiveDateTime {
    let utc = t.to_offset(UtcOffset::UTC);
    PrimitiveDateTime::new(utc.date(), utc.time())
}

/// At most `max` characters of `s`, cut on a character boundary.
fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

fn decode(row: &MySqlRow) -> Result<SessionRecord, StoreError> {
    fn get<'r, T: sqlx::Decode<'r, sqlx::MySql> + sqlx::Type<sqlx::MySql>>(
        row: &'r MySqlRow,
        column: &'static str,
    ) -> Result<T, StoreError> {
        row.try_get(column).map_err(|_| StoreError::Corrupt(column))
    }
    let time = |column| get::<PrimitiveDateTime>(row, column).map(PrimitiveDateTime::assume_utc);

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

// User ids are compared with `user_id = ? AND CHAR_LENGTH(user_id) = CHAR_LENGTH(?)`: the
// column's utf8mb4_bin collation is case-sensitive but, like every MySQL collation of that
// name, ignores trailing spaces, and "alice " must not match "alice". The index still serves
// the first condition.

#[async_trait]
impl SessionStore for MySqlStore {
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        if record.user_id.chars().nth(USER_ID_MAX_CHARS).is_some() {
            return Err(StoreError::Backend(Box::new(io::Error::new(
                io::ErrorKind::InvalidInput,
                "user id longer than 255 characters",
            ))));
        }
        let user_agent = record
            .user_agent
            .as_deref()
            .map(|ua| truncate_chars(ua, USER_AGENT_MAX_CHARS));
        let ip = record
            .ip
            .as_deref()
            .map(|ip| truncate_chars(ip, IP_MAX_CHARS));
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
        .bind(to_utc(record.created_at))
        .bind(to_utc(record.refreshed_at))
        .bind(to_utc(record.expires_at))
        .bind(to_utc(record.absolute_expires_at))
        .bind(user_agent)
        .bind(ip)
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
        // sqlx connects with CLIENT_FOUND_ROWS, so rows_affected counts matched rows: a touch
        // that writes the values already stored still reports 1.
        let done = sqlx::query(
            "UPDATE sessionward_sessions SET refreshed_at = ?, expires_at = ? WHERE id = ?",
        )
        .bind(to_utc(refreshed_at))
        .bind(to_utc(expires_at))
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
        let done = sqlx::query(
            "DELETE FROM sessionward_sessions \
             WHERE id = ? AND user_id = ? AND CHAR_LENGTH(user_id) = CHAR_LENGTH(?)",
        )
        .bind(id.hyphenated())
        .bind(user_id)
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
            None => sqlx::query(
                "DELETE FROM sessionward_sessions \
                 WHERE user_id = ? AND CHAR_LENGTH(user_id) = CHAR_LENGTH(?)",
            )
            .bind(user_id)
            .bind(user_id),
            Some(keep) => sqlx::query(
                "DELETE FROM sessionward_sessions \
                 WHERE user_id = ? AND CHAR_LENGTH(user_id) = CHAR_LENGTH(?) AND id <> ?",
            )
            .bind(user_id)
            .bind(user_id)
            .bind(keep.hyphenated()),
        };
        Ok(query.execute(&self.pool).await?.rows_affected())
    }

    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM sessionward_sessions WHERE user_id = ? AND CHAR_LENGTH(user_id) = CHAR_LENGTH(?) \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(user_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode)
        .collect()
    }

    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM sessionward_sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?",
        )
        .bind(to_utc(now))
        .bind(batch)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
