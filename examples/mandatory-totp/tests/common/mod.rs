//! A hand-written HTTP/1.1 client (one request per connection), and a browser on top of it:
//! its cookies, the CSRF token of the last page, and the network it comes from (the
//! `X-Forwarded-For` entry the service's one trusted proxy would append).

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failure should stop the test with its message"
)]

use std::collections::BTreeMap;
use std::net::SocketAddr;

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

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.all(name).first().copied()
    }

    /// Where a redirect points.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The `data-error` code of an error page.
    pub fn error(&self) -> Option<&str> {
        between(&self.body, "data-error=\"", "\"")
    }

    /// `Retry-After` in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        self.header("retry-after").and_then(|v| v.parse().ok())
    }
}

/// The text between the first `start` and the next `end`.
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let rest = text.get(from..)?;
    rest.get(..rest.find(end)?)
}

/// Percent-encodes a form value.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends one request on a new connection and reads the whole response.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Reply {
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    raw.push_str(body);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
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
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// A browser on a network of its own.
pub struct Browser {
    addr: SocketAddr,
    /// The address the trusted proxy reports for this browser.
    pub ip: String,
    pub cookies: BTreeMap<String, String>,
    pub csrf: String,
}

impl Browser {
    pub fn new(addr: SocketAddr, ip: &str) -> Self {
        Self {
            addr,
            ip: ip.to_owned(),
            cookies: BTreeMap::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, reply: &Reply) {
        for set in reply.all("set-cookie") {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let expired = set.contains("Max-Age=0");
            if value.is_empty() || expired {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        if let Some(token) = between(&reply.body, "name=\"csrf_token\" value=\"", "\"") {
            token.clone_into(&mut self.csrf);
        }
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("Accept", "text/html".to_owned()),
            ("User-Agent", "test browser".to_owned()),
            ("X-Forwarded-For", self.ip.clone()),
        ];
        if !self.cookies.is_empty() {
            headers.push(("Cookie", self.cookie_header()));
        }
        headers
    }

    /// A navigation.
    pub async fn get(&mut self, path: &str) -> Reply {
        let reply = send(self.addr, "GET", path, &self.headers(), "").await;
        self.keep(&reply);
        reply
    }

    /// A form post from the last page (with its CSRF token, from this site).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut body = format!("csrf_token={}", encode(&self.csrf));
        for (name, value) in fields {
            body.push_str(&format!("&{name}={}", encode(value)));
        }
        let mut headers = self.headers();
        headers.push(("Origin", format!("https://{}", self.addr)));
        headers.push((
            "Content-Type",
            "application/x-www-form-urlencoded".to_owned(),
        ));
        let reply = send(self.addr, "POST", path, &headers, &body).await;
        self.keep(&reply);
        reply
    }

    /// A request of a script (no `Accept: text/html`) with this browser's cookies.
    pub async fn fetch(&self, path: &str) -> Reply {
        let mut headers = self.headers();
        headers.retain(|(name, _)| *name != "Accept");
        send(self.addr, "GET", path, &headers, "").await
    }
}
