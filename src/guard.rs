//! Route guards: [`require_session`], [`require_role`], [`require_permission`] and
//! [`require_fresh`], for `Router::route_layer`.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::OriginalUri;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use crate::error::Error;
use crate::request::RequestSession;
use crate::session::{ValidSession, decode_data};

/// How a guard reads roles and permissions from the application's session data. Implement it
/// on your data type.
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct UserData { role: String, permissions: Vec<String> }
///
/// impl sessionward::Authorize for UserData {
///     fn has_role(&self, role: &str) -> bool {
///         self.role == role
///     }
///     fn has_permission(&self, permission: &str) -> bool {
///         self.permissions.iter().any(|p| p == permission)
///     }
/// }
/// ```
pub trait Authorize {
    /// Whether the session holds `role`.
    fn has_role(&self, role: &str) -> bool;

    /// Whether the session holds `permission` (default: none).
    fn has_permission(&self, permission: &str) -> bool {
        let _ = permission;
        false
    }
}

/// A guard's check of the request's session at the layer's `now`: `Ok(false)` is 403.
type SessionCheck =
    dyn Fn(&ValidSession, time::OffsetDateTime) -> Result<bool, Error> + Send + Sync;

/// A route guard: a layer that lets a request through only with a valid session that passes
/// its check. API routes get 401 (no session), 403 (check failed) or 503 (store down) with a
/// small JSON body (shaped for the whole app by
/// [`SessionConfig::rejection_responder`](crate::SessionConfig::rejection_responder)); with
/// [`redirect_to`](Guard::redirect_to), HTML routes send visitors without a session to the
/// login page instead.
///
/// ```
/// use axum::{Router, routing::get};
/// use sessionward::{require_role, require_session};
/// # #[derive(serde::Deserialize)] struct UserData { role: String }
/// # impl sessionward::Authorize for UserData {
/// #     fn has_role(&self, role: &str) -> bool { self.role == role }
/// # }
///
/// let app: Router = Router::new()
///     .route("/dashboard", get(|| async { "dashboard" }))
///     .route_layer(require_session().redirect_to("/login"))
///     .merge(
///         Router::new()
///             .route("/api/admin", get(|| async { "admin only" }))
///             .route_layer(require_role::<UserData>("admin")),
///     );
/// ```
#[derive(Clone)]
pub struct Guard {
    check: Arc<SessionCheck>,
    login_url: Option<Arc<str>>,
    forbidden_html: Option<Arc<str>>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("login_url", &self.login_url)
            .finish_non_exhaustive()
    }
}

/// A guard that requires a valid session: 401 without one (or, with
/// [`redirect_to`](Guard::redirect_to), a redirect to the login page).
///
/// ```
/// use axum::{Router, body::Body, http::{Request, StatusCode}, routing::get};
/// use sessionward::{MemoryStore, SessionConfig, SessionLayer, require_session};
/// use sessionward::testing::SignedIn;
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
/// let app = Router::new()
///     .route("/account", get(|| async { "your account" }))
///     .route_layer(require_session())
///     .layer(layer.clone());
///
/// let anonymous = Request::get("/account").body(Body::empty())?;
/// assert_eq!(app.clone().oneshot(anonymous).await?.status(), StatusCode::UNAUTHORIZED);
/// let alice = SignedIn::cookie(&layer, "alice", &serde_json::json!({})).await?;
/// let signed_in = alice.request(Request::get("/account")).body(Body::empty())?;
/// assert_eq!(app.oneshot(signed_in).await?.status(), StatusCode::OK);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn require_session() -> Guard {
    Guard::with_session_check(|_, _| Ok(true))
}

