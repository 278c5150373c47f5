//! What trusted reverse proxies say about the request they pass on: the client's address, and
//! the host and scheme the client asked for (`Forwarded`, or the `X-Forwarded-*` family).
//!
//! Only a request whose direct peer is a configured proxy is read this way; from anyone else
//! these headers are the client's own words and are ignored. Parsing is bounded
//! ([`MAX_HOPS`] entries) and garbage is ignored, never an error.

use std::net::IpAddr;

use axum::http::HeaderMap;

use super::site::normal_authority;

/// At most this many proxy hops are read from the right of a header; a longer chain is
/// cut there (the client address is then unknown).
pub(crate) const MAX_HOPS: usize = 32;

/// Which headers trusted proxies use to describe the client's request.
///
/// Exactly one family is read: a proxy that sets one passes the other through from the
/// client untouched, so reading both would let a client speak for the proxy.
///
/// ```
/// use std::net::SocketAddr;
/// use axum::{Router, body::Body, extract::ConnectInfo, http::Request, routing::post};
/// use sessionward::origin::ProxyHeaders;
/// use sessionward::{MemoryStore, SessionConfig, SessionLayer, Sessions};
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let config = SessionConfig::default()
///     .trust_proxies(["10.0.0.0/8"])
///     .proxy_headers(ProxyHeaders::Forwarded);
/// let app = Router::new()
///     .route("/login", post(|sessions: Sessions| async move {
///         let info = sessions.login("alice", &serde_json::json!({})).await?;
///         Ok::<_, sessionward::Error>(info.ip.unwrap_or_default()) // recorded for session lists
///     }))
///     .layer(SessionLayer::database(MemoryStore::new(), config));
///
/// let through_the_proxy = Request::post("/login")
///     .header("forwarded", "for=203.0.113.7;proto=https")
///     .header("x-forwarded-for", "198.51.100.66") // the other family: the client's own words
///     .extension(ConnectInfo(SocketAddr::from(([10, 0, 0, 2], 41000)))) // as axum::serve sets it
///     .body(Body::empty())?;
/// let response = app.oneshot(through_the_proxy).await?;
/// assert_eq!(axum::body::to_bytes(response.into_body(), 64).await?, "203.0.113.7");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProxyHeaders {
    /// `X-Forwarded-For`, `X-Forwarded-Host` and `X-Forwarded-Proto` (the default; what nginx,
    /// HAProxy and most load balancers send). The proxy must append to `X-Forwarded-For` and
    /// overwrite the other two.
    #[default]
    XForwarded,
    /// `Forwarded` (RFC 7239): `for`, `host` and `proto` of the element the outermost trusted
    /// proxy added.
    Forwarded,
}

/// The proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default)]
pub(crate) struct TrustedProxies {
    pub(crate) nets: Vec<IpNet>,
    pub(crate) headers: ProxyHeaders,
}

/// An address block: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `ip` or `ip/prefix`; `None` when it is neither.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => p.parse::<u8>().ok()?,
            Some(_) => return None,
            None => max,
        };
        (prefix <= max).then_some(Self { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// What the request looked like where it entered: read from trusted proxies' headers, or
/// nothing when the peer is not a trusted proxy.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    /// The client's address (`None`: not stated, or not readable).
    pub(crate) client: Option<IpAddr>,
    /// The `Host` the client asked for.
    pub(crate) host: Option<&'a str>,
    /// `http` or `https`.
    pub(crate) proto: Option<&'static str>,
    /// Whether the peer is a trusted proxy (and the fields above come from its headers).
    pub(crate) via_proxy: bool,
}

impl TrustedProxies {
    /// Reads where the request entered, when `peer` is a trusted proxy.
    pub(crate) fn entry<'a>(&self, headers: &'a HeaderMap, peer: Option<IpAddr>) -> Entry<'a> {
        let trusted = |ip: IpAddr| self.nets.iter().any(|n| n.contains(ip));
        if self.nets.is_empty() || !peer.is_some_and(trusted) {
            return Entry::default();
        }
        let mut entry = match self.headers {
            ProxyHeaders::XForwarded => x_forwarded(headers, trusted),
            ProxyHeaders::Forwarded => forwarded(headers, trusted),
        };
        entry.via_proxy = true;
        // A request from the proxy itself (a health check) names no client.
        if entry.client.is_none() && !stated_a_client(headers, self.headers) {
            entry.client = peer;
        }
        entry
    }
}

fn stated_a_client(headers: &HeaderMap, family: ProxyHeaders) -> bool {
    let name = match family {
        ProxyHeaders::XForwarded => "x-forwarded-for",
        ProxyHeaders::Forwarded => "forwarded",
    };
    headers.contains_key(name)
}

/// Comma-separated items of every `name` header, from the right; a header that is not text is
/// one item that is no address, no element and no host (garbage, which stops the walks below).
fn items_from_right<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .rev()
        .flat_map(|v| v.to_str().unwrap_or("\0").rsplit(','))
        .map(str::trim)
}

