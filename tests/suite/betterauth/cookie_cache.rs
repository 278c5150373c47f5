//! The cookie cache, in each of Better Auth's strategies (compact, jwt, jwe).

use super::*;

async fn cookie_cache(strategy: CookieCacheStrategy, name: &str) {
    if !better_auth_available() {
        return;
    }
    let Some((url, pool)) = fresh(Backend::Sqlite).await else {
        return;
    };
    // The admin plugin adds user fields that the layer's schema below does not name.
    let options = json!({ "database": url, "secret": SECRET, "cookieCache": name, "admin": true });
    // Ivy's long name makes Better Auth split her cache cookie into chunks.
    let long_name = "Ivy".repeat(1000);
    let out = node(
        &options,
        json!([
            { "op": "migrate" },
            sign_up("Carol", "carol@example.com"),
            sign_up("Dave", "dave@example.com"),
            sign_up(&long_name, "ivy@example.com"),
        ]),
    )
    .await;
    let carol = SignedIn::read(&out[1], TOKEN_COOKIE);
    let dave = SignedIn::read(&out[2], TOKEN_COOKIE);
    let ivy = SignedIn::read(&out[3], TOKEN_COOKIE);
    assert!(
        ivy.cookies.contains(&format!("{CACHE_COOKIE}.1=")),
        "{name}: a chunked cache cookie"
    );
    assert!(
        carol.cookies.contains(CACHE_COOKIE),
        "{name}: a cache cookie"
    );
    let carol_cache = cookie_value(&carol.cookies, CACHE_COOKIE);
    let dave_cache = cookie_value(&dave.cookies, CACHE_COOKIE);
    let (clock, control, t0) = now_clock();
    let cached = app(
        pool.clone(),
        on_http().cookie_cache(strategy),
        clock.clone(),
    );
    let uncached = app(pool, on_http(), clock);
    let r = with_cookies(&cached, "GET", "/data", &carol.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "{name}");
    assert_eq!(r.body["email"], "carol@example.com");
    // The same user data from the cache as from the database: the fields the schema names.
    let from_database = with_cookies(&uncached, "GET", "/data", &carol.cookies).await;
    assert_eq!(
        r.body, from_database.body,
        "{name}: cache and database agree"
    );

    // Signed out elsewhere (the row is gone, this browser keeps its cookies): Better Auth
    // answers from the cache within maxAge, and so does the layer with the cache on.
    let carol_session_only = carol.session_cookie(TOKEN_COOKIE);
    node(
        &options,
        json!([{ "op": "signOut", "cookie": carol_session_only }]),
    )
    .await;
    let seen = node(
        &options,
        json!([{ "op": "getSession", "cookie": carol.cookies }]),
    )
    .await;
    assert_eq!(
        seen[0]["body"]["user"]["email"], "carol@example.com",
        "{name}: Better Auth's cache"
    );
    let r = with_cookies(&cached, "GET", "/me", &carol.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "{name}: answered from the cache");
    assert_eq!(
        with_cookies(&uncached, "GET", "/me", &carol.cookies)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "{name}: without the cache, the database says signed out"
    );
    // A chunked cache cookie is joined: answered from the cache after a sign-out elsewhere.
    node(
        &options,
        json!([{ "op": "signOut", "cookie": ivy.session_cookie(TOKEN_COOKIE) }]),
    )
    .await;
    let r = with_cookies(&cached, "GET", "/data", &ivy.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "{name}: Ivy's chunks");
    assert_eq!(r.body["name"], long_name.as_str());
    // A cache cookie never stands alone, never belongs to another token, never outlives maxAge.
    for (what, cookies) in [
        ("cache alone", format!("{CACHE_COOKIE}={carol_cache}")),
        (
            "dave's cache with carol's token",
            format!("{carol_session_only}; {CACHE_COOKIE}={dave_cache}"),
        ),
        (
            "tampered cache",
            format!(
                "{carol_session_only}; {CACHE_COOKIE}={}",
                tamper(&carol_cache)
            ),
        ),
    ] {
        let r = with_cookies(&cached, "GET", "/me", &cookies).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {what}");
    }
    let r = with_cookies(
        &cached,
        "GET",
        "/me",
        &format!(
            "{}; {CACHE_COOKIE}={dave_cache}",
            dave.session_cookie(TOKEN_COOKIE)
        ),
    )
    .await;
    assert_eq!(
        r.body["email"], "dave@example.com",
        "{name}: dave's own cache"
    );
    control.set(t0 + Duration::minutes(6));
    assert_eq!(
        with_cookies(&cached, "GET", "/me", &carol.cookies)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "{name}: past maxAge the database decides"
    );
    assert_eq!(
        with_cookies(&cached, "GET", "/me", &dave.cookies)
            .await
            .status,
        StatusCode::OK,
        "{name}: a live session past maxAge comes from the database"
    );
}

/// `value` with one character in its middle changed.
fn tamper(value: &str) -> String {
    let mut bytes = value.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compact_cookie_cache() {
    cookie_cache(CookieCacheStrategy::Compact, "compact").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jwt_cookie_cache() {
    cookie_cache(CookieCacheStrategy::Jwt, "jwt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jwe_cookie_cache() {
    cookie_cache(CookieCacheStrategy::Jwe, "jwe").await;
}
