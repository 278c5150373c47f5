//! A Rust API behind a Next.js app that signs users in with Auth.js (v5) or NextAuth.js (v4).
//!
//! ```text
//! AUTH_SECRET=<the Next.js app's secret> cargo run --features authjs --example authjs_api
//! curl -H 'Authorization: Bearer <token>' http://127.0.0.1:3000/api/me
//! ```
//!
//! `GET /api/me` answers 200 `{"sub","name","email","expires_at"}` for a valid Auth.js session
//! (cookie `authjs.session-token`, `__Secure-authjs.session-token`, `next-auth.session-token` or
//! `__Secure-next-auth.session-token`, chunked or not, or a bearer token) and 401 `{"error"}`
//! otherwise. `AUTH_SECRET_1` to `AUTH_SECRET_3` add older secrets during a rotation; `PORT`
//! overrides 3000.

use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sessionward::authjs::AuthJsConfig;
use sessionward::{Session, SessionConfig, SessionLayer};
use time::format_description::well_known::Rfc3339;

/// The claims Auth.js writes by default; add what your `jwt` callback adds.
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

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let Some(authjs) = AuthJsConfig::from_env() else {
        eprintln!("authjs_api: set AUTH_SECRET to the Next.js app's secret");
        std::process::exit(2);
    };
    let app = Router::new()
        .route("/api/me", get(me))
        .layer(SessionLayer::authjs(authjs, SessionConfig::default()));
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
