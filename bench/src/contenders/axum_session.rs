//! axum_session 0.22 with axum_session_sqlx 0.12 on PostgreSQL (sqlx 0.9), wired as the
//! crate's README shows: default `SessionConfig` (Persistent mode, its DashMap memory layer in
//! front of the database, database writes at most every 10 s per session), except the session
//! lifetime, set to the 7 days every contender uses. Its cookie is not `Secure` by default.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_session::{Session, SessionConfig, SessionLayer, SessionStore};
use axum_session_sqlx::SessionPgPool;
use sqlx::postgres::PgPoolOptions;

use super::serve::{DB_IDLE_TIMEOUT, DB_POOL_SIZE, LoginForm, SESSION_DAYS, ServeArgs, me_body};
use crate::counting::{CountedPool, Counters};

/// The database pool, counted.
type Pool = CountedPool<SessionPgPool>;

/// Session key of the user id.
const USER: &str = "user_id";
/// Session key of the counter `/update` increments.
const COUNTER: &str = "counter";

/// The axum_session application.
pub async fn app(args: &ServeArgs, counters: &Arc<Counters>) -> Result<Router, String> {
    let pool = PgPoolOptions::new()
        .max_connections(DB_POOL_SIZE)
        .idle_timeout(DB_IDLE_TIMEOUT)
        .connect(args.db_url()?)
        .await
        .map_err(|e| format!("PostgreSQL: {e}"))?;
    let config = SessionConfig::default()
        .with_table_name("sessions")
        .with_lifetime(time::Duration::days(SESSION_DAYS));
    let pool = CountedPool::new(SessionPgPool::from(pool), counters.clone());
    let store = SessionStore::<Pool>::new(Some(pool), config)
        .await
        .map_err(|e| format!("axum_session store: {e}"))?;
    Ok(Router::new()
        .route("/me", get(me))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/update", post(update))
        .layer(SessionLayer::new(store)))
}

async fn me(session: Session<Pool>) -> Response {
    match session.get::<String>(USER) {
        Some(user) => me_body(&user).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn login(session: Session<Pool>, Form(form): Form<LoginForm>) -> &'static str {
    // Session fixation: a session that was already logged in gets a new id.
    if session.get::<String>(USER).is_some() {
        session.renew();
    }
    session.set(USER, form.user_id);
    session.set(COUNTER, 0u64);
    "ok"
}

async fn logout(session: Session<Pool>) -> &'static str {
    session.destroy();
    "ok"
}

async fn update(session: Session<Pool>) -> Response {
    if session.get::<String>(USER).is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let counter = session.get::<u64>(COUNTER).unwrap_or(0);
    session.set(COUNTER, counter + 1);
    "ok".into_response()
}
