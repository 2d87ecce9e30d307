//! Who a request came from, as the session and licence logs record it: the TCP peer, unless the
//! peer is one of the operator's proxies (`--trusted-proxy CIDR`), in which case the address
//! that proxy (and any trusted one before it) reports in `Forwarded` (RFC 7239) or, without
//! that header, `X-Forwarded-For`.
//!
//! The header is read from the right (the hop our proxy added) towards the left, skipping
//! addresses that are themselves trusted proxies; the first untrusted address is the client.
//! Everything left of it was written by that client and proves nothing. A header from a peer
//! that is not trusted is ignored, as is a malformed one (the peer is used): a viewer must not
//! be able to put someone else's address in the logs. Access decisions never use this: the
//! loopback-only `/metrics` looks at the TCP peer itself ([`super::metrics`]).
//!
//! May depend on: axum (the extractor), ipnet. Nothing else of the edge but its options.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use axum::response::Response;
use ipnet::IpNet;

use super::Edge;

/// The networks whose forwarded headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies(nets)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical(); // ::ffff:a.b.c.d from a dual-stack socket is a.b.c.d
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// `CIDR` or a single address (`/32` or `/128`), as `--trusted-proxy` takes it.
pub fn parse_trusted_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not an IP address or CIDR (e.g. 10.0.0.0/8, ::1/128)"))
}

/// A client's address; a forwarded one may come without a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

impl From<SocketAddr> for ClientAddr {
    fn from(peer: SocketAddr) -> Self {
        ClientAddr { ip: peer.ip(), port: Some(peer.port()) }
    }
}

impl fmt::Display for ClientAddr {
    /// `1.2.3.4:5`, `[::1]:5`, or the bare address without a port.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => SocketAddr::new(self.ip, port).fmt(f),
            None => self.ip.fmt(f),
        }
    }
}

/// The client of a request from `peer` with `headers` (see the module's rules).
pub fn client_addr(peer: SocketAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> ClientAddr {
    if !trusted.contains(peer.ip()) {
        return peer.into();
    }
    let forwarded = HeaderName::from_static("forwarded");
    let hops = if headers.contains_key(&forwarded) {
        forwarded_for(headers, &forwarded)
    } else {
        x_forwarded_for(headers)
    };
    // None: malformed; empty: no header at all. Either way the peer is the client.
    let Some(hops) = hops.filter(|h| !h.is_empty()) else { return peer.into() };
    // All trusted: the request started inside the operator's network; its first hop is the
    // client.
    let first = hops[0];
    hops.into_iter().rev().find(|hop| !trusted.contains(hop.ip)).unwrap_or(first)
}

/// The `for=` nodes of every `Forwarded` element, in order; `None` if an element has no
/// usable `for` (absent, `unknown`, obfuscated, malformed).
fn forwarded_for(headers: &HeaderMap, name: &HeaderName) -> Option<Vec<ClientAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all(name) {
        for element in split_unquoted(value.to_str().ok()?, ',') {
            let node = split_unquoted(element, ';').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim().eq_ignore_ascii_case("for").then(|| value.trim())
            })?;
            hops.push(parse_node(&unquote(node)?)?);
        }
    }
    Some(hops)
}

/// The addresses of every `X-Forwarded-For` entry, in order; `None` if one is not an address.
fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<ClientAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for entry in value.to_str().ok()?.split(',') {
            hops.push(parse_node(entry.trim())?);
        }
    }
    Some(hops)
}

/// `text` split at `separator`s outside quoted strings (RFC 9110 quoted-string, with `\`
/// escapes); empty parts are dropped.
fn split_unquoted(text: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty())
}

/// A token or a quoted string's content; `None` for an unterminated quote.
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else { return Some(value.to_owned()) };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next()? } else { c });
    }
    Some(out)
}

/// `1.2.3.4`, `1.2.3.4:80`, `[2001:db8::1]`, `[2001:db8::1]:80` or a bare IPv6 address. A port
/// that is not a number (RFC 7239's obfuscated `_port`) is dropped; anything else is `None`.
fn parse_node(node: &str) -> Option<ClientAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        let ip = IpAddr::V6(ip.parse().ok()?);
        let port = match after {
            "" => None,
            _ => after.strip_prefix(':')?.parse().ok(),
        };
        return Some(ClientAddr { ip, port });
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ClientAddr { ip, port: None });
    }
    let (ip, port) = node.rsplit_once(':')?;
    let ip = IpAddr::V4(ip.parse::<Ipv4Addr>().ok()?);
    Some(ClientAddr { ip, port: port.parse().ok() })
}

