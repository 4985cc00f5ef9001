//! The demo's web guarantees over plain HTTP/1.1 (no browser needed): cookie attributes and
//! security headers, CSRF refusal, GET never changing anything, the development inbox only for
//! this machine in development mode, the admin page only for administrators, the refusal to
//! start with an unsafe configuration, and the recovery-code download.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should stop the test with its message"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Agent, clock_now, dev_config, start, totp_code};
use mfa_axum::{ForwardedHeader, Transport, TrustedProxies};
use mfa_demo::{Demo, DemoConfig};

/// A configuration behind one TLS-terminating proxy that writes `X-Forwarded-For`.
fn behind_proxy(dir: &std::path::Path) -> DemoConfig {
    let mut config = DemoConfig::development(dir);
    config.transport = Transport::TlsBehindProxy;
    config.trusted_proxies = Some((
        ForwardedHeader::XForwardedFor,
        TrustedProxies::count(1).unwrap(),
    ));
    config.admins = vec!["root".into()];
    config.public_url = Some("https://demo.example".into());
    config
}

#[tokio::test]
async fn cookies_and_headers_are_mfa_axums() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock_now();
    let server = start(&dev_config(dir.path(), &clock)).await;
    let mut agent = Agent::new(server, "127.0.0.1");
    let page = agent.request("GET", "/login", "").await;
    assert_eq!(page.status, 200);
    let cookie = page.header("set-cookie").unwrap();
    assert!(cookie.starts_with("mfa_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP in development: {cookie}"
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"));
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(page.header("strict-transport-security").is_none());

    // Behind a TLS proxy: `Secure`, `__Host-` and HSTS.
    let dir = tempfile::tempdir().unwrap();
    let server = start(&behind_proxy(dir.path())).await;
    let mut agent = Agent::new(server, "127.0.0.1");
    let page = agent.request("GET", "/login", "").await;
    let cookie = page.header("set-cookie").unwrap();
    assert!(cookie.starts_with("__Host-mfa_session="), "{cookie}");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(page.header("strict-transport-security").is_some());
}

#[tokio::test]
async fn forms_without_this_sessions_token_or_from_another_site_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock_now();
    let server = start(&dev_config(dir.path(), &clock)).await;
    let mut agent = Agent::new(server, "127.0.0.1");
    let page = agent.get("/register").await;
    let csrf = page.csrf();
    let form = "username=mallory&password=long+enough+password";

    // A wrong token; no token; the right token without its session: all refused, nothing made.
    let wrong = format!("csrf_token=AAAA{}&{form}", &csrf[4..]);
    assert_eq!(agent.request("POST", "/register", &wrong).await.status, 403);
    assert_eq!(agent.request("POST", "/register", form).await.status, 403);
    let mut other = Agent::new(server, "127.0.0.1");
    let right = format!("csrf_token={csrf}&{form}");
    assert_eq!(other.request("POST", "/register", &right).await.status, 403);

    // The right token with its session, but the browser says another site sent the form.
    agent.extra = vec![("Sec-Fetch-Site".into(), "cross-site".into())];
    assert_eq!(agent.request("POST", "/register", &right).await.status, 403);
    agent.extra = vec![("Origin".into(), "http://evil.example".into())];
    assert_eq!(agent.request("POST", "/register", &right).await.status, 403);
    agent.extra.clear();
    // None of them created the account: the name is still free.
    let before = agent.cookies.clone();
    let reply = agent.request("POST", "/register", &right).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(reply.location(), Some("/account"));
    assert_ne!(agent.cookies, before, "the session id rotates at sign-in");
}

#[tokio::test]
async fn get_never_changes_state() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock_now();
    let server = start(&dev_config(dir.path(), &clock)).await;
    let mut agent = Agent::new(server, "127.0.0.1");
    assert_eq!(agent.register("carol").await.status, 200);

    // Every route that changes something answers GET with 405.
    for path in [
        "/logout",
        "/challenge/verify",
        "/challenge/send",
        "/step-up/verify",
        "/step-up/send",
        "/account/totp/start",
        "/account/totp/confirm",
        "/account/recovery-codes.txt",
        "/account/devices/revoke",
        "/admin/unlock",
    ] {
        let page = agent.request("GET", path, "").await;
        assert_eq!(page.status, 405, "GET {path}");
    }
    // Still signed in after GET /logout.
    let account = agent.get("/account").await;
    assert_eq!(account.status, 200);
    assert_eq!(account.by_id("whoami"), "carol");

    // Opening the authenticator page starts no enrolment: there is nothing to confirm.
    let page = agent.get("/account/totp").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"totp-begin\""));
    let form = format!("csrf_token={}&code=123456", page.csrf());
    let confirm = agent.post("/account/totp/confirm", &form).await;
    assert_eq!(confirm.status, 409, "{}", confirm.body);
    assert!(
        confirm.body.contains("nothing to confirm"),
        "{}",
        confirm.body
    );
    // The POST starts one.
    let (_, codes) = agent.enrol_totp(&clock).await;
    assert!(codes.body.contains("recovery-code"));
}

