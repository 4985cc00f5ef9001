//! The "app": password, then an emailed code, then a signed session token.

use std::sync::Arc;
use std::time::SystemTime;

use mfa::core::PasswordHasher;
use mfa::{
    Authority, ChallengeId, Channel, ClientInfo, Clock, EmailAddress, EnrollmentOutcome, Keyring,
    LoginStart, MailSettings, Mailer, Mfa, Outcome, PasswordVerdict, Pepper, Policy, Proof,
    SendOutcome, Store, VerifyOptions,
};

use crate::error::{Error, Result};
use crate::session::{Claims, SessionKey, SessionToken};
use crate::users::Users;

/// The parts the app is built from.
#[derive(Debug)]
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

/// A login that passed the password and waits for the emailed code.
#[derive(Debug)]
pub struct PendingLogin {
    /// The challenge id (keep it in a cookie; it is not the code).
    pub challenge: ChallengeId,
    /// The result of sending the code (when it expires, or a cooldown).
    pub sent: SendOutcome,
}

/// The result of the password step. No variant carries a session: only the code step does.
#[derive(Debug)]
#[non_exhaustive]
pub enum PasswordStep {
    /// Password right: a code was emailed; ask for it.
    CodeSent(PendingLogin),
    /// Wrong user name or password (the same answer for both).
    WrongPassword,
    /// Too many failed passwords for this account, or from this client: try again at `until`.
    Locked {
        /// When attempts are allowed again.
        until: SystemTime,
    },
}

/// The result of the code step.
#[derive(Debug)]
#[non_exhaustive]
pub enum CodeStep {
    /// Both factors passed: the session token.
    Session(SessionToken),
    /// Wrong code: `attempts_left` more tries.
    WrongCode {
        /// Tries left on this login.
        attempts_left: u32,
    },
    /// Unknown, expired or used login: start again.
    Expired,
    /// Too many failures: locked until `until`.
    Locked {
        /// When the lock ends.
        until: SystemTime,
    },
}

/// Password, then an email code (10 minutes, one active per login), then an HS256 JWT.
#[derive(Debug)]
pub struct PasswordEmailApp {
    mfa: Mfa,
    users: Users,
    clock: Arc<dyn Clock>,
    session_key: SessionKey,
}

impl PasswordEmailApp {
    /// The app with [`Policy::password_then_email_code`]: 3 failed passwords in 15 min lock
    /// the account for 10 s against unrecognised networks; 10 failed passwords per client
    /// network in 15 min refuse that client; the code lives 10 min.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) if the facade refuses the parts.
    pub fn new(parts: AppParts) -> Result<Self> {
        let settings = MailSettings::new(
            "Acme",
            EmailAddress::parse("no-reply@acme.test").map_err(Error::Address)?,
            EmailAddress::parse("help@acme.test").map_err(Error::Address)?,
        );
        let mfa = Mfa::builder()
            .store(parts.store)
            .mailer(parts.mailer)
            .clock(parts.clock.clone())
            .keyring(parts.keyring)
            .pepper(parts.pepper)
            .policy(Policy::password_then_email_code())
            .mail_settings(settings)
            .build()?;
        Ok(Self {
            mfa,
            users: Users::new(parts.hasher)?,
            clock: parts.clock,
            session_key: parts.session_key,
        })
    }

    /// The facade underneath.
    #[must_use]
    pub fn mfa(&self) -> &Mfa {
        &self.mfa
    }

