//! Reading the hops of `Forwarded` (RFC 7239) and `X-Forwarded-For`, from the right.
//!
//! Each proxy appends the address it received the request from, so the chain is read from its
//! right end: the rightmost hops were written by our own proxies, everything to their left may
//! have been written by the client. The parser therefore never needs the left part to be well
//! formed: it splits on every `,` (and, in `Forwarded`, every `;`) without honouring quotes, so a
//! client's unterminated quote or stray comma changes only how many hops *its own* part has and
//! can never swallow or shift the elements a proxy appended to its right. No address, port or
//! obfuscated identifier contains `,` or `;`, so nothing legitimate is lost by not unquoting
//! first.
//!
//! Lines are read as bytes, not as `&str`: a line with one non-ASCII byte still yields its other
//! elements (skipping the whole line would let a client's earlier line take its place).

use std::net::{IpAddr, Ipv6Addr};

use http::HeaderMap;
use http::header::{FORWARDED, HeaderName};

/// Longest element looked at; longer ones are [`Hop::Unknown`] without being parsed. The
/// longest well-formed `for=` element (a quoted, bracketed IPv6 with a port, `by`, `proto` and
/// `host`) is far shorter.
const MAX_ELEMENT_LEN: usize = 512;

/// The header a proxy writes the chain into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `Forwarded: for=192.0.2.60;proto=https, for="[2001:db8::17]:4711"` (RFC 7239).
    Forwarded,
    /// `X-Forwarded-For: 192.0.2.60, 2001:db8::17` (the de-facto header).
    XForwardedFor,
}

impl core::str::FromStr for ForwardedHeader {
    type Err = crate::Error;

    /// `forwarded` or `x-forwarded-for` (any case), as read from an environment variable.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`](crate::Error::InvalidSetting) for anything else.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "forwarded" => Ok(Self::Forwarded),
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            _ => Err(crate::Error::InvalidSetting {
                what: "forwarded header",
                expected: "forwarded or x-forwarded-for",
            }),
        }
    }
}

impl ForwardedHeader {
    /// The header's name.
    #[must_use]
    pub fn name(self) -> HeaderName {
        match self {
            Self::Forwarded => FORWARDED,
            Self::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
        }
    }
}

/// One element of the chain, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hop {
    /// A usable address (IPv4-mapped IPv6 addresses are turned into IPv4).
    Addr(IpAddr),
    /// `unknown`, an obfuscated identifier (`_hidden`), an element without `for=`, or anything
    /// that does not parse. It still counts as one hop.
    Unknown,
}

/// The chain's hops, rightmost first, across every line of `header` (later lines are further
/// right, as when the lines are joined with commas).
pub(crate) fn hops_from_right(
    headers: &HeaderMap,
    header: ForwardedHeader,
) -> impl Iterator<Item = Hop> + '_ {
    headers
        .get_all(header.name())
        .into_iter()
        .rev()
        .flat_map(|line| line.as_bytes().rsplit(|b| *b == b','))
        .map(move |element| match header {
            ForwardedHeader::Forwarded => parse_forwarded_element(element),
            ForwardedHeader::XForwardedFor => parse_xff_element(element),
        })
}

/// One `X-Forwarded-For` element: an address, optionally with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`), with optional surrounding spaces.
pub(crate) fn parse_xff_element(element: &[u8]) -> Hop {
    let Some(text) = short_ascii(element) else {
        return Hop::Unknown;
    };
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Hop::Addr(ip.to_canonical());
    }
    parse_node(text)
}

/// One `Forwarded` element: `;`-separated `name=value` pairs, names in any case; the `for`
/// parameter must occur exactly once.
pub(crate) fn parse_forwarded_element(element: &[u8]) -> Hop {
    let Some(text) = short_ascii(element) else {
        return Hop::Unknown;
    };
    let mut found = None;
    for pair in text.split(';') {
        let Some((name, value)) = pair.split_once('=') else {
            // A pair without `=` is malformed; an empty one (`for=x;`) is tolerated.
            if pair.trim_matches(is_ows).is_empty() {
                continue;
            }
            return Hop::Unknown;
        };
        if name.trim_matches(is_ows).eq_ignore_ascii_case("for") {
            if found.is_some() {
                // RFC 7239 section 4: a parameter must not occur twice in one element.
                return Hop::Unknown;
            }
            found = Some(value.trim_matches(is_ows));
        }
    }
    match found {
        Some(value) => parse_node(unquote(value)),
        None => Hop::Unknown,
    }
}

