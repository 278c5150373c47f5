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
    }))
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

fn now_clock() -> (Clock, ManualClock, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    let (clock, control) = Clock::manual(now);
    (clock, control, now)
}

// ---------------------------------------------------------------------------------------------
// The scenario every database goes through
// ---------------------------------------------------------------------------------------------

async fn scenario(backend: Backend) {
    if !better_auth_available() {
        return;
    }
    let Some((url, pool)) = fresh(backend).await else {
        return;
    };
    logs::install();
    let options = json!({
        "database": url, "secret": SECRET, "bearer": true, "admin": true,
        "additionalFields": true,
    });
    let mut alice_sign_up = sign_up("Alice", "alice@example.com");
    alice_sign_up["fields"] = json!({
        "credits": 42, "birthday": "1990-05-01T10:00:00.123Z", "tags": ["a", "b"],
        "newsletter": true,
    });
    let out = node(
        &options,
        json!([
            { "op": "migrate" },
            alice_sign_up,
            sign_up("Bob", "bob@example.com"),
            { "op": "versions" },
        ]),
    )
    .await;
    assert_eq!(out[3]["better-auth"], "1.7.29");
    let alice = SignedIn::read(&out[1], TOKEN_COOKIE);
    let bob = SignedIn::read(&out[2], TOKEN_COOKIE);
    let alice_id = alice.user["id"].as_str().unwrap().to_owned();
    node(
        &options,
        json!([{ "op": "setRole", "userId": alice_id, "role": "admin" }]),
    )
    .await;

    let (clock, control, t0) = now_clock();
    let schema = BetterAuthSchema::default()
        .admin_plugin()
        .user_field("credits", FieldType::Number)
        .user_field("birthday", FieldType::Date)
        .user_field("tags", FieldType::Json)
        .user_field("newsletter", FieldType::Boolean);
    let config = BetterAuthConfig::new(SECRET).schema(schema);
    let app = app(pool.clone(), config.clone(), clock.clone());

    // The session cookie as Better Auth set it: the user as Better Auth outputs it.
    let r = with_cookies(&app, "GET", "/data", &alice.cookies).await;
    assert_eq!(r.status, StatusCode::OK);
    let mut expected = alice.user.clone();
    expected["role"] = json!("admin");
    let mut data = r.body.clone();
    data["updatedAt"] = expected["updatedAt"].clone(); // setRole touched it
    assert_eq!(data, expected, "the user row as Better Auth's JSON");
    assert!(
        !r.set_cookie,
        "the layer never writes Better Auth's cookies"
    );
    let r = with_cookies(&app, "GET", "/me", &alice.cookies).await;
    assert_eq!(r.body["user_id"], alice_id);
    assert_eq!(r.body["id_in_data"], alice_id);
    assert!(
        !r.body.to_string().contains(&alice.token),
        "the token is never shown"
    );
    let alice_session = r.body["session"].as_str().unwrap().to_owned();
    let alice_expires = r.body["expires_at"].as_i64().unwrap();
    let by_better_auth = node(
        &options,
        json!([{ "op": "getSession", "cookie": alice.cookies }]),
    )
    .await;
    assert_eq!(
        iso_millis(&by_better_auth[0]["body"]["session"]["expiresAt"]),
        alice_expires,
        "both sides see the same expiry"
    );
    // Every user field, additional ones of each type included, as Better Auth itself reads
    // them back from its database.
    for user in [&alice, &bob] {
        let by_better_auth = node(
            &options,
            json!([{ "op": "getSession", "cookie": user.cookies }]),
        )
        .await;
        let data = with_cookies(&app, "GET", "/data", &user.cookies).await;
        assert_eq!(data.body, by_better_auth[0]["body"]["user"]);
    }
    let signed_in = iso_millis(&by_better_auth[0]["body"]["session"]["createdAt"]);
    assert_eq!(r.body["created_at"], signed_in);
    assert_eq!(
        r.body["authenticated_at"], signed_in,
        "authenticated at the sign-in: the session row's createdAt"
    );

    // The admin plugin's role: require_role works on Better Auth users.
    assert_eq!(
        with_cookies(&app, "GET", "/admin", &alice.cookies)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        with_cookies(&app, "GET", "/admin", &bob.cookies)
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Bad input: no session, never a 500.
    let mut tampered = alice.token.clone().into_bytes();
    tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let other_secret = node(
        &json!({ "database": url, "secret": OTHER_SECRET }),
        json!([sign_up("Mallory", "mallory@example.com")]),
    )
    .await;
    let mallory = SignedIn::read(&other_secret[0], TOKEN_COOKIE);
    for (what, cookie) in [
        (
            "tampered token",
            format!("{TOKEN_COOKIE}={tampered}.{}", alice.signature()),
        ),
        (
            "another secret's signature",
            mallory.session_cookie(TOKEN_COOKIE),
        ),
        (
            "bob's signature on alice's token",
            format!("{TOKEN_COOKIE}={}.{}", alice.token, bob.signature()),
        ),
        ("unsigned token", format!("{TOKEN_COOKIE}={}", alice.token)),
        ("garbage", format!("{TOKEN_COOKIE}=%%%..%zz")),
        ("oversized", format!("{TOKEN_COOKIE}={}", "a".repeat(5000))),
    ] {
        let r = with_cookies(&app, "GET", "/me", &cookie).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(r.body["error"].is_string(), "{what}");
        assert!(!r.set_cookie, "{what}");
        let r = with_cookies(&app, "GET", "/optional", &cookie).await;
        assert_eq!(r.body, json!({ "session": false }), "{what}");
    }

    // The bearer plugin: the signed `set-auth-token`, percent-encoded or not, and the bare
    // token (which the plugin accepts unless `requireSignature`).
    let auth_token = alice.auth_token.clone().expect("set-auth-token");
    for token in [
        auth_token.as_str(),
        alice.signed.as_str(),
        alice.token.as_str(),
    ] {
        let r = bearer(&app, "/me", token).await;
        assert_eq!(r.status, StatusCode::OK, "bearer {token:.8}");
        assert_eq!(r.body["user_id"], alice_id);
    }
    let strict = self::app(
        pool.clone(),
        config.clone().bearer_requires_signature(true),
        clock.clone(),
    );
    assert_eq!(
        bearer(&strict, "/me", &auth_token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        bearer(&strict, "/me", &alice.token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let forged = format!("{}.{}", alice.token, bob.signature());
    assert_eq!(
        bearer(&app, "/me", &forged).await.status,
        StatusCode::UNAUTHORIZED
    );

    // `session.disableSessionRefresh`: never extended.
    let no_refresh = self::app(
        pool.clone(),
        config.clone().session_refresh(false),
        clock.clone(),
    );
    control.set(t0 + UPDATE_AGE + Duration::minutes(1));
    let r = with_cookies(&no_refresh, "GET", "/me", &alice.cookies).await;
    assert_eq!(r.body["expires_at"], alice_expires, "refresh disabled");
    // Better Auth's extension rule: once `expiresAt - expiresIn + updateAge <= now`.
    control.set(t0 + UPDATE_AGE - Duration::minutes(1));
    let r = with_cookies(&app, "GET", "/me", &alice.cookies).await;
    assert_eq!(r.body["expires_at"], alice_expires, "not due yet");
    let now = t0 + UPDATE_AGE + Duration::minutes(1);
    control.set(now);
    let r = with_cookies(&app, "GET", "/me", &alice.cookies).await;
    assert_eq!(r.status, StatusCode::OK);
    let extended = millis(now + EXPIRES_IN);
    assert_eq!(
        r.body["expires_at"], extended,
        "extended to now + expiresIn"
    );
    assert!(!r.set_cookie, "Better Auth re-sets its own cookie");
    let seen = node(
        &options,
        json!([{ "op": "getSession", "cookie": alice.cookies }]),
    )
    .await;
    assert_eq!(
        iso_millis(&seen[0]["body"]["session"]["expiresAt"]),
        extended,
        "Better Auth reads the extension"
    );
    control.set(now + Duration::hours(23));
    let r = with_cookies(&app, "GET", "/me", &alice.cookies).await;
    assert_eq!(
        r.body["expires_at"], extended,
        "not due again within updateAge"
    );
    // An explicit refresh extends at once.
    let later = now + Duration::hours(23);
    let r = with_cookies(&app, "POST", "/refresh", &alice.cookies).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["expires_at"], millis(later + EXPIRES_IN));
    // Expired rows: with the layer's clock, never the database's.
    control.set(later + EXPIRES_IN + Duration::seconds(1));
    assert_eq!(
        with_cookies(&app, "GET", "/me", &alice.cookies)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    control.set(t0);

    // A sign-in with `rememberMe: false`: Better Auth never extends it, nor does the layer
    // while the request carries its `dont_remember` cookie.
    let short = node(
        &options,
        json!([{ "op": "signIn", "email": "bob@example.com", "password": PASSWORD, "rememberMe": false }]),
    )
    .await;
    let short = SignedIn::read(&short[0], TOKEN_COOKIE);
    assert!(short.cookies.contains("better-auth.dont_remember="));
    let r = with_cookies(&app, "GET", "/me", &short.cookies).await;
    let short_expires = r.body["expires_at"].as_i64().unwrap();
    control.set(t0 + Duration::hours(12));
    let r = with_cookies(&app, "GET", "/me", &short.cookies).await;
    assert_eq!(r.body["expires_at"], short_expires, "never extended");

    // The user's live sessions, and revoking them.
    let r = with_cookies(&app, "GET", "/sessions", &bob.cookies).await;
    let listed = r.body.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|s| s["user_id"] == bob.user["id"]));
    let short_id = with_cookies(&app, "GET", "/me", &short.cookies).await.body["session"].clone();
    let r = with_cookies(
        &app,
        "POST",
        &format!("/revoke/{alice_session}"),
        &bob.cookies,
    )
    .await;
    assert_eq!(
        r.body,
        json!({ "revoked": false }),
        "never another user's session"
    );
    let r = with_cookies(&app, "POST", "/revoke-others", &bob.cookies).await;
    assert_eq!(r.body, json!({ "count": 1 }));
    assert_eq!(
        with_cookies(&app, "GET", "/me", &short.cookies)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let r = with_cookies(
        &app,
        "POST",
        &format!("/revoke/{}", short_id.as_str().unwrap()),
        &bob.cookies,
    )
    .await;
    assert_eq!(r.body, json!({ "revoked": false }), "already gone");

    // Read-mostly: sessions are made by Better Auth.
    let r = with_cookies(&app, "POST", "/login", &alice.cookies).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);

    // Signed out by Better Auth: no session here either.
    node(
        &options,
        json!([{ "op": "signOut", "cookie": bob.cookies }]),
    )
    .await;
    assert_eq!(
        with_cookies(&app, "GET", "/me", &bob.cookies).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Logout here deletes the row: Better Auth finds no session either.
    let r = with_cookies(&app, "POST", "/logout", &alice.cookies).await;
    assert_eq!(r.body, json!({ "ended": true }));
    let seen = node(
        &options,
        json!([{ "op": "getSession", "cookie": alice.cookies }]),
    )
    .await;
    assert_eq!(seen[0]["body"], Value::Null, "Better Auth sees the logout");
    assert_eq!(
        with_cookies(&app, "GET", "/me", &alice.cookies)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    logs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sessions_made_by_better_auth() {
    scenario(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_sessions_made_by_better_auth() {
    scenario(Backend::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sessions_made_by_better_auth() {
    scenario(Backend::Sqlite).await;
}

// ---------------------------------------------------------------------------------------------
// The cookie cache, in each of Better Auth's strategies
// ---------------------------------------------------------------------------------------------

async fn cookie_cache(strategy: CookieCacheStrategy, name: &str) {
    if !better_auth_available() {
        return;
    }
    let Some((url, pool)) = fresh(Backend::Sqlite).await else {
        return;
    };
    // The admin plugin adds user fields that the layer's schema below does not name.
    let options = json!({ "database": url, "secret": SECRET, "cookieCache": name, "admin": true });
    // Ivy's long name makes Better Auth split her cache cookie into chunks.
    let long_name = "Ivy".repeat(1000);
    let out = node(
        &options,
        json!([
            { "op": "migrate" },
            sign_up("Carol", "carol@example.com"),
            sign_up("Dave", "dave@example.com"),
            sign_up(&long_name, "ivy@example.com"),
        ]),
    )
    .await;
    let carol = SignedIn::read(&out[1], TOKEN_COOKIE);
    let dave = SignedIn::read(&out[2], TOKEN_COOKIE);
    let ivy = SignedIn::read(&out[3], TOKEN_COOKIE);
    assert!(
        ivy.cookies.contains(&format!("{CACHE_COOKIE}.1=")),
        "{name}: a chunked cache cookie"
    );
    assert!(
        carol.cookies.contains(CACHE_COOKIE),
        "{name}: a cache cookie"
    );
    let carol_cache = cookie_value(&carol.cookies, CACHE_COOKIE);
    let dave_cache = cookie_value(&dave.cookies, CACHE_COOKIE);
    let (clock, control, t0) = now_clock();
    let cached = app(
        pool.clone(),
        BetterAuthConfig::new(SECRET).cookie_cache(strategy),
        clock.clone(),
    );
    let uncached = app(pool, BetterAuthConfig::new(SECRET), clock);
    let r = with_cookies(&cached, "GET", "/data", &carol.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "{name}");
    assert_eq!(r.body["email"], "carol@example.com");
    // The same user data from the cache as from the database: the fields the schema names.
    let from_database = with_cookies(&uncached, "GET", "/data", &carol.cookies).await;
    assert_eq!(
        r.body, from_database.body,
        "{name}: cache and database agree"
    );

    // Signed out elsewhere (the row is gone, this browser keeps its cookies): Better Auth
    // answers from the cache within maxAge, and so does the layer with the cache on.
    let carol_session_only = carol.session_cookie(TOKEN_COOKIE);
    node(
        &options,
        json!([{ "op": "signOut", "cookie": carol_session_only }]),
    )
    .await;
    let seen = node(
        &options,
        json!([{ "op": "getSession", "cookie": carol.cookies }]),
    )
    .await;
    assert_eq!(
        seen[0]["body"]["user"]["email"], "carol@example.com",
        "{name}: Better Auth's cache"
    );
    let r = with_cookies(&cached, "GET", "/me", &carol.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "{name}: answered from the cache");
    assert_eq!(
        with_cookies(&uncached, "GET", "/me", &carol.cookies)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "{name}: without the cache, the database says signed out"
    );
    // A chunked cache cookie is joined: answered from the cache after a sign-out elsewhere.
    node(
        &options,
        json!([{ "op": "signOut", "cookie": ivy.session_cookie(TOKEN_COOKIE) }]),
    )
    .await;
    let r = with_cookies(&cached, "GET", "/data", &ivy.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "{name}: Ivy's chunks");
    assert_eq!(r.body["name"], long_name.as_str());
    // A cache cookie never stands alone, never belongs to another token, never outlives maxAge.
    for (what, cookies) in [
        ("cache alone", format!("{CACHE_COOKIE}={carol_cache}")),
        (
            "dave's cache with carol's token",
            format!("{carol_session_only}; {CACHE_COOKIE}={dave_cache}"),
        ),
        (
            "tampered cache",
            format!(
                "{carol_session_only}; {CACHE_COOKIE}={}",
                tamper(&carol_cache)
            ),
        ),
    ] {
        let r = with_cookies(&cached, "GET", "/me", &cookies).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {what}");
    }
    let r = with_cookies(
        &cached,
        "GET",
        "/me",
        &format!(
            "{}; {CACHE_COOKIE}={dave_cache}",
            dave.session_cookie(TOKEN_COOKIE)
        ),
    )
    .await;
    assert_eq!(
        r.body["email"], "dave@example.com",
        "{name}: dave's own cache"
    );
    control.set(t0 + Duration::minutes(6));
    assert_eq!(
        with_cookies(&cached, "GET", "/me", &carol.cookies)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "{name}: past maxAge the database decides"
    );
    assert_eq!(
        with_cookies(&cached, "GET", "/me", &dave.cookies)
            .await
            .status,
        StatusCode::OK,
        "{name}: a live session past maxAge comes from the database"
    );
}

fn cookie_value(cookies: &str, name: &str) -> String {
    cookies
        .split("; ")
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {cookies}"))
        .to_owned()
}

/// `value` with one character in its middle changed.
fn tamper(value: &str) -> String {
    let mut bytes = value.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compact_cookie_cache() {
    cookie_cache(CookieCacheStrategy::Compact, "compact").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jwt_cookie_cache() {
    cookie_cache(CookieCacheStrategy::Jwt, "jwt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jwe_cookie_cache() {
    cookie_cache(CookieCacheStrategy::Jwe, "jwe").await;
}

// ---------------------------------------------------------------------------------------------
// Cookie names and schema options
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_prefix_custom_prefix_and_custom_tables() {
    if !better_auth_available() {
        return;
    }
    let Some((url, pool)) = fresh(Backend::Sqlite).await else {
        return;
    };
    // An https app with `advanced.cookiePrefix`, its user and session models renamed and
    // columns mapped, and the cookie cache on.
    let options = json!({
        "database": url, "secret": SECRET, "baseURL": "https://app.example.com",
        "cookiePrefix": "my-app", "custom": true, "cookieCache": "jwe",
    });
    let out = node(
        &options,
        json!([{ "op": "migrate" }, sign_up("Erin", "erin@example.com")]),
    )
    .await;
    let secure_name = "__Secure-my-app.session_token";
    let erin = SignedIn::read(&out[1], secure_name);
    let (clock, _control, _) = now_clock();
    let schema = BetterAuthSchema::default()
        .user_table("member")
        .session_table("login")
        .user_column("emailVerified", "email_verified")
        .session_column("expiresAt", "expires_at");
    let app = app(
        pool.clone(),
        BetterAuthConfig::new(SECRET)
            .cookie_prefix("my-app")
            .schema(schema.clone()),
        clock.clone(),
    );
    let r = with_cookies(&app, "GET", "/data", &erin.cookies).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["email"], "erin@example.com");
    assert_eq!(r.body["emailVerified"], false);
    // The same signed value under the plain name (http) works too; under the default prefix it
    // is no session.
    let plain = erin.session_cookie("my-app.session_token");
    assert_eq!(
        with_cookies(&app, "GET", "/me", &plain).await.status,
        StatusCode::OK
    );
    let default_name = erin.session_cookie(TOKEN_COOKIE);
    assert_eq!(
        with_cookies(&app, "GET", "/me", &default_name).await.status,
        StatusCode::UNAUTHORIZED
    );
    let default_prefix = self::app(
        pool.clone(),
        BetterAuthConfig::new(SECRET).schema(schema.clone()),
        clock.clone(),
    );
    assert_eq!(
        with_cookies(&default_prefix, "GET", "/me", &erin.cookies)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // The cache cookie of the same prefix and the same `__Secure-` form as the session cookie.
    let cache_name = "__Secure-my-app.session_data";
    assert!(erin.cookies.contains(cache_name), "{}", erin.cookies);
    let cached = self::app(
        pool,
        BetterAuthConfig::new(SECRET)
            .cookie_prefix("my-app")
            .cookie_cache(CookieCacheStrategy::Jwe)
            .schema(schema),
        clock,
    );
    node(
        &options,
        json!([{ "op": "signOut", "cookie": erin.session_cookie(secure_name) }]),
    )
    .await;
    let r = with_cookies(&cached, "GET", "/data", &erin.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "answered from the cache");
    assert_eq!(r.body["email"], "erin@example.com");
    assert_eq!(
        with_cookies(&app, "GET", "/me", &erin.cookies).await.status,
        StatusCode::UNAUTHORIZED,
        "signed out in the database"
    );
    // A plain-named cache beside a `__Secure-` session cookie belongs to another cookie jar.
    let cache = cookie_value(&erin.cookies, cache_name);
    let mixed = format!(
        "{}; my-app.session_data={cache}",
        erin.session_cookie(secure_name)
    );
    assert_eq!(
        with_cookies(&cached, "GET", "/me", &mixed).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plural_tables() {
    if !better_auth_available() {
        return;
    }
    let Some((url, pool)) = fresh(Backend::Sqlite).await else {
        return;
    };
    // The adapter's `usePlural`: tables `users` and `sessions`.
    let options = json!({ "database": url, "secret": SECRET, "plural": true });
    let out = node(
        &options,
        json!([{ "op": "migrate" }, sign_up("Fay", "fay@example.com")]),
    )
    .await;
    let fay = SignedIn::read(&out[1], TOKEN_COOKIE);
    let (clock, _control, _) = now_clock();
    let plural = BetterAuthSchema::default().use_plural(true);
    let app = app(
        pool.clone(),
        BetterAuthConfig::new(SECRET).schema(plural),
        clock.clone(),
    );
    let r = with_cookies(&app, "GET", "/data", &fay.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["email"], "fay@example.com");
    // Configured for singular tables, the layer finds none: a broken deployment, not a
    // signed-out user.
    let singular = self::app(pool, BetterAuthConfig::new(SECRET), clock);
    assert_eq!(
        with_cookies(&singular, "GET", "/me", &fay.cookies)
            .await
            .status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

// ---------------------------------------------------------------------------------------------
// Session events, freshness
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_freshness_and_reauthentication_on_better_auth_sessions() {
    if !better_auth_available() {
        return;
    }
    let Some((url, pool)) = fresh(Backend::Sqlite).await else {
        return;
    };
    logs::install();
    let options = json!({ "database": url, "secret": SECRET });
    let sign_in = json!({ "op": "signIn", "email": "gus@example.com", "password": PASSWORD });
    let out = node(
        &options,
        json!([
            { "op": "migrate" },
            sign_up("Gus", "gus@example.com"),
            sign_in,
            sign_in,
            sign_in,
        ]),
    )
    .await;
    let [first, second, _, _] = [1, 2, 3, 4].map(|i| SignedIn::read(&out[i], TOKEN_COOKIE));
    let gus = first.user["id"].as_str().unwrap().to_owned();
    let (events, heard) = crate::events::recorder();
    let (clock, control, t0) = now_clock();
    let app = app_with(
        pool,
        BetterAuthConfig::new(SECRET),
        SessionConfig::default().clock(clock).events(events.clone()),
    );
    let id_of = |reply: Reply| -> Uuid {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["session"].as_str().unwrap().parse().unwrap()
    };
    // Reading sessions that are not due for extension tells the hook nothing.
    let first_id = id_of(with_cookies(&app, "GET", "/me", &first.cookies).await);
    let second_id = id_of(with_cookies(&app, "GET", "/me", &second.cookies).await);
    // Credentials that are no session: one user's signature on another's token, a token
    // Better Auth never made (correctly signed).
    let forged = format!("{TOKEN_COOKIE}={}.{}", first.token, second.signature());
    let unknown = format!(
        "{TOKEN_COOKIE}={}",
        sign("Vgp9ZpuJ0IcfkuFv29vekdlUlnTalwwO", SECRET)
    );
    for cookie in [&forged, &unknown] {
        let r = with_cookies(&app, "GET", "/me", cookie).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Fresh as Better Auth's `freshAge` counts it: since the session row's createdAt.
    let r = with_cookies(&app, "GET", "/fresh", &first.cookies).await;
    assert_eq!(r.status, StatusCode::OK);
    // The sliding extension by Better Auth's rule.
    control.set(t0 + UPDATE_AGE + Duration::minutes(1));
    id_of(with_cookies(&app, "GET", "/me", &first.cookies).await);
    // Extended, but signed in more than freshAge ago: Better Auth's fresh-session check
    // refuses it too (SESSION_NOT_FRESH), and only a new sign-in makes a fresh session.
    let r = with_cookies(&app, "GET", "/fresh", &first.cookies).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Step-up re-authentication is Better Auth's to record: 501, nothing heard.
    let r = with_cookies(&app, "POST", "/reauthenticate", &first.cookies).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    // Revocations and the logout.
    let r = with_cookies(
        &app,
        "POST",
        &format!("/revoke/{second_id}"),
        &first.cookies,
    )
    .await;
    assert_eq!(r.body, json!({ "revoked": true }));
    let r = with_cookies(&app, "POST", "/revoke-others", &first.cookies).await;
    assert_eq!(r.body, json!({ "count": 2 }), "the third and fourth");
    let r = with_cookies(&app, "POST", "/logout", &first.cookies).await;
    assert_eq!(r.body, json!({ "ended": true }));
    let r = with_cookies(&app, "GET", "/me", &first.cookies).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Every session of the user, from an admin tool (no session needed): Better Auth sees it.
    let again = node(&options, json!([sign_in, sign_in])).await;
    let [again_a, again_b] = [0, 1].map(|i| SignedIn::read(&again[i], TOKEN_COOKIE));
    let r = with_cookies(&app, "POST", &format!("/revoke-all/{gus}"), "").await;
    assert_eq!(r.body, json!({ "count": 2 }));
    let r = with_cookies(&app, "GET", "/me", &again_a.cookies).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let seen = node(
        &options,
        json!([{ "op": "getSession", "cookie": again_b.cookies }]),
    )
    .await;
    assert_eq!(
        seen[0]["body"],
        Value::Null,
        "Better Auth sees the revocation"
    );
    // Expired (a fresh sign-in, the clock past its expiry).
    let late = node(&options, json!([sign_in])).await;
    let late = SignedIn::read(&late[0], TOKEN_COOKIE);
    control.set(t0 + EXPIRES_IN + Duration::days(1));
    let r = with_cookies(&app, "GET", "/me", &late.cookies).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    crate::events::delivered(&events, 10).await;
    let heard = heard.lock().unwrap().clone();
    let seen: Vec<_> = heard
        .iter()
        .map(|e| (e.kind, e.user_id.clone(), e.session_id))
        .collect();
    let gus = Some(gus);
    let rejected = |reason| (SessionEventKind::Rejected(reason), None, None);
    assert_eq!(
        seen,
        vec![
            rejected(RejectReason::Invalid),
            rejected(RejectReason::Unknown),
            (SessionEventKind::Refreshed, gus.clone(), Some(first_id)),
            (SessionEventKind::Revoked, gus.clone(), Some(second_id)),
            (SessionEventKind::RevokedOthers, gus.clone(), Some(first_id)),
            (SessionEventKind::LoggedOut, gus.clone(), Some(first_id)),
            rejected(RejectReason::Unknown),
            (SessionEventKind::RevokedAll, gus, None),
            rejected(RejectReason::Unknown),
            rejected(RejectReason::Expired),
        ]
    );
    logs::assert_no_leaks();
}

// ---------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------

/// A pool that never connects (nothing listens on port 1).
fn unreachable_pool() -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(StdDuration::from_secs(10))
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_signature_never_reaches_the_database_and_a_database_down_is_503() {
    let layer = SessionLayer::betterauth(
        unreachable_pool(),
        BetterAuthConfig::new(SECRET),
        SessionConfig::default().store_timeout(StdDuration::from_millis(500)),
    );
    let app = Router::new().route("/me", get(me)).layer(layer);
    // Any query would be a 503 here: these (a signature made with another secret, none,
    // nothing) are 401 at once.
    let token = "Vgp9ZpuJ0IcfkuFv29vekdlUlnTalwwO";
    for cookie in [
        format!("{TOKEN_COOKIE}={}", sign(token, OTHER_SECRET)),
        format!("{TOKEN_COOKIE}={token}"),
        format!("{TOKEN_COOKIE}="),
        format!("{TOKEN_COOKIE}=.x"),
        format!("__Secure-{TOKEN_COOKIE}={}", sign(token, OTHER_SECRET)),
        // A cache cookie beside a session cookie that is not the secret's, or alone.
        format!(
            "{TOKEN_COOKIE}={}; {CACHE_COOKIE}=eyJzZXNzaW9uIjp7fX0",
            sign(token, OTHER_SECRET)
        ),
        format!("{CACHE_COOKIE}=eyJzZXNzaW9uIjp7fX0"),
    ] {
        let r = with_cookies(&app, "GET", "/me", &cookie).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{cookie}");
    }
    // Bearer tokens signed with another secret, percent-encoded or not, and ones that cannot be
    // a token (a bare token of the right shape is looked up: the plugin accepts bare tokens).
    let foreign = sign(token, OTHER_SECRET);
    let foreign_decoded = foreign
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    let oversized = "x".repeat(256);
    for bearer_token in [foreign.as_str(), &foreign_decoded, "a b", &oversized] {
        let r = bearer(&app, "/me", bearer_token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bearer_token:.20}");
    }
    let strict = SessionLayer::betterauth(
        unreachable_pool(),
        BetterAuthConfig::new(SECRET).bearer_requires_signature(true),
        SessionConfig::default().store_timeout(StdDuration::from_millis(500)),
    );
    let strict = Router::new().route("/me", get(me)).layer(strict);
    let r = bearer(&strict, "/me", token).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "an unsigned bearer token"
    );
    // A correctly signed token needs the database, which is down: 503, fail closed.
    let signed = sign(token, SECRET);
    let r = with_cookies(&app, "GET", "/me", &format!("{TOKEN_COOKIE}={signed}")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_and_lifetimes_are_refused_when_the_layer_is_built() {
    let refused = |better_auth: BetterAuthConfig, config: SessionConfig| {
        crate::support::start_up_refusal(|| {
            SessionLayer::betterauth(unreachable_pool(), better_auth, config)
        })
    };
    let ok = SessionConfig::default;
    let good = || BetterAuthConfig::new(SECRET);
    assert_eq!(refused(good(), ok()), None);
    for (what, config) in [
        (
            "table",
            good().schema(BetterAuthSchema::default().user_table("user; DROP TABLE x")),
        ),
        (
            "column",
            good().schema(BetterAuthSchema::default().session_column("token", "to\"ken")),
        ),
        ("cookie", good().cookie_prefix("bad prefix")),
        ("secret", BetterAuthConfig::new("")),
    ] {
        assert!(refused(config, ok()).is_some(), "{what}");
    }
    let message = refused(good(), ok().absolute_timeout(Duration::days(30)));
    assert!(message.unwrap().contains("absolute_timeout"));
}

// ---------------------------------------------------------------------------------------------
// The example
// ---------------------------------------------------------------------------------------------

/// `examples/betterauth_api.rs`, started as its own process against a PostgreSQL database that
/// the real Better Auth filled, driven over real HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_betterauth_api_example_answers_api_me() {
    if !better_auth_available() {
        return;
    }
    let Some((url, _pool)) = fresh(Backend::Postgres).await else {
        return;
    };
    logs::install();
    let options = json!({ "database": url, "secret": SECRET, "bearer": true });
    let out = node(
        &options,
        json!([{ "op": "migrate" }, sign_up("Hal", "hal@example.com")]),
    )
    .await;
    let hal = SignedIn::read(&out[1], TOKEN_COOKIE);
    let seen = node(
        &options,
        json!([{ "op": "getSession", "cookie": hal.cookies }]),
    )
    .await;
    let expires_at = iso_millis(&seen[0]["body"]["session"]["expiresAt"]);

    let binary = crate::demo::example_binary("betterauth_api");
    let dir = crate::demo::TempDir::new("betterauth-api");
    // Without a secret it refuses to start, saying what to set.
    let refused = std::process::Command::new(&binary)
        .env_remove("BETTER_AUTH_SECRET")
        .env_remove("BETTER_AUTH_SECRETS")
        .env_remove("AUTH_SECRET")
        .env("DATABASE_URL", &url)
        .output()
        .expect("run the example");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("BETTER_AUTH_SECRET"));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port")
        .port();
    let log = dir.path().join("betterauth_api.log");
    let out = std::fs::File::create(&log).expect("create the example's log");
    let mut child = KillOnDrop(
        std::process::Command::new(&binary)
            .current_dir(dir.path())
            .env("BETTER_AUTH_SECRET", SECRET)
            .env_remove("BETTER_AUTH_SECRETS")
            .env_remove("BETTER_AUTH_COOKIE_PREFIX")
            .env_remove("BETTER_AUTH_COOKIE_CACHE")
            .env("DATABASE_URL", &url)
            .env("PORT", port.to_string())
            .env("RUST_LOG", "trace")
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().expect("clone the log handle"))
            .stderr(out)
            .spawn()
            .expect("start the example"),
    );
    crate::demo::wait_until_listening(&mut child.0, port, &log).await;
    let http = reqwest::Client::new();
    let me = format!("http://127.0.0.1:{port}/api/me");
    let get = |request: reqwest::RequestBuilder| async move {
        let reply = request.send().await.expect("the example answers");
        let status = reply.status().as_u16();
        (status, reply.json::<Value>().await.unwrap_or(Value::Null))
    };
    let expected = |body: &Value| {
        let at = OffsetDateTime::parse(body["expires_at"].as_str().unwrap(), &Rfc3339).unwrap();
        assert_eq!(millis(at), expires_at, "Better Auth's expiresAt");
        let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["email", "expires_at", "name", "user_id"]);
        assert_eq!(body["user_id"], hal.user["id"]);
        assert_eq!(body["name"], "Hal");
        assert_eq!(body["email"], "hal@example.com");
    };
    // The session cookie as Better Auth set it, and the bearer plugin's token.
    let (status, body) = get(http.get(&me).header(header::COOKIE, &hal.cookies)).await;
    assert_eq!(status, 200, "{body}");
    expected(&body);
    let auth_token = hal.auth_token.clone().expect("set-auth-token");
    let (status, body) = get(http.get(&me).bearer_auth(&auth_token)).await;
    assert_eq!(status, 200, "{body}");
    expected(&body);
    // No session, a forged one: 401 with an error.
    let forged = format!("{TOKEN_COOKIE}={}", sign(&hal.token, OTHER_SECRET));
    for request in [http.get(&me), http.get(&me).header(header::COOKIE, forged)] {
        let (status, body) = get(request).await;
        assert_eq!(status, 401);
        assert!(body["error"].is_string(), "{body}");
    }
    drop(child);
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let leaks = logs::leaks_in(&output, &[SECRET]);
    assert!(leaks.is_empty(), "the example logged {leaks:?}");
}

/// A child process, killed when dropped (also when a test fails).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
