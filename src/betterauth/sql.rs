//! What differs between the databases Better Auth's tables live in: identifier quoting,
//! placeholders, how a column becomes text or a time, and one runner per sqlx pool.
//!
//! Every value comes back either as text (strings, numbers, booleans and JSON, parsed by the
//! field's declared type) or as microseconds since the Unix epoch (times), computed by the
//! database from the column, so that no time depends on a session's time zone or date style.
//! Better Auth stores times as `timestamptz` on PostgreSQL, `timestamp(3)` on MySQL and ISO
//! strings on SQLite; on SQLite an ORM may store integers instead (see [`Dialect::micros`]).

use async_trait::async_trait;
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Row as _};
use time::OffsetDateTime;

/// The SQL dialect of a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    #[cfg(feature = "postgres")]
    Postgres,
    #[cfg(feature = "mysql")]
    MySql,
    #[cfg(feature = "sqlite")]
    Sqlite,
}

impl Dialect {
    /// `name`, one identifier, quoted.
    fn quote_one(self, name: &str) -> String {
        match self {
            #[cfg(feature = "mysql")]
            Dialect::MySql => format!("`{name}`"),
            #[allow(unreachable_patterns)]
            _ => format!("\"{name}\""),
        }
    }

    /// A column name checked and quoted.
    ///
    /// # Panics
    ///
    /// Unless `name` is one identifier (see [`is_identifier`]).
    pub(crate) fn column(self, name: &str) -> String {
        assert!(
            is_identifier(name),
            "sessionward: Better Auth column name {name:?} is not an identifier \
             ([A-Za-z_][A-Za-z0-9_]*, at most 63 bytes)"
        );
        self.quote_one(name)
    }

    /// A table name checked and quoted, optionally schema-qualified (`auth.user`).
    ///
    /// # Panics
    ///
    /// Unless `name` is one identifier, or two joined by a dot.
    pub(crate) fn table(self, name: &str) -> String {
        let parts: Vec<&str> = name.split('.').collect();
        assert!(
            parts.len() <= 2 && parts.iter().all(|p| is_identifier(p)),
            "sessionward: Better Auth table name {name:?} is not an identifier \
             ([A-Za-z_][A-Za-z0-9_]*, optionally schema-qualified)"
        );
        parts
            .iter()
            .map(|p| self.quote_one(p))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The `n`-th (from 1) placeholder.
    #[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
    pub(crate) fn param(self, n: usize) -> String {
        match self {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => format!("${n}"),
            // Numbered, so that one statement may use a value twice.
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => format!("?{n}"),
            #[allow(unreachable_patterns)]
            _ => "?".to_owned(),
        }
    }

    /// `expr` as text.
    pub(crate) fn text(self, expr: &str) -> String {
        match self {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => format!("({expr})::text"),
            #[cfg(feature = "mysql")]
            Dialect::MySql => format!("CAST({expr} AS CHAR CHARACTER SET utf8mb4)"),
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => format!("CAST({expr} AS TEXT)"),
        }
    }

    /// The column `expr` as compared with a text parameter, so that an index on it still
    /// serves: PostgreSQL compares only like types (`::text`, which on a `text` column is no
    /// conversion at all); MySQL and SQLite convert the parameter to the column's type.
    pub(crate) fn key(self, expr: &str) -> String {
        match self {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => self.text(expr),
            #[allow(unreachable_patterns)]
            _ => expr.to_owned(),
        }
    }

    /// The time in `expr` as whole microseconds since the Unix epoch (`int8`).
    pub(crate) fn micros(self, expr: &str) -> String {
        match self {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => format!("(extract(epoch FROM {expr}) * 1000000)::int8"),
            // Counted from the epoch in the session's zone, which sqlx sets to UTC: a
            // `timestamp` is read in that zone, a `datetime` is kept in it. Not
            // `UNIX_TIMESTAMP`, which is `NULL` (MariaDB) or 0 (MySQL) outside 1970 to 2038,
            // where a `datetime(3)` (Prisma's, Drizzle's) may well be.
            #[cfg(feature = "mysql")]
            Dialect::MySql => {
                format!("TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {expr})")
            }
            // An ISO string with milliseconds, as JavaScript writes a `Date` (Better Auth's own
            // adapter, Prisma's driver adapters); or an integer, as Prisma's own SQLite
            // connector (milliseconds) and Drizzle's `integer({ mode: "timestamp" })`
            // (seconds) or `"timestamp_ms"` store one: an integer of at least 10^11 in
            // magnitude is milliseconds (every date from March 1973 on), a smaller one seconds.
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => format!(
                "CASE WHEN typeof({expr}) = 'integer' THEN \
                 CASE WHEN abs({expr}) >= {SQLITE_MILLIS_FROM} THEN {expr} * 1000 \
                 ELSE {expr} * 1000000 END \
                 ELSE CAST(ROUND(unixepoch({expr}, 'subsec') * 1000) AS INTEGER) * 1000 END"
            ),
        }
    }

    /// A time to write, as Better Auth writes it on this database (whole milliseconds), for
    /// [`stored_time`](Self::stored_time).
    pub(crate) fn time(self, t: OffsetDateTime) -> Bind {
        let t = crate::clock::truncate_to_millis(t);
        match self {
            // Milliseconds since the epoch: `stored_time` writes them in the column's form.
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => Bind::Int(crate::clock::unix_micros(t) / 1_000),
            #[allow(unreachable_patterns)]
            _ => Bind::Time(t),
        }
    }

    /// What `SET column = ...` writes for the [`time`](Self::time) bound at placeholder `n`:
    /// on SQLite the form the column holds now ([`micros`](Self::micros) reads every one), so
    /// that the application's ORM still reads what the layer wrote.
    pub(crate) fn stored_time(self, column: &str, n: usize) -> String {
        let time = self.param(n);
        match self {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => format!(
                "CASE WHEN typeof({column}) = 'integer' THEN \
                 CASE WHEN abs({column}) >= {SQLITE_MILLIS_FROM} THEN {time} \
                 ELSE {time} / 1000 END \
                 ELSE strftime('%Y-%m-%dT%H:%M:%fZ', {time} / 1000.0, 'unixepoch') END"
            ),
            #[allow(unreachable_patterns)]
            _ => time,
        }
    }
}

/// The smallest magnitude of an integer time that SQLite columns hold in milliseconds: 10^11,
/// as milliseconds 1973-03-03, as seconds the year 5138. Smaller integers are seconds.
#[cfg(feature = "sqlite")]
const SQLITE_MILLIS_FROM: i64 = 100_000_000_000;

/// `[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes (PostgreSQL silently truncates longer names).
fn is_identifier(part: &str) -> bool {
    let mut bytes = part.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && part.len() <= 63
}

/// A value bound to a statement.
#[derive(Clone, Debug)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    Time(OffsetDateTime),
}

