//! JWT edges (issue 13, item 4): no token is signed for a bearer client that cannot receive it,
//! every operation that issues a token hands it to a bearer client, `iat` and `auth_time` are
//! never in the future, `update` ends the older tokens of its session, and a token too large
//! to come back is refused when it is issued.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use sessionward::jwt::{JwtConfig, TokenIssue};
use sessionward::testing::ManualClock;
use sessionward::{
    Clock, IssuedToken, MemoryStore, Session, SessionConfig, SessionLayer, Sessions,
};
use time::Duration;

use crate::jwt_cases::{
    UPDATE_AGE, bearer, me, memory_app, part, pyjwt_available, run_pyjwt, send_to,
};
use crate::support::{
    Data, JWT_ISSUER, JWT_KID, JWT_SECRET, Reply, START, Setup, jwt_config, logs, request, user,
};

suite!(jwt_edges => every_store, Jwt:
    update_ends_the_older_tokens_of_the_same_session,
);

// ---------------------------------------------------------------------------------------------
// An app whose handlers hand every issued token back in the body, as an API does
// ---------------------------------------------------------------------------------------------

#[derive(serde::Deserialize)]
struct Size {
    #[serde(default)]
    bytes: usize,
}

fn data_of(bytes: usize) -> Data {
    Data {
        role: "x".repeat(bytes.max(1)),
        items: vec![],
    }
}

type Answer = Result<Json<Value>, sessionward::Error>;

/// `{"token": ...}`: the token a bearer client holds from now on, `null` when it is unchanged.
fn handed(issued: Option<IssuedToken>) -> Json<Value> {
    let token = issued.map(|i| {
        logs::register(i.token());
        i.token().to_owned()
    });
    Json(json!({ "token": token }))
}

async fn login_token(sessions: Sessions, Path(user): Path<String>, size: Query<Size>) -> Answer {
    let issued = sessions.login_token(user, &data_of(size.bytes)).await?;
    Ok(handed(Some(issued)))
}

async fn api_me(session: Session<Data>) -> Json<Value> {
    Json(json!({ "id": session.id(), "role": session.role, "items": session.items }))
}

async fn api_refresh(sessions: Sessions) -> Answer {
    Ok(handed(Some(sessions.refresh().await?)))
}

async fn api_rotate(sessions: Sessions) -> Answer {
    Ok(handed(Some(sessions.rotate().await?)))
}

async fn api_update(
    sessions: Sessions,
    session: Session<Data>,
    Path(role): Path<String>,
) -> Answer {
    let mut data = session.into_data();
    data.role = role;
    sessions.update(&data).await?;
    Ok(handed(sessions.issued_token().await))
}

async fn api_modify(sessions: Sessions, Path(item): Path<String>) -> Answer {
    sessions
        .modify(|d: &mut Data| d.items.push(item.clone()))
        .await?;
    Ok(handed(sessions.issued_token().await))
}

async fn api_revoke_others(sessions: Sessions) -> Answer {
    sessions.revoke_others().await?;
    Ok(handed(sessions.issued_token().await))
}

/// The API app on a memory store, with a manual clock at `START`.
fn api_app(jwt: JwtConfig) -> (Router, ManualClock) {
    let (clock, control) = Clock::manual(START);
    let layer = SessionLayer::jwt(
        jwt,
        MemoryStore::new(),
        SessionConfig::default().clock(clock),
    );
    let router = Router::new()
        .route("/login-token/{user}", post(login_token))
        .route("/me", get(api_me))
        .route("/refresh", post(api_refresh))
        .route("/rotate", post(api_rotate))
        .route("/update/{role}", post(api_update))
        .route("/modify/{item}", post(api_modify))
        .route("/revoke-others", post(api_revoke_others))
        .layer(layer);
    (router, control)
}

/// The token in an API reply's body.
fn token_in(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {}", reply.body))
        .to_owned()
}

async fn api(router: &Router, method: &str, path: &str, token: &str) -> Reply {
    send_to(router, bearer(method, path, token)).await
}

