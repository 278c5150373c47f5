//! The recipes of docs/recipes.md that no other module already proves: the session in a
//! `from_fn` middleware, and login and logout forms without CSRF holes. The code under test is
//! the recipes' code.

use axum::Router;
use axum::body::Body;
use axum::extract::{Form, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sessionward::testing::SignedIn;
use sessionward::{
    MemoryStore, Session, SessionConfig, SessionLayer, Sessions, safe_redirect_target,
};
use tower::ServiceExt as _;

use crate::support::Reply;

// Recipe: the session in a `from_fn` middleware.

/// Names the user in an `x-user` header of every response (an audit log would do the same).
async fn audit(
    session: Option<Session<serde_json::Value>>,
    request: Request,
    next: Next,
) -> Response {
    let user = session.map_or_else(|| "anonymous".to_owned(), |s| s.user_id().to_owned());
    let mut response = next.run(request).await;
    let value = HeaderValue::from_str(&user).unwrap_or(HeaderValue::from_static("?"));
    response.headers_mut().insert("x-user", value);
    response
}

fn audited(layer: SessionLayer) -> Router {
    Router::new()
        .route(
            "/me",
            get(|s: Session<serde_json::Value>| async move { s.user_id().to_owned() }),
        )
        .route("/public", get(|| async { "public" }))
        .layer(middleware::from_fn(audit)) // inside the session layer:
        .layer(layer) // the layer added last runs first
}

#[tokio::test]
async fn a_from_fn_middleware_reads_the_session() {
    let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
    let alice = SignedIn::cookie(&layer, "alice", &serde_json::json!({}))
        .await
        .unwrap();
    for (path, session, user, status) in [
        ("/me", Some(&alice), "alice", StatusCode::OK),
        ("/public", Some(&alice), "alice", StatusCode::OK),
        ("/public", None, "anonymous", StatusCode::OK),
        ("/me", None, "anonymous", StatusCode::UNAUTHORIZED),
    ] {
        let mut request = Request::get(path);
        if let Some(session) = session {
            request = session.request(request);
        }
        let response = audited(layer.clone())
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(response.headers()["x-user"], user, "{path}");
    }
}

// Recipe: login and logout forms without CSRF holes.

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// Stands in for the application's password check (argon2 in examples/demo).
fn check_password(username: &str, password: &str) -> Option<String> {
    (username == "alice" && password == "wonderland").then(|| "user-42".to_owned())
}

async fn login(
    sessions: Sessions,
    Form(form): Form<LoginForm>,
) -> Result<Redirect, sessionward::Error> {
    let Some(user_id) = check_password(&form.username, &form.password) else {
        return Ok(Redirect::to("/login?failed=1"));
    };
    // A new token: whatever session the browser came with is ended (no session fixation).
    sessions
        .login(user_id, &serde_json::json!({ "name": form.username }))
        .await?;
    // Only a path of this site: no open redirect through `next`.
    let next = form.next.as_deref().and_then(safe_redirect_target);
    Ok(Redirect::to(next.unwrap_or("/")))
}

async fn logout(sessions: Sessions) -> Result<Redirect, sessionward::Error> {
    sessions.logout().await?;
    Ok(Redirect::to("/"))
}

fn forms(layer: SessionLayer) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout)) // POST only: a link or <img> cannot log anyone out
        .route(
            "/me",
            get(|s: Session<serde_json::Value>| async move { s.user_id().to_owned() }),
        )
        .layer(layer)
}

/// A form POST as a browser sends it: `site` is `Sec-Fetch-Site`, `origin` the `Origin`.
fn form_post(
    path: &str,
    body: &str,
    site: &str,
    origin: &str,
    cookie: Option<&SignedIn>,
) -> Request {
    let mut request = Request::post(path)
        .header(header::HOST, "app.test")
        .header(header::ORIGIN, origin)
        .header("sec-fetch-site", site)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(session) = cookie {
        request = session.request(request);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn login_and_logout_forms_have_no_csrf_holes() {
    let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
    let app = forms(layer.clone());
    let send = |request| async { Reply::read(app.clone().oneshot(request).await.unwrap()).await };
    let own = ("same-origin", "http://app.test");
    let evil = ("cross-site", "https://evil.example");
    let good = "username=alice&password=wonderland&next=%2Fdashboard";

    // Our own form: signed in, sent on to a path of ours, cookie Lax and HttpOnly.
    let reply = send(form_post("/login", good, own.0, own.1, None)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(reply.headers[header::LOCATION], "/dashboard");
    let cookie = &reply.set_cookies()[0];
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    // `next` pointing elsewhere goes home instead.
    let offsite = "username=alice&password=wonderland&next=https%3A%2F%2Fevil.example";
    let reply = send(form_post("/login", offsite, own.0, own.1, None)).await;
    assert_eq!(reply.headers[header::LOCATION], "/");

    // Another site's form cannot sign the visitor in to an account of its choosing.
    let forged = send(form_post("/login", good, evil.0, evil.1, None)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(forged.set_cookies(), Vec::<String>::new());

    // Nor sign them out; a GET cannot either; our own form can.
    let alice = SignedIn::cookie(&layer, "user-42", &serde_json::json!({}))
        .await
        .unwrap();
    let forged = send(form_post("/logout", "", evil.0, evil.1, Some(&alice))).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let link = alice
        .request(Request::get("/logout"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(link).await.status, StatusCode::METHOD_NOT_ALLOWED);
    let me = alice
        .request(Request::get("/me"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(me).await.status, StatusCode::OK, "still signed in");
    let reply = send(form_post("/logout", "", own.0, own.1, Some(&alice))).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(reply.clears_cookie());
    let me = alice
        .request(Request::get("/me"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(me).await.status,
        StatusCode::UNAUTHORIZED,
        "signed out"
    );
}
