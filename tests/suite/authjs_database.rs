//! Auth.js database sessions (features `authjs` and `postgres`): `SessionLayer::authjs_database`
//! on the tables of `@auth/pg-adapter` and of the Prisma adapter, through a real `Router`.
//!
//! The pg-adapter tables are made from the schema Auth.js documents
//! (`tests/authjs/pg-adapter-schema.sql`; the npm package ships none). When
//! `tests/authjs/node_modules` exists, `tests/authjs/pg-adapter.mjs` runs that schema and writes,
//! reads and deletes sessions through the real adapter (`createUser`, `createSession`,
//! `getSessionAndUser`, `deleteSession`); without it, a missing package is a printed `SKIP`
//! (a failure with `SESSIONWARD_REQUIRE_AUTHJS=1`) and the same scenario runs on rows inserted
//! by SQL. PostgreSQL tests need `SESSIONWARD_TEST_POSTGRES_URL` (see `backends`); every test
//! database runs with a non-UTC `timezone`, so no time may depend on the session's zone.

use crate::authjs::{Reply, send};
use std::path::{Path, PathBuf};
use std::time::{Duration as StdDuration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sessionward::authjs::AuthJsDatabaseConfig;
use sessionward::{Clock, Session, SessionConfig, SessionLayer, Sessions};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::backends::{Backend, fresh_database};
use crate::support::logs;
use crate::support::session_routes::{
    data, list, login, logout, millis, optional, refresh, revoke, revoke_all, revoke_others,
};

/// The scenario's "now": sessions are written relative to it and the layer's clock starts here.
const T0: OffsetDateTime = datetime!(2031-03-01 12:00:00 UTC);
/// Auth.js's defaults: `session.maxAge` 30 days, `session.updateAge` 24 hours.
const MAX_AGE: Duration = Duration::days(30);
const UPDATE_AGE: Duration = Duration::hours(24);
/// A zone far from UTC for every test database, so a time that silently went through the
/// session's `timezone` would be off by hours.
const ZONE: &str = "Pacific/Chatham";

/// The v5 cookie of a Next.js app on https (the default `use_secure_cookies`).
const V5: &str = "__Secure-authjs.session-token";
const COOKIE_NAMES: [&str; 4] = [
    "__Secure-authjs.session-token",
    "authjs.session-token",
    "__Secure-next-auth.session-token",
    "next-auth.session-token",
];

fn authjs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/authjs")
}

// ---------------------------------------------------------------------------------------------
// The app
// ---------------------------------------------------------------------------------------------

/// The user row as `Session<D>` data.
#[derive(Clone, Debug, Deserialize)]
struct User {
    id: String,
    name: Option<String>,
    email: Option<String>,
    #[serde(rename = "emailVerified")]
    email_verified: Option<String>,
    image: Option<String>,
}

async fn me(session: Session<User>) -> Json<Value> {
    Json(json!({
        "sub": session.user_id(),
        "id": session.id(),
        "user_id_in_data": session.id,
        "name": session.name,
        "email": session.email,
        "emailVerified": session.email_verified,
        "image": session.image,
        "expires_at": millis(session.expires_at()),
    }))
}

async fn rotate(sessions: Sessions) -> Result<&'static str, sessionward::Error> {
    sessions.rotate().await?;
    Ok("rotated")
}

async fn update(sessions: Sessions) -> Result<&'static str, sessionward::Error> {
    sessions.update(&json!({ "name": "Mallory" })).await?;
    Ok("updated")
}

fn app(pool: PgPool, authjs: AuthJsDatabaseConfig, config: SessionConfig) -> Router {
    Router::new()
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
        .route("/rotate", post(rotate))
        .route("/update", post(update))
        .layer(SessionLayer::authjs_database(pool, authjs, config))
}

/// `method path` with the session token in cookie `name`.
async fn with_cookie(app: &Router, method: &str, path: &str, name: &str, token: &str) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(
            header::COOKIE,
            format!("theme=dark; {name}={token}; other=1"),
        )
        .body(Body::empty())
        .unwrap();
    send(app, req).await
}

async fn cookie(app: &Router, method: &str, path: &str, token: &str) -> Reply {
    with_cookie(app, method, path, V5, token).await
}

