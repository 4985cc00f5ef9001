//! The service: the facade with the seed's policy, its SQL store and sessions, and the web
//! edge.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use mfa::{Clock, EmailAddress, Keyring, MailSettings, Mfa, Pepper, Policy, SmsSender, Store};
use mfa_axum::tower_sessions::SessionStore;
use mfa_axum::{EdgeConfig, EdgeConfigBuilder, SqlSessionStore};
use mfa_store_sql::{MySqlStore, SqlStoreConfig, SqliteStore};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// How many days a remembered device skips the second factor (the facade's trusted-device
/// lifetime, and the `Max-Age` of its cookie).
pub const TRUSTED_DEVICE_DAYS: u32 = 30;

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
/// [`Error::Config`] when the facade refuses its configuration.
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

/// Opens the database at `url` (`mysql://…` for MariaDB/MySQL, or `sqlite:…`), migrates the
/// facade's tables and the session table (`mfa_sessions`), and returns the facade's store and
/// the session store on the same pool.
///
/// # Errors
/// [`Error::Store`] or [`Error::Edge`] when the database is unreachable or a migration fails;
/// [`Error::Setting`] for another scheme.
pub async fn connect(url: &str) -> Result<(Arc<dyn Store>, SqlSessionStore)> {
    let (store, sessions): (Arc<dyn Store>, SqlSessionStore) =
        if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            let store = MySqlStore::connect(url, SqlStoreConfig::default()).await?;
            store.migrate().await?;
            let sessions = SqlSessionStore::mysql(store.pool().clone(), "mfa_")?;
            (Arc::new(store), sessions)
        } else if url.starts_with("sqlite:") {
            let store = SqliteStore::connect(url, SqlStoreConfig::default()).await?;
            store.migrate().await?;
            let sessions = SqlSessionStore::sqlite(store.pool().clone(), "mfa_")?;
            (Arc::new(store), sessions)
        } else {
            return Err(Error::Setting(
                "the database URL must start with mysql: or sqlite:".into(),
            ));
        };
    sessions.migrate().await?;
    Ok((store, sessions))
}

/// The API. Cheap to clone (shared).
#[derive(Clone)]
pub struct App {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) mfa: Mfa,
    pub(crate) edge: EdgeConfig,
    demo_password: Zeroizing<String>,
}

impl core::fmt::Debug for App {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("App")
            .field("transport", &self.inner.edge.transport())
            .finish_non_exhaustive()
    }
}

impl FromRef<App> for Mfa {
    fn from_ref(app: &App) -> Self {
        app.inner.mfa.clone()
    }
}

impl App {
    /// The API over `mfa`, reached as `edge` says (the transport decides `Secure` cookies and
    /// HSTS; behind a proxy, which proxies to trust). The password step is simulated: every
    /// user's password is `demo_password` (a real application checks its own hashes there).
    ///
    /// # Errors
    /// [`Error::Edge`] when the web edge refuses its settings.
    pub fn new(mfa: Mfa, edge: EdgeConfigBuilder, demo_password: &str) -> Result<Self> {
        let edge = edge
            .trusted_device_lifetime(mfa.trusted_device_lifetime())
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                mfa,
                edge,
                demo_password: Zeroizing::new(demo_password.to_owned()),
            }),
        })
    }

    /// The facade.
    #[must_use]
    pub fn mfa(&self) -> &Mfa {
        &self.inner.mfa
    }

    /// The simulated password check, in constant time.
    pub(crate) fn password_ok(&self, password: &str) -> bool {
        bool::from(
            password
                .as_bytes()
                .ct_eq(self.inner.demo_password.as_bytes()),
        )
    }

    /// The routes with their layers: CSRF (the `X-CSRF-Token` header), the sessions (kept in
    /// `sessions`), and the edge (client address, security headers, HSTS over TLS).
    pub fn router<S: SessionStore + Clone>(&self, sessions: S) -> Router {
        crate::routes::router(self.clone(), sessions)
    }

    /// Serves the API on `listener` until the task ends.
    ///
    /// # Errors
    /// [`Error::Io`] when serving fails.
    pub async fn serve<S: SessionStore + Clone>(
        self,
        listener: TcpListener,
        sessions: S,
    ) -> Result<()> {
        let service = self
            .router(sessions)
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service).await?;
        Ok(())
    }
}
