//! The client address behind proxies: hostile `Forwarded` and `X-Forwarded-For` headers, table
//! by table; properties (nothing panics; whatever the client writes, the address the trusted
//! proxies reported wins); the extractor over real HTTP; the start-up checks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    reason = "test code: a failure should stop the test with its message"
)]

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use axum::Router;
use axum::routing::get;
use http::{HeaderMap, HeaderName, HeaderValue};
use mfa_axum::{
    ClientIp, ClientIpSource, EdgeConfig, Error, ForwardedHeader, MAX_TRUSTED_HOPS, Transport,
    TrustedProxies,
};
use proptest::prelude::*;

use common::{Req, serve};

const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
const FWD: ForwardedHeader = ForwardedHeader::Forwarded;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Header lines of `header`, in order, as raw bytes.
fn headers(header: ForwardedHeader, lines: &[&[u8]]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in lines {
        map.append(header.name(), HeaderValue::from_bytes(line).unwrap());
    }
    map
}

fn count(n: u8, header: ForwardedHeader) -> ClientIpSource {
    ClientIpSource::proxies(header, TrustedProxies::count(n).unwrap())
}

fn networks(header: ForwardedHeader) -> ClientIpSource {
    ClientIpSource::proxies(header, "10.0.0.0/8, fd00::/8".parse().unwrap())
}

struct Case {
    what: &'static str,
    source: ClientIpSource,
    header: ForwardedHeader,
    lines: Vec<Vec<u8>>,
    peer: &'static str,
    want: &'static str,
}

fn case(
    what: &'static str,
    source: &ClientIpSource,
    header: ForwardedHeader,
    lines: &[&str],
    peer: &'static str,
    want: &'static str,
) -> Case {
    Case {
        what,
        source: source.clone(),
        header,
        lines: lines.iter().map(|l| l.as_bytes().to_vec()).collect(),
        peer,
        want,
    }
}

fn run(cases: &[Case]) {
    for c in cases {
        let lines: Vec<&[u8]> = c.lines.iter().map(Vec::as_slice).collect();
        let got = c.source.resolve(&headers(c.header, &lines), ip(c.peer));
        assert_eq!(got, ip(c.want), "{}: {:?}", c.what, c.lines);
    }
    println!("{} cases", cases.len());
}

const PEER: &str = "10.0.0.1";
const CLIENT: &str = "203.0.113.7";

#[test]
fn x_forwarded_for_with_one_trusted_proxy() {
    let one = count(1, XFF);
    run(&[
        case("no header: the peer", &one, XFF, &[], PEER, PEER),
        case("one entry", &one, XFF, &[CLIENT], PEER, CLIENT),
        case(
            "spoofed leftmost",
            &one,
            XFF,
            &["6.6.6.6, 203.0.113.7"],
            PEER,
            CLIENT,
        ),
        case("two lines", &one, XFF, &["6.6.6.6", CLIENT], PEER, CLIENT),
        case(
            "three lines, spoof in the middle",
            &one,
            XFF,
            &["1.1.1.1", "6.6.6.6, 7.7.7.7", CLIENT],
            PEER,
            CLIENT,
        ),
        case(
            "garbage where the proxy wrote",
            &one,
            XFF,
            &["6.6.6.6, garbage"],
            PEER,
            PEER,
        ),
        case(
            "unknown where the proxy wrote",
            &one,
            XFF,
            &["6.6.6.6, unknown"],
            PEER,
            PEER,
        ),
        case("port", &one, XFF, &["203.0.113.7:5555"], PEER, CLIENT),
        case(
            "IPv4-mapped",
            &one,
            XFF,
            &["::ffff:203.0.113.7"],
            PEER,
            CLIENT,
        ),
        case(
            "bracketed IPv6, port",
            &one,
            XFF,
            &["[2001:db8::7]:443"],
            PEER,
            "2001:db8::7",
        ),
        case(
            "upper-case IPv6",
            &one,
            XFF,
            &["2001:DB8::7"],
            PEER,
            "2001:db8::7",
        ),
        case(
            "spaces and tabs",
            &one,
            XFF,
            &[" \t203.0.113.7 \t"],
            PEER,
            CLIENT,
        ),
        case(
            "empty elements",
            &one,
            XFF,
            &["6.6.6.6,,, 203.0.113.7"],
            PEER,
            CLIENT,
        ),
        case(
            "client's trailing comma",
            &one,
            XFF,
            &["6.6.6.6,", CLIENT],
            PEER,
            CLIENT,
        ),
        case("zone id", &one, XFF, &["fe80::1%eth0"], PEER, PEER),
        case("octal-looking IPv4", &one, XFF, &["010.0.0.1"], PEER, PEER),
        case(
            "two addresses, one element",
            &one,
            XFF,
            &["1.2.3.4 5.6.7.8"],
            PEER,
            PEER,
        ),
        case(
            "mapped peer, no header",
            &one,
            XFF,
            &[],
            "::ffff:10.0.0.1",
            PEER,
        ),
        case("Forwarded is not read", &one, XFF, &[], PEER, PEER),
    ]);
    // A Forwarded header beside X-Forwarded-For changes nothing.
    let mut map = headers(XFF, &[CLIENT.as_bytes()]);
    map.append("forwarded", HeaderValue::from_static("for=6.6.6.6"));
    assert_eq!(one.resolve(&map, ip(PEER)), ip(CLIENT));
}

