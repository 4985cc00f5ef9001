//! The API on 127.0.0.1:3000 (or `LISTEN`), on SQLite (or `DATABASE_URL`, e.g. MariaDB), with
//! SMS printed on the console. Settings come from the environment (see the README).
#![allow(
    clippy::print_stdout,
    reason = "a command-line service reports where it listens on standard output"
)]

use std::sync::Arc;

use authenticator_setup::{App, Backends, build_mfa, connect};
use mfa::mail::ConsoleSms;
use mfa::{Keyring, Pepper, SealingKey, SystemClock};
use mfa_axum::{EdgeConfig, EdgeConfigBuilder, ForwardedHeader, Transport, TrustedProxies};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> BoxResult<()> {
    let url = env_or("DATABASE_URL", "sqlite:authenticator-setup.db?mode=rwc");
    let listen = env_or("LISTEN", "127.0.0.1:3000");
    let password = Zeroizing::new(env_or("DEMO_PASSWORD", "correct horse battery staple"));
    let (keyring, pepper) = keys(&env_or("KEY_FILE", "authenticator-setup.keys"))?;
    let (store, sessions) = connect(&url).await?;
    let mfa = build_mfa(
        Backends {
            store,
            sms: Arc::new(ConsoleSms::new()),
            clock: Arc::new(SystemClock),
            keyring,
            pepper,
        },
        "Acme",
    )?;
    // Expired challenges, counters and devices, and expired sessions, every 10 minutes.
    let every = std::time::Duration::from_secs(600);
    tokio::spawn(mfa.purge_task(every));
    let expired = sessions.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let _ = expired.purge_expired().await;
        }
    });
    let app = App::new(mfa, edge_from_env()?, &password)?;
    let listener = TcpListener::bind(&listen).await?;
    println!(
        "authenticator-setup API on http://{} (store {url})",
        listener.local_addr()?
    );
    app.serve(listener, sessions).await?;
    Ok(())
}

/// `TRANSPORT`: `development` (plain HTTP, the default), `tls` (this process terminates TLS)
/// or `proxy` (TLS ends at `TRUSTED_PROXIES` proxies, default 1, writing `X-Forwarded-For`).
/// Over TLS every answer carries HSTS and the cookies are `Secure` and `__Host-` prefixed.
fn edge_from_env() -> BoxResult<EdgeConfigBuilder> {
    Ok(match env_or("TRANSPORT", "development").as_str() {
        "development" => EdgeConfig::builder(Transport::PlainHttpForDevelopment),
        "tls" => EdgeConfig::builder(Transport::Tls),
        "proxy" => {
            let count: u8 = env_or("TRUSTED_PROXIES", "1").parse()?;
            EdgeConfig::builder(Transport::TlsBehindProxy).trusted_proxies(
                ForwardedHeader::XForwardedFor,
                TrustedProxies::count(count)?,
            )
        }
        other => return Err(format!("TRANSPORT={other}: use development, tls or proxy").into()),
    })
}

/// The sealing key and the pepper: 64 random bytes kept in `path` (created on the first run,
/// mode 0600), so enrolled authenticators survive a restart. Keep such keys in a secret store
/// in production.
fn keys(path: &str) -> BoxResult<(Keyring, Pepper)> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut fresh = Zeroizing::new(vec![0u8; 64]);
            getrandom::fill(&mut fresh).map_err(|e| e.to_string())?;
            write_private(path, &fresh)?;
            fresh
        }
        Err(e) => return Err(e.into()),
    };
    let (seal, pepper) = bytes
        .split_at_checked(32)
        .ok_or("the key file is too short")?;
    Ok((
        Keyring::new(1, SealingKey::from_bytes(seal)?),
        Pepper::from_bytes(pepper)?,
    ))
}

fn write_private(path: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}
