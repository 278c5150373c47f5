//! Picks the session store from `DATABASE_URL`: SQLite (default), PostgreSQL, MySQL/MariaDB,
//! Redis or Redis Cluster.

use std::sync::Arc;

use sessionward::SessionStore;
use sessionward::jwt::RevocationStore;

/// Used when `DATABASE_URL` is not set: a SQLite file in the working directory.
pub const DEFAULT_URL: &str = "sqlite://sessionward-demo.db";

/// One database, seen as the session store (database strategy) and as the revocation list
/// (JWT strategy).
#[derive(Clone)]
pub struct Store {
    pub sessions: Arc<dyn SessionStore>,
    pub revocations: Arc<dyn RevocationStore>,
}

impl Store {
    fn of<S: SessionStore + RevocationStore + Clone>(store: S) -> Self {
        Store {
            sessions: Arc::new(store.clone()),
            revocations: Arc::new(store),
        }
    }
}

/// Connects, creates or upgrades the sessions table, and names the backend for the start-up
/// line. Error messages never repeat the URL, which may hold a password.
pub async fn connect(url: &str) -> Result<(Store, &'static str), String> {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .unwrap_or_default();
    match scheme.as_str() {
        "sqlite" => sqlite(url).await,
        "postgres" | "postgresql" => postgres(url).await,
        "mysql" | "mariadb" => mysql(url).await,
        "redis" | "rediss" | "redis-cluster" | "rediss-cluster" => redis(url).await,
        _ => Err(
            "DATABASE_URL must start with sqlite:, postgres://, mysql://, redis:// or \
             redis-cluster:// (unset, it defaults to sqlite://sessionward-demo.db)"
                .to_owned(),
        ),
    }
}

/// The error and its causes on one line: "the backend failed: connection refused".
#[cfg_attr(
    not(any(
        feature = "sqlite",
        feature = "postgres",
        feature = "mysql",
        feature = "redis"
    )),
    allow(dead_code)
)]
fn failed(backend: &str, e: impl std::error::Error) -> String {
    let mut message = format!("cannot open the {backend} session store: {e}");
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors already repeat their cause in their own message.
        if !message.contains(&cause_text) {
            message.push_str(": ");
            message.push_str(&cause_text);
        }
        source = cause.source();
    }
    message
}

#[cfg_attr(
    all(
        feature = "sqlite",
        feature = "postgres",
        feature = "mysql",
        feature = "redis"
    ),
    allow(dead_code)
)]
fn missing_feature(backend: &str, feature: &str) -> String {
    format!(
        "DATABASE_URL points to {backend}, but this build has no {backend} support: \
         run `cargo run --example demo --features {feature}`"
    )
}

#[cfg(feature = "sqlite")]
async fn sqlite(url: &str) -> Result<(Store, &'static str), String> {
    use std::str::FromStr as _;

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    // Create the file when it does not exist, with or without `?mode=rwc` in the URL.
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| failed("SQLite", e))?
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .map_err(|e| failed("SQLite", e))?;
    let store = sessionward::SqliteStore::new(pool);
    store.migrate().await.map_err(|e| failed("SQLite", e))?;
    Ok((Store::of(store), "SQLite"))
}

#[cfg(not(feature = "sqlite"))]
async fn sqlite(_: &str) -> Result<(Store, &'static str), String> {
    Err(missing_feature("SQLite", "sqlite"))
}

#[cfg(feature = "postgres")]
async fn postgres(url: &str) -> Result<(Store, &'static str), String> {
    let pool = sqlx::PgPool::connect(url)
        .await
        .map_err(|e| failed("PostgreSQL", e))?;
    let store = sessionward::PostgresStore::new(pool);
    store.migrate().await.map_err(|e| failed("PostgreSQL", e))?;
    Ok((Store::of(store), "PostgreSQL"))
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_: &str) -> Result<(Store, &'static str), String> {
    Err(missing_feature("PostgreSQL", "postgres"))
}

#[cfg(feature = "mysql")]
async fn mysql(url: &str) -> Result<(Store, &'static str), String> {
    let pool = sqlx::MySqlPool::connect(url)
        .await
        .map_err(|e| failed("MySQL", e))?;
    let store = sessionward::MySqlStore::new(pool);
    store.migrate().await.map_err(|e| failed("MySQL", e))?;
    Ok((Store::of(store), "MySQL"))
}

#[cfg(not(feature = "mysql"))]
async fn mysql(_: &str) -> Result<(Store, &'static str), String> {
    Err(missing_feature("MySQL", "mysql"))
}

/// `redis://host:port`, or a cluster: `redis-cluster://host:port?node=host:port&node=...`.
#[cfg(feature = "redis")]
async fn redis(url: &str) -> Result<(Store, &'static str), String> {
    let store = sessionward::RedisStore::connect(url)
        .await
        .map_err(|e| failed("Redis", e))?;
    let backend = if url.contains("-cluster") {
        "Redis Cluster"
    } else {
        "Redis"
    };
    Ok((Store::of(store), backend))
}

#[cfg(not(feature = "redis"))]
async fn redis(_: &str) -> Result<(Store, &'static str), String> {
    Err(missing_feature("Redis", "redis"))
}