/// A guard that requires a session signed in, or
/// [re-authenticated](crate::Sessions::reauthenticated), within `max_age` (step-up: for
/// changing the password or the e-mail address, deleting the account). A session older than
/// that gets 403 `{"error": "reauthentication required"}`
/// ([`Error::ReauthenticationRequired`]); with [`redirect_to`](Guard::redirect_to) a browser is
/// sent to the re-authentication page instead, with `?next=`. No session is 401 (or the same
/// redirect), as for [`require_session`].
///
/// ```
/// use axum::{Router, routing::get};
/// use sessionward::{require_fresh, require_session};
///
/// let app: Router = Router::new()
///     .route("/api/account", get(|| async { "account settings" }))
///     .route_layer(require_fresh(time::Duration::minutes(5)))
///     .merge(
///         Router::new()
///             .route("/account", get(|| async { "account page" }))
///             .route_layer(require_fresh(time::Duration::minutes(5)).redirect_to("/reauth")),
///     );
/// ```
pub fn require_fresh(max_age: time::Duration) -> Guard {
    Guard::with_session_check(move |session, now| {
        if now - session.info.authenticated_at <= max_age {
            Ok(true)
        } else {
            Err(Error::ReauthenticationRequired)
        }
    })
}

/// A guard that requires a valid session whose data `D` has `role`
/// ([`Authorize::has_role`]): 401 without a session, 403 without the role. Data that does not
/// fit `D` is no valid session (401).
///
/// ```
/// use axum::{Router, body::Body, http::{Request, StatusCode}, routing::get};
/// use serde::{Deserialize, Serialize};
/// use sessionward::{Authorize, MemoryStore, SessionConfig, SessionLayer, require_role};
/// use sessionward::testing::SignedIn;
/// use tower::ServiceExt;
///
/// #[derive(Serialize, Deserialize)]
/// struct UserData { role: String }
///
/// impl Authorize for UserData {
///     fn has_role(&self, role: &str) -> bool {
///         self.role == role
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
/// let app = Router::new()
///     .route("/admin", get(|| async { "admin" }))
///     .route_layer(require_role::<UserData>("admin"))
///     .layer(layer.clone());
///
/// let admin = SignedIn::cookie(&layer, "alice", &UserData { role: "admin".into() }).await?;
/// let user = SignedIn::cookie(&layer, "bob", &UserData { role: "user".into() }).await?;
/// let status = |response: axum::response::Response| response.status();
/// let request = |who: &SignedIn| who.request(Request::get("/admin")).body(Body::empty());
/// assert_eq!(status(app.clone().oneshot(request(&admin)?).await?), StatusCode::OK);
/// assert_eq!(status(app.oneshot(request(&user)?).await?), StatusCode::FORBIDDEN);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn require_role<D>(role: impl Into<String>) -> Guard
where
    D: Authorize + DeserializeOwned + 'static,
{
    let role = role.into();
    Guard::with_data_check(move |data: &D| data.has_role(&role))
}

/// A guard that requires a valid session whose data `D` has `permission`
/// ([`Authorize::has_permission`]): 401 without a session, 403 without the permission.
///
/// ```
/// use axum::{Router, body::Body, http::{Request, StatusCode}, routing::get};
/// use serde::{Deserialize, Serialize};
/// use sessionward::{Authorize, MemoryStore, SessionConfig, SessionLayer, require_permission};
/// use sessionward::testing::SignedIn;
/// use tower::ServiceExt;
///
/// #[derive(Serialize, Deserialize)]
/// struct UserData { permissions: Vec<String> }
///
/// impl Authorize for UserData {
///     fn has_role(&self, _: &str) -> bool {
///         false
///     }
///     fn has_permission(&self, permission: &str) -> bool {
///         self.permissions.iter().any(|p| p == permission)
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
/// let app = Router::new()
///     .route("/reports", get(|| async { "reports" }))
///     .route_layer(require_permission::<UserData>("reports:read"))
///     .layer(layer.clone());
///
/// let reader = UserData { permissions: vec!["reports:read".into()] };
/// let reader = SignedIn::cookie(&layer, "alice", &reader).await?;
/// let other = SignedIn::cookie(&layer, "bob", &UserData { permissions: vec![] }).await?;
/// let status = |response: axum::response::Response| response.status();
/// let request = |who: &SignedIn| who.request(Request::get("/reports")).body(Body::empty());
/// assert_eq!(status(app.clone().oneshot(request(&reader)?).await?), StatusCode::OK);
/// assert_eq!(status(app.oneshot(request(&other)?).await?), StatusCode::FORBIDDEN);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn require_permission<D>(permission: impl Into<String>) -> Guard
where
    D: Authorize + DeserializeOwned + 'static,
{
    let permission = permission.into();
    Guard::with_data_check(move |data: &D| data.has_permission(&permission))
}

