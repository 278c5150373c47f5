//! The one [`SessionStore`] implementation behind `SqliteStore`, `PostgresStore` and
//! `MySqlStore`.
//!
//! [`SqlStore`] runs the same statements, binds the same values and decodes the same row shape on
//! every database. What really differs is a [`Dialect`], implemented on sqlx's database type in
//! `sqlite.rs`, `postgres.rs` and `mysql.rs`: the SQL text, how an id and a time are stored, the
//! column limits, and how the table is migrated.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row as _, Type};
use time::OffsetDateTime;
use uuid::Uuid;

use super::batching::LoadBatching;
use super::load_queue::{Found, LoadQueue};
use crate::error::StoreError;
use crate::limit::{LimitedCreate, SessionLimit};
use crate::store::{SessionRecord, SessionStore, live_sessions};
use crate::token::TokenHash;

/// The columns of `sessionward_sessions`, in the order of every INSERT and SELECT. `$data` is
/// what stands for the `data` column (PostgreSQL reads its JSONB back as text).
macro_rules! columns {
    () => {
        columns!("data")
    };
    ($data:literal) => {
        concat!(
            "id, token_hash, user_id, ",
            $data,
            ", version, created_at, refreshed_at, expires_at, absolute_expires_at, user_agent, ip, \
             authenticated_at, persistent"
        )
    };
}
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use columns;

/// What one database does differently from the others, for [`SqlStore`].
///
/// The statements bind their values in the order the [`SessionStore`] methods of [`SqlStore`]
/// do. The defaults are plain SQL with `?` placeholders; SQLite runs them as they are, MySQL and
/// PostgreSQL override the ones they write differently.
pub trait Dialect: Database<Arguments: IntoArguments<Self>> {
    /// How the public id is bound and read back.
    type Id: for<'q> Encode<'q, Self>
        + for<'r> Decode<'r, Self>
        + Type<Self>
        + From<Uuid>
        + Into<Uuid>;

    /// How a time is bound and read back.
    type Time: for<'q> Encode<'q, Self> + for<'r> Decode<'r, Self> + Type<Self>;

    /// The name of the public store type, for `Debug`.
    const STORE: &'static str;

    /// How many times each statement that matches a user id binds it (consecutively).
    const USER_ID_BINDS: usize = 1;

