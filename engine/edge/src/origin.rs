//! Domain restriction: which web origins may embed the player, fetch manifests and ask for
//! licences (`serve --allow-origin`), and the CORS answers that go with it.
//!
//! A request's site is its `Origin` header, or lacking that the origin of its `Referer` (a
//! navigation into an `<iframe>` and a same-origin GET send no `Origin`). Patterns are exact
//! origins (`https://watch.example.com`, `http://localhost:8080`) or a wildcard in the leftmost
//! host label (`https://*.example.com`: any subdomain at any depth, not `example.com` itself).
//! A pattern's scheme and port must match too (no port: the scheme's default), because
//! `http://shop.example` is another site than `https://shop.example` to a browser.
//!
//! The edge's own player page (`/watch/{content}`) is checked when it loads (its `Referer` is
//! the embedding site, and its `frame-ancestors` keep other sites from framing it). Its own
//! requests are same-origin (`Sec-Fetch-Site: same-origin`, which browsers set and pages
//! cannot): they name the embedding site in [`EMBEDDER_HEADER`], checked like an `Origin`.
//!
//! Tokens may narrow the list for one viewer (their origins claim): a token minted for one
//! customer's site then fails on another customer's, even when both are on the edge's list.
//!
//! Depends on `url` for parsing (a `Referer` is a whole URL) and tower-http's CORS layer for
//! the CORS protocol itself; no handler writes CORS headers by hand.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// One `--allow-origin` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: String,
    host: HostPattern,
    port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.example.com`: hosts ending in `.example.com`.
    Subdomains(String),
}

/// Why an `--allow-origin` entry (or an origins claim) is not a pattern.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("origin pattern {pattern:?}: {why}")]
pub struct PatternError {
    pattern: String,
    why: &'static str,
}

impl FromStr for OriginPattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, PatternError> {
        let fail = |why| PatternError { pattern: s.chars().take(100).collect(), why };
        let (scheme, rest) =
            s.split_once("://").ok_or_else(|| fail("needs a scheme (https://)"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return Err(fail("the scheme must be http or https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) || rest.is_empty() {
            return Err(fail("an origin is scheme://host[:port], no path"));
        }
        // An IPv6 literal is bracketed: its colons are not the port's.
        let (host, port) = if rest.starts_with('[') {
            let end = rest.find(']').ok_or_else(|| fail("an unclosed [ in the host"))?;
            let (host, after) = rest.split_at(end + 1);
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(|| fail("junk after the address"))?),
            };
            (host, port)
        } else {
            rest.rsplit_once(':').map_or((rest, None), |(h, p)| (h, Some(p)))
        };
        let port = match port {
            None => default_port,
            Some(p) => p.parse::<u16>().map_err(|_| fail("the port is not a number"))?,
        };
        let host = host.to_ascii_lowercase();
        let host = if let Some(parent) = host.strip_prefix("*.") {
            if parent.is_empty() || parent.contains('*') || !parent.contains('.') {
                return Err(fail("a wildcard needs a parent domain with a dot (*.example.com)"));
            }
            HostPattern::Subdomains(parent.to_owned())
        } else if host.contains('*') {
            return Err(fail("a wildcard may only be the whole leftmost label (*.example.com)"));
        } else {
            // Normalise what `url` would: the host as a browser serialises it in `Origin`.
            let parsed = url::Url::parse(&format!("{scheme}://{host}/"))
                .map_err(|_| fail("the host is not a host name or address"))?;
            HostPattern::Exact(parsed.host_str().unwrap_or_default().to_owned())
        };
        Ok(OriginPattern { scheme, host, port })
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match &self.host {
            HostPattern::Exact(h) => h.clone(),
            HostPattern::Subdomains(p) => format!("*.{p}"),
        };
        let default = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default {
            write!(f, "{}://{host}", self.scheme)
        } else {
            write!(f, "{}://{host}:{}", self.scheme, self.port)
        }
    }
}

impl OriginPattern {
    /// Whether `origin` (a parsed site) matches.
    pub fn matches(&self, origin: &Site) -> bool {
        if origin.scheme != self.scheme || origin.port != self.port {
            return false;
        }
        match &self.host {
            HostPattern::Exact(h) => origin.host == *h,
            HostPattern::Subdomains(parent) => origin
                .host
                .strip_suffix(parent.as_str())
                .is_some_and(|label| label.len() > 1 && label.ends_with('.')),
        }
    }
}

/// The site a request comes from: scheme, host and port of its `Origin` or `Referer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    scheme: String,
    host: String,
    port: u16,
}

