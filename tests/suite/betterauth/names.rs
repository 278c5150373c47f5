//! Cookie names (`__Secure-`, a custom prefix) and schema options (renamed models and columns,
//! plural tables).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_prefix_custom_prefix_and_custom_tables() {
    if !better_auth_available() {
        return;
    }
    let Some((url, pool)) = fresh(Backend::Sqlite).await else {
        return;
    };
    // An https app with `advanced.cookiePrefix`, its user and session models renamed and
    // columns mapped, and the cookie cache on.
    let options = json!({
        "database": url, "secret": SECRET, "baseURL": "https://app.example.com",
        "cookiePrefix": "my-app", "custom": true, "cookieCache": "jwe",
    });
    let out = node(
        &options,
        json!([{ "op": "migrate" }, sign_up("Erin", "erin@example.com")]),
    )
    .await;
    let secure_name = "__Secure-my-app.session_token";
    let erin = SignedIn::read(&out[1], secure_name);
    let (clock, _control, _) = now_clock();
    let schema = BetterAuthSchema::default()
        .user_table("member")
        .session_table("login")
        .user_column("emailVerified", "email_verified")
        .session_column("expiresAt", "expires_at");
    let app = app(
        pool.clone(),
        BetterAuthConfig::new(SECRET)
            .cookie_prefix("my-app")
            .schema(schema.clone()),
        clock.clone(),
    );
    let r = with_cookies(&app, "GET", "/data", &erin.cookies).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["email"], "erin@example.com");
    assert_eq!(r.body["emailVerified"], false);
    // The same signed value under the plain name is no session on this https app: Better
    // Auth never sets it there, so it was planted (by a sibling subdomain or over plain http:
    // cookie tossing) and would sign a browser in to the planter's session. The layer of an
    // app on plain http reads it (and no `__Secure-` cookie); under the default prefix it is
    // no session.
    let plain = erin.session_cookie("my-app.session_token");
    assert_eq!(
        with_cookies(&app, "GET", "/me", &plain).await.status,
        StatusCode::UNAUTHORIZED
    );
    let http = self::app(
        pool.clone(),
        on_http().cookie_prefix("my-app").schema(schema.clone()),
        clock.clone(),
    );
    assert_eq!(
        with_cookies(&http, "GET", "/me", &plain).await.status,
        StatusCode::OK
    );
    assert_eq!(
        with_cookies(&http, "GET", "/me", &erin.cookies)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let default_name = erin.session_cookie(TOKEN_COOKIE);
    assert_eq!(
        with_cookies(&app, "GET", "/me", &default_name).await.status,
        StatusCode::UNAUTHORIZED
    );
    let default_prefix = self::app(
        pool.clone(),
        BetterAuthConfig::new(SECRET).schema(schema.clone()),
        clock.clone(),
    );
    assert_eq!(
        with_cookies(&default_prefix, "GET", "/me", &erin.cookies)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // The cache cookie of the same prefix and the same `__Secure-` form as the session cookie.
    let cache_name = "__Secure-my-app.session_data";
    assert!(erin.cookies.contains(cache_name), "{}", erin.cookies);
    let cached = self::app(
        pool,
        BetterAuthConfig::new(SECRET)
            .cookie_prefix("my-app")
            .cookie_cache(CookieCacheStrategy::Jwe)
            .schema(schema),
        clock,
    );
    node(
        &options,
        json!([{ "op": "signOut", "cookie": erin.session_cookie(secure_name) }]),
    )
    .await;
    let r = with_cookies(&cached, "GET", "/data", &erin.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "answered from the cache");
    assert_eq!(r.body["email"], "erin@example.com");
    assert_eq!(
        with_cookies(&app, "GET", "/me", &erin.cookies).await.status,
        StatusCode::UNAUTHORIZED,
        "signed out in the database"
    );
    // A plain-named cache beside a `__Secure-` session cookie belongs to another cookie jar.
    let cache = cookie_value(&erin.cookies, cache_name);
    let mixed = format!(
        "{}; my-app.session_data={cache}",
        erin.session_cookie(secure_name)
    );
    assert_eq!(
        with_cookies(&cached, "GET", "/me", &mixed).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plural_tables() {
    if !better_auth_available() {
        return;
    }
    let Some((url, pool)) = fresh(Backend::Sqlite).await else {
        return;
    };
    // The adapter's `usePlural`: tables `users` and `sessions`.
    let options = json!({ "database": url, "secret": SECRET, "plural": true });
    let out = node(
        &options,
        json!([{ "op": "migrate" }, sign_up("Fay", "fay@example.com")]),
    )
    .await;
    let fay = SignedIn::read(&out[1], TOKEN_COOKIE);
    let (clock, _control, _) = now_clock();
    let plural = BetterAuthSchema::default().use_plural(true);
    let app = app(pool.clone(), on_http().schema(plural), clock.clone());
    let r = with_cookies(&app, "GET", "/data", &fay.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["email"], "fay@example.com");
    // Configured for singular tables, the layer finds none: a broken deployment, not a
    // signed-out user.
    let singular = self::app(pool, on_http(), clock);
    assert_eq!(
        with_cookies(&singular, "GET", "/me", &fay.cookies)
            .await
            .status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}