/// How a selected column is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Int,
}

/// A column read as its [`Kind`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
}

/// Runs the strategy's statements on one pool.
#[async_trait]
pub(crate) trait Runner: Send + Sync + 'static {
    /// The rows of `sql`, each column read as `kinds` says.
    async fn rows(
        &self,
        sql: &str,
        binds: &[Bind],
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Cell>>, sqlx::Error>;

    /// How many rows `sql` changed.
    async fn execute(&self, sql: &str, binds: &[Bind]) -> Result<u64, sqlx::Error>;
}

/// The one [`Runner`] implementation, for each sqlx pool (sqlx has no trait for a statement's
/// row count, so the body is written once here and stamped out per database).
macro_rules! runner {
    ($feature:literal, $pool:ty, $db:ty, $dialect:expr) => {
        #[cfg(feature = $feature)]
        #[async_trait]
        impl Runner for $pool {
            async fn rows(
                &self,
                sql: &str,
                binds: &[Bind],
                kinds: &[Kind],
            ) -> Result<Vec<Vec<Cell>>, sqlx::Error> {
                let rows = bound::<$db>(sql, binds).fetch_all(self).await?;
                rows.iter()
                    .map(|row| {
                        kinds
                            .iter()
                            .enumerate()
                            .map(|(i, kind)| {
                                Ok(match kind {
                                    Kind::Text => Cell::Text(row.try_get(i)?),
                                    Kind::Int => Cell::Int(row.try_get(i)?),
                                })
                            })
                            .collect()
                    })
                    .collect()
            }

            async fn execute(&self, sql: &str, binds: &[Bind]) -> Result<u64, sqlx::Error> {
                let done = bound::<$db>(sql, binds).execute(self).await?;
                Ok(done.rows_affected())
            }
        }

        #[cfg(feature = $feature)]
        impl From<$pool> for super::BetterAuthPool {
            fn from(pool: $pool) -> Self {
                Self {
                    dialect: $dialect,
                    runner: std::sync::Arc::new(pool),
                }
            }
        }
    };
}

/// `sql` with `binds` bound in order.
fn bound<'q, DB>(sql: &'q str, binds: &'q [Bind]) -> Query<'q, DB, DB::Arguments>
where
    DB: sqlx::Database,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    OffsetDateTime: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    binds
        .iter()
        .fold(sqlx::query(AssertSqlSafe(sql)), |query, bind| match bind {
            Bind::Text(text) => query.bind(text.as_str()),
            Bind::Int(n) => query.bind(*n),
            Bind::Time(t) => query.bind(*t),
        })
}

runner!("postgres", sqlx::PgPool, sqlx::Postgres, Dialect::Postgres);
runner!("mysql", sqlx::MySqlPool, sqlx::MySql, Dialect::MySql);
runner!("sqlite", sqlx::SqlitePool, sqlx::Sqlite, Dialect::Sqlite);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked_and_quoted() {
        #[cfg(feature = "sqlite")]
        {
            let d = Dialect::Sqlite;
            assert_eq!(d.table("user"), "\"user\"");
            assert_eq!(d.table("auth.user_2"), "\"auth\".\"user_2\"");
            assert_eq!(d.column("emailVerified"), "\"emailVerified\"");
            assert_eq!(d.param(3), "?3");
        }
        #[cfg(feature = "mysql")]
        assert_eq!(Dialect::MySql.table("auth.user"), "`auth`.`user`");
        #[cfg(feature = "postgres")]
        assert_eq!(Dialect::Postgres.param(3), "$3");
        for bad in [
            "",
            "a.b.c",
            "1user",
            "user; DROP TABLE session",
            "us\"er",
            "us`er",
            "séance",
            &"a".repeat(64),
        ] {
            assert!(!bad.split('.').all(is_identifier) || bad.split('.').count() > 2);
        }
        assert!(is_identifier(&"a".repeat(63)));
    }
}
