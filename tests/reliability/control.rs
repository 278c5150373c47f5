//! Stopping and starting the real servers, the test gate, and the small app every test drives.

use std::process::Command;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use http_body_util::BodyExt as _;
use sessionward::{Session, SessionLayer, Sessions, require_session};
use tower::ServiceExt as _;

use crate::backends::Backend;

/// Tests here stop shared servers: one at a time.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether live-fault tests may run; prints why not (or panics in CI, where they must).
pub fn enabled(what: &str) -> bool {
    let allowed = std::env::var("SESSIONWARD_LIVE_FAULTS").as_deref() == Ok("1");
    if !allowed {
        eprintln!("SKIP: {what} stops real database servers; set SESSIONWARD_LIVE_FAULTS=1");
    }
    allowed
}

/// A database server this machine runs and the tests may stop.
#[derive(Clone, Copy, Debug)]
pub enum Server {
    Postgres,
    MariaDb,
    /// The single Redis on 127.0.0.1:6379.
    Redis,
}

fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn postgres_version() -> String {
    std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .expect("a PostgreSQL cluster under /etc/postgresql")
}

impl Server {
    pub fn backend(self) -> Backend {
        match self {
            Server::Postgres => Backend::Postgres,
            Server::MariaDb => Backend::MySql,
            Server::Redis => Backend::Redis,
        }
    }

    fn is_up(self) -> bool {
        match self {
            Server::Postgres => run("pg_isready", &["-h", "127.0.0.1", "-p", "5432", "-q"]),
            Server::MariaDb => run(
                "mysqladmin",
                &[
                    "--protocol=tcp",
                    "-h",
                    "127.0.0.1",
                    "-P",
                    "3306",
                    "-u",
                    "root",
                    "ping",
                ],
            ),
            Server::Redis => Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", "6379", "ping"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG"),
        }
    }

    /// Stops the server and waits until it no longer answers.
    pub fn stop(self) {
        let stopped = match self {
            Server::Postgres => {
                let version = postgres_version();
                run(
                    "pg_ctlcluster",
                    &[
                        "--skip-systemctl-redirect",
                        &version,
                        "main",
                        "stop",
                        "-m",
                        "fast",
                    ],
                )
            }
            Server::MariaDb => run(
                "mysqladmin",
                &[
                    "--protocol=tcp",
                    "-h",
                    "127.0.0.1",
                    "-P",
                    "3306",
                    "-u",
                    "root",
                    "shutdown",
                ],
            ),
            // Redis answers nothing to a SHUTDOWN that worked: its exit is checked by `wait`.
            Server::Redis => {
                run(
                    "redis-cli",
                    &["-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"],
                );
                true
            }
        };
        assert!(stopped, "could not stop {self:?}");
        self.wait(false);
    }

    /// Starts the server and waits until it answers.
    pub fn start(self) {
        let started = match self {
            Server::Postgres => {
                let version = postgres_version();
                run(
                    "pg_ctlcluster",
                    &["--skip-systemctl-redirect", &version, "main", "start"],
                )
            }
            Server::MariaDb => run(
                "start-stop-daemon",
                &[
                    "--start",
                    "--oknodo",
                    "--background",
                    "--exec",
                    "/usr/sbin/mariadbd",
                ],
            ),
            // As .ci/run starts it: no persistence.
            Server::Redis => run(
                "redis-server",
                &[
                    "--daemonize",
                    "yes",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    "6379",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
            ),
        };
        assert!(started, "could not start {self:?}");
        self.wait(true);
    }

    fn wait(self, up: bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.is_up() != up {
            assert!(
                Instant::now() < deadline,
                "{self:?} did not come {}",
                if up { "up" } else { "down" }
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Restarts the server when dropped, so a failing test never leaves it down.
pub struct Outage(pub Server);

impl Outage {
    pub fn begin(server: Server) -> Self {
        server.stop();
        Outage(server)
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        if !self.0.is_up() {
            self.0.start();
        }
    }
}

/// The app the tests drive.
pub fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route("/guarded", get(|| async { "let through" }))
        .route_layer(require_session())
        .route(
            "/login/{user}",
            post(|sessions: Sessions, Path(user): Path<String>| async move {
                sessions
                    .login(user, &serde_json::json!({ "role": "user" }))
                    .await
                    .map(|_| ())
            }),
        )
        .route(
            "/logout",
            post(|sessions: Sessions| async move { sessions.logout().await.map(|_| ()) }),
        )
        .route(
            "/me",
            get(|s: Session<serde_json::Value>| async move { s.user_id().to_owned() }),
        )
        .layer(layer)
}

/// One request; returns the status, the session token it set (if any) and the time it took.
pub async fn call(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Option<String>, Duration) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "app.test");
    if let Some(token) = token {
        req = req.header(header::COOKIE, format!("session-id={token}"));
    }
    let started = Instant::now();
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let elapsed = started.elapsed();
    let token = res
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("session-id="))
        .and_then(|v| v.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let status = res.status();
    let _ = res.into_body().collect().await;
    (status, token, elapsed)
}

/// Logs `user` in; returns the token.
pub async fn login(app: &Router, user: &str) -> String {
    let (status, token, _) = call(app, "POST", &format!("/login/{user}"), None).await;
    assert_eq!(status, StatusCode::OK, "login");
    token.expect("login sets the cookie")
}

/// Polls `/me` with `token` until it answers `want`, within `limit`.
pub async fn until_status(app: &Router, token: &str, want: StatusCode, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let (status, _, _) = call(app, "GET", "/me", Some(token)).await;
        if status == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/me never answered {want} (last {status})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
