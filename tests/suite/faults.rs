//! A store that is down answers 503 within the configured timeout: never 200, never a hang,
//! never a request let through as anonymous.

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use sessionward::{
    Session, SessionConfig, SessionLayer, SessionStore, SessionToken, require_session,
};
use tower::ServiceExt as _;

use crate::support::{Data, request};

fn app(store: impl SessionStore) -> Router {
    let config = SessionConfig::default().store_timeout(Duration::from_millis(1500));
    Router::new()
        .route("/guarded", get(|| async { "let through" }))
        .route_layer(require_session())
        .route(
            "/me",
            get(|s: Session<Data>| async move { s.user_id().to_owned() }),
        )
        .route(
            "/maybe",
            get(|s: Option<Session<Data>>| async move { format!("{}", s.is_some()) }),
        )
        .layer(SessionLayer::database(store, config))
}

async fn assert_fails_closed(app: Router) {
    let token = SessionToken::generate();
    for path in ["/guarded", "/me", "/maybe"] {
        let started = Instant::now();
        let res = app
            .clone()
            .oneshot(request("GET", path, Some(token.as_str())))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path} took {:?}",
            started.elapsed()
        );
        assert!(
            res.headers().get_all("set-cookie").iter().next().is_none(),
            "an unanswered check must not clear the cookie"
        );
    }
}

#[tokio::test]
async fn closed_sqlite_pool_is_503() {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .connect("sqlite::memory:")
        .await
        .unwrap();
    let store = sessionward::SqliteStore::new(pool.clone());
    store.migrate().await.unwrap();
    pool.close().await;
    assert_fails_closed(app(store)).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn unreachable_postgres_is_503_within_the_timeout() {
    // Nothing listens on port 1: every connection attempt fails.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(30))
        .connect_lazy("postgres://postgres@127.0.0.1:1/test")
        .unwrap();
    assert_fails_closed(app(sessionward::PostgresStore::new(pool))).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn unreachable_mysql_is_503_within_the_timeout() {
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .acquire_timeout(Duration::from_secs(30))
        .connect_lazy("mysql://root@127.0.0.1:1/test")
        .unwrap();
    assert_fails_closed(app(sessionward::MySqlStore::new(pool))).await;
}