    /// Registers `user` with `password` (hashed with Argon2id) and mails `email` a code that
    /// proves the address (the user's first factor); [`confirm_email`](Self::confirm_email)
    /// completes the registration.
    ///
    /// # Errors
    /// [`Error::Address`](crate::Error::Address) for an invalid address,
    /// [`Error::UserExists`](crate::Error::UserExists), or a hashing, store or delivery failure.
    pub async fn register(
        &self,
        user: &str,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<SendOutcome> {
        let address = EmailAddress::parse(email).map_err(Error::Address)?;
        self.users.add(user, &address, password)?;
        Ok(self
            .mfa
            .start_email_enrollment(user, Authority::FirstFactor, &address, client)
            .await?)
    }

    /// Completes the registration with the code from the first email; `true` when confirmed.
    ///
    /// # Errors
    /// A store failure.
    pub async fn confirm_email(&self, user: &str, code: &str, client: &ClientInfo) -> Result<bool> {
        let Some(email) = self.users.email(user) else {
            return Ok(false);
        };
        let done = self
            .mfa
            .finish_email_enrollment(user, Authority::FirstFactor, &email, code, client)
            .await?;
        Ok(matches!(
            done,
            EnrollmentOutcome::Confirmed { .. } | EnrollmentOutcome::AlreadyEnabled
        ))
    }

    /// The password step ([`Mfa::password_step`]): the attempt is counted in its context
    /// before the password is checked, a refused one is not checked at all, and on the right
    /// password a code is emailed (replacing any earlier one of this login).
    ///
    /// # Errors
    /// A hashing, store or delivery failure (a hashing failure counts as a wrong password).
    pub async fn login_password(
        &self,
        user: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<PasswordStep> {
        let mut failure = None;
        let slot = &mut failure;
        let users = &self.users;
        let start = self
            .mfa
            .password_step(user, None, client, move || async move {
                match users.check(user, password) {
                    Ok(true) => PasswordVerdict::Correct,
                    Ok(false) => PasswordVerdict::Wrong,
                    Err(e) => {
                        *slot = Some(e);
                        PasswordVerdict::Unavailable
                    }
                }
            })
            .await;
        if let Some(e) = failure {
            return Err(e);
        }
        match start? {
            LoginStart::ChallengeRequired { challenge_id, .. } => {
                let sent = self
                    .mfa
                    .send_code(&challenge_id, Channel::Email, client)
                    .await?;
                Ok(PasswordStep::CodeSent(PendingLogin {
                    challenge: challenge_id,
                    sent,
                }))
            }
            LoginStart::PasswordRejected => Ok(PasswordStep::WrongPassword),
            LoginStart::LockedOut { until } => Ok(PasswordStep::Locked { until }),
            // No confirmed address (registration incomplete): never a session on the
            // password alone.
            _ => Ok(PasswordStep::WrongPassword),
        }
    }

    /// Sends a new code for the same login; the previous one stops working.
    ///
    /// # Errors
    /// A store or delivery failure.
    pub async fn resend_code(
        &self,
        login: &PendingLogin,
        client: &ClientInfo,
    ) -> Result<SendOutcome> {
        Ok(self
            .mfa
            .send_code(&login.challenge, Channel::Email, client)
            .await?)
    }

    /// The code step: on the right code, the session token (`amr` = `["pwd", "otp"]`).
    ///
    /// # Errors
    /// A store failure, or [`Error::Jwt`](crate::Error::Jwt) if signing fails.
    pub async fn login_second_factor(
        &self,
        login: &PendingLogin,
        code: &str,
        client: &ClientInfo,
    ) -> Result<CodeStep> {
        let outcome = self
            .mfa
            .verify(
                &login.challenge,
                Proof::EmailCode(code),
                client,
                VerifyOptions::new(),
            )
            .await?;
        Ok(match outcome {
            Outcome::Verified { user, .. } => {
                CodeStep::Session(self.session_key.issue(&user, self.clock.unix_secs())?)
            }
            Outcome::Rejected { attempts_left } => CodeStep::WrongCode { attempts_left },
            Outcome::LockedOut { until } => CodeStep::Locked { until },
            _ => CodeStep::Expired,
        })
    }

    /// The claims of a session token signed by this app and not expired on its clock.
    #[must_use]
    pub fn validate_session(&self, token: &str) -> Option<Claims> {
        self.session_key.validate(token, self.clock.unix_secs())
    }

    /// Deletes expired codes and challenges (run it periodically); returns how many.
    ///
    /// # Errors
    /// A store failure.
    pub async fn purge_expired(&self) -> Result<u64> {
        Ok(self.mfa.purge_expired().await?)
    }
}
