//! Step-up freshness (issue 17): `require_fresh(max_age)` passes only a session signed in or
//! re-authenticated within `max_age`; `Sessions::reauthenticated()` makes the same session
//! fresh. On every store, database sessions (with and without the cache) and JWT; and rows
//! from before the `authenticated_at` column.

use axum::http::{StatusCode, header};
use time::Duration;

use crate::support::{FRESH_AGE, START, Setup, session_record, user};

suite!(freshness => database, Database; cached, DatabaseCached; jwt, Jwt:
    require_fresh_asks_for_reauthentication_after_max_age,
);

// What `reauthenticate` itself must do is a clause of the public store contract
// (`testing::contract`, run by store_contract.rs); here, rows written before its column.
suite!(freshness => store, Database:
    rows_from_before_the_column_read_their_creation_time,
);

pub async fn require_fresh_asks_for_reauthentication_after_max_age(t: Setup) {
    let app = app!(t);
    // No session: as require_session.
    assert_eq!(
        app.call("GET", "/fresh", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let login = app.login(&user(), "user").await;
    let mut token = login.token().unwrap();
    let id = login.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(login.json()["authenticated_at"], login.json()["created_at"]);
    // Fresh for five minutes after the sign-in, to the second.
    app.clock.advance(FRESH_AGE);
    assert_eq!(
        app.call("GET", "/fresh", Some(&token)).await.status,
        StatusCode::OK
    );
    app.clock.advance(Duration::SECOND);
    let stale = app.call("GET", "/fresh", Some(&token)).await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    assert_eq!(
        stale.json(),
        serde_json::json!({"error": "reauthentication required"})
    );
    assert!(stale.set_cookies().is_empty(), "the session stays");
    // A page sends the browser to re-authenticate, and back.
    let page = app.call("GET", "/fresh-page", Some(&token)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers[header::LOCATION],
        "/reauth-page?next=/fresh-page"
    );
    // The session itself is fine.
    assert_eq!(
        app.call("GET", "/me", Some(&token)).await.status,
        StatusCode::OK
    );
    // Re-authenticated: the same session, fresh from now.
    let reauth = app.call("POST", "/reauth", Some(&token)).await;
    assert_eq!(reauth.status, StatusCode::OK, "{}", reauth.body);
    let info = reauth.json();
    assert_eq!(info["id"].as_str().unwrap(), id, "same session id");
    let now = START + FRESH_AGE + Duration::SECOND;
    let at = time::OffsetDateTime::parse(
        info["authenticated_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((at - now).abs() < Duration::SECOND, "{at} vs {now}");
    if t.is_jwt() {
        token = reauth.token().expect("a JWT carries the time: a new token");
    } else {
        assert!(reauth.set_cookies().is_empty(), "database: same token");
    }
    assert_eq!(
        app.call("GET", "/fresh", Some(&token)).await.status,
        StatusCode::OK
    );
    let me = app.call("GET", "/me", Some(&token)).await;
    assert_eq!(me.json()["id"].as_str().unwrap(), id);
    // And stale again after max_age.
    app.clock.advance(FRESH_AGE + Duration::SECOND);
    assert_eq!(
        app.call("GET", "/fresh", Some(&token)).await.status,
        StatusCode::FORBIDDEN
    );
    // Without a session there is nothing to re-authenticate.
    assert_eq!(
        app.call("POST", "/reauth", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

pub async fn rows_from_before_the_column_read_their_creation_time(t: Setup) {
    let Some(test) = crate::backends::fresh_store(t.backend).await else {
        return;
    };
    let s = &*test.store;
    let mut record = session_record("bob", START);
    record.authenticated_at = START + Duration::hours(1);
    s.create(&record).await.unwrap();
    if !test.forget_authentication_times().await {
        return; // the memory store has no older rows
    }
    let loaded = s.load(&record.token_hash).await.unwrap().unwrap();
    assert_eq!(loaded.authenticated_at, record.created_at);
}
