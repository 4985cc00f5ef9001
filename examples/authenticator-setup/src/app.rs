//! The application: the facade with the seed's policy, its store, and the API's settings.

use std::net::SocketAddr;
use std::sync::Arc;

use mfa::{Clock, EmailAddress, Keyring, MailSettings, Mfa, Pepper, Policy, SmsSender, Store};
use mfa_store_sql::{MySqlStore, SqlStoreConfig, SqliteStore};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::cookie::{CookieSecurity, TRUSTED_DEVICE_DAYS};
use crate::error::Result;
use crate::routes::router;

/// What the facade runs on.
#[derive(Debug)]
pub struct Backends {
    /// Where factors, challenges and devices live (SQLite or MariaDB here).
    pub store: Arc<dyn Store>,
    /// How SMS codes leave (`ConsoleSms` in the binary, `MemorySms` in the tests).
    pub sms: Arc<dyn SmsSender>,
    /// The clock (the system clock; tests move a manual one).
    pub clock: Arc<dyn Clock>,
    /// The key that seals TOTP secrets at rest.
    pub keyring: Keyring,
    /// The key of the digests of codes and tokens.
    pub pepper: Pepper,
}

/// Builds the facade with [`Policy::authenticator_setup`] and trusted devices remembered for
/// [`TRUSTED_DEVICE_DAYS`] days. The flow sends no email, so the facade has no mailer; the mail
/// settings name the product in the SMS texts.
///
/// # Errors
/// [`Error::Config`](crate::Error::Config) when the facade refuses its configuration.
pub fn build_mfa(backends: Backends, issuer: &str) -> Result<Mfa> {
    let settings = MailSettings::new(
        issuer,
        EmailAddress::parse("no-reply@example.com").map_err(mfa::Error::from)?,
        EmailAddress::parse("support@example.com").map_err(mfa::Error::from)?,
    );
    Ok(Mfa::builder()
        .store(backends.store)
        .sms(backends.sms)
        .clock(backends.clock)
        .keyring(backends.keyring)
        .pepper(backends.pepper)
        .policy(Policy::authenticator_setup())
        .trusted_device_days(TRUSTED_DEVICE_DAYS)
        .issuer(issuer)
        .mail_settings(settings)
        .build()?)
}

/// Opens the store at `url` and migrates it: `mysql://…` (MariaDB/MySQL) or `sqlite:…`.
///
/// # Errors
/// [`Error::Store`](crate::Error::Store) when the database is unreachable or the migration
/// fails; [`Error::BadRequest`](crate::Error::BadRequest) for another scheme.
pub async fn connect_store(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("mysql:") || url.starts_with("mariadb:") {
        let store = MySqlStore::connect(url, SqlStoreConfig::default()).await?;
        store.migrate().await?;
        Ok(Arc::new(store))
    } else if url.starts_with("sqlite:") {
        let store = SqliteStore::connect(url, SqlStoreConfig::default()).await?;
        store.migrate().await?;
        Ok(Arc::new(store))
    } else {
        Err(crate::Error::BadRequest(
            "the database URL must start with mysql: or sqlite:",
        ))
    }
}

/// The API's shared state: the facade and the settings of the HTTP layer.
pub struct App {
    pub(crate) mfa: Mfa,
    pub(crate) cookies: CookieSecurity,
    demo_password: Zeroizing<String>,
}

impl core::fmt::Debug for App {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("App")
            .field("cookies", &self.cookies)
            .finish_non_exhaustive()
    }
}

impl App {
    /// The API over `mfa`. The password step is simulated: every user's password is
    /// `demo_password` (a real application checks its own password hashes there).
    #[must_use]
    pub fn new(mfa: Mfa, cookies: CookieSecurity, demo_password: &str) -> Self {
        Self {
            mfa,
            cookies,
            demo_password: Zeroizing::new(demo_password.to_owned()),
        }
    }

    /// The facade.
    #[must_use]
    pub fn mfa(&self) -> &Mfa {
        &self.mfa
    }

    /// The simulated password check, in constant time.
    pub(crate) fn password_ok(&self, password: &str) -> bool {
        bool::from(password.as_bytes().ct_eq(self.demo_password.as_bytes()))
    }

    /// Serves the API on `listener` until the task is dropped.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) when serving fails.
    pub async fn serve(self, listener: TcpListener) -> Result<()> {
        let service = router(Arc::new(self)).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service).await?;
        Ok(())
    }
}
