//! Better Auth sessions (feature `betterauth`): `SessionLayer::betterauth` on sessions that the
//! real `better-auth` package makes (`tests/betterauth/better-auth.mjs`, pinned with a lock file,
//! installed by `npm ci --prefix tests/betterauth`) in PostgreSQL, MariaDB and SQLite, read
//! through a real `Router`. Without `tests/betterauth/node_modules` the tests print `SKIP` (and
//! fail with `SESSIONWARD_REQUIRE_BETTERAUTH=1`). PostgreSQL and MariaDB need
//! `SESSIONWARD_TEST_POSTGRES_URL` / `SESSIONWARD_TEST_MYSQL_URL` (see `backends`).
//!
//! Better Auth runs on the real clock; the layer's clock starts at the real "now" and is moved
//! forward to reach Better Auth's expiry and extension points.

use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sessionward::betterauth::{
    BetterAuthConfig, BetterAuthPool, BetterAuthSchema, CookieCacheStrategy, FieldType,
};
use sessionward::testing::ManualClock;
use sessionward::{
    Authorize, Clock, RejectReason, Session, SessionConfig, SessionEventKind, SessionLayer,
    Sessions, require_fresh, require_role,
};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::authjs::{Reply, send};
use crate::backends::{Backend, fresh_database};
use crate::support::logs;
use crate::support::session_routes::{
    data, list, login, logout, millis, optional, refresh, revoke, revoke_all, revoke_others,
};

mod cookie_cache;
mod dates;
mod events;
mod example;
mod failures;
mod names;
mod scenario;

const SECRET: &str = "better-auth-secret-for-sessionward-tests-0123";
const OTHER_SECRET: &str = "another-better-auth-secret-of-the-same-size-0";
const PASSWORD: &str = "correct-horse-battery";
const TOKEN_COOKIE: &str = "better-auth.session_token";
const CACHE_COOKIE: &str = "better-auth.session_data";
/// Better Auth's defaults: `session.expiresIn` 7 days, `session.updateAge` 1 day.
const EXPIRES_IN: Duration = Duration::days(7);
const UPDATE_AGE: Duration = Duration::days(1);
/// Better Auth's `session.freshAge` default: 1 day.
const FRESH_AGE: Duration = Duration::days(1);

/// The layer's settings for the Better Auth app these tests run: on `http://localhost:3000`
/// (its `baseURL`), so its cookies carry no `__Secure-` prefix.
fn on_http() -> BetterAuthConfig {
    BetterAuthConfig::new(SECRET).use_secure_cookies(false)
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/betterauth")
}

/// Whether the real package can run: `tests/betterauth/node_modules` and node. Missing: `SKIP`
/// printed, or a failure with `SESSIONWARD_REQUIRE_BETTERAUTH=1`.
fn better_auth_available() -> bool {
    let required = std::env::var("SESSIONWARD_REQUIRE_BETTERAUTH").is_ok_and(|v| v == "1");
    let installed = dir().join("node_modules/better-auth/package.json").exists()
        && dir().join("node_modules/better-sqlite3/build").exists();
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if installed && node {
        return true;
    }
    assert!(
        !required,
        "SESSIONWARD_REQUIRE_BETTERAUTH=1 but better-auth cannot run (node: {node}): \
         npm ci --prefix tests/betterauth"
    );
    eprintln!("SKIP the real better-auth: run `npm ci --prefix tests/betterauth` to enable");
    false
}

/// Runs `ops` in a Better Auth app with `options`; one result per operation.
async fn node(options: &Value, ops: Value) -> Vec<Value> {
    let out = tokio::process::Command::new("node")
        .arg("better-auth.mjs")
        .arg(options.to_string())
        .arg(ops.to_string())
        .current_dir(dir())
        .output()
        .await
        .expect("run node tests/betterauth/better-auth.mjs");
    assert!(
        out.status.success(),
        "better-auth.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("better-auth.mjs prints JSON")
}

// ---------------------------------------------------------------------------------------------
// The app
// ---------------------------------------------------------------------------------------------

/// Better Auth's user with the admin plugin's role.
#[derive(Clone, Debug, Deserialize)]
struct User {
    id: String,
    name: String,
    email: String,
    role: Option<String>,
}

impl Authorize for User {
    fn has_role(&self, role: &str) -> bool {
        self.role.as_deref() == Some(role)
    }
}

async fn me(session: Session<User>) -> Json<Value> {
    Json(json!({
        "user_id": session.user_id(),
        "id_in_data": session.id,
        "name": session.name,
        "email": session.email,
        "session": session.id(),
        "expires_at": millis(session.expires_at()),
        "created_at": millis(session.created_at()),
        "authenticated_at": millis(session.authenticated_at()),
        "persistent": session.info().persistent,
    }))
}

/// Makes every session of `user` an admin (sessionward's own live role change).
async fn promote(
    sessions: Sessions,
    axum::extract::Path(user): axum::extract::Path<String>,
) -> Result<Json<Value>, sessionward::Error> {
    let changed = sessions
        .update_user_sessions(&user, &json!({ "role": "admin" }))
        .await?;
    Ok(Json(json!({ "changed": changed })))
}

async fn reauthenticate(sessions: Sessions) -> Result<Json<Value>, sessionward::Error> {
    let info = sessions.reauthenticated().await?;
    Ok(Json(
        json!({ "authenticated_at": millis(info.authenticated_at) }),
    ))
}

fn app(pool: BetterAuthPool, better_auth: BetterAuthConfig, clock: Clock) -> Router {
    app_with(pool, better_auth, SessionConfig::default().clock(clock))
}

fn app_with(pool: BetterAuthPool, better_auth: BetterAuthConfig, config: SessionConfig) -> Router {
    let fresh = Router::new()
        .route("/fresh", get(|| async { "fresh" }))
        .route_layer(require_fresh(FRESH_AGE));
    Router::new()
        .route("/admin", get(|| async { "admin" }))
        .route_layer(require_role::<User>("admin"))
        .merge(fresh)
        .route("/me", get(me))
        .route("/data", get(data))
        .route("/optional", get(optional))
        .route("/sessions", get(list))
        .route("/logout", post(logout))
        .route("/refresh", post(refresh))
        .route("/revoke/{id}", post(revoke))
        .route("/revoke-others", post(revoke_others))
        .route("/revoke-all/{user}", post(revoke_all))
        .route("/login", post(login))
        .route("/reauthenticate", post(reauthenticate))
        .route("/user-sessions/{user}", post(promote))
        .layer(SessionLayer::betterauth(pool, better_auth, config))
}

fn iso_millis(iso: &Value) -> i64 {
    millis(OffsetDateTime::parse(iso.as_str().expect("an ISO time"), &Rfc3339).unwrap())
}

/// GET or POST `path` with a `Cookie` header.
async fn with_cookies(app: &Router, method: &str, path: &str, cookies: &str) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, format!("theme=dark; {cookies}"))
        .body(Body::empty())
        .unwrap();
    send(app, req).await
}

