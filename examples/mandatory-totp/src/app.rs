//! The "app": registration that requires an authenticator, then password + TOTP logins.

use std::sync::Arc;
use std::time::SystemTime;

use mfa::core::PasswordHasher;
use mfa::store::MfaSettings;
use mfa::{
    Authority, ChallengeId, ClientInfo, Clock, EmailAddress, EnrollmentOutcome, Keyring,
    LoginStart, MailSettings, Mailer, Mfa, Outcome, PasswordVerdict, Pepper, Policy, Proof,
    RecoveryCodes, Store, TotpEnrollment, TotpOptions, VerifyOptions,
};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::users::Users;

/// The parts the app is built from.
#[derive(Debug)]
pub struct AppParts {
    /// Where counters, challenges and sealed factors live (Redis in this example).
    pub store: Arc<dyn Store>,
    /// Where security notices go.
    pub mailer: Arc<dyn Mailer>,
    /// The time source (tests move a manual clock).
    pub clock: Arc<dyn Clock>,
    /// Seals TOTP secrets at rest.
    pub keyring: Keyring,
    /// Keys the digests recovery codes and handles are stored as.
    pub pepper: Pepper,
    /// Argon2id parameters for passwords.
    pub hasher: PasswordHasher,
}

/// The result of completing the registration with the authenticator's first code.
#[non_exhaustive]
pub enum RegistrationStep {
    /// The authenticator is enrolled and the account usable; show the recovery codes once.
    Complete {
        /// The user's recovery codes (shown once, stored only as digests).
        recovery_codes: RecoveryCodes,
    },
    /// The code did not match; the registration stays incomplete.
    WrongCode,
    /// The enrolment expired (or never started): register the authenticator again.
    Expired,
}

impl core::fmt::Debug for RegistrationStep {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Complete { recovery_codes } => f
                .debug_struct("Complete")
                .field("recovery_codes", &recovery_codes.len())
                .finish_non_exhaustive(),
            Self::WrongCode => f.write_str("WrongCode"),
            Self::Expired => f.write_str("Expired"),
        }
    }
}

/// A login that passed the password and waits for the TOTP code.
#[derive(Debug)]
pub struct PendingLogin {
    /// The challenge id (keep it in a cookie; it is not a code).
    pub challenge: ChallengeId,
}

/// The result of the password step; no variant carries a session.
#[derive(Debug)]
#[non_exhaustive]
pub enum PasswordStep {
    /// Password right: ask for the authenticator code (or a recovery code).
    TotpRequired(PendingLogin),
    /// Wrong user name or password (the same answer for both).
    WrongPassword,
    /// The registration never finished (no authenticator): no login until it does.
    RegistrationIncomplete,
    /// Too many failures: no login until `until` (ten years for a lock only an administrator
    /// lifts).
    Locked {
        /// When the lock ends.
        until: SystemTime,
    },
}

/// A second factor the user typed.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum SecondFactor<'a> {
    /// The 8-digit code of the authenticator app.
    Totp(&'a str),
    /// One of the recovery codes shown at registration.
    RecoveryCode(&'a str),
}

impl core::fmt::Debug for SecondFactor<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Totp(_) => "Totp(..)",
            Self::RecoveryCode(_) => "RecoveryCode(..)",
        })
    }
}

/// An open session (only ever made after the password and the second factor).
pub struct Session {
    /// The user signed in.
    pub user: String,
    /// Recovery codes left, when one was used.
    pub recovery_codes_left: Option<usize>,
    id: Zeroizing<String>,
}

impl Session {
    /// The session id for the cookie (random, 256 bits, hex).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.user)
            .field("recovery_codes_left", &self.recovery_codes_left)
            .finish_non_exhaustive()
    }
}

/// The result of the second-factor step.
#[derive(Debug)]
#[non_exhaustive]
pub enum FactorStep {
    /// Both factors passed: the session.
    Session(Session),
    /// Wrong code: `attempts_left` more tries on this login.
    WrongCode {
        /// Tries left.
        attempts_left: u32,
    },
    /// Unknown, expired or used login: start again.
    Expired,
    /// Too many failures (from unrecognised networks, 5 in 15 min: until the window ends; 10 in
    /// 1 h: until an administrator unlocks, with a notice email).
    Locked {
        /// When the lock ends.
        until: SystemTime,
    },
}

/// Registration requires a TOTP authenticator ([`Policy::mandatory_totp`]: 8 digits, ±1 step).
#[derive(Debug)]
pub struct MandatoryTotpApp {
    mfa: Mfa,
    store: Arc<dyn Store>,
    users: Users,
}

