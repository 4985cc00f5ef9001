//! A hand-written HTTP/1.1 client (one request per connection) and a browser on top of it
//! that keeps its session cookie and CSRF token, and comes from the network it is given (the
//! service trusts one proxy, so `X-Forwarded-For` is the client's address).

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failure should stop the test with its message"
)]

use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A response as read off the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// Every value of header `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.all(name).first().copied()
    }

    /// The body as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }
}

/// Sends `method path` with `headers` and `body` on a new connection; reads the whole reply.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Reply {
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for (name, value) in headers {
        raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(body);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&raw).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    parse(&bytes)
}

fn parse(bytes: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    out
}

/// A browser (or a script with a cookie jar) on network `ip`.
pub struct Browser {
    pub addr: SocketAddr,
    pub ip: String,
    /// `name=value` of the session cookie, once the service set one.
    pub session: Option<String>,
    /// The CSRF token the service gave last.
    pub csrf: Option<String>,
}

impl Browser {
    /// A browser with no cookie yet.
    pub fn new(addr: SocketAddr, ip: &str) -> Self {
        Self {
            addr,
            ip: ip.to_owned(),
            session: None,
            csrf: None,
        }
    }

    /// A browser that fetched its CSRF token (which starts its session).
    pub async fn with_session(addr: SocketAddr, ip: &str) -> Self {
        let mut browser = Self::new(addr, ip);
        browser.refresh_csrf().await;
        browser
    }

    /// Fetches the session's current CSRF token (`GET /auth/csrf`).
    pub async fn refresh_csrf(&mut self) {
        let reply = self.get("/auth/csrf").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        self.csrf = Some(reply.json()["csrf_token"].as_str().unwrap().to_owned());
    }

    fn headers(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut headers = vec![
            ("X-Forwarded-For".to_owned(), self.ip.clone()),
            ("User-Agent".to_owned(), "service-test".to_owned()),
        ];
        if let Some(cookie) = &self.session {
            headers.push(("Cookie".to_owned(), cookie.clone()));
        }
        for (name, value) in extra {
            headers.push(((*name).to_owned(), (*value).to_owned()));
        }
        headers
    }

    fn keep(&mut self, reply: &Reply) {
        for set in reply.all("set-cookie") {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if name.ends_with("mfa_session") {
                let removed = value.is_empty() || set.contains("Max-Age=0");
                self.session = (!removed).then(|| pair.to_owned());
            }
        }
        if let Some(token) = reply.header("x-csrf-token") {
            self.csrf = Some(token.to_owned());
        }
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Reply {
        let headers = self.headers(&[]);
        let reply = send(self.addr, "GET", path, &headers, b"").await;
        self.keep(&reply);
        reply
    }

    /// `POST path` with a JSON body and the CSRF header.
    pub async fn post(&mut self, path: &str, body: &Value) -> Reply {
        let mut headers = self.headers(&[]);
        headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
        if let Some(token) = &self.csrf {
            headers.push(("X-CSRF-Token".to_owned(), token.clone()));
        }
        let reply = send(
            self.addr,
            "POST",
            path,
            &headers,
            body.to_string().as_bytes(),
        )
        .await;
        self.keep(&reply);
        reply
    }

    /// `POST path` with a form body and `extra` headers (no CSRF token), as a page's form.
    pub async fn form(&mut self, path: &str, body: &str, extra: &[(&str, &str)]) -> Reply {
        let mut headers = self.headers(extra);
        headers.push((
            "Content-Type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ));
        let reply = send(self.addr, "POST", path, &headers, body.as_bytes()).await;
        self.keep(&reply);
        reply
    }
}
