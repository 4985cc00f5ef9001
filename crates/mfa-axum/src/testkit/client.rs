//! A browser or a script: cookies, the CSRF token, the network it comes from.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::Value;

use super::between;
use super::wire::{Reply, send};
use crate::{CSRF_FIELD, CSRF_HEADER};

/// Where the service hands out its CSRF token, and so how the client sends it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfSource {
    /// A JSON body's `csrf_token` field; sent back in [`CSRF_HEADER`].
    JsonBody,
    /// The [`CSRF_HEADER`] response header; sent back in the same header.
    Header,
    /// A page's hidden form field [`CSRF_FIELD`]; sent back by the caller, in the form it posts
    /// (never as a header).
    Page,
}

/// A client of the service with a cookie jar, on a network of its own.
///
/// Every request carries `User-Agent`, `X-Forwarded-For: ip` (the entry the service's one
/// trusted proxy would append), the cookies the service set and did not expire, and
/// [`headers`](Self::headers). Every reply updates the cookies and the CSRF token.
#[derive(Debug, Clone)]
pub struct TestClient {
    /// The server.
    pub addr: SocketAddr,
    /// The address the trusted proxy reports for this client.
    pub ip: String,
    /// The `User-Agent`.
    pub user_agent: String,
    /// The cookie jar: name to value.
    pub cookies: BTreeMap<String, String>,
    /// The CSRF token the service gave last (empty: none yet).
    pub csrf: String,
    /// Where the CSRF token comes from.
    pub csrf_source: CsrfSource,
    /// Headers sent with every request, before the client's own.
    pub headers: Vec<(String, String)>,
}

impl TestClient {
    /// A client with no cookie yet, coming from `ip`, with `User-Agent: mfa-axum-testkit`.
    pub fn new(addr: SocketAddr, ip: &str, csrf_source: CsrfSource) -> Self {
        Self {
            addr,
            ip: ip.to_owned(),
            user_agent: "mfa-axum-testkit".to_owned(),
            cookies: BTreeMap::new(),
            csrf: String::new(),
            csrf_source,
            headers: Vec::new(),
        }
    }

    /// The same client with `User-Agent: user_agent`.
    #[must_use]
    pub fn with_user_agent(mut self, user_agent: &str) -> Self {
        user_agent.clone_into(&mut self.user_agent);
        self
    }

    /// The same client sending `name: value` with every request.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A new client on the same network with the same cookies but `names` left out, and no
    /// CSRF token.
    #[must_use]
    pub fn without(&self, names: &[&str]) -> Self {
        let mut other = self.clone();
        other.cookies.retain(|k, _| !names.contains(&k.as_str()));
        other.csrf.clear();
        other
    }

    /// The `Cookie` header value (`a=1; b=2`), if the jar holds any cookie.
    pub fn cookie_header(&self) -> Option<String> {
        if self.cookies.is_empty() {
            return None;
        }
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        Some(pairs.join("; "))
    }

    /// Takes the cookies and the CSRF token of `reply` (a cookie set empty or with
    /// `Max-Age=0` is removed).
    pub fn keep(&mut self, reply: &Reply) {
        for set in reply.all("set-cookie") {
            let pair = set.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if value.is_empty() || set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let token = match self.csrf_source {
            CsrfSource::JsonBody => serde_json::from_str::<Value>(&reply.body)
                .ok()
                .and_then(|body| body[CSRF_FIELD].as_str().map(str::to_owned)),
            CsrfSource::Header => reply.header(CSRF_HEADER).map(str::to_owned),
            CsrfSource::Page => {
                let start = format!("name=\"{CSRF_FIELD}\" value=\"");
                between(&reply.body, &start, "\"").map(str::to_owned)
            }
        };
        if let Some(token) = token {
            self.csrf = token;
        }
    }

    /// Sends `method path` with the client's headers, `extra` headers and `body` (a content
    /// type and the bytes), keeps what the reply sets and returns it.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> Reply {
        let cookie = self.cookie_header();
        let mut headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        headers.push(("User-Agent", &self.user_agent));
        headers.push(("X-Forwarded-For", &self.ip));
        if let Some(cookie) = &cookie {
            headers.push(("Cookie", cookie));
        }
        headers.extend_from_slice(extra);
        let bytes = match body {
            Some((content_type, bytes)) => {
                headers.push(("Content-Type", content_type));
                bytes
            }
            None => &[],
        };
        let reply = send(self.addr, method, path, &headers, bytes).await;
        self.keep(&reply);
        reply
    }

    /// Sends `method path` with `body` as JSON (none when `Null`) and the CSRF token in
    /// [`CSRF_HEADER`] once the service gave one (unless it comes from a page).
    pub async fn call(&mut self, method: &str, path: &str, body: &Value) -> Reply {
        let token = self.csrf.clone();
        let mut extra = Vec::new();
        if !token.is_empty() && self.csrf_source != CsrfSource::Page {
            extra.push((CSRF_HEADER, token.as_str()));
        }
        let json = body.to_string();
        let body = (!body.is_null()).then_some(("application/json", json.as_bytes()));
        self.request(method, path, &extra, body).await
    }

    /// `GET path`, as [`call`](Self::call) does it.
    pub async fn get(&mut self, path: &str) -> Reply {
        self.call("GET", path, &Value::Null).await
    }

    /// `POST path` with a JSON body, as [`call`](Self::call) does it.
    pub async fn post(&mut self, path: &str, body: &Value) -> Reply {
        self.call("POST", path, body).await
    }

    /// `POST path` with a form body (`application/x-www-form-urlencoded`) and `extra`
    /// headers, and no CSRF header: what a page's form sends.
    pub async fn form(&mut self, path: &str, body: &str, extra: &[(&str, &str)]) -> Reply {
        let body = Some(("application/x-www-form-urlencoded", body.as_bytes()));
        self.request("POST", path, extra, body).await
    }
}
