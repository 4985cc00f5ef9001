//! A scripted demo session: register, fail the password, log in with password and emailed
//! code, receive a JWT.
#![allow(
    clippy::print_stdout,
    reason = "a demo binary reports each step on standard output"
)]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use mfa::core::PasswordHasher;
use mfa::{ClientInfo, Clock as _, Keyring, ManualClock, Pepper, SealingKey, SystemClock};
use password_email_otp_jwt::{
    AppParts, ChosenMailer, CodeStep, PasswordEmailApp, PasswordStep, SessionKey, StoreHandle,
    StoreKind, code_in_message, mailer_from_env, newest_outbox_message,
};

/// Password, then an emailed code, then a signed JWT.
#[derive(Debug, Parser)]
struct Args {
    /// Store: `sqlite` (a temporary file) or `postgres` (default: `EXAMPLE_STORE`, else sqlite).
    #[arg(long)]
    store: Option<String>,
    /// The address the code goes to.
    #[arg(long, default_value = "bob@example.com")]
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
        None => StoreKind::Sqlite,
    };
    let handle = StoreHandle::connect(kind, "password_email_demo").await?;
    println!("store: {} ({})", kind.as_str(), handle.namespace());
    let result = run(&handle, &args.email, &args.outbox).await;
    handle.remove_data().await?;
    println!("store: removed");
    result
}

async fn run(
    handle: &StoreHandle,
    email: &str,
    outbox: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let (mailer, delivery) = mailer_from_env(outbox)?;
    if let ChosenMailer::Outbox(dir) = &delivery {
        println!("mail: development outbox {}", dir.display());
    } else {
        println!("mail: SMTP");
    }
    // The demo skips the 30 s resend cooldown instead of waiting: its clock starts at the real
    // time and moves ahead when told to.
    let clock = ManualClock::at_unix_secs(SystemClock.unix_secs());
    let app = PasswordEmailApp::new(AppParts {
        store: handle.store(),
        mailer,
        clock: Arc::new(clock.clone()),
        keyring: Keyring::new(1, SealingKey::generate()?),
        pepper: Pepper::generate()?,
        hasher: PasswordHasher::default(),
        session_key: SessionKey::generate()?,
    })?;
    let client =
        ClientInfo::new(Ipv4Addr::LOCALHOST.into()).with_user_agent("password-email-otp-jwt demo");
    let password = "correct horse battery staple";

    println!(
        "1. register bob: {:?}",
        app.register("bob", email, password, &client).await?
    );
    let code = read_code(&delivery)?;
    println!(
        "2. confirm the address: {}",
        app.confirm_email("bob", &code, &client).await?
    );

    let wrong = app.login_password("bob", "hunter2", &client).await?;
    println!("3. log in with a wrong password: {wrong:?}");

    clock.advance(Duration::from_secs(31));
    println!("   (31 s later)");
    let PasswordStep::CodeSent(login) = app.login_password("bob", password, &client).await? else {
        return Err("the right password did not lead to the code step".into());
    };
    println!(
        "4. right password: code sent ({:?}); no session yet",
        login.sent
    );
    let code = read_code(&delivery)?;
    let CodeStep::Session(token) = app.login_second_factor(&login, &code, &client).await? else {
        return Err("the code did not verify".into());
    };
    println!(
        "5. code verified: session token issued ({} bytes)",
        token.expose().len()
    );
    let claims = app
        .validate_session(token.expose())
        .ok_or("the token does not validate")?;
    println!(
        "6. token validates: sub={} amr={:?} lifetime={} s",
        claims.sub,
        claims.amr,
        claims.exp.saturating_sub(claims.iat)
    );
    println!("7. purged {} expired records", app.purge_expired().await?);
    Ok(())
}

/// The code as the user reads it: from the newest outbox file, or pasted in (real SMTP).
/// Never printed.
fn read_code(delivery: &ChosenMailer) -> Result<String, Box<dyn std::error::Error>> {
    let found = match delivery {
        ChosenMailer::Outbox(dir) => newest_outbox_message(dir)?
            .as_deref()
            .and_then(code_in_message),
        _ => {
            println!("   paste the code from the email and press Enter:");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            Some(line.trim().to_owned()).filter(|l| !l.is_empty())
        }
    };
    found.ok_or_else(|| "no code in the newest message".into())
}