#[test]
fn x_forwarded_for_with_two_trusted_proxies() {
    let two = count(2, XFF);
    run(&[
        case(
            "client, then the outer proxy's address",
            &two,
            XFF,
            &["6.6.6.6, 203.0.113.7, 10.0.0.2"],
            PEER,
            CLIENT,
        ),
        case(
            "shorter chain: the leftmost",
            &two,
            XFF,
            &[CLIENT],
            PEER,
            CLIENT,
        ),
        case(
            "unusable client entry: the nearest proxy to its right",
            &two,
            XFF,
            &["6.6.6.6, unknown, 10.0.0.2"],
            PEER,
            "10.0.0.2",
        ),
        case(
            "nothing usable: the peer",
            &two,
            XFF,
            &["6.6.6.6, _hidden, garbage"],
            PEER,
            PEER,
        ),
        case(
            "across lines",
            &two,
            XFF,
            &["6.6.6.6", "203.0.113.7", "10.0.0.2"],
            PEER,
            CLIENT,
        ),
    ]);
}

#[test]
fn forwarded_rfc_7239() {
    let one = count(1, FWD);
    run(&[
        case("plain", &one, FWD, &["for=203.0.113.7"], PEER, CLIENT),
        case(
            "spoofed leftmost element",
            &one,
            FWD,
            &["for=6.6.6.6, for=203.0.113.7;proto=https;by=10.0.0.1"],
            PEER,
            CLIENT,
        ),
        case(
            "quoted IPv6 with port",
            &one,
            FWD,
            &["for=\"[2001:db8::1]:4711\""],
            PEER,
            "2001:db8::1",
        ),
        case(
            "quoted IPv4 with port",
            &one,
            FWD,
            &["for=\"203.0.113.7:47011\""],
            PEER,
            CLIENT,
        ),
        case(
            "obfuscated",
            &one,
            FWD,
            &["for=6.6.6.6, for=_hidden"],
            PEER,
            PEER,
        ),
        case(
            "unknown",
            &one,
            FWD,
            &["for=6.6.6.6, for=unknown"],
            PEER,
            PEER,
        ),
        case(
            "two lines",
            &one,
            FWD,
            &["for=6.6.6.6", "for=203.0.113.7"],
            PEER,
            CLIENT,
        ),
        case(
            "mixed case",
            &one,
            FWD,
            &["FOR=203.0.113.7;Proto=https"],
            PEER,
            CLIENT,
        ),
        case(
            "client's unterminated quote, same line",
            &one,
            FWD,
            &["for=\"6.6.6.6, for=203.0.113.7"],
            PEER,
            CLIENT,
        ),
        case(
            "client's unterminated quote, own line",
            &one,
            FWD,
            &["for=\"6.6.6.6", "for=203.0.113.7"],
            PEER,
            CLIENT,
        ),
        case(
            "client's quoted comma",
            &one,
            FWD,
            &["for=\"6.6.6.6,7.7.7.7\", for=203.0.113.7"],
            PEER,
            CLIENT,
        ),
        case(
            "element without for=",
            &one,
            FWD,
            &["for=6.6.6.6, proto=https"],
            PEER,
            PEER,
        ),
        case(
            "for= twice in the proxy's element",
            &one,
            FWD,
            &["for=203.0.113.7;for=6.6.6.6"],
            PEER,
            PEER,
        ),
        case(
            "unquoted bare IPv6",
            &one,
            FWD,
            &["for=2001:db8::1"],
            PEER,
            PEER,
        ),
        case(
            "spaces around pairs",
            &one,
            FWD,
            &["  for=203.0.113.7 ; proto=https "],
            PEER,
            CLIENT,
        ),
    ]);
    // X-Forwarded-For beside Forwarded changes nothing.
    let mut map = headers(FWD, &[b"for=203.0.113.7"]);
    map.append("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
    assert_eq!(one.resolve(&map, ip(PEER)), ip(CLIENT));
}

#[test]
fn trusted_networks() {
    let nets = networks(XFF);
    run(&[
        case(
            "walks past trusted proxies",
            &nets,
            XFF,
            &["6.6.6.6, 203.0.113.7, 10.0.0.2"],
            PEER,
            CLIENT,
        ),
        case(
            "an untrusted peer's headers are ignored",
            &nets,
            XFF,
            &[CLIENT],
            "198.51.100.9",
            "198.51.100.9",
        ),
        case(
            "all trusted: the leftmost",
            &nets,
            XFF,
            &["10.1.1.1, 10.0.0.2"],
            PEER,
            "10.1.1.1",
        ),
        case(
            "stops at an unusable entry",
            &nets,
            XFF,
            &["6.6.6.6, garbage, 10.0.0.2"],
            PEER,
            "10.0.0.2",
        ),
        case("no header", &nets, XFF, &[], PEER, PEER),
        case(
            "mapped trusted peer",
            &nets,
            XFF,
            &[CLIENT],
            "::ffff:10.0.0.1",
            CLIENT,
        ),
        case(
            "a claimed trusted address left of the client is ignored",
            &nets,
            XFF,
            &["10.9.9.9, 203.0.113.7"],
            PEER,
            CLIENT,
        ),
        case(
            "IPv6 proxies",
            &nets,
            XFF,
            &["203.0.113.7, fd00::2"],
            "fd00::1",
            CLIENT,
        ),
    ]);
    let fwd = networks(FWD);
    run(&[case(
        "Forwarded, IPv6 client behind two trusted hops",
        &fwd,
        FWD,
        &["for=6.6.6.6", "for=\"[2001:db8::9]:1234\", for=10.0.0.3"],
        PEER,
        "2001:db8::9",
    )]);
}

#[test]
fn socket_ignores_every_header() {
    let socket = ClientIpSource::socket();
    let mut map = headers(XFF, &[b"6.6.6.6"]);
    map.append("forwarded", HeaderValue::from_static("for=6.6.6.6"));
    assert_eq!(socket.resolve(&map, ip(CLIENT)), ip(CLIENT));
    assert_eq!(
        socket.resolve(&map, ip("::ffff:203.0.113.7")),
        ip(CLIENT),
        "mapped peers come out as IPv4"
    );
}

#[test]
fn non_ascii_bytes_do_not_drop_the_proxys_entry() {
    let one = count(1, XFF);
    // The proxy appended to a line the client made non-ASCII: the line is still read.
    let map = headers(XFF, &[b"6.6.6.6", b"\xff\xfe, 203.0.113.7"]);
    assert_eq!(one.resolve(&map, ip(PEER)), ip(CLIENT));
    let map = headers(XFF, &[b"6.6.6.6", b"\xc3\xa9", b"203.0.113.7"]);
    assert_eq!(one.resolve(&map, ip(PEER)), ip(CLIENT));
    let map = headers(XFF, &[b"6.6.6.6, 203.0.113.\xff"]);
    assert_eq!(one.resolve(&map, ip(PEER)), ip(PEER));
}

#[test]
fn huge_and_long_chains_are_cheap_and_bounded() {
    let long = format!("{}{CLIENT}", "1.1.1.1, ".repeat(100_000));
    let map = headers(XFF, &[long.as_bytes()]);
    let start = Instant::now();
    assert_eq!(count(1, XFF).resolve(&map, ip(PEER)), ip(CLIENT));
    let one = start.elapsed();
    let huge_element = format!("{}, {CLIENT}", "9".repeat(1_000_000));
    let map2 = headers(XFF, &[huge_element.as_bytes()]);
    assert_eq!(count(2, XFF).resolve(&map2, ip(PEER)), ip(CLIENT));
    // Thousands of header lines.
    let mut many = HeaderMap::new();
    for _ in 0..5_000 {
        many.append("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
    }
    many.append("x-forwarded-for", HeaderValue::from_static(CLIENT));
    assert_eq!(count(1, XFF).resolve(&many, ip(PEER)), ip(CLIENT));
    // A chain of trusted addresses longer than the walk's bound stops inside the trusted part.
    let trusted = format!("6.6.6.6, {}", vec!["10.0.0.9"; 40].join(", "));
    let map3 = headers(XFF, &[trusted.as_bytes()]);
    assert_eq!(networks(XFF).resolve(&map3, ip(PEER)), ip("10.0.0.9"));
    println!(
        "100 000-entry chain ({} bytes) resolved in {one:?}; walk bound {MAX_TRUSTED_HOPS} hops",
        long.len()
    );
}

// --- properties -------------------------------------------------------------------------------

/// Header bytes HTTP can carry: tab, visible ASCII, space, obs-text.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let random = prop::collection::vec(
        prop_oneof![Just(b'\t'), 0x20_u8..=0x7e, 0x80_u8..=0xff],
        0..120,
    );
    let fragments = prop::collection::vec(
        prop::sample::select(vec![
            "for=",
            "For=",
            "FOR =",
            "\"",
            "[",
            "]",
            ":",
            ",",
            ", ",
            ";",
            " ",
            "unknown",
            "_x",
            "1.2.3.4",
            "10.0.0.5",
            "::ffff:",
            "2001:db8::1",
            ":99999",
            "=",
            "\\",
            "proto=https",
            "\u{e9}",
            "fd00::7",
        ]),
        0..30,
    )
    .prop_map(|parts| parts.concat().into_bytes());
    prop_oneof![random, fragments]
}

