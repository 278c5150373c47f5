//! Auth.js's session cookies in a request: several accepted names in order of preference, a
//! large value split into `<name>.0`, `<name>.1`, ... chunks, and `Authorization: Bearer` as
//! the fallback. Shared by the JWE strategy and the database strategy, which differ only in
//! what they do with the token.

use axum::http::{HeaderMap, header};

use crate::config::SessionConfig;
use crate::request::Presented;

/// The most chunks one cookie is split into (16 KiB / 3933 characters, rounded up).
const MAX_CHUNKS: usize = 8;

/// The cookies of one configured name found in a request.
#[derive(Default)]
struct Found<'a> {
    whole: Vec<&'a str>,
    chunks: Vec<(usize, &'a str)>,
    unusable: bool,
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
/// `Some((index, Some(n)))` for chunk `n`.
fn classify<N: AsRef<str>>(names: &[N], cookie: &[u8]) -> Option<(usize, Option<usize>)> {
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

/// The token among the request's `Cookie` headers: `Ok(Some((index of the name, token)))` for
/// the first of `names` present, `Ok(None)` without any, `Err(())` for a cookie that cannot be
/// used (not ASCII, chunks missing or repeated, over `max_len` bytes with chunks joined).
fn read_cookies<N: AsRef<str>>(
    names: &[N],
    max_len: usize,
    headers: &HeaderMap,
) -> Result<Option<(usize, String)>, ()> {
    let mut found: Vec<Found<'_>> = names.iter().map(|_| Found::default()).collect();
    let mut total = 0usize;
    for value in headers.get_all(header::COOKIE) {
        for pair in value.as_bytes().split(|&b| b == b';') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            let Some((i, chunk)) = classify(names, pair[..eq].trim_ascii()) else {
                continue;
            };
            let raw = pair[eq + 1..].trim_ascii();
            if raw.is_empty() {
                // Auth.js ignores empty chunks (its cleared cookies).
                continue;
            }
            total += raw.len();
            let f = &mut found[i];
            match std::str::from_utf8(raw).ok().filter(|v| v.is_ascii()) {
                None => f.unusable = true,
                Some(v) => match chunk {
                    None => f.whole.push(v),
                    Some(n) if f.chunks.len() < MAX_CHUNKS => f.chunks.push((n, v)),
                    Some(_) => f.unusable = true,
                },
            }
        }
    }
    if total > max_len {
        tracing::info!(reason = "oversized token", "session rejected");
        return Err(());
    }
    let Some(i) = found.iter().position(|f| !f.is_empty()) else {
        return Ok(None);
    };
    found
        .swap_remove(i)
        .token()
        .map(|token| Some((i, token)))
        .ok_or(())
}

/// The credential of a request for a strategy reading Auth.js cookies: the first of `names`
/// present (chunks joined; when the cookies of all `names` hold over `max_len` bytes, the
/// request's cookie is unusable, unread), or without any of them
/// `Authorization: Bearer` when the layer accepts it. `value` turns the name the token came
/// under (`None` for a bearer token) and the token into what `Strategy::resolve` receives.
pub(super) fn presented<N: AsRef<str>>(
    names: &[N],
    max_len: usize,
    headers: &HeaderMap,
    config: &SessionConfig,
    value: impl FnOnce(Option<&str>, String) -> String,
) -> Presented {
    match read_cookies(names, max_len, headers) {
        Ok(Some((i, token))) => Presented::Token {
            value: value(Some(names[i].as_ref()), token),
            from_cookie: true,
        },
        Err(()) => Presented::Unusable,
        Ok(None) if config.accept_bearer => match crate::layer::bearer(headers) {
            Presented::Token { value: token, .. } => Presented::Token {
                value: value(None, token),
                from_cookie: false,
            },
            other => other,
        },
        Ok(None) => Presented::Nothing,
    }
}

/// # Panics
///
/// Without any name, or with a name that is not a valid cookie name.
pub(super) fn assert_valid_names<N: AsRef<str>>(names: &[N], what: &str) {
    assert!(
        !names.is_empty(),
        "sessionward: {what} has no session cookie name"
    );
    for name in names {
        let name = name.as_ref();
        assert!(
            crate::cookie::is_valid_name(name),
            "sessionward: {name:?} is not a valid cookie name"
        );
    }
}
