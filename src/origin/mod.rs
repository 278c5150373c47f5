//! Cross-origin protection for state-changing requests, and the request's own origin behind
//! reverse proxies.
//!
//! The rules follow Go 1.25's `http.CrossOriginProtection`:
//!
//! 1. Safe methods (GET, HEAD, OPTIONS, TRACE) pass, except a WebSocket handshake that carries
//!    the session cookie (a handshake is a GET, yet it opens a channel that acts with the
//!    user's session).
//! 2. A request that carries a bearer token and no session cookie passes: browsers never attach
//!    `Authorization: Bearer` on their own, so it is not an ambient credential (a `Basic`
//!    header is: browsers replay it, so it does not count).
//! 3. A path exempted with [`SessionConfig::allow_cross_origin_path`] passes (webhooks).
//! 4. `Sec-Fetch-Site: same-origin` or `none` (the user typed the address) passes; any other
//!    value (`cross-site`, `same-site`, garbage) is refused unless the `Origin` is trusted
//!    ([`SessionConfig::trusted_origin`]).
//! 5. Without `Sec-Fetch-Site` (older browsers, and every browser on plain-http origins other
//!    than localhost), the `Origin` must be the request's own origin or a trusted one; `null`
//!    or an unreadable `Origin` is refused.
//! 6. Neither header: not a browser (curl, servers, mobile clients), or a same-origin request
//!    from a browser too old to say: it passes.
//!
//! `Referer` is not consulted. An attacker's page can always suppress it
//! (`Referrer-Policy: no-referrer`), so refusing on a foreign `Referer` stops no forgery, while
//! it refuses honest requests whose `Referer` a privacy tool rewrote. Every browser that
//! matters sends `Origin` on cross-origin POSTs and WebSocket handshakes.
//!
//! The request's own origin is the configured [`SessionConfig::public_origin`]s when there are
//! any; otherwise the `Host` (or the request target's authority) with the scheme when it is
//! known, both read from [`SessionConfig::trust_proxies`]' headers when the peer is one.
//!
//! ```
//! use axum::{Router, body::Body, http::{Request, StatusCode}, routing::post};
//! use sessionward::{MemoryStore, SessionConfig, SessionLayer};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let app = Router::new()
//!     .route("/transfer", post(|| async { "done" }))
//!     .layer(SessionLayer::database(MemoryStore::new(), SessionConfig::default()));
//! let from = |site: &str, origin: &str| {
//!     Request::post("/transfer")
//!         .header("host", "bank.example")
//!         .header("sec-fetch-site", site)
//!         .header("origin", origin)
//!         .body(Body::empty())
//! };
//! let status = |response: axum::response::Response| response.status();
//!
//! let own_page = from("same-origin", "https://bank.example")?;
//! assert_eq!(status(app.clone().oneshot(own_page).await?), StatusCode::OK);
//! let forged = from("cross-site", "https://evil.example")?; // cookie or not
//! assert_eq!(status(app.clone().oneshot(forged).await?), StatusCode::FORBIDDEN);
//! let not_a_browser = Request::post("/transfer").body(Body::empty())?; // curl, a server
//! assert_eq!(status(app.oneshot(not_a_browser).await?), StatusCode::OK);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! [`SessionConfig::allow_cross_origin_path`]: crate::SessionConfig::allow_cross_origin_path
//! [`SessionConfig::trusted_origin`]: crate::SessionConfig::trusted_origin
//! [`SessionConfig::public_origin`]: crate::SessionConfig::public_origin
//! [`SessionConfig::trust_proxies`]: crate::SessionConfig::trust_proxies

pub(crate) mod forwarded;
pub(crate) mod site;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};

use self::forwarded::Entry;
pub use self::forwarded::ProxyHeaders;
use self::site::SiteOrigin;

/// The cross-origin check's settings.
#[derive(Clone, Debug)]
pub(crate) struct OriginCheck {
    pub(crate) enabled: bool,
    /// Other origins whose requests are accepted.
    pub(crate) trusted: Arc<Vec<SiteOrigin>>,
    /// The app's own origins as users reach it; empty: judged from the request.
    pub(crate) public: Arc<Vec<SiteOrigin>>,
    /// Path patterns exempted from the check (see `allow_cross_origin_path`).
    pub(crate) exempt_paths: Arc<Vec<String>>,
}

impl Default for OriginCheck {
    fn default() -> Self {
        Self {
            enabled: true,
            trusted: Arc::default(),
            public: Arc::default(),
            exempt_paths: Arc::default(),
        }
    }
}

/// What the layer knows of a request when it decides.
pub(crate) struct Inbound<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    /// Whether the session cookie came with it.
    pub(crate) carries_cookie: bool,
    /// Where it entered, as trusted proxies tell.
    pub(crate) entry: &'a Entry<'a>,
}