#[tokio::test]
async fn the_development_inbox_is_only_for_this_machine_in_development() {
    // Development behind a tunnel or proxy (one trusted hop): the address it forwards decides.
    let dir = tempfile::tempdir().unwrap();
    let clock = clock_now();
    let mut config = dev_config(dir.path(), &clock);
    config.trusted_proxies = Some((
        ForwardedHeader::XForwardedFor,
        TrustedProxies::count(1).unwrap(),
    ));
    let server = start(&config).await;
    let mut local = Agent::new(server, "127.0.0.1");
    let page = local.request("GET", "/dev/inbox", "").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Development only"));

    let mut remote = Agent::new(server, "127.0.0.1");
    remote.extra = vec![("X-Forwarded-For".into(), "192.0.2.10".into())];
    let page = remote.request("GET", "/dev/inbox", "").await;
    assert_eq!(page.status, 404);
    assert!(
        page.header("set-cookie").is_none(),
        "no sign that the page exists"
    );
    let unknown = remote.request("GET", "/no/such/page", "").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.body, page.body,
        "the same 404 as a path that does not exist"
    );

    // A remote client cannot register the default administrator's name before the operator:
    // it is "taken" for it, and free for this machine.
    let taken = remote.register("admin").await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert_eq!(local.register("admin").await.status, 200);

    // Outside development there is no inbox, not even for this machine.
    let dir = tempfile::tempdir().unwrap();
    let server = start(&behind_proxy(dir.path())).await;
    let mut local = Agent::new(server, "127.0.0.1");
    local.extra = vec![("X-Forwarded-For".into(), "127.0.0.1".into())];
    assert_eq!(local.request("GET", "/dev/inbox", "").await.status, 404);
    let home = local.get("/").await;
    assert!(!home.body.contains("/dev/inbox"));
}

#[tokio::test]
async fn the_admin_page_refuses_everyone_but_administrators() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock_now();
    let mut config = dev_config(dir.path(), &clock);
    config.admins = vec!["root".into()];
    let server = start(&config).await;

    // Anonymous: a browser is sent to the sign-in, a script gets 401.
    let mut anonymous = Agent::new(server, "127.0.0.1");
    let page = anonymous.request("GET", "/admin", "").await;
    assert_eq!((page.status, page.location()), (303, Some("/login")));
    anonymous.html = false;
    let page = anonymous.request("GET", "/admin", "").await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("sign_in_required"), "{}", page.body);

    // Bob, signed in with his second factor, is no administrator: 403 for the page and the
    // unlock.
    let mut bob = Agent::new(server, "127.0.0.1");
    bob.register("bob").await;
    let (secret, _) = bob.enrol_totp(&clock).await;
    bob.logout().await;
    clock.advance(Duration::from_secs(30));
    let challenge = bob.login("bob").await;
    let form = format!(
        "csrf_token={}&method=totp&code={}",
        challenge.csrf(),
        totp_code(&secret, &clock)
    );
    let account = bob.post("/challenge/verify", &form).await;
    assert_eq!(account.by_id("whoami"), "bob");
    let page = bob.get("/admin").await;
    assert_eq!(page.status, 403);
    assert!(!page.body.contains("unlock-user"));
    let form = format!("csrf_token={}&username=bob", account.csrf());
    let unlock = bob.request("POST", "/admin/unlock", &form).await;
    assert_eq!(unlock.status, 403);

    // Root is an administrator, but not before a second factor: the page sends him to set one
    // up first.
    let mut root = Agent::new(server, "127.0.0.1");
    assert_eq!(root.register("root").await.status, 200);
    let page = root.request("GET", "/admin", "").await;
    assert_eq!((page.status, page.location()), (303, Some("/account")));
}

#[tokio::test]
async fn an_unsafe_configuration_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let base = "https://demo.example";

    // Behind a TLS proxy without saying which proxies to trust (every client would share the
    // proxy's address): refused by mfa-axum's EdgeConfig.
    let mut config = behind_proxy(dir.path());
    config.trusted_proxies = None;
    let refused = Demo::build(&config, base).await.unwrap_err();
    assert!(refused.to_string().contains("trusted proxies"), "{refused}");

    // Outside development without an administrator.
    let mut config = behind_proxy(dir.path());
    config.admins.clear();
    let refused = Demo::build(&config, base).await.unwrap_err();
    assert!(refused.to_string().contains("MFA_DEMO_ADMINS"), "{refused}");

    // Behind TLS with a plain-HTTP public URL, or TLS ended by the demo itself.
    let config = behind_proxy(dir.path());
    assert!(Demo::build(&config, "http://demo.example").await.is_err());
    let mut config = behind_proxy(dir.path());
    config.transport = Transport::Tls;
    assert!(Demo::build(&config, base).await.is_err());

    // The same with the proxies named starts.
    let config = behind_proxy(dir.path());
    assert!(Demo::build(&config, base).await.is_ok());
    // And development needs nothing.
    let mut config = DemoConfig::development(dir.path());
    config.clock = Arc::new(clock_now());
    assert!(Demo::build(&config, "http://localhost:3000").await.is_ok());
}

#[tokio::test]
async fn recovery_codes_download_as_a_text_attachment_echoing_only_codes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock_now();
    let server = start(&dev_config(dir.path(), &clock)).await;
    let mut agent = Agent::new(server, "127.0.0.1");
    let account = agent.register("dora").await;

    // Two codes and a line that is not a code (it must not be echoed).
    let codes = "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01%0A%3Cscript%3E%0AWXYZ-0123-4567-89AB-CDEF-GHJK";
    let form = format!("csrf_token={}&codes={codes}", account.csrf());
    let reply = agent
        .request("POST", "/account/recovery-codes.txt", &form)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        reply
            .header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );
    assert!(
        reply
            .body
            .contains("ABCD-EFGH-JKMN-PQRS-TVWX-YZ01\nWXYZ-0123-4567-89AB-CDEF-GHJK\n")
    );
    assert!(!reply.body.contains("script"));
}
