//! Extractor rejections in axum's style: the narrow `SessionRejection`, default answers that
//! did not change, and one `rejection_responder` shaping the 401/403/503 of extractors, guards
//! and handlers' errors.

use std::time::Duration;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use sessionward::{
    MemoryStore, RejectionContext, Session, SessionConfig, SessionLayer, SessionRejection,
    Sessions, require_role, require_session,
};
use tower::ServiceExt as _;

use crate::faults::{app_with, closed_sqlite_store, routes};
use crate::support::{Data, Reply, request};

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// A responder that names the status and whether the request preferred HTML, and the path.
fn labelling_responder(refusal: &RejectionContext<'_>) -> axum::response::Response {
    let label = format!(
        "custom {} html={} path={}",
        refusal.status().as_u16(),
        refusal.prefers_html(),
        refusal.path()
    );
    (refusal.status(), label).into_response()
}

fn memory_app(config: SessionConfig) -> Router {
    routes().layer(SessionLayer::database(MemoryStore::new(), config))
}

async fn send(app: &Router, path: &str, cookie: Option<&str>, accept: Option<&str>) -> Reply {
    let mut req = request("GET", path, cookie);
    if let Some(accept) = accept {
        req.headers_mut()
            .insert(header::ACCEPT, accept.parse().unwrap());
    }
    Reply::read(app.clone().oneshot(req).await.unwrap()).await
}

async fn login(app: &Router) -> String {
    let reply = Reply::read(
        app.clone()
            .oneshot(request("POST", "/login", None))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.token().expect("a session cookie")
}

/// Handlers can take the rejection itself: its type is the narrow `SessionRejection`, for
/// `Session<D>`, `Option<Session<D>>` and `Sessions` alike, and `?` turns it into `Error`.
#[tokio::test]
async fn extractors_reject_with_the_narrow_session_rejection() {
    let app = Router::new()
        .route(
            "/me",
            get(|s: Result<Session<Data>, SessionRejection>| async move {
                match s {
                    Err(SessionRejection::Unauthenticated) => "unauthenticated".to_owned(),
                    Err(other) => format!("other: {other}"),
                    Ok(s) => s.user_id().to_owned(),
                }
            }),
        )
        .layer(SessionLayer::database(
            MemoryStore::new(),
            SessionConfig::default(),
        ));
    let reply = send(&app, "/me", None, None).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "unauthenticated")
    );

    // Without a layer: MissingLayer (500) from every extractor.
    let (mut parts, _) = Request::new(()).into_parts();
    let r: SessionRejection = Session::<Data>::from_request_parts(&mut parts, &())
        .await
        .unwrap_err();
    assert!(matches!(r, SessionRejection::MissingLayer));
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let r: SessionRejection = Sessions::from_request_parts(&mut parts, &())
        .await
        .unwrap_err();
    assert!(matches!(r, SessionRejection::MissingLayer));
    let r: SessionRejection =
        <Session<Data> as axum::extract::OptionalFromRequestParts<()>>::from_request_parts(
            &mut parts,
            &(),
        )
        .await
        .unwrap_err();
    assert!(matches!(r, SessionRejection::MissingLayer));
    let error: sessionward::Error = r.into();
    assert!(matches!(error, sessionward::Error::MissingLayer));
    assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

/// A store that cannot answer is a `StoreUnavailable` rejection, with the store's error as
/// its source.
#[tokio::test]
async fn a_down_store_is_store_unavailable_with_its_source() {
    let app = Router::new()
        .route(
            "/me",
            get(|s: Result<Session<Data>, SessionRejection>| async move {
                match s {
                    Err(r @ SessionRejection::StoreUnavailable(_)) => {
                        let source = std::error::Error::source(&r).is_some();
                        format!("{} source={source}", r.status().as_u16())
                    }
                    other => format!("unexpected: {:?}", other.err()),
                }
            }),
        )
        .layer(SessionLayer::database(
            closed_sqlite_store().await,
            SessionConfig::default().store_timeout(Duration::from_millis(1500)),
        ));
    let token = sessionward::SessionToken::generate();
    let reply = send(&app, "/me", Some(token.as_str()), None).await;
    assert_eq!(reply.body, "503 source=true");
}

/// Without a responder, every answer is what it was before: same status, same JSON body.
#[tokio::test]
async fn default_answers_are_unchanged() {
    let app = memory_app(SessionConfig::default());
    for path in ["/me", "/guarded"] {
        let reply = send(&app, path, None, Some(BROWSER_ACCEPT)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            reply.json(),
            serde_json::json!({"error": "no valid session"})
        );
    }
    let token = login(&app).await;
    let reply = send(&app, "/admin", Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json(), serde_json::json!({"error": "forbidden"}));

    let down = app_with(closed_sqlite_store().await, SessionConfig::default());
    let token = sessionward::SessionToken::generate();
    for path in ["/me", "/maybe", "/guarded"] {
        let reply = send(&down, path, Some(token.as_str()), None).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(
            reply.json(),
            serde_json::json!({"error": "the session store is unavailable"})
        );
    }
}

