//! End-to-end test in a real browser: headless Chromium driven through chromedriver, against the
//! demo started in-process on `http://localhost:<port>`. Every flow a user can take, with a
//! screenshot of each page under `target/e2e-screenshots/`; a second browser that cannot use a
//! magic link asked for in the first; a page on another origin whose form post the demo refuses;
//! and a stranger with the user's password, on plain HTTP from another loopback address
//! (another network to the demo), against whom the limits apply.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code: a failure should stop the test with its message"
)]

mod common;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use common::{Agent, PASSWORD, clock_now, dev_config, start, totp_code};
use fantoccini::{Client, ClientBuilder, Locator};
use mfa::ManualClock;
use mfa::core::Secret;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

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

/// A fresh Chromium (a profile of its own: its own cookies) through `webdriver`.
async fn chromium(webdriver: &str, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1000,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    for _ in 0..100 {
        match ClientBuilder::native()
            .capabilities(caps.clone())
            .connect(webdriver)
            .await
        {
            Ok(client) => return client,
            // Waiting for chromedriver to listen (readiness, not a move of time).
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("chromedriver did not start");
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
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} not found: {e}"));
        el.send_keys(text).await.unwrap();
    }

    /// Clicks something that loads a new page, and waits until the new page has loaded.
    async fn click(&self, css: &str) {
        click(&self.client, css).await;
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
        text(&self.client, css).await
    }

    async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
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
        shot(&self.client, &self.shots, name).await;
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

    /// The next time step's code of the app, typed into `css`.
    async fn totp(&self, css: &str, secret: &Secret, clock: &ManualClock) {
        clock.advance(Duration::from_secs(30));
        self.fill(css, &totp_code(secret, clock)).await;
    }

    /// The first 6-digit code in the newest message (`pre.mail-text` or `pre.sms-text`) of the
    /// development inbox that holds one.
    async fn newest_code(&self, css: &str) -> String {
        self.goto("/dev/inbox").await;
        for message in self.client.find_all(Locator::Css(css)).await.unwrap() {
            let text = message.text().await.unwrap();
            if let Some(code) = text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
            {
                return code.to_owned();
            }
        }
        panic!("no code in the inbox's {css}");
    }
}

async fn click(client: &Client, css: &str) {
    let old = client.find(Locator::Css("html")).await.unwrap();
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} not found: {e}"))
        .click()
        .await
        .unwrap();
    // Waiting for the browser to navigate (readiness), not to move time.
    for _ in 0..100 {
        if old.attr("lang").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..100 {
        let state = client
            .execute("return document.readyState", Vec::new())
            .await
            .unwrap();
        if state == "complete" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} not found: {e}"))
        .text()
        .await
        .unwrap()
}

