//! The mandatory-TOTP web service on Redis.
//!
//! `mandatory-totp` serves; `mandatory-totp init-redis` initialises the Redis key prefix once
//! (a new deployment's provisioning step). Settings come from the environment (see the
//! README).
#![allow(
    clippy::print_stdout,
    reason = "a command-line service reports where it listens on standard output"
)]

use std::path::PathBuf;
use std::sync::Arc;

use mandatory_totp::{
    App, AppParts, ChosenMailer, DEFAULT_REDIS_PREFIX, Settings, connect_redis, initialise_redis,
    mailer_from_env, redis_url_from_env,
};
use mfa::core::PasswordHasher;
use mfa::{Keyring, Pepper, SealingKey, SystemClock};
use mfa_axum::tower_sessions::MemoryStore;
use mfa_axum::{EdgeConfig, EdgeConfigBuilder, ForwardedHeader, Transport, TrustedProxies};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> BoxResult<()> {
    let url = redis_url_from_env();
    let prefix = env_or("MFA_REDIS_PREFIX", DEFAULT_REDIS_PREFIX);
    if std::env::args().nth(1).as_deref() == Some("init-redis") {
        let markers = initialise_redis(&url, &prefix).await?;
        println!("Redis prefix {prefix} at {url}: initialised ({markers} markers written)");
        return Ok(());
    }
    let listen = env_or("LISTEN", "127.0.0.1:3000");
    let listener = TcpListener::bind(&listen).await?;
    let bound = listener.local_addr()?;
    let public_url = std::env::var("PUBLIC_URL").unwrap_or_else(|_| format!("http://{bound}"));
    let (keyring, pepper) = keys(&env_or("KEY_FILE", "mandatory-totp.keys"))?;
    let (mailer, delivery) = mailer_from_env(&PathBuf::from(env_or("OUTBOX", "outbox")))?;
    let admins = env_or("ADMINS", "")
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    let app = App::new(
        AppParts {
            store: connect_redis(&url, &prefix).await?,
            mailer,
            clock: Arc::new(SystemClock),
            keyring,
            pepper,
            hasher: PasswordHasher::default(),
        },
        Settings {
            edge: edge_from_env()?,
            public_url,
            admins,
        },
    )?;
    let mail = match delivery {
        ChosenMailer::Outbox(dir) => format!("development outbox {}", dir.display()),
        _ => "SMTP".to_owned(),
    };
    println!("mandatory-totp on http://{bound} (Redis {url}, prefix {prefix}; notices: {mail})");
    // Sessions in memory: one instance (see the README).
    app.serve(listener, MemoryStore::default()).await?;
    Ok(())
}

/// `TRANSPORT`: `development` (plain HTTP, the default), `tls` (this process terminates TLS
/// behind nothing) or `proxy` (TLS ends at `TRUSTED_PROXIES` proxies, default 1, that append
/// to `X-Forwarded-For`).
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
            println!("generated development keys in {path} (mode 0600)");
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