fn sources() -> impl Strategy<Value = ClientIpSource> {
    let header = prop_oneof![Just(XFF), Just(FWD)];
    (header, 0_u8..6).prop_map(|(header, n)| match n {
        0 => ClientIpSource::socket(),
        5 => networks(header),
        n => count(n, header),
    })
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        any::<u128>().prop_map(|v| IpAddr::V6(Ipv6Addr::from(v))),
    ]
}

/// An address outside 10.0.0.0/8 and fd00::/8, in canonical form (not IPv4-mapped).
fn public_ip() -> impl Strategy<Value = IpAddr> {
    any_ip()
        .prop_map(|ip| ip.to_canonical())
        .prop_filter("outside the trusted networks", |ip| match ip {
            IpAddr::V4(v4) => v4.octets()[0] != 10,
            IpAddr::V6(v6) => v6.octets()[0] != 0xfd,
        })
}

/// How a proxy writes `ip` as one element of `header`.
fn element(header: ForwardedHeader, ip: IpAddr, style: u8) -> String {
    match (header, ip, style % 3) {
        (ForwardedHeader::XForwardedFor, IpAddr::V4(v4), 1) => {
            format!("{v4}:{}", 1000 + u32::from(style))
        }
        (ForwardedHeader::XForwardedFor, IpAddr::V6(v6), 1) => format!("[{v6}]:443"),
        (ForwardedHeader::XForwardedFor, ip, _) => ip.to_string(),
        (_, IpAddr::V4(v4), 0) => format!("for={v4}"),
        (_, IpAddr::V4(v4), 1) => format!("for=\"{v4}:8080\";proto=https"),
        (_, IpAddr::V4(v4), _) => format!("proto=https;For={v4};by=_proxy"),
        (_, IpAddr::V6(v6), 0) => format!("for=\"[{v6}]\""),
        (_, IpAddr::V6(v6), _) => format!("for=\"[{v6}]:4711\";proto=https"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Any bytes, in either header, under any configuration: an answer, never a panic.
    #[test]
    fn never_panics(
        source in sources(),
        xff in prop::collection::vec(header_bytes(), 0..4),
        fwd in prop::collection::vec(header_bytes(), 0..4),
        peer in any_ip(),
    ) {
        let mut map = HeaderMap::new();
        for line in &xff {
            map.append("x-forwarded-for", HeaderValue::from_bytes(line).unwrap());
        }
        for line in &fwd {
            map.append("forwarded", HeaderValue::from_bytes(line).unwrap());
        }
        let got = source.resolve(&map, peer);
        prop_assert_eq!(got, got.to_canonical());
    }

    /// Whatever the client writes into the header before the proxies append to it, the answer
    /// is the address the outermost trusted proxy saw: never a value from the client's part.
    #[test]
    fn the_clients_own_part_never_wins(
        header in prop_oneof![Just(XFF), Just(FWD)],
        client_lines in prop::collection::vec(header_bytes(), 0..4),
        real_client in public_ip(),
        proxies in prop::collection::vec((1_u32..0x00ff_ffff, any::<u8>()), 1..5),
        by_network in any::<bool>(),
        same_line in any::<bool>(),
        style in any::<u8>(),
    ) {
        // The outermost proxy appends the client's address; each proxy after it appends the
        // address of the proxy before; the innermost proxy is the TCP peer.
        let addrs: Vec<IpAddr> = proxies
            .iter()
            .map(|(v, _)| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | v)))
            .collect();
        let mut appended = vec![element(header, real_client, style)];
        for (addr, (_, s)) in addrs.iter().zip(&proxies).take(addrs.len() - 1) {
            appended.push(element(header, *addr, *s));
        }
        let peer = addrs[addrs.len() - 1];
        let mut lines = client_lines.clone();
        if same_line && !lines.is_empty() {
            let last = lines.last_mut().unwrap();
            last.extend_from_slice(b", ");
            last.extend_from_slice(appended.join(", ").as_bytes());
        } else {
            lines.push(appended.join(", ").into_bytes());
        }
        let mut map = HeaderMap::new();
        for line in &lines {
            map.append(header.name(), HeaderValue::from_bytes(line).unwrap());
        }
        // The other header, fully client-controlled, must not matter either.
        let other: HeaderName = match header {
            ForwardedHeader::XForwardedFor => "forwarded".parse().unwrap(),
            _ => "x-forwarded-for".parse().unwrap(),
        };
        map.append(other, HeaderValue::from_static("for=6.6.6.6, 6.6.6.6"));
        let source = if by_network {
            networks(header)
        } else {
            count(u8::try_from(addrs.len()).unwrap(), header)
        };
        prop_assert_eq!(source.resolve(&map, peer), real_client);
    }
}

