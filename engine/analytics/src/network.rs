//! A client's address and network as compact keys: the logs write `1.2.3.4:5`, `[::1]:5` or a
//! bare address. Networks are the IPv4 /24 and the IPv6 /48 (a home, an office, a small
//! provider's block): one household behind a NAT is one address, a phone that moves between
//! cells usually changes its /24, and people sharing a token sit in different networks.

use std::net::{IpAddr, SocketAddr};

/// An address or a network as one 128-bit key (IPv4 mapped into IPv6).
pub type Key = u128;

/// The address and network keys of a client as the logs write it. A client that is not an
/// address (a proxy's odd header) gets a key from its text, so it still counts as one place.
pub fn keys(client: &str) -> (Key, Key) {
    let ip = client
        .parse::<SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| client.parse::<IpAddr>())
        .ok()
        .map(|ip| ip.to_canonical());
    match ip {
        Some(IpAddr::V4(v4)) => {
            let a = u128::from(v4.to_ipv6_mapped());
            (a, a & !0xff)
        }
        Some(IpAddr::V6(v6)) => {
            let a = u128::from(v6);
            (a, a & !((1u128 << 80) - 1))
        }
        None => {
            let h = fnv(client.as_bytes());
            // Top bit set: never collides with a mapped IPv4 address; same key for both.
            let k = (1u128 << 127) | u128::from(h);
            (k, k)
        }
    }
}

/// FNV-1a, 64-bit: a cheap stable hash for keys (user agents, odd clients). Not for secrets.
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_networks_are_slash_24() {
        let (a, n) = keys("192.0.2.7:443");
        let (b, m) = keys("192.0.2.200");
        assert_ne!(a, b);
        assert_eq!(n, m);
        assert_ne!(keys("192.0.3.7").1, n);
    }

    #[test]
    fn ipv6_networks_are_slash_48() {
        let (_, n) = keys("[2001:db8:1:2::1]:8080");
        assert_eq!(keys("2001:db8:1:ffff::9").1, n);
        assert_ne!(keys("2001:db8:2::1").1, n);
        // An IPv4-mapped IPv6 peer is the IPv4 address.
        assert_eq!(keys("[::ffff:192.0.2.7]:1").0, keys("192.0.2.7").0);
    }

    #[test]
    fn odd_clients_still_count_as_one_place() {
        assert_eq!(keys("unknown"), keys("unknown"));
        assert_ne!(keys("unknown").0, keys("other").0);
    }
}
