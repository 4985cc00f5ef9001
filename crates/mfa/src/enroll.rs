//! Enrolment: a factor is pending until the user proves it with a first code.

use core::fmt;
use std::time::SystemTime;

use mfa_core::{Algorithm, Code, Digits, KeyUri, OtpKind, Period, Secret, Totp, TotpParams};
use mfa_mail::{EmailAddress, PhoneNumber};
use mfa_policy::{Channel as Lifetime, Delivery, Device, Factor};
use mfa_store::{
    AttemptOutcome, Challenge, ChallengeKind, ClientInfo, FactorKind, FactorStatus, MfaSettings,
    NewTotpFactor,
};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, purpose};
use crate::limits::AfterFailure;
use crate::outcome::{Channel, EnrollmentOutcome, Method, SendOutcome};

/// Options of a TOTP enrolment.
#[derive(Debug, Clone, Default)]
pub struct TotpOptions {
    digits: Option<Digits>,
    algorithm: Algorithm,
    account_name: Option<String>,
}

impl TotpOptions {
    /// The defaults: the policy's TOTP digits, SHA-1 (what every app supports), the user id as
    /// account name.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Codes of `digits` digits (8 for the mandatory-TOTP flow) instead of the policy's.
    #[must_use]
    pub fn digits(mut self, digits: Digits) -> Self {
        self.digits = Some(digits);
        self
    }

    /// The HMAC algorithm (SHA-256 and SHA-512 are not supported by every app).
    #[must_use]
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The account name the app shows (default: the user id), e.g. the email address.
    #[must_use]
    pub fn account_name(mut self, name: impl Into<String>) -> Self {
        self.account_name = Some(name.into());
        self
    }
}

/// What the set-up page shows: the QR code, or the secret for manual entry. Holds the secret:
/// show it once, never log it (redacted in `Debug`).
pub struct TotpEnrollment {
    factor_id: String,
    key_uri: Zeroizing<String>,
    secret_base32: Zeroizing<String>,
    #[cfg(feature = "qr")]
    qr_svg: Zeroizing<String>,
    #[cfg(feature = "qr")]
    qr_png_data_url: Zeroizing<String>,
}

impl TotpEnrollment {
    /// The pending factor's id.
    #[must_use]
    pub fn factor_id(&self) -> &str {
        &self.factor_id
    }

    /// The otpauth:// Key URI (contains the secret).
    #[must_use]
    pub fn key_uri(&self) -> &str {
        &self.key_uri
    }

    /// The secret in base32, for typing into an app by hand.
    #[must_use]
    pub fn secret_base32(&self) -> &str {
        &self.secret_base32
    }

    /// The Key URI as an SVG QR code.
    #[cfg(feature = "qr")]
    #[must_use]
    pub fn qr_svg(&self) -> &str {
        &self.qr_svg
    }

    /// The Key URI as a PNG QR code in a `data:image/png;base64,` URL, for an `<img src>`.
    #[cfg(feature = "qr")]
    #[must_use]
    pub fn qr_png_data_url(&self) -> &str {
        &self.qr_png_data_url
    }
}

impl fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpEnrollment")
            .field("factor_id", &self.factor_id)
            .finish_non_exhaustive()
    }
}

/// The `user` field of an enrolment code digest: the code is bound to user and destination.
fn bound(user: &str, destination: &str) -> String {
    format!("{user}\u{0}{destination}")
}

