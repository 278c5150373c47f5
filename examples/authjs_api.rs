//! A Rust API behind a Next.js app that signs users in with Auth.js (v5) or NextAuth.js (v4).
//!
//! JWT sessions (Auth.js's default): the encrypted session cookie, read with the app's secret.
//!
//! ```text
//! AUTH_SECRET=<the Next.js app's secret> cargo run --features authjs --example authjs_api
//! curl -H 'Authorization: Bearer <token>' http://127.0.0.1:3000/api/me
//! ```
//!
//! Database sessions (Auth.js with an adapter, `session: { strategy: "database" }`): the cookie
//! holds the session token, looked up in the adapter's PostgreSQL tables.
//!
//! ```text
//! AUTH_SESSION_STRATEGY=database DATABASE_URL=postgres://app@127.0.0.1:5432/app \
//!     AUTH_URL=http://localhost:3000 cargo run --features authjs,postgres --example authjs_api
//! curl -b 'authjs.session-token=<session token>' http://127.0.0.1:3000/api/me
//! ```
//!
//! `GET /api/me` answers 200 `{"sub","name","email","expires_at"}` for a valid Auth.js session
//! (cookie `__Secure-authjs.session-token` or `__Secure-next-auth.session-token` for an app on
//! https; `authjs.session-token` or `next-auth.session-token` on plain http; or a bearer token)
//! and 401 `{"error"}` otherwise; 503 when the database does not answer. Environment:
//!
//! - `AUTH_URL` (or `NEXTAUTH_URL`): the Next.js app's URL. On `http://` the plain cookie
//!   names are read, as Auth.js sets them there; otherwise, and when unset, only the
//!   `__Secure-` ones (an app on https).
//! - `AUTH_SESSION_STRATEGY`: `jwt` (default) or `database`, as Auth.js's `session.strategy`.
//! - `AUTH_SECRET` (JWT): the Next.js app's secret; `AUTH_SECRET_1` to `AUTH_SECRET_3` add
//!   older secrets during a rotation.
//! - `DATABASE_URL` (database): the PostgreSQL database of the Auth.js adapter.
//! - `AUTH_TABLES` (database): `pg-adapter` (default: tables `sessions` and `users` of
//!   `@auth/pg-adapter`) or `prisma` (tables `"Session"` and `"User"` of the Prisma adapter).
//! - `PORT`: overrides 3000.
//!
//! Configuration errors exit with status 2 and say what to set.

use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sessionward::authjs::AuthJsConfig;
use sessionward::{Session, SessionConfig, SessionLayer};
use time::format_description::well_known::Rfc3339;

/// What both kinds of session carry: the JWT's default claims, or the adapter's user row
/// (`id`, `name`, `email`, `emailVerified`, `image`). Add what your `jwt` callback adds.
#[derive(Clone, Deserialize)]
struct Claims {
    name: Option<String>,
    email: Option<String>,
}

async fn me(session: Session<Claims>) -> Json<Value> {
    Json(json!({
        "sub": session.user_id(),
        "name": session.name,
        "email": session.email,
        "expires_at": session.expires_at().format(&Rfc3339).unwrap_or_default(),
    }))
}

/// Prints `message` and exits with status 2 (a configuration error).
fn refuse(message: &str) -> ! {
    eprintln!("authjs_api: {message}");
    std::process::exit(2);
}

/// JWT sessions: the session cookie decrypted with the app's secret.
fn jwt_layer() -> SessionLayer {
    let Some(authjs) = AuthJsConfig::from_env() else {
        refuse("set AUTH_SECRET to the Next.js app's secret");
    };
    SessionLayer::authjs(authjs, SessionConfig::default())
}

/// Database sessions: the session token looked up in the adapter's tables.
#[cfg(feature = "postgres")]
async fn database_layer() -> SessionLayer {
    use sessionward::authjs::AuthJsDatabaseConfig;

    let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        refuse(
            "AUTH_SESSION_STRATEGY=database needs DATABASE_URL, the Auth.js adapter's \
             PostgreSQL database (postgres://...)",
        );
    };
    let tables = match std::env::var("AUTH_TABLES").as_deref() {
        Err(_) | Ok("" | "pg-adapter") => AuthJsDatabaseConfig::pg_adapter(),
        Ok("prisma") => AuthJsDatabaseConfig::prisma(),
        Ok(other) => refuse(&format!(
            "AUTH_TABLES must be pg-adapter or prisma, not {other:?}"
        )),
    };
    let pool = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect(&url)
        .await
    {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("authjs_api: cannot connect to DATABASE_URL: {e}");
            std::process::exit(1);
        }
    };
    let tables = tables.use_secure_cookies(sessionward::authjs::secure_cookies_from_env());
    tracing::info!(?tables, "reading Auth.js database sessions");
    SessionLayer::authjs_database(pool, tables, SessionConfig::default())
}

#[cfg(not(feature = "postgres"))]
async fn database_layer() -> SessionLayer {
    refuse(
        "AUTH_SESSION_STRATEGY=database reads the adapter's PostgreSQL tables, and this build \
         has no PostgreSQL support: run with --features authjs,postgres",
    )
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let layer = match std::env::var("AUTH_SESSION_STRATEGY").as_deref() {
        Err(_) | Ok("" | "jwt") => jwt_layer(),
        Ok("database") => database_layer().await,
        Ok(other) => refuse(&format!(
            "AUTH_SESSION_STRATEGY must be jwt or database, not {other:?}"
        )),
    };
    let app = Router::new().route("/api/me", get(me)).layer(layer);
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the port");
    tracing::info!("authjs_api listening on http://127.0.0.1:{port}");
    axum::serve(listener, app).await.expect("serve");
}
