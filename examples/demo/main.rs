//! A small web application on sessionward: login forms and a JSON API, role-guarded pages,
//! a "your sessions" page with revoke buttons, sessions in SQLite, PostgreSQL, MySQL or Redis.
//!
//! ```text
//! cargo run --example demo                       # http://127.0.0.1:3000, SQLite file
//! PORT=8080 cargo run --example demo
//! DATABASE_URL=postgres://user:pass@localhost/app cargo run --example demo --features postgres
//! DATABASE_URL=mysql://user:pass@localhost/app cargo run --example demo --features mysql
//! DATABASE_URL=redis://127.0.0.1:6379 cargo run --example demo --features redis
//! DATABASE_URL='redis-cluster://127.0.0.1:7001?node=127.0.0.1:7002' cargo run --example demo --features redis
//! SESSION_STRATEGY=jwt JWT_SECRET=$(head -c 48 /dev/urandom | base64) cargo run --example demo
//! ```
//!
//! Log in as `alice` / `wonderland` (role `user`) or `admin` / `admin-password` (role `admin`).
//! `INSECURE_COOKIES=1` drops the cookie's `Secure` attribute, for plain-http hosts other than
//! localhost; `RUST_LOG` sets the log filter (default `info`); `MAX_SESSIONS_PER_USER` (default
//! 10, database sessions) bounds a user's sessions; `FRESH_AGE_SECS` (default 300) is how
//! recent a sign-in `/account` and `/api/account` want.
//!
//! Besides login, logout, `/dashboard`, `/sessions` and their `/api/...` twins:
//! - `POST /api/admin/users/{user_id}/role` (`{"role": "admin"|"user"}`, admin only) and the
//!   form on `/admin` change a role in the user table and in the user's live sessions;
//! - `GET /api/admin/events?limit=N` (admin only) and `/admin` show the newest session events;
//! - `GET /api/account` and `/account` need a fresh sign-in; `POST /api/reauth`
//!   (`{"password"}`) and `/reauth` make the session fresh again;
//! - `GET /metrics` answers in Prometheus text.

mod account;
mod admin;
mod admin_api;
mod api;
mod events;
mod html;
mod logging;
mod login;
mod pages;
mod roles;
mod routes;
mod session_pages;
mod store;
mod strategy;
mod users;

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use sessionward::{Clock, SessionConfig, spawn_cleanup};
use tracing_subscriber::EnvFilter;

use crate::events::EventLog;
use crate::strategy::Strategy;
use crate::users::Users;

/// How often expired sessions are deleted.
const CLEANUP_EVERY: Duration = Duration::from_secs(5 * 60);

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub users: Arc<Users>,
    /// Renders the recorded metrics for `GET /metrics`.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    pub strategy: Strategy,
    /// The newest session events, for the admin.
    pub events: Arc<EventLog>,
    /// How recent a sign-in `/account` and `/api/account` want (`FRESH_AGE_SECS`).
    pub fresh_age: time::Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let setting = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let port = match setting("PORT") {
        Some(port) => port
            .parse::<u16>()
            .map_err(|_| format!("PORT must be a port number, not {port:?}"))?,
        None => 3000,
    };
    let strategy = Strategy::from_setting(setting("SESSION_STRATEGY").as_deref())?;
    let url = setting("DATABASE_URL").unwrap_or_else(|| store::DEFAULT_URL.to_owned());
    let fresh_age = account::fresh_age(setting("FRESH_AGE_SECS"))?;
    let (store, backend) = store::connect(&url).await?;

    let events = Arc::new(EventLog::default());
    let mut config = SessionConfig::default().events(events.hook());
    if setting("INSECURE_COOKIES").is_some_and(|v| matches!(v.as_str(), "1" | "true")) {
        tracing::warn!("INSECURE_COOKIES is set: the session cookie travels over plain http");
        config = config.secure(false);
    }
    let layer = strategy::layer(strategy, &store, config, setting)?;
    // JWT sessions keep only revocations, which clean themselves up.
    let _cleanup = (strategy == Strategy::Database).then(|| {
        spawn_cleanup(
            store.sessions.clone(),
            Clock::system(),
            CLEANUP_EVERY,
            1_000,
        )
    });

    // GET /metrics: what sessionward records (with the `metrics` feature), in Prometheus text.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    let state = AppState {
        users: Arc::new(Users::seed().await),
        strategy,
        metrics,
        events,
        fresh_age,
    };
    let app = routes::app(state, layer);

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "sessionward demo on http://{addr}/ ({}, stored in {backend})",
        strategy.name()
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| format!("server failed: {e}"))
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