// --- the extractor over HTTP ------------------------------------------------------------------

async fn ip_app(edge: Option<&EdgeConfig>) -> std::net::SocketAddr {
    let app = Router::new().route(
        "/ip",
        get(|ClientIp(ip): ClientIp| async move { ip.to_string() }),
    );
    let app = match edge {
        Some(edge) => app.layer(edge.layer()),
        None => app,
    };
    serve(app).await
}

#[tokio::test]
async fn extractor_reads_the_trusted_hop_over_http() {
    let edge = EdgeConfig::builder(Transport::TlsBehindProxy)
        .trusted_proxies(XFF, TrustedProxies::count(1).unwrap())
        .build()
        .unwrap();
    let addr = ip_app(Some(&edge)).await;
    let reply = Req::get("/ip")
        .header("X-Forwarded-For", "6.6.6.6")
        .header("X-Forwarded-For", "7.7.7.7, 203.0.113.7")
        .send(addr)
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, CLIENT));
    let reply = Req::get("/ip").send(addr).await;
    assert_eq!(reply.body, "127.0.0.1", "no header: the peer");

    let direct = EdgeConfig::builder(Transport::Tls).build().unwrap();
    let addr = ip_app(Some(&direct)).await;
    let reply = Req::get("/ip")
        .header("X-Forwarded-For", CLIENT)
        .header("Forwarded", "for=203.0.113.7")
        .send(addr)
        .await;
    assert_eq!(
        reply.body, "127.0.0.1",
        "without proxies the headers are ignored"
    );
}