    /// Binds id, token_hash, user_id, data, version, the four times, user_agent, ip,
    /// authenticated_at, persistent.
    const INSERT: &'static str = concat!(
        "INSERT INTO sessionward_sessions (",
        columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    );
    /// Binds token_hash.
    const LOAD: &'static str = concat!(
        "SELECT ",
        columns!(),
        " FROM sessionward_sessions WHERE token_hash = ?"
    );
    /// The `token_hash IN (...)` load statements, one for each of [`IN_LIST_ARITIES`]. By
    /// default with `?` placeholders and the columns as they are.
    fn in_list_statements() -> &'static InListStatements {
        static STATEMENTS: LazyLock<InListStatements> =
            LazyLock::new(|| InListStatements::new(|_| "?".to_owned(), columns!()));
        &STATEMENTS
    }

    /// The rows of several token hashes (2 to [`LoadBatching::MAX_BATCH`]), bound:
    /// `token_hash IN (...)` with the smallest of a few fixed numbers of placeholders that
    /// holds them all, the last hash repeated to fill it, so that few distinct statements are
    /// ever prepared, and each has one plan that fits every use of it.
    fn load_batch(hashes: &[TokenHash]) -> Query<'_, Self, Self::Arguments>
    where
        for<'a> &'a [u8]: Encode<'a, Self> + Type<Self>,
    {
        let (sql, arity) = Self::in_list_statements().for_batch(hashes.len());
        let last = hashes.len() - 1;
        (0..arity).fold(sqlx::query(sql), |query, i| {
            query.bind(hashes[i.min(last)].as_bytes().as_slice())
        })
    }

    /// Binds refreshed_at, expires_at, id.
    const TOUCH: &'static str =
        "UPDATE sessionward_sessions SET refreshed_at = ?, expires_at = ? WHERE id = ?";
    /// Binds data, id, the expected version.
    const UPDATE_DATA: &'static str = "UPDATE sessionward_sessions \
        SET data = ?, version = version + 1 WHERE id = ? AND version = ?";
    /// Binds authenticated_at, id.
    const REAUTHENTICATE: &'static str =
        "UPDATE sessionward_sessions SET authenticated_at = ? WHERE id = ?";
    /// Binds the new token hash, id, the old token hash.
    const ROTATE: &'static str =
        "UPDATE sessionward_sessions SET token_hash = ? WHERE id = ? AND token_hash = ?";
    /// Binds id, user_id.
    const DELETE: &'static str = "DELETE FROM sessionward_sessions WHERE id = ? AND user_id = ?";
    /// Binds user_id.
    const DELETE_USER: &'static str = "DELETE FROM sessionward_sessions WHERE user_id = ?";
    /// Binds user_id, the id to keep.
    const DELETE_USER_EXCEPT: &'static str =
        "DELETE FROM sessionward_sessions WHERE user_id = ? AND id <> ?";
    /// Binds user_id; newest first.
    const LIST_USER: &'static str = concat!(
        "SELECT ",
        columns!(),
        " FROM sessionward_sessions WHERE user_id = ? ORDER BY created_at DESC, id DESC"
    );
    /// Starts the transaction of [`SessionStore::create_within_limit`]: by default a plain
    /// `BEGIN` (SQLite overrides it with `BEGIN IMMEDIATE`, which takes the write lock at once,
    /// so that two limited logins never both read before either writes).
    const BEGIN_LIMITED: &'static str = "BEGIN";
    /// Run on the connection before [`BEGIN_LIMITED`](Self::BEGIN_LIMITED), if any (MySQL: the
    /// isolation level whose locking reads also lock the gaps a new row would go into).
    const BEFORE_LIMITED: Option<&'static str> = None;
    /// Serializes the limited logins of one user inside the transaction, if the dialect needs
    /// it (PostgreSQL: a transaction-scoped advisory lock on the user id). Binds user_id.
    const LOCK_USER: Option<&'static str> = None;
    /// The user's sessions inside that transaction (MySQL: a locking read). Binds user_id.
    const LIST_USER_LOCKED: &'static str = Self::LIST_USER;

    /// Binds now, the batch size (`i64`); deletes at most that many expired rows.
    const DELETE_EXPIRED: &'static str = "DELETE FROM sessionward_sessions \
        WHERE id IN (SELECT id FROM sessionward_sessions \
        WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)";

    /// The JWT revocation list (`sessionward_revocations`). Binds id, kind, subject,
    /// revoked_at, expires_at.
    const INSERT_REVOCATION: &'static str = "INSERT INTO sessionward_revocations \
        (id, kind, subject, revoked_at, expires_at, patch) VALUES (?, ?, ?, ?, ?, ?)";
    /// Binds since, now.
    const REVOCATIONS_SINCE: &'static str = "SELECT id, kind, subject, revoked_at, expires_at, \
        patch FROM sessionward_revocations WHERE revoked_at >= ? AND expires_at > ?";
    /// Binds now, the batch size (`i64`).
    const DELETE_EXPIRED_REVOCATIONS: &'static str = "DELETE FROM sessionward_revocations \
        WHERE id IN (SELECT id FROM sessionward_revocations \
        WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)";

    /// A time as the database stores it.
    fn encode_time(t: OffsetDateTime) -> Self::Time;

    /// A stored time back; `None` when it is out of range.
    fn decode_time(stored: Self::Time) -> Option<OffsetDateTime>;

    /// How many rows a statement wrote (sqlx has no trait for it).
    fn rows_affected(done: &Self::QueryResult) -> u64;

    /// Checks `record` against the column sizes before it is inserted, and returns the user agent
    /// and client address to store. By default every value fits as it is.
    fn fit_columns(record: &SessionRecord) -> Result<(Option<&str>, Option<&str>), StoreError> {
        Ok((record.user_agent.as_deref(), record.ip.as_deref()))
    }

    /// Creates or upgrades the `sessionward_sessions` table.
    fn migrate(pool: &Pool<Self>) -> impl Future<Output = Result<(), StoreError>>;

    /// How instances sharing this database tell each other about changes; none by default.
    fn change_feed(_pool: &Pool<Self>) -> Option<std::sync::Arc<dyn crate::notify::ChangeFeed>> {
        None
    }
}

