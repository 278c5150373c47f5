//! Auth.js sessions (feature `authjs`): tokens from the research note, from the checked-in
//! fixture set made by the real `@auth/core` / `next-auth@4`, and (when
//! `tests/authjs/node_modules` exists) fresh from those libraries, decoded through a real
//! `Router` behind `SessionLayer::authjs`; plus every bad input, which must be a 401.

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use sessionward::authjs::{AuthJsConfig, AuthJsVersion};
use sessionward::testing::ManualClock;
use sessionward::{Authorize, Clock, Session, SessionConfig, SessionLayer, Sessions, require_role};
use time::OffsetDateTime;

/// The research note's secret and vectors (`/work/shared/research/authjs.md` §4).
const NOTE_SECRET: &str = "test-secret-for-rust-interop-0123456789abcdef";
const NOTE_V5: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwia2lkIjoiMU9nQUMyaGR5d3dmUWdGcUE3bHowc0k5RkRzekJFb1E5RW5MaTQwOVV3RF9GM2N5bDFDQm5PZ3MwQWwwdVUwYjZRTVpWa0MwRUVxZ1FGeW9VRGd0cncifQ..is5ikOgBHhLhtH-slC-QaQ.fefjEJk5_9C9OpBDfjTfoxgz9AY7hxdBXs6zZSMSq8Im-iHki9cqoXFc3y8q7SMbyAgIKuBNfy3t-vy83kieRTImTcuPY9oJAKwmr51B9zVscKJsUHlP4_7SARbNN5f6T5f3kEV-MJEMER7CNQk_Uye4mw4dZqLOiFFdqN-0Elawss3Rjng4SMxhRE1ReGhJwPi1wPL3_kXTLwbK5KDnYYPDs3kxehOLD17ILpPO0uEjQeegrTMdWfvXQ2ImeQX2RV2ZopUAbevek4TXAks9KA.1jFL_dPldQQojE95--R1tUtC7nJ5JMZ1MZXPFQ9utTk";
const NOTE_V5_CLAIMS: &str = r#"{"name":"Alice","email":"alice@example.com","picture":"https://example.com/a.png","sub":"user-123","role":"admin","iat":1795804028,"exp":1798396028,"jti":"358c44be-188c-4ecd-a28d-856b2b138589"}"#;
const NOTE_V4: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..ohCEYXW5wHQscWef.doLhc7pBxTNjlqCbgDDzZomGq9XzfMnhwYwQG75sii4CuwvMrJ5BwJ_bYzCgxfG6WYQBj5tZIEcmuorIV-z1SSP6OxUzYK2rNFbxYzLO2ihc7IoQy62cFKJCaC8C4LJA2zlAbFU4cYcrgQQ4m4gErbRTxIOVHh_JG9DAmGvA70DHMHlDlB418vMXl0-rpSblU8oUtbjXyn7EynQ.whQIsb9NUbz4tylkCJNQjw";
const NOTE_V4_CLAIMS: &str = r#"{"name":"Alice","email":"alice@example.com","picture":null,"sub":"user-123","iat":1795804029,"exp":1798396029,"jti":"63951055-ecb3-4f1c-af33-67dc5bea981e"}"#;

const V5: &str = "authjs.session-token";
const V4: &str = "next-auth.session-token";

/// What the test routes read from the claims.
#[derive(Clone, Debug, Deserialize)]
struct Claims {
    name: Option<String>,
    email: Option<String>,
    role: Option<String>,
}

impl Authorize for Claims {
    fn has_role(&self, role: &str) -> bool {
        self.role.as_deref() == Some(role)
    }
}

async fn me(session: Session<Claims>) -> Json<Value> {
    Json(json!({
        "sub": session.user_id(),
        "name": session.name,
        "email": session.email,
        "id": session.id(),
        "expires_at": session.expires_at().unix_timestamp(),
        "created_at": session.created_at().unix_timestamp(),
    }))
}

async fn claims(session: Session<Value>) -> Json<Value> {
    Json(session.into_data())
}

