//! The service: the facade with [`Policy::mandatory_totp`], the users, the web edge, and the
//! router with its layers.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use mfa::core::PasswordHasher;
use mfa::{Clock, EmailAddress, Keyring, MailSettings, Mailer, Mfa, Pepper, Policy, Store};
use mfa_axum::tower_sessions::SessionStore;
use mfa_axum::{EdgeConfig, EdgeConfigBuilder};
use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::users::Users;

/// What the service runs on.
#[derive(Debug)]
pub struct AppParts {
    /// Where counters, challenges and sealed factors live (Redis in this example).
    pub store: Arc<dyn Store>,
    /// Where the lock notices go.
    pub mailer: Arc<dyn Mailer>,
    /// The time source (tests move a manual clock).
    pub clock: Arc<dyn Clock>,
    /// Seals TOTP secrets at rest.
    pub keyring: Keyring,
    /// Keys the digests of recovery codes and handles.
    pub pepper: Pepper,
    /// Argon2id parameters for passwords.
    pub hasher: PasswordHasher,
}

/// How the service is reached and who administers it.
#[derive(Debug)]
pub struct Settings {
    /// The web edge: transport, trusted proxies (the guards' pages are set by the service).
    pub edge: EdgeConfigBuilder,
    /// The address browsers use (`https://login.example.com`): lock notices link to
    /// `{public_url}/unlock?token=...`. `https://`, or `http://localhost` / `http://127.0.0.1`
    /// in development.
    pub public_url: String,
    /// The user names allowed to use `/admin` (signed in with both factors).
    pub admins: Vec<String>,
}

/// The mandatory-TOTP web service. Cheap to clone (shared).
#[derive(Clone)]
pub struct App {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) mfa: Mfa,
    pub(crate) users: Users,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) edge: EdgeConfig,
    pub(crate) admins: BTreeSet<String>,
}

impl core::fmt::Debug for App {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("App")
            .field("admins", &self.inner.admins)
            .finish_non_exhaustive()
    }
}

impl FromRef<App> for Mfa {
    fn from_ref(app: &App) -> Self {
        app.inner.mfa.clone()
    }
}

impl App {
    /// The service with [`Policy::mandatory_totp`]: TOTP enrolment at registration, 8-digit
    /// codes at ±1 step; from unrecognised networks 5 failed codes per 15 minutes per account,
    /// and 10 in an hour lock the account against them until it is unlocked (the emailed link,
    /// or an administrator), with a notice; TOTP secrets sealed with the keyring; 10 recovery
    /// codes. The guards send browsers to `/login`, `/login/totp` and `/register/totp`.
    ///
    /// # Errors
    /// [`Error::Config`] if the facade refuses the parts or the unlock URL, [`Error::Edge`] if
    /// the web edge refuses its settings, [`Error::Password`] if the hasher fails.
    pub fn new(parts: AppParts, settings: Settings) -> Result<Self> {
        let mail = MailSettings::new(
            "Acme",
            EmailAddress::parse("no-reply@acme.test").map_err(Error::Address)?,
            EmailAddress::parse("help@acme.test").map_err(Error::Address)?,
        );
        let public = settings.public_url.trim_end_matches('/');
        let mfa = Mfa::builder()
            .store(parts.store.clone())
            .mailer(parts.mailer)
            .clock(parts.clock)
            .keyring(parts.keyring)
            .pepper(parts.pepper)
            .policy(Policy::mandatory_totp())
            .issuer("Acme")
            .mail_settings(mail)
            .unlock_url(format!("{public}/unlock"))
            .build()?;
        let edge = settings
            .edge
            .pages("/login", "/login/totp", "/login", "/register/totp")
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                mfa,
                users: Users::new(parts.hasher)?,
                store: parts.store,
                edge,
                admins: settings.admins.into_iter().collect(),
            }),
        })
    }

    /// The facade underneath.
    #[must_use]
    pub fn mfa(&self) -> &Mfa {
        &self.inner.mfa
    }

    /// The web edge's validated settings.
    #[must_use]
    pub fn edge(&self) -> &EdgeConfig {
        &self.inner.edge
    }

    /// The routes with their layers: CSRF, the sessions (kept in `sessions`), and the edge
    /// (client address, security headers).
    pub fn router<S: SessionStore + Clone>(&self, sessions: S) -> Router {
        crate::routes::router(self.clone(), sessions)
    }

    /// Serves the routes on `listener` until the task ends.
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
