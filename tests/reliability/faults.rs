//! A store that is down, exhausted or slow answers 503 within the configured timeout — never
//! 200, never a hang — and the same process serves again once the database is back.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys, RevocationStore};
use sessionward::{SessionConfig, SessionLayer, SessionStore};

use crate::backends::{fresh_database, server_url};
use crate::control::{Outage, SERIAL, Server, app, call, enabled, login, until_status};

/// How long one store call may take in these tests.
const STORE_TIMEOUT: Duration = Duration::from_millis(1500);
/// An answer (503 included) must come within this.
const BOUND: Duration = Duration::from_secs(5);

/// A fresh database on `server` (Redis: the server; each store takes a key prefix of its own).
async fn database_url(server: Server) -> Option<String> {
    match server {
        Server::Redis => server_url(server.backend()),
        _ => fresh_database(server.backend()).await,
    }
}

/// A store on `server`'s fresh database, with a pool of `connections`.
async fn store(server: Server, url: &str, connections: u32) -> (Arc<dyn Handles>, Pool) {
    match server {
        #[cfg(feature = "postgres")]
        Server::Postgres => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await
                .expect("connect");
            let store = sessionward::PostgresStore::new(pool.clone());
            store.migrate().await.expect("migrate");
            (Arc::new(store), Pool::Postgres(pool))
        }
        #[cfg(feature = "mysql")]
        Server::MariaDb => {
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await
                .expect("connect");
            let store = sessionward::MySqlStore::new(pool.clone());
            store.migrate().await.expect("migrate");
            (Arc::new(store), Pool::MySql(pool))
        }
        #[cfg(feature = "redis")]
        Server::Redis => {
            let prefix = format!("sessionward_live_{}", uuid::Uuid::new_v4().simple());
            let store = sessionward::RedisStore::connect(url)
                .await
                .expect("connect")
                .key_prefix(prefix);
            (Arc::new(store), Pool::Redis)
        }
        #[allow(unreachable_patterns)]
        _ => unreachable!("fresh_database returned a URL for a backend built without its feature"),
    }
}

/// A store usable by both strategies.
trait Handles: SessionStore + RevocationStore {}
impl<T: SessionStore + RevocationStore> Handles for T {}

/// The pool behind a store, for holding its connections or locking its tables.
enum Pool {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    /// Redis has no pool to hold or table to lock.
    #[cfg(feature = "redis")]
    Redis,
}

fn database_layer(store: Arc<dyn Handles>) -> SessionLayer {
    let config = SessionConfig::default().store_timeout(STORE_TIMEOUT);
    SessionLayer::database(store, config)
}

fn jwt_layer(store: Arc<dyn Handles>) -> SessionLayer {
    let key = JwtKey::hs256("live", [9u8; 32]).expect("key");
    let jwt = JwtConfig::new(JwtKeys::new(key).expect("ring"), "live", "live")
        .revocation_refresh(Duration::from_millis(200))
        .revocation_max_staleness(Duration::from_secs(2));
    let config = SessionConfig::default().store_timeout(STORE_TIMEOUT);
    SessionLayer::jwt(jwt, store, config)
}

