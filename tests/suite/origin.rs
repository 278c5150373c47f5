//! Cross-origin protection (issue 13, item 2): every state-changing request a browser sends
//! from another origin is refused, with or without the session cookie (a forged login signs
//! the victim into the attacker's account), and so is a WebSocket handshake that carries the
//! cookie. Bearer-only requests and exempted paths pass.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use sessionward::{MemoryStore, Session, SessionConfig, SessionLayer, Sessions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::backends::Backend;
use crate::support::{Setup, Strategy, TestApp, user};

/// The memory-store app with database sessions (the check does not depend on the store).
pub async fn memory_app(configure: impl FnOnce(SessionConfig) -> SessionConfig) -> TestApp {
    let setup = Setup {
        backend: Backend::Memory,
        strategy: Strategy::Database,
    };
    TestApp::with_config(setup, configure)
        .await
        .expect("the memory store is always there")
}

/// A `POST path` to `app.test` with extra headers.
pub fn post_with(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::HOST, "app.test");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).expect("valid request")
}

/// Captures the log lines of this thread (a current-thread test) while the guard lives.
pub fn capture_logs() -> (tracing::subscriber::DefaultGuard, Arc<Mutex<Vec<u8>>>) {
    crate::support::logs::install();
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || LogSink(sink.clone()))
        .finish();
    (tracing::subscriber::set_default(subscriber), buffer)
}

