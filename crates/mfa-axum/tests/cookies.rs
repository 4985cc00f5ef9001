//! Cookie attributes: every cookie HttpOnly, SameSite=Strict, Path=/, with an explicit Max-Age;
//! Secure and `__Host-` over TLS; removals that a browser honours; values redacted in `Debug`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should stop the test with its message"
)]

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use mfa_axum::{
    CookieJar, CookieKind, CookieValue, EdgeConfig, Error, HostPrefix, Transport, TrustedProxies,
};

use common::{Req, serve};

const TOKEN: &str = "eyJ0b2tlbiI6InNlY3JldCJ9-_abcdefghijklmnopqrst";

fn tls() -> EdgeConfig {
    EdgeConfig::builder(Transport::TlsBehindProxy)
        .trusted_proxies(
            mfa_axum::ForwardedHeader::Forwarded,
            TrustedProxies::count(1).unwrap(),
        )
        .build()
        .unwrap()
}

fn plain() -> EdgeConfig {
    EdgeConfig::builder(Transport::PlainHttpForDevelopment)
        .build()
        .unwrap()
}

/// The attributes of a `Set-Cookie` line, lower-cased, without the name=value pair.
fn attributes(set_cookie: &str) -> Vec<String> {
    let mut attrs: Vec<String> = set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    attrs.sort();
    attrs
}

#[test]
fn names_ages_and_attributes_over_tls() {
    let edge = tls();
    let policy = edge.cookies();
    assert!(policy.is_secure());
    for (kind, name, age) in [
        (CookieKind::Session, "__Host-mfa_session", 12 * 3600),
        (CookieKind::LoginTicket, "__Host-mfa_ticket", 600),
        (CookieKind::TrustedDevice, "__Host-mfa_device", 30 * 86_400),
    ] {
        assert_eq!(policy.name(kind), name);
        assert_eq!(policy.max_age(kind), Duration::from_secs(age));
        let value = CookieValue::new(TOKEN).unwrap();
        let line = policy.cookie(kind, &value).to_string();
        assert!(line.starts_with(&format!("{name}={TOKEN};")), "{line}");
        assert_eq!(
            attributes(&line),
            [
                "httponly".to_owned(),
                format!("max-age={age}"),
                "path=/".to_owned(),
                "samesite=strict".to_owned(),
                "secure".to_owned(),
            ],
            "{line}"
        );
    }
}

#[test]
fn plain_http_has_no_secure_and_no_prefix() {
    let edge = plain();
    let policy = edge.cookies();
    assert!(!policy.is_secure());
    assert_eq!(policy.name(CookieKind::TrustedDevice), "mfa_device");
    let line = policy
        .cookie(CookieKind::TrustedDevice, &CookieValue::new(TOKEN).unwrap())
        .to_string();
    assert_eq!(
        attributes(&line),
        ["httponly", "max-age=2592000", "path=/", "samesite=strict"]
    );
}

#[test]
fn prefix_can_be_turned_off_and_lifetimes_set() {
    let edge = EdgeConfig::builder(Transport::Tls)
        .host_prefix(HostPrefix::Never)
        .trusted_device_lifetime(Duration::from_secs(7 * 86_400))
        .login_ticket_lifetime(Duration::from_secs(300))
        .session_lifetime(Duration::from_secs(3600))
        .build()
        .unwrap();
    let policy = edge.cookies();
    assert_eq!(policy.name(CookieKind::Session), "mfa_session");
    assert!(policy.is_secure());
    assert_eq!(
        policy.max_age(CookieKind::TrustedDevice).as_secs(),
        7 * 86_400
    );
    assert_eq!(policy.max_age(CookieKind::LoginTicket).as_secs(), 300);
    assert_eq!(policy.max_age(CookieKind::Session).as_secs(), 3600);
}

#[test]
fn lifetimes_outside_one_second_to_400_days_are_refused() {
    for bad in [
        Duration::ZERO,
        Duration::from_millis(999),
        Duration::from_secs(401 * 86_400),
    ] {
        let built = EdgeConfig::builder(Transport::Tls)
            .trusted_device_lifetime(bad)
            .build();
        assert!(
            matches!(
                built,
                Err(Error::InvalidLifetime {
                    what: "trusted device cookie"
                })
            ),
            "{bad:?}: {built:?}"
        );
    }
    let built = EdgeConfig::builder(Transport::Tls)
        .session_lifetime(Duration::ZERO)
        .build();
    assert!(matches!(
        built,
        Err(Error::InvalidLifetime { what: "session" })
    ));
}

