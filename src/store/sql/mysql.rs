//! [`SessionStore`](crate::SessionStore) on MySQL and MariaDB.

use std::io;

use sqlx::migrate::Migrator;
use sqlx::mysql::{MySql, MySqlPool, MySqlQueryResult};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use uuid::fmt::Hyphenated;

use super::migrate;
use super::store::{Dialect, SqlStore, columns};
use crate::error::StoreError;
use crate::store::SessionRecord;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/mysql");

/// Longest user id the `user_id VARCHAR(255)` column holds, in characters.
const USER_ID_MAX_CHARS: usize = 255;
/// Longest user agent the `user_agent VARCHAR(512)` column holds, in characters.
const USER_AGENT_MAX_CHARS: usize = 512;
/// Longest client address the `ip VARCHAR(64)` column holds, in characters.
const IP_MAX_CHARS: usize = 64;

/// Sessions in a MySQL or MariaDB table, `sessionward_sessions`.
///
/// The id is hyphenated text, times are `DATETIME(6)` holding UTC, and the token is stored only as
/// its SHA-256 digest. Create the table with [`migrate`](SqlStore::migrate), which records its
/// progress in [`MIGRATIONS_TABLE`](crate::MIGRATIONS_TABLE) and so coexists with the
/// application's own sqlx migrations; it is safe to run from several processes at once. Clones
/// share the pool.
///
/// Column limits: a user id longer than 255 characters is refused by
/// [`create`](crate::SessionStore::create) (rather than left to the server, which would silently
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
pub type MySqlStore = SqlStore<MySql>;

/// User ids are compared with `user_id = ? AND CHAR_LENGTH(user_id) = CHAR_LENGTH(?)`: the
/// column's utf8mb4_bin collation is case-sensitive but, like every MySQL collation of that
/// name, ignores trailing spaces, and "alice " must not match "alice". The index still serves
/// the first condition.
impl Dialect for MySql {
    type Id = Hyphenated;
    /// The UTC wall-clock time a `DATETIME(6)` column holds.
    type Time = PrimitiveDateTime;

    const STORE: &'static str = "MySqlStore";
    const USER_ID_BINDS: usize = 2;

    const DELETE: &'static str = "DELETE FROM sessionward_sessions \
        WHERE id = ? AND user_id = ? AND CHAR_LENGTH(user_id) = CHAR_LENGTH(?)";
    const DELETE_USER: &'static str = "DELETE FROM sessionward_sessions \
        WHERE user_id = ? AND CHAR_LENGTH(user_id) = CHAR_LENGTH(?)";
    const DELETE_USER_EXCEPT: &'static str = "DELETE FROM sessionward_sessions \
        WHERE user_id = ? AND CHAR_LENGTH(user_id) = CHAR_LENGTH(?) AND id <> ?";
    const LIST_USER: &'static str = concat!(
        "SELECT ",
        columns!(),
        " FROM sessionward_sessions WHERE user_id = ? AND CHAR_LENGTH(user_id) = CHAR_LENGTH(?) \
         ORDER BY created_at DESC, id DESC"
    );
    /// Locking reads lock the gaps of the user's index range only under REPEATABLE READ (or
    /// SERIALIZABLE): set for this one transaction, whatever the server's default.
    const BEFORE_LIMITED: Option<&'static str> =
        Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    /// The user's rows and the gaps around them: a concurrent limited login of the same user
    /// waits (or deadlocks and runs again) instead of counting the same rows.
    const LIST_USER_LOCKED: &'static str = concat!(
        "SELECT ",
        columns!(),
        " FROM sessionward_sessions WHERE user_id = ? AND CHAR_LENGTH(user_id) = CHAR_LENGTH(?) \
         FOR UPDATE"
    );
    /// MySQL takes `ORDER BY ... LIMIT` on DELETE itself (and refuses `LIMIT` in a subquery).
    const DELETE_EXPIRED: &'static str =
        "DELETE FROM sessionward_sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?";
    const DELETE_EXPIRED_REVOCATIONS: &'static str =
        "DELETE FROM sessionward_revocations WHERE expires_at <= ? ORDER BY expires_at LIMIT ?";

    fn encode_time(t: OffsetDateTime) -> PrimitiveDateTime {
        let utc = t.to_offset(UtcOffset::UTC);
        PrimitiveDateTime::new(utc.date(), utc.time())
    }

    fn decode_time(stored: PrimitiveDateTime) -> Option<OffsetDateTime> {
        Some(stored.assume_utc())
    }

    /// sqlx connects with CLIENT_FOUND_ROWS, so this counts matched rows: a touch that writes the
    /// values already stored still reports 1.
    fn rows_affected(done: &MySqlQueryResult) -> u64 {
        done.rows_affected()
    }

    fn fit_columns(record: &SessionRecord) -> Result<(Option<&str>, Option<&str>), StoreError> {
        if record.user_id.chars().nth(USER_ID_MAX_CHARS).is_some() {
            return Err(StoreError::Backend(Box::new(io::Error::new(
                io::ErrorKind::InvalidInput,
                "user id longer than 255 characters",
            ))));
        }
        let user_agent = record.user_agent.as_deref();
        Ok((
            user_agent.map(|ua| truncate_chars(ua, USER_AGENT_MAX_CHARS)),
            record
                .ip
                .as_deref()
                .map(|ip| truncate_chars(ip, IP_MAX_CHARS)),
        ))
    }

    async fn migrate(pool: &MySqlPool) -> Result<(), StoreError> {
        // sqlx's own migration lock is `GET_LOCK(name, -1)`, which MariaDB answers with NULL
        // (it has no "wait forever") and sqlx does not check, so on MariaDB two instances
        // starting together would both apply the migration. Hold a lock of our own, with a
        // finite timeout that both servers honour, named per database (lock names are
        // server-wide).
        let mut conn = pool.acquire().await?;
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

    /// Rows of `sessionward_changes`, polled every 100 ms (MySQL has no `LISTEN`).
    fn change_feed(pool: &MySqlPool) -> Option<std::sync::Arc<dyn crate::notify::ChangeFeed>> {
        Some(std::sync::Arc::new(
            super::mysql_feed::MySqlChangeFeed::new(pool.clone()),
        ))
    }
}

/// At most `max` characters of `s`, cut on a character boundary.
fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}
