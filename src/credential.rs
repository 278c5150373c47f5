//! The credential a request carries: the session cookie (or the previous one during a cookie
//! migration), or an `Authorization: Bearer` token. Reading the session cookie itself is
//! [`CookieConfig::read`](crate::cookie::CookieConfig::read); a strategy decides which of them
//! it accepts.

use axum::http::{HeaderMap, header};

/// The credential a request came with.
#[derive(Debug)]
pub(crate) enum Credential {
    /// No session cookie and no bearer token.
    Nothing,
    /// One token, from the session cookie or from `Authorization: Bearer`.
    Token { value: String, from_cookie: bool },
    /// No session cookie, but the one an earlier configuration set
    /// ([`SessionConfig::previous_cookie`](crate::SessionConfig::previous_cookie)): its token.
    PreviousCookie(String),
    /// A session cookie that cannot be used (duplicated, not valid text).
    Unusable,
}

impl Credential {
    /// Whether the request carried a session cookie (usable or not).
    pub(crate) fn carries_cookie(&self) -> bool {
        matches!(
            self,
            Credential::Unusable
                | Credential::PreviousCookie(_)
                | Credential::Token {
                    from_cookie: true,
                    ..
                }
        )
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
        Some(token) => Credential::Token {
            value: token.to_owned(),
            from_cookie: false,
        },
        // Some other scheme (Basic, ...) is not ours to judge.
        None => Credential::Nothing,
    }
}