impl Site {
    /// The origin of a URL or of a serialised origin; `None` for `null`, opaque or odd values.
    pub fn parse(value: &str) -> Option<Site> {
        let url = url::Url::parse(value.trim()).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        Some(Site {
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_owned(),
            port: url.port_or_known_default()?,
        })
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default {
            write!(f, "{}://{}", self.scheme, self.host)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// What a request that names no site (neither `Origin` nor `Referer`) gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoOrigin {
    /// Served: native apps, `curl`, and browsers told not to send a `Referer`.
    Allow,
    /// Refused: only pages on the listed sites play.
    Deny,
}

impl FromStr for NoOrigin {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "allow" => Ok(NoOrigin::Allow),
            "deny" => Ok(NoOrigin::Deny),
            other => Err(format!("{other:?} is not allow or deny")),
        }
    }
}

/// Why a request was refused for its site. The text is what the client and the log see.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OriginRefusal {
    #[error("domain not allowed: {0} may not play this stream")]
    NotAllowed(String),
    #[error("domain not allowed: the request names no site (Origin or Referer)")]
    Unnamed,
    #[error("domain not allowed: {0} is not a site this token was issued for")]
    NotInToken(String),
    #[error("domain not allowed: this token plays only where its sites embed the player")]
    NotEmbedded,
}

/// The header the player page names its embedding site in (`location.ancestorOrigins`).
pub const EMBEDDER_HEADER: &str = "abmark-embedder";

/// A request from a page on the edge's own origin (its player page): `Sec-Fetch-Site` is a
/// forbidden header name, set by the browser only.
fn same_origin(headers: &HeaderMap) -> bool {
    header_text(headers, &HeaderName::from_static("sec-fetch-site")) == Some("same-origin")
}

/// `--allow-origin` and `--no-origin`: the edge's list. An empty list allows every site.
#[derive(Clone, Debug)]
pub struct OriginPolicy {
    allowed: Vec<OriginPattern>,
    /// The exact patterns as browsers serialise an `Origin`: most requests match one of these
    /// byte for byte, and are answered without parsing a URL.
    exact: std::collections::HashSet<String>,
    without: NoOrigin,
}

impl Default for OriginPolicy {
    fn default() -> Self {
        OriginPolicy::new(Vec::new(), NoOrigin::Allow)
    }
}

impl OriginPolicy {
    pub fn new(allowed: Vec<OriginPattern>, without: NoOrigin) -> Self {
        let exact = allowed
            .iter()
            .filter(|p| matches!(p.host, HostPattern::Exact(_)))
            .map(ToString::to_string)
            .collect();
        OriginPolicy { allowed, exact, without }
    }

    /// Whether the edge restricts sites at all.
    pub fn restricted(&self) -> bool {
        !self.allowed.is_empty()
    }

    /// Whether a site is on the edge's list (always, with no list).
    pub fn allows(&self, site: &Site) -> bool {
        !self.restricted() || self.allowed.iter().any(|p| p.matches(site))
    }

    /// Whether an `Origin` header value names a site on the edge's list.
    pub fn allows_origin(&self, value: &str) -> bool {
        !self.restricted()
            || self.exact.contains(value)
            || Site::parse(value).is_some_and(|s| self.allows(&s))
    }

    /// Checks a request's site against the edge's list and, when the token names sites, the
    /// token's list. A request naming no site passes unless `--no-origin deny` (or a token's
    /// sites) say otherwise.
    pub fn check(
        &self,
        headers: &HeaderMap,
        token_sites: Option<&[OriginPattern]>,
    ) -> Result<(), OriginRefusal> {
        let named = if same_origin(headers) {
            // The player page's own request: the site is whoever embeds it, if anyone.
            match header_text(headers, &HeaderName::from_static(EMBEDDER_HEADER)) {
                Some(embedder) => Some(embedder),
                None if token_sites.is_some() => return Err(OriginRefusal::NotEmbedded),
                None => return Ok(()),
            }
        } else {
            header_text(headers, &header::ORIGIN)
                .filter(|o| *o != "null")
                .or_else(|| header_text(headers, &header::REFERER))
        };
        let Some(named) = named else {
            let restricted = self.restricted() || token_sites.is_some();
            return match (restricted, self.without) {
                (true, NoOrigin::Deny) => Err(OriginRefusal::Unnamed),
                _ => Ok(()),
            };
        };
        if token_sites.is_none() && self.exact.contains(named) {
            return Ok(());
        }
        let Some(site) = Site::parse(named) else {
            let printable = named.chars().filter(|c| !c.is_control()).take(200).collect();
            return Err(OriginRefusal::NotAllowed(printable));
        };
        if !self.allows(&site) {
            return Err(OriginRefusal::NotAllowed(site.to_string()));
        }
        if let Some(sites) = token_sites {
            if !sites.iter().any(|p| p.matches(&site)) {
                return Err(OriginRefusal::NotInToken(site.to_string()));
            }
        }
        Ok(())
    }