/// The element as trimmed ASCII text, or `None` if it is too long or not ASCII.
fn short_ascii(element: &[u8]) -> Option<&str> {
    if element.len() > MAX_ELEMENT_LEN || !element.is_ascii() {
        return None;
    }
    core::str::from_utf8(element)
        .ok()
        .map(|t| t.trim_matches(is_ows))
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `"value"` → `value`; anything else unchanged. A value with a backslash (a quoted-pair) is
/// left quoted, so it fails to parse: no address needs escaping.
fn unquote(value: &str) -> &str {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => inner,
        _ => value,
    }
}

/// RFC 7239 `node`: `IPv4[:port]`, `[IPv6][:port]`, `unknown` or `_obfuscated`, where a port
/// is 1 to 5 digits or `_obfuscated`. Bare IPv6 is accepted only in brackets, where no port can
/// be mistaken for the address's last group.
fn parse_node(node: &str) -> Hop {
    let (host, port) = if let Some(rest) = node.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Hop::Unknown;
        };
        let Ok(ip) = inside.parse::<Ipv6Addr>() else {
            return Hop::Unknown;
        };
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Hop::Unknown,
            },
        };
        (IpAddr::V6(ip), port)
    } else {
        let (host, port) = match node.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (node, None),
        };
        let Ok(ip) = host.parse::<std::net::Ipv4Addr>() else {
            return Hop::Unknown;
        };
        (IpAddr::V4(ip), port)
    };
    if port.is_some_and(|p| !valid_port(p)) {
        return Hop::Unknown;
    }
    Hop::Addr(host.to_canonical())
}

fn valid_port(port: &str) -> bool {
    let digits = (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
    let obfuscated = port.len() > 1
        && port.starts_with('_')
        && port
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    digits || obfuscated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Hop {
        Hop::Addr(text.parse().unwrap())
    }

    #[test]
    fn rfc_7239_examples() {
        // RFC 7239 sections 4 and 7.
        let cases: &[(&str, Hop)] = &[
            ("for=\"_gazonk\"", Hop::Unknown),
            ("For=\"[2001:db8:cafe::17]:4711\"", v("2001:db8:cafe::17")),
            ("for=192.0.2.60;proto=http;by=203.0.113.43", v("192.0.2.60")),
            ("for=192.0.2.43", v("192.0.2.43")),
            ("for=unknown", Hop::Unknown),
            ("for=\"192.0.2.43:47011\"", v("192.0.2.43")),
            ("for=\"[2001:db8::1]\"", v("2001:db8::1")),
            ("for=\"192.0.2.43:_port\"", v("192.0.2.43")),
            ("proto=https;by=203.0.113.43", Hop::Unknown),
            ("for=192.0.2.1;for=192.0.2.2", Hop::Unknown),
            ("for=\"[::ffff:192.0.2.9]:80\"", v("192.0.2.9")),
            ("for=\"2001:db8::1\"", Hop::Unknown),
            ("for=\"192.0.2.1:65536x\"", Hop::Unknown),
            ("for=\"192.0.\\2.1\"", Hop::Unknown),
        ];
        for (text, want) in cases {
            assert_eq!(parse_forwarded_element(text.as_bytes()), *want, "{text}");
        }
    }

    #[test]
    fn xff_elements() {
        let cases: &[(&str, Hop)] = &[
            (" 203.0.113.195 ", v("203.0.113.195")),
            (
                "2001:DB8:85A3::8A2E:370:7334",
                v("2001:db8:85a3::8a2e:370:7334"),
            ),
            ("203.0.113.195:41237", v("203.0.113.195")),
            ("[2001:db8::1]:41237", v("2001:db8::1")),
            ("::ffff:10.1.2.3", v("10.1.2.3")),
            ("unknown", Hop::Unknown),
            ("", Hop::Unknown),
            ("010.0.0.1", Hop::Unknown),
            ("fe80::1%eth0", Hop::Unknown),
            ("1.2.3.4 5.6.7.8", Hop::Unknown),
        ];
        for (text, want) in cases {
            assert_eq!(parse_xff_element(text.as_bytes()), *want, "{text:?}");
        }
    }
}
