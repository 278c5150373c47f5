//! tower-sessions contenders (tower-sessions 0.14, the version tower-sessions-sqlx-store 0.15
//! and tower-sessions-moka-store 0.15 are built for): `MemoryStore`, the sqlx `PostgresStore`,
//! and the sqlx store behind a moka cache. Wired as the crate's README shows, with `Secure` off
//! (plain http) and `Expiry::OnInactivity(7 days)` (the same lifetime as every contender).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use tower_sessions::{
    CachingSessionStore, ExpiredDeletion, Expiry, MemoryStore, Session, SessionManagerLayer,
    SessionStore,
};
use tower_sessions_moka_store::MokaStore;
use tower_sessions_sqlx_store::PostgresStore;
use tower_sessions_sqlx_store::sqlx::postgres::PgPoolOptions;

use super::Contender;
use super::serve::{
    CLEANUP_PERIOD, DB_IDLE_TIMEOUT, DB_POOL_SIZE, LoginForm, SESSION_DAYS, ServeArgs, me_body,
};
use crate::counting::{CountedTowerStore, Counters};

/// Session key of the user id.
const USER: &str = "user_id";
/// Session key of the counter `/update` increments.
const COUNTER: &str = "counter";
/// Moka capacity: sessionward's cache default, so both caches hold the whole pool.
const MOKA_CAPACITY: u64 = 100_000;

/// The application for `args.contender`, one of the tower-sessions contenders.
pub async fn app(args: &ServeArgs, counters: &Arc<Counters>) -> Result<Router, String> {
    match args.contender {
        Contender::TowerSessionsMemory => Ok(router(CountedTowerStore::new(
            MemoryStore::default(),
            counters.clone(),
        ))),
        Contender::TowerSessionsPg => {
            let store = postgres(args.db_url()?).await?;
            Ok(router(CountedTowerStore::new(store, counters.clone())))
        }
        Contender::TowerSessionsPgMoka => {
            let store = postgres(args.db_url()?).await?;
            let store = CountedTowerStore::new(store, counters.clone());
            let moka = MokaStore::new(Some(MOKA_CAPACITY));
            Ok(router(CachingSessionStore::new(moka, store)))
        }
        other => Err(format!(
            "{} is not a tower-sessions contender",
            other.name()
        )),
    }
}

/// The sqlx store, migrated, with the README's expired-session deletion task.
async fn postgres(url: &str) -> Result<PostgresStore, String> {
    let pool = PgPoolOptions::new()
        .max_connections(DB_POOL_SIZE)
        .idle_timeout(DB_IDLE_TIMEOUT)
        .connect(url)
        .await
        .map_err(|e| format!("PostgreSQL: {e}"))?;
    let store = PostgresStore::new(pool);
    store.migrate().await.map_err(|e| format!("migrate: {e}"))?;
    let cleaner = store.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CLEANUP_PERIOD);
        loop {
            ticks.tick().await;
            if let Err(e) = cleaner.delete_expired().await {
                eprintln!("tower-sessions cleanup: {e}");
            }
        }
    });
    Ok(store)
}

fn router<S: SessionStore + Clone>(store: S) -> Router {
    let layer = SessionManagerLayer::new(store)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(SESSION_DAYS)));
    Router::new()
        .route("/me", get(me))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/update", post(update))
        .layer(layer)
}

/// A session error as the empty 500 tower-sessions itself answers with.
fn failed(e: tower_sessions::session::Error) -> Response {
    eprintln!("tower-sessions: {e}");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

async fn me(session: Session) -> Response {
    match session.get::<String>(USER).await {
        Ok(Some(user)) => me_body(&user).into_response(),
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        Err(e) => failed(e),
    }
}

async fn login(session: Session, Form(form): Form<LoginForm>) -> Response {
    // Session fixation: a request that came with a session gets a new id (as axum-login does).
    if session.id().is_some()
        && let Err(e) = session.cycle_id().await
    {
        return failed(e);
    }
    let result = async {
        session.insert(USER, form.user_id).await?;
        session.insert(COUNTER, 0u64).await
    }
    .await;
    match result {
        Ok(()) => "ok".into_response(),
        Err(e) => failed(e),
    }
}

async fn logout(session: Session) -> Response {
    match session.flush().await {
        Ok(()) => "ok".into_response(),
        Err(e) => failed(e),
    }
}

async fn update(session: Session) -> Response {
    let result = async {
        if session.get::<String>(USER).await?.is_none() {
            return Ok(false);
        }
        let counter = session.get::<u64>(COUNTER).await?.unwrap_or(0);
        session.insert(COUNTER, counter + 1).await?;
        Ok(true)
    }
    .await;
    match result {
        Ok(true) => "ok".into_response(),
        Ok(false) => StatusCode::UNAUTHORIZED.into_response(),
        Err(e) => failed(e),
    }
}