impl Inbound<'_> {
    /// The `Host` the client asked for: a trusted proxy's word, else the request's own.
    pub(crate) fn host(&self) -> Option<&str> {
        self.entry.host.or_else(|| {
            self.uri
                .authority()
                .map(|a| a.as_str())
                .or_else(|| self.headers.get(header::HOST).and_then(|h| h.to_str().ok()))
        })
    }

    /// The scheme the client used, when known: a trusted proxy's word, else the request
    /// target's (HTTP/2).
    pub(crate) fn scheme(&self) -> Option<&str> {
        self.entry.proto.or_else(|| self.uri.scheme_str())
    }
}

impl OriginCheck {
    /// Whether the request must be refused as cross-origin. Logs the refusal: what was
    /// compared, and the setting that would let it through if it is legitimate.
    pub(crate) fn refuses(&self, req: &Inbound<'_>) -> bool {
        if !self.enabled || !self.applies_to(req) {
            return false;
        }
        match self.judge(req) {
            Ok(()) => false,
            Err(refusal) => {
                refusal.log(req);
                true
            }
        }
    }

    fn applies_to(&self, req: &Inbound<'_>) -> bool {
        let unsafe_request = is_state_changing(req.method)
            || (req.carries_cookie && is_websocket_handshake(req.headers));
        unsafe_request
            && (req.carries_cookie || !carries_bearer(req.headers))
            && !self.is_exempt(req.uri.path())
    }

    fn is_exempt(&self, path: &str) -> bool {
        self.exempt_paths
            .iter()
            .any(|pattern| match pattern.strip_suffix('/') {
                Some(dir) => path.strip_prefix(dir).is_some_and(|r| r.starts_with('/')),
                None => path == pattern,
            })
    }

    fn judge(&self, req: &Inbound<'_>) -> Result<(), Refusal> {
        let origin = req.headers.get(header::ORIGIN);
        let parsed = origin
            .and_then(|o| o.to_str().ok())
            .and_then(SiteOrigin::parse);
        let trusted = parsed.as_ref().is_some_and(|o| self.trusted.contains(o));
        if let Some(site) = req.headers.get("sec-fetch-site") {
            let b = site.as_bytes();
            return if b.eq_ignore_ascii_case(b"same-origin")
                || b.eq_ignore_ascii_case(b"none")
                || trusted
            {
                Ok(())
            } else {
                Err(Refusal::FetchSite)
            };
        }
        if origin.is_none() || trusted {
            return Ok(());
        }
        let Some(origin) = parsed else {
            return Err(Refusal::UnreadableOrigin);
        };
        let own = if self.public.is_empty() {
            req.host()
                .is_some_and(|host| origin.is_origin_of(req.scheme(), host))
        } else {
            self.public.contains(&origin)
        };
        if own {
            Ok(())
        } else if self.public.is_empty() {
            Err(Refusal::OtherThanHost)
        } else {
            Err(Refusal::OtherThanPublic)
        }
    }
}

/// Why a request was refused.
enum Refusal {
    FetchSite,
    UnreadableOrigin,
    OtherThanHost,
    OtherThanPublic,
}

impl Refusal {
    fn log(&self, req: &Inbound<'_>) {
        let (reason, fix) = match self {
            Refusal::FetchSite => (
                "Sec-Fetch-Site is neither same-origin nor none",
                "if the calling origin is yours, add it with SessionConfig::trusted_origin",
            ),
            Refusal::UnreadableOrigin => (
                "the Origin is null or unreadable",
                "none: browsers send this from sandboxed or opaque documents",
            ),
            Refusal::OtherThanHost => (
                "the Origin is not the Host's origin",
                "behind a reverse proxy, state SessionConfig::public_origin or \
                 SessionConfig::trust_proxies (or make the proxy keep the Host); for another \
                 origin of yours, SessionConfig::trusted_origin",
            ),
            Refusal::OtherThanPublic => (
                "the Origin is none of the public origins",
                "add it with SessionConfig::public_origin, or for another origin of yours \
                 SessionConfig::trusted_origin",
            ),
        };
        tracing::warn!(
            method = %req.method,
            path = %cut(req.uri.path()),
            origin = %shown(req.headers.get(header::ORIGIN)),
            sec_fetch_site = %shown(req.headers.get("sec-fetch-site")),
            host = %cut(req.host().unwrap_or("-")),
            scheme = %req.scheme().unwrap_or("unknown"),
            via_proxy = req.entry.via_proxy,
            reason,
            fix,
            "cross-origin request refused"
        );
    }
}

/// A header value for a log line: text, at most 200 bytes; `-` when absent.
fn shown(value: Option<&HeaderValue>) -> &str {
    let Some(value) = value else { return "-" };
    cut(value.to_str().unwrap_or("(not text)"))
}

