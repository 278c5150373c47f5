//! One log line per request: method, path, status, latency. Never headers, query strings or
//! bodies, which can hold cookies, tokens and passwords.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

pub async fn log_requests(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        latency_ms = format_args!("{:.1}", started.elapsed().as_secs_f64() * 1e3),
        "request"
    );
    response
}
