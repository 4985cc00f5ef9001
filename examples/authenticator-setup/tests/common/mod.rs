//! A hand-written HTTP/1.1 client (one request per connection), and a script's session on top
//! of it: its cookies, the CSRF token the API last gave (sent back in `X-CSRF-Token`), and the
//! network it comes from (the `X-Forwarded-For` entry the service's one trusted proxy would
//! append).

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

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A response as read off the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
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

    /// The `Set-Cookie` of cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// Asserts a typed error: the status and the JSON `error` code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.body["error"].as_str()),
            (status, Some(code)),
            "{}",
            self.text
        );
    }

    /// Asserts the status.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{}", self.text);
        self
    }
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
    let text = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
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

/// A script talking to the API from one network, with a cookie jar.
pub struct Api {
    addr: SocketAddr,
    /// The address the trusted proxy reports for this client.
    pub ip: String,
    pub cookies: BTreeMap<String, String>,
    pub csrf: String,
}

impl Api {
    pub fn new(addr: SocketAddr, ip: &str) -> Self {
        Self {
            addr,
            ip: ip.to_owned(),
            cookies: BTreeMap::new(),
            csrf: String::new(),
        }
    }

    /// A new client on the same network with the same cookies but `names` left out.
    pub fn without(&self, names: &[&str]) -> Self {
        let mut other = Self::new(self.addr, &self.ip);
        other.cookies = self.cookies.clone();
        other.cookies.retain(|k, _| !names.contains(&k.as_str()));
        other
    }

    fn keep(&mut self, reply: &Reply) {
        for set in reply.all("set-cookie") {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        if let Some(token) = reply.body["csrf_token"].as_str() {
            token.clone_into(&mut self.csrf);
        }
    }

    /// Sends `method path` with `body` (JSON, unless `Null`), the cookies and the CSRF header.
    pub async fn call(&mut self, method: &str, path: &str, body: &Value) -> Reply {
        let mut headers = vec![
            ("User-Agent", "api-test".to_owned()),
            ("X-Forwarded-For", self.ip.clone()),
        ];
        if !self.cookies.is_empty() {
            let cookies: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            headers.push(("Cookie", cookies.join("; ")));
        }
        if !self.csrf.is_empty() {
            headers.push(("X-CSRF-Token", self.csrf.clone()));
        }
        let text = if body.is_null() {
            String::new()
        } else {
            headers.push(("Content-Type", "application/json".to_owned()));
            body.to_string()
        };
        let reply = send(self.addr, method, path, &headers, &text).await;
        self.keep(&reply);
        reply
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.call("GET", path, &Value::Null).await
    }

    pub async fn post(&mut self, path: &str, body: Value) -> Reply {
        self.call("POST", path, &body).await
    }

    /// Starts a session: the CSRF token of `GET /session`.
    pub async fn start(&mut self) -> Reply {
        let reply = self.get("/session").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply
    }
}
