//! The client's address: the socket peer, or — only when the peer is a configured trusted
//! proxy — the right-most address of the one forwarding header the proxies are configured to
//! set (`X-Forwarded-For` by default, or RFC 7239 `Forwarded: for=`) that is not itself a trusted
//! proxy. A header sent by anyone else is never believed, and the other forwarding header is
//! never read: a proxy that sets one usually passes a client's copy of the other through.

use std::net::{IpAddr, SocketAddr};

use hyper::HeaderMap;
use ipnet::IpNet;

/// Which forwarding header the trusted proxies set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (nginx, Caddy, Traefik, HAProxy, cloud load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded` (`for=` parameters).
    Forwarded,
}

/// The address the policy, the rate limits and the audit see for a request from `peer`.
pub(crate) fn client_ip(
    peer: SocketAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    header: ForwardedHeader,
) -> IpAddr {
    let peer_ip = normalise(peer.ip());
    if !is_trusted(peer_ip, trusted) {
        return peer_ip;
    }
    // The hops in order, `None` for one that cannot be read (garbage, an obfuscated or unknown
    // identifier). Each proxy appends the address it received the request from.
    let mut chain: Vec<Option<IpAddr>> = Vec::new();
    let name = match header {
        ForwardedHeader::XForwardedFor => "x-forwarded-for",
        ForwardedHeader::Forwarded => "forwarded",
    };
    for value in headers.get_all(name) {
        let Ok(text) = value.to_str() else {
            chain.push(None);
            continue;
        };
        for element in text.split(',') {
            chain.push(match header {
                ForwardedHeader::XForwardedFor => parse_addr(element.trim()),
                ForwardedHeader::Forwarded => element
                    .split(';')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, value)| parse_forwarded_for(value.trim())),
            });
        }
    }
    // From the right (the hop nearest to us): trusted proxies are skipped; the first other
    // address is the client. A hop that cannot be read ends the walk: whatever lies left of it
    // is the client's own say, and the nearest known hop is as far as the chain can be trusted.
    let mut nearest = peer_ip;
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) if is_trusted(*ip, trusted) => nearest = *ip,
            Some(ip) => return *ip,
            None => return nearest,
        }
    }
    nearest
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
        for header in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded] {
            let ip = client_ip(
                peer("203.0.113.5"),
                &spoofed,
                &nets(&["10.0.0.0/8"]),
                header,
            );
            assert_eq!(ip, "203.0.113.5".parse::<IpAddr>().expect("ip"));
        }
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_address_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client put a fake address first; the proxy appended the real one.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(
            client_ip(
                peer("10.0.0.1"),
                &chain,
                &trusted,
                ForwardedHeader::XForwardedFor
            ),
            "198.51.100.7".parse::<IpAddr>().expect("ip")
        );
        let forwarded = headers(&[(
            "forwarded",
            "for=1.2.3.4, for=\"[2001:db8::7]:4711\";proto=https",
        )]);
        assert_eq!(
            client_ip(
                peer("10.0.0.1"),
                &forwarded,
                &trusted,
                ForwardedHeader::Forwarded
            ),
            "2001:db8::7".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn a_trusted_proxy_without_a_header_is_the_client_and_garbage_left_of_the_hops_is_ignored() {
        let trusted = nets(&["10.0.0.0/8"]);
        let xff = ForwardedHeader::XForwardedFor;
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            client_ip(peer("10.0.0.1"), &HeaderMap::new(), &trusted, xff),
            ip("10.0.0.1")
        );
        // nginx's `$proxy_add_x_forwarded_for` appends the real address to what the client sent.
        let garbage = headers(&[("x-forwarded-for", "not-an-address, 198.51.100.7")]);
        assert_eq!(
            client_ip(peer("10.0.0.1"), &garbage, &trusted, xff),
            ip("198.51.100.7")
        );
        // Garbage between trusted hops: the nearest readable hop is as far as trust goes.
        let broken = headers(&[("x-forwarded-for", "198.51.100.7, junk, 10.0.0.3")]);
        assert_eq!(
            client_ip(peer("10.0.0.1"), &broken, &trusted, xff),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn only_the_configured_header_is_read() {
        // The proxy sets X-Forwarded-For and passes the client's own Forwarded through: the
        // Forwarded header must not decide (it would let any client pick an allowed address).
        let trusted = nets(&["10.0.0.0/8"]);
        let spoofed = headers(&[
            ("forwarded", "for=10.20.4.10"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            client_ip(
                peer("10.0.0.2"),
                &spoofed,
                &trusted,
                ForwardedHeader::XForwardedFor
            ),
            "203.0.113.9".parse::<IpAddr>().expect("ip")
        );
        // And the other way round.
        let spoofed = headers(&[
            ("x-forwarded-for", "10.20.4.10"),
            ("forwarded", "for=203.0.113.9"),
        ]);
        assert_eq!(
            client_ip(
                peer("10.0.0.2"),
                &spoofed,
                &trusted,
                ForwardedHeader::Forwarded
            ),
            "203.0.113.9".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn mapped_addresses_are_normalised() {
        let ip = client_ip(
            peer("::ffff:192.0.2.1"),
            &HeaderMap::new(),
            &[],
            ForwardedHeader::default(),
        );
        assert_eq!(ip, "192.0.2.1".parse::<IpAddr>().expect("ip"));
    }
}
