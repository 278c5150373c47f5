//! The demo application (`examples/demo`), started as its own process and driven over real
//! HTTP, cookies handled by hand: what a browser and an API client would see.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::logs;

// Issue 17's demo routes, each with the demo helpers below.
mod events;
mod freshness;
mod roles;

/// How long the demo may take to start listening (it hashes the seed passwords first).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Waits until the demo process listens on `port`; panics with its log when it exits first or
/// takes longer than [`START_TIMEOUT`].
pub(crate) async fn wait_until_listening(child: &mut Child, port: u16, log: &Path) {
    let output = || std::fs::read_to_string(log).unwrap_or_default();
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the demo exited with {status}:\n{}", output());
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        assert!(
            started.elapsed() < START_TIMEOUT,
            "the demo did not listen within {START_TIMEOUT:?}:\n{}",
            output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The compiled demo, next to this test binary: `target/<profile>/examples/demo`.
pub(crate) fn demo_binary() -> PathBuf {
    example_binary("demo")
}

/// The compiled example `name`, next to this test binary: `target/<profile>/examples/<name>`.
pub(crate) fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let binary = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo test` (which builds the examples) or \
         `cargo build --example {name}` first",
        binary.display()
    );
    binary
}

/// A scratch directory, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "sessionward-demo-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running demo process, killed on drop. Its output goes to `demo.log` in `dir`. It logs at
/// TRACE, and when it goes its whole log is checked for every token the tests saw and every
/// password and secret they used (`support::logs`).
struct Demo {
    child: Child,
    base: String,
    log: PathBuf,
    http: reqwest::Client,
}

impl Demo {
    /// Starts the demo in `dir` (its working directory) with `DATABASE_URL` set to
    /// `database_url`, or unset for the default SQLite file, and waits until it listens.
    async fn start(dir: &Path, database_url: Option<&str>) -> Demo {
        Demo::start_with(dir, database_url, &[]).await
    }

    /// As [`start`](Self::start), with further environment variables.
    async fn start_with(dir: &Path, database_url: Option<&str>, env: &[(&str, &str)]) -> Demo {
        logs::install();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("find a free port")
            .port();
        let log = dir.join(format!("demo-{port}.log"));
        let out = std::fs::File::create(&log).expect("create the demo log");
        let mut command = Command::new(demo_binary());
        command
            .current_dir(dir)
            .env("PORT", port.to_string())
            .env("RUST_LOG", "trace")
            .env_remove("INSECURE_COOKIES")
            .env_remove("SESSION_STRATEGY")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("clone the log handle"))
            .stderr(out);
        match database_url {
            Some(url) => command.env("DATABASE_URL", url),
            None => command.env_remove("DATABASE_URL"),
        };
        let mut demo = Demo {
            child: command.spawn().expect("start the demo"),
            base: format!("http://127.0.0.1:{port}"),
            log,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
        };
        wait_until_listening(&mut demo.child, port, &demo.log).await;
        demo
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A request to `path`, carrying the session cookie `token` if given.
    fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => request.header(header::COOKIE, format!("session-id={token}")),
            None => request,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        send(self.request(Method::GET, path, token)).await
    }

    async fn post_form(&self, path: &str, token: Option<&str>, form: &[(&str, &str)]) -> Reply {
        send(self.request(Method::POST, path, token).form(form)).await
    }

    /// Logs in through the HTML form; returns the session token.
    async fn login_form(&self, username: &str, password: &str) -> String {
        let reply = self
            .post_form(
                "/login",
                None,
                &[("username", username), ("password", password)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        reply.token().expect("login sets the session cookie")
    }

    /// Logs in through the JSON API from a client named `user_agent`; returns the token.
    async fn login_api(&self, username: &str, password: &str, user_agent: &str) -> String {
        let body = json!({ "username": username, "password": password });
        let request = self.request(Method::POST, "/api/login", None);
        let reply = send(request.header(header::USER_AGENT, user_agent).json(&body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let me = reply.json();
        assert_eq!(me["user_id"], username);
        rfc3339(&me["expires_at"]);
        reply.token().expect("login sets the session cookie")
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            return;
        }
        let output = self.output();
        // The wrong password the browser test tries, and the JWT demo's secret.
        let leaks = logs::leaks_in(&output, &["wonderlan", DEMO_JWT_SECRET]);
        assert!(
            leaks.is_empty(),
            "the demo's log ({} lines at TRACE) holds a token, password or secret:\n{}",
            output.lines().count(),
            leaks.join("\n")
        );
    }
}

/// What came back: status, headers and the body as text.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn send(request: RequestBuilder) -> Reply {
    let response = request.send().await.expect("the demo answers");
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.expect("a readable body"),
    }
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The `Set-Cookie` header for the session cookie, if any.
    fn set_cookie(&self) -> Option<&str> {
        let mut cookies = self
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter(|v| v.starts_with("session-id="));
        let cookie = cookies.next();
        assert!(cookies.next().is_none(), "one session Set-Cookie at most");
        cookie
    }

    /// The token the response hands out: `None` without a session `Set-Cookie`, `Some("")`
    /// when it clears the cookie.
    fn token(&self) -> Option<String> {
        let cookie = self.set_cookie()?;
        let pair = cookie.split(';').next().unwrap_or_default();
        let token = pair.trim_start_matches("session-id=");
        logs::register(token);
        Some(token.to_owned())
    }

    /// Keeps a cookie client's `token` current: JWT sessions re-issue the token on some
    /// responses (a refresh, a re-authentication, a change to the user's data).
    fn renew(&self, token: &mut String) {
        if let Some(new) = self.token().filter(|t| !t.is_empty()) {
            *token = new;
        }
    }

    fn assert_clears_cookie(&self) {
        assert_eq!(self.token().as_deref(), Some(""), "cookie cleared");
        assert!(self.set_cookie().unwrap().contains("Max-Age=0"));
    }
}

fn rfc3339(value: &Value) -> OffsetDateTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[tokio::test]
async fn browser_logs_in_uses_guarded_pages_and_logs_out() {
    let dir = TempDir::new("browser");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    let demo = Demo::start(dir.path(), Some(&url)).await;

    // Logged out: HTML pages send the visitor to the login form, which carries `next`.
    let reply = demo.get("/dashboard", None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), Some("/login?next=/dashboard"));
    let reply = demo.get("/admin", None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), Some("/login?next=/admin"));
    let reply = demo.get("/login?next=/sessions", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.contains(r#"name="next" value="/sessions""#));

    // A wrong password: 401, the form again with a message, no cookie. Input is escaped.
    let bad = [("username", "<b>alice</b>"), ("password", "nope")];
    let reply = demo.post_form("/login", None, &bad).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.set_cookie().is_none());
    assert!(reply.body.contains("Wrong username or password"));
    assert!(reply.body.contains("&lt;b&gt;alice&lt;/b&gt;") && !reply.body.contains("<b>alice"));
    let bad = [("username", "alice"), ("password", "wonderlan")];
    let reply = demo.post_form("/login", None, &bad).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.set_cookie().is_none());

    // The right one: 303 to the dashboard with a locked-down cookie.
    let good = [("username", "alice"), ("password", "wonderland")];
    let reply = demo.post_form("/login", None, &good).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), Some("/dashboard"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let cookie = reply.set_cookie().expect("session cookie");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for wanted in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(
            attributes.iter().any(|a| a.eq_ignore_ascii_case(wanted)),
            "{wanted} missing in {cookie}"
        );
    }
    let alice = reply.token().unwrap();
    assert!(!alice.is_empty());

    // `next` is followed when it stays on the site, and ignored otherwise.
    let with_next = |next| [good[0], good[1], ("next", next)];
    let reply = demo
        .post_form("/login", None, &with_next("/sessions"))
        .await;
    assert_eq!(reply.header("location"), Some("/sessions"));
    let reply = demo
        .post_form("/login", None, &with_next("//evil.example"))
        .await;
    assert_eq!(reply.header("location"), Some("/dashboard"));

    let reply = demo.get("/dashboard", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.contains("alice"));
    assert!(reply.body.contains(r#"action="/logout""#));
    assert!(demo.get("/", Some(&alice)).await.body.contains("alice"));
    assert_eq!(
        demo.get("/admin", Some(&alice)).await.status,
        StatusCode::FORBIDDEN
    );
    let reply = demo.get("/api/me", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["role"], "user");
    assert_eq!(reply.json()["user_id"], "alice");

    // A forged cross-site logout is refused and changes nothing.
    let forged = demo
        .request(Method::POST, "/logout", Some(&alice))
        .header(header::ORIGIN, "http://evil.example");
    assert_eq!(send(forged).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        demo.get("/api/me", Some(&alice)).await.status,
        StatusCode::OK
    );

    // A forged login from another site (login CSRF: the victim would be signed into the
    // attacker's account) is refused on both login routes, without a session cookie.
    let evil = "http://evil.example";
    let forged = demo
        .request(Method::POST, "/login", None)
        .header(header::ORIGIN, evil)
        .form(&[("username", "alice"), ("password", "wonderland")]);
    let body = json!({ "username": "alice", "password": "wonderland" });
    let forged_api = demo
        .request(Method::POST, "/api/login", None)
        .header(header::ORIGIN, evil)
        .json(&body);
    for forged in [forged, forged_api] {
        let reply = send(forged).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
        assert!(reply.set_cookie().is_none());
    }

    // Logging out ends the session server-side: the old cookie is worthless.
    let reply = demo.post_form("/logout", Some(&alice), &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), Some("/"));
    reply.assert_clears_cookie();
    let reply = demo.get("/api/me", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.json()["error"].is_string());
    let reply = demo.get("/dashboard", Some(&alice)).await;
    assert_eq!(reply.header("location"), Some("/login?next=/dashboard"));
}

#[tokio::test]
async fn api_clients_manage_their_sessions() {
    let dir = TempDir::new("api");
    let url = format!("sqlite:{}", dir.path().join("sessions.db").display());
    let demo = Demo::start(dir.path(), Some(&url)).await;

    // Roles: admin reaches /admin, the API answers with the role.
    let admin = demo.login_api("admin", "admin-password", "admin-cli").await;
    assert_eq!(
        demo.get("/admin", Some(&admin)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        demo.get("/api/me", Some(&admin)).await.json()["role"],
        "admin"
    );

    // Wrong credentials and malformed bodies are client errors, never 500, and set no cookie.
    let request = demo.request(Method::POST, "/api/login", None);
    let reply = send(request.json(&json!({ "username": "alice", "password": "x" }))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.json()["error"].is_string());
    assert!(reply.set_cookie().is_none());
    let request = demo.request(Method::POST, "/api/login", None);
    let reply = send(
        request
            .header(header::CONTENT_TYPE, "application/json")
            .body("{"),
    )
    .await;
    assert!(reply.status.is_client_error(), "{}", reply.status);

    // Two clients of alice: listed newest first, the asking one marked current.
    let laptop = demo.login_api("alice", "wonderland", "laptop").await;
    let phone = demo.login_api("alice", "wonderland", "phone").await;
    let list = demo.get("/api/sessions", Some(&phone)).await.json();
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["user_agent"], "phone");
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[1]["user_agent"], "laptop");
    assert_eq!(list[1]["current"], false);
    assert!(rfc3339(&list[0]["created_at"]) >= rfc3339(&list[1]["created_at"]));
    assert!(rfc3339(&list[0]["expires_at"]) > rfc3339(&list[0]["created_at"]));

    // Someone else's session, an unknown one and a malformed id are all 404.
    let admin_id = demo.get("/api/sessions", Some(&admin)).await.json()[0]["id"].clone();
    let admin_id = admin_id.as_str().unwrap();
    for id in [
        admin_id,
        "00000000-0000-0000-0000-000000000000",
        "not-a-uuid",
    ] {
        let path = format!("/api/sessions/{id}");
        let reply = send(demo.request(Method::DELETE, &path, Some(&phone))).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{id}");
        let path = format!("/sessions/{id}/revoke");
        let reply = demo.post_form(&path, Some(&phone), &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{id}");
    }
    assert_eq!(
        demo.get("/api/me", Some(&admin)).await.status,
        StatusCode::OK
    );

    // Sign out everywhere else: the laptop is out, the phone stays.
    let path = "/api/sessions/revoke-others";
    let reply = send(demo.request(Method::POST, path, Some(&phone))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = demo.get("/api/me", Some(&laptop)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        demo.get("/api/me", Some(&phone)).await.status,
        StatusCode::OK
    );

    // Revoking one session, by API and by the page's form.
    for how in ["api", "form"] {
        let tablet = demo.login_api("alice", "wonderland", "tablet").await;
        let list = demo.get("/api/sessions", Some(&phone)).await.json();
        assert_eq!(list[0]["user_agent"], "tablet");
        let id = list[0]["id"].as_str().unwrap();
        let reply = if how == "api" {
            let path = format!("/api/sessions/{id}");
            send(demo.request(Method::DELETE, &path, Some(&phone))).await
        } else {
            let path = format!("/sessions/{id}/revoke");
            demo.post_form(&path, Some(&phone), &[]).await
        };
        let expected = if how == "api" {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::SEE_OTHER
        };
        assert_eq!(reply.status, expected, "{how}");
        let reply = demo.get("/api/me", Some(&tablet)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{how}");
    }
    let page = demo.get("/sessions", Some(&phone)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("phone") && page.body.contains("this browser"));

    // Refresh, then logout over the API.
    let reply = send(demo.request(Method::POST, "/api/refresh", Some(&phone))).await;
    assert_eq!(reply.status, StatusCode::OK);
    rfc3339(&reply.json()["expires_at"]);
    let reply = send(demo.request(Method::POST, "/api/logout", Some(&phone))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    reply.assert_clears_cookie();
    for path in ["/api/me", "/api/sessions"] {
        let reply = demo.get(path, Some(&phone)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let reply = send(demo.request(Method::POST, "/api/refresh", Some(&phone))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn default_store_is_a_sqlite_file_that_outlives_a_restart() {
    let dir = TempDir::new("default");
    let demo = Demo::start(dir.path(), None).await;
    let alice = demo.login_form("alice", "wonderland").await;
    assert!(dir.path().join("sessionward-demo.db").is_file());
    drop(demo);

    let demo = Demo::start(dir.path(), None).await;
    let reply = demo.get("/api/me", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["user_id"], "alice");
}

/// Logs in on the demo running on the server named by the variable `var` (skipped when unset,
/// unless `SESSIONWARD_REQUIRE_DATABASES=1`). The demo shares the database with the other tests.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "redis"))]
async fn round_trip_on_server(var: &str, backend: &str) {
    let Ok(url) = std::env::var(var) else {
        let required = std::env::var("SESSIONWARD_REQUIRE_DATABASES").is_ok_and(|v| v == "1");
        assert!(!required, "{var} is not set");
        eprintln!("SKIP: {var} is not set: the demo on {backend} is not tested");
        return;
    };
    let dir = TempDir::new(backend);
    let demo = Demo::start(dir.path(), Some(&url)).await;
    assert!(demo.output().contains(backend), "{}", demo.output());
    let alice = demo.login_api("alice", "wonderland", "server-client").await;
    let reply = demo.get("/api/me", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["role"], "user");
    let reply = send(demo.request(Method::POST, "/api/logout", Some(&alice))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = demo.get("/api/me", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    roles::role_changes_reach_live_sessions(&demo, roles::Sessions::Counted).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn runs_on_postgres() {
    round_trip_on_server("SESSIONWARD_TEST_POSTGRES_URL", "PostgreSQL").await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn runs_on_mysql() {
    round_trip_on_server("SESSIONWARD_TEST_MYSQL_URL", "MySQL").await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn runs_on_redis() {
    round_trip_on_server("SESSIONWARD_TEST_REDIS_URL", "Redis").await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn runs_on_redis_cluster() {
    round_trip_on_server("SESSIONWARD_TEST_REDIS_CLUSTER_URL", "Redis Cluster").await;
}

#[cfg(not(feature = "postgres"))]
#[test]
fn a_postgres_url_without_the_feature_says_which_feature_to_add() {
    let output = Command::new(demo_binary())
        .env("DATABASE_URL", "postgres://user:secret@127.0.0.1:1/app")
        .env("PORT", "0")
        .output()
        .expect("run the demo");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--features postgres"), "{stderr}");
    assert!(
        !stderr.contains("secret"),
        "the URL's password leaked: {stderr}"
    );
}

/// A JWT secret for the demo (test-only).
const DEMO_JWT_SECRET: &str = "demo-test-secret-of-more-than-32-bytes-0123456789";

#[tokio::test]
async fn runs_on_jwt_sessions_with_cookies_and_bearer_tokens() {
    let dir = TempDir::new("jwt");
    let env = [("SESSION_STRATEGY", "jwt"), ("JWT_SECRET", DEMO_JWT_SECRET)];
    let demo = Demo::start_with(dir.path(), None, &env).await;
    assert!(demo.output().contains("JWT sessions"), "{}", demo.output());

    let alice = demo.login_form("alice", "wonderland").await;
    assert_eq!(alice.split('.').count(), 3, "the cookie holds a JWT");
    let dashboard = demo.get("/dashboard", Some(&alice)).await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(dashboard.body.contains("alice"));
    assert_eq!(
        demo.get("/admin", Some(&alice)).await.status,
        StatusCode::FORBIDDEN
    );
    let sessions = demo.get("/sessions", Some(&alice)).await;
    assert!(
        sessions.body.contains("JWT sessions"),
        "the page says why it lists one session"
    );

    // API clients: a bearer token from /api/token.
    let body = json!({ "username": "admin", "password": "admin-password" });
    let issued = send(demo.request(Method::POST, "/api/token", None).json(&body)).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    assert!(
        issued.set_cookie().is_none(),
        "a token for API clients sets no cookie"
    );
    let issued = issued.json();
    assert_eq!(issued["token_type"], "Bearer");
    rfc3339(&issued["expires_at"]);
    let token = issued["token"].as_str().expect("token");
    logs::register(token);
    let bearer = format!("Bearer {token}");
    let me = send(
        demo.request(Method::GET, "/api/me", None)
            .header(header::AUTHORIZATION, &bearer),
    )
    .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["role"], "admin");
    let wrong = json!({ "username": "admin", "password": "nope" });
    let refused = send(demo.request(Method::POST, "/api/token", None).json(&wrong)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    // Logout revokes the session: the old cookie is dead even though its signature is fine.
    let out = demo.post_form("/logout", Some(&alice), &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    out.assert_clears_cookie();
    assert_eq!(
        demo.get("/api/me", Some(&alice)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn the_jwt_demo_refuses_a_short_or_missing_secret_and_says_why() {
    let dir = TempDir::new("jwt-secret");
    for secret in [Some("too-short"), None] {
        let mut command = Command::new(demo_binary());
        command
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .env("SESSION_STRATEGY", "jwt")
            .env("PORT", "0");
        match secret {
            Some(secret) => command.env("JWT_SECRET", secret),
            None => command.env_remove("JWT_SECRET"),
        };
        let output = command.output().expect("run the demo");
        assert!(
            !output.status.success(),
            "started with JWT_SECRET={secret:?}"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("32"), "no reason given: {stderr}");
        assert!(stderr.contains("JWT_SECRET"), "{stderr}");
    }
}

/// Logs in through `/api/login` with this body; the reply.
async fn api_login(demo: &Demo, body: Value) -> Reply {
    let reply = send(demo.request(Method::POST, "/api/login", None).json(&body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply
}

/// Issue 17's demo settings: "remember me" on `/api/login` and the form, the device limit
/// from `MAX_SESSIONS_PER_USER`, and `GET /metrics`.
#[tokio::test]
async fn remember_me_device_limit_and_metrics() {
    let dir = TempDir::new("issue17");
    let env = [("MAX_SESSIONS_PER_USER", "2")];
    let demo = Demo::start_with(dir.path(), None, &env).await;
    let persistent = |reply: &Reply| reply.set_cookie().unwrap().contains("Max-Age=");

    // Remember me: the default, and `"remember": false` (a browser-session cookie).
    let remembered = api_login(
        &demo,
        json!({"username": "admin", "password": "admin-password"}),
    );
    let remembered = remembered.await;
    assert!(persistent(&remembered), "{:?}", remembered.set_cookie());
    let body = json!({"username": "admin", "password": "admin-password", "remember": false});
    let forgotten = api_login(&demo, body).await;
    assert!(!persistent(&forgotten), "{:?}", forgotten.set_cookie());
    assert!(!forgotten.set_cookie().unwrap().contains("Expires="));
    // The form: a checkbox, checked; unchecked it is a browser-session cookie.
    let form = demo.get("/login", None).await;
    assert!(form.body.contains("name=\"remember\""), "{}", form.body);
    let unchecked = [
        ("username", "alice"),
        ("password", "wonderland"),
        ("remember_shown", "1"),
    ];
    let reply = demo.post_form("/login", None, &unchecked).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert!(!persistent(&reply));
    let first = reply.token().unwrap();
    let checked = [
        ("username", "alice"),
        ("password", "wonderland"),
        ("remember_shown", "1"),
        ("remember", "on"),
    ];
    let reply = demo.post_form("/login", None, &checked).await;
    assert!(persistent(&reply));

    // Device limit 2: alice's third sign-in ends her least recently used session (the first).
    let third = demo.login_api("alice", "wonderland", "third").await;
    assert_eq!(
        demo.get("/api/me", Some(&first)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let list = demo.get("/api/sessions", Some(&third)).await.json();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");

    // Metrics, in Prometheus text.
    let metrics = demo.get("/metrics", None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        metrics.header("content-type")
    );
    for name in [
        "sessionward_resolutions_total",
        "sessionward_store_call_duration_seconds",
    ] {
        assert!(metrics.body.contains(name), "{name} in:\n{}", metrics.body);
    }
}

#[test]
fn the_demo_refuses_a_device_limit_that_is_not_a_positive_number() {
    for value in ["0", "ten"] {
        let stderr = refused_at_start("MAX_SESSIONS_PER_USER", value);
        assert!(stderr.contains("MAX_SESSIONS_PER_USER"), "{stderr}");
    }
}

/// Starts the demo with the setting `name` = `value`, which it must refuse: fails when the
/// demo starts all the same; returns what the demo wrote to stderr.
fn refused_at_start(name: &str, value: &str) -> String {
    let dir = TempDir::new("refused");
    let err = dir.path().join("stderr");
    let mut child = Command::new(demo_binary())
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("SESSION_STRATEGY")
        .env(name, value)
        .env("PORT", "0")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).expect("a log file"))
        .spawn()
        .expect("run the demo");
    // A demo that accepted the value would serve forever: stop it and fail.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the demo's status") {
            break status;
        }
        if started.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the demo started with {name}={value:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "started with {name}={value:?}");
    std::fs::read_to_string(&err).unwrap_or_default()
}
