//! sessionward contenders: JWT sessions, and database sessions on SQLite, PostgreSQL, MySQL and
//! PostgreSQL with the in-process session cache. Wired as the crate's README shows, with
//! `Secure` off (plain http) and everything else at its default.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
use sessionward::{
    Clock, LoadBatching, MySqlStore, PostgresStore, RedisStore, Session, SessionConfig,
    SessionLayer, Sessions, SqliteStore, spawn_cleanup,
};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::Contender;
use super::serve::{CLEANUP_PERIOD, DB_IDLE_TIMEOUT, DB_POOL_SIZE, LoginForm, ServeArgs, me_body};
use crate::counting::{CountedStore, Counters};

/// The session data every contender keeps: a counter `/update` increments.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Data {
    counter: u64,
}

/// How long the cached contender serves a session from memory before reading it again: the
/// same staleness bound as the JWT strategy's default revocation refresh (5 s).
const CACHE_TTL: Duration = Duration::from_secs(5);

/// The cached contender's configuration: the one place to change when the cache API changes.
fn cached(config: SessionConfig) -> SessionConfig {
    config.cache(sessionward::SessionCache::new(CACHE_TTL))
}

/// The load batching `--max-in-flight` asks for, or the crate's default.
fn batching(args: &ServeArgs) -> LoadBatching {
    args.max_in_flight.map_or_else(LoadBatching::default, |n| {
        LoadBatching::new(n, LoadBatching::MAX_BATCH)
    })
}

/// The application for `args.contender`, one of the sessionward contenders.
pub async fn app(args: &ServeArgs, counters: &Arc<Counters>) -> Result<Router, String> {
    let config = SessionConfig::default().secure(false);
    let layer = match args.contender {
        Contender::SessionwardJwt => {
            let store = counted(postgres(args.db_url()?).await?, counters);
            let key = JwtKey::hs256("bench", [42u8; 32]).map_err(|e| e.to_string())?;
            let keys = JwtKeys::new(key).map_err(|e| e.to_string())?;
            let jwt = JwtConfig::new(keys, "sessionward-bench", "sessionward-bench");
            SessionLayer::jwt(jwt, store, config)
        }
        Contender::SessionwardSqlite => database(sqlite(args.db_url()?).await?, counters, config),
        Contender::SessionwardPg => {
            let store = postgres(args.db_url()?).await?;
            database(store.load_batching(batching(args)), counters, config)
        }
        Contender::SessionwardPgUnbatched => {
            let store = postgres(args.db_url()?).await?;
            database(store.load_batching(LoadBatching::off()), counters, config)
        }
        Contender::SessionwardMysql => {
            let store = mysql(args.db_url()?).await?;
            database(store.load_batching(batching(args)), counters, config)
        }
        Contender::SessionwardMysqlUnbatched => {
            let store = mysql(args.db_url()?).await?;
            database(store.load_batching(LoadBatching::off()), counters, config)
        }
        Contender::SessionwardRedis => {
            let prefix = args.key_prefix.as_deref().unwrap_or("sessionward_bench");
            database(redis(args.db_url()?, prefix).await?, counters, config)
        }
        Contender::SessionwardPgCached => {
            database(postgres(args.db_url()?).await?, counters, cached(config))
        }
        other => return Err(format!("{} is not a sessionward contender", other.name())),
    };
    Ok(Router::new()
        .route("/me", get(me))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/update", post(update))
        .layer(layer))
}

fn counted<S>(store: S, counters: &Arc<Counters>) -> CountedStore<S> {
    CountedStore::new(store, counters.clone())
}

/// Database sessions on `store`, with the README's cleanup task.
///
/// Only the layer's calls are counted: the cleanup task's deletes are not made by any request,
/// and one that fell inside a slice would otherwise show up as a store write per read request.
fn database<S: sessionward::SessionStore + Clone>(
    store: S,
    counters: &Arc<Counters>,
    config: SessionConfig,
) -> SessionLayer {
    // The handle is dropped: the task runs as long as the process.
    drop(spawn_cleanup(
        store.clone(),
        Clock::system(),
        CLEANUP_PERIOD,
        1_000,
    ));
    SessionLayer::database(counted(store, counters), config)
}

async fn postgres(url: &str) -> Result<PostgresStore, String> {
    let pool = PgPoolOptions::new()
        .max_connections(DB_POOL_SIZE)
        .idle_timeout(DB_IDLE_TIMEOUT)
        .connect(url)
        .await
        .map_err(|e| format!("PostgreSQL: {e}"))?;
    let store = PostgresStore::new(pool);
    store.migrate().await.map_err(|e| format!("migrate: {e}"))?;
    Ok(store)
}

async fn mysql(url: &str) -> Result<MySqlStore, String> {
    let pool = MySqlPoolOptions::new()
        .max_connections(DB_POOL_SIZE)
        .idle_timeout(DB_IDLE_TIMEOUT)
        .connect(url)
        .await
        .map_err(|e| format!("MySQL: {e}"))?;
    let store = MySqlStore::new(pool);
    store.migrate().await.map_err(|e| format!("migrate: {e}"))?;
    Ok(store)
}

async fn redis(url: &str, prefix: &str) -> Result<RedisStore, String> {
    let store = RedisStore::connect(url)
        .await
        .map_err(|e| format!("Redis: {e}"))?;
    Ok(store.key_prefix(prefix))
}

/// A SQLite file, created if missing, through sqlx's default pool (as the demo does).
async fn sqlite(path: &str) -> Result<SqliteStore, String> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
        .map_err(|e| format!("SQLite: {e}"))?
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .map_err(|e| format!("SQLite: {e}"))?;
    let store = SqliteStore::new(pool);
    store.migrate().await.map_err(|e| format!("migrate: {e}"))?;
    Ok(store)
}

async fn me(session: Session<Data>) -> Json<serde_json::Value> {
    me_body(session.user_id())
}

async fn login(
    sessions: Sessions,
    Form(form): Form<LoginForm>,
) -> Result<&'static str, sessionward::Error> {
    sessions.login(form.user_id, &Data::default()).await?;
    Ok("ok")
}

async fn logout(sessions: Sessions) -> Result<&'static str, sessionward::Error> {
    sessions.logout().await?;
    Ok("ok")
}

async fn update(sessions: Sessions) -> Result<&'static str, sessionward::Error> {
    sessions.modify(|data: &mut Data| data.counter += 1).await?;
    Ok("ok")
}