/// The numbers of placeholders of the `IN (...)` load statements.
const IN_LIST_ARITIES: [usize; 6] = [2, 4, 8, 16, 32, LoadBatching::MAX_BATCH];

/// A dialect's `SELECT ... WHERE token_hash IN (...)` load statements, one for each of
/// [`IN_LIST_ARITIES`] (see [`Dialect::load_batch`]).
#[derive(Debug)]
pub struct InListStatements([String; IN_LIST_ARITIES.len()]);

impl InListStatements {
    /// The statements selecting `columns`, the `n`-th placeholder (from 1) written
    /// `placeholder(n)`.
    pub(crate) fn new(placeholder: fn(usize) -> String, columns: &str) -> Self {
        Self(IN_LIST_ARITIES.map(|arity| {
            let placeholders: Vec<String> = (1..=arity).map(placeholder).collect();
            format!(
                "SELECT {columns} FROM sessionward_sessions WHERE token_hash IN ({})",
                placeholders.join(", ")
            )
        }))
    }

    /// The statement for `n` hashes, and its number of placeholders.
    fn for_batch(&self, n: usize) -> (&str, usize) {
        let i = IN_LIST_ARITIES
            .iter()
            .position(|&arity| arity >= n)
            .expect("a batch is at most LoadBatching::MAX_BATCH loads");
        (self.0[i].as_str(), IN_LIST_ARITIES[i])
    }
}

/// Sessions in a SQL table, `sessionward_sessions`, on the sqlx database `DB`.
///
/// The one implementation behind `SqliteStore` (`SqlStore<sqlx::Sqlite>`), `PostgresStore`
/// (`SqlStore<sqlx::Postgres>`) and `MySqlStore` (`SqlStore<sqlx::MySql>`): use those names; their
/// pages say how each database stores a session. `DB` is one of these three databases (the
/// `Dialect` trait is sealed), and the bounds on the [`SessionStore`] implementation, which only
/// spell out what it needs from sqlx, hold for each of them. Clones share the pool.
///
/// The application's own queries can share the pool:
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::{LoadBatching, SqliteStore};
/// use sqlx::sqlite::SqlitePoolOptions;
///
/// // One connection: each connection to `sqlite::memory:` is a database of its own.
/// let pool = SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await?;
/// let store = SqliteStore::new(pool).load_batching(LoadBatching::off());
/// store.migrate().await?;
/// store.migrate().await?; // safe on every start
/// let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessionward_sessions")
///     .fetch_one(store.pool())
///     .await?;
/// assert_eq!(sessions, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct SqlStore<DB: Dialect> {
    pool: Pool<DB>,
    loads: Arc<LoadQueue<PoolConnection<DB>>>,
}

impl<DB: Dialect> SqlStore<DB> {
    /// A store on `pool`, with the default [`LoadBatching`]. Run [`migrate`](Self::migrate)
    /// once before serving requests.
    pub fn new(pool: Pool<DB>) -> Self {
        Self {
            pool,
            loads: Arc::new(LoadQueue::new(LoadBatching::default())),
        }
    }

