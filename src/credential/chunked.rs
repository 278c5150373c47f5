//! Cookies under several names, each possibly split into chunks (Auth.js's session cookies,
//! Better Auth's cookie cache).

use axum::http::HeaderMap;

use super::{Credential, Presented, Source, ascii, bearer, cookie_pairs};

/// The most chunks one cookie is split into (16 KiB / 3933 characters, rounded up).
const MAX_CHUNKS: usize = 8;

/// The cookies of one name found in a request.
#[derive(Default)]
struct Found<'a> {
    whole: Vec<&'a str>,
    chunks: Vec<(usize, &'a str)>,
    unusable: bool,
    /// The bytes of its cookies, together.
    bytes: usize,
}

impl Found<'_> {
    fn is_empty(&self) -> bool {
        self.whole.is_empty() && self.chunks.is_empty() && !self.unusable
    }

    /// The token: the one cookie, or the chunks `0..n` joined in order.
    fn token(mut self) -> Option<String> {
        if self.unusable {
            return None;
        }
        match (self.whole.as_slice(), self.chunks.is_empty()) {
            ([one], true) => Some((*one).to_owned()),
            ([], false) => {
                self.chunks.sort_unstable_by_key(|(i, _)| *i);
                let in_order = self.chunks.iter().enumerate().all(|(n, (i, _))| n == *i);
                in_order.then(|| self.chunks.iter().map(|(_, v)| *v).collect())
            }
            _ => None,
        }
    }
}

/// Which of `names` a cookie called `cookie` is: `Some((index, None))` for the whole cookie,
/// `Some((index, Some(n)))` for chunk `n` (`<name>.<n>`, at most two digits).
pub(super) fn classify<N: AsRef<str>>(
    names: &[N],
    cookie: &[u8],
) -> Option<(usize, Option<usize>)> {
    names.iter().enumerate().find_map(|(i, n)| {
        let rest = cookie.strip_prefix(n.as_ref().as_bytes())?;
        if rest.is_empty() {
            return Some((i, None));
        }
        let digits = rest.strip_prefix(b".")?;
        let valid =
            !digits.is_empty() && digits.len() <= 2 && digits.iter().all(u8::is_ascii_digit);
        if !valid {
            return None;
        }
        let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
        Some((i, Some(n)))
    })
}

/// The credential of a strategy that reads cookies under several `names`, in order of
/// preference, each possibly split into `<name>.0`, `<name>.1`, ... chunks (Auth.js): one
/// token per name present, chunks joined, its [`Source::Cookie`] index the name's. Empty
/// cookies are skipped (Auth.js's cleared chunks). A name whose cookies hold over `max_len`
/// bytes together cannot be used (a large leftover under an old name does not hide a good
/// token under another). [`Credential::Unusable`] when cookies of those names are there but
/// none can be used (not ASCII, chunks missing or repeated, oversized). Without any,
/// `Authorization: Bearer` when `accept_bearer`.
pub(crate) fn named_cookies<N: AsRef<str>>(
    headers: &HeaderMap,
    names: &[N],
    max_len: usize,
    accept_bearer: bool,
) -> Credential {
    let mut found: Vec<Found<'_>> = names.iter().map(|_| Found::default()).collect();
    for (name, raw) in cookie_pairs(headers) {
        let Some((i, chunk)) = classify(names, name) else {
            continue;
        };
        if raw.is_empty() {
            continue;
        }
        let f = &mut found[i];
        f.bytes += raw.len();
        if f.bytes > max_len {
            // Nothing more of it is kept: what one request can make this hold is bounded.
            if !f.unusable {
                tracing::info!(reason = "oversized token", "session rejected");
            }
            f.unusable = true;
            f.whole.clear();
            f.chunks.clear();
            continue;
        }
        match ascii(raw) {
            None => f.unusable = true,
            Some(v) => match chunk {
                None => f.whole.push(v),
                Some(n) if f.chunks.len() < MAX_CHUNKS => f.chunks.push((n, v)),
                Some(_) => f.unusable = true,
            },
        }
    }
    let present = found.iter().any(|f| !f.is_empty());
    let mut tokens = found.into_iter().enumerate().filter_map(|(index, f)| {
        Some(Presented {
            token: f.token()?,
            source: Source::Cookie { index },
            companions: Vec::new(),
        })
    });
    match tokens.next() {
        Some(first) => Credential::Tokens {
            first,
            rest: tokens.collect(),
        },
        None if present => Credential::Unusable,
        None if accept_bearer => bearer(headers),
        None => Credential::Nothing,
    }
}

