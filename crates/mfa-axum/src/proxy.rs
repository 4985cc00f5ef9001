//! [`ClientIpSource`]: where the client's address comes from, and the one function that reads it.

use core::fmt;
use core::num::NonZeroU8;
use core::str::FromStr;
use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::forwarded::{ForwardedHeader, Hop, hops_from_right};

/// How many chain elements a network-trusting walk looks at before it stops. A real chain of
/// trusted proxies is a handful of hops; the cap bounds the work a long header can cause.
pub const MAX_TRUSTED_HOPS: usize = 32;

/// The reverse proxies in front of the application whose `Forwarded` / `X-Forwarded-For`
/// entries are believed.
///
/// - [`TrustedProxies::count`]: exactly this many proxies stand between every client and the
///   application (a load balancer, then a CDN, ...). The client's address is the entry this many
///   places from the right of the chain. Right when every request passes through all of them.
/// - [`TrustedProxies::networks`]: proxies are recognised by address. The chain is walked from
///   the right while the addresses are in these networks; the first address outside them is the
///   client. These networks must hold proxies only: a client inside them could name any address.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedProxies(Trust);

#[derive(Clone, PartialEq, Eq)]
enum Trust {
    Count(NonZeroU8),
    Networks(Vec<IpNet>),
}

impl TrustedProxies {
    /// Exactly `n` proxies in front of the application.
    #[must_use]
    pub const fn hops(n: NonZeroU8) -> Self {
        Self(Trust::Count(n))
    }

    /// Exactly `n` proxies in front of the application.
    ///
    /// # Errors
    /// [`Error::ZeroProxies`] for 0.
    pub fn count(n: u8) -> Result<Self> {
        NonZeroU8::new(n).map(Self::hops).ok_or(Error::ZeroProxies)
    }

    /// Proxies are the hosts in `networks`.
    ///
    /// # Errors
    /// [`Error::NoProxyNetworks`] for an empty list.
    pub fn networks(networks: impl IntoIterator<Item = IpNet>) -> Result<Self> {
        let mut list: Vec<IpNet> = networks.into_iter().map(|n| n.trunc()).collect();
        list.sort_unstable();
        list.dedup();
        if list.is_empty() {
            return Err(Error::NoProxyNetworks);
        }
        Ok(Self(Trust::Networks(list)))
    }

    /// Whether `ip` is in a trusted network (never, for a count).
    fn contains(&self, ip: IpAddr) -> bool {
        match &self.0 {
            Trust::Count(_) => false,
            Trust::Networks(list) => list.iter().any(|n| n.contains(&ip.to_canonical())),
        }
    }
}

impl FromStr for TrustedProxies {
    type Err = Error;

    /// `"2"` (a count) or a comma-separated list of networks and addresses
    /// (`"10.0.0.0/8, fd00::/8, 192.0.2.7"`), as read from an environment variable.
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text
                .parse::<u8>()
                .map_err(|_| Error::InvalidNetwork(text.to_owned()))
                .and_then(Self::count);
        }
        let networks = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(parse_network)
            .collect::<Result<Vec<_>>>()?;
        Self::networks(networks)
    }
}

fn parse_network(text: &str) -> Result<IpNet> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| Error::InvalidNetwork(text.to_owned()))
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Trust::Count(n) => f.debug_tuple("TrustedProxies::Count").field(n).finish(),
            Trust::Networks(list) => f
                .debug_tuple("TrustedProxies::Networks")
                .field(&list.iter().map(ToString::to_string).collect::<Vec<_>>())
                .finish(),
        }
    }
}

/// Where a request's client address comes from: the TCP peer, or a proxy chain header read
/// under a [`TrustedProxies`] rule. Validated when built; reading it never fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIpSource(Source);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Socket,
    Proxies {
        header: ForwardedHeader,
        trust: TrustedProxies,
    },
}

impl ClientIpSource {
    /// Clients connect directly: the address is the TCP peer's (axum's
    /// `ConnectInfo<SocketAddr>`); every forwarding header is ignored.
    #[must_use]
    pub const fn socket() -> Self {
        Self(Source::Socket)
    }

    /// Clients connect through proxies that write `header`. Only that one header is read: a
    /// proxy that writes `X-Forwarded-For` does not strip a `Forwarded` header the client sent,
    /// so reading both would let the client choose.
    #[must_use]
    pub const fn proxies(header: ForwardedHeader, trust: TrustedProxies) -> Self {
        Self(Source::Proxies { header, trust })
    }

    /// Whether a proxy chain is read.
    #[must_use]
    pub const fn is_behind_proxies(&self) -> bool {
        matches!(self.0, Source::Proxies { .. })
    }

    /// The client address of a request that arrived from `peer` with `headers`.
    ///
    /// Always gives an answer, never one the client chose once proxies are trusted:
    /// - no proxies: `peer`;
    /// - [`TrustedProxies::count`] `n`: the `n`-th chain entry from the right (the leftmost if
    ///   the chain is shorter, `peer` if it is empty). If that entry is `unknown`, obfuscated or
    ///   malformed, the nearest usable entry to its right, else `peer`: the request is then
    ///   counted against the proxy that reported it, never against an address from further left;
    /// - [`TrustedProxies::networks`]: `peer` if `peer` is not a trusted proxy (the headers are
    ///   then the client's own and ignored); otherwise the first entry from the right outside the
    ///   trusted networks. An unusable entry stops the walk at the last trusted address; so do the
    ///   end of the chain and [`MAX_TRUSTED_HOPS`].
    ///
    /// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are answered as IPv4.
    #[must_use]
    pub fn resolve(&self, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
        let peer = peer.to_canonical();
        let Source::Proxies { header, trust } = &self.0 else {
            return peer;
        };
        let hops = hops_from_right(headers, *header);
        match &trust.0 {
            Trust::Count(n) => hops
                .take(usize::from(n.get()))
                .filter_map(|hop| match hop {
                    Hop::Addr(ip) => Some(ip),
                    Hop::Unknown => None,
                })
                .last()
                .unwrap_or(peer),
            Trust::Networks(_) => {
                if !trust.contains(peer) {
                    return peer;
                }
                let mut client = peer;
                for hop in hops.take(MAX_TRUSTED_HOPS) {
                    let Hop::Addr(ip) = hop else { break };
                    client = ip;
                    if !trust.contains(ip) {
                        break;
                    }
                }
                client
            }
        }
    }
}

impl Default for ClientIpSource {
    /// [`ClientIpSource::socket`].
    fn default() -> Self {
        Self::socket()
    }
}