// ---------------------------------------------------------------------------------------------
// 1. Bearer clients: nothing signed on the request path, new tokens as return values
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_bearer_request_past_update_age_signs_nothing_and_survives_a_failing_hook() {
    let calls = Arc::new(AtomicUsize::new(0));
    let failing = Arc::new(AtomicBool::new(false));
    let jwt = jwt_config().on_issue({
        let (calls, failing) = (calls.clone(), failing.clone());
        move |issue: TokenIssue<Data>| {
            calls.fetch_add(1, Ordering::SeqCst);
            let fail = failing.load(Ordering::SeqCst);
            async move {
                if fail {
                    Err(sessionward::Error::Unsupported("the role database is down"))
                } else {
                    Ok(issue.data)
                }
            }
        }
    });
    let app = memory_app(jwt, |c| c).await;
    let token = app.login(&user(), "user").await.token().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "signed in");

    app.clock.advance(UPDATE_AGE + Duration::minutes(1));
    failing.store(true, Ordering::SeqCst);
    for attempt in 0..3 {
        let reply = send_to(&app.router, bearer("GET", "/me", &token)).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "attempt {attempt}: {}",
            reply.body
        );
        assert!(reply.set_cookies().is_empty(), "attempt {attempt}");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "no token is signed for a bearer client on the request path"
    );

    // A cookie client past update_age still gets its sliding re-issue.
    failing.store(false, Ordering::SeqCst);
    let slid = me(&app.router, &token).await;
    assert_eq!(slid.status, StatusCode::OK);
    let reissued = slid.token().expect("a cookie past update_age is re-issued");
    assert_ne!(reissued, token);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn refresh_rotate_update_modify_and_revoke_others_hand_a_bearer_client_its_new_token() {
    let (router, clock) = api_app(jwt_config());
    let first = token_in(
        &send_to(
            &router,
            request("POST", &format!("/login-token/{}", user()), None),
        )
        .await,
    );

    clock.advance(Duration::minutes(1));
    let refreshed = token_in(&api(&router, "POST", "/refresh", &first).await);
    assert!(part(&refreshed, 1)["exp"].as_i64() > part(&first, 1)["exp"].as_i64());

    let rotated = token_in(&api(&router, "POST", "/rotate", &refreshed).await);
    assert_ne!(part(&rotated, 1)["sid"], part(&first, 1)["sid"]);
    assert_eq!(
        api(&router, "GET", "/me", &refreshed).await.status,
        StatusCode::UNAUTHORIZED
    );

    let updated = token_in(&api(&router, "POST", "/update/editor", &rotated).await);
    assert_eq!(
        api(&router, "GET", "/me", &updated).await.json()["role"],
        "editor"
    );

    let modified = token_in(&api(&router, "POST", "/modify/book", &updated).await);
    assert_eq!(
        api(&router, "GET", "/me", &modified).await.json()["items"],
        json!(["book"])
    );

    let kept = token_in(&api(&router, "POST", "/revoke-others", &modified).await);
    let me_json = api(&router, "GET", "/me", &kept).await;
    assert_eq!(me_json.status, StatusCode::OK, "{}", me_json.body);
    assert_eq!(me_json.json()["items"], json!(["book"]));
}

// ---------------------------------------------------------------------------------------------
// 2. `iat` and `auth_time` are never in the future; `leeway` is validated
// ---------------------------------------------------------------------------------------------

/// A NumericDate claim of `token` as seconds (it may carry a fraction).
fn seconds(token: &str, claim: &str) -> f64 {
    part(token, 1)[claim]
        .as_f64()
        .unwrap_or_else(|| panic!("{claim} is a number"))
}

/// `iat` is not after `now`; neither is `auth_time`, but by the microsecond that orders each
/// sign-in after a revocation made at the very same instant (the manual clock never moves on
/// its own, so here they add up to a few; a real clock has moved on by then, see the PyJWT
/// case).
fn assert_not_in_the_future(token: &str, now: f64, what: &str) {
    let iat = seconds(token, "iat");
    assert!(iat <= now, "{what}: iat {iat} is after now {now}");
    let auth_time = seconds(token, "auth_time");
    assert!(
        auth_time <= now + 0.000_01,
        "{what}: auth_time {auth_time} is after now {now}"
    );
    assert!(
        auth_time.floor() <= now,
        "{what}: auth_time in a later second"
    );
}

