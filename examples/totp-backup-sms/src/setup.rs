//! Wiring: the facade with the seed's policy, the PostgreSQL store and the Twilio sender.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use mfa::mail::{TwilioConfig, TwilioSender, TwilioSms};
use mfa::{
    Clock, EmailAddress, Keyring, MailSettings, Mfa, Pepper, PhoneNumber, Policy, SmsSender, Store,
};
use mfa_axum::SqlSessionStore;
use mfa_store_sql::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use mfa_store_sql::{PgStore, SqlStoreConfig};

use crate::error::Result;

/// How many backup codes a user gets (the seed: ten).
pub const BACKUP_CODES: usize = 10;

/// How long an SMS code lives (the seed: five minutes).
pub const SMS_CODE_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// What the flow runs on: the store, the SMS sender, the clock and the key material.
#[derive(Debug)]
pub struct Backends {
    /// Where factors, challenges and backup-code digests live (PostgreSQL here).
    pub store: Arc<dyn Store>,
    /// How SMS codes leave (Twilio, or the console in development).
    pub sms: Arc<dyn SmsSender>,
    /// The clock (the system clock; tests move a manual one).
    pub clock: Arc<dyn Clock>,
    /// The key that seals TOTP secrets at rest.
    pub keyring: Keyring,
    /// The key of the digests of codes and tokens.
    pub pepper: Pepper,
}

/// Builds the facade with [`Policy::totp_backup_sms`] and [`BACKUP_CODES`] backup codes.
///
/// The flow sends no email (TOTP, backup codes and SMS only), so the facade has no mailer; the
/// mail settings name the product in the SMS texts (codes, and the notices sent by SMS).
///
/// # Errors
/// [`Error::Config`](crate::Error::Config) when the facade refuses its configuration, or a
/// mail setting is refused.
pub fn build_mfa(backends: Backends, issuer: &str) -> Result<Mfa> {
    let settings = MailSettings::new(
        issuer,
        EmailAddress::parse("no-reply@example.com")?,
        EmailAddress::parse("support@example.com")?,
    );
    Ok(Mfa::builder()
        .store(backends.store)
        .sms(backends.sms)
        .clock(backends.clock)
        .keyring(backends.keyring)
        .pepper(backends.pepper)
        .policy(Policy::totp_backup_sms())
        .recovery_codes(BACKUP_CODES)
        .issuer(issuer)
        .mail_settings(settings)
        .build()?)
}

/// Connects to PostgreSQL at `url`, with the facade's tables in `schema` (created, and
/// migrated), and the session table (`mfa_sessions`) in the same schema.
///
/// # Errors
/// [`Error::Store`](crate::Error::Store) or [`Error::Edge`](crate::Error::Edge) when the server
/// is unreachable, the schema name is not `[a-z0-9_]+`, or a migration fails.
pub async fn connect(url: &str, schema: &str) -> Result<(PgStore, SqlSessionStore)> {
    let config = SqlStoreConfig::default().with_schema(schema)?;
    let store = PgStore::connect(url, config).await?;
    store.migrate().await?;
    let sessions = session_store(url, schema).await?;
    Ok((store, sessions))
}

/// The session store in `schema` (which must exist): its own small pool whose connections
/// search that schema, so `mfa_sessions` lives beside the facade's tables (and goes with them).
///
/// # Errors
/// [`Error::Store`](crate::Error::Store) for a bad URL or an unreachable server,
/// [`Error::Edge`](crate::Error::Edge) when the migration fails.
pub async fn session_store(url: &str, schema: &str) -> Result<SqlSessionStore> {
    let options = PgConnectOptions::from_str(url)
        .map_err(mfa_store_sql::Error::from)?
        .options([("search_path", schema)]);
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(options)
        .await
        .map_err(mfa_store_sql::Error::from)?;
    let sessions = SqlSessionStore::postgres(pool, "mfa_")?;
    sessions.migrate().await?;
    Ok(sessions)
}

/// The Twilio (or Twilio-compatible) account to send SMS through.
pub struct TwilioAccount {
    /// The Account SID (`AC…`).
    pub account_sid: String,
    /// The auth token (a secret: redacted in `Debug`).
    pub auth_token: String,
    /// The sending number, international form.
    pub from: String,
    /// The API base URL; `None` for Twilio's own (`https://api.twilio.com`).
    pub base_url: Option<String>,
}

impl core::fmt::Debug for TwilioAccount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TwilioAccount")
            .field("account_sid", &self.account_sid)
            .field("from", &self.from)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The SMS sender for `account`: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` with
/// basic auth and the `To`, `From` and `Body` form fields.
///
/// # Errors
/// [`Error::Core`](crate::Error::Core) for a malformed number,
/// [`Error::Sms`](crate::Error::Sms) for a malformed SID.
pub fn twilio_sms(account: &TwilioAccount) -> Result<TwilioSms> {
    let from = PhoneNumber::parse(&account.from)?;
    let mut config = TwilioConfig::new(
        account.account_sid.clone(),
        account.auth_token.clone(),
        TwilioSender::From(from),
    );
    if let Some(base) = &account.base_url {
        config = config.with_base_url(base.clone());
    }
    Ok(TwilioSms::new(config)?)
}
