//! A Rust API beside a Next.js (or any) app that signs users in with Better Auth on PostgreSQL.
//!
//! ```text
//! BETTER_AUTH_SECRET=<the app's secret> BETTER_AUTH_URL=http://localhost:3000 \
//!     DATABASE_URL=postgres://app@127.0.0.1:5432/app \
//!     cargo run --example betterauth_api --features betterauth,postgres
//! curl -b 'better-auth.session_token=<cookie value>' http://127.0.0.1:3000/api/me
//! curl -H 'Authorization: Bearer <set-auth-token>' http://127.0.0.1:3000/api/me
//! ```
//!
//! `GET /api/me` answers 200 `{"user_id","name","email","expires_at"}` for a valid Better Auth
//! session (its signed session cookie, or a bearer token from Better Auth's `bearer()` plugin),
//! 401 `{"error"}` otherwise, and 503 when the database does not answer. Environment:
//!
//! - `BETTER_AUTH_SECRET` (or the first entry of `BETTER_AUTH_SECRETS`): the app's secret.
//! - `BETTER_AUTH_URL`: the app's `baseURL`. On `http://` the cookie is
//!   `better-auth.session_token`, as Better Auth sets it there; otherwise, and when unset,
//!   only the https cookie `__Secure-better-auth.session_token` is read.
//! - `DATABASE_URL`: the PostgreSQL database Better Auth keeps its `user` and `session` tables in.
//! - `BETTER_AUTH_COOKIE_PREFIX`: the app's `advanced.cookiePrefix` (default `better-auth`).
//! - `BETTER_AUTH_COOKIE_CACHE`: `compact`, `jwt` or `jwe` when the app enables
//!   `session.cookieCache` with that strategy (unset: every request asks the database).
//! - `PORT`: overrides 3000.
//!
//! Configuration errors exit with status 2 and say what to set.

use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sessionward::betterauth::{BetterAuthConfig, CookieCacheStrategy};
use sessionward::{Session, SessionConfig, SessionLayer};
use time::format_description::well_known::Rfc3339;

/// Better Auth's user; add the additional fields your app declares (and name them in a
/// `BetterAuthSchema`).
#[derive(Clone, Deserialize)]
struct User {
    name: String,
    email: String,
}

async fn me(session: Session<User>) -> Json<Value> {
    Json(json!({
        "user_id": session.user_id(),
        "name": session.name,
        "email": session.email,
        "expires_at": session.expires_at().format(&Rfc3339).unwrap_or_default(),
    }))
}

/// Prints `message` and exits with status 2 (a configuration error).
fn refuse(message: &str) -> ! {
    eprintln!("betterauth_api: {message}");
    std::process::exit(2);
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The app's Better Auth settings from the environment.
fn better_auth() -> BetterAuthConfig {
    let Some(mut config) = BetterAuthConfig::from_env() else {
        refuse("set BETTER_AUTH_SECRET to the Better Auth app's secret");
    };
    if let Some(prefix) = env("BETTER_AUTH_COOKIE_PREFIX") {
        config = config.cookie_prefix(prefix);
    }
    let cache = match env("BETTER_AUTH_COOKIE_CACHE").as_deref() {
        None => None,
        Some("compact") => Some(CookieCacheStrategy::Compact),
        Some("jwt") => Some(CookieCacheStrategy::Jwt),
        Some("jwe") => Some(CookieCacheStrategy::Jwe),
        Some(other) => refuse(&format!(
            "BETTER_AUTH_COOKIE_CACHE must be compact, jwt or jwe, not {other:?}"
        )),
    };
    match cache {
        Some(strategy) => config.cookie_cache(strategy),
        None => config,
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = better_auth();
    let Some(url) = env("DATABASE_URL") else {
        refuse("set DATABASE_URL to Better Auth's PostgreSQL database (postgres://...)");
    };
    let pool = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect(&url)
        .await
    {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("betterauth_api: cannot connect to DATABASE_URL: {e}");
            std::process::exit(1);
        }
    };
    let layer = SessionLayer::betterauth(pool, config, SessionConfig::default());
    let app = Router::new().route("/api/me", get(me)).layer(layer);
    let port: u16 = env("PORT").and_then(|p| p.parse().ok()).unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the port");
    tracing::info!("betterauth_api listening on http://127.0.0.1:{port}");
    axum::serve(listener, app).await.expect("serve");
}