    /// How concurrent session loads share statements (default: [`LoadBatching::default`]).
    /// Clones made before this call keep their own setting.
    pub fn load_batching(mut self, batching: LoadBatching) -> Self {
        self.loads = Arc::new(LoadQueue::new(batching));
        self
    }

    /// The pool the store runs on.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// Creates or upgrades the `sessionward_sessions` table, recording its progress in
    /// [`MIGRATIONS_TABLE`](crate::MIGRATIONS_TABLE) so that it coexists with the
    /// application's own sqlx migrations. Safe to call on every start.
    ///
    /// On PostgreSQL and MySQL it is also safe from several processes at once. SQLite has no
    /// migration lock: when several processes share one database file, let one of them migrate
    /// before the others start.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        DB::migrate(&self.pool).await
    }
}

/// Clones share the pool and the load batching.
impl<DB: Dialect> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            loads: self.loads.clone(),
        }
    }
}

/// Named after the public type: `SqliteStore { pool: .. }`, and so on.
impl<DB: Dialect> fmt::Debug for SqlStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(DB::STORE)
            .field("pool", &self.pool)
            .field("load_batching", &self.loads.settings())
            .finish()
    }
}

/// How many times a statement (or a limited login's transaction) runs again after the database
/// ended it as a deadlock victim or a serialization failure ([`may_run_again`]). Each time, one
/// of the writers it lost to went through, so N concurrent writers of one row need at most
/// N - 1 (MySQL's gap locks make concurrent logins of one user deadlock the same way). The
/// layer's `store_timeout` bounds the whole.
const RETRIES: usize = 32;

impl<DB: Dialect> SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB>,
    for<'a> &'a [u8]: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// One attempt of [`SessionStore::create_within_limit`]. A dropped attempt rolls back.
    async fn try_create_within_limit(
        &self,
        record: &SessionRecord,
        limit: SessionLimit,
        now: OffsetDateTime,
    ) -> Result<LimitedCreate, StoreError> {
        let insert = insert::<DB>(record)?;
        let mut conn = self.pool.acquire().await?;
        if let Some(statement) = DB::BEFORE_LIMITED {
            sqlx::query(statement).execute(&mut *conn).await?;
        }
        let mut tx = sqlx::Connection::begin_with(&mut *conn, DB::BEGIN_LIMITED).await?;
        let user_id = record.user_id.as_str();
        if let Some(lock) = DB::LOCK_USER {
            sqlx::query(lock).bind(user_id).execute(&mut *tx).await?;
        }
        let rows = bind_user_id(sqlx::query(DB::LIST_USER_LOCKED), user_id)
            .fetch_all(&mut *tx)
            .await?;
        let held = rows
            .iter()
            .map(decode::<DB>)
            .collect::<Result<Vec<_>, _>>()?;
        let Some(ended) = limit.make_room(live_sessions(&held, now)) else {
            tx.rollback().await?;
            return Ok(LimitedCreate::Refused);
        };
        for id in &ended {
            let delete = sqlx::query(DB::DELETE).bind(DB::Id::from(*id));
            bind_user_id(delete, user_id).execute(&mut *tx).await?;
        }
        insert.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(LimitedCreate::Created { ended })
    }
}

/// The INSERT of `record`, its user agent and address fitted to the columns.
fn insert<DB: Dialect>(record: &SessionRecord) -> Result<Query<'_, DB, DB::Arguments>, StoreError>
where
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB>,
    for<'a> &'a [u8]: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Type<DB>,
{
    let (user_agent, ip) = DB::fit_columns(record)?;
    Ok(sqlx::query(DB::INSERT)
        .bind(DB::Id::from(record.id))
        .bind(record.token_hash.as_bytes().as_slice())
        .bind(record.user_id.as_str())
        .bind(record.data.as_str())
        .bind(record.version)
        .bind(DB::encode_time(record.created_at))
        .bind(DB::encode_time(record.refreshed_at))
        .bind(DB::encode_time(record.expires_at))
        .bind(DB::encode_time(record.absolute_expires_at))
        .bind(user_agent)
        .bind(ip)
        .bind(DB::encode_time(record.authenticated_at))
        .bind(record.persistent))
}

