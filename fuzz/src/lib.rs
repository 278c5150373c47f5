//! What the fuzz targets share: one runtime, two real apps (database sessions and JWT sessions,
//! both on a `MemoryStore`) that each hold one live session, and the oracles.
//!
//! Inputs may contain the placeholders `$T` and `$J`, replaced by the live database token and
//! the live JWT: the fuzzer then explores what surrounds a valid credential (duplicates,
//! separators, whitespace, other cookies) without having to guess one.

use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
use sessionward::{Clock, MemoryStore, Session, SessionConfig, SessionLayer, Sessions};
use tower::ServiceExt as _;

/// The fuzzed JWT app's HS256 key (fuzzing only).
pub const SECRET: &[u8] = b"sessionward-fuzz-secret-0123456789abcdef";
pub const KID: &str = "fuzz";
pub const ISSUER: &str = "sessionward-fuzz";
/// The one user with a session.
pub const USER: &str = "fuzz-user";
/// 2030-01-01T00:00:00Z. The apps' clocks stand still here, so the seed JWTs (signed for this
/// time, see `make_seeds.py`) stay valid however long a run lasts.
pub const NOW: i64 = 1_893_456_000;

pub static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
});

/// A real router behind a real `SessionLayer`, and the token of its one session.
pub struct App {
    pub router: Router,
    pub token: String,
}

pub static DATABASE: LazyLock<App> =
    LazyLock::new(|| App::new(SessionLayer::database(MemoryStore::new(), config())));

pub static JWT: LazyLock<App> = LazyLock::new(|| {
    let key = JwtKey::hs256(KID, SECRET).expect("a 40-byte secret");
    let jwt = JwtConfig::new(JwtKeys::new(key).expect("a key ring"), ISSUER, ISSUER);
    App::new(SessionLayer::jwt(jwt, MemoryStore::new(), config()))
});

fn config() -> SessionConfig {
    let now = time::OffsetDateTime::from_unix_timestamp(NOW).expect("a valid time");
    let (clock, _) = Clock::manual(now);
    SessionConfig::default().clock(clock)
}

impl App {
    fn new(layer: SessionLayer) -> App {
        let router = Router::new()
            .route(
                "/me",
                get(|s: Session<serde_json::Value>| async move { s.user_id().to_owned() }),
            )
            .route(
                "/login",
                post(|sessions: Sessions| async move {
                    let data = serde_json::json!({ "role": "user" });
                    sessions.login(USER, &data).await.map(|_| ())
                }),
            )
            .layer(layer);
        let login = Request::post("/login")
            .header(header::HOST, "fuzz.test")
            .body(Body::empty())
            .expect("a request");
        let res = RUNTIME
            .block_on(router.clone().oneshot(login))
            .expect("infallible");
        assert_eq!(res.status(), StatusCode::OK, "login");
        let cookie = res.headers()[header::SET_COOKIE].to_str().expect("ascii");
        let token = cookie
            .strip_prefix("session-id=")
            .and_then(|c| c.split(';').next())
            .expect("a session cookie")
            .to_owned();
        App { router, token }
    }

    /// `GET /me` with `headers`: the status, and the user id when it is 200.
    pub fn me(&self, headers: &HeaderMap) -> (StatusCode, String) {
        let mut req = Request::get("/me")
            .header(header::HOST, "fuzz.test")
            .body(Body::empty())
            .expect("a request");
        for (name, value) in headers {
            req.headers_mut().append(name, value.clone());
        }
        let res = RUNTIME
            .block_on(self.router.clone().oneshot(req))
            .expect("infallible");
        let status = res.status();
        let body = RUNTIME
            .block_on(axum::body::to_bytes(res.into_body(), 1 << 20))
            .expect("a body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

/// `SESSIONWARD_FUZZ_VERBOSE=1` prints every answer (to check what a corpus reaches).
static VERBOSE: LazyLock<bool> =
    LazyLock::new(|| std::env::var_os("SESSIONWARD_FUZZ_VERBOSE").is_some());

/// `input` with `$T` and `$J` replaced by the live database token and the live JWT.
pub fn expand(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match &input[i..] {
            [b'$', b'T', ..] => {
                out.extend_from_slice(DATABASE.token.as_bytes());
                i += 2;
            }
            [b'$', b'J', ..] => {
                out.extend_from_slice(JWT.token.as_bytes());
                i += 2;
            }
            _ => {
                out.push(input[i]);
                i += 1;
            }
        }
    }
    out
}

/// `input` split on `\n` into header values; `None` when one of them cannot be sent.
pub fn header_values(input: &[u8]) -> Option<Vec<HeaderValue>> {
    input
        .split(|&b| b == b'\n')
        .map(|v| HeaderValue::from_bytes(v).ok())
        .collect()
}

/// Whether `token` is a compact JWS whose HS256 signature over its exact bytes is valid under
/// the fuzz key, checked without jsonwebtoken (strict base64url, the `hmac` crate): the
/// independent oracle for "only genuinely signed tokens are sessions".
pub fn genuinely_signed(token: &str) -> bool {
    let Some((input, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).expect("any key length");
    mac.update(input.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

/// The answer of `app` for the credential `read` from the same headers: 401, or 200 for the
/// app's own user, and then `read` must be a token the app may accept (`accepts`).
pub fn check(
    app: &App,
    headers: &HeaderMap,
    read: &sessionward::__fuzz::Credential,
    accepts: impl Fn(&str) -> bool,
) {
    use sessionward::__fuzz::Credential;
    let (status, body) = app.me(headers);
    if *VERBOSE {
        eprintln!("{status} {read:?}");
    }
    match status {
        StatusCode::UNAUTHORIZED => {}
        StatusCode::OK => {
            assert_eq!(body, USER, "200 for another user");
            match read {
                Credential::Token(token) => {
                    assert!(
                        accepts(token),
                        "a session from a token that is none: {token:?}"
                    )
                }
                other => panic!("a session without a token: {other:?}"),
            }
        }
        other => panic!("{other} for {headers:?}"),
    }
}

/// What the database app may accept: its token, exactly.
pub fn database_token(token: &str) -> bool {
    token == DATABASE.token
}

/// What the JWT app may accept: a token genuinely signed with its key (the live one, the
/// seeds), nothing else.
pub fn signed_jwt(token: &str) -> bool {
    token == JWT.token || genuinely_signed(token)
}
