//! Session events, freshness and re-authentication on Better Auth sessions.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_freshness_and_reauthentication_on_better_auth_sessions() {
    if !better_auth_available() {
        return;
    }
    let Some((url, pool)) = fresh(Backend::Sqlite).await else {
        return;
    };
    logs::install();
    let options = json!({ "database": url, "secret": SECRET });
    let sign_in = json!({ "op": "signIn", "email": "gus@example.com", "password": PASSWORD });
    let out = node(
        &options,
        json!([
            { "op": "migrate" },
            sign_up("Gus", "gus@example.com"),
            sign_in,
            sign_in,
            sign_in,
        ]),
    )
    .await;
    let [first, second, _, _] = [1, 2, 3, 4].map(|i| SignedIn::read(&out[i], TOKEN_COOKIE));
    let gus = first.user["id"].as_str().unwrap().to_owned();
    let (events, heard) = crate::events::recorder();
    let (clock, control, t0) = now_clock();
    let app = app_with(
        pool,
        on_http(),
        SessionConfig::default().clock(clock).events(events.clone()),
    );
    let id_of = |reply: Reply| -> Uuid {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["session"].as_str().unwrap().parse().unwrap()
    };
    // Reading sessions that are not due for extension tells the hook nothing.
    let first_id = id_of(with_cookies(&app, "GET", "/me", &first.cookies).await);
    let second_id = id_of(with_cookies(&app, "GET", "/me", &second.cookies).await);
    // Credentials that are no session: one user's signature on another's token, a token
    // Better Auth never made (correctly signed).
    let forged = format!("{TOKEN_COOKIE}={}.{}", first.token, second.signature());
    let unknown = format!(
        "{TOKEN_COOKIE}={}",
        sign("Vgp9ZpuJ0IcfkuFv29vekdlUlnTalwwO", SECRET)
    );
    for cookie in [&forged, &unknown] {
        let r = with_cookies(&app, "GET", "/me", cookie).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Fresh as Better Auth's `freshAge` counts it: since the session row's createdAt.
    let r = with_cookies(&app, "GET", "/fresh", &first.cookies).await;
    assert_eq!(r.status, StatusCode::OK);
    // The sliding extension by Better Auth's rule.
    control.set(t0 + UPDATE_AGE + Duration::minutes(1));
    id_of(with_cookies(&app, "GET", "/me", &first.cookies).await);
    // Extended, but signed in more than freshAge ago: Better Auth's fresh-session check
    // refuses it too (SESSION_NOT_FRESH), and only a new sign-in makes a fresh session.
    let r = with_cookies(&app, "GET", "/fresh", &first.cookies).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Step-up re-authentication is Better Auth's to record: 501, nothing heard.
    let r = with_cookies(&app, "POST", "/reauthenticate", &first.cookies).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    // Revocations and the logout.
    let r = with_cookies(
        &app,
        "POST",
        &format!("/revoke/{second_id}"),
        &first.cookies,
    )
    .await;
    assert_eq!(r.body, json!({ "revoked": true }));
    let r = with_cookies(&app, "POST", "/revoke-others", &first.cookies).await;
    assert_eq!(r.body, json!({ "count": 2 }), "the third and fourth");
    let r = with_cookies(&app, "POST", "/logout", &first.cookies).await;
    assert_eq!(r.body, json!({ "ended": true }));
    let r = with_cookies(&app, "GET", "/me", &first.cookies).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Every session of the user, from an admin tool (no session needed): Better Auth sees it.
    let again = node(&options, json!([sign_in, sign_in])).await;
    let [again_a, again_b] = [0, 1].map(|i| SignedIn::read(&again[i], TOKEN_COOKIE));
    let r = with_cookies(&app, "POST", &format!("/revoke-all/{gus}"), "").await;
    assert_eq!(r.body, json!({ "count": 2 }));
    let r = with_cookies(&app, "GET", "/me", &again_a.cookies).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let seen = node(
        &options,
        json!([{ "op": "getSession", "cookie": again_b.cookies }]),
    )
    .await;
    assert_eq!(
        seen[0]["body"],
        Value::Null,
        "Better Auth sees the revocation"
    );
    // Expired (a fresh sign-in, the clock past its expiry).
    let late = node(&options, json!([sign_in])).await;
    let late = SignedIn::read(&late[0], TOKEN_COOKIE);
    control.set(t0 + EXPIRES_IN + Duration::days(1));
    let r = with_cookies(&app, "GET", "/me", &late.cookies).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    crate::events::delivered(&events, 10).await;
    let heard = heard.lock().unwrap().clone();
    let seen: Vec<_> = heard
        .iter()
        .map(|e| (e.kind, e.user_id.clone(), e.session_id))
        .collect();
    let gus = Some(gus);
    let rejected = |reason| (SessionEventKind::Rejected(reason), None, None);
    assert_eq!(
        seen,
        vec![
            rejected(RejectReason::Invalid),
            rejected(RejectReason::Unknown),
            (SessionEventKind::Refreshed, gus.clone(), Some(first_id)),
            (SessionEventKind::Revoked, gus.clone(), Some(second_id)),
            (SessionEventKind::RevokedOthers, gus.clone(), Some(first_id)),
            (SessionEventKind::LoggedOut, gus.clone(), Some(first_id)),
            rejected(RejectReason::Unknown),
            (SessionEventKind::RevokedAll, gus, None),
            rejected(RejectReason::Unknown),
            rejected(RejectReason::Expired),
        ]
    );
    logs::assert_no_leaks();
}
