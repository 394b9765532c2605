//! The client's address: the TCP peer, or, when the peer is one of `AP_TRUSTED_PROXIES`, the
//! right-most address of `X-Forwarded-For` that is not a trusted proxy (the proxies append the
//! address they received the request from, so everything left of the first untrusted one may
//! have been written by the client itself).
use std::net::{IpAddr, SocketAddr};

use actix_web::{HttpRequest, web};
use ipnet::IpNet;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// `AP_TRUSTED_PROXIES`: the networks whose requests carry the client's address in
/// `X-Forwarded-For`; empty: the peer is always the client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    /// A list of CIDRs (`10.0.0.0/8`) or single addresses, separated by commas or spaces.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split([',', ' ', '\t', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| format!("'{s}' is not a network (CIDR such as 10.0.0.0/8) or an address"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request from `peer` carrying these `X-Forwarded-For` values (in the
    /// order received).
    pub fn client<'a>(&self, peer: IpAddr, forwarded_for: impl DoubleEndedIterator<Item = &'a str>) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops = forwarded_for.rev().flat_map(|value| value.rsplit(','));
        for hop in hops {
            // An entry that is no address ends the trust: the last proxy's word is taken.
            let Some(ip) = hop_address(hop.trim()) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:80`.
fn hop_address(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(canonical)
}

/// The client address of `req` (see the module's text); `None` when the peer is unknown.
pub fn address(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let Some(trusted) = req.app_data::<web::Data<TrustedProxies>>().filter(|t| !t.is_empty()) else {
        return Some(canonical(peer));
    };
    let values: Vec<&str> = req
        .headers()
        .get_all(FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok())
        .collect();
    Some(trusted.client(peer, values.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        let peer = ip("127.0.0.1");
        assert_eq!(
            trusted.client(peer, ["1.1.1.1, 2.2.2.2, 10.1.2.3"].into_iter()),
            ip("2.2.2.2")
        );
        assert_eq!(trusted.client(peer, ["1.1.1.1", "2.2.2.2"].into_iter()), ip("2.2.2.2"));
        assert_eq!(
            trusted.client(peer, ["[2001:db8::1]:443"].into_iter()),
            ip("2001:db8::1")
        );
        // Only proxies: the left-most of them; nonsense: the last proxy's word.
        assert_eq!(trusted.client(peer, ["10.0.0.9, 10.0.0.1"].into_iter()), ip("10.0.0.9"));
        assert_eq!(
            trusted.client(peer, ["1.1.1.1, junk, 10.0.0.1"].into_iter()),
            ip("10.0.0.1")
        );
        assert_eq!(trusted.client(peer, std::iter::empty()), peer);
        // A peer that is no proxy is the client, whatever it says.
        assert_eq!(
            trusted.client(ip("192.0.2.1"), ["1.1.1.1"].into_iter()),
            ip("192.0.2.1")
        );
        assert_eq!(TrustedProxies::default().client(peer, ["1.1.1.1"].into_iter()), peer);
        assert_eq!(
            trusted.client(ip("::ffff:127.0.0.1"), ["1.1.1.1"].into_iter()),
            ip("1.1.1.1")
        );
    }

    #[test]
    fn a_bad_network_is_named() {
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert_eq!(TrustedProxies::parse("10.0.0.0/8 ::1").unwrap().0.len(), 2);
        assert!(
            TrustedProxies::parse("10.0.0.0/33")
                .unwrap_err()
                .contains("10.0.0.0/33")
        );
    }
}
