//! An HTTP test client for services built on this crate (feature `testkit`).
//!
//! The examples' and this crate's end-to-end tests talk to a real server over loopback, one
//! request per connection, with HTTP/1.1 written by hand: a test sends exactly the bytes it
//! names (repeated headers, odd spacing, no header a client library would add), and reads the
//! reply as it came off the wire. This module is that client, written once:
//!
//! - [`serve`] starts a [`Router`] on `127.0.0.1:0` with the peer address
//!   available to extractors ([`ConnectInfo`](axum::extract::ConnectInfo));
//! - [`send`] and [`Request`] send one request and return a [`Reply`] (status, headers, body);
//! - [`TestClient`] is a browser or a script: it keeps its cookies, comes from a network of its
//!   own (`X-Forwarded-For`, as the service's trusted proxy would append it), and keeps the CSRF
//!   token the service gave last and sends it back in [`CSRF_HEADER`](crate::CSRF_HEADER).
//!
//! Its functions panic when the server cannot be reached or answers something that is not
//! HTTP/1.1: they are for tests, where a panic is the failure message.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use axum::{Router, routing::get};
//! use mfa_axum::testkit::{CsrfSource, TestClient, serve};
//!
//! let app = Router::new().route("/", get(|| async { "hello" }));
//! let addr = serve(app).await;
//! let mut client = TestClient::new(addr, "198.51.100.7", CsrfSource::JsonBody);
//! let reply = client.get("/").await;
//! assert_eq!((reply.status, reply.body.as_str()), (200, "hello"));
//! # }
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::missing_panics_doc,
    reason = "a test kit: a failure stops the test with its message"
)]

mod client;
mod wire;

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;

pub use self::client::{CsrfSource, TestClient};
pub use self::wire::{Reply, Request, send};

/// Serves `app` on a fresh loopback port, with the peer address available to extractors;
/// returns the address. The server runs on a task of the current runtime until it ends.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// Percent-encodes a form value (`application/x-www-form-urlencoded`, every byte but the
/// unreserved ones encoded).
pub fn encode(value: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The text between the first `start` in `text` and the next `end`.
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let rest = text.get(from..)?;
    rest.get(..rest.find(end)?)
}
