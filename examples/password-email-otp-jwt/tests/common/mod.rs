//! A script calling the JSON API over the `mfa_axum` testkit (one hand-written HTTP/1.1 request
//! per connection), coming from the network it is given (the service trusts one proxy, so
//! `X-Forwarded-For` is the client's address). The API is stateless: no cookie, no CSRF token.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "test helpers: not every test binary uses each"
)]

use std::net::SocketAddr;

pub use mfa_axum::testkit::{Reply, send};
use serde_json::Value;

/// A script calling the API from network `ip`.
pub struct Api {
    pub addr: SocketAddr,
    pub ip: String,
}

impl Api {
    pub fn new(addr: SocketAddr, ip: &str) -> Self {
        Self {
            addr,
            ip: ip.to_owned(),
        }
    }

    fn headers<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut headers = vec![
            ("X-Forwarded-For", self.ip.as_str()),
            ("User-Agent", "service-test"),
        ];
        headers.extend_from_slice(extra);
        headers
    }

    /// `GET path` with `extra` headers.
    pub async fn get(&self, path: &str, extra: &[(&str, &str)]) -> Reply {
        send(self.addr, "GET", path, &self.headers(extra), b"").await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        let headers = self.headers(&[("Content-Type", "application/json")]);
        send(
            self.addr,
            "POST",
            path,
            &headers,
            body.to_string().as_bytes(),
        )
        .await
    }
}
