//! Auth.js's session cookies in a request: several accepted names in order of preference, a
//! large value split into `<name>.0`, `<name>.1`, ... chunks, and `Authorization: Bearer` as
//! the fallback. Shared by the JWE strategy and the database strategy, which differ only in
//! what they do with the token.

use axum::http::{HeaderMap, header};

use crate::config::SessionConfig;
use crate::credential::Credential;
use crate::error::Error;
use crate::strategy::Lookup;

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

/// The tokens among the request's `Cookie` headers: `Ok(candidates)` with one `(index of the
/// name, token)` per name of `names` present with a usable cookie, in the order of `names`
/// (empty without any), `Err(())` when cookies of those names are there but none can be used
/// (not ASCII, chunks missing or repeated), or when they hold over `max_len` bytes with chunks
/// joined.
fn read_cookies<N: AsRef<str>>(
    names: &[N],
    max_len: usize,
    headers: &HeaderMap,
) -> Result<Vec<(usize, String)>, ()> {
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
    let present = found.iter().any(|f| !f.is_empty());
    let candidates: Vec<(usize, String)> = found
        .into_iter()
        .enumerate()
        .filter_map(|(i, f)| Some((i, f.token()?)))
        .collect();
    if present && candidates.is_empty() {
        return Err(());
    }
    Ok(candidates)
}

/// Separates the candidates in the value [`presented`] hands the strategy: no header value
/// (so no cookie, token or name) holds a newline.
const CANDIDATE_SEPARATOR: char = '\n';

/// The credential of a request for a strategy reading Auth.js cookies: every one of `names`
/// present, in order of preference, as candidates (chunks joined; when the cookies of all
/// `names` hold over `max_len` bytes, the request's cookie is unusable, unread), or without any
/// of them `Authorization: Bearer` when the layer accepts it. `value` turns the name a token
/// came under (`None` for a bearer token) and the token into one candidate; `resolve` receives
/// them joined, and [`first_valid`] tries them in order.
pub(super) fn credential<N: AsRef<str>>(
    names: &[N],
    max_len: usize,
    headers: &HeaderMap,
    config: &SessionConfig,
    value: impl Fn(Option<&str>, String) -> String,
) -> Credential {
    match read_cookies(names, max_len, headers) {
        Ok(candidates) if !candidates.is_empty() => {
            let mut joined = String::new();
            for (i, token) in candidates {
                if !joined.is_empty() {
                    joined.push(CANDIDATE_SEPARATOR);
                }
                joined.push_str(&value(Some(names[i].as_ref()), token));
            }
            Credential::Token {
                value: joined,
                from_cookie: true,
            }
        }
        Err(()) => Credential::Unusable,
        Ok(_) if config.accept_bearer => match crate::credential::bearer(headers) {
            Credential::Token { value: token, .. } => Credential::Token {
                value: value(None, token),
                from_cookie: false,
            },
            other => other,
        },
        Ok(_) => Credential::Nothing,
    }
}

/// Resolves the candidates [`presented`] joined, in order of preference: the first valid
/// session wins, so a stale or foreign cookie under a preferred name (a v5 cookie that does
/// not decrypt next to a valid v4 one) never hides a good one. Without any, the first
/// candidate's reason. A store error ends the search (503, not a guess). At most one
/// `resolve_one` per configured cookie name.
pub(super) async fn first_valid<'a, F, Fut>(
    value: &'a str,
    mut resolve_one: F,
) -> Result<Lookup, Error>
where
    F: FnMut(&'a str) -> Fut,
    Fut: Future<Output = Result<Lookup, Error>>,
{
    let mut first_reason = None;
    for candidate in value.split(CANDIDATE_SEPARATOR) {
        match resolve_one(candidate).await? {
            Lookup::Invalid(reason) => {
                first_reason.get_or_insert(reason);
            }
            valid => return Ok(valid),
        }
    }
    Ok(Lookup::Invalid(first_reason.unwrap_or("malformed token")))
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