/// Binds `user_id` as many times as the dialect's user statements match it.
fn bind_user_id<'q, DB: Dialect>(
    query: Query<'q, DB, DB::Arguments>,
    user_id: &str,
) -> Query<'q, DB, DB::Arguments>
where
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
{
    (0..DB::USER_ID_BINDS).fold(query, |query, _| query.bind(user_id))
}

/// The columns [`columns!`] lists, in its order: what [`decode`] reads, by position.
#[derive(Clone, Copy)]
enum Column {
    Id,
    TokenHash,
    UserId,
    Data,
    Version,
    CreatedAt,
    RefreshedAt,
    ExpiresAt,
    AbsoluteExpiresAt,
    UserAgent,
    Ip,
    AuthenticatedAt,
    Persistent,
}

/// The names of the [`Column`]s, for a [`StoreError::Corrupt`].
const COLUMN_NAMES: [&str; 13] = [
    "id",
    "token_hash",
    "user_id",
    "data",
    "version",
    "created_at",
    "refreshed_at",
    "expires_at",
    "absolute_expires_at",
    "user_agent",
    "ip",
    "authenticated_at",
    "persistent",
];

impl Column {
    fn name(self) -> &'static str {
        COLUMN_NAMES[self as usize]
    }
}

/// One column of a row, read by position; a value that does not decode is a corrupt row.
fn get<'r, DB: Database, T: Decode<'r, DB> + Type<DB>>(
    row: &'r DB::Row,
    column: Column,
) -> Result<T, StoreError>
where
    usize: ColumnIndex<DB::Row>,
{
    row.try_get(column as usize)
        .map_err(|_| StoreError::Corrupt(column.name()))
}

/// The token hash of a row.
fn token_hash_of<DB: Database>(row: &DB::Row) -> Result<TokenHash, StoreError>
where
    usize: ColumnIndex<DB::Row>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
{
    let hash: Vec<u8> = get::<DB, _>(row, Column::TokenHash)?;
    TokenHash::from_slice(&hash).ok_or(StoreError::Corrupt(Column::TokenHash.name()))
}

/// A row of a `SELECT` of [`columns!`], read by position: a row has a session's every
/// column, and looking each up by name would hash its name on every load.
fn decode<DB: Dialect>(row: &DB::Row) -> Result<SessionRecord, StoreError>
where
    usize: ColumnIndex<DB::Row>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
{
    let time = |column: Column| {
        get::<DB, DB::Time>(row, column)
            .and_then(|t| DB::decode_time(t).ok_or(StoreError::Corrupt(column.name())))
    };
    Ok(SessionRecord {
        id: get::<DB, DB::Id>(row, Column::Id)?.into(),
        token_hash: token_hash_of::<DB>(row)?,
        user_id: get::<DB, _>(row, Column::UserId)?,
        data: get::<DB, _>(row, Column::Data)?,
        version: get::<DB, _>(row, Column::Version)?,
        created_at: time(Column::CreatedAt)?,
        // Rows from before the column existed: the login is the last authentication.
        authenticated_at: match get::<DB, Option<DB::Time>>(row, Column::AuthenticatedAt)? {
            Some(t) => {
                DB::decode_time(t).ok_or(StoreError::Corrupt(Column::AuthenticatedAt.name()))?
            }
            None => time(Column::CreatedAt)?,
        },
        refreshed_at: time(Column::RefreshedAt)?,
        expires_at: time(Column::ExpiresAt)?,
        absolute_expires_at: time(Column::AbsoluteExpiresAt)?,
        user_agent: get::<DB, _>(row, Column::UserAgent)?,
        ip: get::<DB, _>(row, Column::Ip)?,
        persistent: get::<DB, _>(row, Column::Persistent)?,
    })
}