async fn optional(session: Option<Session<Value>>) -> Json<Value> {
    Json(json!({ "session": session.is_some() }))
}

async fn logout(sessions: Sessions) -> Result<&'static str, sessionward::Error> {
    sessions.logout().await?;
    Ok("bye")
}

fn app_with(config: AuthJsConfig, clock: Clock) -> Router {
    Router::new()
        .route("/admin", get(|| async { "admin" }))
        .route_layer(require_role::<Claims>("admin"))
        .route("/me", get(me))
        .route("/claims", get(claims))
        .route("/optional", get(optional))
        .route("/logout", post(logout))
        .layer(SessionLayer::authjs(
            config,
            SessionConfig::default().clock(clock),
        ))
}

/// The layer for a Next.js app on https (`use_secure_cookies`, the default) or plain http,
/// with `secrets`.
fn app_on(https: bool, secrets: &[&str], clock: Clock) -> Router {
    let secrets = secrets.iter().map(|s| s.to_string()).collect();
    app_with(AuthJsConfig::new(secrets).use_secure_cookies(https), clock)
}

/// The layer for an app on plain http, where the research note's tokens were made (cookies
/// `authjs.session-token`, `next-auth.session-token`), its clock at `at`.
fn app(secrets: &[&str], at: i64) -> (Router, ManualClock) {
    let (clock, control) = Clock::manual(OffsetDateTime::from_unix_timestamp(at).unwrap());
    (app_on(false, secrets, clock), control)
}

pub(crate) use crate::support::json_reply::{Reply, send};

/// GET `path` with the given `Cookie` header values.
async fn get_with(app: &Router, path: &str, cookies: &[String]) -> Reply {
    let mut req = Request::get(path);
    for c in cookies {
        req = req.header(header::COOKIE, c);
    }
    send(app, req.body(Body::empty()).unwrap()).await
}

async fn cookie(app: &Router, path: &str, name: &str, token: &str) -> Reply {
    get_with(app, path, &[format!("theme=dark; {name}={token}; other=1")]).await
}

async fn bearer(app: &Router, path: &str, token: &str) -> Reply {
    let req = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    send(app, req).await
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

#[tokio::test]
async fn the_research_vectors_decode_to_exactly_their_claims() {
    for (name, token, expected) in [(V5, NOTE_V5, NOTE_V5_CLAIMS), (V4, NOTE_V4, NOTE_V4_CLAIMS)] {
        let expected = parse(expected);
        let iat = expected["iat"].as_i64().unwrap();
        let exp = expected["exp"].as_i64().unwrap();
        let (app, clock) = app(&[NOTE_SECRET], iat + 60);
        let r = cookie(&app, "/claims", name, token).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        assert_eq!(r.body, expected, "{name}");
        assert!(!r.set_cookie, "the layer never writes Auth.js cookies");
        let r = cookie(&app, "/me", name, token).await;
        assert_eq!(r.body["sub"], "user-123");
        assert_eq!(r.body["email"], "alice@example.com");
        assert_eq!(r.body["expires_at"], exp);
        assert_eq!(r.body["created_at"], iat);
        assert_eq!(r.body["id"], expected["jti"]);
        assert_eq!(bearer(&app, "/claims", token).await.body, expected);
        // Auth.js's 15-second clock tolerance, and not a second more.
        clock.set(OffsetDateTime::from_unix_timestamp(exp + 14).unwrap());
        assert_eq!(
            cookie(&app, "/me", name, token).await.status,
            StatusCode::OK
        );
        clock.set(OffsetDateTime::from_unix_timestamp(exp + 15).unwrap());
        let r = cookie(&app, "/me", name, token).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{name} after exp + 15 s"
        );
        assert!(r.body["error"].is_string());
        assert!(
            !r.set_cookie,
            "an invalid Auth.js cookie is left to Next.js"
        );
    }
}

