//! Attacks from issue 4 that the generic suite (`cases`) and the JWT suite (`jwt_cases`) do not
//! cover yet: replay of every kind of ended token as cookie *and* bearer, the token smuggled in
//! a query string or a form, abusive `Cookie` and `Authorization` headers, `Sec-Fetch-Site`
//! without `Origin`, and races (logout against refresh, concurrent rotations). Each case fails
//! if the attack works. Plus the self-test of the log capture (`support::logs`).

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use time::Duration;
use tower::ServiceExt as _;

use crate::backends::Backend;
use crate::support::{Reply, Setup, TestApp, logs, request, user};

// Every attack on database sessions (with and without the cache) and on JWT sessions. On JWT
// sessions a rotation revokes the old `sid` under the sid itself as the entry's key, so of
// concurrent rotations exactly one inserts it and issues a successor (before that fix, up to 8
// of 8 succeeded on PostgreSQL and MariaDB).
suite!(attacks => database, Database; database_cached, DatabaseCached; jwt, Jwt:
    replay_after_logout_is_401_as_cookie_and_bearer,
    replay_after_revoking_a_session_is_401_as_cookie_and_bearer,
    replay_after_revoke_others_is_401_as_cookie_and_bearer,
    replay_after_revoke_all_is_401_as_cookie_and_bearer,
    replay_after_rotation_is_401_as_cookie_and_bearer,
    the_token_is_never_read_from_a_query_string_or_a_form_field,
    abusive_cookie_headers_are_401_without_a_store_query,
    abusive_authorization_headers_are_401_without_a_store_query,
    a_foreign_cookie_that_is_not_ascii_does_not_end_the_session,
    sec_fetch_site_cross_site_without_origin_or_referer_is_refused,
    logout_racing_refresh_never_resurrects_the_session,
    concurrent_rotations_leave_exactly_one_live_token,
);

/// `method path` with `Authorization: Bearer <token>` and no cookie.
fn bearer(method: &str, path: &str, token: &str) -> Request<Body> {
    logs::register(token);
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "app.test")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("valid request")
}

/// `GET /me` with these raw header values (each a header of its own).
fn raw_request(headers: &[(header::HeaderName, &[u8])]) -> Request<Body> {
    let mut builder = Request::builder()
        .uri("/me")
        .header(header::HOST, "app.test");
    for (name, value) in headers {
        let value = HeaderValue::from_bytes(value).expect("a sendable header value");
        builder = builder.header(name, value);
    }
    builder.body(Body::empty()).expect("valid request")
}

/// The token is no session any more, as a cookie (401, cookie cleared), as a bearer token
/// (401, no cookie set) and where a session is optional (anonymous).
async fn assert_dead(app: &TestApp, token: &str, what: &str) {
    let cookie = app.call("GET", "/me", Some(token)).await;
    assert_eq!(cookie.status, StatusCode::UNAUTHORIZED, "{what} (cookie)");
    assert!(cookie.clears_cookie(), "{what}: cookie not cleared");
    let api = app.send(bearer("GET", "/me", token)).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED, "{what} (bearer)");
    assert!(api.set_cookies().is_empty(), "{what}: bearer got a cookie");
    let maybe = app.call("GET", "/maybe", Some(token)).await;
    assert_eq!(maybe.body, "anonymous", "{what} (/maybe)");
}

/// A token a cookie request of this process replaced (rotation, re-issue): no session at once,
/// its cookie left alone for the minute the replacement may still be on its way to the
/// browser (see `cases::a_request_still_carrying_a_replaced_token_leaves_the_new_cookie_alone`),
/// then dead like any other.
async fn assert_replaced(app: &TestApp, token: &str, what: &str) {
    let cookie = app.call("GET", "/me", Some(token)).await;
    assert_eq!(cookie.status, StatusCode::UNAUTHORIZED, "{what} (cookie)");
    assert!(
        cookie.set_cookies().is_empty(),
        "{what}: cleared while its replacement may be on its way"
    );
    app.clock.advance(Duration::seconds(61));
    assert_dead(app, token, what).await;
}

