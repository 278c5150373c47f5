//! Session events (issue 17): one hook hears every lifecycle step, in order, with the user,
//! the session and the client; a slow or failing hook never holds up or fails a request.
//! Every case runs on every store, on database sessions (with and without the cache) and JWT.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{StatusCode, header};
use sessionward::{RejectReason, SessionEvent, SessionEventKind, SessionEvents};
use time::Duration as Span;
use uuid::Uuid;

use crate::support::{START, Setup, TestApp, request, user};

suite!(events => database, Database; cached, DatabaseCached; jwt, Jwt:
    every_lifecycle_step_reaches_the_hook_in_order,
    a_stuck_hook_drops_events_and_never_holds_up_a_request,
    a_panicking_hook_loses_its_event_and_the_next_is_delivered,
    a_change_to_every_session_of_a_user_is_a_data_updated_event,
    ending_every_session_of_ones_own_user_is_no_rejection,
);

/// A hook that records every event it hears.
pub(crate) fn recorder() -> (SessionEvents, Arc<Mutex<Vec<SessionEvent>>>) {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let events = SessionEvents::new(move |event| {
        let sink = sink.clone();
        async move { sink.lock().unwrap().push(event) }
    });
    (events, heard)
}

/// Waits (at most 10 s, a hang guard) until the hook has finished `n` events in all.
pub(crate) async fn delivered(events: &SessionEvents, n: u64) {
    for _ in 0..1_000 {
        if events.delivered() + events.failed() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the hook finished {} of {n} events ({events:?})",
        events.delivered()
    );
}

/// Waits until the hook has finished as many events as `expected` holds, then checks that it
/// heard exactly those (kind and session), in order.
async fn assert_heard(
    events: &SessionEvents,
    heard: &Mutex<Vec<SessionEvent>>,
    expected: &[(SessionEventKind, Option<Uuid>)],
) {
    delivered(events, expected.len() as u64).await;
    let got: Vec<(SessionEventKind, Option<Uuid>)> = heard
        .lock()
        .unwrap()
        .iter()
        .map(|e| (e.kind, e.session_id))
        .collect();
    assert_eq!(got, expected);
}

/// The session id the request with `token` resolves to.
async fn session_id(app: &TestApp, token: &str) -> Uuid {
    let me = app.call("GET", "/me", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    me.json()["id"].as_str().unwrap().parse().unwrap()
}

pub async fn every_lifecycle_step_reaches_the_hook_in_order(t: Setup) {
    let (events, heard) = recorder();
    let hook = events.clone();
    let app = app!(t, move |c| c.events(hook));
    let alice = user();
    // Sign-in, from a browser that says who it is.
    let mut login = request("POST", &format!("/login/{alice}?role=user"), None);
    login
        .headers_mut()
        .insert(header::USER_AGENT, "events-test/1".parse().unwrap());
    login
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [203, 0, 113, 7],
            41000,
        ))));
    let reply = app.send(login).await;
    assert_eq!(reply.status, StatusCode::OK);
    let mut a = reply.token().unwrap();
    let created: Uuid = reply.json()["id"].as_str().unwrap().parse().unwrap();
    // A credential that is no session.
    let garbage = app.call("GET", "/me", Some("not-a-token")).await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    // Rotation, a data change, an explicit refresh, a sliding one.
    let rotated = app.call("POST", "/rotate", Some(&a)).await;
    a = rotated.token().unwrap();
    let rotated_id = session_id(&app, &a).await;
    let updated = app.call("POST", "/items/book", Some(&a)).await;
    assert_eq!(updated.status, StatusCode::OK);
    a = updated.token().unwrap_or(a);
    let updated_id = session_id(&app, &a).await;
    let refreshed = app.call("POST", "/refresh", Some(&a)).await;
    a = refreshed.token().unwrap_or(a);
    let reauthenticated = app.call("POST", "/reauth", Some(&a)).await;
    assert_eq!(reauthenticated.status, StatusCode::OK);
    a = reauthenticated.token().unwrap_or(a);
    app.clock.advance(Span::days(2));
    let sliding = app.call("GET", "/me", Some(&a)).await;
    assert_eq!(sliding.status, StatusCode::OK);
    a = sliding.token().unwrap_or(a);
    let kept = session_id(&app, &a).await;
    // Everywhere else, then a second device that ends itself, then logout.
    let others = app.call("POST", "/revoke-others", Some(&a)).await;
    assert_eq!(others.status, StatusCode::OK);
    a = others.token().unwrap_or(a);
    let b = app.login(&alice, "user").await;
    let b_id: Uuid = b.json()["id"].as_str().unwrap().parse().unwrap();
    let b = b.token().unwrap();
    let revoked = app
        .call("DELETE", &format!("/sessions/{b_id}"), Some(&b))
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let a_id = session_id(&app, &a).await;
    assert_eq!(
        app.call("POST", "/logout", Some(&a)).await.status,
        StatusCode::OK
    );
    let gone = app.call("GET", "/me", Some(&a)).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    // A login over an existing session ends it first; then every session of the user ends.
    let c = app.login(&alice, "user").await;
    let c_id: Uuid = c.json()["id"].as_str().unwrap().parse().unwrap();
    let c = c.token().unwrap();
    let again = app
        .call("POST", &format!("/login/{alice}?role=user"), Some(&c))
        .await;
    let c2_id: Uuid = again.json()["id"].as_str().unwrap().parse().unwrap();
    let all = app
        .call("POST", &format!("/revoke-all/{alice}"), None)
        .await;
    assert_eq!(all.status, StatusCode::OK);

    use SessionEventKind as K;
    let gone_reason = if t.is_jwt() {
        RejectReason::Revoked
    } else {
        RejectReason::Unknown
    };
    let expected: Vec<(K, Option<Uuid>)> = vec![
        (K::Created, Some(created)),
        (K::Rejected(RejectReason::Malformed), None),
        (K::Rotated, Some(rotated_id)),
        (K::DataUpdated, Some(updated_id)),
        (K::Refreshed, Some(updated_id)),
        (K::Reauthenticated, Some(updated_id)),
        (K::Refreshed, Some(kept)),
        (K::RevokedOthers, Some(kept)),
        (K::Created, Some(b_id)),
        (K::Revoked, Some(b_id)),
        (K::LoggedOut, Some(a_id)),
        (K::Rejected(gone_reason), None),
        (K::Created, Some(c_id)),
        (K::LoggedOut, Some(c_id)),
        (K::Created, Some(c2_id)),
        (K::RevokedAll, None),
    ];
    delivered(&events, expected.len() as u64).await;
    let heard = heard.lock().unwrap().clone();
    let got: Vec<(K, Option<Uuid>)> = heard.iter().map(|e| (e.kind, e.session_id)).collect();
    assert_eq!(got, expected);
    for event in &heard {
        match event.kind {
            K::Rejected(_) => assert_eq!(event.user_id, None),
            _ => assert_eq!(event.user_id.as_deref(), Some(alice.as_str()), "{event:?}"),
        }
    }
    // The client and the time of the request that caused each event.
    assert_eq!(heard[0].user_agent.as_deref(), Some("events-test/1"));
    assert_eq!(heard[0].ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(heard[0].at, START);
    assert_eq!(heard[6].at, START + Span::days(2));
    assert_eq!((events.dropped(), events.failed()), (0, 0));
}

