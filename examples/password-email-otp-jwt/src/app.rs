//! The service's state: the facade with `Policy::password_then_email_code()`, the users and
//! their password hashes, and the key session tokens are signed with.

use std::sync::Arc;
use std::time::Duration;

use mfa::core::{ChallengeKind, PasswordHasher};
use mfa::{
    Clock, EmailAddress, Keyring, MailSettings, Mailer, Mfa, PasswordVerdict, Pepper, Policy, Store,
};

use crate::error::{Error, Result};
use crate::session::{Claims, SessionKey, SessionToken};
use crate::users::Users;

/// The parts the service is built from.
pub struct AppParts {
    /// Where the second-factor state lives.
    pub store: Arc<dyn Store>,
    /// Where codes go.
    pub mailer: Arc<dyn Mailer>,
    /// The time source (tests move a manual clock).
    pub clock: Arc<dyn Clock>,
    /// Seals TOTP secrets (unused by this flow, required by the facade).
    pub keyring: Keyring,
    /// Keys the digests codes are stored as.
    pub pepper: Pepper,
    /// Argon2id parameters for passwords.
    pub hasher: PasswordHasher,
    /// Signs session tokens.
    pub session_key: SessionKey,
}

impl core::fmt::Debug for AppParts {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppParts").finish_non_exhaustive()
    }
}

/// The service's shared state (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    mfa: Mfa,
    users: Arc<Users>,
    session_key: SessionKey,
}

impl core::fmt::Debug for AppState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// The state with [`Policy::password_then_email_code`]: 3 failed passwords in 15 minutes
    /// lock the account for 10 seconds against unrecognised networks; 10 failed passwords from
    /// one network in 15 minutes, across accounts, refuse that network; the emailed code lives
    /// 10 minutes, one active per login. Mail comes from `no-reply@acme.test` for "Acme".
    ///
    /// # Errors
    /// [`Error::Config`] if the facade refuses the parts, [`Error::Password`] if the hasher
    /// cannot hash.
    pub fn new(parts: AppParts) -> Result<Self> {
        let settings = MailSettings::new(
            "Acme",
            EmailAddress::parse("no-reply@acme.test").map_err(Error::Address)?,
            EmailAddress::parse("help@acme.test").map_err(Error::Address)?,
        );
        let mfa = Mfa::builder()
            .store(parts.store)
            .mailer(parts.mailer)
            .clock(parts.clock)
            .keyring(parts.keyring)
            .pepper(parts.pepper)
            .policy(Policy::password_then_email_code())
            .mail_settings(settings)
            .build()?;
        Ok(Self(Arc::new(Inner {
            mfa,
            users: Arc::new(Users::new(parts.hasher)?),
            session_key: parts.session_key,
        })))
    }

    /// The facade.
    #[must_use]
    pub fn mfa(&self) -> &Mfa {
        &self.0.mfa
    }

    /// How long an emailed code lives (10 minutes).
    #[must_use]
    pub fn code_lifetime(&self) -> Duration {
        self.mfa().policy().lifetime(ChallengeKind::EmailCode)
    }

    fn unix_now(&self) -> u64 {
        self.mfa()
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// Adds `user` with the Argon2id hash of `password` (hashed off the async threads).
    pub(crate) async fn add_user(
        &self,
        user: &str,
        email: &EmailAddress,
        password: &str,
    ) -> Result<()> {
        let users = Arc::clone(&self.0.users);
        let (user, email, password) = (user.to_owned(), email.clone(), password.to_owned());
        let password = zeroize::Zeroizing::new(password);
        tokio::task::spawn_blocking(move || users.add(&user, &email, &password))
            .await
            .map_err(|_| Error::Setting("the password hashing task failed"))?
    }

    /// Forgets `user` (a registration whose code could not be sent).
    pub(crate) fn remove_user(&self, user: &str) {
        self.0.users.remove(user);
    }

    /// The address of `user`, if registered.
    pub(crate) fn email_of(&self, user: &str) -> Option<EmailAddress> {
        self.0.users.email(user)
    }

    /// Checks `password` for `user` off the async threads (the same work for unknown users).
    /// A failure of the hasher is [`PasswordVerdict::Unavailable`]: the facade gives the
    /// attempt back and the service answers 503.
    pub(crate) async fn check_password(&self, user: &str, password: &str) -> PasswordVerdict {
        let users = Arc::clone(&self.0.users);
        let user = user.to_owned();
        let password = zeroize::Zeroizing::new(password.to_owned());
        match tokio::task::spawn_blocking(move || users.check(&user, &password)).await {
            Ok(Ok(true)) => PasswordVerdict::Correct,
            Ok(Ok(false)) => PasswordVerdict::Wrong,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "password check failed");
                PasswordVerdict::Unavailable
            }
            Err(_) => PasswordVerdict::Unavailable,
        }
    }

    /// A session token for `user`, issued now.
    pub(crate) fn issue(&self, user: &str) -> Result<SessionToken> {
        self.0.session_key.issue(user, self.unix_now())
    }

    /// The claims of a session token signed by this service and not expired on its clock.
    #[must_use]
    pub fn validate_session(&self, token: &str) -> Option<Claims> {
        self.0.session_key.validate(token, self.unix_now())
    }
}

impl axum::extract::FromRef<AppState> for Mfa {
    fn from_ref(state: &AppState) -> Self {
        state.0.mfa.clone()
    }
}