async fn bearer(app: &Router, path: &str, token: &str) -> Reply {
    let req = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    send(app, req).await
}

/// A session token the way NextAuth.js v4 falls back to making one (`randomBytes(32)` as hex),
/// registered with the log capture: long enough for it to spot in any log line.
fn hex_token() -> String {
    let token = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    logs::register(&token);
    token
}

/// A session token the way Auth.js v5 makes one (`crypto.randomUUID()`).
fn uuid_token() -> String {
    Uuid::new_v4().to_string()
}

// ---------------------------------------------------------------------------------------------
// The databases
// ---------------------------------------------------------------------------------------------

/// A fresh PostgreSQL database whose sessions run in [`ZONE`], or `None` (SKIP printed).
async fn fresh_postgres() -> Option<String> {
    let url = fresh_database(Backend::Postgres).await?;
    let name = url
        .rsplit('/')
        .next()
        .and_then(|rest| rest.split('?').next())
        .unwrap()
        .to_owned();
    let pool = pool(&url).await;
    // `name` is the generated `sessionward_t_<hex>`.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} SET timezone TO '{ZONE}'"
    )))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    Some(url)
}

async fn pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(4)
        .connect(url)
        .await
        .expect("connect to the postgres test database")
}

/// Which tables, and who writes and reads the rows the way Auth.js would.
enum Adapter {
    /// The real `@auth/pg-adapter`, through `tests/authjs/pg-adapter.mjs`.
    Node { url: String },
    /// The pg-adapter's statements, run from here.
    PgSql { pool: PgPool },
    /// The Prisma adapter's tables (string ids, `TIMESTAMP(3)` in UTC), rows by SQL.
    PrismaSql { pool: PgPool },
}

/// A session row as Auth.js reads it back: its expiry and user.
#[derive(Debug, PartialEq)]
struct Row {
    expires: OffsetDateTime,
    user_id: String,
}

