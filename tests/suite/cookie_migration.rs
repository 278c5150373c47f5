//! Moving users to another session cookie (name, path, domain) without signing them out:
//! `SessionConfig::previous_cookie`. A request that still carries the previous cookie is served
//! with its token, and its response sets the current cookie and removes the previous one with
//! the previous `Path` and `Domain`.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sessionward::{PreviousCookie, SessionConfig};

use crate::backends::Backend;
use crate::support::{Reply, Setup, Strategy, TestApp, logs, user};

const CURRENT: &str = "__Host-session-id";

/// The app after the change: `__Host-session-id`, previously `session-id` on `.app.test`
/// under `/`.
async fn app(strategy: Strategy) -> Option<TestApp> {
    let setup = Setup {
        backend: Backend::Sqlite,
        strategy,
    };
    TestApp::with_config(setup, |config: SessionConfig| {
        config
            .cookie_name(CURRENT)
            .previous_cookie(PreviousCookie::named("session-id").domain("app.test"))
    })
    .await
}

/// `method path` carrying `cookies` (a whole `Cookie` header).
async fn send(app: &TestApp, method: &str, path: &str, cookies: &str) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "app.test")
        .header(header::COOKIE, cookies)
        .body(Body::empty())
        .expect("a request");
    app.send(req).await
}

/// The value a `Set-Cookie` of `name` gives, if the reply has one.
fn set_value(reply: &Reply, name: &str) -> Option<String> {
    reply.set_cookies().iter().find_map(|c| {
        let value = c.strip_prefix(&format!("{name}="))?.split(';').next()?;
        logs::register(value);
        Some(value.to_owned())
    })
}

