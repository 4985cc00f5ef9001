//! The seed-5 flow: TOTP, ten backup codes shown once, an SMS fallback.

use core::fmt;
use std::time::SystemTime;

use mfa::{
    Authority, ChallengeId, Channel, ClientInfo, EnrollmentOutcome, LoginStart, Method, Mfa,
    Outcome, PhoneNumber, Proof, RecoveryCodes, SendOutcome, StepUpGrant, TotpEnrollment,
    TotpOptions, VerifyOptions,
};

use crate::error::{Error, Result};
use crate::setup::{Backends, build_mfa};

/// TOTP with backup codes and an SMS fallback, over the [`Mfa`] facade.
#[derive(Debug)]
pub struct TotpBackupSms {
    mfa: Mfa,
}

/// A pending login: what the next request carries, and what the user may answer with.
#[derive(Debug)]
pub struct PendingLogin {
    /// The opaque challenge id (carry it in a cookie or a form field).
    pub challenge_id: ChallengeId,
    /// The methods offered, preferred first.
    pub methods: Vec<Method>,
}

/// What the user typed at the second-factor prompt.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Answer<'a> {
    /// A code from the authenticator app.
    Totp(&'a str),
    /// One of the ten backup codes (any case, with or without dashes or spaces).
    BackupCode(&'a str),
    /// The code received by SMS.
    SmsCode(&'a str),
}

impl fmt::Debug for Answer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::Totp(_) => "Totp",
            Self::BackupCode(_) => "BackupCode",
            Self::SmsCode(_) => "SmsCode",
        };
        f.debug_struct("Answer")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

/// The result of a second-factor answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignIn {
    /// Signed in with `method`; `backup_codes_left` after a backup code was used.
    Verified {
        /// The method that verified.
        method: Method,
        /// Backup codes left, when one was just used.
        backup_codes_left: Option<usize>,
    },
    /// Refused: the code is wrong or already used; `attempts_left` on this challenge.
    WrongCode {
        /// Tries left on this challenge.
        attempts_left: u32,
    },
    /// The challenge (or the SMS code) expired, or was used: start a new login.
    Expired,
    /// No tries left on this challenge, or the account is locked: start again later.
    Blocked,
}

impl TotpBackupSms {
    /// The flow on `backends`, with [`Policy::totp_backup_sms`](mfa::Policy::totp_backup_sms).
    ///
    /// # Errors
    /// [`Error::Config`] when the facade refuses its configuration.
    pub fn new(backends: Backends, issuer: &str) -> Result<Self> {
        Ok(Self {
            mfa: build_mfa(backends, issuer)?,
        })
    }

    /// The facade, for everything this example does not wrap.
    #[must_use]
    pub fn mfa(&self) -> &Mfa {
        &self.mfa
    }

