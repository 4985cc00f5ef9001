//! The API on 127.0.0.1:3000 (or `LISTEN`), on SQLite (or `DATABASE_URL`, e.g. MariaDB), with SMS
//! printed on the console.
#![allow(
    clippy::print_stdout,
    reason = "a command-line demo reports where it listens on standard output"
)]

use std::sync::Arc;

use authenticator_setup::{App, Backends, CookieSecurity, build_mfa, connect_store};
use mfa::mail::ConsoleSms;
use mfa::{Keyring, Pepper, SealingKey, SystemClock};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> BoxResult<()> {
    let url = env_or("DATABASE_URL", "sqlite:authenticator-setup.db?mode=rwc");
    let listen = env_or("LISTEN", "127.0.0.1:3000");
    let cookies = if std::env::var("SECURE_COOKIES").as_deref() == Ok("0") {
        CookieSecurity::PlainHttpForDevelopment
    } else {
        CookieSecurity::Secure
    };
    let password = Zeroizing::new(env_or("DEMO_PASSWORD", "correct horse battery staple"));
    let (keyring, pepper) = keys(&env_or("KEY_FILE", "authenticator-setup.keys"))?;
    let mfa = build_mfa(
        Backends {
            store: connect_store(&url).await?,
            sms: Arc::new(ConsoleSms::new()),
            clock: Arc::new(SystemClock),
            keyring,
            pepper,
        },
        "Acme",
    )?;
    let listener = TcpListener::bind(&listen).await?;
    println!(
        "authenticator-setup API on http://{} (store {url}, cookies {cookies:?})",
        listener.local_addr()?
    );
    App::new(mfa, cookies, &password).serve(listener).await?;
    Ok(())
}

/// The sealing key and the pepper: 64 random bytes kept in `path` (created on the first run),
/// so enrolled authenticators survive a restart. Keep such keys in a secret store in production.
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