/// The token is a session, as a cookie and as a bearer token. Returns `/me`.
async fn assert_alive(app: &TestApp, token: &str, what: &str) -> serde_json::Value {
    let api = app.send(bearer("GET", "/me", token)).await;
    assert_eq!(api.status, StatusCode::OK, "{what} (bearer): {}", api.body);
    let cookie = app.call("GET", "/me", Some(token)).await;
    assert_eq!(cookie.status, StatusCode::OK, "{what} (cookie)");
    cookie.json()
}

/// Follows a browser: a response that sets a new token replaces the one held.
fn follow(token: &mut String, reply: &Reply) {
    if let Some(new) = reply.token() {
        *token = new;
    }
}

// ---------------------------------------------------------------------------------------------
// Replay of ended tokens, as cookie and as bearer
// ---------------------------------------------------------------------------------------------

pub async fn replay_after_logout_is_401_as_cookie_and_bearer(t: Setup) {
    let app = app!(t);
    let by_cookie = app.login(&user(), "user").await.token().unwrap();
    let by_bearer = app.login(&user(), "user").await.token().unwrap();

    let out = app.call("POST", "/logout", Some(&by_cookie)).await;
    assert_eq!(out.body, "true");
    assert_dead(&app, &by_cookie, "logged out by cookie").await;

    let out = app.send(bearer("POST", "/logout", &by_bearer)).await;
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(out.body, "true");
    assert!(
        out.set_cookies().is_empty(),
        "a bearer logout sets no cookie"
    );
    assert_dead(&app, &by_bearer, "logged out by bearer").await;
}

pub async fn replay_after_revoking_a_session_is_401_as_cookie_and_bearer(t: Setup) {
    let app = app!(t);
    let alice = user();
    let laptop = app.login(&alice, "user").await.token().unwrap();
    let phone = app.login(&alice, "user").await.token().unwrap();
    let tablet = app.login(&alice, "user").await.token().unwrap();
    let id_of = |me: serde_json::Value| me["id"].as_str().unwrap().to_owned();

    if !t.is_jwt() {
        // Another session of the user, by its public id (JWT sessions cannot see the others).
        let phone_id = id_of(assert_alive(&app, &phone, "phone").await);
        let path = format!("/sessions/{phone_id}");
        let revoked = app.send(bearer("DELETE", &path, &laptop)).await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT);
        assert_dead(&app, &phone, "another session revoked").await;
        assert_alive(&app, &laptop, "the revoking session").await;
    }

    // The current session by its own id, once through the cookie, once as a bearer request.
    let laptop_id = id_of(assert_alive(&app, &laptop, "laptop").await);
    let revoked = app
        .call("DELETE", &format!("/sessions/{laptop_id}"), Some(&laptop))
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert!(revoked.clears_cookie());
    assert_dead(&app, &laptop, "own session revoked by cookie").await;

    let tablet_id = id_of(assert_alive(&app, &tablet, "tablet").await);
    let path = format!("/sessions/{tablet_id}");
    let revoked = app.send(bearer("DELETE", &path, &tablet)).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_dead(&app, &tablet, "own session revoked by bearer").await;

    if t.is_jwt() {
        assert_alive(&app, &phone, "an unrevoked session of the same user").await;
    }
}

pub async fn replay_after_revoke_others_is_401_as_cookie_and_bearer(t: Setup) {
    let app = app!(t);
    let alice = user();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(app.login(&alice, "user").await.token().unwrap());
    }
    let reply = app.call("POST", "/revoke-others", Some(&tokens[0])).await;
    assert_eq!(reply.status, StatusCode::OK);
    let mut current = tokens[0].clone();
    follow(&mut current, &reply);
    for (i, token) in tokens[1..].iter().enumerate() {
        assert_dead(&app, token, &format!("other session {i}")).await;
    }
    assert_alive(&app, &current, "the kept session").await;
    if t.is_jwt() {
        // The kept session lives on in a re-issued token; the token it came with is covered
        // by the revocation like every other token of the user signed in before it.
        assert_ne!(current, tokens[0]);
        assert_replaced(&app, &tokens[0], "the token before the re-issue").await;
    }
}

