//! A scripted run of the seed-5 flow against the local PostgreSQL: the program plays the
//! authenticator app; you type the SMS codes (printed by `ConsoleSms`, or sent by Twilio).
#![allow(
    clippy::print_stdout,
    reason = "a command-line demo reports its steps on standard output"
)]

use std::io::BufRead as _;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mfa::mail::ConsoleSms;
use mfa::{ClientInfo, Keyring, Pepper, SealingKey, SmsSender, SystemClock};
use mfa_store_sql::sqlx::{self, AssertSqlSafe};
use totp_backup_sms::{
    Answer, Backends, SignIn, TotpAccount, TotpBackupSms, TwilioAccount, connect_postgres,
    twilio_sms,
};
use zeroize::Zeroizing;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> BoxResult<()> {
    let url = env_or(
        "MFA_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    let phone = env_or("DEMO_PHONE", "+15005550006");
    let schema = format!("totp_backup_sms_demo_{:016x}", getrandom::u64()?);
    let store = connect_postgres(&url, &schema).await?;
    let pool = store.pool().clone();
    println!("PostgreSQL {url}, schema {schema} (dropped at the end)");

    let sms: Arc<dyn SmsSender> = match std::env::var("TWILIO_ACCOUNT_SID") {
        Ok(account_sid) => {
            println!("SMS through Twilio (TWILIO_ACCOUNT_SID is set)");
            Arc::new(twilio_sms(&TwilioAccount {
                account_sid,
                auth_token: std::env::var("TWILIO_AUTH_TOKEN")?,
                from: std::env::var("TWILIO_FROM")?,
                base_url: std::env::var("TWILIO_BASE_URL").ok(),
            })?)
        }
        Err(_) => {
            println!("SMS on the console (ConsoleSms, development only)");
            Arc::new(ConsoleSms::new())
        }
    };
    let flow = TotpBackupSms::new(
        Backends {
            store: Arc::new(store),
            sms,
            clock: Arc::new(SystemClock),
            keyring: Keyring::new(1, SealingKey::generate()?),
            pepper: Pepper::generate()?,
        },
        "Acme",
    )?;
    let outcome = run(&flow, &phone).await;
    let _ = sqlx::query(AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&pool)
    .await;
    pool.close().await;
    outcome
}

async fn run(flow: &TotpBackupSms, phone: &str) -> BoxResult<()> {
    let user = "alice";
    let client =
        ClientInfo::new(Ipv4Addr::LOCALHOST.into()).with_user_agent("totp-backup-sms demo");

    // 1. Authenticator: the Key URI / QR is shown once; the first code activates it.
    let setup = flow.start_authenticator(user, &client).await?;
    println!(
        "1. authenticator set-up: Key URI and QR code issued ({} bytes of SVG)",
        setup.qr_svg().len()
    );
    let app = TotpAccount::from_base32(setup.secret_base32())?;
    let codes = flow
        .confirm_authenticator(user, &app.code_now()?, &client)
        .await?;
    let backup: Vec<Zeroizing<String>> = codes.expose();
    println!(
        "   activated; {} backup codes shown once to the user (not printed by this demo)",
        backup.len()
    );

    // 2. SMS fallback: the number is confirmed with a code. A change of factors once the
    //    authenticator is active: after a step-up with it (a new 30 s step: the enrolment code
    //    cannot be replayed).
    wait(Duration::from_secs(30), "the next TOTP step").await;
    let grant = flow
        .step_up(user, Answer::Totp(&app.code_now()?), &client)
        .await?;
    flow.start_sms_fallback(user, &grant, phone, &client)
        .await?;
    let sms_sent = Instant::now();
    let code = prompt("2. SMS fallback (after a step-up): type the code sent to the phone")?;
    flow.confirm_sms_fallback(user, &grant, phone, &code, &client)
        .await?;
    println!("   SMS fallback confirmed for {phone}");

    // 3. A backup code signs in once; the same code again is refused.
    let first = backup.first().ok_or("no backup code")?;
    for attempt in ["3. backup code", "   same backup code again"] {
        let login = flow.begin_login(user, &client).await?;
        let result = flow
            .sign_in(&login.challenge_id, Answer::BackupCode(first), &client)
            .await?;
        println!("{attempt}: {result:?}");
    }

    // 4. The authenticator app (a new 30 s step: the step-up's code cannot be replayed).
    wait(Duration::from_secs(30), "the next TOTP step").await;
    let login = flow.begin_login(user, &client).await?;
    let result = flow
        .sign_in(&login.challenge_id, Answer::Totp(&app.code_now()?), &client)
        .await?;
    println!("4. authenticator code: {result:?}");

    // 5. SMS fallback login: the code lives 5 minutes (60 s resend cooldown per number).
    wait(
        Duration::from_secs(61).saturating_sub(sms_sent.elapsed()),
        "the SMS resend cooldown",
    )
    .await;
    let login = flow.begin_login(user, &client).await?;
    let id = login.challenge_id;
    flow.send_sms_code(&id, &client).await?;
    let code = prompt("5. SMS fallback login: type the code sent to the phone")?;
    let result = flow.sign_in(&id, Answer::SmsCode(&code), &client).await?;
    println!("   {result:?}");

    // 6. Regenerate (after a step-up with another backup code): the old set stops working.
    let second = backup.get(1).ok_or("no second backup code")?;
    let grant = flow
        .step_up(user, Answer::BackupCode(second), &client)
        .await?;
    let fresh = flow.regenerate_backup_codes(user, &grant).await?;
    println!(
        "6. regenerated: {} new codes, {} left",
        fresh.len(),
        flow.backup_codes_left(user).await?
    );
    let login = flow.begin_login(user, &client).await?;
    let third = backup.get(2).ok_or("no third backup code")?;
    let result = flow
        .sign_in(&login.challenge_id, Answer::BackupCode(third), &client)
        .await?;
    println!("   an old backup code: {result:?}");
    if matches!(result, SignIn::Verified { .. }) {
        return Err("an old backup code still worked".into());
    }
    Ok(())
}

/// Reads one line from standard input after showing `question`.
fn prompt(question: &str) -> BoxResult<Zeroizing<String>> {
    println!("{question}:");
    let mut line = Zeroizing::new(String::new());
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(Zeroizing::new(line.trim().to_owned()))
}

async fn wait(duration: Duration, what: &str) {
    if !duration.is_zero() {
        println!("   (waiting {} s for {what})", duration.as_secs());
        tokio::time::sleep(duration).await;
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}
