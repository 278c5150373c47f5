//! Failures: bad signatures never reach the database, a database down is 503, bad settings are
//! refused when the layer is built.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_signature_never_reaches_the_database_and_a_database_down_is_503() {
    let layer = SessionLayer::betterauth(
        unreachable_pool(),
        on_http(),
        SessionConfig::default().store_timeout(StdDuration::from_millis(500)),
    );
    let app = Router::new().route("/me", get(me)).layer(layer);
    // Any query would be a 503 here: these (a signature made with another secret, none,
    // nothing) are 401 at once.
    let token = "Vgp9ZpuJ0IcfkuFv29vekdlUlnTalwwO";
    for cookie in [
        format!("{TOKEN_COOKIE}={}", sign(token, OTHER_SECRET)),
        format!("{TOKEN_COOKIE}={token}"),
        format!("{TOKEN_COOKIE}="),
        format!("{TOKEN_COOKIE}=.x"),
        format!("__Secure-{TOKEN_COOKIE}={}", sign(token, OTHER_SECRET)),
        // A cache cookie beside a session cookie that is not the secret's, or alone.
        format!(
            "{TOKEN_COOKIE}={}; {CACHE_COOKIE}=eyJzZXNzaW9uIjp7fX0",
            sign(token, OTHER_SECRET)
        ),
        format!("{CACHE_COOKIE}=eyJzZXNzaW9uIjp7fX0"),
    ] {
        let r = with_cookies(&app, "GET", "/me", &cookie).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{cookie}");
    }
    // Bearer tokens signed with another secret, percent-encoded or not, and ones that cannot be
    // a token (a bare token of the right shape is looked up: the plugin accepts bare tokens).
    let foreign = sign(token, OTHER_SECRET);
    let foreign_decoded = foreign
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    let oversized = "x".repeat(256);
    for bearer_token in [foreign.as_str(), &foreign_decoded, "a b", &oversized] {
        let r = bearer(&app, "/me", bearer_token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bearer_token:.20}");
    }
    let strict = SessionLayer::betterauth(
        unreachable_pool(),
        on_http().bearer_requires_signature(true),
        SessionConfig::default().store_timeout(StdDuration::from_millis(500)),
    );
    let strict = Router::new().route("/me", get(me)).layer(strict);
    let r = bearer(&strict, "/me", token).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "an unsigned bearer token"
    );
    // A correctly signed token needs the database, which is down: 503, fail closed.
    let signed = sign(token, SECRET);
    let r = with_cookies(&app, "GET", "/me", &format!("{TOKEN_COOKIE}={signed}")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_and_lifetimes_are_refused_when_the_layer_is_built() {
    let refused = |better_auth: BetterAuthConfig, config: SessionConfig| {
        crate::support::start_up_refusal(|| {
            SessionLayer::betterauth(unreachable_pool(), better_auth, config)
        })
    };
    let ok = SessionConfig::default;
    let good = || on_http();
    assert_eq!(refused(good(), ok()), None);
    for (what, config) in [
        (
            "table",
            good().schema(BetterAuthSchema::default().user_table("user; DROP TABLE x")),
        ),
        (
            "column",
            good().schema(BetterAuthSchema::default().session_column("token", "to\"ken")),
        ),
        ("cookie", good().cookie_prefix("bad prefix")),
        ("secret", BetterAuthConfig::new("")),
    ] {
        assert!(refused(config, ok()).is_some(), "{what}");
    }
    let message = refused(good(), ok().absolute_timeout(Duration::days(30)));
    assert!(message.unwrap().contains("absolute_timeout"));
    // Sign-ins are Better Auth's: no device limit to enforce here.
    let message = refused(good(), ok().max_sessions_per_user(3));
    assert!(message.unwrap().contains("max_sessions_per_user"));
}

/// Better Auth deletes the row (a sign-out everywhere) between the layer's read of a session
/// due for extension and its conditional update, which then writes nothing. The request used
/// to be served the session as read; Better Auth answers such a request as signed out, and so
/// does the layer now, having read the row again. (A trigger makes the race certain: it
/// deletes the row the update is about to change, and skips the update.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_deleted_while_it_is_extended_is_no_session() {
    let Some((url, pool, ivy)) =
        one_user_signed_up(Backend::Postgres, "Ivy", "ivy@example.com").await
    else {
        return;
    };
    let raw = sqlx::PgPool::connect(&url).await.unwrap();
    for statement in [
        r#"CREATE FUNCTION signed_out_meanwhile() RETURNS trigger AS $$
           BEGIN DELETE FROM "session" WHERE "id" = OLD."id"; RETURN NULL; END
           $$ LANGUAGE plpgsql"#,
        r#"CREATE TRIGGER signed_out_meanwhile BEFORE UPDATE ON "session"
           FOR EACH ROW EXECUTE FUNCTION signed_out_meanwhile()"#,
    ] {
        sqlx::query(statement).execute(&raw).await.unwrap();
    }
    // Past Better Auth's update point: the lookup extends the session.
    let (clock, control, _) = now_clock();
    control.advance(UPDATE_AGE + Duration::minutes(1));
    let app = app(pool, on_http(), clock);
    let r = with_cookies(&app, "GET", "/me", &ivy.cookies).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let left: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "session""#)
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(left, 0, "the row stays deleted");
}

