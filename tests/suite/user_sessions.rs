//! Changes that reach live sessions (issue 17): `Sessions::update_user_sessions` patches the
//! data of every live session of a user, and each session sees it on its next request. On
//! every store, database sessions with and without the cache; across instances (the cache's
//! copies dropped through the change notices) in `instances::*::role_change_*`. JWT sessions
//! on every store that keeps their revocation list: a browser's token is re-issued with the
//! change on its next request, a bearer token from before it stops working, and another
//! instance follows within the revocation refresh.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use time::Duration;

use crate::support::{Reply, Setup, TestApp, request, user};

suite!(user_sessions => database, Database; cached, DatabaseCached:
    a_role_change_reaches_every_session_of_the_user_and_no_other,
    a_change_of_the_session_itself_meanwhile_is_not_lost,
    ended_and_expired_sessions_are_not_changed,
);

suite!(user_sessions => jwt, Jwt:
    a_role_change_reissues_browser_tokens_and_ends_older_bearer_tokens,
    changes_apply_in_order_and_a_later_sign_in_keeps_its_own_data,
    a_role_change_reaches_another_instance_within_the_revocation_refresh,
);

/// The role `/me` shows for `token`, and the items it holds.
async fn role_and_items(app: &TestApp, token: &str) -> (String, serde_json::Value) {
    let me = app.call("GET", "/me", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let json = me.json();
    (
        json["role"].as_str().unwrap().to_owned(),
        json["items"].clone(),
    )
}

/// Sets the role of every session of `user` through the admin route; how many changed.
async fn set_role(app: &TestApp, user: &str, role: &str) -> u64 {
    let reply = app
        .call("POST", &format!("/user-role/{user}?role={role}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json().as_u64().unwrap()
}

pub async fn a_role_change_reaches_every_session_of_the_user_and_no_other(t: Setup) {
    let app = app!(t);
    let (alice, bob) = (user(), user());
    let mut devices = Vec::new();
    for _ in 0..3 {
        devices.push(app.login(&alice, "user").await.token().unwrap());
    }
    let bobs = app.login(&bob, "user").await.token().unwrap();
    // One of alice's sessions holds data of its own, which the change must keep.
    let added = app.call("POST", "/items/book", Some(&devices[0])).await;
    assert_eq!(added.status, StatusCode::OK);
    // Every session has been read (and, with the cache, kept) before the change.
    for token in devices.iter().chain([&bobs]) {
        assert_eq!(role_and_items(&app, token).await.0, "user");
        let admin = app.call("GET", "/admin", Some(token)).await;
        assert_eq!(admin.status, StatusCode::FORBIDDEN);
    }

    assert_eq!(set_role(&app, &alice, "admin").await, 3);
    for (i, token) in devices.iter().enumerate() {
        let (role, items) = role_and_items(&app, token).await;
        assert_eq!(role, "admin", "device {i}");
        let want = if i == 0 {
            serde_json::json!(["book"])
        } else {
            serde_json::json!([])
        };
        assert_eq!(items, want, "device {i} kept its own data");
        let admin = app.call("GET", "/admin", Some(token)).await;
        assert_eq!(admin.status, StatusCode::OK, "device {i}");
    }
    assert_eq!(
        role_and_items(&app, &bobs).await.0,
        "user",
        "bob is untouched"
    );
    // The same change again changes nothing; the way back reaches them all again.
    assert_eq!(set_role(&app, &alice, "admin").await, 0);
    assert_eq!(set_role(&app, &alice, "user").await, 3);
    for token in &devices {
        let admin = app.call("GET", "/admin", Some(token)).await;
        assert_eq!(admin.status, StatusCode::FORBIDDEN, "demoted everywhere");
    }
    // A user without sessions: nothing to change.
    assert_eq!(set_role(&app, &user(), "admin").await, 0);
}

pub async fn a_change_of_the_session_itself_meanwhile_is_not_lost(t: Setup) {
    let app = Arc::new(app!(t));
    let alice = user();
    let token = app.login(&alice, "user").await.token().unwrap();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let added = app
                .call("POST", &format!("/items/i{i}"), Some(&token))
                .await;
            assert_eq!(added.status, StatusCode::OK, "{}", added.body);
        }));
    }
    let changer = {
        let (app, alice) = (app.clone(), alice.clone());
        tokio::spawn(async move { set_role(&app, &alice, "admin").await })
    };
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(changer.await.unwrap(), 1);
    let (role, items) = role_and_items(&app, &token).await;
    assert_eq!(role, "admin");
    assert_eq!(
        items.as_array().unwrap().len(),
        12,
        "every item kept: {items}"
    );
}

pub async fn ended_and_expired_sessions_are_not_changed(t: Setup) {
    let app = app!(t);
    let alice = user();
    let ended = app.login(&alice, "user").await.token().unwrap();
    let logout = app.call("POST", "/logout", Some(&ended)).await;
    assert_eq!(logout.status, StatusCode::OK);
    let _old = app.login(&alice, "user").await.token().unwrap();
    // The first lives 7 days; a day before the next expires, a new one starts.
    app.clock.advance(Duration::days(6));
    let live = app.login(&alice, "user").await.token().unwrap();
    app.clock.advance(Duration::days(2));
    assert_eq!(
        set_role(&app, &alice, "admin").await,
        1,
        "only the live one"
    );
    assert_eq!(role_and_items(&app, &live).await.0, "admin");
}