/// A session the previous configuration would have set: the same kind of token, under the
/// previous name.
async fn signed_in(app: &TestApp) -> String {
    let reply = app
        .call("POST", &format!("/login/{}?role=user", user()), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    set_value(&reply, CURRENT).expect("a session cookie under the current name")
}

async fn the_previous_cookie_moves_to_the_current_one(strategy: Strategy) {
    let Some(app) = app(strategy).await else {
        return;
    };
    let token = signed_in(&app).await;

    // Still signed in with the previous cookie, and moved over by this response.
    let reply = send(&app, "GET", "/me", &format!("lang=en; session-id={token}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{strategy:?}: {}", reply.body);
    let cookies = reply.set_cookies();
    assert_eq!(cookies.len(), 2, "{strategy:?}: {cookies:?}");
    assert_eq!(set_value(&reply, CURRENT).as_deref(), Some(token.as_str()));
    assert!(cookies[0].contains("; Path=/;") && cookies[0].contains("Max-Age="));
    let removal = &cookies[1];
    assert!(
        removal.starts_with("session-id=;")
            && removal.contains("Max-Age=0")
            && removal.contains("Path=/;")
            && removal.contains("Domain=app.test"),
        "{strategy:?}: the previous cookie is removed with its own attributes: {removal}"
    );

    // The current cookie alone: served, nothing more to move.
    let reply = send(&app, "GET", "/me", &format!("{CURRENT}={token}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.set_cookies().is_empty());

    // A handler that never asks still moves the browser over (one lookup).
    let reply = send(&app, "GET", "/public", &format!("session-id={token}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(set_value(&reply, CURRENT).as_deref(), Some(token.as_str()));
}

/// Two requests of a browser that still carries the previous cookie: one is held in its
/// handler while the other rotates the session (its response sets the current cookie to the
/// new token). The held one, answered last, must not copy its old token into the current
/// cookie: that would sign the browser out.
async fn a_move_whose_session_was_rotated_meanwhile_sets_no_current_cookie(strategy: Strategy) {
    let Some(app) = app(strategy).await else {
        return;
    };
    let token = signed_in(&app).await;
    let previous = format!("session-id={token}");
    let (gate, held) = crate::support::Held::open();
    let inside = send(&app, "GET", &held, &previous);
    let meanwhile = async {
        gate.entered.notified().await;
        let rotated = send(&app, "POST", "/rotate", &previous).await;
        gate.release.notify_one();
        rotated
    };
    let (inside, rotated) = tokio::join!(inside, meanwhile);
    assert!(
        rotated.status.is_success(),
        "{strategy:?}: {}",
        rotated.body
    );
    let new = set_value(&rotated, CURRENT).expect("the rotation's current cookie");
    assert_ne!(new, token);
    assert_eq!(
        inside.status,
        StatusCode::OK,
        "{strategy:?}: {}",
        inside.body
    );
    assert_eq!(
        set_value(&inside, CURRENT),
        None,
        "{strategy:?}: the old token is not copied into the current cookie after the rotation"
    );
    let me = send(&app, "GET", "/me", &format!("{CURRENT}={new}")).await;
    assert_eq!(me.status, StatusCode::OK, "{strategy:?}");
}

async fn a_dead_previous_cookie_is_removed_and_logout_removes_it_too(strategy: Strategy) {
    let Some(app) = app(strategy).await else {
        return;
    };
    let garbage = "x".repeat(43);
    let reply = send(&app, "GET", "/me", &format!("session-id={garbage}")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.set_cookies().len(), 1);
    assert!(reply.set_cookies()[0].starts_with("session-id=;"));
    assert!(reply.set_cookies()[0].contains("Domain=app.test"));
    // Two previous cookies at once (a host-only one beside the domain one): no session, and
    // neither is removed (which is which cannot be told; removing one would make the other
    // the session), nor the current one the request lacks.
    let both = format!("session-id={garbage}; session-id={}", "y".repeat(43));
    let reply = send(&app, "GET", "/me", &both).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let cookies = reply.set_cookies();
    assert!(cookies.is_empty(), "{strategy:?}: {cookies:?}");

    let token = signed_in(&app).await;
    let reply = send(&app, "POST", "/logout", &format!("session-id={token}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let cookies = reply.set_cookies();
    assert_eq!(cookies.len(), 1, "{strategy:?}: {cookies:?}");
    assert!(cookies[0].starts_with("session-id=;") && cookies[0].contains("Max-Age=0"));
    let reply = send(&app, "GET", "/me", &format!("{CURRENT}={token}")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

/// A browser session (signed in without "remember me", issue 17) moves to a browser-session
/// cookie: no `Max-Age` on the current cookie.
async fn a_browser_session_moves_to_a_browser_session_cookie(strategy: Strategy) {
    let Some(app) = app(strategy).await else {
        return;
    };
    let path = format!("/login/{}?role=user&remember=false", user());
    let reply = app.call("POST", &path, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = set_value(&reply, CURRENT).expect("a session cookie");
    // Served with the previous cookie, moved over (the handler asks, and one that never asks).
    for path in ["/me", "/public"] {
        let reply = send(&app, "GET", path, &format!("session-id={token}")).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{strategy:?} {path}: {}",
            reply.body
        );
        let cookies = reply.set_cookies();
        assert_eq!(cookies.len(), 2, "{strategy:?} {path}: {cookies:?}");
        assert_eq!(set_value(&reply, CURRENT).as_deref(), Some(token.as_str()));
        assert!(
            !cookies[0].contains("Max-Age") && !cookies[0].contains("Expires"),
            "{strategy:?} {path}: still a browser-session cookie: {}",
            cookies[0]
        );
    }
}

#[tokio::test]
async fn a_browser_session_moves_to_a_browser_session_cookie_database() {
    a_browser_session_moves_to_a_browser_session_cookie(Strategy::Database).await;
}

#[tokio::test]
async fn a_browser_session_moves_to_a_browser_session_cookie_jwt() {
    a_browser_session_moves_to_a_browser_session_cookie(Strategy::Jwt).await;
}

#[tokio::test]
async fn the_previous_cookie_moves_to_the_current_one_database() {
    the_previous_cookie_moves_to_the_current_one(Strategy::Database).await;
}

#[tokio::test]
async fn the_previous_cookie_moves_to_the_current_one_jwt() {
    the_previous_cookie_moves_to_the_current_one(Strategy::Jwt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_whose_session_was_rotated_meanwhile_sets_no_current_cookie_database() {
    a_move_whose_session_was_rotated_meanwhile_sets_no_current_cookie(Strategy::Database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_whose_session_was_rotated_meanwhile_sets_no_current_cookie_jwt() {
    a_move_whose_session_was_rotated_meanwhile_sets_no_current_cookie(Strategy::Jwt).await;
}

#[tokio::test]
async fn a_dead_previous_cookie_is_removed_and_logout_removes_it_too_database() {
    a_dead_previous_cookie_is_removed_and_logout_removes_it_too(Strategy::Database).await;
}

#[tokio::test]
async fn a_dead_previous_cookie_is_removed_and_logout_removes_it_too_jwt() {
    a_dead_previous_cookie_is_removed_and_logout_removes_it_too(Strategy::Jwt).await;
}

#[test]
fn a_previous_cookie_of_the_same_name_is_refused_at_start_up() {
    let message = crate::support::start_up_refusal(|| {
        sessionward::SessionLayer::database(
            sessionward::MemoryStore::new(),
            SessionConfig::default()
                .cookie_domain("example.com")
                .previous_cookie(PreviousCookie::named("session-id")),
        )
    })
    .expect("refused");
    assert!(
        message.starts_with("sessionward: previous_cookie"),
        "{message}"
    );
}
