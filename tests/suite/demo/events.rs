//! The demo's session events (issue 17): `GET /api/admin/events?limit=N` and the admin page's
//! list, recorded by the `SessionConfig::events` hook.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{Demo, TempDir, rfc3339, send};

/// The events `/api/admin/events?limit=...` answers the admin with, once it holds `count`
/// (the hook runs on its own task, a moment after the request).
async fn events_once(demo: &Demo, admin: &str, limit: &str, count: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let reply = demo
            .get(&format!("/api/admin/events?limit={limit}"), Some(admin))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let events = reply.json().as_array().expect("an array").clone();
        if events.len() >= count {
            return events;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "fewer than {count} events: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The id `/api/sessions` shows for the session of `token`.
async fn current_id(demo: &Demo, token: &str) -> Value {
    let list = demo.get("/api/sessions", Some(token)).await.json();
    let list = list.as_array().expect("an array");
    let current = list.iter().find(|s| s["current"] == true).expect("current");
    current["id"].clone()
}

#[tokio::test]
async fn admins_read_the_newest_session_events() {
    let dir = TempDir::new("events");
    let demo = Demo::start(dir.path(), None).await;

    let first = demo.login_api("alice", "wonderland", "first").await;
    let first_id = current_id(&demo, &first).await;
    let reply = send(demo.request(Method::POST, "/api/logout", Some(&first))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let admin = demo.login_api("admin", "admin-password", "admin").await;
    let alice = demo.login_api("alice", "wonderland", "second").await;

    // Newest first: alice's second sign-in, the admin's, alice's logout, her first sign-in.
    let events = events_once(&demo, &admin, "5", 4).await;
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["user_id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("created", "alice"),
            ("created", "admin"),
            ("logged_out", "alice"),
            ("created", "alice"),
        ],
        "{events:?}"
    );
    assert_eq!(events[0]["session_id"], current_id(&demo, &alice).await);
    assert_eq!(events[1]["session_id"], current_id(&demo, &admin).await);
    assert_eq!(events[2]["session_id"], first_id);
    assert_eq!(events[3]["session_id"], first_id);
    for pair in events.windows(2) {
        assert!(
            rfc3339(&pair[0]["at"]) >= rfc3339(&pair[1]["at"]),
            "{pair:?}"
        );
    }

    // The limit holds; a limit that is no number is a 400, never a 500.
    assert_eq!(events_once(&demo, &admin, "2", 2).await.len(), 2);
    for limit in ["many", "-1", "1e3"] {
        let reply = demo
            .get(&format!("/api/admin/events?limit={limit}"), Some(&admin))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{limit}");
        assert!(reply.json()["error"].is_string(), "{}", reply.body);
    }

    // Admins only: 403 for alice, 401 without a session.
    let reply = demo.get("/api/admin/events", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    let reply = demo.get("/api/admin/events", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);

    // The admin page lists them.
    let page = demo.get("/admin", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("logged_out"), "{}", page.body);
    let id = events[0]["session_id"].as_str().unwrap();
    assert!(page.body.contains(id), "{}", page.body);
}