/// The handlers' extractor: the client of this request under the edge's trusted proxies.
impl FromRequestParts<Arc<Edge>> for ClientAddr {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, edge: &Arc<Edge>) -> Result<Self, Response> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            // Only a router served outside the accept loop lacks it.
            return Err(super::http::server_error("no client address"));
        };
        Ok(client_addr(*peer, &parts.headers, &edge.options.trusted_proxies))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| parse_trusted_proxy(n).unwrap()).collect())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    fn client(peer: &str, pairs: &[(&'static str, &str)], nets: &[&str]) -> String {
        client_addr(peer.parse().unwrap(), &headers(pairs), &trusted(nets)).to_string()
    }

    const PROXY: &str = "10.0.0.5:4000";

    #[test]
    fn headers_count_only_from_trusted_peers() {
        let xff = [("x-forwarded-for", "203.0.113.7")];
        assert_eq!(client(PROXY, &xff, &["10.0.0.0/8"]), "203.0.113.7");
        assert_eq!(client(PROXY, &xff, &[]), PROXY);
        assert_eq!(client(PROXY, &xff, &["10.0.1.0/24"]), PROXY);
        assert_eq!(client("[::ffff:10.0.0.5]:4000", &xff, &["10.0.0.5"]), "203.0.113.7");
        assert_eq!(client(PROXY, &[], &["10.0.0.0/8"]), PROXY);
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let nets = ["10.0.0.0/8", "2001:db8:ffff::/48"];
        // The client forged the first entry; our two proxies appended the rest.
        let xff = [("x-forwarded-for", "198.51.100.1, 203.0.113.7, 10.1.2.3")];
        assert_eq!(client(PROXY, &xff, &nets), "203.0.113.7");
        let split = [("x-forwarded-for", "198.51.100.1"), ("x-forwarded-for", "203.0.113.7")];
        assert_eq!(client(PROXY, &split, &nets), "203.0.113.7");
        let all_trusted = [("x-forwarded-for", "10.9.9.9, 10.1.2.3")];
        assert_eq!(client(PROXY, &all_trusted, &nets), "10.9.9.9");
        let v6 = [("x-forwarded-for", "2001:db8::7, 2001:db8:ffff::1")];
        assert_eq!(client(PROXY, &v6, &nets), "2001:db8::7");
    }

    #[test]
    fn forwarded_wins_and_takes_quotes_brackets_and_ports() {
        let nets = ["10.0.0.0/8"];
        let cases = [
            ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
            ("for=\"[2001:db8::1]:4711\"", "[2001:db8::1]:4711"),
            ("For=\"[2001:db8:cafe::17]\"", "2001:db8:cafe::17"),
            ("for=\"192.0.2.43:47011\"", "192.0.2.43:47011"),
            ("for=\"192.0.2.43:_hidden\"", "192.0.2.43"),
            ("for=192.0.2.43, for=198.51.100.17;by=\"a,b\", for=10.0.0.9", "198.51.100.17"),
            ("proto=https;for=\"198.51.100.17\"", "198.51.100.17"),
        ];
        for (value, expected) in cases {
            let h = [("forwarded", value), ("x-forwarded-for", "203.0.113.99")];
            assert_eq!(client(PROXY, &h, &nets), expected, "{value}");
        }
    }

    #[test]
    fn malformed_headers_leave_the_peer() {
        let nets = ["10.0.0.0/8"];
        for value in [
            "for=unknown",
            "for=_gazonk",
            "for=\"[2001:db8::1\"",
            "for=\"192.0.2.1",
            "proto=https",
            "for=192.0.2.1, proto=https",
            "for=[2001:db8::1]x",
        ] {
            assert_eq!(client(PROXY, &[("forwarded", value)], &nets), PROXY, "{value}");
        }
        for value in ["203.0.113.7, nonsense", "", "1.2.3.4.5", "203.0.113.7;x"] {
            assert_eq!(client(PROXY, &[("x-forwarded-for", value)], &nets), PROXY, "{value:?}");
        }
    }

    #[test]
    fn trusted_proxy_flags_parse() {
        assert!(parse_trusted_proxy("127.0.0.1")
            .unwrap()
            .contains(&"127.0.0.1".parse::<IpAddr>().unwrap()));
        assert_eq!(parse_trusted_proxy("::1").unwrap().to_string(), "::1/128");
        assert_eq!(parse_trusted_proxy("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        for bad in ["10.0.0.0/33", "example.com", "", "10.0.0/8"] {
            assert!(parse_trusted_proxy(bad).is_err(), "{bad}");
        }
    }
}