/// Every guarded path answers 503 within [`BOUND`] — never 200, never a hang.
async fn assert_fails_closed(app: &axum::Router, token: &str) {
    for (method, path) in [("GET", "/me"), ("GET", "/guarded"), ("POST", "/logout")] {
        let (status, _, took) = call(app, method, path, Some(token)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{method} {path}");
        assert!(took < BOUND, "{method} {path} took {took:?}");
        eprintln!("{method} {path}: 503 in {took:?}");
    }
}

async fn database_sessions_through_a_restart(server: Server) {
    if !enabled("database_sessions_through_a_restart") {
        return;
    }
    let _one_at_a_time = SERIAL.lock().await;
    let Some(url) = database_url(server).await else {
        return;
    };
    let (store, _pool) = store(server, &url, 5).await;
    let app = app(database_layer(store));
    let token = login(&app, "alice").await;
    until_status(&app, &token, StatusCode::OK, BOUND).await;

    let outage = Outage::begin(server);
    assert_fails_closed(&app, &token).await;
    let (status, _, took) = call(&app, "POST", "/login/bob", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "login while down");
    assert!(took < BOUND);
    drop(outage);

    // The same process serves again: the pool (or fred) reconnects by itself.
    if matches!(server, Server::Redis) {
        // Redis runs without persistence here (as CI starts it): its sessions died with it, so
        // the old cookie is "no session" once Redis answers again, and a new login works.
        until_status(
            &app,
            &token,
            StatusCode::UNAUTHORIZED,
            Duration::from_secs(30),
        )
        .await;
        let bob = login(&app, "bob").await;
        until_status(&app, &bob, StatusCode::OK, BOUND).await;
    } else {
        until_status(&app, &token, StatusCode::OK, Duration::from_secs(30)).await;
        login(&app, "bob").await;
    }
}

async fn jwt_sessions_through_a_restart(server: Server) {
    if !enabled("jwt_sessions_through_a_restart") {
        return;
    }
    let _one_at_a_time = SERIAL.lock().await;
    let Some(url) = database_url(server).await else {
        return;
    };
    let (store, _pool) = store(server, &url, 5).await;
    let app = app(jwt_layer(store));
    let token = login(&app, "alice").await;
    until_status(&app, &token, StatusCode::OK, BOUND).await;

    let outage = Outage::begin(server);
    // A logout that cannot be recorded is refused, not faked.
    let (status, cleared, took) = call(&app, "POST", "/logout", Some(&token)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "logout while down");
    assert!(cleared.is_none() && took < BOUND);
    // Past the staleness limit the old revocation list is not trusted any more.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_fails_closed(&app, &token).await;
    drop(outage);

    until_status(&app, &token, StatusCode::OK, Duration::from_secs(30)).await;
    let (status, _, _) = call(&app, "POST", "/logout", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    until_status(&app, &token, StatusCode::UNAUTHORIZED, BOUND).await;
}

async fn an_exhausted_pool_is_503_not_a_hang(server: Server) {
    if !enabled("an_exhausted_pool_is_503_not_a_hang") {
        return;
    }
    let _one_at_a_time = SERIAL.lock().await;
    let Some(url) = database_url(server).await else {
        return;
    };
    let (store, pool) = store(server, &url, 2).await;
    let app = app(database_layer(store));
    let token = login(&app, "alice").await;
    let held = match &pool {
        #[cfg(feature = "postgres")]
        Pool::Postgres(pool) => {
            let a = pool.acquire().await.expect("acquire");
            let b = pool.acquire().await.expect("acquire");
            Box::new((a, b)) as Box<dyn std::any::Any + Send>
        }
        #[cfg(feature = "mysql")]
        Pool::MySql(pool) => {
            let a = pool.acquire().await.expect("acquire");
            let b = pool.acquire().await.expect("acquire");
            Box::new((a, b)) as Box<dyn std::any::Any + Send>
        }
        #[cfg(feature = "redis")]
        Pool::Redis => unreachable!("not run on Redis: it has no pool to exhaust"),
    };
    assert_fails_closed(&app, &token).await;
    drop(held);
    until_status(&app, &token, StatusCode::OK, BOUND).await;
}

async fn a_locked_table_is_503_within_the_timeout(server: Server) {
    if !enabled("a_locked_table_is_503_within_the_timeout") {
        return;
    }
    let _one_at_a_time = SERIAL.lock().await;
    let Some(url) = database_url(server).await else {
        return;
    };
    let (store, pool) = store(server, &url, 5).await;
    let app = app(database_layer(store));
    let token = login(&app, "alice").await;
    match &pool {
        #[cfg(feature = "postgres")]
        Pool::Postgres(pool) => {
            let mut tx = pool.begin().await.expect("begin");
            sqlx::query("LOCK TABLE sessionward_sessions IN ACCESS EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .expect("lock");
            assert_fails_closed(&app, &token).await;
            tx.rollback().await.expect("unlock");
        }
        #[cfg(feature = "mysql")]
        Pool::MySql(pool) => {
            let mut conn = pool.acquire().await.expect("acquire");
            sqlx::query("LOCK TABLES sessionward_sessions WRITE")
                .execute(&mut *conn)
                .await
                .expect("lock");
            assert_fails_closed(&app, &token).await;
            sqlx::query("UNLOCK TABLES")
                .execute(&mut *conn)
                .await
                .expect("unlock");
        }
        #[cfg(feature = "redis")]
        Pool::Redis => unreachable!("not run on Redis: it has no table to lock"),
    }
    until_status(&app, &token, StatusCode::OK, BOUND).await;
}

macro_rules! on_servers {
    ($($test:ident),* $(,)?) => {
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::control::Server::Postgres).await;
                }
            )*
        }
        #[cfg(feature = "mysql")]
        mod mariadb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::control::Server::MariaDb).await;
                }
            )*
        }
    };
}

