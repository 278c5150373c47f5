//! Changes that reach live sessions (issue 17): `Sessions::update_user_sessions` patches the
//! data of every live session of a user, and each session sees it on its next request. On
//! every store, database sessions with and without the cache; across instances (the cache's
//! copies dropped through the change notices) in `instances::*::role_change_*`.

use std::sync::Arc;

use axum::http::StatusCode;
use time::Duration;

use crate::support::{Setup, TestApp, user};

suite!(user_sessions => database, Database; cached, DatabaseCached:
    a_role_change_reaches_every_session_of_the_user_and_no_other,
    a_change_of_the_session_itself_meanwhile_is_not_lost,
    ended_and_expired_sessions_are_not_changed,
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