impl MandatoryTotpApp {
    /// The app with [`Policy::mandatory_totp`]: from unrecognised networks, 5 failed codes per
    /// 15 min per account, and 10 in 1 h lock the account against them until an administrator
    /// unlocks it (and email a notice); TOTP secrets sealed with `keyring`; 10 recovery codes.
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
            .store(parts.store.clone())
            .mailer(parts.mailer)
            .clock(parts.clock)
            .keyring(parts.keyring)
            .pepper(parts.pepper)
            .policy(Policy::mandatory_totp())
            .issuer("Acme")
            .mail_settings(settings)
            .build()?;
        Ok(Self {
            mfa,
            store: parts.store,
            users: Users::new(parts.hasher)?,
        })
    }

    /// The facade underneath.
    #[must_use]
    pub fn mfa(&self) -> &Mfa {
        &self.mfa
    }

    /// Registers `user` (password hashed with Argon2id, `email` kept for security notices) and
    /// starts the authenticator enrolment, the user's first factor: show its QR code or key
    /// URI. The account cannot log in until
    /// [`complete_registration`](Self::complete_registration).
    ///
    /// # Errors
    /// [`Error::Address`](crate::Error::Address) for an invalid address,
    /// [`Error::UserExists`](crate::Error::UserExists), or a hashing or store failure.
    pub async fn register(
        &self,
        user: &str,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<TotpEnrollment> {
        let address = EmailAddress::parse(email).map_err(Error::Address)?;
        self.users.add(user, password)?;
        let mut settings = MfaSettings::new(user);
        settings.email = Some(address);
        self.store.put_settings(settings).await?;
        Ok(self
            .mfa
            .start_totp_enrollment(
                user,
                Authority::FirstFactor,
                "Authenticator",
                TotpOptions::new(),
                client,
            )
            .await?)
    }

    /// Completes the registration with the authenticator's first code.
    ///
    /// # Errors
    /// A store failure.
    pub async fn complete_registration(
        &self,
        user: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<RegistrationStep> {
        let done = self
            .mfa
            .finish_totp_enrollment(user, Authority::FirstFactor, code, client)
            .await?;
        Ok(match done {
            EnrollmentOutcome::Confirmed {
                recovery_codes: Some(recovery_codes),
            } => RegistrationStep::Complete { recovery_codes },
            EnrollmentOutcome::Rejected { .. } => RegistrationStep::WrongCode,
            _ => RegistrationStep::Expired,
        })
    }

    /// The password step ([`Mfa::password_step`]): the attempt is counted in its context before
    /// the password is checked, a refused one is not checked at all, and on the right password
    /// the TOTP code is asked for (never a session here). The policy requires an
    /// authenticator, so a user without one is told to finish the registration.
    ///
    /// # Errors
    /// A hashing or store failure (a hashing failure counts as a wrong password).
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
        Ok(match start? {
            LoginStart::ChallengeRequired { challenge_id, .. } => {
                PasswordStep::TotpRequired(PendingLogin {
                    challenge: challenge_id,
                })
            }
            LoginStart::PasswordRejected => PasswordStep::WrongPassword,
            LoginStart::LockedOut { until } => PasswordStep::Locked { until },
            // No confirmed authenticator (`EnrollmentRequired`): the registration is not
            // complete, and no session opens without one.
            _ => PasswordStep::RegistrationIncomplete,
        })
    }

    /// The second-factor step: on the right TOTP or recovery code, the session.
    ///
    /// # Errors
    /// A store failure, or [`Error::Rng`](crate::Error::Rng) making the session id.
    pub async fn login_second_factor(
        &self,
        login: &PendingLogin,
        factor: SecondFactor<'_>,
        client: &ClientInfo,
    ) -> Result<FactorStep> {
        let proof = match factor {
            SecondFactor::Totp(code) => Proof::Totp(code),
            SecondFactor::RecoveryCode(code) => Proof::RecoveryCode(code),
        };
        let outcome = self
            .mfa
            .verify(&login.challenge, proof, client, VerifyOptions::new())
            .await?;
        Ok(match outcome {
            Outcome::Verified {
                user,
                recovery_codes_left,
                ..
            } => FactorStep::Session(Session {
                user,
                recovery_codes_left,
                id: new_session_id()?,
            }),
            Outcome::Rejected { attempts_left } => FactorStep::WrongCode { attempts_left },
            Outcome::LockedOut { until } => FactorStep::Locked { until },
            _ => FactorStep::Expired,
        })
    }

    /// Lifts a lock (the 10-failures-in-1-hour one needs this); audited under `admin`.
    ///
    /// # Errors
    /// A store failure.
    pub async fn admin_unlock(&self, user: &str, admin: &str) -> Result<()> {
        Ok(self.mfa.admin_unlock(user, admin).await?)
    }

    /// How many recovery codes `user` has left.
    ///
    /// # Errors
    /// A store failure.
    pub async fn recovery_codes_left(&self, user: &str) -> Result<usize> {
        Ok(self.mfa.recovery_codes_left(user).await?)
    }
}

fn new_session_id() -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|_| crate::Error::Rng)?;
    let mut id = Zeroizing::new(String::with_capacity(64));
    for b in bytes.iter() {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    Ok(id)
}

const HEX: &[u8; 16] = b"0123456789abcdef";
