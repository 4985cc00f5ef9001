//! Enrolling an authenticator app: a secret sealed at rest, a Key URI and QR code to show once,
//! and a first code that activates it.

use core::fmt;
use std::time::SystemTime;

use mfa_core::{
    Algorithm, Code, Digits, FactorKind, KeyUri, OtpKind, Period, Secret, Totp, TotpParams,
};
use mfa_policy::Factor;
use mfa_store::{ClientInfo, FactorStatus, NewTotpFactor};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles;
use crate::limits::{Admission, AfterFailure};
use crate::method::Method;
use crate::outcome::{Authority, EnrollmentOutcome};

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

fn unix(now: SystemTime) -> u64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Mfa {
    /// Starts enrolling an authenticator app for `user`: a new secret, sealed and stored as a
    /// pending factor, and what the set-up page shows. The factor is active only after
    /// [`finish_totp_enrollment`](Self::finish_totp_enrollment). A new start replaces a pending
    /// enrolment.
    ///
    /// `authority`: [`Authority::FirstFactor`] while the user has no active factor, else a
    /// step-up grant.
    ///
    /// # Errors
    /// [`Error::NotAuthorised`]; [`Error::AlreadyEnabled`] if the user has a confirmed
    /// authenticator (disable it first); store and crypto failures.
    pub async fn start_totp_enrollment(
        &self,
        user: &str,
        authority: Authority<'_>,
        label: &str,
        options: TotpOptions,
        client: &ClientInfo,
    ) -> Result<TotpEnrollment> {
        let now = self.now();
        self.authorise(user, authority).await?;
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
                created_at: now,
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
            Some(client),
            EventKind::EnrollmentStarted {
                method: Method::Totp,
            },
        )
        .await;
        Ok(enrollment)
    }

    /// Confirms `user`'s pending authenticator with its first code. The step of that code is
    /// recorded, so the same code cannot then sign in; the time of confirmation is recorded
    /// on the factor. The authority is checked again (a grant may have expired meanwhile).
    ///
    /// # Errors
    /// [`Error::NotAuthorised`]; store and crypto failures.
    pub async fn finish_totp_enrollment(
        &self,
        user: &str,
        authority: Authority<'_>,
        code: &str,
        client: &ClientInfo,
    ) -> Result<EnrollmentOutcome> {
        let now = self.now();
        let authorised = self.authorise(user, authority).await?;
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
        let attempt = self.classify_network(user, client, now).await?;
        let admitted = match self
            .admit(Factor::SecondFactor, user, &attempt, now)
            .await?
        {
            Admission::Refused(until) => return Ok(EnrollmentOutcome::LockedOut { until }),
            Admission::Admitted(admitted) => admitted,
        };
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
        let step = Code::parse(code, pending.digits)
            .ok()
            .and_then(|c| totp.verify_at(&c, unix(now), self.inner.policy.totp_skew()));
        let Some(step) = step else {
            let failed = self.event(
                user,
                Some(client),
                EventKind::EnrollmentFailed {
                    method: Method::Totp,
                },
                now,
            );
            return Ok(
                match self
                    .attempt_failed(admitted, user, client, vec![failed], now)
                    .await?
                {
                    AfterFailure::Continue => EnrollmentOutcome::Rejected {
                        attempts_left: None,
                    },
                    AfterFailure::Blocked(until) => EnrollmentOutcome::LockedOut { until },
                },
            );
        };
        if !store.confirm_totp(user, &pending.id, step, now).await? {
            return Ok(EnrollmentOutcome::AlreadyEnabled);
        }
        self.attempt_succeeded(&admitted, user, Vec::new(), now)
            .await?;
        self.activated(user, FactorKind::Totp, None, authorised, client)
            .await
    }
}
