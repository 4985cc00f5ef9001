//! Behind a reverse proxy: a few lines of loopback proxy that, like a real one, appends the
//! address it received each request from to `X-Forwarded-For`. The demo trusts one proxy hop
//! (`MFA_DEMO_TRANSPORT=tls-behind-proxy`, `MFA_DEMO_TRUSTED_PROXIES=1`), so its per-client
//! limits key on the real client: one client behind the proxy locks itself out of an account
//! with wrong codes, another client behind the same proxy signs in to it unaffected.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should stop the test with its message"
)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{Agent, clock_now, start, totp_code};
use mfa_axum::{ForwardedHeader, Transport, TrustedProxies};
use mfa_demo::DemoConfig;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Accepts connections, appends `X-Forwarded-For: <peer address>` to each request's header and
/// relays both ways to `upstream`.
async fn reverse_proxy(upstream: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, peer)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut chunk = [0_u8; 4096];
                let end = loop {
                    let n = client.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&chunk[..n]);
                    if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        break end;
                    }
                };
                let mut server = TcpStream::connect(upstream).await.unwrap();
                // The header lines, our line, then the blank line and whatever body came along.
                server.write_all(&head[..end + 2]).await.unwrap();
                let line = format!("X-Forwarded-For: {}\r\n", peer.ip());
                server.write_all(line.as_bytes()).await.unwrap();
                server.write_all(&head[end + 2..]).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_key_on_the_client_behind_the_proxy_not_on_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock_now();
    let mut config = DemoConfig::development(dir.path());
    config.transport = Transport::TlsBehindProxy;
    config.trusted_proxies = Some((
        ForwardedHeader::XForwardedFor,
        TrustedProxies::count(1).unwrap(),
    ));
    config.admins = vec!["root".into()];
    config.public_url = Some("https://demo.example".into());
    config.clock = Arc::new(clock.clone());
    let demo = start(&config).await;
    let proxy = reverse_proxy(demo).await;

    // Alice registers and sets up her authenticator app from 127.0.0.3, through the proxy.
    let mut alice = Agent::new(proxy, "127.0.0.3");
    assert_eq!(alice.register("alice").await.status, 200);
    let (secret, _) = alice.enrol_totp(&clock).await;
    assert!(alice.cookies.contains_key("__Host-mfa_session"));
    alice.logout().await;

    // Mallory, with alice's password, from 127.0.0.2 through the same proxy: five wrong codes.
    // She even claims to be alice's address: the proxy appends the real one, the demo reads
    // the proxy's entry.
    let mut mallory = Agent::new(proxy, "127.0.0.2");
    mallory.extra = vec![("X-Forwarded-For".into(), "127.0.0.3".into())];
    let mut page = mallory.login("alice").await;
    for _ in 0..5 {
        assert!(page.body.contains("id=\"totp-code\""), "{}", page.body);
        let form = format!("csrf_token={}&method=totp&code=000000", page.csrf());
        page = mallory.post("/challenge/verify", &form).await;
        assert_eq!(page.status, 401, "{}", page.body);
    }
    // Her network is locked out of alice's account: the password step says until when.
    let locked = mallory.login("alice").await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.body.contains("locked until"), "{}", locked.body);
    assert!(locked.header("retry-after").is_some());

    // Alice, behind the same proxy (the same TCP peer to the demo), is not: she signs in.
    clock.advance(Duration::from_secs(30));
    let challenge = alice.login("alice").await;
    assert_eq!(challenge.status, 200, "{}", challenge.body);
    let form = format!(
        "csrf_token={}&method=totp&code={}",
        challenge.csrf(),
        totp_code(&secret, &clock)
    );
    let account = alice.post("/challenge/verify", &form).await;
    assert_eq!(account.by_id("whoami"), "alice");

    // Her security log shows the two clients' real addresses, never the proxy's.
    let log = alice.get("/account/log").await;
    assert!(log.body.contains("127.0.0.2") && log.body.contains("127.0.0.3"));
    assert!(!log.body.contains("<td>127.0.0.1</td>"), "{}", log.body);
}
