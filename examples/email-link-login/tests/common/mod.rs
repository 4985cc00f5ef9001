//! A browser over the `mfa_axum` testkit (one hand-written HTTP/1.1 request per connection): it
//! keeps its session cookie and the CSRF token of `X-CSRF-Token`, and comes from the network it
//! is given (the service trusts one proxy, so `X-Forwarded-For` is the client's address).

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    reason = "test helpers: a failure should stop the test with its message"
)]

use std::net::SocketAddr;

pub use mfa_axum::testkit::{CsrfSource, Reply, TestClient as Browser, send};

/// A browser that fetched its CSRF token (which starts its session).
pub async fn browser(addr: SocketAddr, ip: &str) -> Browser {
    let mut browser = Browser::new(addr, ip, CsrfSource::Header).with_user_agent("service-test");
    refresh_csrf(&mut browser).await;
    browser
}

/// Fetches the session's current CSRF token (`GET /auth/csrf`).
pub async fn refresh_csrf(browser: &mut Browser) {
    let reply = browser.get("/auth/csrf").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    browser.csrf = reply.json()["csrf_token"].as_str().unwrap().to_owned();
}

/// `name=value` of the session cookie, once the service set one.
pub fn session(browser: &Browser) -> Option<String> {
    browser
        .cookies
        .iter()
        .find(|(name, _)| name.ends_with("mfa_session"))
        .map(|(name, value)| format!("{name}={value}"))
}