impl Adapter {
    async fn node(&self, ops: Value) -> Vec<Value> {
        let Adapter::Node { url } = self else {
            unreachable!()
        };
        let out = tokio::process::Command::new("node")
            .arg("pg-adapter.mjs")
            .arg(ops.to_string())
            .env("DATABASE_URL", url)
            .current_dir(authjs_dir())
            .output()
            .await
            .expect("run node tests/authjs/pg-adapter.mjs");
        assert!(
            out.status.success(),
            "pg-adapter.mjs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("pg-adapter.mjs prints JSON")
    }

    fn config(&self) -> AuthJsDatabaseConfig {
        match self {
            Adapter::Node { .. } | Adapter::PgSql { .. } => AuthJsDatabaseConfig::pg_adapter(),
            Adapter::PrismaSql { .. } => AuthJsDatabaseConfig::prisma(),
        }
    }

    async fn create_schema(&self) {
        match self {
            Adapter::Node { .. } => {
                let versions = self
                    .node(json!([{ "op": "schema" }, { "op": "versions" }]))
                    .await;
                assert_eq!(versions[1]["@auth/pg-adapter"], "1.11.3");
            }
            Adapter::PgSql { pool } => {
                let schema = std::fs::read_to_string(authjs_dir().join("pg-adapter-schema.sql"))
                    .expect("tests/authjs/pg-adapter-schema.sql");
                sqlx::raw_sql(sqlx::AssertSqlSafe(schema))
                    .execute(pool)
                    .await
                    .unwrap();
            }
            Adapter::PrismaSql { pool } => {
                let schema = std::fs::read_to_string(authjs_dir().join("prisma-schema.sql"))
                    .expect("tests/authjs/prisma-schema.sql");
                sqlx::raw_sql(sqlx::AssertSqlSafe(schema))
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }

    /// Creates a user; returns its id as text.
    async fn create_user(
        &self,
        name: Option<&str>,
        email: &str,
        email_verified: Option<OffsetDateTime>,
        image: Option<&str>,
    ) -> String {
        match self {
            Adapter::Node { .. } => {
                let verified = email_verified.map(|t| t.format(&Rfc3339).unwrap());
                let user = json!({
                    "name": name, "email": email, "emailVerified": verified, "image": image,
                });
                let out = self
                    .node(json!([{ "op": "createUser", "user": user }]))
                    .await;
                // SERIAL: a number in JavaScript.
                out[0]["id"].as_i64().expect("a numeric id").to_string()
            }
            Adapter::PgSql { pool } => sqlx::query_scalar(
                "INSERT INTO users (name, email, \"emailVerified\", image) \
                 VALUES ($1, $2, $3, $4) RETURNING id::text",
            )
            .bind(name)
            .bind(email)
            .bind(email_verified)
            .bind(image)
            .fetch_one(pool)
            .await
            .unwrap(),
            Adapter::PrismaSql { pool } => {
                // A cuid-like string id, as `@default(cuid())` makes.
                let id = format!("c{}", &Uuid::new_v4().simple().to_string()[..24]);
                sqlx::query(
                    "INSERT INTO \"User\" (id, name, email, \"emailVerified\", image) \
                     VALUES ($1, $2, $3, $4::timestamptz AT TIME ZONE 'UTC', $5)",
                )
                .bind(&id)
                .bind(name)
                .bind(email)
                .bind(email_verified)
                .bind(image)
                .execute(pool)
                .await
                .unwrap();
                id
            }
        }
    }

    async fn create_session(&self, token: &str, user_id: &str, expires: OffsetDateTime) {
        match self {
            Adapter::Node { .. } => {
                let out = self
                    .node(json!([{
                        "op": "createSession",
                        "sessionToken": token,
                        "userId": user_id.parse::<i64>().unwrap(),
                        "expires": expires.format(&Rfc3339).unwrap(),
                    }]))
                    .await;
                assert_eq!(out[0]["sessionToken"], token);
            }
            Adapter::PgSql { pool } => {
                sqlx::query(
                    "INSERT INTO sessions (\"userId\", expires, \"sessionToken\") \
                     VALUES ($1::text::int4, $2, $3)",
                )
                .bind(user_id)
                .bind(expires)
                .bind(token)
                .execute(pool)
                .await
                .unwrap();
            }
            Adapter::PrismaSql { pool } => {
                let id = format!("c{}", &Uuid::new_v4().simple().to_string()[..24]);
                sqlx::query(
                    "INSERT INTO \"Session\" (id, \"sessionToken\", \"userId\", expires) \
                     VALUES ($1, $2, $3, $4::timestamptz AT TIME ZONE 'UTC')",
                )
                .bind(id)
                .bind(token)
                .bind(user_id)
                .bind(expires)
                .execute(pool)
                .await
                .unwrap();
            }
        }
    }

    /// The session as Auth.js's `getSessionAndUser` sees it (`None`: no session).
    async fn get(&self, token: &str) -> Option<Row> {
        match self {
            Adapter::Node { .. } => {
                let out = self
                    .node(json!([{ "op": "getSessionAndUser", "sessionToken": token }]))
                    .await;
                let found = out.into_iter().next().unwrap();
                if found.is_null() {
                    return None;
                }
                let expires = found["session"]["expires"].as_str().unwrap();
                Some(Row {
                    expires: OffsetDateTime::parse(expires, &Rfc3339).unwrap(),
                    user_id: found["user"]["id"].as_i64().unwrap().to_string(),
                })
            }
            Adapter::PgSql { pool } => sqlx::query_as::<_, (OffsetDateTime, String)>(
                "SELECT s.expires, u.id::text FROM sessions s JOIN users u ON u.id = s.\"userId\" \
                 WHERE s.\"sessionToken\" = $1",
            )
            .bind(token)
            .fetch_optional(pool)
            .await
            .unwrap()
            .map(|(expires, user_id)| Row { expires, user_id }),
            Adapter::PrismaSql { pool } => sqlx::query_as::<_, (OffsetDateTime, String)>(
                "SELECT s.expires AT TIME ZONE 'UTC', u.id FROM \"Session\" s \
                 JOIN \"User\" u ON u.id = s.\"userId\" WHERE s.\"sessionToken\" = $1",
            )
            .bind(token)
            .fetch_optional(pool)
            .await
            .unwrap()
            .map(|(expires, user_id)| Row { expires, user_id }),
        }
    }

    /// Auth.js's sign-out: `deleteSession`.
    async fn delete(&self, token: &str) {
        match self {
            Adapter::Node { .. } => {
                self.node(json!([{ "op": "deleteSession", "sessionToken": token }]))
                    .await;
            }
            Adapter::PgSql { pool } => {
                sqlx::query("DELETE FROM sessions WHERE \"sessionToken\" = $1")
                    .bind(token)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            Adapter::PrismaSql { pool } => {
                sqlx::query("DELETE FROM \"Session\" WHERE \"sessionToken\" = $1")
                    .bind(token)
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }
}

/// Whether the real adapter can run: `tests/authjs/node_modules` with `@auth/pg-adapter`, and
/// node. Missing: `SKIP` printed, or a failure with `SESSIONWARD_REQUIRE_AUTHJS=1`.
fn node_adapter_available() -> bool {
    let required = std::env::var("SESSIONWARD_REQUIRE_AUTHJS").is_ok_and(|v| v == "1");
    let installed = authjs_dir()
        .join("node_modules/@auth/pg-adapter/package.json")
        .exists();
    if !installed {
        assert!(
            !required,
            "SESSIONWARD_REQUIRE_AUTHJS=1 but @auth/pg-adapter is missing: \
             npm ci --prefix tests/authjs"
        );
        eprintln!("SKIP the real @auth/pg-adapter: run `npm ci --prefix tests/authjs` to enable");
        return false;
    }
    match std::process::Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => true,
        result => {
            assert!(
                !required,
                "SESSIONWARD_REQUIRE_AUTHJS=1 but node cannot run: {result:?}"
            );
            eprintln!("SKIP the real @auth/pg-adapter: node cannot run");
            false
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario every table layout goes through
// ---------------------------------------------------------------------------------------------

/// Sessions written the adapter's way, read, extended, listed, revoked and ended through the
/// layer, and read back the adapter's way.
async fn scenario(adapter: Adapter, pool: PgPool) {
    logs::install();
    adapter.create_schema().await;
    let verified = datetime!(2031-02-01 08:30:00.250 UTC);
    let alice = adapter
        .create_user(
            Some("Alice"),
            "alice@example.com",
            Some(verified),
            Some("https://example.com/a.png"),
        )
        .await;
    let bob = adapter
        .create_user(None, "bob@example.com", None, None)
        .await;

    // a1: signed in at T0; a2: a v5-style token on another device, extended an hour before
    // T0; a3: expired a second before T0; b1, b2: bob's.
    let (a1, a2, a3, b1, b2) = (
        hex_token(),
        uuid_token(),
        hex_token(),
        hex_token(),
        hex_token(),
    );
    adapter.create_session(&a1, &alice, T0 + MAX_AGE).await;
    let a2_expires = T0 + MAX_AGE - Duration::hours(1);
    adapter.create_session(&a2, &alice, a2_expires).await;
    adapter
        .create_session(&a3, &alice, T0 - Duration::seconds(1))
        .await;
    adapter.create_session(&b1, &bob, T0 + MAX_AGE).await;
    adapter.create_session(&b2, &bob, T0 + MAX_AGE).await;

    let (clock, control) = Clock::manual(T0);
    let app = app(
        pool.clone(),
        adapter.config(),
        SessionConfig::default().clock(clock.clone()),
    );

    // The user row is the session's data: ids as strings, emailVerified as Auth.js's JSON.
    let r = cookie(&app, "GET", "/data", &a1).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({
            "id": alice,
            "name": "Alice",
            "email": "alice@example.com",
            "emailVerified": "2031-02-01T08:30:00.250Z",
            "image": "https://example.com/a.png",
        })
    );
    assert!(!r.set_cookie, "the layer never writes the Auth.js cookie");
    let r = cookie(&app, "GET", "/me", &a1).await;
    assert_eq!(r.body["sub"], alice);
    assert_eq!(r.body["user_id_in_data"], alice);
    assert_eq!(r.body["expires_at"], millis(T0 + MAX_AGE));
    let a1_id = r.body["id"].as_str().unwrap().to_owned();
    assert!(Uuid::parse_str(&a1_id).is_ok());
    assert!(
        !r.body.to_string().contains(&a1),
        "the token is never shown"
    );
    let r = cookie(&app, "GET", "/data", &b1).await;
    assert_eq!(
        r.body,
        json!({
            "id": bob,
            "name": null,
            "email": "bob@example.com",
            "emailVerified": null,
            "image": null,
        })
    );

    // Every Auth.js cookie name the app sets, and a bearer token. An app on plain http sets
    // no `__Secure-` cookie; on https, a cookie under a plain name is planted (a sibling
    // subdomain, a plain-http path: cookie tossing) and would sign the browser in to the
    // planter's session.
    let http = self::app(
        pool,
        adapter.config().use_secure_cookies(false),
        SessionConfig::default().clock(clock),
    );
    for name in COOKIE_NAMES {
        let secure = name.starts_with("__Secure-");
        for (app, scheme) in [(&http, "http"), (&app, "https")] {
            let read = secure == (scheme == "https");
            let r = with_cookie(app, "GET", "/me", name, &a2).await;
            let expected = if read {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(r.status, expected, "{name} on {scheme}");
            if read {
                assert_eq!(r.body["sub"], alice, "{name}");
            }
        }
    }
    // A stale chunked JWT cookie (from before the app switched to database sessions) does not
    // spoil the session cookie next to it.
    let stale = format!(
        "__Secure-next-auth.session-token.0={}; __Secure-next-auth.session-token.1={}; {V5}={a2}",
        "A".repeat(3933),
        "B".repeat(1000)
    );
    let req = Request::get("/me")
        .header(header::COOKIE, stale)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.body["sub"], alice);
    let r = bearer(&app, "/me", &a2).await;
    assert_eq!(r.status, StatusCode::OK);
    let a2_id = r.body["id"].as_str().unwrap().to_owned();
    assert_ne!(a1_id, a2_id);
    assert_eq!(
        adapter.get(&a2).await.unwrap().expires,
        a2_expires,
        "not due yet: nothing written"
    );

    // Expired, unknown, malformed: no session, never a 500.
    assert_eq!(
        cookie(&app, "GET", "/me", &a3).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        cookie(&app, "GET", "/optional", &a3).await.body,
        json!({ "session": false })
    );
    for bad in [
        uuid_token(),
        hex_token(),
        "x".repeat(256),
        "\"quoted\"".into(),
        format!("{a1}\ttab"),
    ] {
        let r = cookie(&app, "GET", "/me", &bad).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad:.20}");
        assert!(!r.set_cookie);
        assert_eq!(
            bearer(&app, "/me", &bad).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        bearer(&app, "/me", &format!("{a1} {a1}")).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Auth.js's extension rule: only once `expires - maxAge + updateAge <= now`, to now + maxAge.
    control.set(T0 + UPDATE_AGE - Duration::seconds(1));
    let r = cookie(&app, "GET", "/me", &a1).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["expires_at"], millis(T0 + MAX_AGE));
    assert_eq!(adapter.get(&a1).await.unwrap().expires, T0 + MAX_AGE);
    let now = T0 + UPDATE_AGE + Duration::milliseconds(1);
    control.set(now);
    let r = cookie(&app, "GET", "/me", &a1).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["expires_at"], millis(now + MAX_AGE));
    assert!(!r.set_cookie, "Next.js re-sets its own cookie");
    let row = adapter.get(&a1).await.unwrap();
    assert_eq!(row.expires, now + MAX_AGE, "extended to now + maxAge");
    assert_eq!(row.user_id, alice);
    control.set(now + Duration::hours(23));
    cookie(&app, "GET", "/me", &a1).await;
    assert_eq!(
        adapter.get(&a1).await.unwrap().expires,
        now + MAX_AGE,
        "not due again within updateAge"
    );
    // The layer's clock decides expiry, not the database's.
    control.set(now + MAX_AGE);
    assert_eq!(
        cookie(&app, "GET", "/me", &a1).await.status,
        StatusCode::UNAUTHORIZED
    );
    control.set(now);
    // An explicit refresh extends at once.
    let later = now + Duration::minutes(5);
    control.set(later);
    let r = cookie(&app, "POST", "/refresh", &a1).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["expires_at"], millis(later + MAX_AGE));
    assert_eq!(adapter.get(&a1).await.unwrap().expires, later + MAX_AGE);

    // The user's live sessions: a1 (current) and a2; not the expired a3, not bob's.
    let r = cookie(&app, "GET", "/sessions", &a1).await;
    assert_eq!(r.status, StatusCode::OK);
    let listed: Vec<(String, bool)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["current"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, vec![(a1_id.clone(), true), (a2_id.clone(), false)]);
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["user_id"] == alice)
    );

    // Signed out by Auth.js (`deleteSession`): no session here either.
    adapter.delete(&a2).await;
    assert_eq!(
        cookie(&app, "GET", "/me", &a2).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Revoking: never another user's session; "everywhere else" keeps this one.
    let b1_id = cookie(&app, "GET", "/me", &b1).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = cookie(&app, "POST", &format!("/revoke/{b1_id}"), &a1).await;
    assert_eq!(r.body, json!({ "revoked": false }));
    assert!(adapter.get(&b1).await.is_some());
    let r = cookie(&app, "POST", "/revoke-others", &b1).await;
    assert_eq!(r.body, json!({ "count": 1 }));
    assert!(adapter.get(&b2).await.is_none());
    assert_eq!(cookie(&app, "GET", "/me", &b1).await.status, StatusCode::OK);

    // Read-mostly: sessions are made and changed by Auth.js.
    for path in ["/login", "/rotate", "/update"] {
        let r = cookie(&app, "POST", path, &a1).await;
        assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{path}");
        assert!(!r.set_cookie, "{path}");
    }
    assert_eq!(adapter.get(&a1).await.unwrap().expires, later + MAX_AGE);
    assert_eq!(
        cookie(&app, "GET", "/data", &a1).await.body["name"],
        "Alice"
    );

    // Logout deletes the row: Auth.js finds no session either.
    let r = cookie(&app, "POST", "/logout", &a1).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({ "ended": true }));
    assert!(
        adapter.get(&a1).await.is_none(),
        "getSessionAndUser after logout"
    );
    assert_eq!(
        cookie(&app, "GET", "/me", &a1).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = cookie(&app, "POST", &format!("/revoke/{a1_id}"), &a1).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Every session of a user, without a session of one's own.
    let req = Request::post(format!("/revoke-all/{bob}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.body, json!({ "count": 1 }));
    assert!(adapter.get(&b1).await.is_none());

    logs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_pg_adapter_writes_sessions_the_layer_reads_and_ends() {
    if !node_adapter_available() {
        return;
    }
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let pool = pool(&url).await;
    scenario(Adapter::Node { url }, pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_adapter_tables_with_rows_inserted_by_sql() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let pool = pool(&url).await;
    scenario(Adapter::PgSql { pool: pool.clone() }, pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prisma_tables_with_string_ids() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let pool = pool(&url).await;
    scenario(Adapter::PrismaSql { pool: pool.clone() }, pool).await;
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_table_and_cookie_names() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let pool = pool(&url).await;
    let adapter = Adapter::PgSql { pool: pool.clone() };
    adapter.create_schema().await;
    sqlx::raw_sql(
        "CREATE SCHEMA auth; ALTER TABLE sessions SET SCHEMA auth; \
         ALTER TABLE users SET SCHEMA auth; ALTER TABLE auth.users RENAME TO people",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("SET search_path TO auth")
        .execute(&pool)
        .await
        .unwrap();
    let user: String = sqlx::query_scalar(
        "INSERT INTO auth.people (name, email) VALUES ('Carol', 'carol@example.com') \
         RETURNING id::text",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let token = uuid_token();
    sqlx::query(
        "INSERT INTO auth.sessions (\"userId\", expires, \"sessionToken\") \
         VALUES ($1::text::int4, $2, $3)",
    )
    .bind(&user)
    .bind(T0 + MAX_AGE)
    .bind(&token)
    .execute(&pool)
    .await
    .unwrap();
    let (clock, _control) = Clock::manual(T0);
    let config = AuthJsDatabaseConfig::pg_adapter()
        .sessions_table("auth.sessions")
        .users_table("auth.people")
        .cookie_names(["__Host-my-app.session"]);
    let app = app(pool, config, SessionConfig::default().clock(clock));
    let r = with_cookie(&app, "GET", "/me", "__Host-my-app.session", &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["sub"], user);
    assert_eq!(r.body["name"], "Carol");
    // Configured names replace the defaults.
    let r = with_cookie(&app, "GET", "/me", V5, &token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bearer(&app, "/me", &token).await.status, StatusCode::OK);
}

/// A pool that never connects (nothing listens on port 1).
fn unreachable_pool() -> PgPool {
    PgPoolOptions::new()
        .acquire_timeout(StdDuration::from_secs(10))
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap()
}

/// Builds the layer, returning the panic message if it refuses.
fn refused(authjs: AuthJsDatabaseConfig, config: SessionConfig) -> Option<String> {
    let pool = unreachable_pool();
    crate::support::start_up_refusal(|| SessionLayer::authjs_database(pool, authjs, config))
}

#[tokio::test]
async fn bad_table_names_and_lifetimes_are_refused_when_the_layer_is_built() {
    let ok = SessionConfig::default;
    for name in [
        "sessions; DROP TABLE users; --",
        "sessions\" --",
        "1sessions",
        "a.b.c",
        "",
        "ses sions",
        "sessions'",
    ] {
        let message = refused(
            AuthJsDatabaseConfig::pg_adapter().sessions_table(name),
            ok(),
        );
        assert!(
            message.as_deref().is_some_and(|m| m.contains("table name")),
            "sessions table {name:?}: {message:?}"
        );
        let message = refused(AuthJsDatabaseConfig::prisma().users_table(name), ok());
        assert!(message.is_some(), "users table {name:?}");
    }
    for good in [
        AuthJsDatabaseConfig::pg_adapter(),
        AuthJsDatabaseConfig::prisma(),
        AuthJsDatabaseConfig::pg_adapter()
            .sessions_table("auth.sessions")
            .users_table("_Users2"),
    ] {
        assert_eq!(refused(good, ok()), None);
    }
    let message = refused(
        AuthJsDatabaseConfig::pg_adapter().cookie_names(["bad name"]),
        ok(),
    );
    assert!(message.unwrap().contains("cookie name"));
    let none: [&str; 0] = [];
    assert!(refused(AuthJsDatabaseConfig::pg_adapter().cookie_names(none), ok()).is_some());
    // Auth.js rows have no creation or activity time: these cannot be enforced.
    let message = refused(
        AuthJsDatabaseConfig::pg_adapter(),
        ok().absolute_timeout(Duration::days(7)),
    );
    assert!(message.unwrap().contains("absolute_timeout"));
    let message = refused(
        AuthJsDatabaseConfig::pg_adapter(),
        ok().idle_timeout(Some(Duration::hours(1))),
    );
    assert!(message.unwrap().contains("idle_timeout"));
}

// ---------------------------------------------------------------------------------------------
// Failures: garbage never reaches the database, a database that is down is a 503
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_reaches_the_database_and_a_database_down_is_503() {
    logs::install();
    let config = SessionConfig::default().store_timeout(StdDuration::from_millis(500));
    let app = app(
        unreachable_pool(),
        AuthJsDatabaseConfig::pg_adapter(),
        config,
    );
    // Tokens that fail the shape check are 401 at once: a query would be a 503 here.
    let oversized = "a".repeat(256);
    for (what, r) in [
        (
            "oversized cookie",
            cookie(&app, "GET", "/me", &oversized).await,
        ),
        ("oversized bearer", bearer(&app, "/me", &oversized).await),
        ("space in a cookie", cookie(&app, "GET", "/me", "a b").await),
        ("space in a bearer", bearer(&app, "/me", "a b").await),
        ("tab in a cookie", cookie(&app, "GET", "/me", "a\tb").await),
        (
            "no token",
            send(&app, Request::get("/me").body(Body::empty()).unwrap()).await,
        ),
    ] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
    }
    let r = send(
        &app,
        Request::get("/me")
            .header(
                header::COOKIE,
                axum::http::HeaderValue::from_bytes(b"__Secure-authjs.session-token=\xff\xfe")
                    .unwrap(),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "not ASCII");
    let r = send(
        &app,
        Request::get("/optional")
            .header(header::COOKIE, format!("{V5}={oversized}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.body, json!({ "session": false }));

    // A well-formed token needs the database, which is down: 503, fail closed.
    let token = hex_token();
    let started = Instant::now();
    let r = cookie(&app, "GET", "/me", &token).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.body["error"].is_string());
    let r = cookie(&app, "GET", "/optional", &token).await;
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no session is not assumed"
    );
    assert!(started.elapsed() < StdDuration::from_secs(5));

    // A server that accepts connections and never answers: the store timeout bounds the wait.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let silent = PgPoolOptions::new()
        .acquire_timeout(StdDuration::from_secs(30))
        .connect_lazy(&format!("postgres://postgres@127.0.0.1:{port}/none"))
        .unwrap();
    let app = app_with_timeout(silent, StdDuration::from_millis(300));
    let started = Instant::now();
    let r = bearer(&app, "/me", &token).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let waited = started.elapsed();
    assert!(
        waited >= StdDuration::from_millis(300) && waited < StdDuration::from_secs(3),
        "answered after {waited:?}"
    );
    hold.abort();
    logs::assert_no_leaks();
}

fn app_with_timeout(pool: PgPool, timeout: StdDuration) -> Router {
    app(
        pool,
        AuthJsDatabaseConfig::pg_adapter(),
        SessionConfig::default().store_timeout(timeout),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_tables_are_503_not_401() {
    // A misnamed table is a broken deployment, not a signed-out user.
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let pool = pool(&url).await;
    let app = app(
        pool,
        AuthJsDatabaseConfig::pg_adapter().sessions_table("no_such_table"),
        SessionConfig::default(),
    );
    let r = bearer(&app, "/me", &uuid_token()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}

/// Waits until a statement of the database `url` names waits on a row lock.
async fn until_blocked(pool: &PgPool) {
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    panic!("the extension never waited for the row lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_never_overwrites_a_concurrent_change() {
    // Auth.js changes the row (extends it, or signs out) while a request of ours, which read it
    // before, extends it: ours writes nothing over the newer row, and reads it again, so a
    // session signed out meanwhile is no session (as Auth.js answers), and one extended
    // meanwhile is served with Auth.js's expiry.
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let pool = pool(&url).await;
    let adapter = Adapter::PgSql { pool: pool.clone() };
    adapter.create_schema().await;
    let user = adapter
        .create_user(Some("Dan"), "dan@example.com", None, None)
        .await;
    let (clock, _control) = Clock::manual(T0 + UPDATE_AGE);
    let app = app(
        pool.clone(),
        AuthJsDatabaseConfig::pg_adapter(),
        SessionConfig::default().clock(clock),
    );
    let by_authjs = T0 + MAX_AGE + Duration::hours(5);
    for signs_out in [false, true] {
        let token = hex_token();
        adapter.create_session(&token, &user, T0 + MAX_AGE).await;
        // Auth.js's write, not committed yet: the row is locked, our read sees the old expiry.
        let mut tx = pool.begin().await.unwrap();
        let change = if signs_out {
            "DELETE FROM sessions WHERE \"sessionToken\" = $1"
        } else {
            "UPDATE sessions SET expires = $2 WHERE \"sessionToken\" = $1"
        };
        sqlx::query(change)
            .bind(&token)
            .bind(by_authjs)
            .execute(&mut *tx)
            .await
            .unwrap();
        let request = tokio::spawn({
            let (app, token) = (app.clone(), token.clone());
            async move { cookie(&app, "GET", "/me", &token).await }
        });
        until_blocked(&pool).await;
        tx.commit().await.unwrap();
        let r = request.await.unwrap();
        let row = adapter.get(&token).await;
        if signs_out {
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "signed out meanwhile");
            assert_eq!(row, None, "never resurrected");
            let r = cookie(&app, "GET", "/me", &token).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        } else {
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(
                r.body["expires_at"],
                millis(by_authjs),
                "the row read again"
            );
            assert_eq!(row.unwrap().expires, by_authjs, "Auth.js's expiry stands");
        }
    }
}