pub async fn replay_after_revoke_all_is_401_as_cookie_and_bearer(t: Setup) {
    let app = app!(t);
    let alice = user();
    let admin = app.login(&user(), "admin").await.token().unwrap();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(app.login(&alice, "user").await.token().unwrap());
    }
    let path = format!("/revoke-all/{alice}");
    let reply = app.send(bearer("POST", &path, &admin)).await;
    assert_eq!(reply.status, StatusCode::OK);
    for (i, token) in tokens.iter().enumerate() {
        assert_dead(&app, token, &format!("session {i} after revoke-all")).await;
    }
    assert_alive(&app, &admin, "another user's session").await;
}

pub async fn replay_after_rotation_is_401_as_cookie_and_bearer(t: Setup) {
    let app = app!(t);
    let old = app.login(&user(), "user").await.token().unwrap();
    let rotated = app.call("POST", "/rotate", Some(&old)).await;
    assert_eq!(rotated.status, StatusCode::NO_CONTENT);
    let new = rotated.token().expect("a new token");
    assert_replaced(&app, &old, "the token before a cookie rotation").await;
    assert_alive(&app, &new, "the rotated token").await;

    // Rotation asked for by a bearer request: the old bearer token dies the same way.
    let rotated = app.send(bearer("POST", "/rotate", &new)).await;
    assert_eq!(rotated.status, StatusCode::NO_CONTENT);
    let newer = rotated.token().expect("a new token");
    assert_dead(&app, &new, "the token before a bearer rotation").await;
    assert_alive(&app, &newer, "the token after a bearer rotation").await;
}

// ---------------------------------------------------------------------------------------------
// Where the token may come from
// ---------------------------------------------------------------------------------------------

pub async fn the_token_is_never_read_from_a_query_string_or_a_form_field(t: Setup) {
    let app = app!(t);
    let token = app.login(&user(), "user").await.token().unwrap();
    let loads = app.counts.loads();
    for name in ["session-id", "session_id", "token", "access_token", "id"] {
        for path in ["/me", "/guarded"] {
            let reply = app
                .call("GET", &format!("{path}?{name}={token}"), None)
                .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}?{name}=");
        }
        // A form post carrying the token as a field, with no cookie: no session.
        for path in ["/refresh", "/logout", "/rotate", "/items/x"] {
            let form = Request::builder()
                .method("POST")
                .uri(path)
                .header(header::HOST, "app.test")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("{name}={token}")))
                .unwrap();
            let reply = app.send(form).await;
            let expected = if path == "/logout" {
                // Logout without a session answers `false`.
                assert_eq!(reply.body, "false", "form {path} {name}");
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(reply.status, expected, "form {path} {name}");
        }
    }
    if !t.is_jwt() {
        assert_eq!(app.counts.loads(), loads, "no credential, no lookup");
    }
    assert_alive(&app, &token, "the session itself").await;
}

// ---------------------------------------------------------------------------------------------
// Input abuse
// ---------------------------------------------------------------------------------------------

/// Logs in until the token holds a `-` or `_`, so that its standard-alphabet spelling differs
/// (a JWT nearly always does).
async fn token_with_url_safe_characters(app: &TestApp) -> String {
    for _ in 0..64 {
        let token = app.login(&user(), "user").await.token().unwrap();
        if token.contains(['-', '_']) {
            return token;
        }
    }
    panic!("64 tokens without '-' or '_'");
}

