//! The API's test client: the `mfa_axum` testkit's client (one HTTP/1.1 request per connection,
//! a cookie jar, the network the service's one trusted proxy reports in `X-Forwarded-For`) with
//! the CSRF token of the JSON bodies, sent back in `X-CSRF-Token`.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "test helpers: not every test binary uses each"
)]

use std::net::SocketAddr;

pub use mfa_axum::testkit::{CsrfSource, Reply, TestClient as Api, send};

/// A script talking to the API from network `ip`, with an empty cookie jar.
pub fn api(addr: SocketAddr, ip: &str) -> Api {
    Api::new(addr, ip, CsrfSource::JsonBody).with_user_agent("api-test")
}

/// Starts a session: the CSRF token of `GET /session`.
pub async fn start(api: &mut Api) -> Reply {
    api.get("/session").await.assert_status(200).clone()
}
