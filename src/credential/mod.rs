//! The credential a request carries, read in one place with one byte scanner: the session
//! cookie (or the previous one during a cookie migration), cookies under several names split
//! into chunks (Auth.js), and `Authorization: Bearer`. A strategy chooses which of them it
//! accepts ([`Strategy::credential`](crate::strategy::Strategy::credential)); nothing here
//! knows what a token means.

use axum::http::{HeaderMap, header};

#[cfg(any(feature = "authjs", feature = "betterauth"))]
mod app_cookies;
#[cfg(any(feature = "authjs", feature = "betterauth"))]
mod chunked;
#[cfg(any(feature = "authjs", feature = "betterauth"))]
pub(crate) use app_cookies::{AppCookieNames, uses_secure_cookies};
#[cfg(feature = "betterauth")]
pub(crate) use chunked::joined_cookie;

/// Where a presented token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A cookie under the `index`-th of the names the strategy reads (0 for the one session
    /// cookie).
    Cookie { index: usize },
    /// The cookie an earlier configuration set
    /// ([`SessionConfig::previous_cookie`](crate::SessionConfig::previous_cookie)).
    PreviousCookie,
    /// `Authorization: Bearer`.
    Bearer,
}

/// One token a request presents, and where it came from.
pub(crate) struct Presented {
    pub(crate) token: String,
    pub(crate) source: Source,
    /// Other cookies that travel with this token, which its strategy asked for by name (Better
    /// Auth's cookie cache beside its session cookie), in the order of the names: `None` for
    /// one that is absent or unusable. Empty, and allocating nothing, for the others.
    #[cfg_attr(not(feature = "betterauth"), allow(dead_code))]
    pub(crate) companions: Vec<Option<String>>,
}

impl std::fmt::Debug for Presented {
    /// Where the token came from, never the token or its companions.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("token", &"<redacted>")
            .field("source", &self.source)
            .field("companions", &self.companions.len())
            .finish()
    }
}

/// The credential a request came with.
#[derive(Debug)]
pub(crate) enum Credential {
    /// No session cookie and no bearer token.
    Nothing,
    /// Tokens to try in order of preference: the first valid one is the session. Only a
    /// strategy reading cookies under several names gives more than one (`rest` is empty,
    /// and allocates nothing, otherwise).
    Tokens {
        first: Presented,
        rest: Vec<Presented>,
    },
    /// A session cookie that cannot be used (not valid text, chunks missing, oversized, a
    /// chunk duplicated).
    Unusable,
    /// Two or more cookies of the session cookie's name (or, without it, of the previous
    /// cookie's): no session, and neither is cleared. Which one the layer set cannot be told;
    /// a clearing `Set-Cookie` removes only the one with the layer's own domain and path, and
    /// would leave the other (planted by a sibling subdomain or a plain-http page) to be the
    /// next request's session: a login CSRF.
    Ambiguous,
    /// The same, of the previous cookie
    /// ([`SessionConfig::previous_cookie`](crate::SessionConfig::previous_cookie)): that cookie
    /// is the one to remove.
    UnusablePrevious,
}

impl Credential {
    fn one(token: &str, source: Source) -> Self {
        Credential::Tokens {
            first: Presented {
                token: token.to_owned(),
                source,
                companions: Vec::new(),
            },
            rest: Vec::new(),
        }
    }

    /// Every token, in order of preference.
    pub(crate) fn tokens(&self) -> impl Iterator<Item = &Presented> {
        let (first, rest) = match self {
            Credential::Tokens { first, rest } => (Some(first), rest.as_slice()),
            _ => (None, &[][..]),
        };
        first.into_iter().chain(rest)
    }

    /// Every token, in order of preference, to attach its companion cookies to.
    #[cfg(feature = "betterauth")]
    pub(crate) fn tokens_mut(&mut self) -> impl Iterator<Item = &mut Presented> {
        let (first, rest) = match self {
            Credential::Tokens { first, rest } => (Some(first), rest.as_mut_slice()),
            _ => (None, &mut [][..]),
        };
        first.into_iter().chain(rest)
    }

    /// Where the (first) token came from; `None` without one.
    pub(crate) fn source(&self) -> Option<Source> {
        self.tokens().next().map(|p| p.source)
    }

    /// Whether the request came with the previous cookie (and not the current one), usable or
    /// not.
    pub(crate) fn carries_previous_cookie(&self) -> bool {
        matches!(self, Credential::UnusablePrevious)
            || self.source() == Some(Source::PreviousCookie)
    }

    /// Whether the request carried a session cookie (usable or not).
    pub(crate) fn carries_cookie(&self) -> bool {
        match self {
            Credential::Unusable | Credential::UnusablePrevious | Credential::Ambiguous => true,
            Credential::Nothing => false,
            Credential::Tokens { .. } => self.source() != Some(Source::Bearer),
        }
    }
}

/// Every `name=value` pair of the request's `Cookie` headers, both sides trimmed, as bytes.
///
/// Headers are split as bytes: browsers send every cookie of the site in one header, raw bytes
/// included, and another cookie's non-ASCII value must not make ours unreadable.
fn cookie_pairs(headers: &HeaderMap) -> impl Iterator<Item = (&[u8], &[u8])> {
    headers.get_all(header::COOKIE).iter().flat_map(|value| {
        let bytes = value.as_bytes();
        // SIMD search for the separators: a JWT cookie is hundreds of bytes.
        let mut ends = memchr::memchr_iter(b';', bytes).chain(std::iter::once(bytes.len()));
        let mut start = 0;
        std::iter::from_fn(move || {
            let end = ends.next()?;
            let pair = &bytes[start..end];
            start = end + 1;
            Some(pair)
        })
        .filter_map(|pair| {
            let eq = memchr::memchr(b'=', pair)?;
            Some((pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii()))
        })
    })
}