#[async_trait]
impl<DB: Dialect> SessionStore for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB>,
    for<'a> &'a [u8]: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    fn change_feed(&self) -> Option<std::sync::Arc<dyn crate::notify::ChangeFeed>> {
        DB::change_feed(&self.pool)
    }

    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        insert::<DB>(record)?.execute(&self.pool).await?;
        Ok(())
    }

    fn enforces_session_limits(&self) -> bool {
        true
    }

    /// One transaction in which the user's limited logins take turns (SQLite: `BEGIN
    /// IMMEDIATE`; PostgreSQL: an advisory lock on the user id; MySQL: a locking read of the
    /// user's rows, gaps included), run again when the database ends it as a deadlock victim.
    async fn create_within_limit(
        &self,
        record: &SessionRecord,
        limit: SessionLimit,
        now: OffsetDateTime,
    ) -> Result<LimitedCreate, StoreError> {
        let mut retries = 0;
        loop {
            match self.try_create_within_limit(record, limit, now).await {
                Err(StoreError::Backend(e))
                    if retries < RETRIES
                        && e.downcast_ref::<sqlx::Error>().is_some_and(may_run_again) =>
                {
                    retries += 1
                }
                result => return result,
            }
        }
    }

    /// Batched with concurrent loads as [`LoadBatching`] says.
    async fn load(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        let fetch = |hashes: Vec<TokenHash>, mut kept: Option<PoolConnection<DB>>| async move {
            loop {
                let was_kept = kept.is_some();
                let mut connection = match kept.take() {
                    Some(connection) => connection,
                    None => match self.pool.acquire().await {
                        Ok(connection) => connection,
                        Err(error) => return (Err(error.into()), None),
                    },
                };
                let query = match hashes.as_slice() {
                    [one] => sqlx::query(DB::LOAD).bind(one.as_bytes().as_slice()),
                    many => DB::load_batch(many),
                };
                match query.fetch_all(&mut *connection).await {
                    Ok(rows) => {
                        // Each row under its token hash, so that a row that does not decode
                        // fails the loads of its own token only, not the others of its batch.
                        // A row whose hash does not decode fails the statement (no load could
                        // be told it is theirs); `token_hash IN (...)` matches only the 32-byte
                        // hashes it was given, so such a row is never found.
                        let found = |row| -> Result<Found, StoreError> {
                            Ok((token_hash_of::<DB>(row)?, decode::<DB>(row)))
                        };
                        let records = rows.iter().map(found).collect();
                        // Kept only while the pool can serve its other users without it.
                        let spare = self.pool.num_idle() > 0
                            || self.pool.size() < self.pool.options().get_max_connections();
                        return (records, spare.then_some(connection));
                    }
                    // A kept connection skipped the pool's check: whatever failed (the
                    // database restarted, say), the statement runs again on a fresh checkout,
                    // as it would have without keeping. Once: that one is not kept.
                    Err(_) if was_kept => continue,
                    Err(error) => return (Err(error.into()), None),
                }
            }
        };
        self.loads.load(*token_hash, fetch).await
    }

    async fn touch(
        &self,
        id: Uuid,
        refreshed_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = run_again_when_told(|| {
            sqlx::query(DB::TOUCH)
                .bind(DB::encode_time(refreshed_at))
                .bind(DB::encode_time(expires_at))
                .bind(DB::Id::from(id))
                .execute(&self.pool)
        })
        .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn update_data(
        &self,
        id: Uuid,
        expected_version: i64,
        data: &str,
    ) -> Result<bool, StoreError> {
        let done = run_again_when_told(|| {
            sqlx::query(DB::UPDATE_DATA)
                .bind(data)
                .bind(DB::Id::from(id))
                .bind(expected_version)
                .execute(&self.pool)
        })
        .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn reauthenticate(
        &self,
        id: Uuid,
        authenticated_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = run_again_when_told(|| {
            sqlx::query(DB::REAUTHENTICATE)
                .bind(DB::encode_time(authenticated_at))
                .bind(DB::Id::from(id))
                .execute(&self.pool)
        })
        .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn rotate(&self, id: Uuid, old: &TokenHash, new: &TokenHash) -> Result<bool, StoreError> {
        // Concurrent rotations of one session change a unique key of the same row, and InnoDB
        // may end one of them as a deadlock victim. The others go on and rotate the session,
        // so the victim's statement, run again, finds the old hash gone: "not rotated" (401),
        // not a store failure (503).
        let done = run_again_when_told(|| {
            sqlx::query(DB::ROTATE)
                .bind(new.as_bytes().as_slice())
                .bind(DB::Id::from(id))
                .bind(old.as_bytes().as_slice())
                .execute(&self.pool)
        })
        .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn delete(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        let done = run_again_when_told(|| {
            let query = sqlx::query(DB::DELETE).bind(DB::Id::from(id));
            bind_user_id(query, user_id).execute(&self.pool)
        })
        .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        // Run again like the single-session writes: a statement that waited for a row another
        // write changed fails under stricter isolation, and was rolled back whole.
        let done = run_again_when_told(|| {
            let query = match keep {
                None => bind_user_id(sqlx::query(DB::DELETE_USER), user_id),
                Some(keep) => bind_user_id(sqlx::query(DB::DELETE_USER_EXCEPT), user_id)
                    .bind(DB::Id::from(keep)),
            };
            query.execute(&self.pool)
        })
        .await?;
        Ok(DB::rows_affected(&done))
    }

    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        bind_user_id(sqlx::query(DB::LIST_USER), user_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::<DB>)
            .collect()
    }

    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        let done = run_again_when_told(|| {
            sqlx::query(DB::DELETE_EXPIRED)
                .bind(DB::encode_time(now))
                .bind(i64::from(batch))
                .execute(&self.pool)
        })
        .await?;
        Ok(DB::rows_affected(&done))
    }
}

/// Runs `statement` (one conditional write: an update or delete of one session, of a user's
/// sessions or of a batch of expired ones, which a failed run left undone) again while the database ends it as [`may_run_again`]
/// says, at most [`RETRIES`] times. Concurrent writes of one session (a page and its
/// requests extending it at once, two updates of one version) then each get their answer, not
/// a store failure, under stricter isolation than the servers' defaults too.
async fn run_again_when_told<T, F, Fut>(mut statement: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut retries = 0;
    loop {
        match statement().await {
            Err(e) if retries < RETRIES && may_run_again(&e) => retries += 1,
            result => return result,
        }
    }
}

/// A deadlock or serialization failure, after which the statement was rolled back and may
/// simply be run again: SQLSTATE 40001, PostgreSQL's 40P01, and MariaDB's error 1020 (SQLSTATE
/// HY000: "record has changed since last read", what a write that waited for a row gets under
/// `innodb_snapshot_isolation`, the default from MariaDB 11.6.2).
fn may_run_again(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    #[cfg(feature = "mysql")]
    if db
        .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .is_some_and(|mysql| mysql.number() == 1020)
    {
        return true;
    }
    db.code()
        .is_some_and(|code| code == "40001" || code == "40P01")
}

#[cfg(test)]
mod tests {
    use super::{COLUMN_NAMES, Column};

    /// `decode` reads by position: the names it reports must be the columns every `SELECT`
    /// lists, in the same order.
    #[test]
    fn the_decoded_positions_are_the_selected_columns() {
        assert_eq!(COLUMN_NAMES.join(", "), columns!());
        assert_eq!(Column::Persistent.name(), "persistent");
        assert_eq!(Column::AbsoluteExpiresAt.name(), "absolute_expires_at");
    }
}