impl Guard {
    /// A guard with a check of your own on the session data `D`.
    ///
    /// ```
    /// # #[derive(serde::Deserialize)] struct UserData { verified: bool }
    /// let verified_only = sessionward::Guard::with_data_check(|d: &UserData| d.verified);
    /// ```
    pub fn with_data_check<D, F>(check: F) -> Guard
    where
        D: DeserializeOwned + 'static,
        F: Fn(&D) -> bool + Send + Sync + 'static,
    {
        Guard::with_session_check(move |session, _| Ok(check(&decode_data::<D>(&session.data)?)))
    }

    fn with_session_check<F>(check: F) -> Guard
    where
        F: Fn(&ValidSession, time::OffsetDateTime) -> Result<bool, Error> + Send + Sync + 'static,
    {
        Guard {
            check: Arc::new(check),
            login_url: None,
            forbidden_html: None,
        }
    }

    /// For HTML routes: a request without a valid session (or, for [`require_fresh`], whose
    /// session is not fresh enough) is redirected (303) to `login_url`,
    /// with `?next=<the original path and query>` for GET and HEAD requests (the path the
    /// client asked for: under `Router::nest("/app", ...)`, `/app/dashboard`) (a form POST cannot
    /// be replayed by a redirect, so other methods go to `login_url` alone), and a refused
    /// check gets an HTML 403 page.
    ///
    /// ```
    /// let guard = sessionward::require_session().redirect_to("/login");
    /// ```
    pub fn redirect_to(mut self, login_url: impl Into<String>) -> Guard {
        self.login_url = Some(login_url.into().into());
        self
    }

    /// The HTML page a refused check answers with on a [`redirect_to`](Self::redirect_to)
    /// guard (default: a plain "403 Forbidden" page), so it can match the site's layout.
    ///
    /// ```
    /// # #[derive(serde::Deserialize)] struct UserData { role: String }
    /// # impl sessionward::Authorize for UserData {
    /// #     fn has_role(&self, role: &str) -> bool { self.role == role }
    /// # }
    /// let guard = sessionward::require_role::<UserData>("admin")
    ///     .redirect_to("/login")
    ///     .forbidden_page("<!doctype html><title>No entry</title><h1>Admins only</h1>");
    /// ```
    pub fn forbidden_page(mut self, html: impl Into<String>) -> Guard {
        self.forbidden_html = Some(html.into().into());
        self
    }

    fn refuse(&self, error: Error, original: Option<&str>) -> Response {
        match (&self.login_url, error) {
            (Some(login), Error::Unauthenticated | Error::ReauthenticationRequired) => {
                let mut target = String::from(&**login);
                if let Some(original) = original {
                    target.push(if login.contains('?') { '&' } else { '?' });
                    target.push_str("next=");
                    percent_encode_into(&mut target, original);
                }
                Redirect::to(&target).into_response()
            }
            (Some(_), Error::Forbidden) => {
                let page = self
                    .forbidden_html
                    .as_deref()
                    .unwrap_or(DEFAULT_FORBIDDEN_PAGE);
                (
                    StatusCode::FORBIDDEN,
                    [(header::CACHE_CONTROL, "no-store")],
                    Html(page.to_owned()),
                )
                    .into_response()
            }
            (_, error) => error.into_response(),
        }
    }
}