    /// The player page's `Content-Security-Policy: frame-ancestors` value: the page itself and
    /// the listed sites, or any site with no list.
    pub fn frame_ancestors(&self) -> String {
        if !self.restricted() {
            return "frame-ancestors *".to_owned();
        }
        let mut out = "frame-ancestors 'self'".to_owned();
        for p in &self.allowed {
            out.push(' ');
            out.push_str(&p.to_string());
        }
        out
    }

    /// CORS for the edge's routes: allowed origins only (echoed, never `*`, so credentialed
    /// requests such as dash.js's licence POSTs are accepted), the methods and headers players
    /// use, preflights cached for ten minutes.
    pub fn cors(self: &Arc<Self>) -> CorsLayer {
        let policy = self.clone();
        CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
                origin.to_str().is_ok_and(|o| policy.allows_origin(o))
            }))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::RANGE,
                // licence::PLAYER_HEADER, in the lower case a `HeaderName` constant needs.
                HeaderName::from_static("abmark-player"),
                HeaderName::from_static(EMBEDDER_HEADER),
            ])
            // Content-Length is CORS-safelisted already.
            .expose_headers([
                header::CONTENT_RANGE,
                HeaderName::from_static(crate::serve::REFUSAL_HEADER),
            ])
            .max_age(std::time::Duration::from_secs(600))
            // The answers depend on the Origin only: the allowed methods and headers are fixed
            // lists, not echoes of the preflight's request headers. tower-http's default also
            // names those two headers, and builds that longer value on every response.
            .vary([header::ORIGIN])
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim).filter(|v| !v.is_empty())
}

/// Parses a comma-separated list of patterns (one `--allow-origin`).
pub fn parse_list(list: &str) -> Result<Vec<OriginPattern>, PatternError> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::parse).collect()
}

/// Most sites one token may name: a claim is for a customer's few sites, not a directory.
pub const MAX_TOKEN_SITES: usize = 32;

/// The sites a token was issued for (its origins claim: patterns, comma-separated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteList(Vec<OriginPattern>);

impl SiteList {
    pub fn patterns(&self) -> &[OriginPattern] {
        &self.0
    }
}

impl FromStr for SiteList {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, PatternError> {
        let list = parse_list(s)?;
        let fail = |why| PatternError { pattern: s.chars().take(100).collect(), why };
        if list.is_empty() {
            return Err(fail("names no site"));
        }
        if list.len() > MAX_TOKEN_SITES {
            return Err(fail("names more than 32 sites"));
        }
        Ok(SiteList(list))
    }
}

