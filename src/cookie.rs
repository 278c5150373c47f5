//! The session cookie's attributes and the one `Set-Cookie` a response
//! may carry.

use std::borrow::Cow;
use std::fmt::Write as _;

use axum::http::HeaderValue;
use time::Duration;

/// The cookie's `SameSite` attribute, set with
/// [`SessionConfig::same_site`](crate::SessionConfig::same_site).
///
/// ```
/// use axum::{Router, body::Body, http::{Request, header::SET_COOKIE}, routing::post};
/// use sessionward::{MemoryStore, SameSite, SessionConfig, SessionLayer, Sessions};
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let config = SessionConfig::default().same_site(SameSite::Strict);
/// let app = Router::new()
///     .route("/login", post(|sessions: Sessions| async move {
///         sessions.login("alice", &serde_json::json!({})).await.map(|_| "welcome")
///     }))
///     .layer(SessionLayer::database(MemoryStore::new(), config));
/// let response = app.oneshot(Request::post("/login").body(Body::empty())?).await?;
/// let set_cookie = response.headers()[SET_COOKIE].to_str()?;
/// assert!(set_cookie.contains("; SameSite=Strict"), "{set_cookie}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// Sent only on same-site requests: the strongest, but a link from another site arrives
    /// logged out.
    Strict,
    /// Sent on same-site requests and top-level navigations (the default).
    Lax,
    /// Sent everywhere; requires `Secure`.
    None,
}

/// Browsers cap a cookie's lifetime at 400 days.
const MAX_COOKIE_AGE: Duration = Duration::days(400);

/// Whether `name` may be a cookie's name: RFC 6265's `token` (visible ASCII, no separators).
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// Whether `path` may be a cookie's `Path`: RFC 6265's `path-value` (no control character, no
/// `;`), limited to printable ASCII so that it always fits a header value.
fn is_valid_path(path: &str) -> bool {
    path.starts_with('/')
        && path
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b';')
}

/// Whether `domain` may be a cookie's `Domain`: a host name (an optional leading dot, then
/// letters, digits, `-`, `_` and dots).
fn is_valid_domain(domain: &str) -> bool {
    let host = domain.strip_prefix('.').unwrap_or(domain);
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Whether the cookie `name` starts with `prefix` (`__Host-`, `__Secure-`) as browsers match
/// it: in any case.
pub(crate) fn has_prefix(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

#[derive(Clone, Debug)]
pub(crate) struct CookieConfig {
    pub(crate) name: Cow<'static, str>,
    pub(crate) domain: Option<Cow<'static, str>>,
    pub(crate) path: Cow<'static, str>,
    pub(crate) secure: bool,
    pub(crate) same_site: SameSite,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: Cow::Borrowed("session-id"),
            domain: None,
            path: Cow::Borrowed("/"),
            secure: true,
            same_site: SameSite::Lax,
        }
    }
}

/// The session cookie as an earlier configuration of the application set it: its name, `Path`
/// and `Domain`. See [`SessionConfig::previous_cookie`](crate::SessionConfig::previous_cookie),
/// which accepts it for a migration period.
///
/// ```
/// use sessionward::PreviousCookie;
///
/// // The cookie used to be `session-id` for `.example.com` under `/app`.
/// let previous = PreviousCookie::named("session-id").path("/app").domain("example.com");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousCookie {
    name: Cow<'static, str>,
    path: Cow<'static, str>,
    domain: Option<Cow<'static, str>>,
}

impl PreviousCookie {
    /// The previous cookie's name; `Path=/` and no `Domain` unless said otherwise.
    pub fn named(name: impl Into<Cow<'static, str>>) -> Self {
        Self {
            name: name.into(),
            path: Cow::Borrowed("/"),
            domain: None,
        }
    }

    /// The `Path` the previous cookie was set with (default `/`).
    ///
    /// ```
    /// let previous = sessionward::PreviousCookie::named("sid").path("/app");
    /// ```
    pub fn path(mut self, path: impl Into<Cow<'static, str>>) -> Self {
        self.path = path.into();
        self
    }

    /// The `Domain` the previous cookie was set with (default none: host-only).
    ///
    /// ```
    /// let previous = sessionward::PreviousCookie::named("sid").domain("example.com");
    /// ```
    pub fn domain(mut self, domain: impl Into<Cow<'static, str>>) -> Self {
        self.domain = Some(domain.into());
        self
    }
}