#[tokio::test]
async fn guards_and_optional_sessions_work_unchanged() {
    let (app, _clock) = app(&[NOTE_SECRET], 1_795_804_100);
    assert_eq!(
        cookie(&app, "/admin", V5, NOTE_V5).await.status,
        StatusCode::OK
    );
    // The v4 token has no role claim: authenticated but forbidden.
    assert_eq!(
        cookie(&app, "/admin", V4, NOTE_V4).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get_with(&app, "/admin", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = get_with(&app, "/optional", &[]).await;
    assert_eq!(r.body, json!({ "session": false }));
    let r = cookie(&app, "/optional", V5, NOTE_V5).await;
    assert_eq!(r.body, json!({ "session": true }));
}

#[tokio::test]
async fn the_session_is_read_only_and_cross_origin_writes_are_refused() {
    let (app, _clock) = app(&[NOTE_SECRET], 1_795_804_100);
    let req = Request::post("/logout")
        .header(header::COOKIE, format!("{V5}={NOTE_V5}"))
        .body(Body::empty())
        .unwrap();
    let r = send(&app, req).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    assert!(r.body["error"].as_str().unwrap().contains("read-only"));
    assert!(!r.set_cookie);
    let req = Request::post("/logout")
        .header(header::COOKIE, format!("{V5}={NOTE_V5}"))
        .header(header::ORIGIN, "https://evil.example")
        .header(header::HOST, "api.example.com")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.status, StatusCode::FORBIDDEN);
}

/// Decodes every token of a set generated by `tests/authjs/generate.mjs`, at the set's time.
async fn check_generated_set(set: &Value) {
    let now = set["now"].as_i64().unwrap();
    let current = set["secrets"]["current"].as_str().unwrap();
    let previous = set["secrets"]["previous"].as_str().unwrap();
    let (clock, control) = Clock::manual(OffsetDateTime::from_unix_timestamp(now + 5).unwrap());
    // Each token is read as its app sets it: by an app on https if its cookie is `__Secure-`.
    let apps = |secrets: &[&str]| [false, true].map(|https| app_on(https, secrets, clock.clone()));
    let [both_http, both_https] = apps(&[current, previous]);
    let [only_current_http, only_current_https] = apps(&[current]);
    let on = |name: &str| name.starts_with("__Secure-");
    let tokens = set["tokens"].as_array().unwrap();
    assert!(tokens.len() >= 10);
    for t in tokens {
        let label = t["label"].as_str().unwrap();
        let token = t["token"].as_str().unwrap();
        let cookies: Vec<(String, String)> = t["cookies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let name = c["name"].as_str().unwrap().to_owned();
                (name, c["value"].as_str().unwrap().to_owned())
            })
            .collect();
        let header: Vec<String> = vec![
            cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        ];
        let https = on(&cookies[0].0);
        let (both, only_current) = if https {
            (&both_https, &only_current_https)
        } else {
            (&both_http, &only_current_http)
        };
        let other_scheme = if https { &both_http } else { &both_https };
        let r = get_with(other_scheme, "/me", &header).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{label}: on the other scheme"
        );
        let r = get_with(both, "/claims", &header).await;
        assert_eq!(r.status, StatusCode::OK, "{label}");
        assert_eq!(r.body, t["claims"], "{label}");
        let r = get_with(both, "/me", &header).await;
        assert_eq!(r.body["sub"], "user-123", "{label}");
        assert_eq!(r.body["id"], t["claims"]["jti"], "{label}");
        let r = bearer(both, "/claims", token).await;
        assert_eq!(r.status, StatusCode::OK, "{label} as bearer");
        assert_eq!(r.body, t["claims"], "{label} as bearer");
        let chunked = label.contains("chunked");
        assert_eq!(cookies.len() > 1, chunked, "{label}: chunking as expected");
        if chunked {
            // Out of order, one cookie per header: still joined by number.
            let reversed: Vec<String> = cookies
                .iter()
                .rev()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            let r = get_with(both, "/claims", &reversed).await;
            assert_eq!(r.body, t["claims"], "{label} reversed");
            // A missing chunk, a repeated one, or a stray whole cookie next to chunks.
            let missing: Vec<String> = cookies
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 1)
                .map(|(_, (n, v))| format!("{n}={v}"))
                .collect();
            let r = get_with(both, "/me", &missing).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{label} missing chunk");
            let last = cookies.len() - 1;
            let without_last: Vec<String> = reversed[1..].to_vec();
            let r = get_with(both, "/me", &without_last).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{label} chunk {last} missing"
            );
            let mut repeated = reversed.clone();
            repeated.push(reversed[0].clone());
            let r = get_with(both, "/me", &repeated).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{label} repeated chunk");
            let name = t["cookie"].as_str().unwrap();
            let mut mixed = reversed.clone();
            mixed.push(format!("{name}={}", &token[..100]));
            let r = get_with(both, "/me", &mixed).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{label} chunks and whole"
            );
        }
        // Secret rotation: an old secret works while it is listed, not after.
        let r = get_with(only_current, "/me", &header).await;
        let expected = if label.contains("previous") {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        assert_eq!(r.status, expected, "{label} with the current secret only");
    }
    for t in set["bad"].as_array().unwrap() {
        let label = t["label"].as_str().unwrap();
        let name = t["cookie"].as_str().unwrap();
        let both = if on(name) { &both_https } else { &both_http };
        let r = cookie(both, "/me", name, t["token"].as_str().unwrap()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{label}");
    }
    // Everything expires 30 days after it was made (plus the tolerance).
    let v5 = tokens
        .iter()
        .find(|t| t["label"] == "v5 A256CBC-HS512")
        .unwrap();
    let exp = v5["claims"]["exp"].as_i64().unwrap();
    control.set(OffsetDateTime::from_unix_timestamp(exp + 15).unwrap());
    let r = cookie(&both_http, "/me", V5, v5["token"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// The set generated by `tests/authjs/generate.mjs` and checked in.
fn fixtures() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/authjs/fixtures.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test]
async fn the_checked_in_fixtures_from_the_real_libraries_decode() {
    let set = fixtures();
    assert_eq!(set["libraries"]["@auth/core"], "0.41.3");
    assert_eq!(set["libraries"]["next-auth"], "4.24.15");
    check_generated_set(&set).await;
}

#[tokio::test]
async fn fresh_tokens_from_the_real_libraries_decode() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/authjs");
    let required = std::env::var("SESSIONWARD_REQUIRE_AUTHJS").is_ok_and(|v| v == "1");
    if !dir.join("node_modules").exists() {
        assert!(
            !required,
            "SESSIONWARD_REQUIRE_AUTHJS=1 but tests/authjs/node_modules is missing: npm ci --prefix tests/authjs"
        );
        eprintln!("SKIP fresh Auth.js tokens: run `npm ci --prefix tests/authjs` to enable");
        return;
    }
    let out = std::process::Command::new("node")
        .arg("generate.mjs")
        .current_dir(&dir)
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) if !required => {
            eprintln!("SKIP fresh Auth.js tokens: cannot run node: {e}");
            return;
        }
        Err(e) => panic!("cannot run node: {e}"),
    };
    assert!(
        out.status.success(),
        "generate.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let set: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_generated_set(&set).await;
}

