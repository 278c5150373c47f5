//! One place that decides what a 401, 403 or 503 looks like:
//! [`SessionConfig::rejection_responder`](crate::SessionConfig::rejection_responder).

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// The request and refusal a [`rejection_responder`](crate::SessionConfig::rejection_responder)
/// shapes an answer for: a 401 (no valid session), 403 (a guard's check failed) or 503 (the
/// store is unavailable) from an extractor, a guard or a handler's
/// [`Error`](crate::Error).
///
/// ```
/// use axum::http::StatusCode;
/// use sessionward::SessionConfig;
///
/// let config = SessionConfig::default().rejection_responder(|refusal| match refusal.status() {
///     StatusCode::UNAUTHORIZED => refusal.html_or_json("<h1>Please sign in</h1>"),
///     _ => refusal.default_response(),
/// });
/// ```
#[derive(Debug)]
pub struct RejectionContext<'a> {
    status: StatusCode,
    message: &'a str,
    prefers_html: bool,
    path: &'a str,
}

impl RejectionContext<'_> {
    /// The status of the refusal: 401, 403 or 503.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Whether the request's `Accept` header ranks `text/html` above `application/json` (a
    /// browser navigating), rather than a script or API client.
    pub fn prefers_html(&self) -> bool {
        self.prefers_html
    }

    /// The path the client asked for (under `Router::nest`, the full path), without the query.
    pub fn path(&self) -> &str {
        self.path
    }

    /// The crate's default answer: the status and a JSON body `{"error": "..."}`.
    pub fn default_response(&self) -> Response {
        json_error(self.status, self.message)
    }

    /// `html` as the page (with `Cache-Control: no-store`) when the request
    /// [prefers HTML](Self::prefers_html), the [default](Self::default_response) JSON
    /// otherwise; same status either way.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default()
    ///     .rejection_responder(|refusal| refusal.html_or_json("<h1>Not for you</h1>"));
    /// ```
    pub fn html_or_json(&self, html: impl Into<String>) -> Response {
        if self.prefers_html {
            (
                self.status,
                [(header::CACHE_CONTROL, "no-store")],
                Html(html.into()),
            )
                .into_response()
        } else {
            self.default_response()
        }
    }
}

type Respond = dyn Fn(&RejectionContext<'_>) -> Response + Send + Sync;

/// The configured responder.
#[derive(Clone)]
pub(crate) struct RejectionResponder(Arc<Respond>);

impl std::fmt::Debug for RejectionResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RejectionResponder(..)")
    }
}

impl RejectionResponder {
    pub(crate) fn new<F>(respond: F) -> Self
    where
        F: Fn(&RejectionContext<'_>) -> Response + Send + Sync + 'static,
    {
        Self(Arc::new(respond))
    }

    /// Replaces `response` by the responder's answer when it is a refusal the responder shapes
    /// (one built by [`refusal`]); other responses pass unchanged.
    pub(crate) fn reshape(&self, response: Response, request: &RequestFacts) -> Response {
        let Some(Refusal(message)) = response.extensions().get::<Refusal>() else {
            return response;
        };
        (self.0)(&RejectionContext {
            status: response.status(),
            message,
            prefers_html: request.prefers_html,
            path: &request.path,
        })
    }
}

/// What the responder needs of the request, kept while the request travels on.
#[derive(Debug)]
pub(crate) struct RequestFacts {
    prefers_html: bool,
    path: String,
}

impl RequestFacts {
    pub(crate) fn read(headers: &HeaderMap, path: &str) -> Self {
        Self {
            prefers_html: prefers_html(headers),
            path: path.to_owned(),
        }
    }
}

/// Marks a response as a refusal a responder may reshape, with its default message.
#[derive(Clone, Debug)]
struct Refusal(String);

/// A small JSON error body: `{"error": "..."}`.
pub(crate) fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The default answer of a refusal (`{"error": "..."}`), marked so that a configured
/// responder shapes it when it is a 401, 403 or 503.
pub(crate) fn refusal(status: StatusCode, message: &str) -> Response {
    let mut response = json_error(status, message);
    if matches!(
        status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::SERVICE_UNAVAILABLE
    ) {
        response
            .extensions_mut()
            .insert(Refusal(message.to_owned()));
    }
    response
}

/// Whether `Accept` ranks `text/html` above `application/json` (wildcards count for neither;
/// on a tie, the one listed first wins).
fn prefers_html(headers: &HeaderMap) -> bool {
    let mut html: Option<(f32, usize)> = None;
    let mut json: Option<(f32, usize)> = None;
    let ranges = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for (position, range) in ranges.enumerate() {
        let mut params = range.split(';');
        let media = params.next().unwrap_or("").trim();
        let quality = params
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let slot = if media.eq_ignore_ascii_case("text/html") {
            &mut html
        } else if media.eq_ignore_ascii_case("application/json") {
            &mut json
        } else {
            continue;
        };
        slot.get_or_insert((quality, position));
    }
    match (html, json) {
        (Some((q, _)), None) => q > 0.0,
        (Some((qh, ph)), Some((qj, pj))) => qh > 0.0 && (qh > qj || (qh == qj && ph < pj)),
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value.parse().unwrap());
        prefers_html(&headers)
    }

    #[test]
    fn browsers_prefer_html_and_scripts_do_not() {
        assert!(accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(!accept("*/*"));
        assert!(!accept("application/json"));
        assert!(!accept("application/json, text/html"));
        assert!(accept("application/json;q=0.5, text/html"));
        assert!(!accept("text/html;q=0"));
        assert!(!prefers_html(&HeaderMap::new()));
    }
}
