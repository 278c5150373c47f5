//! The scenario every database goes through: sessions Better Auth made on PostgreSQL, MariaDB
//! and SQLite, read, extended, listed, revoked and ended from both sides.

use super::*;

async fn scenario(backend: Backend) {
    if !better_auth_available() {
        return;
    }
    let Some((url, pool)) = fresh(backend).await else {
        return;
    };
    logs::install();
    let options = json!({
        "database": url, "secret": SECRET, "bearer": true, "admin": true,
        "additionalFields": true,
    });
    let mut alice_sign_up = sign_up("Alice", "alice@example.com");
    alice_sign_up["fields"] = json!({
        "credits": 42, "birthday": "1990-05-01T10:00:00.123Z", "tags": ["a", "b"],
        "newsletter": true,
    });
    let out = node(
        &options,
        json!([
            { "op": "migrate" },
            alice_sign_up,
            sign_up("Bob", "bob@example.com"),
            { "op": "versions" },
        ]),
    )
    .await;
    assert_eq!(out[3]["better-auth"], "1.7.29");
    let alice = SignedIn::read(&out[1], TOKEN_COOKIE);
    let bob = SignedIn::read(&out[2], TOKEN_COOKIE);
    let alice_id = alice.user["id"].as_str().unwrap().to_owned();
    node(
        &options,
        json!([{ "op": "setRole", "userId": alice_id, "role": "admin" }]),
    )
    .await;

    let (clock, control, t0) = now_clock();
    let schema = BetterAuthSchema::default()
        .admin_plugin()
        .user_field("credits", FieldType::Number)
        .user_field("birthday", FieldType::Date)
        .user_field("tags", FieldType::Json)
        .user_field("newsletter", FieldType::Boolean);
    let config = on_http().schema(schema);
    let app = app(pool.clone(), config.clone(), clock.clone());

    // The session cookie as Better Auth set it: the user as Better Auth outputs it.
    let r = with_cookies(&app, "GET", "/data", &alice.cookies).await;
    assert_eq!(r.status, StatusCode::OK);
    let mut expected = alice.user.clone();
    expected["role"] = json!("admin");
    let mut data = r.body.clone();
    data["updatedAt"] = expected["updatedAt"].clone(); // setRole touched it
    assert_eq!(data, expected, "the user row as Better Auth's JSON");
    assert!(
        !r.set_cookie,
        "the layer never writes Better Auth's cookies"
    );
    let r = with_cookies(&app, "GET", "/me", &alice.cookies).await;
    assert_eq!(r.body["user_id"], alice_id);
    assert_eq!(r.body["id_in_data"], alice_id);
    assert!(
        !r.body.to_string().contains(&alice.token),
        "the token is never shown"
    );
    let alice_session = r.body["session"].as_str().unwrap().to_owned();
    let alice_expires = r.body["expires_at"].as_i64().unwrap();
    let by_better_auth = node(
        &options,
        json!([{ "op": "getSession", "cookie": alice.cookies }]),
    )
    .await;
    assert_eq!(
        iso_millis(&by_better_auth[0]["body"]["session"]["expiresAt"]),
        alice_expires,
        "both sides see the same expiry"
    );
    // Every user field, additional ones of each type included, as Better Auth itself reads
    // them back from its database.
    for user in [&alice, &bob] {
        let by_better_auth = node(
            &options,
            json!([{ "op": "getSession", "cookie": user.cookies }]),
        )
        .await;
        let data = with_cookies(&app, "GET", "/data", &user.cookies).await;
        assert_eq!(data.body, by_better_auth[0]["body"]["user"]);
    }
    let signed_in = iso_millis(&by_better_auth[0]["body"]["session"]["createdAt"]);
    assert_eq!(r.body["created_at"], signed_in);
    assert_eq!(
        r.body["authenticated_at"], signed_in,
        "authenticated at the sign-in: the session row's createdAt"
    );

    // The admin plugin's role: require_role works on Better Auth users.
    assert_eq!(
        with_cookies(&app, "GET", "/admin", &alice.cookies)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        with_cookies(&app, "GET", "/admin", &bob.cookies)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // A role change is Better Auth's (the session data is its user row): seen by the next
    // request, and `update_user_sessions` is not ours to do.
    let bob_id = bob.user["id"].as_str().unwrap();
    node(
        &options,
        json!([{ "op": "setRole", "userId": bob_id, "role": "admin" }]),
    )
    .await;
    assert_eq!(
        with_cookies(&app, "GET", "/admin", &bob.cookies)
            .await
            .status,
        StatusCode::OK
    );
    node(
        &options,
        json!([{ "op": "setRole", "userId": bob_id, "role": "user" }]),
    )
    .await;
    assert_eq!(
        with_cookies(&app, "GET", "/admin", &bob.cookies)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = with_cookies(&app, "POST", &format!("/user-sessions/{bob_id}"), "").await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);

    // Bad input: no session, never a 500.
    let mut tampered = alice.token.clone().into_bytes();
    tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let other_secret = node(
        &json!({ "database": url, "secret": OTHER_SECRET }),
        json!([sign_up("Mallory", "mallory@example.com")]),
    )
    .await;
    let mallory = SignedIn::read(&other_secret[0], TOKEN_COOKIE);
    for (what, cookie) in [
        (
            "tampered token",
            format!("{TOKEN_COOKIE}={tampered}.{}", alice.signature()),
        ),
        (
            "another secret's signature",
            mallory.session_cookie(TOKEN_COOKIE),
        ),
        (
            "bob's signature on alice's token",
            format!("{TOKEN_COOKIE}={}.{}", alice.token, bob.signature()),
        ),
        ("unsigned token", format!("{TOKEN_COOKIE}={}", alice.token)),
        ("garbage", format!("{TOKEN_COOKIE}=%%%..%zz")),
        ("oversized", format!("{TOKEN_COOKIE}={}", "a".repeat(5000))),
    ] {
        let r = with_cookies(&app, "GET", "/me", &cookie).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(r.body["error"].is_string(), "{what}");
        assert!(!r.set_cookie, "{what}");
        let r = with_cookies(&app, "GET", "/optional", &cookie).await;
        assert_eq!(r.body, json!({ "session": false }), "{what}");
    }

    // The bearer plugin: the signed `set-auth-token`, percent-encoded or not, and the bare
    // token (which the plugin accepts unless `requireSignature`).
    let auth_token = alice.auth_token.clone().expect("set-auth-token");
    for token in [
        auth_token.as_str(),
        alice.signed.as_str(),
        alice.token.as_str(),
    ] {
        let r = bearer(&app, "/me", token).await;
        assert_eq!(r.status, StatusCode::OK, "bearer {token:.8}");
        assert_eq!(r.body["user_id"], alice_id);
    }
    let strict = self::app(
        pool.clone(),
        config.clone().bearer_requires_signature(true),
        clock.clone(),
    );
    assert_eq!(
        bearer(&strict, "/me", &auth_token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        bearer(&strict, "/me", &alice.token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let forged = format!("{}.{}", alice.token, bob.signature());
    assert_eq!(
        bearer(&app, "/me", &forged).await.status,
        StatusCode::UNAUTHORIZED
    );

    // `session.disableSessionRefresh`: never extended.
    let no_refresh = self::app(
        pool.clone(),
        config.clone().session_refresh(false),
        clock.clone(),
    );
    control.set(t0 + UPDATE_AGE + Duration::minutes(1));
    let r = with_cookies(&no_refresh, "GET", "/me", &alice.cookies).await;
    assert_eq!(r.body["expires_at"], alice_expires, "refresh disabled");
    // Better Auth's extension rule: once `expiresAt - expiresIn + updateAge <= now`.
    control.set(t0 + UPDATE_AGE - Duration::minutes(1));
    let r = with_cookies(&app, "GET", "/me", &alice.cookies).await;
    assert_eq!(r.body["expires_at"], alice_expires, "not due yet");
    let now = t0 + UPDATE_AGE + Duration::minutes(1);
    control.set(now);
    let r = with_cookies(&app, "GET", "/me", &alice.cookies).await;
    assert_eq!(r.status, StatusCode::OK);
    let extended = millis(now + EXPIRES_IN);
    assert_eq!(
        r.body["expires_at"], extended,
        "extended to now + expiresIn"
    );
    assert!(!r.set_cookie, "Better Auth re-sets its own cookie");
    let seen = node(
        &options,
        json!([{ "op": "getSession", "cookie": alice.cookies }]),
    )
    .await;
    assert_eq!(
        iso_millis(&seen[0]["body"]["session"]["expiresAt"]),
        extended,
        "Better Auth reads the extension"
    );
    control.set(now + Duration::hours(23));
    let r = with_cookies(&app, "GET", "/me", &alice.cookies).await;
    assert_eq!(
        r.body["expires_at"], extended,
        "not due again within updateAge"
    );
    // An explicit refresh extends at once.
    let later = now + Duration::hours(23);
    let r = with_cookies(&app, "POST", "/refresh", &alice.cookies).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["expires_at"], millis(later + EXPIRES_IN));
    // Expired rows: with the layer's clock, never the database's.
    control.set(later + EXPIRES_IN + Duration::seconds(1));
    assert_eq!(
        with_cookies(&app, "GET", "/me", &alice.cookies)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    control.set(t0);

    // A sign-in with `rememberMe: false`: Better Auth never extends it, nor does the layer
    // while the request carries its `dont_remember` cookie.
    let short = node(
        &options,
        json!([{ "op": "signIn", "email": "bob@example.com", "password": PASSWORD, "rememberMe": false }]),
    )
    .await;
    let short = SignedIn::read(&short[0], TOKEN_COOKIE);
    assert!(short.cookies.contains("better-auth.dont_remember="));
    let r = with_cookies(&app, "GET", "/me", &short.cookies).await;
    let short_expires = r.body["expires_at"].as_i64().unwrap();
    assert_eq!(r.body["persistent"], false, "not remembered");
    let r = with_cookies(&app, "GET", "/me", &bob.cookies).await;
    assert_eq!(r.body["persistent"], true, "remembered");
    control.set(t0 + Duration::hours(12));
    let r = with_cookies(&app, "GET", "/me", &short.cookies).await;
    assert_eq!(r.body["expires_at"], short_expires, "never extended");

    // The user's live sessions, and revoking them.
    let r = with_cookies(&app, "GET", "/sessions", &bob.cookies).await;
    let listed = r.body.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|s| s["user_id"] == bob.user["id"]));
    let short_id = with_cookies(&app, "GET", "/me", &short.cookies).await.body["session"].clone();
    let r = with_cookies(
        &app,
        "POST",
        &format!("/revoke/{alice_session}"),
        &bob.cookies,
    )
    .await;
    assert_eq!(
        r.body,
        json!({ "revoked": false }),
        "never another user's session"
    );
    let r = with_cookies(&app, "POST", "/revoke-others", &bob.cookies).await;
    assert_eq!(r.body, json!({ "count": 1 }));
    assert_eq!(
        with_cookies(&app, "GET", "/me", &short.cookies)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let r = with_cookies(
        &app,
        "POST",
        &format!("/revoke/{}", short_id.as_str().unwrap()),
        &bob.cookies,
    )
    .await;
    assert_eq!(r.body, json!({ "revoked": false }), "already gone");

    // Read-mostly: sessions are made by Better Auth.
    let r = with_cookies(&app, "POST", "/login", &alice.cookies).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);

    // Signed out by Better Auth: no session here either.
    node(
        &options,
        json!([{ "op": "signOut", "cookie": bob.cookies }]),
    )
    .await;
    assert_eq!(
        with_cookies(&app, "GET", "/me", &bob.cookies).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Logout here deletes the row: Better Auth finds no session either.
    let r = with_cookies(&app, "POST", "/logout", &alice.cookies).await;
    assert_eq!(r.body, json!({ "ended": true }));
    let seen = node(
        &options,
        json!([{ "op": "getSession", "cookie": alice.cookies }]),
    )
    .await;
    assert_eq!(seen[0]["body"], Value::Null, "Better Auth sees the logout");
    assert_eq!(
        with_cookies(&app, "GET", "/me", &alice.cookies)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Every session of a user, by the user's id (an admin tool: no session needed), and no
    // one else's.
    let sign_in = |email: &str| json!({ "op": "signIn", "email": email, "password": PASSWORD });
    let again = node(
        &options,
        json!([
            sign_in("bob@example.com"),
            sign_in("bob@example.com"),
            sign_in("alice@example.com")
        ]),
    )
    .await;
    let [bob_a, bob_b, alice_again] = [0, 1, 2].map(|i| SignedIn::read(&again[i], TOKEN_COOKIE));
    let bob_id = bob.user["id"].as_str().unwrap();
    let r = with_cookies(&app, "POST", &format!("/revoke-all/{bob_id}"), "").await;
    assert_eq!(r.body, json!({ "count": 2 }), "{backend:?}");
    for (who, cookies, status) in [
        ("bob", &bob_a.cookies, StatusCode::UNAUTHORIZED),
        ("bob", &bob_b.cookies, StatusCode::UNAUTHORIZED),
        ("alice", &alice_again.cookies, StatusCode::OK),
    ] {
        let r = with_cookies(&app, "GET", "/me", cookies).await;
        assert_eq!(r.status, status, "{backend:?}: {who}");
    }
    logs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sessions_made_by_better_auth() {
    scenario(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_sessions_made_by_better_auth() {
    scenario(Backend::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sessions_made_by_better_auth() {
    scenario(Backend::Sqlite).await;
}
