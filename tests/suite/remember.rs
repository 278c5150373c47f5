//! Remember me (issue 17): a login chooses a persistent cookie (the full lifetime) or a
//! browser-session cookie (no `Max-Age`/`Expires`) with the shorter
//! `browser_session_lifetime` on the server. The choice survives every later re-issue of the
//! cookie (rotation, data change, explicit and sliding refresh, re-authentication) and the
//! sliding refresh keeps the shorter lifetime. On every store, database sessions (with and
//! without the cache) and JWT, where the choice is a signed claim.

use axum::http::StatusCode;
use base64::Engine as _;
use time::Duration;

use crate::support::{Reply, START, Setup, TestApp, user};

suite!(remember => database, Database; cached, DatabaseCached; jwt, Jwt:
    a_browser_session_keeps_its_session_cookie_and_short_lifetime,
    a_remembered_session_keeps_a_persistent_cookie,
);

/// The one `Set-Cookie` of `reply`, which must set the session cookie.
fn session_cookie(reply: &Reply) -> String {
    let cookies = reply.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?} ({})", reply.body);
    assert!(cookies[0].starts_with("session-id="), "{cookies:?}");
    cookies[0].clone()
}

/// Whether a `Set-Cookie` outlives the browser.
fn is_persistent(cookie: &str) -> bool {
    let lower = cookie.to_ascii_lowercase();
    lower.contains("; max-age=") || lower.contains("; expires=")
}

/// `/me` with `token`: 200, and its JSON.
async fn me(app: &TestApp, token: &str) -> serde_json::Value {
    let reply = app.call("GET", "/me", Some(token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()
}

/// The JSON payload of a JWT, unverified (the test only reads what the server signed).
fn jwt_payload(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// The session cookie a reply sets: a browser-session cookie with a token.
fn browser_session_token(reply: &Reply, what: &str) -> String {
    let cookie = session_cookie(reply);
    assert!(!is_persistent(&cookie), "{what}: {cookie}");
    reply.token().expect("a token")
}

pub async fn a_browser_session_keeps_its_session_cookie_and_short_lifetime(t: Setup) {
    let app = app!(t);
    let alice = user();
    let login = app
        .call(
            "POST",
            &format!("/login/{alice}?role=user&remember=false"),
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let mut token = browser_session_token(&login, "login");
    assert_eq!(login.json()["persistent"], false);
    if t.is_jwt() {
        assert_eq!(jwt_payload(&token)["ephemeral"], true, "a signed claim");
    }
    // One day on the server (the default browser_session_lifetime), not max_age.
    let day = (START + Duration::days(1)).unix_timestamp();
    let seen = me(&app, &token).await;
    assert_eq!(seen["persistent"], false);
    assert_eq!(seen["expires_at"], day);

    // Rotation re-sends a session cookie.
    let rotated = app.call("POST", "/rotate", Some(&token)).await;
    assert_eq!(rotated.status, StatusCode::NO_CONTENT, "{}", rotated.body);
    token = browser_session_token(&rotated, "rotation");
    // A data change: JWT re-issues (a session cookie again), the database keeps the token.
    let updated = app.call("POST", "/items/book", Some(&token)).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    if t.is_jwt() {
        token = browser_session_token(&updated, "data change");
    } else {
        assert!(updated.set_cookies().is_empty());
    }
    assert_eq!(me(&app, &token).await["persistent"], false);

    // An explicit refresh: a session cookie, and one day from now.
    app.clock.advance(Duration::hours(1));
    let refreshed = app.call("POST", "/refresh", Some(&token)).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    token = refreshed.token().unwrap_or(token);
    assert!(!is_persistent(&session_cookie(&refreshed)));
    let now = START + Duration::hours(1);
    assert_eq!(
        refreshed.json()["expires_at"],
        (now + Duration::days(1)).unix_timestamp()
    );

    // The sliding refresh comes after a tenth of the day (not update_age's full day, which
    // would never come), keeps the session cookie and extends by one day.
    app.clock.advance(Duration::hours(2));
    let quiet = app.call("GET", "/me", Some(&token)).await;
    assert!(quiet.set_cookies().is_empty(), "not due yet");
    app.clock.advance(Duration::minutes(30));
    let slid = app.call("GET", "/me", Some(&token)).await;
    assert_eq!(slid.status, StatusCode::OK, "{}", slid.body);
    token = browser_session_token(&slid, "sliding refresh");
    let now = START + Duration::hours(3) + Duration::minutes(30);
    assert_eq!(
        slid.json()["expires_at"],
        (now + Duration::days(1)).unix_timestamp()
    );

    // Re-authentication (a re-issue on JWT) keeps it too.
    let reauth = app.call("POST", "/reauth", Some(&token)).await;
    assert_eq!(reauth.status, StatusCode::OK, "{}", reauth.body);
    assert_eq!(reauth.json()["persistent"], false);
    if t.is_jwt() {
        token = browser_session_token(&reauth, "re-authentication");
    }

    // Unused for longer than the browser-session lifetime (and JWT's 30 s leeway): over,
    // although max_age is not.
    app.clock.advance(Duration::days(1) + Duration::minutes(1));
    assert_eq!(
        app.call("GET", "/me", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

pub async fn a_remembered_session_keeps_a_persistent_cookie(t: Setup) {
    let app = app!(t);
    let bob = user();
    // Explicitly remembered, and the plain login: both persistent.
    let explicit = app
        .call(
            "POST",
            &format!("/login/{bob}?role=user&remember=true"),
            None,
        )
        .await;
    assert_eq!(explicit.status, StatusCode::OK, "{}", explicit.body);
    assert!(is_persistent(&session_cookie(&explicit)));
    assert_eq!(explicit.json()["persistent"], true);
    let login = app.login(&bob, "user").await;
    let cookie = session_cookie(&login);
    let max_age = if t.is_jwt() { 30 } else { 7 } * 86_400;
    assert!(cookie.contains(&format!("; Max-Age={max_age}")), "{cookie}");
    let mut token = login.token().unwrap();
    if t.is_jwt() {
        assert!(jwt_payload(&token).get("ephemeral").is_none(), "no claim");
    }
    let rotated = app.call("POST", "/rotate", Some(&token)).await;
    token = rotated.token().unwrap();
    assert!(is_persistent(&session_cookie(&rotated)));
    // Idle for two days: far past a browser session, well within max_age.
    app.clock.advance(Duration::days(2));
    let slid = app.call("GET", "/me", Some(&token)).await;
    assert_eq!(slid.status, StatusCode::OK, "{}", slid.body);
    assert!(is_persistent(&session_cookie(&slid)), "sliding refresh");
    assert_eq!(slid.json()["persistent"], true);
}