impl CookieConfig {
    pub(crate) fn validate(&self) {
        assert!(
            is_valid_name(&self.name),
            "sessionward: cookie name {:?} is not a valid cookie name",
            self.name
        );
        assert!(
            is_valid_path(&self.path),
            "sessionward: cookie_path {:?} must start with '/' and hold only printable ASCII \
             without ';' (it is written into every Set-Cookie header)",
            self.path
        );
        if let Some(domain) = &self.domain {
            assert!(
                is_valid_domain(domain),
                "sessionward: cookie_domain {domain:?} is not a host name (ASCII letters, digits, \
                 '-', '_' and '.'; an international name in its xn-- form)"
            );
        }
        // Browsers match the prefixes whatever their case.
        if has_prefix(&self.name, "__Host-") {
            assert!(
                self.secure && self.domain.is_none() && self.path == "/",
                "sessionward: a `__Host-` cookie needs secure(true), no domain and path \"/\""
            );
        }
        if has_prefix(&self.name, "__Secure-") || self.same_site == SameSite::None {
            assert!(
                self.secure,
                "sessionward: `__Secure-` cookies and SameSite=None need secure(true)"
            );
        }
    }

    /// This cookie's attributes under `previous`'s name, path and domain: how to read the
    /// previous cookie, and how to remove it.
    pub(crate) fn as_previous(&self, previous: &PreviousCookie) -> CookieConfig {
        CookieConfig {
            name: previous.name.clone(),
            domain: previous.domain.clone(),
            path: previous.path.clone(),
            ..self.clone()
        }
    }

    /// `Set-Cookie` that hands the client a token for `max_age`; `None` makes it a
    /// browser-session cookie (no `Max-Age`, no `Expires`: the browser drops it when it closes).
    pub(crate) fn set(&self, token: &str, max_age: Option<Duration>) -> HeaderValue {
        let seconds = max_age.map(|max_age| {
            max_age
                .clamp(Duration::ZERO, MAX_COOKIE_AGE)
                .whole_seconds()
        });
        self.header(token, seconds)
    }

    /// `Set-Cookie` that removes the session cookie.
    pub(crate) fn clear(&self) -> HeaderValue {
        self.header("", Some(0))
    }

    fn header(&self, value: &str, max_age_seconds: Option<i64>) -> HeaderValue {
        let mut s = String::with_capacity(128);
        let _ = write!(s, "{}={}; Path={}", self.name, value, self.path);
        if let Some(seconds) = max_age_seconds {
            let _ = write!(s, "; Max-Age={seconds}");
            if seconds == 0 {
                s.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
            }
        }
        if let Some(domain) = &self.domain {
            let _ = write!(s, "; Domain={domain}");
        }
        s.push_str("; HttpOnly");
        if self.secure {
            s.push_str("; Secure");
        }
        s.push_str(match self.same_site {
            SameSite::Strict => "; SameSite=Strict",
            SameSite::Lax => "; SameSite=Lax",
            SameSite::None => "; SameSite=None",
        });
        HeaderValue::from_str(&s)
            .expect("validated cookie attributes and token alphabet form a valid header")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_carries_secure_defaults() {
        let v = CookieConfig::default().set("tok", Some(Duration::days(7)));
        assert_eq!(
            v.to_str().unwrap(),
            "session-id=tok; Path=/; Max-Age=604800; HttpOnly; Secure; SameSite=Lax"
        );
        let v = CookieConfig::default().set("tok", None);
        assert_eq!(
            v.to_str().unwrap(),
            "session-id=tok; Path=/; HttpOnly; Secure; SameSite=Lax"
        );
        let v = CookieConfig::default().clear();
        assert!(
            v.to_str()
                .unwrap()
                .contains("Max-Age=0; Expires=Thu, 01 Jan 1970")
        );
    }

    #[test]
    #[should_panic(expected = "__Host-")]
    fn host_prefix_in_any_case_rejects_a_domain() {
        CookieConfig {
            name: "__host-s".into(),
            domain: Some("example.com".into()),
            ..CookieConfig::default()
        }
        .validate();
    }

    #[test]
    #[should_panic(expected = "__Secure-")]
    fn secure_prefix_in_any_case_needs_secure() {
        CookieConfig {
            name: "__SECURE-s".into(),
            secure: false,
            ..CookieConfig::default()
        }
        .validate();
    }

    #[test]
    #[should_panic(expected = "__Host-")]
    fn host_prefix_rejects_a_domain() {
        CookieConfig {
            name: "__Host-s".into(),
            domain: Some("example.com".into()),
            ..CookieConfig::default()
        }
        .validate();
    }
}
