//! [`SessionStore`](crate::SessionStore) on PostgreSQL.

use std::sync::LazyLock;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgQueryResult, Postgres};
use time::OffsetDateTime;
use uuid::Uuid;

use super::migrate;
use super::store::{Dialect, InListStatements, SqlStore, columns};
use crate::error::StoreError;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// Sessions in a PostgreSQL table, `sessionward_sessions`.
///
/// The id is a `UUID`, times are `TIMESTAMPTZ`, the data is `JSONB`, and the token is stored only
/// as its SHA-256 digest. Create the table with [`migrate`](SqlStore::migrate), which records its
/// progress in [`MIGRATIONS_TABLE`](crate::MIGRATIONS_TABLE) and so coexists with the
/// application's own sqlx migrations; it is safe to run from several processes at once. Clones
/// share the pool.
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
pub type PostgresStore = SqlStore<Postgres>;

/// `$n` placeholders. `data` is JSONB: writes bind text and cast it, reads cast it back to text,
/// so the crate needs no JSON support from sqlx.
impl Dialect for Postgres {
    type Id = Uuid;
    type Time = OffsetDateTime;

    const STORE: &'static str = "PostgresStore";

    const INSERT: &'static str = concat!(
        "INSERT INTO sessionward_sessions (",
        columns!(),
        ") VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    );
    const LOAD: &'static str = concat!(
        "SELECT ",
        columns!("data::text AS data"),
        " FROM sessionward_sessions WHERE token_hash = $1"
    );
    /// `IN ($1, ...)` rather than `= ANY($1)` with one array: PostgreSQL plans a statement
    /// that takes an array again on every execution (its one generic plan assumes 10 elements
    /// and never looks cheaper than a plan for the array at hand), while a fixed list of
    /// placeholders gets one plan that is kept.
    fn in_list_statements() -> &'static InListStatements {
        static STATEMENTS: LazyLock<InListStatements> = LazyLock::new(|| {
            InListStatements::new(|n| format!("${n}"), columns!("data::text AS data"))
        });
        &STATEMENTS
    }

    /// READ COMMITTED whatever the database's default: under REPEATABLE READ the snapshot is
    /// taken by the transaction's first statement, the lock below, before the lock is granted,
    /// and a login would count the user's sessions without those the login it waited for had
    /// just added.
    const BEGIN_LIMITED: &'static str = "BEGIN ISOLATION LEVEL READ COMMITTED";

    /// A lock per user id (hashed to 32 bits: two users may share one, which only makes them
    /// take turns), in a key space of the crate's own (the first key spells "SWRD"), released
    /// at commit or rollback.
    const LOCK_USER: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(1398231620, hashtext($1))");

    const TOUCH: &'static str =
        "UPDATE sessionward_sessions SET refreshed_at = $1, expires_at = $2 WHERE id = $3";
    const UPDATE_DATA: &'static str = "UPDATE sessionward_sessions \
        SET data = $1::jsonb, version = version + 1 WHERE id = $2 AND version = $3";
    const REAUTHENTICATE: &'static str =
        "UPDATE sessionward_sessions SET authenticated_at = $1 WHERE id = $2";
    const ROTATE: &'static str =
        "UPDATE sessionward_sessions SET token_hash = $1 WHERE id = $2 AND token_hash = $3";
    const DELETE: &'static str = "DELETE FROM sessionward_sessions WHERE id = $1 AND user_id = $2";
    const DELETE_USER: &'static str = "DELETE FROM sessionward_sessions WHERE user_id = $1";
    const DELETE_USER_EXCEPT: &'static str =
        "DELETE FROM sessionward_sessions WHERE user_id = $1 AND id <> $2";
    const LIST_USER: &'static str = concat!(
        "SELECT ",
        columns!("data::text AS data"),
        " FROM sessionward_sessions WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
    );
    /// SKIP LOCKED: concurrent cleaners (one per instance) take disjoint batches instead of
    /// queueing behind each other's row locks.
    const DELETE_EXPIRED: &'static str = "DELETE FROM sessionward_sessions \
        WHERE id IN (SELECT id FROM sessionward_sessions \
        WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)";

    const INSERT_REVOCATION: &'static str = "INSERT INTO sessionward_revocations \
        (id, kind, subject, revoked_at, expires_at, patch) VALUES ($1, $2, $3, $4, $5, $6)";
    const REVOCATIONS_SINCE: &'static str = "SELECT id, kind, subject, revoked_at, expires_at, \
        patch FROM sessionward_revocations WHERE revoked_at >= $1 AND expires_at > $2";
    const DELETE_EXPIRED_REVOCATIONS: &'static str = "DELETE FROM sessionward_revocations \
        WHERE id IN (SELECT id FROM sessionward_revocations \
        WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)";

    fn encode_time(t: OffsetDateTime) -> OffsetDateTime {
        t
    }

    fn decode_time(stored: OffsetDateTime) -> Option<OffsetDateTime> {
        Some(stored)
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
        migrate::run(&MIGRATOR, pool).await
    }

    /// `NOTIFY` / `LISTEN` on the channel `sessionward_changes`.
    fn change_feed(pool: &PgPool) -> Option<std::sync::Arc<dyn crate::notify::ChangeFeed>> {
        Some(std::sync::Arc::new(
            super::postgres_feed::PgChangeFeed::new(pool.clone()),
        ))
    }
}
