//! The login service: `cargo run -p password-email-otp-jwt` (SQLite) or
//! `cargo run -p password-email-otp-jwt -- --store postgres`.
//!
//! Serves until Enter is pressed, then removes the run's SQLite file or PostgreSQL schema.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use mfa::core::PasswordHasher;
use mfa::{Keyring, Pepper, SealingKey, SystemClock};
use password_email_otp_jwt::{
    AppParts, AppState, ChosenMailer, Error, SessionKey, StoreHandle, StoreKind, edge_from_env,
    mailer_from_env, serve,
};
use tokio::net::TcpListener;

/// Password, then an emailed code, then a signed JWT, over HTTP.
#[derive(Debug, Parser)]
struct Args {
    /// Store: `sqlite` (a temporary file) or `postgres` (default: `EXAMPLE_STORE`, else sqlite).
    #[arg(long)]
    store: Option<String>,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Development outbox folder (used when `SMTP_HOST` is not set).
    #[arg(long, default_value = "outbox")]
    outbox: PathBuf,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let kind: StoreKind = match args
        .store
        .clone()
        .or_else(|| std::env::var("EXAMPLE_STORE").ok())
    {
        Some(name) => name.parse()?,
        None => StoreKind::Sqlite,
    };
    let handle = StoreHandle::connect(kind, "password_email").await?;
    tracing::info!(
        store = kind.as_str(),
        namespace = handle.namespace(),
        "store ready"
    );
    let result = run(&handle, &args).await;
    handle.remove_data().await?;
    tracing::info!("store: removed");
    result
}

async fn run(handle: &StoreHandle, args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let (mailer, delivery) = mailer_from_env(&args.outbox)?;
    match &delivery {
        ChosenMailer::Outbox(dir) => {
            tracing::info!(outbox = %dir.display(), "mail: development outbox (codes in files)");
        }
        _ => tracing::info!("mail: SMTP"),
    }
    let state = AppState::new(AppParts {
        store: handle.store(),
        mailer,
        clock: Arc::new(SystemClock),
        keyring: Keyring::new(1, SealingKey::generate()?),
        pepper: Pepper::generate()?,
        hasher: PasswordHasher::default(),
        session_key: session_key()?,
    })?;
    let edge = edge_from_env()?;
    let listener = TcpListener::bind(args.listen).await?;
    tracing::info!(
        "listening on http://{}; press Enter to stop",
        listener.local_addr()?
    );
    tokio::select! {
        served = serve(listener, state, &edge, Duration::from_secs(60)) => served?,
        () = enter_pressed() => {}
    }
    Ok(())
}

/// The token signing key: `JWT_SECRET_HEX` (64 hex digits, shared with whoever else verifies
/// the tokens), else a new one for this run (tokens then die with the process).
fn session_key() -> Result<SessionKey, Error> {
    let Ok(hex) = std::env::var("JWT_SECRET_HEX") else {
        return SessionKey::generate();
    };
    let hex = hex.trim();
    let mut key = [0u8; 32];
    let digits: Option<Vec<u8>> = hex
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect();
    match digits {
        Some(bytes) if bytes.len() == 32 && hex.len() == 64 => {
            key.copy_from_slice(&bytes);
            Ok(SessionKey::from_bytes(key))
        }
        _ => Err(Error::Setting("JWT_SECRET_HEX must be 64 hex digits")),
    }
}

/// Resolves when a line is read from standard input; never when it is closed (a service
/// started without a terminal runs until it is killed).
async fn enter_pressed() {
    let read = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)
    })
    .await;
    if !matches!(read, Ok(Ok(n)) if n > 0) {
        std::future::pending::<()>().await;
    }
}
