//! sessionward next to the cookie jars applications already use: tower-cookies'
//! `CookieManagerLayer` (in either layer order) and axum-extra's `CookieJar` and
//! `PrivateCookieJar`. Both `Set-Cookie` headers survive, each side reads its own cookie from a
//! request that carries both, and our `Cache-Control: no-store` replaces the application's on
//! a response that sets the session cookie (the README's "With tower-cookies or axum-extra").

use axum::body::Body;
use axum::extract::FromRef;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, Key, PrivateCookieJar};
use sessionward::testing::SignedIn;
use sessionward::{MemoryStore, Session, SessionConfig, SessionLayer, Sessions};
use tower::ServiceExt as _;
use tower_cookies::{CookieManagerLayer, Cookies};

use crate::support::{Data, Reply};

fn data() -> Data {
    Data {
        role: "user".into(),
        items: vec![],
    }
}

/// Sends `request` through `app`.
async fn send(app: Router, request: Request<Body>) -> Reply {
    Reply::read(app.oneshot(request).await.unwrap()).await
}

/// The names of the cookies a reply sets.
fn names(reply: &Reply) -> Vec<String> {
    let mut names: Vec<String> = reply
        .set_cookies()
        .iter()
        .map(|c| c.split('=').next().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn tower_cookies_routes() -> Router {
    Router::new()
        .route(
            "/login",
            post(|sessions: Sessions, cookies: Cookies| async move {
                cookies.add(tower_cookies::Cookie::new("theme", "dark"));
                sessions.login("alice", &data()).await.map(|_| "welcome")
            }),
        )
        .route(
            "/both",
            get(|session: Session<Data>, cookies: Cookies| async move {
                let theme = cookies.get("theme").map(|c| c.value().to_owned());
                Json(serde_json::json!({ "user": session.user_id(), "theme": theme }))
            }),
        )
}

#[tokio::test]
async fn tower_cookies_and_our_cookie_survive_in_either_layer_order() {
    let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
    let orders = [
        (
            "CookieManagerLayer outside",
            tower_cookies_routes()
                .layer(layer.clone())
                .layer(CookieManagerLayer::new()),
        ),
        (
            "SessionLayer outside",
            tower_cookies_routes()
                .layer(CookieManagerLayer::new())
                .layer(layer.clone()),
        ),
    ];
    for (order, app) in orders {
        let login = send(
            app.clone(),
            Request::post("/login").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(login.status, StatusCode::OK, "{order}: {}", login.body);
        assert_eq!(names(&login), ["session-id", "theme"], "{order}");

        let alice = SignedIn::cookie(&layer, "alice", &data()).await.unwrap();
        let ours = alice.header().1;
        let both = format!("theme=dark; {}", ours.to_str().unwrap());
        let request = Request::get("/both")
            .header(header::COOKIE, both)
            .body(Body::empty())
            .unwrap();
        let reply = send(app, request).await;
        assert_eq!(reply.status, StatusCode::OK, "{order}: {}", reply.body);
        assert_eq!(
            reply.json(),
            serde_json::json!({ "user": "alice", "theme": "dark" })
        );
        assert_eq!(
            reply.set_cookies(),
            Vec::<String>::new(),
            "{order}: nothing to set"
        );
    }
}

#[derive(Clone)]
struct Keys {
    key: Key,
}

impl FromRef<Keys> for Key {
    fn from_ref(keys: &Keys) -> Key {
        keys.key.clone()
    }
}

#[tokio::test]
async fn axum_extra_jars_and_our_cookie_both_reach_the_browser() {
    let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
    let app = Router::new()
        .route(
            "/login",
            post(|sessions: Sessions, jar: CookieJar| async move {
                sessions.login("alice", &data()).await?;
                Ok::<_, sessionward::Error>((jar.add(Cookie::new("theme", "dark")), "welcome"))
            }),
        )
        .route(
            "/login-private",
            post(|sessions: Sessions, jar: PrivateCookieJar| async move {
                sessions.login("alice", &data()).await?;
                Ok::<_, sessionward::Error>((jar.add(Cookie::new("cart", "3 items")), "welcome"))
            }),
        )
        .route(
            "/both",
            get(|session: Session<Data>, jar: PrivateCookieJar| async move {
                let cart = jar.get("cart").map(|c| c.value().to_owned());
                Json(serde_json::json!({ "user": session.user_id(), "cart": cart }))
            }),
        )
        .with_state(Keys {
            key: Key::generate(),
        })
        .layer(layer);

    let plain = send(
        app.clone(),
        Request::post("/login").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
    assert_eq!(names(&plain), ["session-id", "theme"]);

    let private = send(
        app.clone(),
        Request::post("/login-private").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(private.status, StatusCode::OK, "{}", private.body);
    assert_eq!(names(&private), ["cart", "session-id"]);

    // The browser sends both back: each side reads its own.
    let pairs: Vec<&str> = private
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap())
        .collect();
    let request = Request::get("/both")
        .header(header::COOKIE, pairs.join("; "))
        .body(Body::empty())
        .unwrap();
    let reply = send(app, request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.json(),
        serde_json::json!({ "user": "alice", "cart": "3 items" })
    );
}

/// A response that sets the session cookie is `Cache-Control: no-store`, whatever the handler
/// set: a cached copy would hand the cookie to the next user of a shared cache. Responses that
/// set no session cookie keep the application's header.
#[tokio::test]
async fn our_no_store_replaces_the_apps_cache_control_only_when_we_set_the_cookie() {
    let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
    let cacheable = HeaderValue::from_static("public, max-age=60");
    let app = Router::new()
        .route(
            "/login",
            post(|sessions: Sessions| async move {
                sessions.login("alice", &data()).await?;
                Ok::<_, sessionward::Error>(
                    ([(header::CACHE_CONTROL, "public, max-age=60")], "welcome").into_response(),
                )
            }),
        )
        .route(
            "/page",
            get(|| async { ([(header::CACHE_CONTROL, "public, max-age=60")], "page") }),
        )
        .layer(layer.clone());
    let login = send(
        app.clone(),
        Request::post("/login").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(login.status, StatusCode::OK);
    let controls: Vec<_> = login
        .headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .collect();
    assert_eq!(controls, [HeaderValue::from_static("no-store")]);

    let alice = SignedIn::cookie(&layer, "alice", &data()).await.unwrap();
    let page = send(
        app,
        alice
            .request(Request::get("/page"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.headers.get(header::CACHE_CONTROL), Some(&cacheable));
}