/// One responder shapes the 401, 403 and 503 of extractors and guards alike.
#[tokio::test]
async fn the_responder_shapes_401_403_and_503_of_extractors_and_guards() {
    let config = || SessionConfig::default().rejection_responder(labelling_responder);
    let app = memory_app(config());
    for path in ["/me", "/guarded"] {
        let reply = send(&app, path, None, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(reply.body, format!("custom 401 html=false path={path}"));
    }
    // The layer still clears an invalid cookie on a shaped answer.
    let unknown = sessionward::SessionToken::generate();
    let reply = send(&app, "/me", Some(unknown.as_str()), None).await;
    assert_eq!(reply.body, "custom 401 html=false path=/me");
    assert!(reply.clears_cookie(), "{:?}", reply.set_cookies());
    let token = login(&app).await;
    let reply = send(&app, "/admin", Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body, "custom 403 html=false path=/admin");
    // A request let through is untouched.
    let reply = send(&app, "/me", Some(&token), None).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "alice")
    );

    let down = app_with(closed_sqlite_store().await, config());
    let token = sessionward::SessionToken::generate();
    for path in ["/me", "/maybe", "/guarded"] {
        let reply = send(&down, path, Some(token.as_str()), None).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(reply.body, format!("custom 503 html=false path={path}"));
        assert!(
            reply.set_cookies().is_empty(),
            "a 503 must not clear the cookie"
        );
    }
}

/// A handler's `Error` (here from `?` on the rejection) is shaped by the same responder, and
/// the path is the one the client asked for under `Router::nest`.
#[tokio::test]
async fn the_responder_shapes_handler_errors_under_a_nested_router() {
    let inner = Router::new().route(
        "/me",
        get(|s: Result<Session<Data>, SessionRejection>| async move {
            let s = s?;
            Ok::<_, sessionward::Error>(s.user_id().to_owned())
        }),
    );
    let app = Router::new()
        .nest("/app", inner)
        .layer(SessionLayer::database(
            MemoryStore::new(),
            SessionConfig::default().rejection_responder(labelling_responder),
        ));
    let reply = send(&app, "/app/me?x=1", None, Some(BROWSER_ACCEPT)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body, "custom 401 html=true path=/app/me");
}

/// The built-in helper answers browsers with the page and scripts with the default JSON.
#[tokio::test]
async fn html_or_json_follows_accept() {
    let app = memory_app(
        SessionConfig::default()
            .rejection_responder(|refusal| refusal.html_or_json("<h1>Please sign in</h1>")),
    );
    let page = send(&app, "/me", None, Some(BROWSER_ACCEPT)).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert_eq!(page.body, "<h1>Please sign in</h1>");
    assert!(
        page.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    for accept in [None, Some("application/json"), Some("*/*")] {
        let reply = send(&app, "/guarded", None, accept).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{accept:?}");
        assert_eq!(
            reply.json(),
            serde_json::json!({"error": "no valid session"}),
            "{accept:?}"
        );
    }
}

/// A guard's own `redirect_to` and `forbidden_page` still decide on its routes.
#[tokio::test]
async fn guard_redirects_and_forbidden_pages_win_over_the_responder() {
    let app = Router::new()
        .route("/dashboard", get(|| async { "dashboard" }))
        .route_layer(require_session().redirect_to("/login"))
        .merge(
            Router::new()
                .route("/staff", get(|| async { "staff" }))
                .route_layer(
                    require_role::<Data>("admin")
                        .redirect_to("/login")
                        .forbidden_page("<h1>Admins only</h1>"),
                ),
        )
        .merge(routes())
        .layer(SessionLayer::database(
            MemoryStore::new(),
            SessionConfig::default().rejection_responder(labelling_responder),
        ));
    let reply = send(&app, "/dashboard", None, Some(BROWSER_ACCEPT)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers[header::LOCATION], "/login?next=/dashboard");
    let token = login(&app).await;
    let reply = send(&app, "/staff", Some(&token), Some(BROWSER_ACCEPT)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body, "<h1>Admins only</h1>");
}

/// Without a layer there is no configuration to shape the answer: 500 with the default body.
#[tokio::test]
async fn a_missing_layer_is_500() {
    let app = Router::new()
        .route(
            "/me",
            get(|s: Session<Data>| async move { s.user_id().to_owned() }),
        )
        .route("/sessions", get(|_: Sessions| async { "never" }));
    for path in ["/me", "/sessions"] {
        let reply = send(&app, path, None, Some(BROWSER_ACCEPT)).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(
            reply.json(),
            serde_json::json!({"error": "no SessionLayer is installed on this route"})
        );
    }
}
