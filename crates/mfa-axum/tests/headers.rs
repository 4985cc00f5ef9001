//! The security headers on every answer: pages, 404s and refusals of inner layers; HSTS only
//! over TLS; a handler's own value kept.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should stop the test with its message"
)]

mod common;

use axum::Router;
use axum::routing::get;
use mfa_axum::tower_sessions::MemoryStore;
use mfa_axum::{DEFAULT_CSP, DEFAULT_HSTS, EdgeConfig, Error, Transport};

use common::{Reply, Req, serve};

const CSP: &str = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; \
                   base-uri 'none'; object-src 'none'";

async fn app(edge: &EdgeConfig) -> std::net::SocketAddr {
    let router = Router::new()
        .route("/", get(|| async { "page" }).post(|| async { "posted" }))
        .route(
            "/static.css",
            get(|| async { ([("cache-control", "max-age=3600")], "body {}") }),
        )
        .route(
            "/qr",
            get(|| async { ([("content-security-policy", "img-src data:")], "<img>") }),
        )
        .layer(edge.csrf_layer())
        .layer(edge.session_layer(MemoryStore::default()))
        .layer(edge.layer());
    serve(router).await
}

fn assert_common(reply: &Reply) {
    assert_eq!(reply.only("content-security-policy"), Some(CSP));
    assert_eq!(reply.only("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.only("referrer-policy"), Some("no-referrer"));
    assert_eq!(reply.only("x-frame-options"), Some("DENY"));
}

#[tokio::test]
async fn every_answer_carries_the_headers_over_tls() {
    assert_eq!(DEFAULT_CSP, CSP);
    let edge = EdgeConfig::builder(Transport::Tls).build().unwrap();
    let addr = app(&edge).await;
    for (what, reply, status) in [
        ("page", Req::get("/").send(addr).await, 200),
        ("not found", Req::get("/nowhere").send(addr).await, 404),
        (
            "CSRF refusal",
            Req::post("/").form("a=b").send(addr).await,
            403,
        ),
    ] {
        assert_eq!(reply.status, status, "{what}");
        assert_common(&reply);
        assert_eq!(reply.only("cache-control"), Some("no-store"), "{what}");
        assert_eq!(
            reply.only("strict-transport-security"),
            Some(DEFAULT_HSTS),
            "{what}"
        );
    }
}

#[tokio::test]
async fn plain_http_has_no_hsts() {
    let edge = EdgeConfig::builder(Transport::PlainHttpForDevelopment)
        .build()
        .unwrap();
    let reply = Req::get("/").send(app(&edge).await).await;
    assert_common(&reply);
    assert_eq!(reply.only("strict-transport-security"), None);
}

#[tokio::test]
async fn a_handlers_own_value_is_kept() {
    let edge = EdgeConfig::builder(Transport::Tls).build().unwrap();
    let addr = app(&edge).await;
    let reply = Req::get("/static.css").send(addr).await;
    assert_eq!(reply.only("cache-control"), Some("max-age=3600"));
    let reply = Req::get("/qr").send(addr).await;
    assert_eq!(reply.only("content-security-policy"), Some("img-src data:"));
    assert_eq!(reply.only("referrer-policy"), Some("no-referrer"));
}

#[tokio::test]
async fn csp_and_hsts_can_be_replaced_but_must_be_valid() {
    let edge = EdgeConfig::builder(Transport::Tls)
        .content_security_policy("default-src 'self'; img-src 'self' data:")
        .hsts("max-age=63072000; includeSubDomains")
        .build()
        .unwrap();
    let reply = Req::get("/").send(app(&edge).await).await;
    assert_eq!(
        reply.only("content-security-policy"),
        Some("default-src 'self'; img-src 'self' data:")
    );
    assert_eq!(
        reply.only("strict-transport-security"),
        Some("max-age=63072000; includeSubDomains")
    );
    let bad = EdgeConfig::builder(Transport::Tls)
        .content_security_policy("default-src 'self'\r\nSet-Cookie: x=y")
        .build();
    assert!(matches!(
        bad,
        Err(Error::InvalidHeaderValue {
            what: "Content-Security-Policy"
        })
    ));
}