const DEFAULT_FORBIDDEN_PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\">\
    <title>Forbidden</title></head><body><h1>403 Forbidden</h1>\
    <p>Your account may not open this page.</p><p><a href=\"/\">Home</a></p></body></html>";

/// A redirect target taken from a `next` parameter, if it is safe: a path on this site
/// (`/...`, not `//host` or `/\host`), so a login form never becomes an open redirect.
///
/// ```
/// use sessionward::safe_redirect_target;
/// assert_eq!(safe_redirect_target("/dashboard?tab=1"), Some("/dashboard?tab=1"));
/// assert_eq!(safe_redirect_target("//evil.example"), None);
/// assert_eq!(safe_redirect_target("https://evil.example"), None);
/// ```
pub fn safe_redirect_target(next: &str) -> Option<&str> {
    let rest = next.strip_prefix('/')?;
    let safe = !rest.starts_with(['/', '\\']) && !next.chars().any(|c| c.is_control());
    safe.then_some(next)
}

fn percent_encode_into(out: &mut String, text: &str) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

impl<S> Layer<S> for Guard {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            guard: self.clone(),
        }
    }
}

/// The service a [`Guard`] wraps around the service it guards. `Router::route_layer` makes one
/// per route, so it rarely needs naming; it does where a guard wraps a whole service, through
/// tower's [`Layer`]:
///
/// ```
/// use axum::{Router, body::Body, http::{Request, StatusCode}, routing::get};
/// use sessionward::{GuardService, MemoryStore, SessionConfig, SessionLayer, require_session};
/// use tower::{Layer, ServiceExt};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let files: Router = Router::new().route("/report.pdf", get(|| async { "%PDF-" }));
/// let guarded: GuardService<Router> = require_session().layer(files);
/// let app = Router::new()
///     .nest_service("/files", guarded)
///     .layer(SessionLayer::database(MemoryStore::new(), SessionConfig::default()));
///
/// let anonymous = Request::get("/files/report.pdf").body(Body::empty())?;
/// assert_eq!(app.oneshot(anonymous).await?.status(), StatusCode::UNAUTHORIZED);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct GuardService<S> {
    inner: S,
    guard: Guard,
}

impl<S> Service<Request<Body>> for GuardService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let guard = self.guard.clone();
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            // Only a GET or HEAD can be replayed by redirecting back after login. Under
            // `Router::nest` the request's URI has lost the outer prefix; axum keeps the URI
            // the client asked for in `OriginalUri`.
            let original = matches!(*req.method(), Method::GET | Method::HEAD).then(|| {
                let uri = req
                    .extensions()
                    .get::<OriginalUri>()
                    .map_or(req.uri(), |original| &original.0);
                uri.path_and_query()
                    .map_or("/", |pq| pq.as_str())
                    .to_owned()
            });
            let verdict = match req.extensions().get::<Arc<RequestSession>>() {
                None => Err(Error::MissingLayer),
                Some(request) => match request.session().await {
                    Ok(Some(session)) => match (guard.check)(&session, request.now()) {
                        Ok(true) => Ok(()),
                        Ok(false) => Err(Error::Forbidden),
                        Err(e) => Err(e),
                    },
                    Ok(None) => Err(Error::Unauthenticated),
                    Err(e) => Err(e),
                },
            };
            match verdict {
                Ok(()) => inner.call(req).await,
                Err(e) => Ok(guard.refuse(e, original.as_deref())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_percent_encoded() {
        let mut s = String::new();
        percent_encode_into(&mut s, "/a b?x=1&y=2");
        assert_eq!(s, "/a%20b%3Fx%3D1%26y%3D2");
    }

    #[test]
    fn unsafe_redirect_targets_are_refused() {
        assert_eq!(safe_redirect_target("/"), Some("/"));
        assert_eq!(safe_redirect_target("/\\evil.example"), None);
        assert_eq!(safe_redirect_target("evil"), None);
        assert_eq!(safe_redirect_target("/a\nb"), None);
    }
}