/// Changes one base64url part of a compact JWE and re-joins it.
fn with_part(token: &str, index: usize, change: impl FnOnce(&str) -> String) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[index] = change(&parts[index]);
    parts.join(".")
}

/// Flips one bit of the decoded part (the encoded form stays canonical).
fn flip(part: &str) -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(part).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    URL_SAFE_NO_PAD.encode(bytes)
}

fn header_with(token: &str, change: impl FnOnce(&mut Value)) -> String {
    with_part(token, 0, |h| {
        let mut header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
        change(&mut header);
        URL_SAFE_NO_PAD.encode(header.to_string())
    })
}

#[tokio::test]
async fn every_bad_input_is_no_session_never_a_panic_or_500() {
    let (app, _clock) = app(&[NOTE_SECRET], 1_795_804_100);
    let (wrong_secret, _) = self::app(&["another-secret-entirely-0123456789"], 1_795_804_100);
    let (v4_only, _) = {
        let (clock, control) =
            Clock::manual(OffsetDateTime::from_unix_timestamp(1_795_804_100).unwrap());
        let config = AuthJsConfig::new(vec![NOTE_SECRET.into()])
            .version(AuthJsVersion::V4)
            .use_secure_cookies(false);
        (app_with(config, clock), control)
    };
    // Sanity: the untouched tokens are good.
    assert_eq!(
        cookie(&app, "/me", V5, NOTE_V5).await.status,
        StatusCode::OK
    );
    assert_eq!(
        cookie(&app, "/me", V4, NOTE_V4).await.status,
        StatusCode::OK
    );

    let unauthorized = |r: &Reply, what: &str| {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(!r.set_cookie, "{what}");
    };
    unauthorized(
        &cookie(&wrong_secret, "/me", V5, NOTE_V5).await,
        "wrong secret v5",
    );
    unauthorized(
        &cookie(&wrong_secret, "/me", V4, NOTE_V4).await,
        "wrong secret v4",
    );
    unauthorized(
        &cookie(&v4_only, "/me", V5, NOTE_V5).await,
        "v5 not accepted",
    );
    // The salt is the cookie name: a v5 token under another name does not decrypt.
    for name in [
        V4,
        "__Secure-authjs.session-token",
        "__Secure-next-auth.session-token",
    ] {
        unauthorized(&cookie(&app, "/me", name, NOTE_V5).await, name);
    }
    unauthorized(
        &cookie(&app, "/me", V5, NOTE_V4).await,
        "v4 token under the v5 name",
    );

    for (label, token) in [("v5", NOTE_V5), ("v4", NOTE_V4)] {
        let name = if label == "v5" { V5 } else { V4 };
        let mut bad: Vec<(String, String)> = Vec::new();
        for (i, part) in ["header", "encrypted key", "iv", "ciphertext", "tag"]
            .iter()
            .enumerate()
        {
            if i == 1 {
                bad.push((
                    format!("{part} added"),
                    with_part(token, i, |_| "AAAA".into()),
                ));
            } else {
                bad.push((format!("{part} bit flipped"), with_part(token, i, flip)));
                bad.push((
                    format!("{part} truncated"),
                    with_part(token, i, |p| p[..p.len() - 4].to_owned()),
                ));
                bad.push((
                    format!("{part} emptied"),
                    with_part(token, i, |_| String::new()),
                ));
                bad.push((
                    format!("{part} not base64url"),
                    with_part(token, i, |p| format!("{}*", &p[1..])),
                ));
            }
        }
        let parts: Vec<&str> = token.split('.').collect();
        bad.push(("four parts".into(), parts[..4].join(".")));
        bad.push(("six parts".into(), format!("{token}.AAAA")));
        bad.push(("truncated".into(), token[..token.len() - 10].to_owned()));
        bad.push(("empty".into(), String::new()));
        bad.push(("garbage".into(), "not-a-token".into()));
        bad.push((
            "oversized".into(),
            format!("{token}{}", "A".repeat(17 * 1024)),
        ));
        bad.push((
            "enc A128GCM".into(),
            header_with(token, |h| h["enc"] = json!("A128GCM")),
        ));
        let other_enc = if label == "v5" {
            "A256GCM"
        } else {
            "A256CBC-HS512"
        };
        bad.push((
            format!("enc {other_enc}"),
            header_with(token, |h| h["enc"] = json!(other_enc)),
        ));
        bad.push((
            "alg RSA-OAEP".into(),
            header_with(token, |h| h["alg"] = json!("RSA-OAEP")),
        ));
        bad.push((
            "alg none".into(),
            header_with(token, |h| h["alg"] = json!("none")),
        ));
        bad.push((
            "no alg".into(),
            header_with(token, |h| h.as_object_mut().unwrap().clear()),
        ));
        bad.push((
            "zip".into(),
            header_with(token, |h| h["zip"] = json!("DEF")),
        ));
        bad.push((
            "kid changed".into(),
            header_with(token, |h| h["kid"] = json!("other")),
        ));
        bad.push((
            "kid not a string".into(),
            header_with(token, |h| h["kid"] = json!(7)),
        ));
        for (what, token) in bad {
            let what = format!("{label}: {what}");
            unauthorized(&cookie(&app, "/me", name, &token).await, &what);
            assert_eq!(
                bearer(&app, "/me", &token).await.status,
                StatusCode::UNAUTHORIZED,
                "{what}"
            );
            let r = cookie(&app, "/optional", name, &token).await;
            assert_eq!(r.body, json!({ "session": false }), "{what}");
        }
    }
    // A cookie value that is not text, and an oversized set of chunks.
    let req = Request::get("/me")
        .header(
            header::COOKIE,
            axum::http::HeaderValue::from_bytes(b"authjs.session-token=\xff\xfe").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    unauthorized(&send(&app, req).await, "not ASCII");
    let chunks: Vec<String> = (0..6)
        .map(|i| format!("{V5}.{i}={}", "A".repeat(3936)))
        .collect();
    unauthorized(&get_with(&app, "/me", &chunks).await, "oversized chunks");
}

#[tokio::test]
async fn cookies_win_over_bearer_and_v5_names_over_v4() {
    let (app, _clock) = app(&[NOTE_SECRET], 1_795_804_100);
    // A good v5 cookie with a bad bearer: the cookie counts.
    let req = Request::get("/claims")
        .header(header::COOKIE, format!("{V5}={NOTE_V5}"))
        .header(header::AUTHORIZATION, "Bearer garbage")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.body, parse(NOTE_V5_CLAIMS));
    // Both generations' cookies: v5 first.
    let r = get_with(
        &app,
        "/claims",
        &[format!("{V4}={NOTE_V4}; {V5}={NOTE_V5}")],
    )
    .await;
    assert_eq!(r.body, parse(NOTE_V5_CLAIMS));
    // Bearer off: only cookies.
    let (clock, _c) = Clock::manual(OffsetDateTime::from_unix_timestamp(1_795_804_100).unwrap());
    let no_bearer = Router::new()
        .route("/me", get(me))
        .layer(SessionLayer::authjs(
            AuthJsConfig::new(vec![NOTE_SECRET.into()]).use_secure_cookies(false),
            SessionConfig::default().clock(clock).accept_bearer(false),
        ));
    assert_eq!(
        bearer(&no_bearer, "/me", NOTE_V5).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn custom_cookie_names_are_the_salt() {
    // The research note's __Secure- key differs from the plain one: a token presented under a
    // custom name only decrypts when it was made with that name as salt. Configured names
    // replace the defaults.
    let (clock, _c) = Clock::manual(OffsetDateTime::from_unix_timestamp(1_795_804_100).unwrap());
    let config = AuthJsConfig::new(vec![NOTE_SECRET.into()])
        .v5_cookie_names(["my-app.session"])
        .v4_cookie_names(Vec::<String>::new());
    let app = app_with(config, clock);
    assert_eq!(
        cookie(&app, "/me", V5, NOTE_V5).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        cookie(&app, "/me", "my-app.session", NOTE_V5).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        cookie(&app, "/me", V4, NOTE_V4).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// A stale or foreign cookie under a preferred name (a v5 cookie that does not decrypt, or
/// broken v5 chunks) does not hide a valid cookie under another name: each name present is
/// tried in order of preference.
#[tokio::test]
async fn a_cookie_that_fails_does_not_shadow_a_valid_one_of_another_name() {
    let (app, _clock) = app(&[NOTE_SECRET], 1_795_804_100);
    let v4 = parse(NOTE_V4_CLAIMS);
    for v5 in [
        format!("{V5}=garbage"),
        // A real v5 token, but made with another name as salt: it does not decrypt here.
        format!("__Secure-{V5}={NOTE_V5}; {V5}=x"),
        format!("{V5}={}", with_part(NOTE_V5, 4, flip)),
        // Chunks with a gap: unusable.
        format!("{V5}.0=abc; {V5}.2=def"),
    ] {
        let r = get_with(&app, "/claims", &[format!("{v5}; {V4}={NOTE_V4}")]).await;
        assert_eq!(r.status, StatusCode::OK, "{v5:.60}");
        assert_eq!(r.body, v4, "{v5:.60}");
    }
    // Nothing valid: still no session.
    let r = get_with(&app, "/me", &[format!("{V5}=garbage; {V4}=garbage")]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// On an https site Auth.js sets and reads only `__Secure-` cookies. A cookie under the plain
/// name there was planted: over plain http, or by a sibling subdomain (cookie tossing). Read,
/// it would sign a browser without a session in to the planter's account (login CSRF).
/// NextAuth.js v4 tokens carry no salt, so the planter's own token from the https site
/// decrypts under the plain name; a v5 token decrypts there when it comes from an http app
/// with the same secret (a preview deployment).
#[tokio::test]
async fn on_https_a_cookie_planted_under_the_plain_name_is_no_session() {
    let set = fixtures();
    let now = set["now"].as_i64().unwrap();
    let secret = set["secrets"]["current"].as_str().unwrap();
    let token = |label: &str| -> String {
        let tokens = set["tokens"].as_array().unwrap();
        let t = tokens.iter().find(|t| t["label"] == label).unwrap();
        t["token"].as_str().unwrap().to_owned()
    };
    let (planters_v4, preview_v5) = (token("v4 A256GCM https"), token("v5 A256CBC-HS512"));
    let (clock, _control) = Clock::manual(OffsetDateTime::from_unix_timestamp(now + 5).unwrap());
    let https = app_on(true, &[secret], clock.clone());
    for planted in [format!("{V4}={planters_v4}"), format!("{V5}={preview_v5}")] {
        let r = get_with(&https, "/me", std::slice::from_ref(&planted)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{planted:.40}");
        let r = get_with(&https, "/optional", &[planted]).await;
        assert_eq!(r.body, json!({ "session": false }));
    }
    // The same v4 token under the name the https app sets is the session; beside a planted
    // plain cookie, the browser's own `__Secure-` cookie is the one read.
    let own = token("v5 A256CBC-HS512 https");
    let r = get_with(&https, "/claims", &[format!("__Secure-{V4}={planters_v4}")]).await;
    assert_eq!(r.status, StatusCode::OK);
    let both = format!("{V4}={planters_v4}; __Secure-{V5}={own}");
    let r = get_with(&https, "/claims", &[both]).await;
    assert_eq!(r.body["jti"], json!(jti_of(&set, "v5 A256CBC-HS512 https")));
    // An app on plain http (`use_secure_cookies(false)`, `next dev`) reads the plain names,
    // and no `__Secure-` cookie.
    let http = app_on(false, &[secret], clock);
    let r = get_with(&http, "/me", &[format!("{V4}={planters_v4}")]).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = get_with(&http, "/me", &[format!("__Secure-{V4}={planters_v4}")]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A custom name without a `__Secure-` twin is read on either scheme, as configured.
    let (clock, _c) = Clock::manual(OffsetDateTime::from_unix_timestamp(now + 5).unwrap());
    let custom = app_with(
        AuthJsConfig::new(vec![secret.into()])
            .version(AuthJsVersion::V4)
            .v4_cookie_names(["app.session"]),
        clock,
    );
    let r = get_with(&custom, "/me", &[format!("app.session={planters_v4}")]).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// The `jti` claim of the fixture labelled `label`.
fn jti_of(set: &Value, label: &str) -> String {
    let tokens = set["tokens"].as_array().unwrap();
    let t = tokens.iter().find(|t| t["label"] == label).unwrap();
    t["claims"]["jti"].as_str().unwrap().to_owned()
}
