//! The demo's role changes (issue 17): `POST /api/admin/users/{user_id}/role` and the admin
//! page's form reach the user's live sessions on their next request.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{DEMO_JWT_SECRET, Demo, Reply, TempDir, send};

/// Whether the demo can count the sessions a role change reached.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Sessions {
    /// Database sessions: every live session of the user is counted.
    Counted,
    /// JWT sessions: tokens cannot be counted (the answer is 0), and a bearer token issued
    /// before the change is refused.
    Uncounted,
}

/// `POST /api/admin/users/{user}/role` with `body`, as the holder of the cookie `token`.
async fn set_role(demo: &Demo, token: &mut String, user: &str, body: Value) -> Reply {
    let path = format!("/api/admin/users/{user}/role");
    let reply = send(demo.request(Method::POST, &path, Some(token)).json(&body)).await;
    reply.renew(token);
    reply
}

/// Asserts the role `/api/me` shows to the cookie `token`, and the status of `/admin`.
async fn assert_role(demo: &Demo, token: &mut String, role: &str, admin_page: StatusCode) {
    let me = demo.get("/api/me", Some(token)).await;
    me.renew(token);
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["role"], role, "{}", me.body);
    let page = demo.get("/admin", Some(token)).await;
    page.renew(token);
    assert_eq!(page.status, admin_page, "/admin as a(n) {role}");
}

/// A bearer token for alice, from `POST /api/token`.
async fn alice_bearer(demo: &Demo) -> String {
    let body = json!({ "username": "alice", "password": "wonderland" });
    let reply = send(demo.request(Method::POST, "/api/token", None).json(&body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = reply.json()["token"].as_str().expect("a token").to_owned();
    crate::support::logs::register(&token);
    token
}

/// Alice's signed-in session gains `/admin` when the admin makes her an admin, and loses it
/// when he makes her a user again, each on its next request; a new login gets the new role.
pub(super) async fn role_changes_reach_live_sessions(demo: &Demo, sessions: Sessions) {
    let mut alice = demo.login_api("alice", "wonderland", "roles-alice").await;
    let mut admin = demo
        .login_api("admin", "admin-password", "roles-admin")
        .await;
    assert_role(demo, &mut alice, "user", StatusCode::FORBIDDEN).await;

    for (role, admin_page) in [("admin", StatusCode::OK), ("user", StatusCode::FORBIDDEN)] {
        let bearer = alice_bearer(demo).await;
        let reply = set_role(demo, &mut admin, "alice", json!({ "role": role })).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let updated = reply.json()["sessions_updated"]
            .as_u64()
            .unwrap_or_else(|| panic!("sessions_updated in {}", reply.body));
        match sessions {
            Sessions::Counted => assert!(updated >= 2, "alice's cookie and bearer: {updated}"),
            Sessions::Uncounted => assert_eq!(updated, 0, "JWT sessions cannot be counted"),
        }
        assert_role(demo, &mut alice, role, admin_page).await;

        // An API client of alice's: its token sees the change (database), or is refused (JWT).
        let me = send(
            demo.request(Method::GET, "/api/me", None)
                .bearer_auth(&bearer),
        )
        .await;
        match sessions {
            Sessions::Counted => {
                assert_eq!(me.status, StatusCode::OK, "{}", me.body);
                assert_eq!(me.json()["role"], role);
            }
            Sessions::Uncounted => assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.body),
        }

        // A new sign-in gets the new role from the user table.
        let mut again = demo.login_api("alice", "wonderland", "roles-again").await;
        assert_role(demo, &mut again, role, admin_page).await;
    }
}

#[tokio::test]
async fn role_changes_reach_live_database_sessions() {
    let dir = TempDir::new("roles");
    let demo = Demo::start(dir.path(), None).await;
    role_changes_reach_live_sessions(&demo, Sessions::Counted).await;
}

/// JWT sessions: the change reaches the live token through the revocation list's data change.
#[tokio::test]
async fn role_changes_reach_live_jwt_sessions() {
    let dir = TempDir::new("roles-jwt");
    let env = [("SESSION_STRATEGY", "jwt"), ("JWT_SECRET", DEMO_JWT_SECRET)];
    let demo = Demo::start_with(dir.path(), None, &env).await;
    role_changes_reach_live_sessions(&demo, Sessions::Uncounted).await;
}

#[tokio::test]
async fn only_admins_change_roles_and_bad_requests_are_client_errors() {
    let dir = TempDir::new("roles-refused");
    let demo = Demo::start(dir.path(), None).await;
    let mut alice = demo.login_api("alice", "wonderland", "alice").await;
    let mut admin = demo.login_api("admin", "admin-password", "admin").await;
    let promote = json!({ "role": "admin" });

    // Not an admin: 403; no session: 401. Nothing changed.
    let reply = set_role(&demo, &mut alice, "alice", promote.clone()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(reply.json()["error"].is_string());
    let path = "/api/admin/users/alice/role";
    let reply = send(demo.request(Method::POST, path, None).json(&promote)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    let reply = demo
        .post_form(
            "/admin/users/alice/role",
            Some(&alice),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_role(&demo, &mut alice, "user", StatusCode::FORBIDDEN).await;

    // An unknown user is 404; a role that is no role, or no JSON, a client error: all JSON.
    let reply = set_role(&demo, &mut admin, "mallory", promote.clone()).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    assert!(reply.json()["error"].is_string());
    for body in [json!({ "role": "root" }), json!({ "role": 1 }), json!({})] {
        let reply = set_role(&demo, &mut admin, "alice", body.clone()).await;
        assert!(reply.status.is_client_error(), "{body}: {}", reply.status);
        assert!(reply.json()["error"].is_string(), "{body}: {}", reply.body);
    }
    let request = demo.request(Method::POST, path, Some(&admin));
    let reply = send(request.header("content-type", "application/json").body("{")).await;
    assert!(reply.status.is_client_error(), "{}", reply.status);
    assert_role(&demo, &mut alice, "user", StatusCode::FORBIDDEN).await;

    // The admin page's form: one per user; a change goes back to the page.
    let page = demo.get("/admin", Some(&admin)).await;
    assert!(
        page.body.contains(r#"action="/admin/users/alice/role""#),
        "{}",
        page.body
    );
    let form = |role| [("role", role)];
    let reply = demo
        .post_form("/admin/users/alice/role", Some(&admin), &form("admin"))
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(reply.header("location"), Some("/admin"));
    assert_role(&demo, &mut alice, "admin", StatusCode::OK).await;
    let reply = demo
        .post_form("/admin/users/alice/role", Some(&admin), &form("root"))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let reply = demo
        .post_form("/admin/users/mallory/role", Some(&admin), &form("user"))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    assert_role(&demo, &mut alice, "admin", StatusCode::OK).await;
}
