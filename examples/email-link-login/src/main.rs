//! The passwordless sign-in service: `cargo run -p email-link-login -- --store postgres`.
//!
//! Serves until Enter is pressed, then removes the run's schema or key prefix.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use email_link_login::{
    AppState, ChosenMailer, Parts, Sessions, StoreHandle, StoreKind, build_mfa, edge_from_env,
    mailer_from_env, router,
};
use mfa::{Keyring, Pepper, SealingKey, SystemClock};
use tokio::net::TcpListener;

/// Passwordless sign-in by email magic link plus 6-digit code, over HTTP.
#[derive(Debug, Parser)]
struct Args {
    /// Store: `postgres` or `redis` (default: `EXAMPLE_STORE`, else postgres).
    #[arg(long)]
    store: Option<String>,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// The URL browsers reach the service at; magic links point to `<URL>/auth/link`
    /// (default: `PUBLIC_URL`, else `http://localhost:3000`).
    #[arg(long)]
    public_url: Option<String>,
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
        None => StoreKind::Postgres,
    };
    let handle = StoreHandle::connect(kind, &kind.url_from_env(), "email_link").await?;
    tracing::info!(
        store = kind.as_str(),
        namespace = handle.namespace(),
        "store ready"
    );
    let result = serve(&handle, &args).await;
    handle.remove_data().await?;
    tracing::info!("store: namespace removed");
    result
}

async fn serve(handle: &StoreHandle, args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let (mailer, delivery) = mailer_from_env(&args.outbox)?;
    match &delivery {
        ChosenMailer::Outbox(dir) => {
            tracing::info!(outbox = %dir.display(), "mail: development outbox (codes in files)");
        }
        _ => tracing::info!("mail: SMTP"),
    }
    let mfa = build_mfa(Parts {
        store: handle.store(),
        mailer,
        clock: Arc::new(SystemClock),
        keyring: Keyring::new(1, SealingKey::generate()?),
        pepper: Pepper::generate()?,
    })?;
    // Expired codes, links and counters go every 10 minutes (Redis expires its own).
    tokio::spawn(mfa.purge_task(Duration::from_secs(600)));
    let public_url = args
        .public_url
        .clone()
        .or_else(|| std::env::var("PUBLIC_URL").ok())
        .unwrap_or_else(|| "http://localhost:3000".to_owned());
    let state = AppState::new(mfa, &public_url)?;
    let edge = edge_from_env()?;
    let app = match handle.sessions() {
        Sessions::Sql(sessions) => {
            let purged = sessions.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(Duration::from_secs(600));
                loop {
                    ticks.tick().await;
                    if let Err(e) = purged.purge_expired().await {
                        tracing::warn!(error = %e, "session purge failed");
                    }
                }
            });
            router(state, &edge, sessions)
        }
        Sessions::Memory(sessions) => router(state, &edge, sessions),
        _ => return Err("unknown session store".into()),
    };
    let listener = TcpListener::bind(args.listen).await?;
    tracing::info!(
        "listening on http://{} (public URL {public_url}); press Enter to stop",
        listener.local_addr()?
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(enter_pressed())
    .await?;
    Ok(())
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