/// Every character percent-encoded: `%41%42...`.
fn percent_encoded(token: &str) -> String {
    token.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// A token in the standard base64 alphabet (`+` and `/`), each segment re-encoded.
fn standard_alphabet(token: &str) -> String {
    token
        .split('.')
        .map(|part| STANDARD_NO_PAD.encode(URL_SAFE_NO_PAD.decode(part).expect("base64url")))
        .collect::<Vec<_>>()
        .join(".")
}

/// Sends `req` and checks: 401 (or 400), never anything else, and for database sessions no
/// store lookup at all.
async fn assert_refused_unread(app: &TestApp, req: Request<Body>, what: &str) -> Reply {
    let loads = app.counts.loads();
    let reply = app.send(req).await;
    assert!(
        matches!(
            reply.status,
            StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST
        ),
        "{what}: {} {}",
        reply.status,
        reply.body
    );
    if !app.setup.is_jwt() {
        assert_eq!(app.counts.loads(), loads, "{what}: store queried");
    }
    reply
}

pub async fn abusive_cookie_headers_are_401_without_a_store_query(t: Setup) {
    let app = app!(t);
    let valid = token_with_url_safe_characters(&app).await;
    let wrong_alphabet = standard_alphabet(&valid);
    assert_ne!(wrong_alphabet, valid);
    let (head, tail) = valid.split_at(valid.len() / 2);
    let values: Vec<(&str, Vec<u8>)> = vec![
        ("empty value", b"".to_vec()),
        ("1 byte", b"A".to_vec()),
        ("a tab", b"\t".to_vec()),
        ("a tab inside", format!("{head}\t{tail}").into_bytes()),
        ("a space inside", format!("{head} {tail}").into_bytes()),
        ("a quoted token", format!("\"{valid}\"").into_bytes()),
        ("percent-encoded", percent_encoded(&valid).into_bytes()),
        (
            "first character percent-encoded",
            format!("%{:02X}{}", valid.as_bytes()[0], &valid[1..]).into_bytes(),
        ),
        ("the standard alphabet", wrong_alphabet.into_bytes()),
        ("with padding", format!("{valid}=").into_bytes()),
        (
            "padded base64 of the raw bytes",
            URL_SAFE
                .encode(
                    URL_SAFE_NO_PAD
                        .decode(valid.rsplit('.').next().unwrap())
                        .unwrap(),
                )
                .into_bytes(),
        ),
        (
            "non-UTF-8 after the token",
            [valid.as_bytes(), b"\xff"].concat(),
        ),
        ("Latin-1", b"caf\xe9".to_vec()),
        ("4 KiB", valid.repeat(4096 / valid.len() + 1).into_bytes()),
        ("64 KiB", valid.repeat(65536 / valid.len() + 1).into_bytes()),
    ];
    for (what, value) in &values {
        let cookie = [b"session-id=", value.as_slice()].concat();
        let req = raw_request(&[(header::COOKIE, &cookie)]);
        let reply = assert_refused_unread(&app, req, what).await;
        assert!(reply.clears_cookie(), "{what}: cookie not cleared");
    }
    // Header values without a session cookie in them, or that are not cookies at all.
    for raw in [
        &b""[..],
        b" ",
        b"session-id",
        b"=",
        b";;;;",
        b"session-id;",
        b"=session-id",
    ] {
        let req = raw_request(&[(header::COOKIE, raw)]);
        let what = format!("Cookie: {:?}", String::from_utf8_lossy(raw));
        assert_refused_unread(&app, req, &what).await;
    }
    // The session cookie twice (also when both are the valid token), in one header or two.
    let twice = format!("session-id={valid}; session-id={valid}");
    let req = raw_request(&[(header::COOKIE, twice.as_bytes())]);
    assert_refused_unread(&app, req, "the valid token twice").await;
    let one = format!("session-id={valid}");
    let req = raw_request(&[
        (header::COOKIE, one.as_bytes()),
        (header::COOKIE, b"session-id=x"),
    ]);
    assert_refused_unread(&app, req, "two Cookie headers").await;

    assert_alive(&app, &valid, "the valid token itself").await;
}

pub async fn abusive_authorization_headers_are_401_without_a_store_query(t: Setup) {
    let app = app!(t);
    let valid = token_with_url_safe_characters(&app).await;
    let other = app.login(&user(), "user").await.token().unwrap();
    let bearer_of = |token: &str| format!("Bearer {token}").into_bytes();
    let big = "A".repeat(64 * 1024);
    let values: Vec<(&str, Vec<u8>)> = vec![
        ("an empty header", b"".to_vec()),
        ("the scheme alone", b"Bearer".to_vec()),
        ("an empty token", b"Bearer ".to_vec()),
        ("only spaces", b"Bearer     ".to_vec()),
        ("1 byte", b"Bearer A".to_vec()),
        ("64 KiB", bearer_of(&big)),
        (
            "64 KiB of the valid token",
            bearer_of(&valid.repeat(65536 / valid.len() + 1)),
        ),
        ("non-UTF-8", b"Bearer \xff\xfe\xfd".to_vec()),
        (
            "non-UTF-8 after the token",
            [bearer_of(&valid), b"\xff".to_vec()].concat(),
        ),
        ("percent-encoded", bearer_of(&percent_encoded(&valid))),
        (
            "the standard alphabet",
            bearer_of(&standard_alphabet(&valid)),
        ),
        ("with padding", bearer_of(&format!("{valid}="))),
        ("a tab inside", {
            let (head, tail) = valid.split_at(10);
            bearer_of(&format!("{head}\t{tail}"))
        }),
        (
            "two tokens in one header",
            format!("Bearer {valid}, Bearer {other}").into_bytes(),
        ),
        ("the token without a scheme", valid.clone().into_bytes()),
        ("another scheme", format!("Basic {valid}").into_bytes()),
        ("a tab for a space", format!("Bearer\t{valid}").into_bytes()),
    ];
    for (what, value) in &values {
        let req = raw_request(&[(header::AUTHORIZATION, value)]);
        let reply = assert_refused_unread(&app, req, what).await;
        assert!(
            reply.set_cookies().is_empty(),
            "{what}: a bearer request got a cookie"
        );
    }
    // Duplicated headers: ambiguous credentials are no credentials, whichever comes first.
    let garbage = b"Bearer garbage".to_vec();
    let pairs: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("valid, then garbage", bearer_of(&valid), garbage.clone()),
        ("garbage, then valid", garbage, bearer_of(&valid)),
        ("two sessions", bearer_of(&valid), bearer_of(&other)),
        (
            "the valid token twice",
            bearer_of(&valid),
            bearer_of(&valid),
        ),
        ("valid, then empty", bearer_of(&valid), b"".to_vec()),
    ];
    for (what, first, second) in &pairs {
        let req = raw_request(&[
            (header::AUTHORIZATION, first),
            (header::AUTHORIZATION, second),
        ]);
        let reply = assert_refused_unread(&app, req, what).await;
        assert!(
            reply.set_cookies().is_empty(),
            "{what}: a bearer request got a cookie"
        );
    }
    assert_alive(&app, &valid, "the valid token itself").await;
}