/// `update_user_sessions`: on database sessions each changed session is a `data_updated` event
/// when the change is made; on JWT sessions (no list of tokens) when a token takes the change,
/// on its next request, followed by the `refreshed` of its new token.
pub async fn a_change_to_every_session_of_a_user_is_a_data_updated_event(t: Setup) {
    let (events, heard) = recorder();
    let hook = events.clone();
    let app = app!(t, move |c| c.events(hook));
    let alice = user();
    let token = app.login(&alice, "user").await.token().unwrap();
    let id = session_id(&app, &token).await;
    let changed = app
        .call("POST", &format!("/user-role/{alice}?role=admin"), None)
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let me = app.call("GET", "/me", Some(&token)).await;
    assert_eq!(me.json()["role"], "admin");

    use SessionEventKind as K;
    let mut expected = vec![(K::Created, Some(id)), (K::DataUpdated, Some(id))];
    if t.is_jwt() {
        expected.push((K::Refreshed, Some(id)));
    }
    assert_heard(&events, &heard, &expected).await;
}

/// "Sign out everywhere" from the user's own browser: the request's session is one of those
/// it ends, and its cookie is cleared, but it is no rejected credential (no `rejected` event,
/// no "session rejected" log line, no rejection counted).
pub async fn ending_every_session_of_ones_own_user_is_no_rejection(t: Setup) {
    let (events, heard) = recorder();
    let hook = events.clone();
    let app = app!(t, move |c| c.events(hook));
    let alice = user();
    let login = app.login(&alice, "user").await;
    let id: Uuid = login.json()["id"].as_str().unwrap().parse().unwrap();
    let token = login.token().unwrap();
    let all = app
        .call("POST", &format!("/revoke-all/{alice}"), Some(&token))
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert!(all.clears_cookie(), "{:?}", all.set_cookies());
    // A rejection of its own after it, so that every event the revoke-all caused has been
    // heard when this one has (the hook hears them in order).
    let garbage = app.call("GET", "/me", Some("not-a-token")).await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);

    use SessionEventKind as K;
    let expected = vec![
        (K::Created, Some(id)),
        (K::RevokedAll, None),
        (K::Rejected(RejectReason::Malformed), None),
    ];
    assert_heard(&events, &heard, &expected).await;
}

pub async fn a_stuck_hook_drops_events_and_never_holds_up_a_request(t: Setup) {
    // A hook that never finishes, behind a queue of two.
    let events = SessionEvents::new(|_| std::future::pending::<()>()).capacity(2);
    let hook = events.clone();
    let app = app!(t, move |c| c.events(hook));
    let run = async {
        for _ in 0..6 {
            let reply = app.login(&user(), "user").await;
            let token = reply.token().unwrap();
            let me = app.call("GET", "/me", Some(&token)).await;
            assert_eq!(me.status, StatusCode::OK);
        }
    };
    // A hang guard, not a speed test: a request waiting for the hook would never finish.
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("requests finished while the hook was stuck");
    // Six events: at most one in the hook and two queued; the rest dropped and counted.
    assert!((3..=4).contains(&events.dropped()), "{events:?}");
    assert_eq!(events.delivered(), 0);
}

pub async fn a_panicking_hook_loses_its_event_and_the_next_is_delivered(t: Setup) {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let events = SessionEvents::new(move |event: SessionEvent| {
        let sink = sink.clone();
        async move {
            if event.kind == SessionEventKind::Created {
                panic!("the audit log is down");
            }
            sink.lock().unwrap().push(event.kind);
        }
    });
    let hook = events.clone();
    let app = app!(t, move |c| c.events(hook));
    let token = app.login(&user(), "user").await.token().unwrap();
    let logout = app.call("POST", "/logout", Some(&token)).await;
    assert_eq!(logout.status, StatusCode::OK);
    delivered(&events, 2).await;
    assert_eq!((events.failed(), events.delivered()), (1, 1));
    assert_eq!(*heard.lock().unwrap(), vec![SessionEventKind::LoggedOut]);
}
