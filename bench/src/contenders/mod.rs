//! The contenders: one Axum application each, all serving the same routes.
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /me` | `{"user_id": "..."}` from the session, 401 without one |
//! | `POST /login` | form `user_id=...`: starts a session (cookie set) |
//! | `POST /logout` | ends the session |
//! | `POST /update` | increments a counter in the session data |
//! | `GET /__stats` | store calls so far, outside the session layer: `{"reads":N,"writes":N}` |
//!
//! Each contender runs in its own process (`sessionward-bench serve <name> ...`), so contenders
//! share no allocator, runtime or connection pool.

mod axum_session;
mod bare;
mod serve;
mod sessionward;
mod tower_sessions;

pub use serve::{ServeArgs, serve};

/// Where a contender keeps its sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// No store (bare Axum) or an in-process store.
    None,
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database of its own.
    Postgres,
    /// A MySQL / MariaDB database of its own.
    MySql,
    /// Keys under a prefix of its own on the Redis server.
    Redis,
}

/// The shape of a contender's sessions table, for the filler rows of large populations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableShape {
    /// `sessionward_sessions` (migrations/postgres).
    Sessionward,
    /// `tower_sessions.session` (tower-sessions-sqlx-store).
    TowerSessions,
    /// `sessions` (axum_session_sqlx).
    AxumSession,
}

/// One application under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Contender {
    /// Axum with no session layer: the ceiling.
    Bare,
    /// Bare Axum whose clients also carry a cookie as long as a JWT session's.
    BareJwtSized,
    /// sessionward, JWT strategy, revocation list in PostgreSQL.
    SessionwardJwt,
    /// sessionward, database strategy, SQLite.
    SessionwardSqlite,
    /// sessionward, database strategy, PostgreSQL.
    SessionwardPg,
    /// sessionward, database strategy, PostgreSQL, load batching off.
    SessionwardPgUnbatched,
    /// sessionward, database strategy, MySQL / MariaDB.
    SessionwardMysql,
    /// sessionward, database strategy, MySQL / MariaDB, load batching off.
    SessionwardMysqlUnbatched,
    /// sessionward, database strategy, PostgreSQL, with its in-process session cache.
    SessionwardPgCached,
    /// sessionward, database strategy, Redis (single node).
    SessionwardRedis,
    /// tower-sessions with its `MemoryStore`.
    TowerSessionsMemory,
    /// tower-sessions with tower-sessions-sqlx-store on PostgreSQL.
    TowerSessionsPg,
    /// tower-sessions, sqlx store on PostgreSQL behind a moka cache (`CachingSessionStore`).
    TowerSessionsPgMoka,
    /// axum_session with axum_session_sqlx on PostgreSQL.
    AxumSessionPg,
}

impl Contender {
    /// Every contender, in report order.
    pub const ALL: [Contender; 14] = [
        Contender::Bare,
        Contender::BareJwtSized,
        Contender::SessionwardJwt,
        Contender::SessionwardSqlite,
        Contender::SessionwardPg,
        Contender::SessionwardPgUnbatched,
        Contender::SessionwardMysql,
        Contender::SessionwardMysqlUnbatched,
        Contender::SessionwardPgCached,
        Contender::SessionwardRedis,
        Contender::TowerSessionsMemory,
        Contender::TowerSessionsPg,
        Contender::TowerSessionsPgMoka,
        Contender::AxumSessionPg,
    ];

    /// The name used in flags, the report and `results.json`.
    pub fn name(self) -> &'static str {
        match self {
            Contender::Bare => "bare",
            Contender::BareJwtSized => "bare-jwt-sized",
            Contender::SessionwardJwt => "sessionward-jwt",
            Contender::SessionwardSqlite => "sessionward-sqlite",
            Contender::SessionwardPg => "sessionward-pg",
            Contender::SessionwardPgUnbatched => "sessionward-pg-unbatched",
            Contender::SessionwardMysql => "sessionward-mysql",
            Contender::SessionwardMysqlUnbatched => "sessionward-mysql-unbatched",
            Contender::SessionwardPgCached => "sessionward-pg-cached",
            Contender::SessionwardRedis => "sessionward-redis",
            Contender::TowerSessionsMemory => "tower-sessions-memory",
            Contender::TowerSessionsPg => "tower-sessions-pg",
            Contender::TowerSessionsPgMoka => "tower-sessions-pg-moka",
            Contender::AxumSessionPg => "axum-session-pg",
        }
    }

    /// The contender named `name`.
    pub fn parse(name: &str) -> Result<Self, String> {
        Contender::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Contender::ALL.iter().map(|c| c.name()).collect();
                format!("unknown contender {name:?}: {}", names.join(", "))
            })
    }

    /// How it is configured, for `--list`, the README and the report.
    pub fn description(self) -> &'static str {
        match self {
            Contender::Bare => "Axum, no session layer; `/me` echoes a plain cookie (the ceiling)",
            Contender::BareJwtSized => {
                "bare, with a second cookie that makes each request as long as sessionward-jwt's \
                 (what the token's bytes alone cost)"
            }
            Contender::SessionwardJwt => {
                "sessionward `SessionLayer::jwt`, HS256, revocation list in PostgreSQL (`PostgresStore`)"
            }
            Contender::SessionwardSqlite => {
                "sessionward `SessionLayer::database` on `SqliteStore` (file, sqlx default pool)"
            }
            Contender::SessionwardPg => "sessionward `SessionLayer::database` on `PostgresStore`",
            Contender::SessionwardPgUnbatched => {
                "sessionward-pg with `LoadBatching::off()`: every session load its own statement"
            }
            Contender::SessionwardMysql => "sessionward `SessionLayer::database` on `MySqlStore`",
            Contender::SessionwardMysqlUnbatched => {
                "sessionward-mysql with `LoadBatching::off()`: every session load its own statement"
            }
            Contender::SessionwardPgCached => {
                "sessionward `SessionLayer::database` on `PostgresStore` with its in-process session cache"
            }
            Contender::SessionwardRedis => {
                "sessionward `SessionLayer::database` on `RedisStore` (single Redis node, one fred connection)"
            }
            Contender::TowerSessionsMemory => {
                "tower-sessions 0.14 `SessionManagerLayer` on `MemoryStore`"
            }
            Contender::TowerSessionsPg => {
                "tower-sessions 0.14 on tower-sessions-sqlx-store 0.15 `PostgresStore` (sqlx 0.8)"
            }
            Contender::TowerSessionsPgMoka => {
                "tower-sessions 0.14, `CachingSessionStore<MokaStore, PostgresStore>` (moka capacity 100,000)"
            }
            Contender::AxumSessionPg => {
                "axum_session 0.22 on axum_session_sqlx 0.12 `SessionPgPool` (its DashMap memory layer in front)"
            }
        }
    }

    /// Where its sessions live.
    pub fn backend(self) -> Backend {
        match self {
            Contender::Bare | Contender::BareJwtSized | Contender::TowerSessionsMemory => {
                Backend::None
            }
            Contender::SessionwardSqlite => Backend::Sqlite,
            Contender::SessionwardMysql | Contender::SessionwardMysqlUnbatched => Backend::MySql,
            Contender::SessionwardRedis => Backend::Redis,
            Contender::SessionwardJwt
            | Contender::SessionwardPg
            | Contender::SessionwardPgUnbatched
            | Contender::SessionwardPgCached
            | Contender::TowerSessionsPg
            | Contender::TowerSessionsPgMoka
            | Contender::AxumSessionPg => Backend::Postgres,
        }
    }

    /// The shape of its PostgreSQL sessions table, when a large population applies to it.
    pub fn table_shape(self) -> Option<TableShape> {
        match self {
            Contender::SessionwardPg | Contender::SessionwardPgCached => {
                Some(TableShape::Sessionward)
            }
            Contender::TowerSessionsPg | Contender::TowerSessionsPgMoka => {
                Some(TableShape::TowerSessions)
            }
            Contender::AxumSessionPg => Some(TableShape::AxumSession),
            _ => None,
        }
    }

    /// Its database's name, for contenders with a database server.
    pub fn database(self) -> Option<String> {
        let slug = match self {
            Contender::SessionwardJwt => "sw_jwt",
            Contender::SessionwardPg => "sw_pg",
            Contender::SessionwardPgUnbatched => "sw_pg_unbatched",
            Contender::SessionwardMysql => "sw_mysql",
            Contender::SessionwardMysqlUnbatched => "sw_mysql_unbatched",
            Contender::SessionwardPgCached => "sw_pg_cached",
            Contender::SessionwardRedis => "sw_redis",
            Contender::TowerSessionsPg => "ts_pg",
            Contender::TowerSessionsPgMoka => "ts_pg_moka",
            Contender::AxumSessionPg => "as_pg",
            _ => return None,
        };
        Some(format!("sessionward_bench_{slug}"))
    }
}