impl Mfa {
    /// Starts enrolling an authenticator app for `user`: a new secret, sealed and stored as a
    /// pending factor, and what the set-up page shows. The factor is active only after
    /// [`finish_totp_enrollment`](Self::finish_totp_enrollment). A new start replaces a pending
    /// enrolment.
    ///
    /// # Errors
    /// [`Error::AlreadyEnabled`] if the user has a confirmed authenticator (disable it first);
    /// store and crypto failures.
    pub async fn start_totp_enrollment(
        &self,
        user: &str,
        label: &str,
        options: TotpOptions,
    ) -> Result<TotpEnrollment> {
        let store = &self.inner.store;
        let factors = store.totp_factors(user).await?;
        if factors.iter().any(|f| f.status == FactorStatus::Confirmed) {
            return Err(Error::AlreadyEnabled);
        }
        let factor_id = handles::random_id("totp")?;
        let secret = Secret::generate()?;
        let sealed = self.inner.keyring.seal(&secret, user, &factor_id)?;
        let digits = options.digits.unwrap_or(self.inner.policy.totp_digits());
        let period = Period::THIRTY_SECONDS;
        store
            .insert_pending_totp(NewTotpFactor {
                user: user.to_owned(),
                id: factor_id.clone(),
                sealed_secret: sealed,
                algorithm: options.algorithm,
                digits,
                period,
                label: label.to_owned(),
                created_at: self.now(),
            })
            .await?;
        let secret_base32 = secret.to_base32();
        let uri = KeyUri {
            kind: OtpKind::Totp { period },
            issuer: Some(self.inner.issuer.clone()),
            account: options.account_name.unwrap_or_else(|| user.to_owned()),
            secret,
            algorithm: options.algorithm,
            digits,
            image: None,
        };
        let enrollment = TotpEnrollment {
            factor_id,
            key_uri: uri.to_uri(),
            secret_base32,
            #[cfg(feature = "qr")]
            qr_svg: uri.qr_svg()?,
            #[cfg(feature = "qr")]
            qr_png_data_url: uri.qr_png_data_url()?,
        };
        self.emit(
            user,
            None,
            EventKind::EnrollmentStarted {
                method: Method::Totp,
            },
        )
        .await;
        Ok(enrollment)
    }

