//! `sessionward::testing` as an application's tests use it: `SignedIn` makes a working session
//! in one call on both strategies, through the real strategy (the store holds the hash of the
//! very token the header carries), and `ManualClock` moves the layer's time; plus what the
//! testing docs say about `Host` and `Origin` on in-process requests.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sessionward::testing::SignedIn;
use sessionward::{Clock, MemoryStore, SessionConfig, SessionLayer, SessionStore, SessionToken};
use time::Duration;
use tower::ServiceExt as _;

use crate::support::{Data, Reply, START, jwt_config, router};

fn admin() -> Data {
    Data {
        role: "admin".into(),
        items: vec!["reports".into()],
    }
}

/// The layers a test builds: database sessions on `store`, JWT sessions on its revocations.
fn layers(store: &MemoryStore, config: SessionConfig) -> [(&'static str, SessionLayer); 2] {
    [
        (
            "database",
            SessionLayer::database(store.clone(), config.clone()),
        ),
        (
            "jwt",
            SessionLayer::jwt(jwt_config(), store.clone(), config),
        ),
    ]
}

async fn get(layer: &SessionLayer, path: &str, session: &SignedIn) -> Reply {
    let request = session
        .request(Request::get(path))
        .body(Body::empty())
        .unwrap();
    let response = router(layer.clone()).oneshot(request).await.unwrap();
    Reply::read(response).await
}

#[tokio::test]
async fn one_call_gives_a_working_cookie_or_bearer_session_on_both_strategies() {
    let store = MemoryStore::new();
    for (strategy, layer) in layers(&store, SessionConfig::default()) {
        let by_cookie = SignedIn::cookie(&layer, "alice", &admin()).await.unwrap();
        let by_bearer = SignedIn::bearer(&layer, "bob", &admin()).await.unwrap();
        assert_eq!(by_cookie.header().0, header::COOKIE);
        assert_eq!(by_bearer.header().0, header::AUTHORIZATION);
        for (who, session) in [("alice", &by_cookie), ("bob", &by_bearer)] {
            let me = get(&layer, "/me", session).await;
            assert_eq!(me.status, StatusCode::OK, "{strategy} {who}: {}", me.body);
            assert_eq!(me.json()["user_id"], who, "{strategy}");
            assert_eq!(me.json()["role"], "admin", "{strategy}: the data is D");
            let admin_area = get(&layer, "/admin", session).await;
            assert_eq!(
                admin_area.status,
                StatusCode::OK,
                "{strategy}: guards see D"
            );
            assert_eq!(session.info().user_id, who);
        }
        assert!(!format!("{by_cookie:?}").contains(by_cookie.header().1.to_str().unwrap()));
    }
}

/// No back door: the cookie carries a token the strategy generated, and the store holds only
/// its SHA-256, as after a real login.
#[tokio::test]
async fn the_session_is_made_by_the_real_strategy() {
    let store = MemoryStore::new();
    let layer = SessionLayer::database(store.clone(), SessionConfig::default());
    let alice = SignedIn::cookie(&layer, "alice", &admin()).await.unwrap();
    let (_, value) = alice.header();
    let token = value.to_str().unwrap().strip_prefix("session-id=").unwrap();
    let token = SessionToken::parse(token).expect("a generated token");
    let stored = store
        .load(&token.hash())
        .await
        .unwrap()
        .expect("stored by hash");
    assert_eq!(stored.user_id, "alice");
    assert_eq!(stored.id, alice.info().id);
    let data: Data = serde_json::from_str(&stored.data).unwrap();
    assert_eq!(data, admin());
}

/// The layer's own clock decides: a `ManualClock` moved past the lifetime ends the session.
#[tokio::test]
async fn a_manual_clock_moves_the_session_to_its_expiry() {
    let store = MemoryStore::new();
    let (clock, control) = Clock::manual(START);
    for (strategy, layer) in layers(&store, SessionConfig::default().clock(clock)) {
        let alice = SignedIn::cookie(&layer, "alice", &admin()).await.unwrap();
        assert_eq!(get(&layer, "/me", &alice).await.status, StatusCode::OK);
        control.advance(Duration::days(91));
        let expired = get(&layer, "/me", &alice).await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED, "{strategy}");
        assert!(expired.clears_cookie(), "{strategy}");
    }
}

/// What the testing docs tell a test author: in-process requests need neither `Host` nor
/// `Origin`; a test that sends `Origin` (a browser's POST) needs the matching `Host`.
#[tokio::test]
async fn in_process_posts_need_host_only_when_they_send_origin() {
    let store = MemoryStore::new();
    let layer = SessionLayer::database(store, SessionConfig::default());
    let alice = SignedIn::cookie(&layer, "alice", &admin()).await.unwrap();
    let post = |origin: Option<&str>, host: Option<&str>| {
        let mut builder = alice.request(Request::post("/page"));
        if let Some(origin) = origin {
            builder = builder.header(header::ORIGIN, origin);
        }
        if let Some(host) = host {
            builder = builder.header(header::HOST, host);
        }
        builder.body(Body::empty()).unwrap()
    };
    let cases = [
        (None, None, StatusCode::OK),
        (Some("http://app.test"), Some("app.test"), StatusCode::OK),
        (Some("http://app.test"), None, StatusCode::FORBIDDEN),
        (
            Some("http://evil.test"),
            Some("app.test"),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (origin, host, want) in cases {
        let response = router(layer.clone())
            .oneshot(post(origin, host))
            .await
            .unwrap();
        assert_eq!(response.status(), want, "Origin {origin:?}, Host {host:?}");
    }
}
