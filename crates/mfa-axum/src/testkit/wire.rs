//! One request on one connection: writing it, reading and parsing the reply.

use std::net::{IpAddr, SocketAddr};

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

/// A response as read off the wire.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Every header line, in order, names as sent, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked, as text (invalid UTF-8 replaced).
    pub body: String,
}

impl Reply {
    /// Every value of header `name` (case-insensitive), in order.
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

    /// The one value of header `name`; panics when the header is repeated.
    #[track_caller]
    pub fn only(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "{name} repeated: {all:?}");
        all.first().copied()
    }

    /// Where a redirect points (`Location`).
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The `Set-Cookie` of cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.all("set-cookie")
            .into_iter()
            .find(|c| c.strip_prefix(name).is_some_and(|r| r.starts_with('=')))
    }

    /// `name=value` of the cookie this reply sets, to send back; panics when it sets none.
    #[track_caller]
    pub fn cookie_pair(&self, name: &str) -> String {
        let set = self
            .set_cookie(name)
            .unwrap_or_else(|| panic!("no {name} cookie in {:?}", self.all("set-cookie")));
        set.split(';').next().unwrap_or_default().to_owned()
    }

    /// The body as JSON; panics, with the status and body, when it is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }

    /// Asserts a typed error ([`Problem`](crate::Problem)): the status and the JSON `error` code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        let body: Value = serde_json::from_str(&self.body).unwrap_or(Value::Null);
        assert_eq!(
            (self.status, body["error"].as_str()),
            (status, Some(code)),
            "{}",
            self.body
        );
    }
}

/// Sends `method path` with `headers` (after `Host`, `Connection: close` and `Content-Length`)
/// and `body` on a new connection, and reads the whole reply.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut request = Request::new(method, path);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.body = body.to_vec();
    request.send(addr).await
}

/// A request under construction, sent as written: header lines in order, repeated names as
/// repeated lines, values as raw bytes.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Request {
    /// `GET path`.
    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    /// `POST path`.
    pub fn post(path: &str) -> Self {
        Self::new("POST", path)
    }

    /// `method path`, with no header of its own and no body.
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header line (repeated names give repeated lines, in order).
    #[must_use]
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    /// Adds a `Cookie` line with `pair` (`name=value`).
    #[must_use]
    pub fn cookie(self, pair: &str) -> Self {
        self.header("Cookie", pair)
    }

    /// An `application/x-www-form-urlencoded` body.
    #[must_use]
    pub fn form(self, body: &str) -> Self {
        self.body("application/x-www-form-urlencoded", body.as_bytes())
    }

    /// A body of `content_type`.
    #[must_use]
    pub fn body(mut self, content_type: &str, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self.header("Content-Type", content_type)
    }

    /// Sends the request on a new connection and reads the whole response.
    pub async fn send(self, addr: SocketAddr) -> Reply {
        let stream = TcpStream::connect(addr).await.unwrap();
        self.send_on(stream, addr).await
    }

    /// Sends the request on a new connection from local address `from` (another loopback
    /// address is another network to a server that sees the peer address), and reads the
    /// whole response.
    pub async fn send_from(self, addr: SocketAddr, from: IpAddr) -> Reply {
        let socket = match from {
            IpAddr::V4(_) => TcpSocket::new_v4(),
            IpAddr::V6(_) => TcpSocket::new_v6(),
        }
        .unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        self.send_on(stream, addr).await
    }

    async fn send_on(self, mut stream: TcpStream, addr: SocketAddr) -> Reply {
        let mut raw = format!(
            "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.method,
            self.path,
            self.body.len()
        )
        .into_bytes();
        for (name, value) in &self.headers {
            raw.extend_from_slice(name.as_bytes());
            raw.extend_from_slice(b": ");
            raw.extend_from_slice(value);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(&self.body);
        stream.write_all(&raw).await.unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await.unwrap();
        parse(&bytes)
    }
}

/// Parses a whole HTTP/1.1 response.
fn parse(bytes: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
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

/// The body of a chunked response, or the body as it is when it is not well chunked.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return body.to_owned();
        };
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_owned();
        };
        if size == 0 {
            return out;
        }
        let Some(chunk) = after.get(..size) else {
            return body.to_owned();
        };
        out.push_str(chunk);
        rest = after.get(size + 2..).unwrap_or("");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_chunked_reply() {
        let reply = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nA: 1\r\na:  2 \r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, "abcde");
        assert_eq!(reply.all("a"), ["1", "2"]);
    }

    #[test]
    fn a_badly_chunked_body_is_kept_as_it_is() {
        assert_eq!(dechunk("zz\r\nabc"), "zz\r\nabc");
        assert_eq!(dechunk("9\r\nabc"), "9\r\nabc");
    }
}