/// Request text for a log line: at most its first 200 bytes (a header or a path can be
/// hundreds of kilobytes, as often as a client likes).
fn cut(text: &str) -> &str {
    let mut end = text.len().min(200);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Whether the method can change state (everything but GET, HEAD, OPTIONS and TRACE).
pub(crate) fn is_state_changing(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether the request asks to become a WebSocket (`Upgrade: websocket`).
fn is_websocket_handshake(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// Whether the request has an `Authorization: Bearer` header.
fn carries_bearer(headers: &HeaderMap) -> bool {
    headers.get_all(header::AUTHORIZATION).iter().any(|v| {
        v.as_bytes()
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"bearer "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> OriginCheck {
        OriginCheck {
            trusted: Arc::new(vec![SiteOrigin::parse("https://app.example.com").unwrap()]),
            exempt_paths: Arc::new(vec!["/hooks/".into(), "/stripe".into()]),
            ..OriginCheck::default()
        }
    }

    fn refused(check: &OriginCheck, method: Method, path: &str, pairs: &[(&str, &str)]) -> bool {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let uri: Uri = path.parse().unwrap();
        let carries_cookie = headers.contains_key(header::COOKIE);
        check.refuses(&Inbound {
            method: &method,
            uri: &uri,
            headers: &headers,
            carries_cookie,
            entry: &Entry::default(),
        })
    }

    fn post(pairs: &[(&str, &str)]) -> bool {
        refused(&check(), Method::POST, "/login", pairs)
    }

    #[test]
    fn sec_fetch_site_decides_first() {
        assert!(!post(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://x.example")
        ]));
        assert!(!post(&[("sec-fetch-site", "none")]));
        assert!(post(&[("sec-fetch-site", "cross-site")]));
        assert!(post(&[
            ("sec-fetch-site", "same-site"),
            ("host", "a.example.com"),
            ("origin", "https://a.example.com")
        ]));
        assert!(!post(&[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://app.example.com")
        ]));
        assert!(post(&[("sec-fetch-site", "garbage")]));
    }

    #[test]
    fn origin_is_compared_with_the_host() {
        assert!(!post(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000")
        ]));
        assert!(!post(&[
            ("host", "example.com"),
            ("origin", "https://Example.com:443")
        ]));
        assert!(post(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:4000")
        ]));
        assert!(post(&[("host", "example.com"), ("origin", "null")]));
        assert!(
            post(&[("origin", "https://example.com")]),
            "no host to compare"
        );
        assert!(!post(&[
            ("host", "api.example.com"),
            ("origin", "https://app.example.com")
        ]));
        // Referer is not consulted; neither header: not a browser.
        assert!(!post(&[
            ("host", "example.com"),
            ("referer", "https://evil.example/")
        ]));
        assert!(!post(&[("host", "example.com")]));
    }

    #[test]
    fn the_scheme_counts_when_known() {
        let uri_scheme = |origin: &str| {
            let check = check();
            let headers = {
                let mut h = HeaderMap::new();
                h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
                h
            };
            let uri: Uri = "https://example.com/login".parse().unwrap();
            check.refuses(&Inbound {
                method: &Method::POST,
                uri: &uri,
                headers: &headers,
                carries_cookie: false,
                entry: &Entry::default(),
            })
        };
        assert!(!uri_scheme("https://example.com"));
        assert!(uri_scheme("http://example.com"));
    }

    #[test]
    fn safe_methods_bearer_tokens_and_exempt_paths_pass() {
        let evil = [("host", "example.com"), ("origin", "https://evil.example")];
        assert!(!refused(&check(), Method::GET, "/", &evil));
        assert!(!refused(&check(), Method::POST, "/hooks/github", &evil));
        assert!(!refused(&check(), Method::POST, "/stripe", &evil));
        assert!(refused(&check(), Method::POST, "/stripe/x", &evil));
        assert!(refused(&check(), Method::POST, "/hooksx", &evil));
        assert!(refused(&check(), Method::POST, "/hooks", &evil));
        let bearer = [evil[0], evil[1], ("authorization", "Bearer abc")];
        assert!(!refused(&check(), Method::POST, "/x", &bearer));
        let basic = [evil[0], evil[1], ("authorization", "Basic YTpi")];
        assert!(refused(&check(), Method::POST, "/x", &basic));
        let both = [
            evil[0],
            evil[1],
            ("authorization", "Bearer abc"),
            ("cookie", "session-id=a"),
        ];
        assert!(refused(&check(), Method::POST, "/x", &both));
    }

    #[test]
    fn websocket_handshakes_with_the_cookie_must_be_same_origin() {
        let ws = |origin: &str, cookie: bool| {
            let mut pairs = vec![
                ("host", "example.com"),
                ("upgrade", "websocket"),
                ("origin", origin),
            ];
            if cookie {
                pairs.push(("cookie", "session-id=a"));
            }
            refused(&check(), Method::GET, "/ws", &pairs)
        };
        assert!(ws("https://evil.example", true));
        assert!(!ws("https://example.com", true));
        assert!(!ws("https://evil.example", false));
    }

    #[test]
    fn public_origins_replace_the_host() {
        let check = OriginCheck {
            public: Arc::new(vec![SiteOrigin::parse("https://app.example.com").unwrap()]),
            ..OriginCheck::default()
        };
        let with = |pairs: &[(&str, &str)]| refused(&check, Method::POST, "/x", pairs);
        assert!(!with(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://app.example.com")
        ]));
        assert!(!with(&[("origin", "https://app.example.com:443")]));
        assert!(with(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://app.example.com")
        ]));
        assert!(with(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000")
        ]));
    }
}