pub async fn a_foreign_cookie_that_is_not_ascii_does_not_end_the_session(t: Setup) {
    let app = app!(t);
    let token = app.login(&user(), "user").await.token().unwrap();
    // Browsers send every cookie of the site in one header, raw bytes included: another
    // cookie with a UTF-8 or Latin-1 value must not log the user out.
    for header in [
        format!("lang=espa\u{f1}ol; session-id={token}").into_bytes(),
        [format!("session-id={token}; x=").as_bytes(), b"\xff\xfe"].concat(),
        [
            b"a=\xe9; ",
            format!("session-id={token}").as_bytes(),
            b"; b=\xe9",
        ]
        .concat(),
    ] {
        let reply = app.send(raw_request(&[(header::COOKIE, &header)])).await;
        let what = String::from_utf8_lossy(&header).into_owned();
        assert_eq!(reply.status, StatusCode::OK, "{what}");
        assert!(reply.set_cookies().is_empty(), "{what}: cookie touched");
    }
    // But the session cookie itself must be text (or it is cleared), and there must be one.
    let header = [format!("session-id={token}").as_bytes(), b"\xe9"].concat();
    let what = String::from_utf8_lossy(&header).into_owned();
    let reply = assert_refused_unread(&app, raw_request(&[(header::COOKIE, &header)]), &what).await;
    assert!(reply.clears_cookie(), "{what}");
    // Two of them are cleared neither: which one is the layer's cannot be told, and clearing
    // the one with the layer's domain and path would leave the other, planted by a sibling
    // subdomain or a plain-http page, to be the next request's session (a login CSRF).
    for header in [
        [
            format!("session-id={token}; session-id=").as_bytes(),
            b"\xe9",
        ]
        .concat(),
        [
            b"x=\xe9; ",
            format!("session-id={token}; session-id={token}").as_bytes(),
        ]
        .concat(),
    ] {
        let what = String::from_utf8_lossy(&header).into_owned();
        let reply =
            assert_refused_unread(&app, raw_request(&[(header::COOKIE, &header)]), &what).await;
        assert!(
            reply.set_cookies().is_empty(),
            "{what}: {:?}",
            reply.set_cookies()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Cross-site requests
// ---------------------------------------------------------------------------------------------

pub async fn sec_fetch_site_cross_site_without_origin_or_referer_is_refused(t: Setup) {
    let app = app!(t);
    let token = app.login(&user(), "user").await.token().unwrap();
    let post = |path: &str, fetch_site: &str, cookie: bool| {
        let mut builder = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::HOST, "app.test")
            .header("sec-fetch-site", fetch_site);
        builder = if cookie {
            builder.header(header::COOKIE, format!("session-id={token}"))
        } else {
            builder.header(header::AUTHORIZATION, format!("Bearer {token}"))
        };
        builder.body(Body::empty()).unwrap()
    };
    for path in [
        "/logout",
        "/rotate",
        "/refresh",
        "/items/x",
        "/revoke-others",
    ] {
        for value in ["cross-site", "Cross-Site", "CROSS-SITE"] {
            let reply = app.send(post(path, value, true)).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path} {value}");
            assert!(
                reply.set_cookies().is_empty(),
                "{path}: refused, yet a cookie"
            );
        }
    }
    let me = assert_alive(&app, &token, "after the refused requests").await;
    assert_eq!(me["items"], serde_json::json!([]), "nothing was changed");

    // A bearer token is not sent by browsers on their own: not a cross-site risk.
    let reply = app.send(post("/refresh", "cross-site", false)).await;
    assert_eq!(reply.status, StatusCode::OK);
    // The same site's own requests pass.
    let reply = app.send(post("/logout", "same-origin", true)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "true");
}

// ---------------------------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------------------------

/// Sends all `requests` at once, each on its own task.
async fn concurrently(app: &TestApp, requests: Vec<Request<Body>>) -> Vec<Reply> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|req| {
            let router = app.router.clone();
            tokio::spawn(async move { router.oneshot(req).await.expect("infallible") })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        let res = task.await.expect("a request panicked");
        replies.push(Reply::read(res).await);
    }
    replies
}