#[test]
fn removal_keeps_the_attributes_a_browser_needs() {
    let edge = tls();
    let line = edge.cookies().removal(CookieKind::LoginTicket).to_string();
    assert!(line.starts_with("__Host-mfa_ticket=;"), "{line}");
    let attrs = attributes(&line);
    for needed in [
        "secure",
        "path=/",
        "max-age=0",
        "httponly",
        "samesite=strict",
    ] {
        assert!(
            attrs.iter().any(|a| a == needed),
            "{needed} missing in {line}"
        );
    }
    assert!(
        attrs
            .iter()
            .any(|a| a.starts_with("expires=thu, 01 jan 1970")),
        "{line}"
    );
}

#[test]
fn values_are_checked_and_redacted() {
    for bad in [
        "",
        "a b",
        "a;b",
        "a,b",
        "a\"b",
        "a\\b",
        "caf\u{e9}",
        "a\tb",
        "a\u{7f}b",
    ] {
        assert!(
            matches!(CookieValue::new(bad), Err(Error::InvalidCookieValue)),
            "{bad:?} accepted"
        );
    }
    assert!(CookieValue::new(&"a".repeat(4097)).is_err());
    let value = CookieValue::new(TOKEN).unwrap();
    assert_eq!(value.expose(), TOKEN);
    let debug = format!("{value:?}");
    assert_eq!(debug, "CookieValue { .. }");
    let error = CookieValue::new("secret value").unwrap_err();
    assert!(!format!("{error} {error:?}").contains("secret"));
}

/// Sets, reads back and clears the trusted-device cookie through a real server.
#[tokio::test]
async fn set_read_and_clear_over_http() {
    let edge = tls();
    let (e1, e2, e3) = (edge.clone(), edge.clone(), edge.clone());
    let app =
        Router::new()
            .route(
                "/remember",
                get(move |jar: CookieJar| async move {
                    let value = CookieValue::new(TOKEN).unwrap();
                    e1.cookies().set(jar, CookieKind::TrustedDevice, &value)
                }),
            )
            .route(
                "/whoami",
                get(move |jar: CookieJar| async move {
                    e2.cookies()
                        .get(&jar, CookieKind::TrustedDevice)
                        .map_or_else(|| "none".to_owned(), |v| v.expose().to_owned())
                }),
            )
            .route(
                "/forget",
                get(move |jar: CookieJar| async move {
                    e3.cookies().clear(jar, CookieKind::TrustedDevice)
                }),
            );
    let addr = serve(app).await;

    let reply = Req::get("/remember").send(addr).await;
    let set = reply.set_cookie("__Host-mfa_device").unwrap();
    assert_eq!(
        attributes(set),
        [
            "httponly",
            "max-age=2592000",
            "path=/",
            "samesite=strict",
            "secure"
        ]
    );
    let pair = reply.cookie_pair("__Host-mfa_device");

    let reply = Req::get("/whoami").cookie(&pair).send(addr).await;
    assert_eq!(reply.body, TOKEN);
    // An unprefixed cookie of the same base name (a subdomain could plant one) is not read.
    let reply = Req::get("/whoami")
        .cookie(&format!("mfa_device={TOKEN}"))
        .send(addr)
        .await;
    assert_eq!(reply.body, "none");
    // A malformed value is as good as none.
    let reply = Req::get("/whoami")
        .cookie("__Host-mfa_device=\"quoted\"")
        .send(addr)
        .await;
    assert_eq!(reply.body, "none");

    let reply = Req::get("/forget").send(addr).await;
    let removal = reply.set_cookie("__Host-mfa_device").unwrap();
    assert!(removal.starts_with("__Host-mfa_device=;"), "{removal}");
    assert!(
        attributes(removal).contains(&"secure".to_owned()),
        "{removal}"
    );
    assert!(
        attributes(removal).contains(&"max-age=0".to_owned()),
        "{removal}"
    );
}
