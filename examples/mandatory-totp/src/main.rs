//! A scripted demo session: registration with an authenticator, password + TOTP logins, a
//! recovery code, a stranger's 10 failures locking unrecognised networks out (with the notice
//! email) while the user's own network still signs in, and the admin unlock.
#![allow(
    clippy::print_stdout,
    reason = "a demo binary reports each step on standard output"
)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use mandatory_totp::{
    AppParts, ChosenMailer, FactorStep, MandatoryTotpApp, PasswordStep, PendingLogin,
    RegistrationStep, SecondFactor, StoreHandle, authenticator_code, mailer_from_env,
};
use mfa::core::PasswordHasher;
use mfa::{ClientInfo, Clock as _, Keyring, ManualClock, Pepper, SealingKey, SystemClock};

/// Mandatory TOTP at registration, password then TOTP at login, limits counted in Redis.
#[derive(Debug, Parser)]
struct Args {
    /// The user to register.
    #[arg(long, default_value = "carol")]
    user: String,
    /// Where security notices go.
    #[arg(long, default_value = "carol@example.com")]
    email: String,
    /// Development outbox folder (used when `SMTP_HOST` is not set).
    #[arg(long, default_value = "outbox")]
    outbox: PathBuf,
}

const PASSWORD: &str = "correct horse battery staple";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let handle = StoreHandle::connect(&StoreHandle::url_from_env(), "mandatory-totp-demo").await?;
    println!("store: redis (key prefix {})", handle.namespace());
    let result = run(&handle, &args).await;
    handle.remove_data().await?;
    println!("store: keys removed");
    result
}

async fn run(handle: &StoreHandle, args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let (mailer, delivery) = mailer_from_env(&args.outbox)?;
    if let ChosenMailer::Outbox(dir) = &delivery {
        println!("mail: development outbox {}", dir.display());
    } else {
        println!("mail: SMTP");
    }
    // The demo moves its own clock (starting at the real time) past TOTP steps and lockout
    // windows instead of waiting.
    let clock = ManualClock::at_unix_secs(SystemClock.unix_secs());
    let app = MandatoryTotpApp::new(AppParts {
        store: handle.store(),
        mailer,
        clock: Arc::new(clock.clone()),
        keyring: Keyring::new(1, SealingKey::generate()?),
        pepper: Pepper::generate()?,
        hasher: PasswordHasher::default(),
    })?;
    let client = ClientInfo::new(Ipv4Addr::LOCALHOST.into()).with_user_agent("mandatory-totp demo");
    let user = args.user.as_str();
    let later = |secs: u64| {
        clock.advance(Duration::from_secs(secs));
        println!("   ({secs} s later)");
    };

    let enrollment = app.register(user, &args.email, PASSWORD, &client).await?;
    println!(
        "1. register {user}: scan the QR code ({} bytes of SVG) with an authenticator app",
        enrollment.qr_svg().len()
    );
    let early = app.login_password(user, PASSWORD, &client).await?;
    println!("2. log in before enrolling the authenticator: {early:?}");
    // The user's phone shows the code; the demo computes it from the scanned Key URI.
    let first = authenticator_code(enrollment.key_uri(), clock.unix_secs())?;
    let RegistrationStep::Complete { recovery_codes } =
        app.complete_registration(user, &first, &client).await?
    else {
        return Err("the authenticator's first code was refused".into());
    };
    println!(
        "3. first 8-digit code accepted: registration complete, {} recovery codes shown once",
        recovery_codes.len()
    );

    later(30);
    let login = password(&app, user, &client).await?;
    let code = authenticator_code(enrollment.key_uri(), clock.unix_secs())?;
    let step = app
        .login_second_factor(&login, SecondFactor::Totp(&code), &client)
        .await?;
    println!("4. password, then TOTP: {step:?}");

    let login = password(&app, user, &client).await?;
    let recovery = recovery_codes.expose();
    let first_recovery = recovery.first().ok_or("no recovery codes")?;
    let step = app
        .login_second_factor(&login, SecondFactor::RecoveryCode(first_recovery), &client)
        .await?;
    println!("5. password, then a recovery code instead: {step:?}");

    // A stranger who has the password guesses codes from another network, where the seed's
    // limits apply (the user's network is recognised since the first login: it has its own).
    let attacker = ClientInfo::new(Ipv4Addr::new(203, 0, 113, 9).into());
    let login = password(&app, user, &attacker).await?;
    for attempt in 1..=5 {
        let step = app
            .login_second_factor(&login, SecondFactor::Totp("00000000"), &attacker)
            .await?;
        println!("6.{attempt} a stranger's wrong TOTP code: {step:?}");
    }
    later(900);
    let login = password(&app, user, &attacker).await?;
    for attempt in 6..=10 {
        let step = app
            .login_second_factor(&login, SecondFactor::Totp("00000000"), &attacker)
            .await?;
        println!("6.{attempt} a stranger's wrong TOTP code: {step:?}");
    }
    println!("   a notice went to {}", args.email);
    println!(
        "7. the stranger logs in while locked: {:?}",
        app.login_password(user, PASSWORD, &attacker).await?
    );
    later(30);
    let login = password(&app, user, &client).await?;
    let code = authenticator_code(enrollment.key_uri(), clock.unix_secs())?;
    let step = app
        .login_second_factor(&login, SecondFactor::Totp(&code), &client)
        .await?;
    println!("8. {user} from her usual network meanwhile: {step:?}");
    let travelling = ClientInfo::new(Ipv4Addr::new(198, 51, 100, 20).into());
    println!(
        "9. {user} from a new network: {:?}",
        app.login_password(user, PASSWORD, &travelling).await?
    );
    app.admin_unlock(user, "admin@acme.test").await?;
    println!("10. an administrator unlocks {user}");
    later(30);
    let login = password(&app, user, &travelling).await?;
    let code = authenticator_code(enrollment.key_uri(), clock.unix_secs())?;
    let step = app
        .login_second_factor(&login, SecondFactor::Totp(&code), &travelling)
        .await?;
    println!("11. {user} from the new network, password then TOTP: {step:?}");
    if !matches!(step, FactorStep::Session(_)) {
        return Err("login after the unlock failed".into());
    }
    Ok(())
}

async fn password(
    app: &MandatoryTotpApp,
    user: &str,
    client: &ClientInfo,
) -> Result<PendingLogin, Box<dyn std::error::Error>> {
    match app.login_password(user, PASSWORD, client).await? {
        PasswordStep::TotpRequired(login) => Ok(login),
        other => Err(format!("password step: {other:?}").into()),
    }
}
