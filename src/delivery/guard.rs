//! The SSRF guard: callbacks may reach only globally routable unicast addresses unless
//! `AP_DELIVERY_ALLOW_PRIVATE_NETWORKS` says so. Checked when a URL is accepted (an order's
//! `resultUpdateUrl`, an organisation's Ashby base URL, an OAuth token URL: the URL's host) and
//! when sending (every address the name resolves to, through reqwest's resolver, so the address
//! checked is the address connected to).
//!
//! What counts as global follows the IANA IPv4 and IPv6 special-purpose address registries. The
//! standard library's stable address methods cover most ranges; the rest (which the standard
//! library keeps behind the unstable `ip` feature: shared, benchmarking, reserved, protocol
//! assignments, …) are listed in [`SPECIAL_V4`] and [`SPECIAL_V6`] with their registry names.
//! An IPv4 address embedded in an IPv6 one (IPv4-mapped, NAT64) is judged as that IPv4 address;
//! the deprecated forms that tunnel to an IPv4 address (IPv4-compatible `::a.b.c.d`, 6to4
//! `2002::/16`) are refused whatever they embed.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

use ipnet::{Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// IPv4 special-purpose ranges the standard library has no stable method for.
const SPECIAL_V4: &[(&str, &str)] = &[
    ("0.0.0.0/8", "this network"),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.31.196.0/24", "AS112-v4"),
    ("192.52.193.0/24", "AMT"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast"),
    ("192.175.48.0/24", "direct delegation AS112 service"),
    ("198.18.0.0/15", "benchmarking"),
    ("240.0.0.0/4", "reserved"),
];

/// IPv6 special-purpose ranges inside the global unicast block `2000::/3`.
const SPECIAL_V6: &[(&str, &str)] = &[
    (
        "2001::/23",
        "IETF protocol assignments (Teredo, benchmarking, ORCHID, …)",
    ),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4"),
    ("2620:4f:8000::/48", "direct delegation AS112 service"),
    ("3fff::/20", "documentation"),
];

/// The NAT64 well-known prefix (RFC 6052): the last 32 bits are an IPv4 address.
const NAT64: &str = "64:ff9b::/96";

/// The lists above, parsed once (a typo is caught by the unit test `the_range_lists_parse`).
static PARSED: LazyLock<Parsed> = LazyLock::new(|| Parsed {
    v4: SPECIAL_V4.iter().filter_map(|(n, _)| n.parse().ok()).collect(),
    v6: SPECIAL_V6.iter().filter_map(|(n, _)| n.parse().ok()).collect(),
    nat64: NAT64.parse().ok(),
    global_unicast: "2000::/3".parse().ok(),
});

struct Parsed {
    v4: Vec<Ipv4Net>,
    v6: Vec<Ipv6Net>,
    nat64: Option<Ipv6Net>,
    global_unicast: Option<Ipv6Net>,
}

fn global_v4(ip: Ipv4Addr) -> bool {
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254.0.0/16, including 169.254.169.254 (cloud metadata)
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || PARSED.v4.iter().any(|net| net.contains(&ip)))
}

fn global_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return global_v4(v4);
    }
    let parsed = &*PARSED;
    if parsed.nat64.is_some_and(|net| net.contains(&ip)) {
        let [.., a, b, c, d] = ip.octets();
        return global_v4(Ipv4Addr::new(a, b, c, d));
    }
    // Every global unicast address is allocated from 2000::/3; outside it lie loopback,
    // unspecified, IPv4-compatible, discard-only, ULA (fc00::/7), link-local (fe80::/10),
    // site-local and multicast (ff00::/8), among others.
    parsed.global_unicast.is_some_and(|net| net.contains(&ip)) && !parsed.v6.iter().any(|net| net.contains(&ip))
}

/// Whether an address is a globally routable unicast address a callback may go to.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => global_v4(v4),
        IpAddr::V6(v6) => global_v6(v6),
    }
}

pub fn is_blocked(ip: IpAddr) -> bool {
    !is_global(ip)
}

/// Where outgoing calls may go: anywhere (development), or only to globally routable unicast
/// addresses (`AP_DELIVERY_ALLOW_PRIVATE_NETWORKS=false`, production's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    Any,
    PublicOnly,
}

impl Targets {
    pub fn new(allow_private_networks: bool) -> Self {
        if allow_private_networks {
            Self::Any
        } else {
            Self::PublicOnly
        }
    }

    /// Checks a URL's host (without resolving it) against this policy, with a message for a
    /// field error.
    pub fn check(self, url: &str) -> Result<(), String> {
        if self == Self::Any {
            return Ok(());
        }
        let url = url::Url::parse(url).map_err(|_| "must be an absolute URL".to_owned())?;
        check_host(&url).map_err(|reason| format!("must be a public address: the URL {reason}"))
    }
}

/// The host part of a callback URL, checked without resolving it.
pub fn check_host(url: &url::Url) -> Result<(), String> {
    match url.host() {
        None => Err("has no host".into()),
        Some(url::Host::Ipv4(ip)) if is_blocked(IpAddr::V4(ip)) => {
            Err(format!("points at a non-public address ({ip})"))
        }
        Some(url::Host::Ipv6(ip)) if is_blocked(IpAddr::V6(ip)) => {
            Err(format!("points at a non-public address ({ip})"))
        }
        Some(url::Host::Domain(d))
            if d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost") =>
        {
            Err("points at localhost".into())
        }
        _ => Ok(()),
    }
}

/// A resolver that drops non-public addresses, and fails when none is left.
#[derive(Debug, Clone, Copy)]
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = addrs.into_iter().filter(|a| !is_blocked(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves only to non-public addresses").into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_purpose_addresses_are_blocked() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::8.8.8.8",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b::c000:201",
            "64:ff9b:1::808:808",
            "100::1",
            "2001::1",
            "2001:2::1",
            "2001:db8::1",
            "2002:c000:201::1",
            "2002:808:808::1",
            "3fff::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(is_blocked(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!is_blocked(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_range_lists_parse() {
        for (net, _) in SPECIAL_V4 {
            assert!(net.parse::<Ipv4Net>().is_ok(), "{net}");
        }
        for (net, _) in SPECIAL_V6 {
            assert!(net.parse::<Ipv6Net>().is_ok(), "{net}");
        }
        assert!(PARSED.nat64.is_some() && PARSED.global_unicast.is_some());
    }

    #[tokio::test]
    async fn the_resolver_drops_private_addresses() {
        use std::str::FromStr;
        let name = Name::from_str("localhost").unwrap();
        let error = match PublicOnlyResolver.resolve(name).await {
            Ok(_) => panic!("localhost resolved through the guard"),
            Err(e) => e.to_string(),
        };
        assert!(error.contains("non-public"), "{error}");
    }

    #[test]
    fn hosts() {
        for bad in [
            "http://localhost/x",
            "http://api.localhost/",
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://169.254.169.254/latest",
            "http://198.18.0.1/",
            "http://[64:ff9b::a00:1]/",
            "http://[2002:c000:201::1]/",
            "http://[::c0a8:1]/",
        ] {
            assert!(check_host(&url::Url::parse(bad).unwrap()).is_err(), "{bad}");
        }
        assert!(check_host(&url::Url::parse("https://ats.example.com/r").unwrap()).is_ok());
    }
}