#[tokio::test]
async fn extractor_without_the_layer_or_connect_info_answers_500() {
    let addr = ip_app(None).await;
    assert_eq!(Req::get("/ip").send(addr).await.status, 500);

    // Served without connect info.
    use tower::ServiceExt as _;
    let edge = EdgeConfig::builder(Transport::Tls).build().unwrap();
    let app = Router::new()
        .route(
            "/ip",
            get(|ClientIp(ip): ClientIp| async move { ip.to_string() }),
        )
        .layer(edge.layer());
    let request = http::Request::get("/ip")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.oneshot(request).await.unwrap().status(), 500);
}

// --- start-up checks --------------------------------------------------------------------------

#[test]
fn tls_behind_a_proxy_without_trusted_proxies_refuses_to_start() {
    let refused = EdgeConfig::builder(Transport::TlsBehindProxy).build();
    assert!(
        matches!(refused, Err(Error::ProxiesNotConfigured)),
        "{refused:?}"
    );
    let socket = EdgeConfig::builder(Transport::TlsBehindProxy)
        .client_ip(ClientIpSource::socket())
        .build();
    assert!(
        matches!(socket, Err(Error::ProxiesNotConfigured)),
        "{socket:?}"
    );
    let ok = EdgeConfig::builder(Transport::TlsBehindProxy)
        .trusted_proxies(FWD, "192.0.2.0/24".parse().unwrap())
        .build()
        .unwrap();
    assert!(ok.cookies().is_secure());
    for transport in [Transport::Tls, Transport::PlainHttpForDevelopment] {
        let built = EdgeConfig::builder(transport).build().unwrap();
        assert_eq!(built.client_ip(), &ClientIpSource::socket());
    }
}