#[tokio::test]
async fn a_token_issued_in_the_instant_of_a_revocation_is_valid_at_once_with_zero_leeway() {
    let app = memory_app(jwt_config().leeway(Duration::ZERO), |c| c).await;
    let now = START.unix_timestamp() as f64;
    let alice = user();
    let old = app.login(&alice, "user").await.token().unwrap();

    let others = send_to(&app.router, request("POST", "/revoke-others", Some(&old))).await;
    assert_eq!(others.status, StatusCode::OK, "{}", others.body);
    let kept = others.token().expect("the kept session's new token");
    assert_not_in_the_future(&kept, now, "kept across revoke-others");
    let reply = me(&app.router, &kept).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the kept token works at once: {}",
        reply.body
    );
    assert_eq!(
        me(&app.router, &old).await.status,
        StatusCode::UNAUTHORIZED,
        "signed in before it"
    );

    let again = app.login(&alice, "user").await.token().unwrap();
    assert_not_in_the_future(&again, now, "signed in after the revocation");
    assert_eq!(me(&app.router, &again).await.status, StatusCode::OK);

    // Revoke-all in that same instant still covers every token signed in up to it.
    let all = send_to(
        &app.router,
        request("POST", &format!("/revoke-all/{alice}"), None),
    )
    .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    for (what, token) in [("kept", &kept), ("signed in again", &again)] {
        assert_eq!(
            me(&app.router, token).await.status,
            StatusCode::UNAUTHORIZED,
            "{what}"
        );
    }
    let after = app.login(&alice, "user").await.token().unwrap();
    assert_not_in_the_future(&after, now, "signed in after revoke-all");
    assert_eq!(me(&app.router, &after).await.status, StatusCode::OK);
}

