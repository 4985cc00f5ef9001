//! Starting a login (after the password, or passwordless by email) and step-up challenges.

use std::time::SystemTime;

use mfa_core::{CodeDigest, Token};
use mfa_policy::{Channel as Lifetime, Device, Factor};
use mfa_store::{Challenge, ChallengeKind, ClientInfo, FactorKind, MfaSettings};

use crate::error::Result;
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, ChallengeId, DeviceToken, purpose};
use crate::outcome::{LoginStart, Method};

/// Store purpose of a login ticket (one pending login per user).
pub(crate) const LOGIN: &str = "login";
/// Store purpose of a step-up ticket (a re-verification for management).
pub(crate) const REAUTH: &str = "reauth";

/// Normalises an email address for use as the user id of the passwordless flow.
#[must_use]
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Mfa {
    /// The methods `user` can answer with, preferred first (recovery codes last).
    pub(crate) async fn methods(&self, user: &str) -> Result<Vec<Method>> {
        let settings = self.inner.store.settings(user).await?;
        let mut methods: Vec<Method> = Vec::new();
        if let Some(s) = &settings {
            if let Some(p) = s.preferred.filter(|p| s.enabled.contains(p)) {
                methods.extend(Method::from_kind(p));
            }
            for kind in &s.enabled {
                if let Some(m) = Method::from_kind(*kind).filter(|m| !methods.contains(m)) {
                    methods.push(m);
                }
            }
        }
        if !methods.is_empty() && self.inner.store.remaining_recovery_codes(user).await? > 0 {
            methods.push(Method::RecoveryCode);
        }
        Ok(methods)
    }

    /// Creates a ticket challenge for `user` and returns its handle and expiry.
    async fn create_ticket(
        &self,
        user: &str,
        ticket_purpose: &str,
        now: SystemTime,
    ) -> Result<(ChallengeId, SystemTime)> {
        let token = Token::generate()?;
        let (id, _) = handles::store_id(&self.inner.pepper, purpose::CHALLENGE_ID, &token);
        let expires_at = self.inner.policy.expires_at(Lifetime::LoginTicket, now);
        self.inner
            .store
            .create_challenge(Challenge {
                id,
                user: user.to_owned(),
                purpose: ticket_purpose.to_owned(),
                kind: ChallengeKind::LoginTicket,
                code_digest: None,
                link_digest: None,
                binding_digest: None,
                created_at: now,
                expires_at,
                attempts_left: self.inner.policy.challenge_attempts().get(),
                consumed: false,
            })
            .await?;
        Ok((ChallengeId(token), expires_at))
    }

    /// Decides what follows a correct password for `user`: nothing, a trusted device, a
    /// second-factor challenge, or a lockout.
    ///
    /// `trusted_device_token` is the token a previous [`Outcome::Verified`](crate::Outcome)
    /// returned (typically from a cookie). A valid one is rotated: store the returned token.
    ///
    /// # Errors
    /// Store failures (open no session).
    pub async fn begin_login(
        &self,
        user: &str,
        trusted_device_token: Option<&str>,
        client: &ClientInfo,
    ) -> Result<LoginStart> {
        let now = self.now();
        let methods = self.methods(user).await?;
        if methods.is_empty() {
            return Ok(LoginStart::NotRequired);
        }
        let device = match trusted_device_token {
            Some(text) => self.check_trusted_device(user, text, now).await?,
            None => None,
        };
        let exemption = if device.is_some() {
            Device::Trusted
        } else {
            Device::Unknown
        };
        if let Some(until) = self
            .limit_check(Factor::SecondFactor, user, client, exemption, now)
            .await?
        {
            self.emit(user, Some(client), EventKind::VerificationDenied)
                .await;
            return Ok(LoginStart::LockedOut { until });
        }
        if let Some(old) = device {
            // Rotate only now, so a lockout does not cost the device its token.
            let fresh = Token::generate()?;
            let new = self
                .inner
                .pepper
                .digest_token(purpose::DEVICE, user, &fresh);
            if self
                .inner
                .store
                .rotate_device_token(user, &old, new, now)
                .await?
            {
                return Ok(LoginStart::TrustedDevice {
                    rotated_token: DeviceToken(fresh),
                });
            }
        }
        let (challenge_id, expires_at) = self.create_ticket(user, LOGIN, now).await?;
        self.emit(
            user,
            Some(client),
            EventKind::ChallengeIssued { method: None },
        )
        .await;
        Ok(LoginStart::ChallengeRequired {
            challenge_id,
            methods,
            expires_at,
        })
    }

    /// Starts a passwordless login from an email address (the magic-link + code flow).
    ///
    /// The user id of this flow is the normalised address ([`normalize_email`]): the account
    /// must have confirmed that address as its email factor. For an unknown address, or a locked
    /// account, the answer looks the same (a challenge id that sends nothing and verifies
    /// nothing), so the response does not tell which addresses exist.
    ///
    /// # Errors
    /// Store failures.
    pub async fn begin_email_login(&self, email: &str, client: &ClientInfo) -> Result<LoginStart> {
        let now = self.now();
        let user = normalize_email(email);
        let known = self
            .inner
            .store
            .settings(&user)
            .await?
            .is_some_and(|s| email_factor_matches(&s, &user));
        let locked = known
            && self
                .limit_check(Factor::SecondFactor, &user, client, Device::Unknown, now)
                .await?
                .is_some();
        if !known || locked {
            if locked {
                self.emit(&user, Some(client), EventKind::VerificationDenied)
                    .await;
            }
            return Ok(LoginStart::ChallengeRequired {
                challenge_id: handles::decoy(&self.inner.pepper)?,
                methods: vec![Method::Email],
                expires_at: self.inner.policy.expires_at(Lifetime::LoginTicket, now),
            });
        }
        let (challenge_id, expires_at) = self.create_ticket(&user, LOGIN, now).await?;
        self.emit(
            &user,
            Some(client),
            EventKind::ChallengeIssued { method: None },
        )
        .await;
        Ok(LoginStart::ChallengeRequired {
            challenge_id,
            methods: vec![Method::Email],
            expires_at,
        })
    }

    /// Starts a re-verification of a signed-in `user` before a management call. Verify it with
    /// [`VerifyOptions::grant_step_up`](crate::VerifyOptions::grant_step_up) to obtain a
    /// step-up grant. Returns [`LoginStart::NotRequired`] when the user has no factor.
    ///
    /// # Errors
    /// Store failures.
    pub async fn begin_step_up(&self, user: &str, client: &ClientInfo) -> Result<LoginStart> {
        let now = self.now();
        let methods = self.methods(user).await?;
        if methods.is_empty() {
            return Ok(LoginStart::NotRequired);
        }
        if let Some(until) = self
            .limit_check(Factor::SecondFactor, user, client, Device::Unknown, now)
            .await?
        {
            return Ok(LoginStart::LockedOut { until });
        }
        let (challenge_id, expires_at) = self.create_ticket(user, REAUTH, now).await?;
        self.emit(
            user,
            Some(client),
            EventKind::ChallengeIssued { method: None },
        )
        .await;
        Ok(LoginStart::ChallengeRequired {
            challenge_id,
            methods,
            expires_at,
        })
    }

    /// The digest of a live trusted-device token of `user`, if `text` is one.
    async fn check_trusted_device(
        &self,
        user: &str,
        text: &str,
        now: SystemTime,
    ) -> Result<Option<CodeDigest>> {
        let Ok(token) = Token::parse(text) else {
            return Ok(None);
        };
        let digest = self
            .inner
            .pepper
            .digest_token(purpose::DEVICE, user, &token);
        Ok(self
            .inner
            .store
            .check_and_touch_device(user, &digest, now)
            .await?
            .map(|_| digest))
    }
}

/// Whether `settings` has a confirmed email factor at `address` (normalised).
pub(crate) fn email_factor_matches(settings: &MfaSettings, address: &str) -> bool {
    settings.enabled.contains(&FactorKind::Email)
        && settings
            .email
            .as_deref()
            .is_some_and(|e| normalize_email(e) == address)
}