/// Whether any stored row mentions `user` (SQL stores; always `false` for memory).
async fn stored_rows_of(app: &TestApp, user: &str) -> usize {
    let rows = app.store.dump_rows().await;
    rows.iter()
        .filter(|row| {
            row.iter()
                .any(|column| column.as_slice() == user.as_bytes())
        })
        .count()
}

pub async fn logout_racing_refresh_never_resurrects_the_session(t: Setup) {
    let app = app!(t);
    for round in 0..20 {
        let alice = user();
        let token = app.login(&alice, "user").await.token().unwrap();
        // Every refresh moves the expiry, so each one really writes.
        app.clock.advance(Duration::minutes(5));
        let requests = (0..4)
            .map(|i| {
                let path = if i == 1 { "/logout" } else { "/refresh" };
                request("POST", path, Some(&token))
            })
            .collect();
        let replies = concurrently(&app, requests).await;
        assert_eq!(replies[1].status, StatusCode::OK, "round {round}: logout");
        assert_eq!(replies[1].body, "true", "round {round}: logout");
        let mut issued = vec![token.clone()];
        for reply in [&replies[0], &replies[2], &replies[3]] {
            assert!(
                matches!(reply.status, StatusCode::OK | StatusCode::UNAUTHORIZED),
                "round {round}: refresh {}",
                reply.status
            );
            issued.extend(reply.token());
        }
        for token in &issued {
            assert_dead(&app, token, &format!("round {round}: after logout")).await;
        }
        if t.backend != Backend::Memory {
            assert_eq!(
                stored_rows_of(&app, &alice).await,
                0,
                "round {round}: a row survived"
            );
        }
    }
}

