//! Per-request cost of resolving a session, against the same request with no session layer.
//!
//! `cargo bench --bench resolve` runs, through a real `Router` (`tower::ServiceExt::oneshot`):
//! - `bare`: the route with no session layer (the ceiling);
//! - `jwt`: cookie read + signature verify (HS256) + claims checks + revocation check, the
//!   handler reading `Session<D>`;
//! - `database_memory`: the same through database sessions on `MemoryStore` (token parse,
//!   SHA-256, map lookup);
//! - `database_cached`: database sessions with the in-process [`SessionCache`] (what a
//!   PostgreSQL or MySQL store costs when the session is answered from memory).
//!
//! The ratio `bare / jwt` is the JWT strategy's share of a request's cost.
//!
//! `bare_two_threads` and `jwt_two_threads` serve the same requests from two threads at once
//! (the JWT one with 1,000 sessions, in turn): the time is wall time per request. What one
//! thread measures cannot show the cost of state every request shares between cores (locks,
//! reference counts), which a server on several cores pays.

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use criterion::{Criterion, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
use sessionward::{MemoryStore, Session, SessionCache, SessionConfig, SessionLayer, Sessions};
use tower::ServiceExt as _;

#[derive(Clone, Serialize, Deserialize)]
struct Data {
    role: String,
}

async fn me(session: Session<Data>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "user_id": session.user_id() }))
}

async fn login(sessions: Sessions) -> Result<(), sessionward::Error> {
    let data = Data {
        role: "user".into(),
    };
    sessions.login("bench-user", &data).await.map(|_| ())
}

fn with_layer(layer: SessionLayer) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/login", post(login))
        .layer(layer)
}

fn bare() -> Router {
    Router::new().route(
        "/me",
        get(|| async { Json(serde_json::json!({ "user_id": "bench-user" })) }),
    )
}

fn request(cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().uri("/me");
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::empty()).expect("request")
}

/// Logs in once and returns the `Cookie` header value for later requests.
async fn session_cookie(app: &Router) -> String {
    let req = Request::builder()
        .method("POST")
        .uri("/login")
        .body(Body::empty())
        .expect("request");
    let res = app.clone().oneshot(req).await.expect("infallible");
    let set = res.headers()[header::SET_COOKIE].to_str().expect("ascii");
    set.split(';').next().expect("name=value").to_owned()
}

fn resolve(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = JwtKey::hs256("bench", [42u8; 32]).expect("key");
    let jwt = JwtConfig::new(JwtKeys::new(key).expect("ring"), "bench", "bench");
    let jwt_app = with_layer(SessionLayer::jwt(
        jwt,
        MemoryStore::new(),
        SessionConfig::default(),
    ));
    let db_app = with_layer(SessionLayer::database(
        MemoryStore::new(),
        SessionConfig::default(),
    ));
    let cached_app = with_layer(SessionLayer::database(
        MemoryStore::new(),
        SessionConfig::default().cache(SessionCache::new(std::time::Duration::from_secs(5))),
    ));
    let bare_app = bare();
    let (jwt_cookie, db_cookie, cached_cookie) = runtime.block_on(async {
        let jwt_cookie = session_cookie(&jwt_app).await;
        let db_cookie = session_cookie(&db_app).await;
        let cached_cookie = session_cookie(&cached_app).await;
        // Warm the revocation list before measuring.
        let res = jwt_app.clone().oneshot(request(Some(&jwt_cookie))).await;
        assert_eq!(res.expect("infallible").status(), 200);
        (jwt_cookie, db_cookie, cached_cookie)
    });

    let mut group = c.benchmark_group("resolve");
    group.bench_function("bare", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(bare_app.clone().oneshot(request(None)).await) })
    });
    group.bench_function("jwt", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(jwt_app.clone().oneshot(request(Some(&jwt_cookie))).await) })
    });
    group.bench_function("database_memory", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(db_app.clone().oneshot(request(Some(&db_cookie))).await) })
    });
    group.bench_function("database_cached", |b| {
        b.to_async(&runtime).iter(|| async {
            black_box(
                cached_app
                    .clone()
                    .oneshot(request(Some(&cached_cookie)))
                    .await,
            )
        })
    });
    let jwt_cookies: Vec<String> = runtime.block_on(async {
        let mut cookies = Vec::with_capacity(SESSIONS);
        for _ in 0..SESSIONS {
            cookies.push(session_cookie(&jwt_app).await);
        }
        cookies
    });
    let bare_cookies = vec![String::new(); SESSIONS];
    group.bench_function("bare_two_threads", |b| {
        b.iter_custom(|iters| on_two_threads(&bare_app, &bare_cookies, iters))
    });
    group.bench_function("jwt_two_threads", |b| {
        b.iter_custom(|iters| on_two_threads(&jwt_app, &jwt_cookies, iters))
    });
    group.finish();
}

/// Sessions the two-thread benchmarks take turns with.
const SESSIONS: usize = 1_000;

/// Wall time of `requests` requests to `app`, half from each of two threads, each with its
/// own runtime, each going through `cookies` in turn (an empty one sends no cookie).
fn on_two_threads(app: &Router, cookies: &[String], requests: u64) -> Duration {
    let per_thread = requests.div_ceil(2);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..2 {
            scope.spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    let turns = cookies.iter().cycle().skip(thread * SESSIONS / 2);
                    for cookie in turns.take(per_thread as usize) {
                        let cookie = Some(cookie.as_str()).filter(|c| !c.is_empty());
                        black_box(app.clone().oneshot(request(cookie)).await.ok());
                    }
                });
            });
        }
    });
    start.elapsed()
}

criterion_group!(benches, resolve);
criterion_main!(benches);
