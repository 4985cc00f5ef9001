//! Helpers of the HTTP tests: the crate's own testkit (a server on 127.0.0.1:0, and a client
//! that writes HTTP/1.1 by hand so that tests can send exactly the bytes an attacker would:
//! repeated headers, non-ASCII bytes, odd spacing, without a client library normalising them).

#![allow(
    dead_code,
    unreachable_pub,
    unused_imports,
    reason = "test helpers: not every test binary uses each"
)]

pub use mfa_axum::testkit::{Reply, Request as Req, serve};
