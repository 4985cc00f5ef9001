//! Client keys: the network an attempt comes from, as a counter key.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};

/// The prefix lengths that turn an IP address into a [`ClientKey`].
///
/// One IPv6 subscriber usually holds a whole /64, so counting single IPv6 addresses would let
/// one attacker rotate through 2^64 keys; the default therefore counts IPv4 per address (/32)
/// and IPv6 per /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientPrefixes {
    v4: u8,
    v6: u8,
}

impl Default for ClientPrefixes {
    /// [`ClientPrefixes::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl ClientPrefixes {
    /// IPv4 /32, IPv6 /64.
    pub const DEFAULT: Self = Self { v4: 32, v6: 64 };

    /// Prefixes of `v4` bits for IPv4 and `v6` bits for IPv6.
    ///
    /// # Errors
    /// [`Error::PrefixOutOfRange`] for a zero prefix (every client would share one key) or one
    /// longer than the address.
    pub fn new(v4: u8, v6: u8) -> Result<Self> {
        if v4 == 0 || v4 > 32 {
            return Err(Error::PrefixOutOfRange {
                family: "IPv4",
                max: 32,
                got: v4,
            });
        }
        if v6 == 0 || v6 > 128 {
            return Err(Error::PrefixOutOfRange {
                family: "IPv6",
                max: 128,
                got: v6,
            });
        }
        Ok(Self { v4, v6 })
    }

    /// The IPv4 prefix length.
    #[must_use]
    pub const fn v4(&self) -> u8 {
        self.v4
    }

    /// The IPv6 prefix length.
    #[must_use]
    pub const fn v6(&self) -> u8 {
        self.v6
    }

    /// The key of the network `ip` belongs to.
    ///
    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as dual-stack sockets report IPv4
    /// clients) counts as the IPv4 address it carries.
    #[must_use]
    pub fn key(&self, ip: IpAddr) -> ClientKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4) & mask32(self.v4);
                ClientKey {
                    network: IpAddr::V4(Ipv4Addr::from(bits)),
                    prefix: self.v4,
                }
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & mask128(self.v6);
                ClientKey {
                    network: IpAddr::V6(Ipv6Addr::from(bits)),
                    prefix: self.v6,
                }
            }
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0)
}

/// The network a client belongs to, used as the client part of a counter key.
///
/// Displays in CIDR notation (`203.0.113.7/32`, `2001:db8:1:2::/64`), a stable text a store can
/// use in its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey {
    network: IpAddr,
    prefix: u8,
}

impl ClientKey {
    /// The network address (host bits zero).
    #[must_use]
    pub const fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length in bits.
    #[must_use]
    pub const fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}
