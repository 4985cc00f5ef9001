//! A scripted demo session: register an address, sign in by magic link, then by code.
#![allow(
    clippy::print_stdout,
    reason = "a demo binary reports each step on standard output"
)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use email_link_login::{
    ChosenMailer, EmailLinkApp, Registration, SignIn, StoreHandle, StoreKind, code_in_message,
    link_token_in_message, mailer_from_env, newest_outbox_message,
};
use mfa::{ClientInfo, Clock as _, Keyring, ManualClock, Pepper, SealingKey, SystemClock};

/// Passwordless sign-in by email magic link plus 6-digit code.
#[derive(Debug, Parser)]
struct Args {
    /// Store: `postgres` or `redis` (default: `EXAMPLE_STORE`, else postgres).
    #[arg(long)]
    store: Option<String>,
    /// The address to register and sign in with.
    #[arg(long, default_value = "ada@example.com")]
    email: String,
    /// Development outbox folder (used when `SMTP_HOST` is not set).
    #[arg(long, default_value = "outbox")]
    outbox: PathBuf,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let kind: StoreKind = match args.store.or_else(|| std::env::var("EXAMPLE_STORE").ok()) {
        Some(name) => name.parse()?,
        None => StoreKind::Postgres,
    };
    let handle = StoreHandle::connect(kind, &kind.url_from_env(), "email_link_demo").await?;
    println!(
        "store: {} (namespace {})",
        kind.as_str(),
        handle.namespace()
    );
    let result = run(&handle, &args.email, &args.outbox).await;
    handle.remove_data().await?;
    println!("store: namespace removed");
    result
}

async fn run(
    handle: &StoreHandle,
    email: &str,
    outbox: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let (mailer, delivery) = mailer_from_env(outbox)?;
    match &delivery {
        ChosenMailer::Outbox(dir) => println!("mail: development outbox {}", dir.display()),
        _ => println!("mail: SMTP"),
    }
    // The demo skips the 30 s resend cooldown instead of waiting: its clock starts at the real
    // time and moves ahead when told to.
    let clock = ManualClock::at_unix_secs(SystemClock.unix_secs());
    let app = EmailLinkApp::new(
        handle.store(),
        mailer,
        Arc::new(clock.clone()),
        Keyring::new(1, SealingKey::generate()?),
        Pepper::generate()?,
    )?;
    let client =
        ClientInfo::new(Ipv4Addr::LOCALHOST.into()).with_user_agent("email-link-login demo");

    println!(
        "1. register {email}: {:?}",
        app.register(email, &client).await?
    );
    let code = read_from_mail(&delivery, "the code", code_in_message)?;
    let registered = app.confirm_registration(email, &code, &client).await?;
    println!("2. confirm the address with its code: {registered:?}");
    if registered != Registration::Complete {
        return Err("registration was not confirmed".into());
    }

    clock.advance(Duration::from_secs(31));
    println!("   (31 s later)");
    let login = app.begin_login(email, &client).await?;
    let browser = Some("demo-browser");
    let sent = app
        .send_link(&login, "https://localhost:3000/login", browser, &client)
        .await?;
    println!("3. sign in: magic link and code sent: {sent:?}");
    let token = read_from_mail(&delivery, "the link's token", link_token_in_message)?;
    println!(
        "4. open the link (consumes nothing): {:?}",
        app.open_link(&token).await?
    );
    let signed_in = app.confirm_link(&token, browser, &client).await?;
    println!("5. confirm on the page the link opened: {signed_in:?}");
    let again = app.confirm_link(&token, browser, &client).await?;
    println!("6. the same link again: {again:?}");

    clock.advance(Duration::from_secs(31));
    println!("   (31 s later)");
    let login = app.begin_login(email, &client).await?;
    println!(
        "7. sign in by code: {:?}",
        app.send_link(&login, "https://localhost:3000/login", None, &client)
            .await?
    );
    let code = read_from_mail(&delivery, "the code", code_in_message)?;
    let by_code = app.login_with_code(&login, &code, &client).await?;
    println!("8. type the code: {by_code:?}");
    if !matches!(by_code, SignIn::SignedIn { .. }) {
        return Err("sign-in by code failed".into());
    }
    Ok(())
}

/// What the user reads in their mail: the newest outbox file, or (with real SMTP) what they
/// paste in. Nothing read here is printed.
fn read_from_mail(
    delivery: &ChosenMailer,
    what: &str,
    find: fn(&str) -> Option<String>,
) -> Result<String, Box<dyn std::error::Error>> {
    let found = match delivery {
        ChosenMailer::Outbox(dir) => newest_outbox_message(dir)?.as_deref().and_then(find),
        _ => {
            println!("   paste {what} from the email and press Enter:");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            Some(line.trim().to_owned()).filter(|l| !l.is_empty())
        }
    };
    found.ok_or_else(|| format!("{what} was not found in the newest message").into())
}