#[test]
fn trusted_proxies_from_text() {
    assert_eq!(
        "2".parse::<TrustedProxies>().unwrap(),
        TrustedProxies::count(2).unwrap()
    );
    let nets: TrustedProxies = " 10.0.0.0/8, fd00::/8 ,192.0.2.7 ".parse().unwrap();
    assert_eq!(
        format!("{nets:?}"),
        r#"TrustedProxies::Networks(["10.0.0.0/8", "192.0.2.7/32", "fd00::/8"])"#
    );
    assert!(matches!(
        "0".parse::<TrustedProxies>(),
        Err(Error::ZeroProxies)
    ));
    assert!(matches!(
        "300".parse::<TrustedProxies>(),
        Err(Error::InvalidNetwork(_))
    ));
    assert!(matches!(
        "banana".parse::<TrustedProxies>(),
        Err(Error::InvalidNetwork(_))
    ));
    assert!(matches!(
        "10.0.0.0/33".parse::<TrustedProxies>(),
        Err(Error::InvalidNetwork(_))
    ));
    assert!(matches!(
        "".parse::<TrustedProxies>(),
        Err(Error::NoProxyNetworks)
    ));
    assert!(matches!(
        TrustedProxies::networks(Vec::new()),
        Err(Error::NoProxyNetworks)
    ));
    // Host bits are dropped: 10.1.2.3/8 is 10.0.0.0/8.
    let truncated: TrustedProxies = "10.1.2.3/8".parse().unwrap();
    assert_eq!(truncated, "10.0.0.0/8".parse().unwrap());
}
