//! The web layer's guarantees over plain HTTP/1.1 (no browser needed): cookie attributes, CSRF
//! refusal, security headers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should stop the test with its message"
)]

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use mfa_demo::{Demo, DemoConfig};

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `name=value` of the session cookie set by this reply.
    fn session_cookie(&self) -> String {
        let set = self.header_values("set-cookie");
        let cookie = set
            .iter()
            .find(|c| c.starts_with("demo_session="))
            .unwrap_or_else(|| panic!("no session cookie in {set:?}"));
        cookie.split(';').next().unwrap().to_owned()
    }

    fn csrf(&self) -> String {
        let (_, rest) = self.body.split_once("name=\"csrf\" value=\"").unwrap();
        rest.split('"').next().unwrap().to_owned()
    }
}

async fn request(addr: &str, method: &str, path: &str, cookie: Option<&str>, form: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{cookie}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

async fn start(secure: bool) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = DemoConfig::development(dir.path());
    config.secure_cookies = secure;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let demo = Demo::build(&config, &format!("http://{addr}"))
        .await
        .unwrap();
    tokio::spawn(demo.serve(listener));
    (addr, dir)
}

#[tokio::test]
async fn cookies_are_http_only_same_site_lax_and_secure_behind_tls() {
    let (addr, _dir) = start(false).await;
    let page = request(&addr, "GET", "/login", None, "").await;
    assert_eq!(page.status, 200);
    let set = page.header_values("set-cookie");
    assert!(
        set[0].contains("HttpOnly") && set[0].contains("SameSite=Lax"),
        "{set:?}"
    );
    assert!(!set[0].contains("Secure"), "{set:?}");
    assert_eq!(page.header_values("x-frame-options"), ["DENY"]);
    assert_eq!(page.header_values("cache-control"), ["no-store"]);

    let (addr, _dir) = start(true).await;
    let page = request(&addr, "GET", "/login", None, "").await;
    assert!(page.header_values("set-cookie")[0].contains("; Secure"));
}

#[tokio::test]
async fn forms_without_this_sessions_token_are_refused() {
    let (addr, _dir) = start(false).await;
    let page = request(&addr, "GET", "/register", None, "").await;
    let cookie = page.session_cookie();
    let csrf = page.csrf();
    let form = "username=mallory&password=long+enough+password";

    // A wrong token, and the right token from another session (no cookie): both refused.
    let wrong = format!("csrf=AAAA{}&{form}", &csrf[4..]);
    let reply = request(&addr, "POST", "/register", Some(&cookie), &wrong).await;
    assert_eq!(reply.status, 403);
    let reply = request(
        &addr,
        "POST",
        "/register",
        None,
        &format!("csrf={csrf}&{form}"),
    )
    .await;
    assert_eq!(reply.status, 403);

    // The right token with its session: the account is created and the session id rotates.
    let reply = request(
        &addr,
        "POST",
        "/register",
        Some(&cookie),
        &format!("csrf={csrf}&{form}"),
    )
    .await;
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header_values("location"), ["/account"]);
    assert_ne!(
        reply.session_cookie(),
        cookie,
        "session id rotated at sign-in"
    );
}

#[tokio::test]
async fn recovery_codes_download_as_a_text_attachment_echoing_only_codes() {
    let (addr, _dir) = start(false).await;
    let page = request(&addr, "GET", "/register", None, "").await;
    let (cookie, csrf) = (page.session_cookie(), page.csrf());
    let form = format!("csrf={csrf}&username=carol&password=long+enough+password");
    let reply = request(&addr, "POST", "/register", Some(&cookie), &form).await;
    let cookie = reply.session_cookie();
    let account = request(&addr, "GET", "/account", Some(&cookie), "").await;
    let csrf = account.csrf();

    // Two codes and a line that is not a code (it must not be echoed).
    let codes = "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01%0A%3Cscript%3E%0AWXYZ-0123-4567-89AB-CDEF-GHJK";
    let form = format!("csrf={csrf}&codes={codes}");
    let reply = request(
        &addr,
        "POST",
        "/account/recovery-codes.txt",
        Some(&cookie),
        &form,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header_values("content-type"),
        ["text/plain; charset=utf-8"]
    );
    assert!(reply.header_values("content-disposition")[0].starts_with("attachment;"));
    assert!(
        reply
            .body
            .contains("ABCD-EFGH-JKMN-PQRS-TVWX-YZ01\nWXYZ-0123-4567-89AB-CDEF-GHJK\n")
    );
    assert!(!reply.body.contains("script"));
}
