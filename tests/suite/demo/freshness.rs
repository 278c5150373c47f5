//! The demo's step-up freshness (issue 17): `/api/account` and `/account` need a sign-in within
//! `FRESH_AGE_SECS`; `/api/reauth` and `/reauth` make the same session fresh again.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{DEMO_JWT_SECRET, Demo, TempDir, refused_at_start, rfc3339, send};

/// The freshness window the tests give the demo, in seconds.
const FRESH_AGE_SECS: u64 = 3;

/// The current session's entry of `/api/sessions`.
async fn current(demo: &Demo, token: &str) -> Value {
    let list = demo.get("/api/sessions", Some(token)).await.json();
    let list = list.as_array().expect("an array");
    list.iter()
        .find(|s| s["current"] == true)
        .expect("the current session")
        .clone()
}

/// The whole freshness story on the demo started with `env` (a strategy).
async fn stale_sessions_reauthenticate(env: &[(&str, &str)]) {
    let dir = TempDir::new("fresh");
    let age = FRESH_AGE_SECS.to_string();
    let mut env = env.to_vec();
    env.push(("FRESH_AGE_SECS", &age));
    let demo = Demo::start_with(dir.path(), None, &env).await;

    // Just signed in: fresh.
    let mut alice = demo.login_api("alice", "wonderland", "fresh").await;
    let reply = demo.get("/api/account", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["user_id"], "alice");
    let signed_in = rfc3339(&reply.json()["authenticated_at"]);
    let session_id = current(&demo, &alice).await["id"].clone();

    // Past the window: 403 with exactly this body; a browser is sent to re-authenticate.
    tokio::time::sleep(Duration::from_secs(FRESH_AGE_SECS + 1)).await;
    let reply = demo.get("/api/account", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({ "error": "reauthentication required" })
    );
    let reply = demo.get("/account", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(reply.header("location"), Some("/reauth?next=/account"));
    let reply = demo.get("/reauth?next=/account", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains(r#"name="next" value="/account""#));
    // Without a session, both ask for a login.
    assert_eq!(
        demo.get("/api/account", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let reply = demo.get("/account", None).await;
    assert_eq!(reply.header("location"), Some("/login?next=/account"));
    let reply = send(
        demo.request(Method::POST, "/api/reauth", None)
            .json(&json!({})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // A wrong password: 401, still stale; by the form too. Bodies without a password: 4xx.
    let wrong = json!({ "password": "wonderlan" });
    let reply = send(
        demo.request(Method::POST, "/api/reauth", Some(&alice))
            .json(&wrong),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert!(reply.json()["error"].is_string());
    let form = [("password", "wonderlan"), ("next", "/account")];
    let reply = demo.post_form("/reauth", Some(&alice), &form).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert!(reply.body.contains("Wrong password"), "{}", reply.body);
    let reply = send(
        demo.request(Method::POST, "/api/reauth", Some(&alice))
            .json(&json!({})),
    )
    .await;
    assert!(reply.status.is_client_error(), "{}", reply.status);
    let reply = demo.get("/api/account", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);

    // The right one: 200, the same session, fresh again.
    let right = json!({ "password": "wonderland" });
    let reply = send(
        demo.request(Method::POST, "/api/reauth", Some(&alice))
            .json(&right),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.renew(&mut alice);
    assert_eq!(reply.json()["user_id"], "alice");
    assert!(rfc3339(&reply.json()["authenticated_at"]) > signed_in);
    assert_eq!(current(&demo, &alice).await["id"], session_id);
    let reply = demo.get("/api/account", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        demo.get("/account", Some(&alice)).await.status,
        StatusCode::OK
    );

    // The form goes on to `next` when it stays on the site.
    for (next, expected) in [("/account", "/account"), ("//evil.example", "/account")] {
        let form = [("password", "wonderland"), ("next", next)];
        let reply = demo.post_form("/reauth", Some(&alice), &form).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        assert_eq!(reply.header("location"), Some(expected));
        reply.renew(&mut alice);
    }
    assert_eq!(current(&demo, &alice).await["id"], session_id);
}

#[tokio::test]
async fn stale_database_sessions_reauthenticate() {
    stale_sessions_reauthenticate(&[]).await;
}

#[tokio::test]
async fn stale_jwt_sessions_reauthenticate() {
    stale_sessions_reauthenticate(&[("SESSION_STRATEGY", "jwt"), ("JWT_SECRET", DEMO_JWT_SECRET)])
        .await;
}

#[test]
fn the_demo_refuses_a_freshness_window_that_is_not_a_positive_number() {
    for value in ["0", "five minutes", "-1"] {
        let stderr = refused_at_start("FRESH_AGE_SECS", value);
        assert!(stderr.contains("FRESH_AGE_SECS"), "{stderr}");
    }
}
