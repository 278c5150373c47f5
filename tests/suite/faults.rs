//! A store that is down answers 503 within the configured timeout: never 200, never a hang,
//! never a request let through as anonymous.

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use sessionward::{
    Session, SessionConfig, SessionLayer, SessionStore, SessionToken, Sessions, require_role,
    require_session,
};
use tower::ServiceExt as _;

use crate::support::{Data, request};

/// The routes: `/me` (extractor), `/maybe` (optional extractor), `/guarded` and `/admin`
/// (guards), `/login` (logs in a plain "user"). Shared with `rejections`.
pub(crate) fn routes() -> Router {
    Router::new()
        .route("/guarded", get(|| async { "let through" }))
        .route_layer(require_session())
        .merge(
            Router::new()
                .route("/admin", get(|| async { "admin" }))
                .route_layer(require_role::<Data>("admin")),
        )
        .route(
            "/me",
            get(|s: Session<Data>| async move { s.user_id().to_owned() }),
        )
        .route(
            "/maybe",
            get(|s: Option<Session<Data>>| async move { format!("{}", s.is_some()) }),
        )
        .route(
            "/login",
            post(|sessions: Sessions| async move {
                let data = Data {
                    role: "user".into(),
                    items: vec![],
                };
                sessions.login("alice", &data).await.map(|_| "in")
            }),
        )
}

/// The routes on `store`, with `config` and a 1.5 s store timeout.
pub(crate) fn app_with(store: impl SessionStore, config: SessionConfig) -> Router {
    let config = config.store_timeout(Duration::from_millis(1500));
    routes().layer(SessionLayer::database(store, config))
}

fn app(store: impl SessionStore) -> Router {
    app_with(store, SessionConfig::default())
}

/// A SQLite store whose pool is closed: every lookup fails.
pub(crate) async fn closed_sqlite_store() -> impl SessionStore {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .connect("sqlite::memory:")
        .await
        .unwrap();
    let store = sessionward::SqliteStore::new(pool.clone());
    store.migrate().await.unwrap();
    pool.close().await;
    store
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
    assert_fails_closed(app(closed_sqlite_store().await)).await;
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

/// JWT sessions check every token against the revocation list; when the list cannot be loaded
/// from the store, a validly signed token is neither a session nor anonymous: 503.
#[cfg(feature = "jwt")]
#[tokio::test]
async fn jwt_with_a_closed_sqlite_pool_is_503_for_a_valid_token() {
    use crate::support::{JWT_ISSUER, JWT_KID, JWT_SECRET, START, jwt_config};

    let now = START.unix_timestamp();
    let claims = serde_json::json!({
        "sub": "alice", "sid": uuid::Uuid::new_v4(), "jti": "j1", "iat": now, "exp": now + 3600,
        "iss": JWT_ISSUER, "aud": JWT_ISSUER, "auth_time": now, "abs_exp": now + 86_400,
        "role": "user", "items": [],
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(JWT_KID.to_owned());
    let key = jsonwebtoken::EncodingKey::from_secret(JWT_SECRET);
    let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();

    let jwt_app = |store| {
        let (clock, _) = sessionward::Clock::manual(START);
        let config = SessionConfig::default()
            .store_timeout(Duration::from_millis(1500))
            .clock(clock);
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
            .layer(SessionLayer::jwt(jwt_config(), store, config))
    };
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .connect("sqlite::memory:")
        .await
        .unwrap();
    let store = sessionward::SqliteStore::new(pool.clone());
    store.migrate().await.unwrap();

    // The token is good: on the open store it is a session.
    let healthy = jwt_app(store.clone())
        .oneshot(request("GET", "/me", Some(&token)))
        .await
        .unwrap();
    assert_eq!(healthy.status(), StatusCode::OK);

    pool.close().await;
    let app = jwt_app(store);
    for path in ["/me", "/maybe", "/guarded"] {
        let started = Instant::now();
        let res = app
            .clone()
            .oneshot(request("GET", path, Some(&token)))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(started.elapsed() < Duration::from_secs(5), "{path}");
        assert!(
            res.headers().get_all("set-cookie").iter().next().is_none(),
            "{path}: an unanswered check must not clear the cookie"
        );
    }
}

/// A login on a request whose session could not be looked up (the store failed the load) fails
/// with the same 503, and starts nothing: "any session the request came with is ended first"
/// cannot hold for a session nobody could read, so a login that went on would leave it alive
/// beside the new one.
#[tokio::test]
async fn a_login_whose_previous_session_could_not_be_looked_up_fails_closed() {
    use crate::backends::Backend;
    use crate::support::{Setup, Strategy, TestApp};
    use std::sync::atomic::Ordering;

    let setup = Setup {
        backend: Backend::Memory,
        strategy: Strategy::Database,
    };
    let app = TestApp::new(setup).await.expect("a memory store");
    let token = app.login("alice", "user").await.token().unwrap();
    let writes = app.counts.writes();

    app.counts.fail_loads.store(true, Ordering::SeqCst);
    let login = app.call("POST", "/login/bob?role=user", Some(&token)).await;
    assert_eq!(
        login.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        login.body
    );
    assert!(login.set_cookies().is_empty(), "{:?}", login.set_cookies());
    assert_eq!(app.counts.writes(), writes, "no session was started");

    app.counts.fail_loads.store(false, Ordering::SeqCst);
    let me = app.call("GET", "/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["user_id"], "alice");
}

/// A write whose answer never reached the request (it timed out here; a client that hangs up
/// or a timeout around the handler drops it the same way) may still have been made: the
/// cached copy is dropped as for a finished write. Before, an update that timed out after
/// reaching the store left the old data in the cache for its whole lifetime, and a
/// re-authentication the same.
#[tokio::test]
async fn a_write_that_timed_out_leaves_no_stale_copy_in_the_cache() {
    use crate::backends::Backend;
    use crate::support::{Setup, Strategy, TestApp};
    use std::sync::atomic::Ordering;

    let setup = Setup {
        backend: Backend::Memory,
        strategy: Strategy::DatabaseCached,
    };
    let app = TestApp::with_config(setup, |c| c.store_timeout(Duration::from_millis(200)))
        .await
        .expect("a memory store");
    let token = app.login("alice", "user").await.token().unwrap();
    let me = app.call("GET", "/me", Some(&token)).await;
    assert_eq!(me.json()["items"], serde_json::json!([]));
    let loads = app.counts.loads();
    assert_eq!(
        app.call("GET", "/me", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_eq!(app.counts.loads(), loads, "served from the cache");

    app.counts.slow_writes.store(true, Ordering::SeqCst);
    let late = app.call("POST", "/items/book", Some(&token)).await;
    assert_eq!(
        late.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        late.body
    );
    app.counts.slow_writes.store(false, Ordering::SeqCst);
    let me = app.call("GET", "/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(
        me.json()["items"],
        serde_json::json!(["book"]),
        "the update reached the store: the old copy is not served"
    );
}
