//! The cross-origin check for state-changing requests that carry the session cookie.

use axum::http::{HeaderMap, Method, Uri, header};

/// Whether the method can change state (everything but GET, HEAD, OPTIONS and TRACE).
pub(crate) fn is_state_changing(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether a request comes from another origin than the one it is addressed to, judged by
/// `Origin`, else `Referer`, else `Sec-Fetch-Site`. A request with none of them (a non-browser
/// client) is not cross-origin; an unreadable or `null` origin is.
pub(crate) fn is_cross_origin(headers: &HeaderMap, uri: &Uri, trusted: &[String]) -> bool {
    let Some(source) = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
    else {
        return headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    };
    let Some((scheme, authority)) = source.to_str().ok().and_then(split_origin) else {
        return true;
    };
    if trusted
        .iter()
        .any(|t| t.strip_prefix(&scheme).and_then(|r| r.strip_prefix("://")) == Some(&authority))
    {
        return false;
    }
    let target = uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()));
    match target {
        Some(target) => normalize(&scheme, target) != authority,
        None => true,
    }
}

/// `https://Host:443/path?q` -> (`https`, `host`): lower-cased, default port dropped.
fn split_origin(source: &str) -> Option<(String, String)> {
    let (scheme, rest) = source.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    if authority.is_empty() {
        return None;
    }
    let authority = normalize(&scheme, authority);
    Some((scheme, authority))
}

fn normalize(scheme: &str, authority: &str) -> String {
    let lower = authority.to_ascii_lowercase();
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return lower,
    };
    match lower.strip_suffix(default_port) {
        Some(host) => host.to_owned(),
        None => lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn check(origin: Option<&str>, referer: Option<&str>, host: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        if let Some(r) = referer {
            h.insert(header::REFERER, HeaderValue::from_str(r).unwrap());
        }
        is_cross_origin(
            &h,
            &Uri::from_static("/logout"),
            &["https://app.example.com".into()],
        )
    }

    #[test]
    fn same_origin_passes_and_foreign_origin_fails() {
        assert!(!check(
            Some("http://127.0.0.1:3000"),
            None,
            "127.0.0.1:3000"
        ));
        assert!(!check(Some("https://Example.com:443"), None, "example.com"));
        assert!(check(Some("http://127.0.0.1:4000"), None, "127.0.0.1:3000"));
        assert!(check(Some("null"), None, "127.0.0.1:3000"));
        assert!(check(
            Some("https://evil.example"),
            Some("https://example.com/"),
            "example.com"
        ));
    }

    #[test]
    fn referer_is_the_fallback_and_trusted_origins_pass() {
        assert!(!check(None, Some("https://example.com/a?b"), "example.com"));
        assert!(check(None, Some("https://evil.example/a"), "example.com"));
        assert!(!check(
            Some("https://app.example.com"),
            None,
            "api.example.com"
        ));
        assert!(!check(None, None, "example.com"));
    }
}