/// The hops of a forwarding chain (`X-Forwarded-For` addresses, `Forwarded` elements), from
/// the right, at most [`MAX_HOPS`]. Empty list elements (`a, , b`, a trailing comma), which
/// HTTP says a recipient must ignore, are no hop.
fn hops_from_right<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    items_from_right(headers, name)
        .filter(|item| !item.is_empty())
        .take(MAX_HOPS)
}

fn x_forwarded<'a>(headers: &'a HeaderMap, trusted: impl Fn(IpAddr) -> bool) -> Entry<'a> {
    // The rightmost address that is not a trusted proxy is the client; every address right of
    // it was added by a proxy we trust. Garbage on the way leaves the client unknown.
    let mut client = None;
    let mut walked = 0;
    for item in hops_from_right(headers, "x-forwarded-for") {
        walked += 1;
        match node_address(item) {
            Some(ip) => {
                client = Some(ip);
                if !trusted(ip) {
                    break;
                }
            }
            None => {
                client = None;
                break;
            }
        }
    }
    if cut_among_trusted(walked, client, &trusted) {
        client = None;
    }
    // Host and scheme: the value our peer (a trusted proxy) wrote, the rightmost.
    let host = items_from_right(headers, "x-forwarded-host")
        .next()
        .filter(|h| normal_authority("https", h).is_some());
    let proto = items_from_right(headers, "x-forwarded-proto")
        .next()
        .and_then(known_proto);
    Entry {
        client,
        host,
        proto,
        via_proxy: true,
    }
}

fn forwarded<'a>(headers: &'a HeaderMap, trusted: impl Fn(IpAddr) -> bool) -> Entry<'a> {
    // Each element was added by the proxy that received the request from its `for`. Walking
    // left from our peer's element while `for` is a trusted proxy ends at the element the
    // outermost trusted proxy added: its `for` is the client, its host and proto what the
    // client asked for.
    let mut entry = Entry::default();
    let mut walked = 0;
    for element in hops_from_right(headers, "forwarded") {
        walked += 1;
        let Some(pairs) = forwarded_pairs(element) else {
            return Entry::default();
        };
        entry = Entry {
            client: pairs.for_node.and_then(node_address),
            host: pairs
                .host
                .filter(|h| normal_authority("https", h).is_some()),
            proto: pairs.proto.and_then(known_proto),
            via_proxy: true,
        };
        if !entry.client.is_some_and(&trusted) {
            break;
        }
    }
    if cut_among_trusted(walked, entry.client, &trusted) {
        entry.client = None;
    }
    entry
}

/// Whether a walk from the right read [`MAX_HOPS`] hops, every one a trusted proxy: the chain
/// was cut before its client, who is then unknown (not the last proxy read).
fn cut_among_trusted(
    walked: usize,
    last: Option<IpAddr>,
    trusted: impl Fn(IpAddr) -> bool,
) -> bool {
    walked == MAX_HOPS && last.is_some_and(trusted)
}

#[derive(Default)]
struct ForwardedPairs<'a> {
    for_node: Option<&'a str>,
    host: Option<&'a str>,
    proto: Option<&'a str>,
}

