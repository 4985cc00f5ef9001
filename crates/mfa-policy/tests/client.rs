//! Client keys: addresses grouped by network prefix, as counter keys.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use mfa_policy::{ClientPrefixes, Error, Policy};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn default_prefixes_count_ipv4_per_address_and_ipv6_per_64() {
    let p = ClientPrefixes::default();
    assert_eq!(p.key(ip("203.0.113.7")).to_string(), "203.0.113.7/32");
    assert_ne!(p.key(ip("203.0.113.7")), p.key(ip("203.0.113.8")));
    // Every address of one /64 is one client; the next /64 is another.
    let a = p.key(ip("2001:db8:1:2::1"));
    let b = p.key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
    let c = p.key(ip("2001:db8:1:3::1"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.to_string(), "2001:db8:1:2::/64");
    assert_eq!((a.network(), a.prefix()), (ip("2001:db8:1:2::"), 64));
    // A dual-stack socket's IPv4-mapped address is the IPv4 client.
    assert_eq!(p.key(ip("::ffff:203.0.113.7")), p.key(ip("203.0.113.7")));
    // The policy uses its own prefixes.
    assert_eq!(
        Policy::default().client_key(ip("203.0.113.7")),
        p.key(ip("203.0.113.7"))
    );
}

#[test]
fn configured_prefixes_group_wider_networks() {
    let p = ClientPrefixes::new(24, 48).unwrap();
    assert_eq!(p.key(ip("198.51.100.200")).to_string(), "198.51.100.0/24");
    assert_eq!(
        p.key(ip("2001:db8:abcd:12::1")).to_string(),
        "2001:db8:abcd::/48"
    );
    let whole = ClientPrefixes::new(1, 1).unwrap();
    assert_eq!(whole.key(ip("255.1.2.3")).to_string(), "128.0.0.0/1");
    let exact = ClientPrefixes::new(32, 128).unwrap();
    assert_eq!(exact.key(ip("2001:db8::1")).to_string(), "2001:db8::1/128");
}

#[test]
fn zero_or_too_long_prefixes_are_refused() {
    assert_eq!(
        ClientPrefixes::new(0, 64),
        Err(Error::PrefixOutOfRange {
            family: "IPv4",
            max: 32,
            got: 0
        })
    );
    assert!(ClientPrefixes::new(33, 64).is_err());
    assert!(ClientPrefixes::new(32, 0).is_err());
    let err = ClientPrefixes::new(32, 129).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the IPv6 client prefix must be between 1 and 128 bits, not 129"
    );
}
