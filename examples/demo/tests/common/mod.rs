//! A "person" who is not a browser, with a cookie jar, on the `mfa_axum` testkit's HTTP/1.1
//! client, and starting the demo in-process.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers shared by several test binaries; a failure stops the test"
)]

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::Deref;
use std::sync::Arc;

use mfa::ManualClock;
use mfa::core::{Secret, Totp, TotpParams};
use mfa_axum::testkit::{Reply, Request};
use mfa_demo::{Demo, DemoConfig};
use tokio::net::TcpListener;

pub const PASSWORD: &str = "correct horse battery staple";

/// An answer as the client got it: the kit's reply, with what the tests read off the demo's
/// pages.
#[derive(Debug)]
pub struct Page(pub Reply);

impl Deref for Page {
    type Target = Reply;

    fn deref(&self) -> &Reply {
        &self.0
    }
}

impl Page {
    /// Every value of header `name`.
    pub fn headers(&self, name: &str) -> Vec<&str> {
        self.0.all(name)
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        self.field("csrf_token")
    }

    /// The value of the hidden field `name`.
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let (_, rest) = self
            .body
            .split_once(&marker)
            .unwrap_or_else(|| panic!("no field {name} on {} {}", self.status, self.body));
        rest.split('"').next().unwrap().to_owned()
    }

    /// The text of the element with this id (no nested tags).
    pub fn by_id(&self, id: &str) -> String {
        let marker = format!("id=\"{id}\"");
        let (_, rest) = self
            .body
            .split_once(&marker)
            .unwrap_or_else(|| panic!("no #{id} on {}", self.body));
        let (_, rest) = rest.split_once('>').unwrap();
        rest.split('<').next().unwrap().to_owned()
    }
}

/// Someone with a cookie jar of their own, connecting from `from` (a loopback address: another
/// network to the demo).
pub struct Agent {
    pub server: SocketAddr,
    pub from: IpAddr,
    pub cookies: BTreeMap<String, String>,
    /// Headers sent with every request (`X-Forwarded-For`, `Sec-Fetch-Site`, ...).
    pub extra: Vec<(String, String)>,
    /// Whether requests say `Accept: text/html` (a browser) or not (a script).
    pub html: bool,
}

impl Agent {
    pub fn new(server: SocketAddr, from: &str) -> Self {
        Self {
            server,
            from: from.parse().unwrap(),
            cookies: BTreeMap::new(),
            extra: Vec::new(),
            html: true,
        }
    }

    pub async fn request(&mut self, method: &str, path: &str, form: &str) -> Page {
        let mut request = Request::new(method, path).header("User-Agent", "mfa-demo-test");
        if self.html {
            request = request.header("Accept", "text/html,application/xhtml+xml");
        }
        if !self.cookies.is_empty() {
            let cookies: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.cookie(&cookies.join("; "));
        }
        for (name, value) in &self.extra {
            request = request.header(name, value);
        }
        if method == "POST" {
            request = request.form(form);
        }
        let reply = request.send_from(self.server, self.from).await;
        for value in reply.all("set-cookie") {
            let pair = value.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if value.contains("Max-Age=0") || v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        Page(reply)
    }

    /// Follows the demo's redirects (303 See Other) to the page they end on.
    pub async fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..10 {
            if page.status != 303 {
                break;
            }
            let to = page.location().unwrap().to_owned();
            page = self.request("GET", &to, "").await;
        }
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let page = self.request("GET", path, "").await;
        self.follow(page).await
    }

    pub async fn post(&mut self, path: &str, form: &str) -> Page {
        let page = self.request("POST", path, form).await;
        self.follow(page).await
    }

    /// Posts `fields` with the CSRF token of the page at `from` (GET first).
    pub async fn submit(&mut self, from: &str, path: &str, fields: &str) -> Page {
        let page = self.get(from).await;
        let form = format!("csrf_token={}&{fields}", page.csrf());
        self.post(path, &form).await
    }

    pub async fn register(&mut self, user: &str) -> Page {
        let fields = format!("username={user}&password={}", PASSWORD.replace(' ', "+"));
        self.submit("/register", "/register", &fields).await
    }

    pub async fn login(&mut self, user: &str) -> Page {
        let fields = format!("username={user}&password={}", PASSWORD.replace(' ', "+"));
        self.submit("/login", "/login", &fields).await
    }

    pub async fn logout(&mut self) -> Page {
        self.submit("/account", "/logout", "").await
    }

    /// Enrols an authenticator app (the first factor: no step-up) and returns its secret and
    /// the page of recovery codes.
    pub async fn enrol_totp(&mut self, clock: &ManualClock) -> (Secret, Page) {
        let started = self
            .submit("/account/totp", "/account/totp/start", "")
            .await;
        assert_eq!(started.status, 200, "{}", started.body);
        let secret = Secret::from_base32(&started.by_id("totp-secret")).unwrap();
        let form = format!(
            "csrf_token={}&code={}",
            started.csrf(),
            totp_code(&secret, clock)
        );
        let codes = self.post("/account/totp/confirm", &form).await;
        assert_eq!(codes.status, 200, "{}", codes.body);
        (secret, codes)
    }
}

/// The code an authenticator app shows now.
pub fn totp_code(secret: &Secret, clock: &ManualClock) -> String {
    use mfa::Clock as _;
    Totp::new(secret, TotpParams::default())
        .generate_at(clock.unix_secs())
        .unwrap()
        .expose()
        .to_string()
}

/// A manual clock at the current time.
pub fn clock_now() -> ManualClock {
    use mfa::Clock as _;
    ManualClock::at_unix_secs(mfa::SystemClock.unix_secs())
}

/// Starts the demo of `config` on `127.0.0.1:0`; returns its address.
pub async fn start(config: &DemoConfig) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| mfa_demo::local_url(addr));
    let demo = Demo::build(config, &base).await.unwrap();
    tokio::spawn(demo.serve(listener));
    addr
}

/// The development configuration in `dir` with a manual clock.
pub fn dev_config(dir: &std::path::Path, clock: &ManualClock) -> DemoConfig {
    let mut config = DemoConfig::development(dir);
    config.clock = Arc::new(clock.clone());
    config
}