pub async fn concurrent_rotations_leave_exactly_one_live_token(t: Setup) {
    let app = app!(t);
    for round in 0..10 {
        let alice = user();
        let old = app.login(&alice, "user").await.token().unwrap();
        let requests = (0..8)
            .map(|_| request("POST", "/rotate", Some(&old)))
            .collect();
        let replies = concurrently(&app, requests).await;
        let mut winners = Vec::new();
        for reply in &replies {
            match reply.status {
                StatusCode::NO_CONTENT => winners.push(reply.token().expect("a new token")),
                StatusCode::UNAUTHORIZED => {}
                other => panic!("round {round}: rotation answered {other}"),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: {} rotations won",
            winners.len()
        );
        assert_replaced(
            &app,
            &old,
            &format!("round {round}: the rotated-away token"),
        )
        .await;
        assert_alive(&app, &winners[0], &format!("round {round}: the winner")).await;
        if t.backend != Backend::Memory && !t.is_jwt() {
            assert_eq!(
                stored_rows_of(&app, &alice).await,
                1,
                "round {round}: one session"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The log capture itself
// ---------------------------------------------------------------------------------------------

/// The capture is on, at TRACE, with fields, and finds a registered token whether it was
/// logged before or after it was registered. (Canaries count as hits, not as leaks, so this
/// test does not fail the others.)
#[tokio::test]
async fn the_log_capture_finds_a_token_logged_before_or_after_it_is_registered() {
    logs::install();
    let before = sessionward::SessionToken::generate().as_str().to_owned();
    let after = sessionward::SessionToken::generate().as_str().to_owned();
    let captured = logs::captured();

    logs::register_canary(&after);
    tracing::trace!(target: "sessionward", token = %after, "canary logged after registering");
    tracing::trace!(target: "sessionward", "canary logged before registering: {before}");
    assert!(
        logs::captured() >= captured + 2,
        "events at TRACE are captured"
    );
    assert!(!logs::canary_seen(&before));
    logs::register_canary(&before);
    assert!(logs::canary_seen(&after), "a field value is matched");
    assert!(
        logs::canary_seen(&before),
        "earlier lines are matched on registration"
    );

    // A JWT is matched by its signature.
    let jwt = format!(
        "eyJhbGciOiJIUzI1NiJ9.e30.{}",
        sessionward::SessionToken::generate().as_str()
    );
    logs::register_canary(&jwt);
    tracing::debug!(target: "sessionward", "Bearer {jwt}");
    assert!(logs::canary_seen(&jwt));

    // Other processes' logs are checked the same way.
    let demo_log = format!("INFO request\nDEBUG cookie session-id={after}; Path=/\n");
    assert_eq!(logs::leaks_in(&demo_log, &[]).len(), 1);
    assert_eq!(logs::leaks_in("password=wonderland", &[]).len(), 1);
    assert_eq!(logs::leaks_in("a secret: s3cr3t", &["s3cr3t"]).len(), 1);
    assert!(logs::leaks_in("INFO session created session=0b6e", &[]).is_empty());
}

/// Data that does not fit the requested type is logged by category, position and type, never
/// with serde's message, which quotes the values it could not read (personal data).
#[tokio::test]
async fn session_data_that_does_not_fit_is_logged_without_its_values() {
    use axum::Router;
    use axum::routing::{get, post};
    use sessionward::{MemoryStore, Session, SessionConfig, SessionLayer, Sessions};

    #[derive(serde::Deserialize)]
    struct Typed {
        #[allow(dead_code)]
        role: u64,
    }

    logs::install();
    // Personal data, shaped so the capture can find it (43+ base64url characters).
    let personal = format!("alice-{}", sessionward::SessionToken::generate().as_str());
    logs::register_canary(&personal);
    let stored = personal.clone();
    let app = Router::new()
        .route(
            "/login",
            post(move |sessions: Sessions| {
                let stored = stored.clone();
                async move {
                    let data = serde_json::json!({ "role": stored });
                    sessions.login("alice".to_owned(), &data).await.unwrap();
                }
            }),
        )
        .route("/typed", get(|_: Session<Typed>| async { "fits" }))
        .layer(SessionLayer::database(
            MemoryStore::new(),
            SessionConfig::default(),
        ));
    let login = Reply::read(
        app.clone()
            .oneshot(request("POST", "/login", None))
            .await
            .unwrap(),
    )
    .await;
    let token = login.token().unwrap();
    let captured = logs::captured();
    let typed = Reply::read(
        app.oneshot(request("GET", "/typed", Some(&token)))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(typed.status, StatusCode::UNAUTHORIZED);
    assert!(logs::captured() > captured, "the failure is logged");
    assert!(
        !logs::canary_seen(&personal),
        "the session data's values are not in the log"
    );
}