    /// Starts the authenticator set-up, the user's first factor: the Key URI and QR code to show
    /// (once).
    ///
    /// # Errors
    /// [`Error::Mfa`] when the user already has a factor (`NotAuthorised`: a change of factors
    /// needs a step-up), or the store fails.
    pub async fn start_authenticator(
        &self,
        user: &str,
        client: &ClientInfo,
    ) -> Result<TotpEnrollment> {
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

    /// Activates the authenticator with its first code and returns the ten backup codes:
    /// show them once; the store keeps only a locator and a verifier per code.
    ///
    /// # Errors
    /// [`Error::NotEnrolled`] for a wrong or late code; [`Error::Mfa`] for store failures, or
    /// `NotAuthorised` once the user has an active factor.
    pub async fn confirm_authenticator(
        &self,
        user: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<RecoveryCodes> {
        match self
            .mfa
            .finish_totp_enrollment(user, Authority::FirstFactor, code, client)
            .await?
        {
            EnrollmentOutcome::Confirmed {
                recovery_codes: Some(codes),
            } => Ok(codes),
            outcome => Err(Error::NotEnrolled(enrolment_refusal(&outcome))),
        }
    }

    /// Sends an enrolment code to `phone` for the SMS fallback; returns when it expires. A
    /// change of factors once the authenticator is active: it needs a step-up `grant`
    /// ([`step_up`](Self::step_up)).
    ///
    /// # Errors
    /// [`Error::Address`] for an invalid number; [`Error::NotSent`] in a cooldown or over
    /// quota; [`Error::Mfa`] without a live grant (`NotAuthorised`), for delivery or store
    /// failures.
    pub async fn start_sms_fallback(
        &self,
        user: &str,
        grant: &StepUpGrant,
        phone: &str,
        client: &ClientInfo,
    ) -> Result<SystemTime> {
        let phone = PhoneNumber::parse(phone)?;
        sent(
            self.mfa
                .start_sms_enrollment(user, Authority::StepUp(grant), &phone, client)
                .await?,
        )
    }

    /// Confirms the SMS fallback with the code sent to `phone`, under the same step-up `grant`.
    ///
    /// # Errors
    /// [`Error::Address`] for an invalid number; [`Error::NotEnrolled`] for a wrong or expired
    /// code; [`Error::Mfa`] without a live grant, or for store failures.
    pub async fn confirm_sms_fallback(
        &self,
        user: &str,
        grant: &StepUpGrant,
        phone: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let phone = PhoneNumber::parse(phone)?;
        match self
            .mfa
            .finish_sms_enrollment(user, Authority::StepUp(grant), &phone, code, client)
            .await?
        {
            EnrollmentOutcome::Confirmed { .. } => Ok(()),
            outcome => Err(Error::NotEnrolled(enrolment_refusal(&outcome))),
        }
    }

    /// After the password was checked: the second-factor challenge.
    ///
    /// # Errors
    /// [`Error::NoChallenge`] when the user has no factor or is locked out; [`Error::Mfa`].
    pub async fn begin_login(&self, user: &str, client: &ClientInfo) -> Result<PendingLogin> {
        pending(self.mfa.begin_login(user, None, client).await?)
    }

    /// Sends the SMS fallback code for `challenge_id` (valid for five minutes); returns when it
    /// expires. `client` decides which send quotas it counts against.
    ///
    /// # Errors
    /// [`Error::NotSent`] in a cooldown, over quota, or without an SMS number;
    /// [`Error::Mfa`] for delivery and store failures.
    pub async fn send_sms_code(
        &self,
        challenge_id: &ChallengeId,
        client: &ClientInfo,
    ) -> Result<SystemTime> {
        sent(
            self.mfa
                .send_code(challenge_id, Channel::Sms, client)
                .await?,
        )
    }

    /// Checks `answer` against `challenge_id`.
    ///
    /// # Errors
    /// [`Error::Mfa`] for store failures (nothing is granted then).
    pub async fn sign_in(
        &self,
        challenge_id: &ChallengeId,
        answer: Answer<'_>,
        client: &ClientInfo,
    ) -> Result<SignIn> {
        let outcome = self
            .mfa
            .verify(challenge_id, proof(answer), client, VerifyOptions::new())
            .await?;
        Ok(match outcome {
            Outcome::Verified {
                method,
                recovery_codes_left,
                ..
            } => SignIn::Verified {
                method,
                backup_codes_left: recovery_codes_left,
            },
            Outcome::Rejected { attempts_left } => SignIn::WrongCode { attempts_left },
            Outcome::Expired => SignIn::Expired,
            _ => SignIn::Blocked,
        })
    }

    /// Re-verifies a signed-in `user` (any of their factors) for a management call.
    ///
    /// # Errors
    /// [`Error::NoChallenge`] when the answer is refused; [`Error::Mfa`] for store failures.
    pub async fn step_up(
        &self,
        user: &str,
        answer: Answer<'_>,
        client: &ClientInfo,
    ) -> Result<StepUpGrant> {
        let login = pending(self.mfa.begin_step_up(user, client).await?)?;
        let outcome = self
            .mfa
            .verify(
                &login.challenge_id,
                proof(answer),
                client,
                VerifyOptions::new().grant_step_up(),
            )
            .await?;
        match outcome {
            Outcome::Verified {
                step_up: Some(grant),
                ..
            } => Ok(grant),
            _ => Err(Error::NoChallenge("the step-up answer was refused")),
        }
    }

    /// Replaces all of `user`'s backup codes with ten new ones (shown once); the old set stops
    /// working. Needs a step-up grant.
    ///
    /// # Errors
    /// [`Error::Mfa`] (`NotAuthorised`) without a live grant of this user; store failures.
    pub async fn regenerate_backup_codes(
        &self,
        user: &str,
        grant: &StepUpGrant,
    ) -> Result<RecoveryCodes> {
        Ok(self.mfa.regenerate_recovery_codes(user, grant).await?)
    }

    /// How many unused backup codes `user` has.
    ///
    /// # Errors
    /// [`Error::Mfa`] for store failures.
    pub async fn backup_codes_left(&self, user: &str) -> Result<usize> {
        Ok(self.mfa.recovery_codes_left(user).await?)
    }
}

fn proof(answer: Answer<'_>) -> Proof<'_> {
    match answer {
        Answer::Totp(code) => Proof::Totp(code),
        Answer::BackupCode(code) => Proof::RecoveryCode(code),
        Answer::SmsCode(code) => Proof::SmsCode(code),
    }
}

fn pending(start: LoginStart) -> Result<PendingLogin> {
    match start {
        LoginStart::ChallengeRequired {
            challenge_id,
            methods,
            ..
        } => Ok(PendingLogin {
            challenge_id,
            methods,
        }),
        LoginStart::LockedOut { .. } => Err(Error::NoChallenge("the account is locked")),
        _ => Err(Error::NoChallenge("the user has no second factor")),
    }
}

fn sent(outcome: SendOutcome) -> Result<SystemTime> {
    match outcome {
        SendOutcome::Sent { expires_at } => Ok(expires_at),
        SendOutcome::Cooldown { .. } => Err(Error::NotSent("too soon after the last SMS")),
        SendOutcome::QuotaExceeded { .. } => Err(Error::NotSent("the SMS quota is used up")),
        _ => Err(Error::NotSent("no SMS number or no live challenge")),
    }
}

fn enrolment_refusal(outcome: &EnrollmentOutcome) -> &'static str {
    match outcome {
        EnrollmentOutcome::Confirmed { .. } => "the factor was already set up",
        EnrollmentOutcome::Rejected { .. } => "the code does not match",
        EnrollmentOutcome::Expired => "the enrolment expired",
        EnrollmentOutcome::AlreadyEnabled => "the factor is already enabled",
        EnrollmentOutcome::LockedOut { .. } => "too many failures",
        _ => "no pending enrolment",
    }
}