/// `GET /me` with `token` as a bearer token.
async fn me_as_bearer(app: &TestApp, token: &str) -> Reply {
    let mut req = request("GET", "/me", None);
    let bearer = format!("Bearer {token}").parse().unwrap();
    req.headers_mut().insert(header::AUTHORIZATION, bearer);
    app.send(req).await
}

/// `GET /me` with the cookie `token`: the reply and the token to use from now on (the
/// re-issued one, when the reply set one).
async fn me_with_cookie(app: &TestApp, token: &str) -> (Reply, String) {
    let me = app.call("GET", "/me", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let next = me.token().unwrap_or_else(|| token.to_owned());
    (me, next)
}

pub async fn a_role_change_reissues_browser_tokens_and_ends_older_bearer_tokens(t: Setup) {
    let app = app!(t);
    let (alice, bob) = (user(), user());
    let mut devices = Vec::new();
    for _ in 0..2 {
        devices.push(app.login(&alice, "user").await.token().unwrap());
    }
    // One device holds data of its own (a JWT update re-issues the token).
    let added = app.call("POST", "/items/book", Some(&devices[0])).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    devices[0] = added.token().unwrap();
    let api_client = app.login(&alice, "user").await.token().unwrap();
    let bobs = app.login(&bob, "user").await.token().unwrap();
    let mut ids = Vec::new();
    for token in &devices {
        let (me, next) = me_with_cookie(&app, token).await;
        assert_eq!(&next, token, "nothing to re-issue before the change");
        ids.push(me.json()["id"].clone());
    }

    // No token list exists to count: 0, and the change reaches them all the same.
    assert_eq!(set_role(&app, &alice, "admin").await, 0);
    for (i, token) in devices.iter_mut().enumerate() {
        let (me, fresh) = me_with_cookie(&app, token).await;
        assert_ne!(&fresh, token, "device {i}: a new token with the change");
        let json = me.json();
        assert_eq!(
            json["role"], "admin",
            "device {i}: the handler sees it at once"
        );
        assert_eq!(json["id"], ids[i], "device {i}: the same session");
        let items = if i == 0 {
            serde_json::json!(["book"])
        } else {
            serde_json::json!([])
        };
        assert_eq!(json["items"], items, "device {i} kept its own data");
        // The new token carries the change: it is not re-issued again.
        let (again, same) = me_with_cookie(&app, &fresh).await;
        assert_eq!(same, fresh, "device {i}: re-issued once");
        assert_eq!(again.json()["role"], "admin");
        let admin = app.call("GET", "/admin", Some(&fresh)).await;
        assert_eq!(admin.status, StatusCode::OK, "device {i}");
        *token = fresh;
    }
    // A bearer token from before the change is no session any more; one from after is.
    let old = me_as_bearer(&app, &api_client).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{}", old.body);
    let new = me_as_bearer(&app, &devices[1]).await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.body);
    assert_eq!(new.json()["role"], "admin");
    // Bob is untouched, and his token is not re-issued.
    let (bobs_me, bobs_next) = me_with_cookie(&app, &bobs).await;
    assert_eq!(bobs_me.json()["role"], "user");
    assert_eq!(bobs_next, bobs);

    // Demoted: the next request of each device loses the admin page.
    assert_eq!(set_role(&app, &alice, "user").await, 0);
    for token in &devices {
        let admin = app.call("GET", "/admin", Some(token)).await;
        assert_eq!(admin.status, StatusCode::FORBIDDEN, "demoted everywhere");
        let demoted = admin.token().expect("re-issued with the demotion");
        let (me, _) = me_with_cookie(&app, &demoted).await;
        assert_eq!(me.json()["role"], "user");
    }
}

pub async fn changes_apply_in_order_and_a_later_sign_in_keeps_its_own_data(t: Setup) {
    let app = app!(t);
    let alice = user();
    let behind = app.login(&alice, "user").await.token().unwrap();
    // Two changes the token has not seen: the later one wins.
    assert_eq!(set_role(&app, &alice, "admin").await, 0);
    assert_eq!(set_role(&app, &alice, "auditor").await, 0);
    let (me, _) = me_with_cookie(&app, &behind).await;
    assert_eq!(me.json()["role"], "auditor");
    // A sign-in after the changes carries what the application gave it, not the patches.
    let later = app.login(&alice, "user").await.token().unwrap();
    let (me, next) = me_with_cookie(&app, &later).await;
    assert_eq!(me.json()["role"], "user");
    assert_eq!(next, later, "nothing to re-issue");
    // The same holds after the tokens' clock moved on: the change stays until they all expired.
    app.clock.advance(Duration::days(1));
    let (me, _) = me_with_cookie(&app, &behind).await;
    assert_eq!(me.json()["role"], "auditor");
}

pub async fn a_role_change_reaches_another_instance_within_the_revocation_refresh(t: Setup) {
    let app = app!(t);
    let (other, _) = app.second_instance();
    let alice = user();
    let token = app.login(&alice, "user").await.token().unwrap();
    let other_role = |token: String| {
        let other = other.clone();
        async move {
            use tower::ServiceExt;
            let reply = other
                .oneshot(request("GET", "/me", Some(&token)))
                .await
                .unwrap();
            let reply = Reply::read(reply).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            reply.json()["role"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(other_role(token.clone()).await, "user");
    assert_eq!(set_role(&app, &alice, "admin").await, 0);
    let since = std::time::Instant::now();
    while other_role(token.clone()).await != "admin" {
        assert!(
            since.elapsed() < std::time::Duration::from_secs(15),
            "{:?}: the other instance still shows the old role",
            t.backend
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    eprintln!(
        "{:?}: a JWT role change reached another instance after {:?}",
        t.backend,
        since.elapsed()
    );
}