on_servers!(
    database_sessions_through_a_restart,
    jwt_sessions_through_a_restart,
    an_exhausted_pool_is_503_not_a_hang,
    a_locked_table_is_503_within_the_timeout,
);

/// A Redis Cluster master going down (the CI cluster has no replicas to fail over to): every
/// session check answers 503 or, for sessions on the nodes still up, 200, each within the bound,
/// never 401 and never a hang; once the cluster is back (rebuilt empty by `.ci/redis-cluster`:
/// no persistence) the same process serves again, with no restart of its own.
#[cfg(feature = "redis")]
async fn a_cluster_node_going_down_is_503_then_recovers() {
    if !enabled("a_cluster_node_going_down_is_503_then_recovers") {
        return;
    }
    let _one_at_a_time = SERIAL.lock().await;
    let Some(url) = server_url(crate::backends::Backend::RedisCluster) else {
        return;
    };
    let prefix = format!("sessionward_live_{}", uuid::Uuid::new_v4().simple());
    let store = sessionward::RedisStore::connect(&url)
        .await
        .expect("connect")
        .key_prefix(prefix);
    let app = app(database_layer(Arc::new(store)));
    let mut tokens = Vec::new();
    for i in 0..16 {
        tokens.push(login(&app, &format!("user-{i}")).await);
    }

    let outage = ClusterOutage::begin("7002");
    let mut unavailable = 0;
    for token in &tokens {
        let (status, _, took) = call(&app, "GET", "/me", Some(token)).await;
        assert!(
            matches!(status, StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE),
            "{status} with a node down"
        );
        assert!(took < BOUND, "took {took:?}");
        unavailable += usize::from(status == StatusCode::SERVICE_UNAVAILABLE);
    }
    // 16 sessions, a third of the slots on the stopped node: some of them live there.
    assert!(unavailable > 0, "no session check needed the stopped node");
    eprintln!("a node down: {unavailable} of 16 session checks answered 503");
    drop(outage);

    // Back (and empty): the old sessions are gone (401), new ones work.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let fresh = loop {
        let (status, token, _) = call(&app, "POST", "/login/after", None).await;
        if status == StatusCode::OK {
            break token.expect("cookie");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no login after the outage: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    until_status(&app, &fresh, StatusCode::OK, BOUND).await;
    for token in &tokens {
        until_status(&app, token, StatusCode::UNAUTHORIZED, BOUND).await;
    }
}

/// One node of the test cluster stopped; the cluster is brought back (by `.ci/redis-cluster`)
/// when dropped, so a failing test never leaves it down.
#[cfg(feature = "redis")]
struct ClusterOutage;

#[cfg(feature = "redis")]
impl ClusterOutage {
    fn begin(port: &str) -> Self {
        let _ = std::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", port, "shutdown", "nosave"])
            .output();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", port, "ping"])
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"PONG"))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "node {port} did not stop"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        ClusterOutage
    }
}

#[cfg(feature = "redis")]
impl Drop for ClusterOutage {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/redis-cluster");
        let ok = std::process::Command::new("bash")
            .arg(script)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok || std::thread::panicking(),
            "{script} could not bring the cluster back"
        );
    }
}

// Redis stopped and started again: 503 while it is down (fail closed, never a hang), then the
// same process serves again once fred has reconnected.
#[cfg(feature = "redis")]
mod redis {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cluster_node_going_down_is_503_then_recovers() {
        super::a_cluster_node_going_down_is_503_then_recovers().await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn database_sessions_through_a_restart() {
        super::database_sessions_through_a_restart(crate::control::Server::Redis).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jwt_sessions_through_a_restart() {
        super::jwt_sessions_through_a_restart(crate::control::Server::Redis).await;
    }
}
