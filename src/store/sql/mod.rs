//! The SQL stores (SQLite, PostgreSQL, MySQL / MariaDB): one implementation over a dialect per
//! database, their migrations, the JWT revocation list in SQL, and the change feeds of the
//! databases that have one.

mod batching;
mod lease;
mod load_queue;
mod migrate;
mod store;

#[cfg(feature = "jwt")]
mod revocations;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql")]
mod mysql_feed;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_feed;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use batching::LoadBatching;
pub use migrate::MIGRATIONS_TABLE;
#[cfg(feature = "mysql")]
pub use mysql::MySqlStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use store::SqlStore;