/// A cookie's value as text: ASCII only.
fn ascii(value: &[u8]) -> Option<&str> {
    value
        .is_ascii()
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}

/// What the request's `Cookie` headers say about one cookie name.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CookieValue<'a> {
    /// The cookie is not there.
    Absent,
    /// Exactly one cookie of that name.
    One(&'a str),
    /// Two or more: no session.
    Duplicated,
    /// One whose value is not ASCII text: no session.
    Unusable,
}

/// The cookie called `name` among every `Cookie` header of a request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> CookieValue<'a> {
    let mut found = CookieValue::Absent;
    for (_, value) in cookie_pairs(headers).filter(|(n, _)| *n == name.as_bytes()) {
        found = match (&found, ascii(value)) {
            (CookieValue::Absent, Some(value)) => CookieValue::One(value),
            (CookieValue::Absent, None) => CookieValue::Unusable,
            _ => return CookieValue::Duplicated,
        };
    }
    found
}

/// The credential of a strategy with one session cookie: the cookie called `name`; without
/// it, the cookie called `previous` (a cookie migration); without either, `Authorization:
/// Bearer` when `accept_bearer`.
pub(crate) fn session_cookie(
    headers: &HeaderMap,
    name: &str,
    previous: Option<&str>,
    accept_bearer: bool,
) -> Credential {
    match cookie(headers, name) {
        CookieValue::One(value) => Credential::one(value, Source::Cookie { index: 0 }),
        CookieValue::Unusable => Credential::Unusable,
        CookieValue::Duplicated => Credential::Ambiguous,
        CookieValue::Absent => match previous.map(|name| cookie(headers, name)) {
            Some(CookieValue::One(value)) => Credential::one(value, Source::PreviousCookie),
            Some(CookieValue::Unusable) => Credential::UnusablePrevious,
            Some(CookieValue::Duplicated) => Credential::Ambiguous,
            _ if accept_bearer => bearer(headers),
            _ => Credential::Nothing,
        },
    }
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub(crate) fn bearer(headers: &HeaderMap) -> Credential {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Credential::Nothing;
    };
    if values.next().is_some() {
        // Which of two credentials counts would depend on who reads them (a proxy may check
        // the last, we would take the first): ambiguous credentials are no credentials.
        tracing::info!(
            reason = "duplicated Authorization headers",
            "session rejected"
        );
        return Credential::Nothing;
    }
    let token = value.to_str().ok().and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    match token {
        Some(token) => Credential::one(token, Source::Bearer),
        // Some other scheme (Basic, ...) is not ours to judge.
        None => Credential::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    pub(super) fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(header::COOKIE, HeaderValue::from_bytes(v).unwrap());
        }
        map
    }

    #[test]
    fn reads_the_one_session_cookie_among_others() {
        let h = headers(&[b"a=1; session-id=abc ; b=2"]);
        assert_eq!(cookie(&h, "session-id"), CookieValue::One("abc"));
        assert_eq!(
            cookie(&headers(&[b"a=1"]), "session-id"),
            CookieValue::Absent
        );
        let other = headers(&[b"xsession-id=1; session-id.0=2"]);
        assert_eq!(cookie(&other, "session-id"), CookieValue::Absent);
        assert_eq!(
            cookie(&headers(&[b";;=;x"]), "session-id"),
            CookieValue::Absent
        );
    }

    #[test]
    fn duplicate_or_undecodable_session_cookies_are_unusable() {
        for h in [
            headers(&[b"session-id=a", b"session-id=b"]),
            headers(&[b"session-id=a; x=\xe9; session-id=b"]),
            headers(&[b"session-id=\xff; session-id=b"]),
        ] {
            assert_eq!(cookie(&h, "session-id"), CookieValue::Duplicated);
        }
        let h = headers(&[b"session-id=\xff\xfe"]);
        assert_eq!(cookie(&h, "session-id"), CookieValue::Unusable);
    }

    #[test]
    fn another_cookie_that_is_not_ascii_leaves_the_session_cookie_readable() {
        let h = headers(&[b"lang=espa\xc3\xb1ol; session-id=abc; x=\xff"]);
        assert_eq!(cookie(&h, "session-id"), CookieValue::One("abc"));
        let h = headers(&[b"x=\xe9", b"session-id=abc"]);
        assert_eq!(cookie(&h, "session-id"), CookieValue::One("abc"));
    }

    pub(super) fn tokens(c: &Credential) -> Vec<(&str, Source)> {
        c.tokens().map(|p| (p.token.as_str(), p.source)).collect()
    }

    #[test]
    fn without_a_cookie_the_bearer_token_counts_when_accepted() {
        let mut h = headers(&[b"a=1"]);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        let c = session_cookie(&h, "session-id", Some("old"), true);
        assert_eq!(tokens(&c), [("t", Source::Bearer)]);
        h.insert(header::COOKIE, HeaderValue::from_static("old=p"));
        let c = session_cookie(&h, "session-id", Some("old"), true);
        assert_eq!(tokens(&c), [("p", Source::PreviousCookie)]);
        h.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer u"));
        assert!(matches!(bearer(&h), Credential::Nothing));
    }
}
