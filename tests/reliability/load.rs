//! Cleanup under load: many expired sessions in PostgreSQL deleted in batches while requests on
//! live sessions keep being served; no live session is ever deleted.
//!
//! CI runs it with 100,000 expired rows; `SESSIONWARD_CLEANUP_ROWS=1000000` runs the full size.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use sessionward::{Clock, SessionConfig, SessionLayer, delete_expired_sessions};

use crate::backends::{Backend, fresh_database};
use crate::control::{SERIAL, app, call, enabled, login};

const LIVE_SESSIONS: usize = 50;
const BATCH: u32 = 10_000;

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cleanup_of_expired_rows_under_load() {
    if !enabled("postgres_cleanup_of_expired_rows_under_load") {
        return;
    }
    let _one_at_a_time = SERIAL.lock().await;
    let rows: i64 = std::env::var("SESSIONWARD_CLEANUP_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let Some(url) = fresh_database(Backend::Postgres).await else {
        return;
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .expect("connect");
    let store = sessionward::PostgresStore::new(pool.clone());
    store.migrate().await.expect("migrate");

    // The expired rows, the way many abandoned logins leave them.
    let now = Clock::system().now();
    let filled = Instant::now();
    sqlx::query(
        "INSERT INTO sessionward_sessions (id, token_hash, user_id, data, version, created_at, \
         refreshed_at, expires_at, absolute_expires_at) \
         SELECT gen_random_uuid(), sha256(int8send(g)), 'gone-' || (g % 1000), '{}'::jsonb, 0, \
         $1, $1, $2, $3 FROM generate_series(1, $4) AS g",
    )
    .bind(now - time::Duration::days(40))
    .bind(now - time::Duration::days(1))
    .bind(now - time::Duration::days(10))
    .bind(rows)
    .execute(&pool)
    .await
    .expect("fill");
    sqlx::query("ANALYZE sessionward_sessions")
        .execute(&pool)
        .await
        .expect("analyze");
    eprintln!("{rows} expired rows inserted in {:?}", filled.elapsed());

    let config = SessionConfig::default().store_timeout(Duration::from_secs(5));
    let app = app(SessionLayer::database(store.clone(), config));
    let mut live = Vec::new();
    for i in 0..LIVE_SESSIONS {
        live.push(login(&app, &format!("live-{i}")).await);
    }

    // Requests on live sessions, until the cleanup is done.
    let cleanup = tokio::spawn({
        let store = store.clone();
        async move {
            let started = Instant::now();
            let deleted = delete_expired_sessions(&store, &Clock::system(), BATCH)
                .await
                .expect("cleanup");
            (deleted, started.elapsed())
        }
    });
    let mut latencies = Vec::new();
    let mut i = 0;
    while !cleanup.is_finished() {
        let (status, _, took) = call(&app, "GET", "/me", Some(&live[i % live.len()])).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "a live session failed during cleanup"
        );
        latencies.push(took);
        i += 1;
    }
    let (deleted, cleanup_took) = cleanup.await.expect("cleanup task");
    assert_eq!(deleted, rows as u64, "every expired row deleted");

    latencies.sort();
    let worst = latencies.last().copied().unwrap_or_default();
    let p99 = latencies
        .get(latencies.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or_default();
    eprintln!(
        "cleanup of {rows} rows in batches of {BATCH}: {cleanup_took:?}; {} requests meanwhile, \
         p99 {p99:?}, worst {worst:?}",
        latencies.len()
    );
    assert!(!latencies.is_empty(), "no request ran during the cleanup");
    assert!(
        worst < Duration::from_secs(2),
        "a request waited {worst:?} behind the cleanup"
    );

    // No live session was touched.
    for token in &live {
        let (status, _, _) = call(&app, "GET", "/me", Some(token)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sessionward_sessions")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(left, LIVE_SESSIONS as i64);
}