async fn bearer(app: &Router, path: &str, token: &str) -> Reply {
    let req = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    send(app, req).await
}

/// A signed in user as Better Auth answered the sign-up or sign-in.
struct SignedIn {
    /// `name=value; ...` of every cookie Better Auth set, as a browser sends them back.
    cookies: String,
    /// The session cookie's value as sent (percent-encoded).
    signed: String,
    /// The raw session token.
    token: String,
    /// The bearer plugin's `set-auth-token`, when on.
    auth_token: Option<String>,
    user: Value,
}

impl SignedIn {
    fn read(answer: &Value, token_cookie: &str) -> Self {
        assert_eq!(answer["status"], 200, "{answer}");
        let set = answer["cookies"].as_object().unwrap();
        let cookies = set
            .iter()
            .map(|(n, v)| format!("{n}={}", v.as_str().unwrap()))
            .collect::<Vec<_>>()
            .join("; ");
        let signed = set[token_cookie].as_str().unwrap().to_owned();
        let token = answer["token"].as_str().unwrap().to_owned();
        logs::register(&token);
        Self {
            cookies,
            signed,
            token,
            auth_token: answer["authToken"].as_str().map(str::to_owned),
            user: answer["user"].clone(),
        }
    }

    fn session_cookie(&self, name: &str) -> String {
        format!("{name}={}", self.signed)
    }

    /// The signature part of the session cookie, percent-encoded as sent.
    fn signature(&self) -> &str {
        self.signed.split_once('.').unwrap().1
    }
}

fn sign_up(name: &str, email: &str) -> Value {
    json!({ "op": "signUp", "name": name, "email": email, "password": PASSWORD })
}

// ---------------------------------------------------------------------------------------------
// The databases
// ---------------------------------------------------------------------------------------------

/// A fresh database of `backend` for both sides: its URL for Better Auth, its pool for the
/// layer. `None` when the server is not configured (SKIP printed by `backends`).
async fn fresh(backend: Backend) -> Option<(String, BetterAuthPool)> {
    Some(match backend {
        Backend::Postgres => {
            let url = fresh_database(backend).await?;
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            (url, pool.into())
        }
        Backend::MySql => {
            let url = fresh_database(backend).await?;
            let pool = sqlx::MySqlPool::connect(&url).await.unwrap();
            (url, pool.into())
        }
        Backend::Sqlite => {
            let file = std::env::temp_dir().join(format!(
                "sessionward-betterauth-{}.db",
                Uuid::new_v4().simple()
            ));
            let file = file.to_str().unwrap().to_owned();
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{file}?mode=rwc"))
                .await
                .unwrap();
            (format!("sqlite:{file}"), pool.into())
        }
        other => unreachable!("{other:?}"),
    })
}

/// A fresh database of `backend` where the real Better Auth (on plain http, with [`SECRET`])
/// made its tables and signed `name` up: the database's URL, the layer's pool, the user's
/// cookies. `None` when Better Auth or the database is not available.
async fn one_user_signed_up(
    backend: Backend,
    name: &str,
    email: &str,
) -> Option<(String, BetterAuthPool, SignedIn)> {
    if !better_auth_available() {
        return None;
    }
    let (url, pool) = fresh(backend).await?;
    let options = json!({ "database": url, "secret": SECRET });
    let out = node(&options, json!([{ "op": "migrate" }, sign_up(name, email)])).await;
    Some((url, pool, SignedIn::read(&out[1], TOKEN_COOKIE)))
}

fn now_clock() -> (Clock, ManualClock, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    let (clock, control) = Clock::manual(now);
    (clock, control, now)
}

// ---------------------------------------------------------------------------------------------
// Helpers the modules share
// ---------------------------------------------------------------------------------------------

fn cookie_value(cookies: &str, name: &str) -> String {
    cookies
        .split("; ")
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {cookies}"))
        .to_owned()
}

/// better-call's signed cookie value.
fn sign(token: &str, secret: &str) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(token.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("{token}.{signature}")
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

/// A pool that never connects (nothing listens on port 1).
fn unreachable_pool() -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(StdDuration::from_secs(10))
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap()
}