/// The text captured so far.
pub fn captured(buffer: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_cross_site_login_without_a_cookie_is_refused() {
    let app = memory_app(|c| c).await;
    let (_guard, logs) = capture_logs();
    let login = format!("/login/{}?role=user", user());
    // The reproduction: a form on evil.example posts to the login route.
    let forged = [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![
            ("sec-fetch-site", "same-site"),
            ("origin", "https://a.app.test"),
        ],
        vec![
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://app.test"),
        ],
    ];
    for headers in &forged {
        let reply = app.send(post_with(&login, headers)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(
            reply.set_cookies().is_empty(),
            "{headers:?}: a session cookie"
        );
    }
    let log = captured(&logs);
    assert!(
        log.contains("cross-origin request refused")
            && log.contains("origin=https://evil.example")
            && log.contains("host=app.test")
            && log.contains("SessionConfig::public_origin"),
        "the refusal names what it compared and the setting:\n{log}"
    );
    // The same origin, and clients that are not browsers, log in.
    for headers in [
        vec![("origin", "https://app.test")],
        vec![("sec-fetch-site", "same-origin")],
        vec![("sec-fetch-site", "none")],
        vec![],
        // Referer alone decides nothing (a page can always suppress it).
        vec![("referer", "https://evil.example/")],
    ] {
        let reply = app.send(post_with(&login, &headers)).await;
        assert_eq!(reply.status, StatusCode::OK, "{headers:?}: {}", reply.body);
        assert!(reply.token().is_some(), "{headers:?}");
    }
}

/// The refusal's log line names the request's host and path, both as long as a client likes:
/// at most their first 200 bytes are logged (a 60 KB host made a 120 KB warning, every time).
#[tokio::test]
async fn a_refusal_logs_at_most_200_bytes_of_the_host_and_of_the_path() {
    let app = memory_app(|c| c).await;
    let (_guard, logs) = capture_logs();
    let host = "h".repeat(60_000);
    let path = format!("/items/{}", "p".repeat(60_000));
    let request = Request::builder()
        .method("POST")
        .uri(&path)
        .header(header::HOST, &host)
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::empty())
        .expect("valid request");
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let log = captured(&logs);
    let line = log
        .lines()
        .find(|line| line.contains("cross-origin request refused"))
        .expect("the refusal is logged");
    assert!(line.len() < 2_000, "a log line of {} bytes", line.len());
    assert!(
        line.contains(&format!("host={}", "h".repeat(200))),
        "{line:.400}"
    );
}

#[tokio::test]
async fn bearer_only_requests_pass_from_any_origin_but_not_with_the_cookie() {
    let app = memory_app(|c| c).await;
    let token = app.login(&user(), "user").await.token().unwrap();
    crate::support::logs::register(&token);
    let bearer = format!("Bearer {token}");
    let cookie = format!("session-id={token}");
    let evil = ("origin", "https://evil.example");
    let reply = app
        .send(post_with("/items/a", &[evil, ("authorization", &bearer)]))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let both = [evil, ("authorization", &bearer), ("cookie", &cookie)];
    let reply = app.send(post_with("/items/b", &both)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Basic credentials are replayed by browsers: no exemption.
    let basic = [evil, ("authorization", "Basic YTpi")];
    let reply = app.send(post_with("/login/x?role=user", &basic)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn exempt_paths_pass_cross_origin_and_nothing_else_does() {
    let app = memory_app(|c| c.allow_cross_origin_path("/items/")).await;
    let token = app.login(&user(), "user").await.token().unwrap();
    crate::support::logs::register(&token);
    let cookie = format!("session-id={token}");
    let evil = [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("cookie", cookie.as_str()),
    ];
    let reply = app.send(post_with("/items/hook", &evil)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    for path in ["/logout", "/rotate", "/login/x?role=user"] {
        let reply = app.send(post_with(path, &evil)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
    }
}

/// A WebSocket route that acts with the session: it tells the socket whose session it has.
async fn websocket(
    upgrade: WebSocketUpgrade,
    session: Option<Session<serde_json::Value>>,
) -> Response {
    let user = session.map_or_else(|| "anonymous".to_owned(), |s| s.user_id().to_owned());
    upgrade.on_upgrade(move |mut socket| async move {
        let _ = socket.send(Message::Text(user.into())).await;
    })
}

/// Sends a WebSocket handshake over TCP; returns the status code of the answer and, after a
/// 101, the text of the first message (the user the socket acts for).
async fn handshake(
    addr: SocketAddr,
    origin: Option<&str>,
    cookie: Option<&str>,
) -> (u16, Option<String>) {
    let mut request = Vec::new();
    write!(
        request,
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    )
    .unwrap();
    if let Some(origin) = origin {
        write!(request, "Origin: {origin}\r\n").unwrap();
    }
    if let Some(cookie) = cookie {
        write!(request, "Cookie: session-id={cookie}\r\n").unwrap();
    }
    request.extend_from_slice(b"\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    let head_end = loop {
        let mut chunk = [0; 512];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed before the answer's head");
        answer.extend_from_slice(&chunk[..n]);
        if let Some(i) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&answer[..head_end]).into_owned();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    if status != 101 {
        return (status, None);
    }
    // One unmasked text frame from the server: 0x81, a 7-bit length, the payload.
    let mut frame = answer[head_end..].to_vec();
    while frame.len() < 2 || frame.len() < 2 + usize::from(frame[1] & 0x7f) {
        let mut chunk = [0; 512];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the socket closed before its first message");
        frame.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(frame[0], 0x81, "a final text frame");
    let len = usize::from(frame[1] & 0x7f);
    (
        status,
        Some(String::from_utf8_lossy(&frame[2..2 + len]).into_owned()),
    )
}

#[tokio::test]
async fn a_cross_site_websocket_handshake_with_the_cookie_is_refused() {
    let app = Router::new()
        .route("/ws", get(websocket))
        .route(
            "/login",
            post(|sessions: Sessions| async move {
                sessions
                    .login("alice", &serde_json::json!({}))
                    .await
                    .unwrap();
            }),
        )
        .layer(SessionLayer::database(
            MemoryStore::new(),
            SessionConfig::default(),
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let client = reqwest::Client::new();
    let reply = client
        .post(format!("http://{addr}/login"))
        .send()
        .await
        .unwrap();
    let set_cookie = reply.headers()[header::SET_COOKIE].to_str().unwrap();
    let token = set_cookie
        .strip_prefix("session-id=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    crate::support::logs::register(&token);

    let own = format!("http://{addr}");
    assert_eq!(
        handshake(addr, Some("https://evil.example"), Some(&token)).await,
        (403, None)
    );
    assert_eq!(
        handshake(addr, Some("null"), Some(&token)).await,
        (403, None)
    );
    assert_eq!(
        handshake(addr, Some(&own), Some(&token)).await,
        (101, Some("alice".to_owned())),
        "a same-origin socket acts with the session"
    );
    // Without the cookie the channel has no session to act with.
    assert_eq!(
        handshake(addr, Some("https://evil.example"), None).await,
        (101, Some("anonymous".to_owned()))
    );
    server.abort();
}