    /// Confirms `user`'s pending authenticator with its first code. The step of that code is
    /// recorded, so the same code cannot then sign in.
    ///
    /// # Errors
    /// Store and crypto failures.
    pub async fn finish_totp_enrollment(
        &self,
        user: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<EnrollmentOutcome> {
        let now = self.now();
        let store = &self.inner.store;
        let factors = store.totp_factors(user).await?;
        let Some(pending) = factors.iter().find(|f| f.status == FactorStatus::Pending) else {
            return Ok(
                if factors.iter().any(|f| f.status == FactorStatus::Confirmed) {
                    EnrollmentOutcome::AlreadyEnabled
                } else {
                    EnrollmentOutcome::NoPendingEnrollment
                },
            );
        };
        let deadline = pending
            .created_at
            .checked_add(self.inner.settings.enrollment_lifetime)
            .unwrap_or(pending.created_at);
        if now >= deadline {
            store.delete_totp(user, &pending.id).await?;
            return Ok(EnrollmentOutcome::Expired);
        }
        if let Some(until) = self
            .limit_check(Factor::SecondFactor, user, client, Device::Unknown, now)
            .await?
        {
            return Ok(EnrollmentOutcome::LockedOut { until });
        }
        let secret = self
            .inner
            .keyring
            .open(&pending.sealed_secret, user, &pending.id)?;
        let totp = Totp::new(
            &secret,
            TotpParams {
                algorithm: pending.algorithm,
                digits: pending.digits,
                period: pending.period,
                ..TotpParams::default()
            },
        );
        let step = Code::parse(code, pending.digits).ok().and_then(|c| {
            totp.verify_at(
                &c,
                self.inner.clock.unix_secs(),
                self.inner.policy.totp_skew(),
            )
        });
        let Some(step) = step else {
            return self.enrollment_failure(user, None, client, now).await;
        };
        if !store.confirm_totp(user, &pending.id, step).await? {
            return Ok(EnrollmentOutcome::AlreadyEnabled);
        }
        self.activated(user, Method::Totp, None, client).await
    }

    /// Starts enrolling `email` as `user`'s email factor: sends a code to it. Confirm with
    /// [`finish_email_enrollment`](Self::finish_email_enrollment).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an invalid address; [`Error::AlreadyEnabled`];
    /// delivery and store failures.
    pub async fn start_email_enrollment(&self, user: &str, email: &str) -> Result<SendOutcome> {
        let address = EmailAddress::parse(email.trim())
            .map_err(|_| Error::InvalidArgument("invalid email address"))?;
        self.start_code_enrollment(user, Channel::Email, address.as_str())
            .await
    }

    /// Confirms `user`'s email factor at `email` with the code sent to it.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an invalid address; store failures.
    pub async fn finish_email_enrollment(
        &self,
        user: &str,
        email: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<EnrollmentOutcome> {
        let address = EmailAddress::parse(email.trim())
            .map_err(|_| Error::InvalidArgument("invalid email address"))?;
        self.finish_code_enrollment(user, Channel::Email, address.as_str(), code, client)
            .await
    }

    /// Starts enrolling `phone` (international form) as `user`'s SMS factor: sends a code.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an invalid number; [`Error::AlreadyEnabled`];
    /// [`Error::MethodNotEnabled`] without an SMS sender; delivery and store failures.
    pub async fn start_sms_enrollment(&self, user: &str, phone: &str) -> Result<SendOutcome> {
        let number = PhoneNumber::parse(phone)
            .map_err(|_| Error::InvalidArgument("invalid phone number"))?;
        self.start_code_enrollment(user, Channel::Sms, number.as_str())
            .await
    }

    /// Confirms `user`'s SMS factor at `phone` with the code sent to it.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an invalid number; store failures.
    pub async fn finish_sms_enrollment(
        &self,
        user: &str,
        phone: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<EnrollmentOutcome> {
        let number = PhoneNumber::parse(phone)
            .map_err(|_| Error::InvalidArgument("invalid phone number"))?;
        self.finish_code_enrollment(user, Channel::Sms, number.as_str(), code, client)
            .await
    }

    fn enrol_parts(&self, user: &str, channel: Channel) -> (String, &'static str, Method) {
        let (tag, code_purpose, method): (&[u8], _, _) = match channel {
            Channel::Email => (b"email", purpose::ENROL_EMAIL, Method::Email),
            Channel::Sms => (b"sms", purpose::ENROL_SMS, Method::Sms),
        };
        let id = handles::hex(&self.inner.pepper.digest(purpose::ENROL_ID, user, tag));
        (id, code_purpose, method)
    }

    async fn already_enabled(&self, user: &str, method: Method, destination: &str) -> Result<bool> {
        let settings = self.inner.store.settings(user).await?;
        Ok(settings.is_some_and(|s| match method {
            Method::Email => {
                s.enabled.contains(&FactorKind::Email) && s.email.as_deref() == Some(destination)
            }
            Method::Sms => {
                s.enabled.contains(&FactorKind::Sms) && s.phone.as_deref() == Some(destination)
            }
            _ => false,
        }))
    }

    async fn start_code_enrollment(
        &self,
        user: &str,
        channel: Channel,
        destination: &str,
    ) -> Result<SendOutcome> {
        let now = self.now();
        let (id, code_purpose, method) = self.enrol_parts(user, channel);
        if self.already_enabled(user, method, destination).await? {
            return Err(Error::AlreadyEnabled);
        }
        if channel == Channel::Sms && self.inner.sms.is_none() {
            return Err(Error::MethodNotEnabled);
        }
        let (delivery, lifetime, kind) = match channel {
            Channel::Email => (
                Delivery::Email,
                Lifetime::EmailCode,
                ChallengeKind::EmailCode,
            ),
            Channel::Sms => (Delivery::Sms, Lifetime::SmsCode, ChallengeKind::SmsCode),
        };
        if let Some(refused) = self.send_allowed(delivery, destination, now).await? {
            return Ok(refused);
        }
        let code = Code::generate(self.inner.policy.code_digits())?;
        let digest = self
            .inner
            .pepper
            .digest_code(code_purpose, &bound(user, destination), &code);
        let expires_at = self.inner.policy.expires_at(lifetime, now);
        self.deliver_code(
            channel,
            destination,
            &code,
            self.inner.policy.lifetime(lifetime),
        )
        .await?;
        self.inner
            .store
            .create_challenge(Challenge {
                id,
                user: user.to_owned(),
                purpose: format!("enrol-{}", method.as_str()),
                kind,
                code_digest: Some(digest),
                link_digest: None,
                binding_digest: None,
                created_at: now,
                expires_at,
                attempts_left: self.inner.policy.challenge_attempts().get(),
                consumed: false,
            })
            .await?;
        self.emit(user, None, EventKind::EnrollmentStarted { method })
            .await;
        Ok(SendOutcome::Sent { expires_at })
    }

    async fn finish_code_enrollment(
        &self,
        user: &str,
        channel: Channel,
        destination: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<EnrollmentOutcome> {
        let now = self.now();
        let (id, code_purpose, method) = self.enrol_parts(user, channel);
        if self.already_enabled(user, method, destination).await? {
            return Ok(EnrollmentOutcome::AlreadyEnabled);
        }
        if let Some(until) = self
            .limit_check(Factor::SecondFactor, user, client, Device::Unknown, now)
            .await?
        {
            return Ok(EnrollmentOutcome::LockedOut { until });
        }
        let (challenge, attempts_left) = match self.inner.store.spend_attempt(&id, now).await? {
            AttemptOutcome::Spent {
                challenge,
                attempts_left_after,
            } => (challenge, attempts_left_after),
            AttemptOutcome::NotFound => return Ok(EnrollmentOutcome::NoPendingEnrollment),
            _ => return Ok(EnrollmentOutcome::Expired),
        };
        let typed = Code::parse(code, self.inner.policy.code_digits())
            .ok()
            .map(|c| {
                self.inner
                    .pepper
                    .digest_code(code_purpose, &bound(user, destination), &c)
            });
        let matched = match (&challenge.code_digest, &typed) {
            (Some(stored), Some(typed)) => stored.ct_eq(typed),
            _ => false,
        };
        if !matched {
            return self
                .enrollment_failure(user, Some(attempts_left), client, now)
                .await;
        }
        if !self.inner.store.consume_challenge(&id, now).await? {
            return Ok(EnrollmentOutcome::Expired);
        }
        self.activated(user, method, Some(destination), client)
            .await
    }

    async fn enrollment_failure(
        &self,
        user: &str,
        attempts_left: Option<u32>,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<EnrollmentOutcome> {
        Ok(
            match self
                .limit_failure(Factor::SecondFactor, user, client, now)
                .await?
            {
                AfterFailure::Continue => EnrollmentOutcome::Rejected { attempts_left },
                AfterFailure::Blocked { until, .. } => EnrollmentOutcome::LockedOut { until },
            },
        )
    }

    /// A factor was proven: enable it, hand out recovery codes the first time, revoke trusted
    /// devices (a factor change), audit and notify.
    async fn activated(
        &self,
        user: &str,
        method: Method,
        destination: Option<&str>,
        client: &ClientInfo,
    ) -> Result<EnrollmentOutcome> {
        let store = &self.inner.store;
        let mut settings = store
            .settings(user)
            .await?
            .unwrap_or_else(|| MfaSettings::new(user));
        if let Some(kind) = method.factor_kind() {
            settings.enabled.insert(kind);
            if settings.preferred.is_none() {
                settings.preferred = Some(kind);
            }
        }
        match method {
            Method::Email => settings.email = destination.map(str::to_owned),
            Method::Sms => settings.phone = destination.map(str::to_owned),
            _ => {}
        }
        store.put_settings(settings).await?;
        let recovery_codes = if store.remaining_recovery_codes(user).await? == 0 {
            Some(self.new_recovery_set(user).await?)
        } else {
            None
        };
        store.revoke_all_devices(user).await?;
        self.emit(
            user,
            Some(client),
            EventKind::EnrollmentConfirmed { method },
        )
        .await;
        self.notify(
            user,
            mfa_mail::Notice::FactorAdded {
                factor: method.as_str().to_owned(),
            },
        )
        .await;
        Ok(EnrollmentOutcome::Confirmed { recovery_codes })
    }
}
