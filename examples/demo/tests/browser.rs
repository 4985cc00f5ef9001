//! End-to-end test in a real browser: headless Chromium driven through chromedriver, against the
//! demo started in-process. Every flow a user can take, with a screenshot of each page under
//! `target/e2e-screenshots/`; and a stranger with the user's password, on plain HTTP from another
//! loopback address (another network to the demo), against whom the seed's limits apply.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code: a failure should stop the test with its message"
)]

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use mfa::core::{Secret, Totp, TotpParams};
use mfa::{Clock as _, ManualClock};
use mfa_demo::{Demo, DemoConfig};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpSocket;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "correct horse battery staple";

/// Kills chromedriver when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("e2e-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Browser {
    client: Client,
    base: String,
    server: SocketAddr,
    shots: PathBuf,
}

impl Browser {
    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn fill(&self, css: &str, text: &str) {
        let el = self.client.find(Locator::Css(css)).await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// Clicks something that loads a new page, and waits until the new page has loaded.
    async fn click(&self, css: &str) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        self.toggle(css).await;
        // Waiting for the browser to navigate (readiness), not to move time.
        for _ in 0..100 {
            if old.attr("lang").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for _ in 0..100 {
            let state = self
                .client
                .execute("return document.readyState", Vec::new())
                .await
                .unwrap();
            if state == "complete" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks something that stays on the page (a checkbox, an option).
    async fn toggle(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} not found: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} not found: {e}"))
            .text()
            .await
            .unwrap()
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// Waits (for the browser to finish navigating, not to move time) until the page is `want`.
    async fn wait_path(&self, want: &str) -> String {
        let mut path = self.path().await;
        for _ in 0..50 {
            if path == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            path = self.path().await;
        }
        path
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    async fn login(&self, user: &str) {
        self.goto("/login").await;
        self.fill("#username", user).await;
        self.fill("#password", PASSWORD).await;
        self.click("#login").await;
    }

    async fn logout(&self) {
        self.click("#logout").await;
        assert_eq!(self.wait_path("/login").await, "/login");
    }

    async fn signed_in_as(&self, user: &str) {
        let path = self.wait_path("/account").await;
        if path != "/account" {
            let source = self.client.source().await.unwrap_or_default();
            panic!("expected /account, on {path}: {source}");
        }
        assert_eq!(self.text("#whoami").await, user);
    }

    /// The first 6-digit code in the newest message of the development inbox.
    async fn newest_code(&self) -> String {
        self.goto("/dev/inbox").await;
        let text = self.text("pre.mail-text").await;
        text.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap_or_else(|| panic!("no code in {text:?}"))
            .to_owned()
    }
}

/// A page as the stranger's plain HTTP client got it.
struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Page {
    /// The CSRF token of the page's forms.
    fn csrf(&self) -> &str {
        let (_, rest) = self
            .body
            .split_once("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no form on {}", self.body));
        rest.split('"').next().unwrap()
    }
}

/// Someone who is not the browser: plain HTTP/1.1 from 127.0.0.2, so the demo sees a network
/// the user never signed in from, with a cookie jar of its own.
struct Stranger {
    server: SocketAddr,
    cookies: HashMap<String, String>,
}

impl Stranger {
    async fn request(&mut self, method: &str, path: &str, form: &str) -> Page {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut stream = socket.connect(self.server).await.unwrap();
        let cookies: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let cookie = if cookies.is_empty() {
            String::new()
        } else {
            format!("Cookie: {}\r\n", cookies.join("; "))
        };
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{cookie}\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            self.server,
            form.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
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
        let mut location = None;
        for (name, value) in lines.filter_map(|l| l.split_once(": ")) {
            if name.eq_ignore_ascii_case("location") {
                location = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("set-cookie") {
                let pair = value.split(';').next().unwrap();
                let (k, v) = pair.split_once('=').unwrap();
                if value.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        Page {
            status,
            location,
            body: body.to_owned(),
        }
    }

    /// Follows the demo's redirects (303 See Other) to the page they end on.
    async fn follow(&mut self, mut page: Page) -> Page {
        while page.status == 303 {
            let to = page.location.take().unwrap();
            page = self.request("GET", &to, "").await;
        }
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        let page = self.request("GET", path, "").await;
        self.follow(page).await
    }

    async fn post(&mut self, path: &str, form: &str) -> Page {
        let page = self.request("POST", path, form).await;
        self.follow(page).await
    }

    /// Alice's user name and password, from the login page: where it leads.
    async fn login_as_alice(&mut self) -> Page {
        let page = self.get("/login").await;
        let form = format!(
            "csrf={}&username=alice&password={}",
            page.csrf(),
            PASSWORD.replace(' ', "+")
        );
        self.post("/login", &form).await
    }
}

fn totp_code(secret: &Secret, clock: &ManualClock) -> String {
    Totp::new(secret, TotpParams::default())
        .generate_at(clock.unix_secs())
        .unwrap()
        .expose()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_in_a_real_browser() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var("MFA_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "{CHROMIUM} and {CHROMEDRIVER} are required (MFA_REQUIRE_SERVICES=1): \
             apt-get install chromium chromium-driver"
        );
        eprintln!(
            "SKIPPED: {CHROMIUM} or {CHROMEDRIVER} missing (apt-get install chromium chromium-driver)"
        );
        return;
    }

    // The app, in-process, with its state in a temporary folder and a clock the test moves.
    let state = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let clock = ManualClock::at_unix_secs(now);
    let mut config = DemoConfig::development(state.path());
    config.clock = Arc::new(clock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let base = format!("http://{server}");
    let demo = Demo::build(&config, &base).await.unwrap();
    tokio::spawn(demo.serve(listener));

    // chromedriver on a free port, Chromium headless with a fresh profile.
    let port = free_port();
    let _driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1000,900",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let webdriver = format!("http://127.0.0.1:{port}");
    let mut client = None;
    for _ in 0..100 {
        match ClientBuilder::native()
            .capabilities(caps.clone())
            .connect(&webdriver)
            .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            // Waiting for chromedriver to listen (readiness, not a move of time).
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let b = Browser {
        client: client.expect("chromedriver did not start"),
        base,
        server,
        shots: screenshot_dir(),
    };
    let result = tokio::spawn(async move {
        run_flows(&b, &clock).await;
        b.client.close().await.unwrap();
    })
    .await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn run_flows(b: &Browser, clock: &ManualClock) {
    // Register.
    b.goto("/register").await;
    b.fill("#username", "alice").await;
    b.fill("#password", PASSWORD).await;
    b.shot("01-register").await;
    b.click("#register").await;
    b.signed_in_as("alice").await;

    // Enrol TOTP: read the secret from the page, compute the code like an app would.
    b.click("#enrol-totp").await;
    assert_eq!(b.path().await, "/account/totp");
    let secret_text = b.text("#totp-secret").await;
    let secret = Secret::from_base32(&secret_text).unwrap();
    let qr = b
        .client
        .find(Locator::Css("#qr"))
        .await
        .unwrap()
        .attr("src")
        .await
        .unwrap()
        .unwrap();
    assert!(qr.starts_with("data:image/png;base64,"));
    b.shot("02-enrol-totp").await;
    b.fill("#totp-code", &totp_code(&secret, clock)).await;
    b.click("#totp-activate").await;
    let codes: Vec<String> = {
        let mut out = Vec::new();
        for el in b
            .client
            .find_all(Locator::Css(".recovery-code"))
            .await
            .unwrap()
        {
            out.push(el.text().await.unwrap());
        }
        out
    };
    assert_eq!(codes.len(), 10, "ten recovery codes shown once");
    b.shot("03-recovery-codes").await;
    b.click("#continue").await;
    assert!(b.text("#totp-status").await.contains("enabled"));
    b.shot("04-account").await;
    b.logout().await;

    // Password, then TOTP (a new time step: the enrolment code cannot be replayed).
    clock.advance(Duration::from_secs(30));
    b.login("alice").await;
    assert_eq!(b.path().await, "/challenge");
    b.shot("05-challenge").await;
    b.fill("#totp-code", "000000").await;
    b.click("#totp-submit").await;
    assert!(b.text("#flash").await.contains("wrong or has expired"));
    let before = b.client.get_named_cookie("demo_session").await.unwrap();
    assert_eq!(before.http_only(), Some(true));
    assert_eq!(format!("{:?}", before.same_site()), "Some(Lax)");
    b.fill("#totp-code", &totp_code(&secret, clock)).await;
    b.click("#totp-submit").await;
    b.signed_in_as("alice").await;
    let after = b.client.get_named_cookie("demo_session").await.unwrap();
    assert_ne!(
        before.value(),
        after.value(),
        "session id rotated after the second factor"
    );
    b.logout().await;

    // Password, then a recovery code.
    b.login("alice").await;
    b.fill("#recovery-code", &codes[0]).await;
    b.click("#recovery-submit").await;
    b.signed_in_as("alice").await;
    assert!(b.text("#flash").await.contains("9 recovery codes left"));
    b.logout().await;

    // Trust this device, then log in again without a code.
    clock.advance(Duration::from_secs(30));
    b.login("alice").await;
    b.fill("#totp-code", &totp_code(&secret, clock)).await;
    b.toggle("#totp-trust").await;
    b.click("#totp-submit").await;
    b.signed_in_as("alice").await;
    b.logout().await;
    b.login("alice").await;
    b.signed_in_as("alice").await;
    assert!(b.text("#flash").await.contains("trusted"));
    b.goto("/account/devices").await;
    assert!(b.text("#devices").await.contains("Chrome"));
    b.shot("06-trusted-devices").await;

    // Add an email factor with the code from the development inbox. A change of factors once one
    // is active: first a fresh second factor (step-up), then the page.
    b.goto("/account/email").await;
    assert_eq!(b.wait_path("/challenge").await, "/challenge");
    clock.advance(Duration::from_secs(30));
    b.fill("#totp-code", &totp_code(&secret, clock)).await;
    b.click("#totp-submit").await;
    assert_eq!(b.wait_path("/account/email").await, "/account/email");
    b.fill("#email", "alice@example.com").await;
    b.click("#email-send").await;
    let code = b.newest_code().await;
    b.shot("07-dev-inbox").await;
    b.goto("/account/email/confirm?email=alice%40example.com")
        .await;
    b.fill("#email-code", &code).await;
    b.click("#email-activate").await;
    b.signed_in_as("alice").await;
    assert!(b.text("#email-status").await.contains("enabled"));

    // Preferred method: a management change, confirmed by a fresh second factor (step-up); the
    // grant of the step-up above ends after 10 minutes.
    clock.advance(Duration::from_secs(11 * 60));
    b.toggle("#preferred option[value=email]").await;
    b.click("#set-preferred").await;
    assert_eq!(b.wait_path("/challenge").await, "/challenge");
    b.shot("08-step-up").await;
    clock.advance(Duration::from_secs(30));
    b.fill("#totp-code", &totp_code(&secret, clock)).await;
    b.click("#totp-submit").await;
    b.signed_in_as("alice").await;
    assert!(
        b.text("#flash")
            .await
            .contains("Preferred method set to email")
    );
    b.logout().await;

    // Password, then an emailed code (a new factor revoked the trusted device).
    clock.advance(Duration::from_secs(31));
    b.login("alice").await;
    assert_eq!(b.path().await, "/challenge");
    b.click("#send-email-code").await;
    assert!(b.text("#flash").await.contains("We emailed you a code"));
    let code = b.newest_code().await;
    b.goto("/challenge").await;
    b.fill("#email-code", &code).await;
    b.click("#email-submit").await;
    b.signed_in_as("alice").await;
    b.logout().await;

    // Password, then a magic link: opening it signs nothing in, only its button does.
    clock.advance(Duration::from_secs(31));
    b.login("alice").await;
    b.click("#send-magic-link").await;
    b.goto("/dev/inbox").await;
    let link = b
        .client
        .find(Locator::Css("a.mail-link"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    b.client.goto(&link).await.unwrap();
    assert_eq!(b.path().await, "/magic");
    b.shot("09-magic-link").await;
    b.click("#confirm-magic-link").await;
    b.signed_in_as("alice").await;

    // The security log shows what happened.
    b.goto("/account/log").await;
    let log = b.text("#security-log").await;
    assert!(log.contains("totp.confirmed"), "{log}");
    b.shot("10-security-log").await;
    b.logout().await;

    // A stranger with alice's password, from a network she never signed in from: the seed's
    // limits apply there. Five wrong codes; the fifth locks that network out of alice's account
    // for 15 minutes, and the page says until when.
    let mut stranger = Stranger {
        server: b.server,
        cookies: HashMap::new(),
    };
    let mut page = stranger.login_as_alice().await;
    for attempt in 1..=5 {
        assert!(page.body.contains("id=\"totp-code\""), "{}", page.body);
        let form = format!("csrf={}&method=totp&code=000000", page.csrf());
        page = stranger.post("/challenge/verify", &form).await;
        if attempt < 5 {
            assert!(page.body.contains("wrong or has expired"), "{}", page.body);
        }
    }
    assert!(page.body.contains("locked until"), "{}", page.body);
    let page = stranger.login_as_alice().await;
    assert!(page.body.contains("locked until"), "{}", page.body);

    // Alice's own network keeps a budget of its own: she still signs in.
    clock.advance(Duration::from_secs(30));
    b.login("alice").await;
    assert_eq!(b.wait_path("/challenge").await, "/challenge");
    b.fill("#totp-code", &totp_code(&secret, clock)).await;
    b.click("#totp-submit").await;
    b.signed_in_as("alice").await;
    b.logout().await;

    // Wrong codes from her own browser use that budget up too (ten an hour), and lock this
    // network; the message says until when.
    b.login("alice").await;
    let mut locked = false;
    for _ in 0..20 {
        if b.path().await == "/challenge" {
            b.fill("#totp-code", "000000").await;
            b.click("#totp-submit").await;
        } else if b.text("#flash").await.contains("locked until") {
            locked = true;
            break;
        } else {
            b.login("alice").await;
        }
    }
    assert!(locked, "ten wrong codes lock this browser's network");
    b.shot("11-locked").await;

    // An administrator unlocks it; the unlock is in alice's security log.
    b.goto("/register").await;
    b.fill("#username", "admin").await;
    b.fill("#password", PASSWORD).await;
    b.click("#register").await;
    b.signed_in_as("admin").await;
    b.goto("/admin").await;
    b.toggle("#unlock-user option[value=alice]").await;
    b.click("#unlock").await;
    assert!(b.text("#flash").await.contains("Unlocked alice"));
    b.shot("12-admin").await;
    b.logout().await;

    // The unlock frees this network too (a per-network lock from before an unlock is forgotten
    // at its next use): alice signs in again at once.
    clock.advance(Duration::from_secs(30));
    b.login("alice").await;
    assert_eq!(b.wait_path("/challenge").await, "/challenge");
    b.fill("#totp-code", &totp_code(&secret, clock)).await;
    b.click("#totp-submit").await;
    b.signed_in_as("alice").await;
    b.goto("/account/log").await;
    let log = b.text("#security-log").await;
    assert!(log.contains("unlock"), "{log}");
}