impl fmt::Display for SiteList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for SiteList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SiteList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(s: &str) -> Site {
        Site::parse(s).unwrap()
    }

    fn pattern(s: &str) -> OriginPattern {
        s.parse().unwrap()
    }

    #[test]
    fn exact_patterns_match_scheme_host_and_port() {
        let p = pattern("https://Watch.Example.com");
        assert!(p.matches(&site("https://watch.example.com")));
        assert!(p.matches(&site("https://watch.example.com:443/page?x#y")));
        assert!(!p.matches(&site("http://watch.example.com")));
        assert!(!p.matches(&site("https://watch.example.com:8443")));
        assert!(!p.matches(&site("https://evil-watch.example.com")));
        assert!(!p.matches(&site("https://watch.example.com.evil.net")));
        let local = pattern("http://localhost:8080");
        assert!(local.matches(&site("http://localhost:8080")));
        assert!(!local.matches(&site("http://localhost")));
        assert_eq!(pattern("http://[::1]:9000").to_string(), "http://[::1]:9000");
        assert!(pattern("http://[::1]:9000").matches(&site("http://[::1]:9000/x")));
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let p = pattern("https://*.example.com");
        assert!(p.matches(&site("https://a.example.com")));
        assert!(p.matches(&site("https://a.b.example.com")));
        assert!(!p.matches(&site("https://example.com")));
        assert!(!p.matches(&site("https://badexample.com")));
        assert!(!p.matches(&site("http://a.example.com")));
        assert_eq!(p.to_string(), "https://*.example.com");
    }

    #[test]
    fn malformed_patterns_are_refused_with_a_reason() {
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://example.com/path",
            "https://*",
            "https://*.com",
            "https://a.*.com",
            "https://ex*ample.com",
            "https://example.com:99999",
            "https://user@example.com",
            "https://",
        ] {
            let e = bad.parse::<OriginPattern>().unwrap_err();
            assert!(!e.to_string().is_empty(), "{bad}");
        }
        assert_eq!(parse_list(" https://a.example, http://b.example:81 ").unwrap().len(), 2);
    }

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn origin_then_referer_decide_and_the_token_narrows() {
        let policy = OriginPolicy::new(
            vec![pattern("https://a.example"), pattern("https://*.b.example")],
            NoOrigin::Deny,
        );
        let ok = |h: &HeaderMap| policy.check(h, None);
        assert!(ok(&headers(&[(header::ORIGIN, "https://a.example")])).is_ok());
        assert!(ok(&headers(&[(header::REFERER, "https://x.b.example/watch?v=1")])).is_ok());
        // Origin wins over Referer, and "null" (sandboxed frames) falls back to Referer.
        let both = headers(&[
            (header::ORIGIN, "https://c.example"),
            (header::REFERER, "https://a.example/"),
        ]);
        assert_eq!(ok(&both), Err(OriginRefusal::NotAllowed("https://c.example".into())));
        let null = headers(&[(header::ORIGIN, "null"), (header::REFERER, "https://a.example/")]);
        assert!(ok(&null).is_ok());
        assert_eq!(ok(&HeaderMap::new()), Err(OriginRefusal::Unnamed));
        assert!(matches!(
            ok(&headers(&[(header::ORIGIN, "garbage")])),
            Err(OriginRefusal::NotAllowed(_))
        ));
        // A token naming only b's sites fails on a, although the edge allows both.
        let token = vec![pattern("https://*.b.example")];
        let a = headers(&[(header::ORIGIN, "https://a.example")]);
        assert_eq!(
            policy.check(&a, Some(&token)),
            Err(OriginRefusal::NotInToken("https://a.example".into()))
        );
        let allow_unnamed = OriginPolicy::new(vec![pattern("https://a.example")], NoOrigin::Allow);
        assert_eq!(allow_unnamed.check(&HeaderMap::new(), None), Ok(()));
        // The player page's own requests: the embedder header is the site; with none, the
        // page is not embedded, which a token with sites does not allow.
        let own = |embedder: Option<&str>| {
            let mut h = headers(&[
                (HeaderName::from_static("sec-fetch-site"), "same-origin"),
                (header::REFERER, "https://edge.example/watch/film"),
            ]);
            if let Some(e) = embedder {
                h.insert(EMBEDDER_HEADER, HeaderValue::from_str(e).unwrap());
            }
            h
        };
        assert_eq!(policy.check(&own(None), None), Ok(()));
        assert!(policy.check(&own(Some("https://a.example")), None).is_ok());
        assert_eq!(
            policy.check(&own(Some("https://c.example")), None),
            Err(OriginRefusal::NotAllowed("https://c.example".into()))
        );
        assert_eq!(policy.check(&own(None), Some(&token)), Err(OriginRefusal::NotEmbedded));
    }

    #[test]
    fn origin_values_match_by_serialisation_or_by_parsing() {
        let policy = OriginPolicy::new(
            vec![pattern("https://Watch.Example.com:443"), pattern("https://*.b.example")],
            NoOrigin::Deny,
        );
        // What a browser sends for an exact pattern matches without a parse; other spellings
        // and the wildcard go through the parse, to the same answer.
        assert!(policy.exact.contains("https://watch.example.com"));
        for yes in
            ["https://watch.example.com", "https://watch.example.com:443", "https://x.b.example"]
        {
            assert!(policy.allows_origin(yes), "{yes}");
        }
        for no in ["http://watch.example.com", "https://b.example", "null", "garbage", ""] {
            assert!(!policy.allows_origin(no), "{no}");
        }
        assert!(OriginPolicy::default().allows_origin("https://anyone.example"));
    }

    #[test]
    fn an_empty_list_allows_every_site_and_frame_ancestors_follow_the_list() {
        let open = OriginPolicy::default();
        assert!(open.check(&headers(&[(header::ORIGIN, "https://any.example")]), None).is_ok());
        assert_eq!(open.frame_ancestors(), "frame-ancestors *");
        let policy = OriginPolicy::new(
            vec![pattern("https://a.example"), pattern("https://*.b.example:8443")],
            NoOrigin::Allow,
        );
        assert_eq!(
            policy.frame_ancestors(),
            "frame-ancestors 'self' https://a.example https://*.b.example:8443"
        );
    }
}
