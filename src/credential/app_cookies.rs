//! The session cookie names a JavaScript auth library (Auth.js, Better Auth) sets, as this
//! layer reads them.
//!
//! Both libraries name their cookie `__Secure-<name>` when the app is served over https and
//! `<name>` over plain http (their `useSecureCookies`), and each reads only the name it sets.
//! A layer that read both would take a cookie planted under the plain name (cookie tossing)
//! for the session of a browser that has no cookie of its own: the planter's session, signed
//! in for the victim (login CSRF). Anyone on the network path of one plain-http request to the
//! site, or a sibling subdomain, can plant a plain-named cookie; a `__Secure-` one only comes
//! from a page served over https. So of two configured names that differ only by `__Secure-`,
//! one is read: the one the app sets. What remains: a sibling subdomain served over https can
//! plant a `__Secure-` cookie too (the prefix allows `Domain`); only a `__Host-` name keeps it
//! out, which Auth.js allows (`cookies.sessionToken.name`) and Better Auth does not.

use axum::http::HeaderMap;

use super::{Credential, chunked, cookie_pairs};
use crate::cookie::has_prefix;

const SECURE: &str = "__Secure-";

/// The cookie names a strategy reads, and their twins it ignores.
pub(crate) struct AppCookieNames<N> {
    /// In order of preference.
    read: Vec<N>,
    /// Names configured with a twin the app sets instead: a cookie of one of these is planted
    /// or left over from the other scheme, never the app's.
    ignored: Vec<String>,
}

impl<N: AsRef<str>> AppCookieNames<N> {
    /// Of `names` (in order of preference), those an app served over https
    /// (`use_secure_cookies`) or plain http sets. A name without a twin in `names` is read
    /// under either scheme, as configured.
    pub(crate) fn new(names: Vec<N>, use_secure_cookies: bool) -> Self {
        // The name without `__Secure-` (in any case, as browsers match it): two names are
        // twins when they differ only by it.
        let plain = |name: &str| -> (bool, String) {
            match name.get(SECURE.len()..) {
                Some(rest) if has_prefix(name, SECURE) => (true, rest.to_owned()),
                _ => (false, name.to_owned()),
            }
        };
        let set_by_the_app: Vec<bool> = names
            .iter()
            .map(|n| {
                let (secure, rest) = plain(n.as_ref());
                let twin_listed = names.iter().any(|other| {
                    let (other_secure, other_rest) = plain(other.as_ref());
                    other_secure != secure && other_rest == rest
                });
                secure == use_secure_cookies || !twin_listed
            })
            .collect();
        let mut read = Vec::new();
        let mut ignored = Vec::new();
        for (name, set) in names.into_iter().zip(set_by_the_app) {
            if set {
                read.push(name);
            } else {
                ignored.push(name.as_ref().to_owned());
            }
        }
        Self { read, ignored }
    }

    /// The names read, in order of preference.
    pub(crate) fn read(&self) -> &[N] {
        &self.read
    }

    /// The request's credential: [`chunked::named_cookies`] under the names read. Without
    /// one, a cookie under an ignored twin is noted (it is what a browser of an app on the
    /// other scheme, or a planted cookie, looks like), then left unread.
    pub(crate) fn credential(
        &self,
        headers: &HeaderMap,
        max_len: usize,
        accept_bearer: bool,
    ) -> Credential {
        let credential = chunked::named_cookies(headers, &self.read, max_len, accept_bearer);
        if matches!(credential, Credential::Nothing)
            && let Some(name) = self.ignored_present(headers)
        {
            tracing::info!(
                reason = "cookie under the name of the other scheme",
                cookie = name,
                "session cookie ignored: the app sets the {} name (use_secure_cookies)",
                if has_prefix(name, SECURE) {
                    "plain"
                } else {
                    SECURE
                }
            );
        }
        credential
    }

    /// The first ignored name a request carries a cookie (or chunk) of.
    fn ignored_present(&self, headers: &HeaderMap) -> Option<&str> {
        if self.ignored.is_empty() {
            return None;
        }
        cookie_pairs(headers).find_map(|(name, _)| {
            let (index, _) = chunked::classify(&self.ignored, name)?;
            Some(self.ignored[index].as_str())
        })
    }
}

/// Whether an app at `url` (its `AUTH_URL` or `BETTER_AUTH_URL`, `None` when unset) sets
/// `__Secure-` cookies: unless the URL is plain `http://` (both libraries decide so from a
/// URL; without one, this takes the safe side, https).
pub(crate) fn uses_secure_cookies(url: Option<&str>) -> bool {
    let plain_http = url.is_some_and(|url| {
        url.trim_start()
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
    });
    !plain_http
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, header};

    use super::*;

    const NAMES: [&str; 5] = [
        "app.session",
        "__Secure-authjs.session-token",
        "authjs.session-token",
        "__Secure-next-auth.session-token",
        "next-auth.session-token",
    ];

    fn read(use_secure_cookies: bool) -> Vec<&'static str> {
        AppCookieNames::new(NAMES.to_vec(), use_secure_cookies)
            .read()
            .to_vec()
    }

    #[test]
    fn of_two_twins_only_the_one_the_app_sets_is_read() {
        assert_eq!(
            read(true),
            [
                "app.session",
                "__Secure-authjs.session-token",
                "__Secure-next-auth.session-token"
            ]
        );
        assert_eq!(
            read(false),
            [
                "app.session",
                "authjs.session-token",
                "next-auth.session-token"
            ]
        );
        // Twins in any case of the prefix, as browsers match it.
        let shouting = AppCookieNames::new(vec!["__SECURE-x", "x"], true);
        assert_eq!(shouting.read(), ["__SECURE-x"]);
        // A lone name is read under either scheme, as configured.
        for secure in [true, false] {
            let lone = AppCookieNames::new(vec!["__Secure-a", "b"], secure);
            assert_eq!(lone.read(), ["__Secure-a", "b"]);
        }
    }

    #[test]
    fn only_a_plain_http_url_turns_secure_cookies_off() {
        for (url, secure) in [
            (None, true),
            (Some("https://app.example.com"), true),
            (Some("http://localhost:3000"), false),
            (Some("HTTP://LOCALHOST"), false),
            (Some(" http://localhost"), false),
            (Some("httpx://"), true),
            (Some(""), true),
        ] {
            assert_eq!(uses_secure_cookies(url), secure, "{url:?}");
        }
    }

    #[test]
    fn a_cookie_under_an_ignored_twin_is_no_credential() {
        let names = AppCookieNames::new(NAMES.to_vec(), true);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("authjs.session-token.0=planted; next-auth.session-token=x"),
        );
        assert!(matches!(
            names.credential(&headers, 100, true),
            Credential::Nothing
        ));
        assert_eq!(
            names.ignored_present(&headers),
            Some("authjs.session-token")
        );
    }
}
