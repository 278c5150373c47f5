//! Guards inside nested routers.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use sessionward::{MemoryStore, SessionConfig, SessionLayer, require_session};
use tower::ServiceExt as _;

use crate::support::{Reply, request};

/// Under `Router::nest("/app", ...)` the inner router sees `/dashboard`; the login page must
/// send the visitor back to `/app/dashboard`, the URI the browser asked for.
#[tokio::test]
async fn next_names_the_original_path_under_a_nested_router() {
    let inner = Router::new()
        .route("/dashboard", get(|| async { "dashboard" }))
        .route_layer(require_session().redirect_to("/login"));
    let app = Router::new()
        .nest("/app", inner)
        .layer(SessionLayer::database(
            MemoryStore::new(),
            SessionConfig::default(),
        ));
    let res = app
        .oneshot(request("GET", "/app/dashboard?tab=2", None))
        .await
        .unwrap();
    let reply = Reply::read(res).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(
        reply.headers[header::LOCATION],
        "/login?next=/app/dashboard%3Ftab%3D2"
    );
}
