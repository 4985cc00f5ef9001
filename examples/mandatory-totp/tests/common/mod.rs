//! A browser over the `mfa_axum` testkit (one hand-written HTTP/1.1 request per connection): its
//! cookies, the CSRF token of the last page, and the network it comes from (the
//! `X-Forwarded-For` entry the service's one trusted proxy would append). What is this
//! example's own: HTML pages, forms that carry the token in a field, error pages' `data-error`.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "test helpers: not every test binary uses each"
)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};

use mfa_axum::testkit::{CsrfSource, TestClient};
pub use mfa_axum::testkit::{Reply, between, encode, send};

/// What the tests read off this service's pages.
pub trait Page {
    /// The `data-error` code of an error page.
    fn error(&self) -> Option<&str>;
    /// `Retry-After` in seconds.
    fn retry_after(&self) -> Option<u64>;
}

impl Page for Reply {
    fn error(&self) -> Option<&str> {
        between(&self.body, "data-error=\"", "\"")
    }

    fn retry_after(&self) -> Option<u64> {
        self.header("retry-after").and_then(|v| v.parse().ok())
    }
}

/// A browser on a network of its own: the kit's client asking for HTML, with this service's
/// form posts.
pub struct Browser(TestClient);

impl Deref for Browser {
    type Target = TestClient;

    fn deref(&self) -> &TestClient {
        &self.0
    }
}

impl DerefMut for Browser {
    fn deref_mut(&mut self) -> &mut TestClient {
        &mut self.0
    }
}

impl Browser {
    pub fn new(addr: SocketAddr, ip: &str) -> Self {
        Self(
            TestClient::new(addr, ip, CsrfSource::Page)
                .with_user_agent("test browser")
                .with_header("Accept", "text/html"),
        )
    }

    /// A form post from the last page (with its CSRF token, from this site).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut body = format!("csrf_token={}", encode(&self.csrf));
        for (name, value) in fields {
            let _ = write!(body, "&{name}={}", encode(value));
        }
        let origin = format!("https://{}", self.addr);
        self.0.form(path, &body, &[("Origin", &origin)]).await
    }

    /// A request of a script (no `Accept: text/html`) with this browser's cookies, which
    /// keeps nothing of the reply.
    pub async fn fetch(&self, path: &str) -> Reply {
        let mut script = self.0.clone();
        script.headers.retain(|(name, _)| name != "Accept");
        script.get(path).await
    }
}
