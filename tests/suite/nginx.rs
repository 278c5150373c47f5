//! The README's nginx `location` block, run in a real nginx in front of the test app: a
//! default `proxy_pass` rewrites `Host`, so logged-in form posts are refused unless the app
//! trusts the proxy's `X-Forwarded-*`. Skips with a notice when nginx is not installed, unless
//! `SESSIONWARD_REQUIRE_NGINX=1`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use reqwest::header;
use sessionward::SessionConfig;

use crate::demo::TempDir;
use crate::origin::memory_app;
use crate::support::{logs, user};

/// nginx's path, or `None` after a printed notice (a failure with `SESSIONWARD_REQUIRE_NGINX=1`).
fn nginx_binary() -> Option<PathBuf> {
    let found = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("SESSIONWARD_REQUIRE_NGINX").as_deref() != Ok("1"),
            "nginx is not installed (apt-get install nginx) and SESSIONWARD_REQUIRE_NGINX=1"
        );
        println!("SKIP: nginx is not installed (apt-get install nginx)");
    }
    found
}

/// The `location / { ... }` block of the README's nginx example, sending to `upstream`.
fn readme_location(upstream: SocketAddr) -> String {
    let readme = include_str!("../../README.md");
    let section = &readme[readme
        .find("## Behind a reverse proxy")
        .expect("the README's reverse-proxy section")..];
    let fence = &section[section.find("```nginx").expect("an nginx example")..];
    let start = fence.find("    location / {").expect("a location block");
    let end = start + fence[start..].find("\n    }\n").expect("its end") + 6;
    let block = &fence[start..end];
    assert!(block.contains("127.0.0.1:3000"), "{block}");
    block.replace("127.0.0.1:3000", &upstream.to_string())
}

/// An nginx of its own (own prefix, config and port on 127.0.0.1), stopped when dropped.
struct Nginx {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Nginx {
    async fn start(binary: &Path, upstream: SocketAddr) -> Nginx {
        let dir = TempDir::new("nginx");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let d = dir.path().display();
        let config = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}\n  \
             server {{\n    listen 127.0.0.1:{port};\n{}\n  }}\n}}\n",
            readme_location(upstream)
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config).expect("write nginx.conf");
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut nginx = Nginx { child, port, dir };
        nginx.wait_until_listening().await;
        nginx
    }

    async fn wait_until_listening(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nginx exited with {status}:\n{}", self.errors());
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not listen:\n{}",
                self.errors()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn errors(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test app on 127.0.0.1 with `configure`, serving with the peer's address.
async fn serve(configure: impl FnOnce(SessionConfig) -> SessionConfig) -> SocketAddr {
    let app = memory_app(configure).await;
    let router = app.router.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _app = app; // the store lives as long as the server
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// Logs in through `nginx`, then posts to `/items/a` with the cookie and `origin`.
async fn logged_in_post(nginx: &Nginx, origin: &str) -> StatusCode {
    let http = reqwest::Client::new();
    let reply = http
        .post(nginx.url(&format!("/login/{}?role=user", user())))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let cookie = reply.headers()[header::SET_COOKIE].to_str().unwrap();
    let token = cookie.split(';').next().unwrap().to_owned();
    logs::register(token.trim_start_matches("session-id="));
    http.post(nginx.url("/items/a"))
        .header(header::ORIGIN, origin)
        .header(header::COOKIE, token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn behind_nginx_with_the_readme_config_logged_in_form_posts_pass() {
    let Some(binary) = nginx_binary() else {
        return;
    };
    // The issue's reproduction: nginx rewrites Host, the app compares it with Origin.
    let plain = Nginx::start(&binary, serve(|c| c).await).await;
    let own = plain.url("");
    assert_eq!(logged_in_post(&plain, &own).await, StatusCode::FORBIDDEN);

    let trusting = Nginx::start(&binary, serve(|c| c.trust_proxies(["127.0.0.1"])).await).await;
    let own = trusting.url("");
    assert_eq!(logged_in_post(&trusting, &own).await, StatusCode::OK);
    let evil = "http://evil.example";
    assert_eq!(logged_in_post(&trusting, evil).await, StatusCode::FORBIDDEN);

    let stated = serve(|c| c.public_origin("http://127.0.0.1:1")).await;
    let stated = Nginx::start(&binary, stated).await;
    // The public origin decides, not the Host nginx sends.
    assert_eq!(
        logged_in_post(&stated, "http://127.0.0.1:1").await,
        StatusCode::OK
    );
    let own = stated.url("");
    assert_eq!(logged_in_post(&stated, &own).await, StatusCode::FORBIDDEN);
}