async fn shot(client: &Client, dir: &Path, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
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
    let clock = clock_now();
    let server = start(&dev_config(state.path(), &clock)).await;
    let base = mfa_demo::local_url(server);

    // chromedriver on a free port; two Chromiums with profiles of their own.
    let port = free_port();
    let _driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let webdriver = format!("http://127.0.0.1:{port}");
    let profile = tempfile::tempdir().unwrap();
    let other_profile = tempfile::tempdir().unwrap();
    let b = Browser {
        client: chromium(&webdriver, profile.path()).await,
        base,
        server,
        shots: screenshot_dir(),
    };
    let result = tokio::spawn(async move {
        let other = Other {
            webdriver,
            profile: other_profile.path().to_owned(),
        };
        run_flows(&b, &other, &clock).await;
        b.client.close().await.unwrap();
    })
    .await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Where a second browser comes from.
struct Other {
    webdriver: String,
    profile: PathBuf,
}

/// Serves, on another origin (`http://127.0.0.1:<port>`, another site than `localhost`), a page
/// that posts a form to the demo as soon as it loads, carrying even a real CSRF token.
async fn attacker_site(target: &str, csrf: &str) -> String {
    let html = format!(
        "<!doctype html><html><body><h1>Win a prize</h1>\
         <form id=\"f\" method=\"post\" action=\"{target}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\"></form>\
         <script>document.getElementById('f').submit()</script></body></html>"
    );
    let app = Router::new().route("/", get(move || async move { Html(html) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/")
}

#[allow(clippy::too_many_lines, reason = "one story, told in order")]
async fn run_flows(b: &Browser, other: &Other, clock: &ManualClock) {
    // Register.
    b.goto("/register").await;
    b.fill("#username", "alice").await;
    b.fill("#password", PASSWORD).await;
    b.shot("01-register").await;
    b.click("#register").await;
    b.signed_in_as("alice").await;

    // Enrol TOTP: opening the page changes nothing; its button (a POST) shows the QR code. The
    // secret is read from the page and the code computed like an app would.
    b.click("#enrol-totp").await;
    assert_eq!(b.path().await, "/account/totp");
    b.shot("02-enrol-totp-start").await;
    b.click("#totp-begin").await;
    let secret = Secret::from_base32(&b.text("#totp-secret").await).unwrap();
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
    b.shot("03-enrol-totp-qr").await;
    b.fill("#totp-code", &totp_code(&secret, clock)).await;
    b.click("#totp-activate").await;
    let mut codes = Vec::new();
    for el in b
        .client
        .find_all(Locator::Css(".recovery-code"))
        .await
        .unwrap()
    {
        codes.push(el.text().await.unwrap());
    }
    assert_eq!(codes.len(), 10, "ten recovery codes shown once");
    b.shot("04-recovery-codes").await;
    b.click("#continue").await;
    assert!(b.text("#totp-status").await.contains("enabled"));
    b.shot("05-account").await;

    // A page on another site posts a form to the demo when it loads (with even this session's
    // real CSRF token): refused, and alice stays signed in.
    let csrf = b
        .client
        .find(Locator::Css("input[name=csrf_token]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    let evil = attacker_site(&format!("{}/logout", b.base), &csrf).await;
    b.client.goto(&evil).await.unwrap();
    let mut refused = String::new();
    for _ in 0..50 {
        refused = b.client.source().await.unwrap_or_default();
        if refused.contains("did not come from this site") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused.contains("did not come from this site"), "{refused}");
    b.shot("06-cross-site-post-refused").await;
    b.goto("/account").await;
    b.signed_in_as("alice").await;
    b.logout().await;

    // Password, then TOTP (a new time step: the enrolment code cannot be replayed). A wrong code
    // first: the one answer mfa-axum gives every failure of a sign-in step.
    b.login("alice").await;
    assert_eq!(b.path().await, "/challenge");
    b.shot("07-challenge").await;
    b.fill("#totp-code", "000000").await;
    b.click("#totp-submit").await;
    assert!(b.text("#flash").await.contains("wrong or has expired"));
    let before = b.client.get_named_cookie("mfa_session").await.unwrap();
    assert_eq!(before.http_only(), Some(true));
    assert_eq!(format!("{:?}", before.same_site()), "Some(Strict)");
    b.totp("#totp-code", &secret, clock).await;
    b.click("#totp-submit").await;
    b.signed_in_as("alice").await;
    let after = b.client.get_named_cookie("mfa_session").await.unwrap();
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

    // Trust this device, then log in again without a code; list the device, then revoke it.
    b.login("alice").await;
    b.totp("#totp-code", &secret, clock).await;
    b.toggle("#totp-trust").await;
    b.click("#totp-submit").await;
    b.signed_in_as("alice").await;
    b.logout().await;
    b.login("alice").await;
    b.signed_in_as("alice").await;
    assert!(b.text("#flash").await.contains("trusted"));
    b.click("#devices").await;
    assert!(b.text("#devices").await.contains("Chrome"));
    b.shot("08-trusted-devices").await;
    b.click("button.revoke").await;
    assert!(b.text("#flash").await.contains("Device revoked"));
    assert!(b.has("#no-devices").await);
    b.shot("09-device-revoked").await;

    // Add an email factor with the code from the development inbox. A change of factors once
    // one is active (and a trusted device brought no grant): first a fresh second factor
    // (step-up), which returns to the page asked for.
    b.goto("/account/email").await;
    assert_eq!(b.wait_path("/step-up").await, "/step-up");
    b.shot("10-step-up").await;
    b.totp("#totp-code", &secret, clock).await;
    b.click("#totp-submit").await;
    assert_eq!(b.wait_path("/account/email").await, "/account/email");
    b.fill("#email", "alice@example.com").await;
    b.click("#email-send").await;
    let code = b.newest_code("pre.mail-text").await;
    b.shot("11-dev-inbox").await;
    b.goto("/account/email/confirm?email=alice%40example.com")
        .await;
    b.fill("#email-code", &code).await;
    b.click("#email-activate").await;
    b.signed_in_as("alice").await;
    assert!(b.text("#email-status").await.contains("enabled"));

    // And a phone number: the code comes through the development SMS outbox.
    b.click("#enrol-sms").await;
    assert_eq!(b.wait_path("/account/sms").await, "/account/sms");
    b.fill("#phone", "+15555550100").await;
    b.click("#phone-send").await;
    assert_eq!(b.path().await, "/account/sms/confirm");
    b.shot("12-sms-confirm").await;
    let code = b.newest_code("pre.sms-text").await;
    b.goto("/account/sms/confirm?phone=%2B15555550100").await;
    b.fill("#phone-code", &code).await;
    b.click("#phone-activate").await;
    b.signed_in_as("alice").await;
    let sms = b.text("#sms-status").await;
    assert!(sms.contains("enabled") && sms.contains("0100"), "{sms}");

    // Preferred method: a management change, confirmed by a fresh second factor (step-up); the
    // grant of the step-up above ends after 10 minutes.
    clock.advance(Duration::from_secs(11 * 60));
    b.click("#change-preferred").await;
    assert_eq!(b.wait_path("/step-up").await, "/step-up");
    b.totp("#totp-code", &secret, clock).await;
    b.click("#totp-submit").await;
    assert_eq!(
        b.wait_path("/account/preferred").await,
        "/account/preferred"
    );
    b.toggle("#preferred option[value=email]").await;
    b.shot("13-preferred").await;
    b.click("#set-preferred").await;
    b.signed_in_as("alice").await;
    assert!(
        b.text("#flash")
            .await
            .contains("Preferred method set to email")
    );
    b.logout().await;

    // Password, then an emailed code.
    clock.advance(Duration::from_secs(61));
    b.login("alice").await;
    assert_eq!(b.path().await, "/challenge");
    b.click("#send-email-code").await;
    assert!(b.text("#flash").await.contains("We emailed you a code"));
    let code = b.newest_code("pre.mail-text").await;
    b.goto("/challenge").await;
    b.fill("#email-code", &code).await;
    b.click("#email-submit").await;
    b.signed_in_as("alice").await;
    b.logout().await;

    // Password, then a text message: the challenge page shows the number's last digits only.
    clock.advance(Duration::from_secs(61));
    b.login("alice").await;
    assert_eq!(b.path().await, "/challenge");
    assert!(b.text("#sms-number").await.contains("0100"));
    let page = b.client.source().await.unwrap();
    assert!(
        !page.contains("5555550100"),
        "the whole number is not shown"
    );
    b.shot("14-challenge-sms").await;
    b.click("#send-sms-code").await;
    assert!(b.text("#flash").await.contains("text message"));
    let code = b.newest_code("pre.sms-text").await;
    b.goto("/challenge").await;
    b.fill("#sms-code", &code).await;
    b.click("#sms-submit").await;
    b.signed_in_as("alice").await;
    b.logout().await;

    // Password, then a magic link. Opened in another browser (someone who got the email), it
    // is refused: it is bound to the session that asked for it.
    clock.advance(Duration::from_secs(61));
    b.login("alice").await;
    b.click("#send-magic-link").await;
    assert!(b.text("#flash").await.contains("sign-in link"));
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
    assert!(
        link.starts_with(&format!("{}/magic?token=", b.base)),
        "{link}"
    );
    let second = chromium(&other.webdriver, &other.profile).await;
    second.goto(&link).await.unwrap();
    if second
        .find(Locator::Css("#continue-magic-link"))
        .await
        .is_ok()
    {
        click(&second, "#continue-magic-link").await;
    }
    click(&second, "#confirm-magic-link").await;
    let refused = text(&second, "#flash").await;
    assert!(refused.contains("cannot sign in here"), "{refused}");
    assert!(second.find(Locator::Css("#whoami")).await.is_err());
    shot(&second, &b.shots, "15-magic-link-other-browser").await;
    second.close().await.unwrap();

    // In the browser that asked for it, opening it signs nothing in: only its button does.
    b.client.goto(&link).await.unwrap();
    assert_eq!(b.path().await, "/magic");
    if b.has("#continue-magic-link").await {
        b.click("#continue-magic-link").await;
    }
    b.shot("16-magic-link").await;
    b.click("#confirm-magic-link").await;
    b.signed_in_as("alice").await;

    // A link signs in but grants no step-up: new recovery codes ask for a fresh factor first.
    b.goto("/account/recovery-codes").await;
    assert_eq!(b.wait_path("/step-up").await, "/step-up");
    b.totp("#totp-code", &secret, clock).await;
    b.click("#totp-submit").await;
    assert_eq!(
        b.wait_path("/account/recovery-codes").await,
        "/account/recovery-codes"
    );
    assert_eq!(b.text("#codes-left").await, "9");
    b.click("#regenerate-codes").await;
    let fresh = b
        .client
        .find_all(Locator::Css(".recovery-code"))
        .await
        .unwrap();
    assert_eq!(fresh.len(), 10);
    b.shot("17-recovery-codes-regenerated").await;
    b.click("#continue").await;

    // Turn the text messages off (the step-up grant is still live).
    b.click("#disable-sms").await;
    assert_eq!(b.wait_path("/account/disable").await, "/account/disable");
    b.shot("18-disable-factor").await;
    b.click("#disable-confirm").await;
    b.signed_in_as("alice").await;
    assert!(b.text("#flash").await.contains("turned off"));
    assert!(b.text("#sms-status").await.contains("not set up"));
    b.shot("19-account-after-disable").await;

    // The security log shows what happened.
    b.goto("/account/log").await;
    let log = b.text("#security-log").await;
    assert!(log.contains("totp.confirmed"), "{log}");
    b.shot("20-security-log").await;
    b.logout().await;

    // A stranger with alice's password, from a network she never signed in from: the limits
    // apply there. Five wrong codes (each answered like any failure); the fifth locks that
    // network out of alice's account for 15 minutes, which the password step then says.
    let mut stranger = Agent::new(b.server, "127.0.0.2");
    let mut page = stranger.login("alice").await;
    for _ in 1..=5 {
        assert!(page.body.contains("id=\"totp-code\""), "{}", page.body);
        let form = format!("csrf_token={}&method=totp&code=000000", page.csrf());
        page = stranger.post("/challenge/verify", &form).await;
        assert_eq!(page.status, 401);
        assert!(page.body.contains("wrong or has expired"), "{}", page.body);
    }
    let page = stranger.login("alice").await;
    assert_eq!(page.status, 429);
    assert!(page.body.contains("locked until"), "{}", page.body);

    // Alice's own network keeps a budget of its own: she still signs in.
    b.login("alice").await;
    assert_eq!(b.wait_path("/challenge").await, "/challenge");
    b.totp("#totp-code", &secret, clock).await;
    b.click("#totp-submit").await;
    b.signed_in_as("alice").await;
    b.logout().await;

    // Wrong codes from her own browser use that budget up too (ten an hour), and lock this
    // network; the sign-in then says until when.
    let mut locked = false;
    for _ in 0..5 {
        b.login("alice").await;
        if b.path().await != "/challenge" {
            let flash = b.text("#flash").await;
            assert!(flash.contains("locked until"), "{flash}");
            locked = true;
            break;
        }
        for _ in 0..5 {
            b.fill("#totp-code", "000000").await;
            b.click("#totp-submit").await;
        }
    }
    assert!(locked, "ten wrong codes lock this browser's network");
    b.shot("21-locked").await;

    // The administrator (in development, `admin`, registered from this machine) sets up a
    // second factor, signs in with it, and unlocks alice; the unlock is in her security log.
    b.goto("/register").await;
    b.fill("#username", "admin").await;
    b.fill("#password", PASSWORD).await;
    b.click("#register").await;
    b.signed_in_as("admin").await;
    b.goto("/admin").await;
    assert_eq!(
        b.wait_path("/account").await,
        "/account",
        "no second factor yet"
    );
    b.click("#enrol-totp").await;
    b.click("#totp-begin").await;
    let admin_secret = Secret::from_base32(&b.text("#totp-secret").await).unwrap();
    b.fill("#totp-code", &totp_code(&admin_secret, clock)).await;
    b.click("#totp-activate").await;
    b.click("#continue").await;
    b.logout().await;
    b.login("admin").await;
    b.totp("#totp-code", &admin_secret, clock).await;
    b.click("#totp-submit").await;
    b.signed_in_as("admin").await;
    b.click("#admin").await;
    b.toggle("#unlock-user option[value=alice]").await;
    b.click("#unlock").await;
    assert!(b.text("#flash").await.contains("Unlocked alice"));
    b.shot("22-admin").await;
    b.logout().await;

    // The unlock frees this network too: alice signs in again at once.
    b.login("alice").await;
    assert_eq!(b.wait_path("/challenge").await, "/challenge");
    b.totp("#totp-code", &secret, clock).await;
    b.click("#totp-submit").await;
    b.signed_in_as("alice").await;
    b.goto("/account/log").await;
    let log = b.text("#security-log").await;
    assert!(log.contains("unlock"), "{log}");
}

/// The WebDriver extension chromedriver implements for WebAuthn (W3C WebAuthn §11.3): adds a
/// virtual CTAP2 security key to the session, which answers every prompt as a user touching it.
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({
            "protocol": "ctap2",
            "transport": "usb",
            "hasResidentKey": false,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// A security key in a real browser: Chromium's virtual authenticator (through chromedriver's
/// WebDriver extension) registers with the demo as the first factor, and the next sign-in is
/// answered with it, and so is the step-up that turns it off. Screenshots:
/// `webauthn-01-register`, `-02-registered`, `-03-challenge`, `-04-signed-in`, `-05-step-up`,
/// `-06-removed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_key_in_a_real_browser() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var("MFA_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "{CHROMIUM} and {CHROMEDRIVER} are required (MFA_REQUIRE_SERVICES=1)"
        );
        eprintln!("SKIPPED: {CHROMIUM} or {CHROMEDRIVER} missing");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let clock = clock_now();
    let server = start(&dev_config(state.path(), &clock)).await;
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
    let b = Browser {
        client: chromium(&format!("http://127.0.0.1:{port}"), profile.path()).await,
        base: mfa_demo::local_url(server),
        server,
        shots: screenshot_dir(),
    };
    let result = tokio::spawn(async move {
        b.client.issue_cmd(AddVirtualAuthenticator).await.unwrap();

        b.goto("/register").await;
        b.fill("#username", "kim").await;
        b.fill("#password", PASSWORD).await;
        b.click("#register").await;
        b.signed_in_as("kim").await;

        b.goto("/account/webauthn").await;
        let label = b
            .client
            .find(Locator::Css("#webauthn-label"))
            .await
            .unwrap();
        label.clear().await.unwrap();
        label.send_keys("Virtual key").await.unwrap();
        b.shot("webauthn-01-register").await;
        b.click("#webauthn-begin").await;
        // The page hands the options to the authenticator and posts its answer by itself.
        let mut registered = false;
        for _ in 0..100 {
            if b.has("#recovery-codes").await {
                registered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !registered {
            let source = b.client.source().await.unwrap_or_default();
            panic!("no recovery codes after the registration: {source}");
        }
        b.shot("webauthn-02-registered").await;
        b.goto("/account").await;
        assert!(
            b.text("#webauthn-status").await.contains("enabled"),
            "the account page lists the key"
        );

        b.logout().await;
        b.login("kim").await;
        assert_eq!(b.wait_path("/challenge").await, "/challenge");
        b.shot("webauthn-03-challenge").await;
        b.click("#webauthn-use").await;
        b.signed_in_as("kim").await;
        b.shot("webauthn-04-signed-in").await;

        // Turning the key off needs a step-up (the sign-in's grant has run out by then),
        // answered with the key itself; it was the last factor, so the recovery codes go too.
        clock.advance(Duration::from_secs(11 * 60));
        b.goto("/account/disable?method=webauthn").await;
        assert_eq!(b.wait_path("/step-up").await, "/step-up");
        b.shot("webauthn-05-step-up").await;
        b.click("#webauthn-use").await;
        assert_eq!(b.wait_path("/account/disable").await, "/account/disable");
        b.click("#disable-confirm").await;
        assert_eq!(b.wait_path("/account").await, "/account");
        assert!(
            b.text("#webauthn-status").await.contains("not set up"),
            "the key is gone"
        );
        b.shot("webauthn-06-removed").await;
        b.client.close().await.unwrap();
    })
    .await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}