#[tokio::test]
async fn pyjwt_with_zero_leeway_accepts_a_token_issued_right_after_revoke_others() {
    if !pyjwt_available() {
        return;
    }
    let app = memory_app(jwt_config(), |c| c.clock(Clock::system())).await;
    // Start early in a second, so that PyJWT reads its clock within the same second.
    loop {
        let millis = time::OffsetDateTime::now_utc().millisecond();
        if millis < 50 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let old = app.login(&user(), "user").await.token().unwrap();
    let kept = send_to(&app.router, request("POST", "/revoke-others", Some(&old)))
        .await
        .token()
        .expect("re-issued");
    let secret = std::str::from_utf8(JWT_SECRET).unwrap();
    let py = run_pyjwt(
        &kept,
        &[
            ("SW_ALG", "HS256"),
            ("SW_AUD", JWT_ISSUER),
            ("SW_KID", JWT_KID),
            ("SW_SUB", "py-user"),
            ("SW_VERIFY_KEY", secret),
            ("SW_SIGN_KEY", secret),
        ],
    );
    assert_eq!(py["claims"]["sid"], part(&kept, 1)["sid"]);
}

#[test]
fn leeway_outside_whole_seconds_from_0_to_300_fails_at_start_up() {
    for ok in [
        Duration::ZERO,
        Duration::seconds(30),
        Duration::seconds(300),
    ] {
        let _ = SessionLayer::jwt(
            jwt_config().leeway(ok),
            MemoryStore::new(),
            SessionConfig::default(),
        );
    }
    for bad in [
        Duration::seconds(-1),
        Duration::seconds(301),
        Duration::milliseconds(500),
    ] {
        let built = std::panic::catch_unwind(|| {
            SessionLayer::jwt(
                jwt_config().leeway(bad),
                MemoryStore::new(),
                SessionConfig::default(),
            )
        });
        let message = built
            .err()
            .unwrap_or_else(|| panic!("leeway {bad} was accepted"))
            .downcast::<String>()
            .map(|m| *m)
            .unwrap_or_default();
        assert!(
            message.starts_with("sessionward:") && message.contains("leeway"),
            "{bad}: {message}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3. `update` ends the older tokens of the same session
// ---------------------------------------------------------------------------------------------

pub async fn update_ends_the_older_tokens_of_the_same_session(t: Setup) {
    let app = app!(t);
    let first = app.login(&user(), "user").await.token().unwrap();
    app.clock.advance(UPDATE_AGE + Duration::minutes(1));
    let slid = me(&app.router, &first).await.token().expect("re-issued");

    let added = send_to(&app.router, request("POST", "/items/x", Some(&slid))).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let updated = added.token().expect("an update re-issues");
    assert_eq!(
        me(&app.router, &updated).await.json()["items"],
        json!(["x"])
    );
    for (what, token) in [("signed in", &first), ("slid", &slid)] {
        let replay = me(&app.router, token).await;
        assert_eq!(
            replay.status,
            StatusCode::UNAUTHORIZED,
            "the {what} token after an update"
        );
        let api = send_to(&app.router, bearer("GET", "/me", token)).await;
        assert_eq!(
            api.status,
            StatusCode::UNAUTHORIZED,
            "the {what} token as bearer"
        );
    }

    // An update asked for by a bearer request ends the token it came with the same way.
    let again = send_to(&app.router, bearer("POST", "/items/y", &updated)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let replay = send_to(&app.router, bearer("GET", "/me", &updated)).await;
    assert_eq!(
        replay.status,
        StatusCode::UNAUTHORIZED,
        "the token before a bearer update"
    );
}

#[tokio::test]
async fn a_bearer_update_hands_out_the_only_token_that_still_works() {
    let (router, _clock) = api_app(jwt_config());
    let first = token_in(
        &send_to(
            &router,
            request("POST", &format!("/login-token/{}", user()), None),
        )
        .await,
    );
    let updated = token_in(&api(&router, "POST", "/update/viewer", &first).await);
    assert_eq!(
        api(&router, "GET", "/me", &first).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api(&router, "GET", "/me", &updated).await.json()["role"],
        "viewer"
    );
}

#[tokio::test]
async fn two_updates_racing_from_one_token_make_one_successor_and_one_conflict() {
    let app = memory_app(jwt_config(), |c| c).await;
    let token = app.login(&user(), "user").await.token().unwrap();
    // Both requests have read the session before either writes (the route waits for both).
    let (a, b) = tokio::join!(
        send_to(&app.router, bearer("POST", "/race-update/a", &token)),
        send_to(&app.router, bearer("POST", "/race-update/b", &token))
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::NO_CONTENT, StatusCode::CONFLICT],
        "{} / {}",
        a.body,
        b.body
    );
    assert_eq!(
        me(&app.router, &token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// A request that read its session just before a revoke-all of its user, and refreshes it just
/// after, must not get a token that escapes the revocation: a re-issue keeps the sign-in time
/// (it used to be dated after the user's revocations, as only a new sign-in may be).
#[tokio::test]
async fn a_refresh_racing_a_revoke_all_never_escapes_the_revocation() {
    let (clock, _control) = Clock::manual(START);
    // The handler meets the test twice: once it has read its session, and once the test has
    // revoked every session of the user.
    let (read, revoked) = (
        Arc::new(tokio::sync::Barrier::new(2)),
        Arc::new(tokio::sync::Barrier::new(2)),
    );
    let (has_read, was_revoked) = (read.clone(), revoked.clone());
    let router = Router::new()
        .route("/login-token/{user}", post(login_token))
        .route("/me", get(api_me))
        .route(
            "/slow-refresh",
            post(
                move |sessions: Sessions, session: Session<Data>| async move {
                    let _ = session;
                    has_read.wait().await;
                    was_revoked.wait().await;
                    Ok::<_, sessionward::Error>(handed(Some(sessions.refresh().await?)))
                },
            ),
        )
        .route(
            "/revoke-all/{user}",
            post(|sessions: Sessions, Path(user): Path<String>| async move {
                Ok::<_, sessionward::Error>(Json(json!(sessions.revoke_all(&user).await?)))
            }),
        )
        .layer(SessionLayer::jwt(
            jwt_config(),
            MemoryStore::new(),
            SessionConfig::default().clock(clock),
        ));
    let who = user();
    let token = token_in(
        &send_to(
            &router,
            request("POST", &format!("/login-token/{who}"), None),
        )
        .await,
    );

    let refreshing = tokio::spawn({
        let router = router.clone();
        let token = token.clone();
        async move { api(&router, "POST", "/slow-refresh", &token).await }
    });
    read.wait().await;
    let reply = send_to(
        &router,
        request("POST", &format!("/revoke-all/{who}"), None),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    revoked.wait().await;
    let refreshed = refreshing.await.expect("the refresh request");
    if refreshed.status == StatusCode::OK {
        let successor = token_in(&refreshed);
        assert_eq!(
            api(&router, "GET", "/me", &successor).await.status,
            StatusCode::UNAUTHORIZED,
            "the token refreshed across a revoke-all escaped it"
        );
    }
    assert_eq!(
        api(&router, "GET", "/me", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

// ---------------------------------------------------------------------------------------------
// 4. A token too large to come back is refused when it is issued
// ---------------------------------------------------------------------------------------------

fn assert_too_large(reply: &Reply, limit: usize, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{what}: {}",
        reply.body
    );
    let message = reply.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains(&limit.to_string()),
        "{what}: the message names the limit: {message}"
    );
    assert!(reply.token().is_none(), "{what}: no cookie is set");
}

#[tokio::test]
async fn a_token_larger_than_the_layer_accepts_back_is_refused_at_login() {
    let app = memory_app(jwt_config(), |c| c).await;
    let huge = "x".repeat(9_000);
    let login = send_to(
        &app.router,
        request("POST", &format!("/login/{}?role={huge}", user()), None),
    )
    .await;
    assert_too_large(&login, 8192, "a 9 KB role");

    let (router, _clock) = api_app(jwt_config());
    let path = format!("/login-token/{}?bytes=9000", user());
    assert_too_large(
        &send_to(&router, request("POST", &path, None)).await,
        8192,
        "as a bearer token",
    );
}

#[tokio::test]
async fn a_cookie_over_4096_bytes_is_refused_when_issued_and_a_bearer_token_is_not() {
    let app = memory_app(jwt_config(), |c| c).await;
    let big = "x".repeat(5_000);
    let login = send_to(
        &app.router,
        request("POST", &format!("/login/{}?role={big}", user()), None),
    )
    .await;
    assert_too_large(&login, 4096, "a 5 KB role in a cookie");

    // Growing a cookie session past the limit is refused, and the session is left as it was.
    let token = app.login(&user(), "user").await.token().unwrap();
    // So is a login, from that session, whose token would not fit: the session it came with
    // was not ended for it (it was signed first).
    let relogin = send_to(
        &app.router,
        request(
            "POST",
            &format!("/login/{}?role={big}", user()),
            Some(&token),
        ),
    )
    .await;
    assert_too_large(&relogin, 4096, "a login from a session");
    assert!(
        relogin.set_cookies().is_empty(),
        "{:?}",
        relogin.set_cookies()
    );
    let kept = me(&app.router, &token).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    let grow = send_to(
        &app.router,
        request("POST", &format!("/items/{big}"), Some(&token)),
    )
    .await;
    assert_too_large(&grow, 4096, "an update past the cookie limit");
    let still = me(&app.router, &token).await;
    assert_eq!(still.status, StatusCode::OK, "{}", still.body);
    assert_eq!(still.json()["items"], json!([]));

    // The same size as a bearer token is fine: it comes back in a header, not a cookie.
    let (router, _clock) = api_app(jwt_config());
    let path = format!("/login-token/{}?bytes=5000", user());
    let token = token_in(&send_to(&router, request("POST", &path, None)).await);
    assert!(token.len() > 4096);
    assert_eq!(
        api(&router, "GET", "/me", &token).await.status,
        StatusCode::OK
    );
}

/// A change to every session of a user (`update_user_sessions`) reaches a browser as a
/// re-issued cookie. One whose text alone no cookie could carry is refused when it is made;
/// one that fits alone but not with a session's own data ends that session at its re-issue:
/// no session (401, `Option<Session>` is none, logout has nothing to end) and the cookie
/// cleared, never an error that sticks to the browser until its token expires, and never
/// the data from before the change.
#[tokio::test]
async fn a_user_change_too_large_for_a_cookie_is_refused_or_ends_the_session_that_cannot_carry_it()
{
    let app = memory_app(jwt_config(), |c| c).await;
    let alice = user();
    let token = app.login(&alice, "user").await.token().unwrap();

    // Within a bearer token's limit, but its base64 alone is past a cookie's 4096 bytes.
    let huge = "x".repeat(3_500);
    let refused = app
        .call("POST", &format!("/user-role/{alice}?role={huge}"), None)
        .await;
    assert_too_large(&refused, 4096, "a change no cookie could carry");
    let still = me(&app.router, &token).await;
    assert_eq!(still.status, StatusCode::OK, "{}", still.body);
    assert_eq!(still.json()["role"], "user");
    assert!(still.set_cookies().is_empty(), "nothing changed");

    // The session's own 1,600 bytes, then a 1,600-byte role: each fits, together they do not.
    let item = "i".repeat(1_600);
    let grown = app
        .call("POST", &format!("/items/{item}"), Some(&token))
        .await;
    assert_eq!(grown.status, StatusCode::OK, "{}", grown.body);
    let token = grown.token().expect("re-issued with the item");
    let role = "r".repeat(1_600);
    let changed = app
        .call("POST", &format!("/user-role/{alice}?role={role}"), None)
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);

    let ended = me(&app.router, &token).await;
    assert_eq!(ended.status, StatusCode::UNAUTHORIZED, "{}", ended.body);
    assert!(ended.clears_cookie(), "{:?}", ended.set_cookies());
    let maybe = app.call("GET", "/maybe", Some(&token)).await;
    assert_eq!(
        (maybe.status, maybe.body.as_str()),
        (StatusCode::OK, "anonymous")
    );
    assert!(maybe.clears_cookie(), "{:?}", maybe.set_cookies());
    let logout = app.call("POST", "/logout", Some(&token)).await;
    assert_eq!(logout.status, StatusCode::OK, "{}", logout.body);
    assert_eq!(logout.json(), json!(false), "no session to end");
    assert!(logout.clears_cookie(), "{:?}", logout.set_cookies());

    // Signing in again works, with the change.
    let again = app.login(&alice, "user").await.token().unwrap();
    assert_eq!(me(&app.router, &again).await.status, StatusCode::OK);
}

/// The issue callback ends a session with `Error::Unauthenticated` (the user was deleted or
/// banned in the application's database): at a browser's sliding re-issue that request has no
/// session and the cookie is cleared, on every route, logout included. Any other error of the
/// callback (its database is down) is that request's answer, and the cookie stays for the next
/// request to try again.
#[tokio::test]
async fn an_issue_callback_that_refuses_the_user_ends_the_browser_session_and_clears_its_cookie() {
    let refusal: Arc<std::sync::Mutex<Option<sessionward::Error>>> = Arc::default();
    let jwt = jwt_config().on_issue({
        let refusal = refusal.clone();
        move |issue: TokenIssue<Data>| {
            let refused = refusal.lock().unwrap().take();
            async move { refused.map_or(Ok(issue.data), Err) }
        }
    });
    let app = memory_app(jwt, |c| c).await;
    let token = app.login(&user(), "user").await.token().unwrap();
    app.clock.advance(UPDATE_AGE + Duration::minutes(1));

    *refusal.lock().unwrap() = Some(sessionward::Error::Unsupported("the role database is down"));
    let failed = me(&app.router, &token).await;
    assert_eq!(
        failed.status,
        StatusCode::NOT_IMPLEMENTED,
        "{}",
        failed.body
    );
    assert!(
        failed.set_cookies().is_empty(),
        "{:?}",
        failed.set_cookies()
    );

    for (method, path) in [("GET", "/me"), ("GET", "/maybe"), ("POST", "/logout")] {
        *refusal.lock().unwrap() = Some(sessionward::Error::Unauthenticated);
        let reply = app.call(method, path, Some(&token)).await;
        let want = match path {
            "/me" => (StatusCode::UNAUTHORIZED, None),
            "/maybe" => (StatusCode::OK, Some("anonymous".to_owned())),
            _ => (StatusCode::OK, Some("false".to_owned())),
        };
        assert_eq!(reply.status, want.0, "{path}: {}", reply.body);
        if let Some(body) = want.1 {
            assert_eq!(reply.body, body, "{path}");
        }
        assert!(reply.clears_cookie(), "{path}: {:?}", reply.set_cookies());
    }
}

/// A change to a user's sessions that names a claim of the token's own (`sub`, `exp`, ...)
/// could never be signed into a browser's token: it is refused when it is made (500, as
/// session data with such a name is at login), and the user's sessions go on as they were,
/// instead of failing every request until the change expired.
#[tokio::test]
async fn a_user_change_naming_a_reserved_claim_is_refused_and_sessions_go_on() {
    let layer = SessionLayer::jwt(
        jwt_config(),
        MemoryStore::new(),
        SessionConfig::default().secure(false),
    );
    let patch = |sessions: Sessions| async move {
        let patch = json!({ "sub": "mallory" });
        sessions
            .update_user_sessions("alice", &patch)
            .await
            .map(Json)
    };
    let role = |session: Session<Data>| async move { session.role.clone() };
    let router = Router::new()
        .route("/patch", post(patch))
        .route("/role", get(role))
        .layer(layer.clone());
    let data = Data {
        role: "user".into(),
        items: vec![],
    };
    let alice = sessionward::testing::SignedIn::cookie(&layer, "alice", &data)
        .await
        .unwrap();

    let refused = send_to(&router, request("POST", "/patch", None)).await;
    assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR);
    let role_request = alice
        .request(axum::http::Request::get("/role"))
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = send_to(&router, role_request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, "user");
}

/// A revocation list entry dated at the end of time (a corrupt row, or an instance whose clock
/// is wildly wrong: the store is input too). A user revocation there made the user's next
/// login panic (`revoked_at + 1 µs` out of range); a data change there dated the next token's
/// data 1970. Now each entry covers what it says (every token of its user), and logins,
/// requests, revoke-all and data changes of those users answer without a panic or a 500.
#[tokio::test]
async fn entries_dated_at_the_end_of_time_cover_their_users_and_panic_nothing() {
    use sessionward::jwt::{Revocation, Revoked};

    let app = memory_app(jwt_config(), |c| c).await;
    let end = time::PrimitiveDateTime::MAX.assume_utc();
    let end = end
        .replace_nanosecond(end.nanosecond() / 1000 * 1000)
        .unwrap();
    let (revoked, changed) = (user(), user());
    for target in [
        Revoked::User(revoked.clone()),
        Revoked::UserData {
            user_id: changed.clone(),
            patch: r#"{"role":"patched"}"#.into(),
        },
    ] {
        let entry = Revocation {
            id: uuid::Uuid::new_v4(),
            target,
            revoked_at: end,
            expires_at: end,
        };
        app.store.revocations.add_revocation(&entry).await.unwrap();
    }
    // Signed in, but no session: a sign-in time after the entry is the last date-time, which
    // the entry covers (and which, as `iat`, is not yet valid either).
    let login = app
        .call("POST", &format!("/login/{revoked}?role=user"), None)
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let token = login.token().expect("a cookie");
    assert_eq!(
        me(&app.router, &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let all = app
        .call("POST", &format!("/revoke-all/{revoked}"), None)
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    // A login after the data change (its data dated after it) is a session.
    let login = app
        .call("POST", &format!("/login/{changed}?role=user"), None)
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let token = login.token().expect("a cookie");
    let reply = me(&app.router, &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let change = app
        .call("POST", &format!("/user-role/{changed}?role=admin"), None)
        .await;
    assert_ne!(
        change.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        change.body
    );
    let all = app
        .call("POST", &format!("/revoke-all/{changed}"), None)
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(
        me(&app.router, &token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// Revoke-others and re-authentication re-issue the current session signed in later. On an
/// instance whose revocation list had not read a revoke-all of the user yet (it reads every
/// `revocation_refresh`), the token was re-issued signed in after that revoke-all, so the new
/// token escaped it on every instance, for good. They now read the store's list first.
#[tokio::test]
async fn a_token_revoked_elsewhere_is_never_reissued_signed_in_later() {
    let slow = || jwt_config().revocation_refresh(std::time::Duration::from_secs(60));
    let app = memory_app(slow(), |c| c).await;
    let (other, _) = app.instance_with(slow());
    let alice = user();
    for path in ["/revoke-others", "/reauth"] {
        let token = app.login(&alice, "user").await.token().unwrap();
        assert_eq!(me(&other, &token).await.status, StatusCode::OK, "{path}");
        let all = send_to(
            &app.router,
            request("POST", &format!("/revoke-all/{alice}"), None),
        )
        .await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.body);
        let reply = send_to(&other, request("POST", path, Some(&token))).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{path}: {}",
            reply.body
        );
        if let Some(reissued) = reply.token() {
            assert_eq!(
                me(&app.router, &reissued).await.status,
                StatusCode::UNAUTHORIZED,
                "{path}: the re-issued token escaped the revoke-all"
            );
        }
    }
}

/// An `absolute_timeout` with a fraction of a second: a token's `abs_exp` is the whole second at
/// or before sign-in + the timeout, which is one second past its whole seconds whenever the two
/// fractions add up to a second or more. Such freshly issued tokens were refused ("lifetime
/// beyond the absolute limit"), one login in ten here.
#[tokio::test]
async fn an_absolute_timeout_with_a_fraction_of_a_second_accepts_every_token_it_issues() {
    let timeout = Duration::days(30) + Duration::milliseconds(900);
    let app = memory_app(jwt_config(), |c| c.absolute_timeout(timeout)).await;
    for step in 0..10 {
        app.clock.advance(Duration::milliseconds(100));
        let token = app.login(&user(), "user").await.token().unwrap();
        let me = crate::jwt_cases::me(&app.router, &token).await;
        assert_eq!(me.status, StatusCode::OK, "step {step}: {}", me.body);
    }
}

/// A revocation is read by the other instances by its date, from a little before each one's
/// previous read: one written long after its date (here a revoke-others whose issue callback
/// took 20 s between dating the revocation and writing it) would never be read there. It is
/// refused instead (503): nothing is revoked, and no token is issued.
#[tokio::test]
async fn a_revocation_written_long_after_its_date_is_refused_not_lost() {
    let clock: Arc<std::sync::Mutex<Option<ManualClock>>> = Arc::default();
    let slow = Arc::new(AtomicBool::new(false));
    let jwt = jwt_config().on_issue({
        let (clock, slow) = (clock.clone(), slow.clone());
        move |issue: TokenIssue<Data>| {
            if slow.load(Ordering::SeqCst)
                && let Some(clock) = clock.lock().unwrap().as_ref()
            {
                clock.advance(Duration::seconds(20));
            }
            async move { Ok(issue.data) }
        }
    });
    let app = memory_app(jwt, |c| c).await;
    *clock.lock().unwrap() = Some(app.clock.clone());
    let alice = user();
    let token = app.login(&alice, "user").await.token().unwrap();
    let other = app.login(&alice, "user").await.token().unwrap();
    slow.store(true, Ordering::SeqCst);
    let reply = send_to(&app.router, request("POST", "/revoke-others", Some(&token))).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert!(reply.token().is_none(), "{:?}", reply.set_cookies());
    slow.store(false, Ordering::SeqCst);
    let still = crate::jwt_cases::me(&app.router, &other).await;
    assert_eq!(
        still.status,
        StatusCode::OK,
        "nothing was revoked: {}",
        still.body
    );
}