/// `for=192.0.2.60;proto=http;host="a.example"` -> its pairs; `None` when malformed.
fn forwarded_pairs(element: &str) -> Option<ForwardedPairs<'_>> {
    let mut pairs = ForwardedPairs::default();
    // Empty pairs (`a=1;;b=2`, a trailing `;`) are allowed by RFC 7239's grammar.
    for pair in element.split(';').filter(|pair| !pair.trim().is_empty()) {
        let (key, value) = pair.trim().split_once('=')?;
        let value = match value.strip_prefix('"') {
            Some(quoted) => quoted
                .strip_suffix('"')
                .filter(|v| !v.contains(['"', '\\']))?,
            None => value,
        };
        let slot = match key.trim().to_ascii_lowercase().as_str() {
            "for" => &mut pairs.for_node,
            "host" => &mut pairs.host,
            "proto" => &mut pairs.proto,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return None; // a parameter twice: ambiguous
        }
    }
    Some(pairs)
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711` or
/// `2001:db8::1`.
fn node_address(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let host = match node.strip_prefix('[') {
        Some(rest) => rest.split_once(']')?.0,
        None => node.split_once(':')?.0,
    };
    host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

fn known_proto(proto: &str) -> Option<&'static str> {
    if proto.eq_ignore_ascii_case("https") {
        Some("https")
    } else if proto.eq_ignore_ascii_case("http") {
        Some("http")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(headers: ProxyHeaders) -> TrustedProxies {
        TrustedProxies {
            nets: ["10.0.0.0/8", "fd00::/8"]
                .iter()
                .map(|n| IpNet::parse(n).unwrap())
                .collect(),
            headers,
        }
    }

    fn map(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    fn p_x() -> TrustedProxies {
        proxies(ProxyHeaders::XForwarded)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn address_blocks_parse_and_match() {
        let net = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.1".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            IpNet::parse("::1")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "example.com",
            "",
        ] {
            assert!(IpNet::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = map(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-host", "a.example"),
        ]);
        let p = proxies(ProxyHeaders::XForwarded);
        assert_eq!(p.entry(&h, ip("192.0.2.1")), Entry::default());
        assert_eq!(p.entry(&h, None), Entry::default());
        assert_eq!(
            TrustedProxies::default().entry(&h, ip("10.0.0.1")),
            Entry::default()
        );
    }

    #[test]
    fn x_forwarded_for_takes_the_rightmost_untrusted_address() {
        let p = proxies(ProxyHeaders::XForwarded);
        let h = map(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
            ("x-forwarded-for", "10.0.0.9"),
            ("x-forwarded-host", "forged.example, app.example.com"),
            ("x-forwarded-proto", "HTTPS"),
        ]);
        let e = p.entry(&h, ip("10.0.0.1"));
        assert_eq!(e.client, ip("198.51.100.7"));
        assert_eq!(e.host, Some("app.example.com"));
        assert_eq!(e.proto, Some("https"));
        assert!(e.via_proxy);
        // Garbage on the way: the client is unknown, never a forged address.
        let h = map(&[("x-forwarded-for", "6.6.6.6, nonsense, 10.0.0.9")]);
        assert_eq!(p.entry(&h, ip("10.0.0.1")).client, None);
        // No header: the request comes from the proxy itself.
        assert_eq!(
            p.entry(&HeaderMap::new(), ip("10.0.0.1")).client,
            ip("10.0.0.1")
        );
        // A bad host or scheme is ignored.
        let h = map(&[("x-forwarded-host", "a b"), ("x-forwarded-proto", "gopher")]);
        let e = p.entry(&h, ip("10.0.0.1"));
        assert_eq!((e.host, e.proto), (None, None));
    }

    #[test]
    fn forwarded_reads_the_element_of_the_outermost_trusted_proxy() {
        let p = proxies(ProxyHeaders::Forwarded);
        let h = map(&[(
            "forwarded",
            r#"for=6.6.6.6;host=forged.example, for="[2001:db8::7]:4711";host="app.example.com";proto=https, for=fd00::2;proto=http"#,
        )]);
        let e = p.entry(&h, ip("fd00::1"));
        assert_eq!(e.client, ip("2001:db8::7"));
        assert_eq!(e.host, Some("app.example.com"));
        assert_eq!(e.proto, Some("https"));
        // X-Forwarded-* are not read when Forwarded is the configured family.
        let h = map(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(p.entry(&h, ip("10.0.0.1")).client, ip("10.0.0.1"));
        // Empty pairs and empty list elements are ignored, as RFC 7239 and RFC 9110 ask.
        for spelled in [
            "for=198.51.100.7;proto=https;host=app.example.com;",
            "for=198.51.100.7;;proto=https;host=app.example.com",
            "for=198.51.100.7;proto=https;host=app.example.com, , for=10.0.0.5",
            ", for=198.51.100.7;proto=https;host=app.example.com,",
        ] {
            let h = map(&[("forwarded", spelled)]);
            let e = p.entry(&h, ip("10.0.0.1"));
            assert_eq!(e.client, ip("198.51.100.7"), "{spelled}");
            assert_eq!(
                (e.host, e.proto),
                (Some("app.example.com"), Some("https")),
                "{spelled}"
            );
        }
        let h = map(&[("x-forwarded-for", "198.51.100.7, , 10.0.0.9,")]);
        assert_eq!(p_x().entry(&h, ip("10.0.0.1")).client, ip("198.51.100.7"));
        for garbage in [
            "for",
            "for=1.2.3.4;for=5.6.7.8",
            r#"for="1.2.3.4"#,
            "for=\"a\\\"\"",
        ] {
            let h = map(&[("forwarded", garbage)]);
            assert_eq!(p.entry(&h, ip("10.0.0.1")).client, None, "{garbage}");
        }
    }

    #[test]
    fn long_chains_are_cut() {
        let p = proxies(ProxyHeaders::XForwarded);
        let chain = vec!["10.0.0.5"; MAX_HOPS + 5].join(",");
        let h = map(&[("x-forwarded-for", &format!("198.51.100.7,{chain}"))]);
        assert_eq!(p.entry(&h, ip("10.0.0.1")).client, None);
        let forwarded = vec!["for=10.0.0.5"; MAX_HOPS + 5].join(",");
        let p = proxies(ProxyHeaders::Forwarded);
        let h = map(&[("forwarded", &format!("for=198.51.100.7,{forwarded}"))]);
        assert_eq!(p.entry(&h, ip("10.0.0.1")).client, None);
        // A chain of trusted proxies inside the bound still names its client.
        let h = map(&[("forwarded", "for=198.51.100.7,for=10.0.0.5")]);
        assert_eq!(p.entry(&h, ip("10.0.0.1")).client, ip("198.51.100.7"));
    }
}
