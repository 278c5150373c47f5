//! [`SiteOrigin`]: an origin (`scheme://host[:port]`) in one normal form, so that
//! `https://App.example.com:443` and `https://app.example.com` compare equal.

use std::fmt;

/// An origin in normal form: scheme and host lower-cased, the scheme's default port dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SiteOrigin {
    scheme: String,
    authority: String,
}

impl SiteOrigin {
    /// Parses `scheme://host[:port]` exactly as browsers serialize an `Origin`: no path, no
    /// query, no user info. `None` for anything else (including `null`).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (scheme, authority) = text.split_once("://")?;
        let valid_scheme = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        if !valid_scheme {
            return None;
        }
        let scheme = scheme.to_ascii_lowercase();
        let authority = normal_authority(&scheme, authority)?;
        Some(Self { scheme, authority })
    }

    /// Whether this is the origin of a request to `authority` (a `Host`), over `scheme` when
    /// it is known. With the scheme unknown, the host and port decide, the port read with this
    /// origin's scheme's default.
    pub(crate) fn is_origin_of(&self, scheme: Option<&str>, authority: &str) -> bool {
        if scheme.is_some_and(|s| !s.eq_ignore_ascii_case(&self.scheme)) {
            return false;
        }
        normal_authority(&self.scheme, authority).is_some_and(|a| a == self.authority)
    }
}

impl fmt::Display for SiteOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

/// `Host:443` -> `host` for https: lower-cased, the default port dropped, the port written as
/// its number (`0443` is `443`) and an IPv6 address in its one canonical text (RFC 5952, as
/// browsers write it in an `Origin`). `None` unless it is a plain `host[:port]` (a registered
/// name, an IPv4 address, or a bracketed IPv6 address; a port of 1 to 5 digits, no sign).
pub(crate) fn normal_authority(scheme: &str, authority: &str) -> Option<String> {
    let (host, port) = split_host_port(authority)?;
    let mut normal = if let Some(inner) = host.strip_prefix('[') {
        let v6: std::net::Ipv6Addr = inner.strip_suffix(']')?.parse().ok()?;
        format!("[{v6}]")
    } else {
        let name_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        name_ok.then(|| host.to_ascii_lowercase())?
    };
    let port = match port {
        None => None,
        Some(p) if (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().ok()?)
        }
        Some(_) => return None,
    };
    let default_port = match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    };
    if let Some(port) = port.filter(|p| Some(*p) != default_port) {
        normal.push_str(&format!(":{port}"));
    }
    Some(normal)
}

/// Whether `authority` (a `Host`) names this machine: `localhost`, `127.x.y.z` or `[::1]`.
pub(crate) fn is_loopback(authority: &str) -> bool {
    let Some((host, _)) = split_host_port(authority) else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `host:port` -> (`host`, `Some(port)`), bracketed IPv6 hosts kept whole.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        return match rest {
            "" => Some((host, None)),
            _ => Some((host, Some(rest.strip_prefix(':')?))),
        };
    }
    Some(match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_and_case_are_normalized() {
        let a = SiteOrigin::parse("https://App.Example.com:443").unwrap();
        assert_eq!(a, SiteOrigin::parse("https://app.example.com").unwrap());
        assert_eq!(a.to_string(), "https://app.example.com");
        let b = SiteOrigin::parse("http://127.0.0.1:3000").unwrap();
        assert_eq!(b.to_string(), "http://127.0.0.1:3000");
        assert_eq!(
            SiteOrigin::parse("http://[::1]:80").unwrap().to_string(),
            "http://[::1]"
        );
    }

    #[test]
    fn anything_but_scheme_host_port_is_refused() {
        for bad in [
            "null",
            "",
            "app.example.com",
            "https://",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://user@app.example.com",
            "https://app.example.com:99999",
            "https://app.example.com:",
            "https://app example.com",
            "https://[::1",
            "https://[nope]:1",
            "1https://a",
            "https://app.example.com:+443",
            "https://app.example.com:-1",
            "https://app.example.com: 443",
        ] {
            assert!(SiteOrigin::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn ports_and_ipv6_addresses_have_one_spelling() {
        let same = |a: &str, b: &str| {
            assert_eq!(SiteOrigin::parse(a), SiteOrigin::parse(b), "{a} / {b}");
            assert!(SiteOrigin::parse(a).is_some(), "{a}");
        };
        same("https://app.example.com:0443", "https://app.example.com");
        same(
            "http://app.example.com:03000",
            "http://app.example.com:3000",
        );
        same("http://[2001:db8:0::1]:3000", "http://[2001:db8::1]:3000");
        same("http://[2001:DB8::1]", "http://[2001:db8::1]:80");
        let o = SiteOrigin::parse("http://[2001:db8:0:0::1]:3000").unwrap();
        assert_eq!(o.to_string(), "http://[2001:db8::1]:3000");
        assert!(o.is_origin_of(None, "[2001:db8::1]:3000"));
    }

    #[test]
    fn a_host_matches_with_the_scheme_when_known() {
        let o = SiteOrigin::parse("https://app.example.com").unwrap();
        assert!(o.is_origin_of(None, "APP.example.com:443"));
        assert!(o.is_origin_of(Some("HTTPS"), "app.example.com"));
        assert!(!o.is_origin_of(Some("http"), "app.example.com"));
        assert!(!o.is_origin_of(None, "app.example.com:8443"));
        assert!(!o.is_origin_of(None, "evil.example"));
        assert!(!o.is_origin_of(None, "app.example.com/x"));
    }

    #[test]
    fn loopback_hosts_are_recognized() {
        for host in ["localhost:3000", "127.0.0.1", "127.9.9.9:1", "[::1]:8080"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["app.example.com", "10.0.0.1:80", "[2001:db8::1]"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
