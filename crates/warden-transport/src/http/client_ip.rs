//! The client's address: the socket peer, or — only when the peer is a configured trusted
//! proxy — the right-most address of `X-Forwarded-For` (or `Forwarded: for=`) that is not itself
//! a trusted proxy. A header sent by anyone else is never believed.

use std::net::{IpAddr, SocketAddr};

use hyper::HeaderMap;
use ipnet::IpNet;

/// The address the policy, the rate limits and the audit see for a request from `peer`.
pub(crate) fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer_ip = normalise(peer.ip());
    if !is_trusted(peer_ip, trusted) {
        return peer_ip;
    }
    // Walk the chain from the right (the hop nearest to us) to the first untrusted address.
    let mut chain: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("forwarded") {
        let Ok(text) = value.to_str() else {
            return peer_ip;
        };
        for element in text.split(',') {
            for pair in element.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                if name.trim().eq_ignore_ascii_case("for") {
                    match parse_forwarded_for(value.trim()) {
                        Some(ip) => chain.push(ip),
                        // An obfuscated or unknown identifier: nothing further left can be
                        // trusted; the proxy itself is the client as far as we can tell.
                        None => chain.push(peer_ip),
                    }
                }
            }
        }
    }
    if chain.is_empty() {
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else {
                return peer_ip;
            };
            for item in text.split(',') {
                match parse_addr(item.trim()) {
                    Some(ip) => chain.push(ip),
                    None => return peer_ip,
                }
            }
        }
    }
    for ip in chain.iter().rev() {
        if !is_trusted(*ip, trusted) {
            return *ip;
        }
    }
    // Every hop is a trusted proxy: the left-most is as far as the chain goes.
    chain.first().copied().unwrap_or(peer_ip)
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) as IPv4.
fn normalise(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// An address with an optional port: `10.0.0.1`, `10.0.0.1:443`, `2001:db8::1`, `[2001:db8::1]:443`.
fn parse_addr(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(normalise(ip));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(normalise(addr.ip()));
    }
    None
}

/// RFC 7239 `for=` value: a token or a quoted string, IPv6 in brackets, with an optional port.
fn parse_forwarded_for(value: &str) -> Option<IpAddr> {
    let value = value.trim_matches('"');
    if let Some(rest) = value.strip_prefix('[') {
        let inner = rest.split(']').next()?;
        return inner.parse::<IpAddr>().ok().map(normalise);
    }
    parse_addr(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("net")).collect()
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().expect("ip"), 40000)
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let spoofed = headers(&[
            ("x-forwarded-for", "10.9.9.9"),
            ("forwarded", "for=10.8.8.8"),
        ]);
        let ip = client_ip(peer("203.0.113.5"), &spoofed, &nets(&["10.0.0.0/8"]));
        assert_eq!(ip, "203.0.113.5".parse::<IpAddr>().expect("ip"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_address_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client put a fake address first; the proxy appended the real one.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(
            client_ip(peer("10.0.0.1"), &chain, &trusted),
            "198.51.100.7".parse::<IpAddr>().expect("ip")
        );
        let forwarded = headers(&[(
            "forwarded",
            "for=1.2.3.4, for=\"[2001:db8::7]:4711\";proto=https",
        )]);
        assert_eq!(
            client_ip(peer("10.0.0.1"), &forwarded, &trusted),
            "2001:db8::7".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn a_trusted_proxy_without_a_header_or_with_garbage_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(peer("10.0.0.1"), &HeaderMap::new(), &trusted),
            "10.0.0.1".parse::<IpAddr>().expect("ip")
        );
        let garbage = headers(&[("x-forwarded-for", "not-an-address, 198.51.100.7")]);
        assert_eq!(
            client_ip(peer("10.0.0.1"), &garbage, &trusted),
            "10.0.0.1".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn mapped_addresses_are_normalised() {
        let ip = client_ip(peer("::ffff:192.0.2.1"), &HeaderMap::new(), &[]);
        assert_eq!(ip, "192.0.2.1".parse::<IpAddr>().expect("ip"));
    }
}
