//! The JWT revocation list's bounds: every instance holds the whole list in memory, and every
//! logout, rotation and data update of a JWT session adds an entry to it. An entry lasts only
//! as long as a token it covers can (not until the session's absolute limit), and the list
//! holds at most `max_revoked_sessions` revoked sessions: when full, it ends more than asked
//! (every session of the user), never less, and refuses what would keep a session going.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Router};
use serde_json::json;
use sessionward::jwt::JwtConfig;
use sessionward::testing::ManualClock;
use sessionward::{Clock, MemoryStore, SessionConfig, SessionLayer, Sessions};
use time::Duration;

use crate::jwt_cases::{me, memory_app, send_to};
use crate::support::{Held, Reply, START, TestApp, jwt_config, request, user};

/// An app whose revocation list holds one revoked session, already taken by an earlier
/// logout.
async fn app_with_a_full_list() -> TestApp {
    let app = memory_app(jwt_config().max_revoked_sessions(1), |c| c).await;
    let first = app.login(&user(), "user").await.token().unwrap();
    let reply = app.call("POST", "/logout", Some(&first)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    app
}

fn assert_status(reply: &Reply, status: StatusCode, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
}

#[tokio::test]
async fn a_logout_on_a_full_list_ends_every_session_of_the_user_and_no_other() {
    let app = app_with_a_full_list().await;
    let (bob, carol) = (user(), user());
    let bob_here = app.login(&bob, "user").await.token().unwrap();
    let bob_there = app.login(&bob, "user").await.token().unwrap();
    let carols = app.login(&carol, "user").await.token().unwrap();

    let reply = app.call("POST", "/logout", Some(&bob_here)).await;
    assert_status(&reply, StatusCode::OK, "the logout");
    assert!(reply.clears_cookie(), "{:?}", reply.set_cookies());
    let here = me(&app.router, &bob_here).await;
    assert_status(&here, StatusCode::UNAUTHORIZED, "the logged-out token");
    let there = me(&app.router, &bob_there).await;
    assert_status(&there, StatusCode::UNAUTHORIZED, "bob's other session");
    let others = me(&app.router, &carols).await;
    assert_status(&others, StatusCode::OK, "another user's session");

    // Bob signs in again: the user-wide entry covers only what was signed in before it.
    let again = app.login(&bob, "user").await.token().unwrap();
    assert_status(
        &me(&app.router, &again).await,
        StatusCode::OK,
        "a new sign-in",
    );
}

#[tokio::test]
async fn revoking_ones_own_session_on_a_full_list_ends_every_session_of_the_user() {
    let app = app_with_a_full_list().await;
    let bob = user();
    let here = app.login(&bob, "user").await.token().unwrap();
    let there = app.login(&bob, "user").await.token().unwrap();
    let id = me(&app.router, &here).await.json()["id"]
        .as_str()
        .expect("the session id")
        .to_owned();
    let reply = app
        .call("DELETE", &format!("/sessions/{id}"), Some(&here))
        .await;
    assert_status(&reply, StatusCode::NO_CONTENT, "the revocation");
    for token in [&here, &there] {
        let reply = me(&app.router, token).await;
        assert_status(&reply, StatusCode::UNAUTHORIZED, "a session of the user");
    }
}

#[tokio::test]
async fn a_rotation_or_data_update_on_a_full_list_is_refused_and_changes_nothing() {
    let app = app_with_a_full_list().await;
    let token = app.login(&user(), "user").await.token().unwrap();
    for path in ["/rotate", "/items/more"] {
        let reply = app.call("POST", path, Some(&token)).await;
        assert_status(&reply, StatusCode::SERVICE_UNAVAILABLE, path);
        assert!(reply.set_cookies().is_empty(), "{:?}", reply.set_cookies());
        let still = me(&app.router, &token).await;
        assert_status(&still, StatusCode::OK, "the session after the refusal");
        assert_eq!(still.json()["items"], json!([]), "{}", still.body);
    }
}

#[tokio::test]
async fn a_login_over_a_session_on_a_full_list_ends_the_old_one_and_keeps_the_new_one() {
    let app = app_with_a_full_list().await;
    let erin = user();
    let old = app.login(&erin, "user").await.token().unwrap();
    let reply = app
        .call("POST", &format!("/login/{erin}?role=user"), Some(&old))
        .await;
    assert_status(&reply, StatusCode::OK, "the login");
    let new = reply.token().expect("a new session cookie");
    assert_status(&me(&app.router, &new).await, StatusCode::OK, "the new one");
    let gone = me(&app.router, &old).await;
    assert_status(&gone, StatusCode::UNAUTHORIZED, "the replaced one");
}

/// A revoked session's entry lasts as long as a token of the session can (the token lifetime,
/// `max_age`, after the revocation, plus the time other instances may take to read it), not
/// until the session's absolute limit (three times as long by default): past that, the list
/// has room again.
#[tokio::test]
async fn a_revoked_sessions_entry_goes_once_its_tokens_have_expired() {
    let app = app_with_a_full_list().await;
    // Past every token of the session logged out (max_age 30 days, and the list's few
    // minutes), well before its absolute limit (90 days).
    app.clock.advance(Duration::days(31));
    let bob = user();
    let here = app.login(&bob, "user").await.token().unwrap();
    let there = app.login(&bob, "user").await.token().unwrap();
    // A re-authentication reads the store's list first, forgetting what expired.
    let reply = app.call("POST", "/reauth", Some(&there)).await;
    assert_status(&reply, StatusCode::OK, "the re-authentication");
    let there = reply.token().unwrap_or(there);

    let reply = app.call("POST", "/logout", Some(&here)).await;
    assert_status(&reply, StatusCode::OK, "the logout");
    let kept = me(&app.router, &there).await;
    assert_status(
        &kept,
        StatusCode::OK,
        "bob's other session, in a list with room",
    );
}

/// An app whose `POST /slow-refresh` and `POST /slow-update` read their session, then wait for
/// the test before they re-issue the token or update the data; with `POST /login`,
/// `POST /logout` and `POST /revoke-all` (the session's user), and the clock that drives it.
fn slow_refresh_app() -> (Router, ManualClock, Arc<Held>) {
    /// Reads the session, tells the test, and waits for it.
    async fn read_then_wait(gate: &Held, sessions: &Sessions) -> Result<(), sessionward::Error> {
        sessions.current::<serde_json::Value>().await?;
        gate.entered.notify_one();
        gate.release.notified().await;
        Ok(())
    }
    async fn slow_refresh(
        Extension(gate): Extension<Arc<Held>>,
        sessions: Sessions,
    ) -> Result<String, sessionward::Error> {
        read_then_wait(&gate, &sessions).await?;
        Ok(sessions.refresh().await?.token().to_owned())
    }
    async fn slow_update(
        Extension(gate): Extension<Arc<Held>>,
        sessions: Sessions,
    ) -> Result<String, sessionward::Error> {
        read_then_wait(&gate, &sessions).await?;
        sessions.update(&json!({ "changed": true })).await?;
        Ok("updated".into())
    }
    async fn revoke_all(sessions: Sessions) -> Result<String, sessionward::Error> {
        let session = sessions.current::<serde_json::Value>().await?;
        let session = session.ok_or(sessionward::Error::Unauthenticated)?;
        Ok(sessions.revoke_all(session.user_id()).await?.to_string())
    }
    async fn login(sessions: Sessions) -> Result<String, sessionward::Error> {
        sessions.login(user(), &json!({})).await?;
        Ok("in".into())
    }
    async fn logout(sessions: Sessions) -> Result<String, sessionward::Error> {
        Ok(sessions.logout().await?.to_string())
    }
    let (clock, control) = Clock::manual(START);
    let layer = SessionLayer::jwt(
        jwt_config(),
        MemoryStore::new(),
        SessionConfig::default().clock(clock),
    );
    let gate = Arc::new(Held::default());
    let router = Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/slow-refresh", post(slow_refresh))
        .route("/slow-update", post(slow_update))
        .route("/revoke-all", post(revoke_all))
        .layer(layer)
        .layer(Extension(gate.clone()));
    (router, control, gate)
}

/// Logs in, sends `POST /slow-refresh` with the new session, runs `meanwhile` (given the
/// router, the clock and the token) once that request has read its session, then lets it
/// re-issue the token; the request's reply.
async fn refresh_late(meanwhile: impl AsyncFnOnce(&Router, &ManualClock, &str)) -> Reply {
    late("/slow-refresh", meanwhile).await
}

/// As [`refresh_late`], for the slow route `path` (`/slow-update`: a data update).
async fn late(path: &str, meanwhile: impl AsyncFnOnce(&Router, &ManualClock, &str)) -> Reply {
    let (router, control, gate) = slow_refresh_app();
    let token = send_to(&router, request("POST", "/login", None))
        .await
        .token()
        .expect("a session cookie");
    let slow = tokio::spawn({
        let (router, token, path) = (router.clone(), token.clone(), path.to_owned());
        async move { send_to(&router, request("POST", &path, Some(&token))).await }
    });
    gate.entered.notified().await;
    meanwhile(&router, &control, &token).await;
    gate.release.notify_one();
    slow.await.expect("the slow request")
}

/// The late re-issue found no session, and handed out no token.
fn assert_not_reissued(reply: &Reply) {
    assert_status(reply, StatusCode::UNAUTHORIZED, "the late re-issue");
    assert!(
        reply.token().is_none() || reply.clears_cookie(),
        "{:?}",
        reply.set_cookies()
    );
}

/// A request whose session is revoked (by another request) while it runs never gets a new
/// token for it: the list keeps an entry only as long as a token issued before it was read
/// can live, so a token re-issued later would outlive it.
#[tokio::test]
async fn a_session_revoked_while_its_request_runs_is_never_reissued() {
    let reply = refresh_late(async |router, _, token| {
        let reply = send_to(router, request("POST", "/logout", Some(token))).await;
        assert_status(&reply, StatusCode::OK, "the logout");
    })
    .await;
    assert_not_reissued(&reply);
}

/// A session whose token expired while a request (or a task it started) held it is never
/// re-issued: an expired session is over, and no revocation entry need cover it any more.
#[tokio::test]
async fn a_session_that_expired_while_its_request_ran_is_never_reissued() {
    let reply = refresh_late(async |_, clock, _| clock.advance(Duration::days(31))).await;
    assert_not_reissued(&reply);
}

/// One user's share of the list is a hundredth of it: an account looping on rotations (or
/// updates, or logins and logouts) fills its own share, and everyone else goes on as before.
#[tokio::test]
async fn one_user_fills_only_their_own_share_of_the_list() {
    let app = memory_app(jwt_config().max_revoked_sessions(200), |c| c).await;
    let (mallory, bob) = (user(), user());
    let mut token = app.login(&mallory, "user").await.token().unwrap();
    let bobs = app.login(&bob, "user").await.token().unwrap();
    for _ in 0..2 {
        let reply = app.call("POST", "/rotate", Some(&token)).await;
        assert_status(
            &reply,
            StatusCode::NO_CONTENT,
            "a rotation within the share",
        );
        token = reply.token().expect("the rotated cookie");
    }
    let reply = app.call("POST", "/rotate", Some(&token)).await;
    assert_status(
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "a rotation past the share",
    );
    assert_status(
        &me(&app.router, &token).await,
        StatusCode::OK,
        "her session",
    );
    let reply = app.call("POST", "/rotate", Some(&bobs)).await;
    assert_status(&reply, StatusCode::NO_CONTENT, "another user's rotation");
}

/// A token lives at most the configured window after its issue: one issued for 30 days
/// before `max_age` was lowered to a day expires a day after its issue (a revocation's entry,
/// kept a window long, outlives it).
#[tokio::test]
async fn a_lower_max_age_applies_to_the_tokens_already_issued() {
    let store = MemoryStore::new();
    let (clock, control) = Clock::manual(START);
    let before = SessionLayer::jwt(
        jwt_config(),
        store.clone(),
        SessionConfig::default().clock(clock.clone()),
    );
    let after = SessionLayer::jwt(
        jwt_config(),
        store,
        SessionConfig::default()
            .clock(clock)
            .max_age(Duration::days(1))
            .update_age(Duration::hours(1)),
    );
    let (before, after) = (
        crate::support::router(before),
        crate::support::router(after),
    );
    let token = send_to(&before, request("POST", "/login/ann?role=user", None))
        .await
        .token()
        .expect("a session cookie");
    assert_status(&me(&after, &token).await, StatusCode::OK, "within a day");
    control.advance(Duration::days(2));
    assert_status(
        &me(&before, &token).await,
        StatusCode::OK,
        "30 days where it was issued",
    );
    let reply = me(&after, &token).await;
    assert_status(
        &reply,
        StatusCode::UNAUTHORIZED,
        "two days on, with max_age one day",
    );
}

/// An update whose user's sessions all ended while it ran finds no session (401), not a
/// concurrent update of its own (409).
#[tokio::test]
async fn an_update_whose_users_sessions_all_ended_meanwhile_is_no_session() {
    let reply = late("/slow-update", async |router, _, token| {
        let reply = send_to(router, request("POST", "/revoke-all", Some(token))).await;
        assert_status(&reply, StatusCode::OK, "the revoke-all");
    })
    .await;
    assert_status(&reply, StatusCode::UNAUTHORIZED, "the late update");
}

/// Both limits are at least 1; a user's share is a hundredth of the list unless set.
#[test]
fn the_limits_are_at_least_one_and_a_share_is_a_hundredth_by_default() {
    let shown = |config: JwtConfig| format!("{config:?}");
    let zero = shown(jwt_config().max_revoked_sessions(0));
    assert!(zero.contains("max_revoked_sessions: 1,"), "{zero}");
    assert!(zero.contains("max_revoked_sessions_per_user: 1"), "{zero}");
    let derived = shown(jwt_config().max_revoked_sessions(200));
    assert!(
        derived.contains("max_revoked_sessions_per_user: 2"),
        "{derived}"
    );
    let set = shown(jwt_config().max_revoked_sessions_per_user(0));
    assert!(set.contains("max_revoked_sessions_per_user: 1"), "{set}");
    let set = shown(jwt_config().max_revoked_sessions_per_user(7));
    assert!(set.contains("max_revoked_sessions_per_user: 7"), "{set}");
}