/// The value of the cookie called `name`, whole or split into `<name>.0`, `<name>.1`, ...
/// chunks joined in order: `None` when it is absent, empty, not ASCII, its chunks are missing
/// or repeated, or it holds over `max_len` bytes.
#[cfg(feature = "betterauth")]
pub(crate) fn joined_cookie(headers: &HeaderMap, name: &str, max_len: usize) -> Option<String> {
    match named_cookies(headers, &[name], max_len, false) {
        Credential::Tokens { first, .. } => Some(first.token),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, header};

    use super::super::tests::{headers, tokens};
    use super::*;

    #[test]
    fn named_cookies_join_chunks_and_keep_the_order_of_the_names() {
        let names = ["v5", "v4"];
        let h = headers(&[b"v4=old; v5.1=cd; other=x", b"v5.0=ab; v5.2="]);
        let c = named_cookies(&h, &names, 100, true);
        assert_eq!(
            tokens(&c),
            [
                ("abcd", Source::Cookie { index: 0 }),
                ("old", Source::Cookie { index: 1 })
            ]
        );
        assert!(c.carries_cookie());
    }

    #[test]
    fn named_cookies_that_cannot_be_used_are_unusable_not_absent() {
        let names = ["v5"];
        for h in [
            headers(&[b"v5.0=a; v5.2=c"]),
            headers(&[b"v5=a; v5.0=b"]),
            headers(&[b"v5=a; v5=b"]),
            headers(&[b"v5=\xe9"]),
            headers(&[b"v5=0123456789a"]),
        ] {
            assert!(matches!(
                named_cookies(&h, &names, 10, true),
                Credential::Unusable
            ));
        }
        // A name that only starts like ours is not ours.
        let h = headers(&[b"v5x=1; v5.x=2; v5.123=3"]);
        assert!(matches!(
            named_cookies(&h, &names, 10, false),
            Credential::Nothing
        ));
    }

    #[test]
    fn an_oversized_cookie_under_one_name_does_not_hide_a_good_one_under_another() {
        // A v5 cookie within the bound, an old v4 one left over that is over it.
        let h = headers(&[b"v4.0=0123456; v5.0=abcd; v4.1=789ab; v5.1=efgh"]);
        let c = named_cookies(&h, &["v5", "v4"], 10, false);
        assert_eq!(tokens(&c), [("abcdefgh", Source::Cookie { index: 0 })]);
        let c = named_cookies(&h, &["v4", "v5"], 10, false);
        assert_eq!(tokens(&c), [("abcdefgh", Source::Cookie { index: 1 })]);
        // Alone, the oversized one is an unusable cookie (cleared), as before.
        let h = headers(&[b"v4.0=0123456; v4.1=789ab"]);
        assert!(matches!(
            named_cookies(&h, &["v5", "v4"], 10, false),
            Credential::Unusable
        ));
    }

    #[cfg(feature = "betterauth")]
    #[test]
    fn one_cookie_joined_from_its_chunks_or_nothing() {
        let h = headers(&[b"c.1=cd; c.0=ab; d=x; c2=y"]);
        assert_eq!(joined_cookie(&h, "c", 10).as_deref(), Some("abcd"));
        assert_eq!(joined_cookie(&h, "d", 10).as_deref(), Some("x"));
        assert_eq!(joined_cookie(&h, "c", 3), None, "over the bound");
        assert_eq!(joined_cookie(&h, "e", 10), None);
        assert_eq!(joined_cookie(&headers(&[b"c.0=a; c.2=b"]), "c", 10), None);
        let mut bearer_only = headers(&[b"a=1"]);
        bearer_only.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        assert_eq!(joined_cookie(&bearer_only, "c", 10), None);
    }

    #[test]
    fn without_a_cookie_the_bearer_token_counts_when_accepted() {
        let mut h = headers(&[b"a=1"]);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        let c = named_cookies(&h, &["v5"], 10, true);
        assert_eq!(tokens(&c), [("t", Source::Bearer)]);
        assert!(!c.carries_cookie());
        assert!(matches!(
            named_cookies(&h, &["v5"], 10, false),
            Credential::Nothing
        ));
    }
}
