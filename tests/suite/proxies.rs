//! Reverse proxies and the request's own origin (issue 13, item 3): a stated public origin,
//! forwarding headers believed from configured proxies only, the client address they carry,
//! and one warning for a `Secure` cookie sent over plain http.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};

use crate::origin::{capture_logs, captured, memory_app, post_with};
use crate::support::{TestApp, logs, user};

/// `req` as coming from the TCP peer `peer`, as `into_make_service_with_connect_info` marks it.
fn from_peer(mut req: Request<Body>, peer: &str) -> Request<Body> {
    let addr: SocketAddr = format!("{peer}:40000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

/// Logs in with `headers` through `peer`; the token, or the status when refused.
async fn login_via(
    app: &TestApp,
    peer: &str,
    headers: &[(&str, &str)],
) -> Result<String, StatusCode> {
    let login = format!("/login/{}?role=user", user());
    let reply = app.send(from_peer(post_with(&login, headers), peer)).await;
    match reply.token() {
        Some(token) if reply.status == StatusCode::OK => {
            logs::register(&token);
            Ok(token)
        }
        _ => Err(reply.status),
    }
}

/// The client address the session of `token` was created from.
async fn recorded_ip(app: &TestApp, token: &str) -> Option<String> {
    let reply = app.call("GET", "/sessions", Some(token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()[0]["ip"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn behind_a_proxy_that_rewrites_host_the_public_origin_lets_form_posts_through() {
    // nginx's default `proxy_pass` sends `Host: 127.0.0.1:3000`; the browser's Origin is the
    // public one, and a plain-http site gets no Sec-Fetch-Site.
    let proxied = [
        ("host", "127.0.0.1:3000"),
        ("origin", "https://app.example.com"),
    ];
    let post = |path: &str, token: &str, origin: &str| {
        let cookie = format!("session-id={token}");
        let mut req = post_with(path, &[("origin", origin), ("cookie", &cookie)]);
        req.headers_mut()
            .insert("host", "127.0.0.1:3000".parse().unwrap());
        req
    };

    let plain = memory_app(|c| c).await;
    let (guard, logs) = capture_logs();
    let token = plain.login(&user(), "user").await.token().unwrap();
    logs::register(&token);
    let reply = plain
        .send(post("/items/a", &token, "https://app.example.com"))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let log = captured(&logs);
    assert!(
        log.contains("origin=https://app.example.com")
            && log.contains("host=127.0.0.1:3000")
            && log.contains("SessionConfig::public_origin")
            && log.contains("SessionConfig::trust_proxies"),
        "the refusal says what it compared and what fixes it:\n{log}"
    );
    drop(guard);

    let app = memory_app(|c| c.public_origin("https://app.example.com:443/")).await;
    let token = app.login(&user(), "user").await.token().unwrap();
    logs::register(&token);
    let reply = app
        .send(post("/items/a", &token, "https://app.example.com"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(login_via(&app, "127.0.0.1", &proxied).await.is_ok());
    // The scheme is part of the origin; the Host no longer decides.
    for origin in [
        "http://app.example.com",
        "http://127.0.0.1:3000",
        "https://evil.example",
    ] {
        let reply = app.send(post("/items/b", &token, origin)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{origin}");
    }
}

#[tokio::test]
async fn origin_settings_that_are_not_scheme_host_port_stop_the_start() {
    for (setting, bad) in [
        ("public_origin", "app.example.com"),
        ("public_origin", "https://app.example.com/app"),
        ("trusted_origin", "https://user@app.example.com"),
        ("trust_proxies", "10.0.0.0/33"),
        ("trust_proxies", "proxy.internal"),
        ("allow_cross_origin_path", "webhooks/"),
    ] {
        let message = crate::support::start_up_refusal(|| {
            let config = sessionward::SessionConfig::default();
            match setting {
                "public_origin" => drop(config.public_origin(bad)),
                "trusted_origin" => drop(config.trusted_origin(bad)),
                "trust_proxies" => drop(config.trust_proxies([bad])),
                _ => drop(config.allow_cross_origin_path(bad)),
            }
        })
        .expect(bad);
        assert!(
            message.starts_with("sessionward: ") && message.contains(setting),
            "{bad}: {message}"
        );
    }
}

#[tokio::test]
async fn trusted_proxies_state_the_host_the_scheme_and_the_client_address() {
    let app = memory_app(|c| c.trust_proxies(["10.0.0.0/8"])).await;
    let forwarded = |origin| {
        [
            ("host", "127.0.0.1:3000"),
            ("origin", origin),
            ("x-forwarded-host", "app.example.com"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-for", "203.0.113.66, 198.51.100.7"),
        ]
    };
    let token = login_via(&app, "10.0.0.1", &forwarded("https://app.example.com"))
        .await
        .expect("the proxy's word makes it same-origin");
    // The rightmost address that is not a trusted proxy is the client.
    assert_eq!(
        recorded_ip(&app, &token).await.as_deref(),
        Some("198.51.100.7")
    );
    // The stated scheme is compared.
    let refused = login_via(&app, "10.0.0.1", &forwarded("http://app.example.com")).await;
    assert_eq!(refused, Err(StatusCode::FORBIDDEN));
    // From any other peer, the same headers are the client's own words: ignored.
    let refused = login_via(&app, "192.0.2.1", &forwarded("https://app.example.com")).await;
    assert_eq!(refused, Err(StatusCode::FORBIDDEN));
    let spoofed = [("x-forwarded-for", "198.51.100.7")];
    let token = login_via(&app, "192.0.2.1", &spoofed).await.unwrap();
    assert_eq!(
        recorded_ip(&app, &token).await.as_deref(),
        Some("192.0.2.1")
    );
    // Garbage from a trusted proxy: no address rather than a wrong one.
    let garbage = [("x-forwarded-for", "198.51.100.7, not-an-address")];
    let token = login_via(&app, "10.0.0.1", &garbage).await.unwrap();
    assert_eq!(recorded_ip(&app, &token).await, None);
}

#[tokio::test]
async fn a_secure_cookie_over_plain_http_to_another_host_warns_once() {
    let warning = "Secure session cookie was sent over plain http";
    let app = memory_app(|c| c.trust_proxies(["10.0.0.1"])).await;
    let (_guard, logs) = capture_logs();
    let https = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
    ];
    login_via(&app, "10.0.0.1", &https).await.unwrap();
    let loopback = [
        ("x-forwarded-proto", "http"),
        ("x-forwarded-host", "localhost:3000"),
    ];
    login_via(&app, "10.0.0.1", &loopback).await.unwrap();
    assert!(!captured(&logs).contains(warning), "{}", captured(&logs));
    let http = [
        ("x-forwarded-proto", "http"),
        ("x-forwarded-host", "app.example.com"),
    ];
    login_via(&app, "10.0.0.1", &http).await.unwrap();
    login_via(&app, "10.0.0.1", &http).await.unwrap();
    let log = captured(&logs);
    assert_eq!(log.matches(warning).count(), 1, "{log}");
    assert!(log.contains("SessionConfig::secure(false)"), "{log}");
}