/// `Sessions::refresh` extends only what Better Auth would: never with `session_refresh(false)`
/// (the app's `disableSessionRefresh`), never a `rememberMe: false` session, and never to an
/// expiry sooner than the row's (a layer whose `max_age` is shorter than the app's
/// `expiresIn`). Each was written before: extended anyway, or shortened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_extends_only_what_better_auth_would_and_never_shortens() {
    if !better_auth_available() {
        return;
    }
    let Some((url, pool)) = fresh(Backend::Sqlite).await else {
        return;
    };
    let options = json!({ "database": url, "secret": SECRET });
    let out = node(
        &options,
        json!([
            { "op": "migrate" },
            sign_up("Jo", "jo@example.com"),
            { "op": "signIn", "email": "jo@example.com", "password": PASSWORD, "rememberMe": false },
        ]),
    )
    .await;
    let jo = SignedIn::read(&out[1], TOKEN_COOKIE);
    let forgetful = SignedIn::read(&out[2], TOKEN_COOKIE);
    let (clock, _control, now) = now_clock();
    let expires = |app: Router, who: String| async move {
        let r = with_cookies(&app, "GET", "/me", &who).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["expires_at"].as_i64().unwrap()
    };
    let before = expires(
        app(pool.clone(), on_http(), clock.clone()),
        jo.cookies.clone(),
    )
    .await;
    let never = app(
        pool.clone(),
        on_http().session_refresh(false),
        clock.clone(),
    );
    let r = with_cookies(&never, "POST", "/refresh", &jo.cookies).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{}", r.body);
    let usual = app(pool.clone(), on_http(), clock.clone());
    let r = with_cookies(&usual, "POST", "/refresh", &forgetful.cookies).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{}", r.body);
    let short = app_with(
        pool.clone(),
        on_http(),
        SessionConfig::default()
            .clock(clock.clone())
            .max_age(Duration::hours(1))
            .update_age(Duration::minutes(5)),
    );
    let r = with_cookies(&short, "POST", "/refresh", &jo.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let after = expires(app(pool, on_http(), clock), jo.cookies.clone()).await;
    assert_eq!(after, before, "unchanged: neither extended nor shortened");
    assert!(after > millis(now + Duration::days(6)));
}

/// Better Auth never deletes an expired session row and makes one at every sign-in, so a
/// user's rows only grow. `list` used to read every one of them (expired ones dropped in
/// Rust); it reads the live ones, the latest first, at most 1,000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_reads_the_live_sessions_only_and_at_most_a_thousand() {
    let Some((url, pool, kim)) =
        one_user_signed_up(Backend::Sqlite, "Kim", "kim@example.com").await
    else {
        return;
    };
    let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
    // 1,200 more sessions of Kim's that ended last year, and 1,100 live ones.
    for (count, expires) in [
        (1_200, "2025-01-01T00:00:00.000Z"),
        (1_100, "2099-01-01T00:00:00.000Z"),
    ] {
        sqlx::query(
            r#"INSERT INTO "session" ("id", "token", "userId", "expiresAt", "createdAt", "updatedAt")
               WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
               SELECT 'extra-' || ?2 || '-' || i, 'token-' || ?2 || '-' || i,
                      (SELECT "id" FROM "user"), ?2, '2024-01-01T00:00:00.000Z',
                      '2024-01-01T00:00:00.000Z'
               FROM n"#,
        )
        .bind(count)
        .bind(expires)
        .execute(&raw)
        .await
        .unwrap();
    }
    let (clock, _control, _) = now_clock();
    let app = app(pool, on_http(), clock);
    let r = with_cookies(&app, "GET", "/sessions", &kim.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let listed = r.body.as_array().unwrap();
    assert_eq!(listed.len(), 1_000);
}
