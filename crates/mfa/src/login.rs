//! Starting a login (after the first factor, or passwordless by email) and step-up challenges.

use std::time::{Duration, SystemTime};

use mfa_core::{ChallengeKind, EmailAddress, FactorKind, Token};
use mfa_policy::{Enrolment, Factor};
use mfa_store::{Challenge, ClientInfo, CounterKey, CounterScope, MfaSettings, TrustedDevice};

use crate::context::Attempt;
use crate::error::Result;
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, ChallengeId, DeviceToken};
use crate::method::Method;
use crate::outcome::LoginStart;
use crate::purpose::{Purpose, digest};

/// What the store says about a user when a login starts.
pub(crate) struct Account {
    /// The methods the user can answer with, preferred first, recovery codes last; empty when
    /// the user has no active factor.
    pub(crate) methods: Vec<Method>,
}

impl Account {
    /// Whether the user has an active factor.
    pub(crate) fn has_factor(&self) -> bool {
        !self.methods.is_empty()
    }
}

/// The user's active factors, preferred first.
pub(crate) fn active_factors(settings: Option<&MfaSettings>) -> Vec<FactorKind> {
    let Some(s) = settings else {
        return Vec::new();
    };
    let mut kinds: Vec<FactorKind> = s
        .preferred
        .filter(|p| s.enabled.contains(p))
        .into_iter()
        .collect();
    kinds.extend(
        s.enabled
            .iter()
            .copied()
            .filter(|k| Some(*k) != s.preferred),
    );
    kinds
}

impl Mfa {
    /// The user's settings and the methods a challenge can offer.
    pub(crate) async fn account(&self, user: &str) -> Result<Account> {
        let store = &self.inner.store;
        let settings = store.settings(user).await?;
        let mut methods: Vec<Method> = active_factors(settings.as_ref())
            .into_iter()
            .map(Method::from)
            .collect();
        if !methods.is_empty() && store.remaining_recovery_codes(user).await? > 0 {
            methods.push(Method::RecoveryCode);
        }
        Ok(Account { methods })
    }

    /// The answer for a user without an active factor: a session, or enrolment first.
    pub(crate) fn without_factor(&self) -> LoginStart {
        match self.inner.policy.enrolment() {
            Enrolment::Optional => LoginStart::NotRequired,
            Enrolment::Required => LoginStart::EnrollmentRequired,
        }
    }

    /// Takes one of the logins `user` may start per hour from this context; `Some(until)`
    /// when none is left.
    async fn take_ticket(
        &self,
        user: &str,
        attempt: &Attempt,
        now: SystemTime,
    ) -> Result<Option<SystemTime>> {
        let scope = match &attempt.tag {
            Some(tag) if attempt.class == mfa_policy::Context::Recognised => {
                CounterScope::AccountClient {
                    account: user.to_owned(),
                    client: tag.clone(),
                }
            }
            _ => CounterScope::Account(user.to_owned()),
        };
        let key = CounterKey::new("tickets", scope);
        const HOUR: Duration = Duration::from_secs(3600);
        let budget = self.inner.policy.ticket_budget().get();
        let take = self
            .inner
            .store
            .take_counter(&key, HOUR, budget, now)
            .await?;
        Ok((!take.is_taken()).then(|| take.state().window_end))
    }

    /// Creates a ticket of `purpose` for `user`; returns its handle and expiry.
    pub(crate) async fn create_ticket(
        &self,
        user: &str,
        purpose: &Purpose,
        now: SystemTime,
    ) -> Result<(ChallengeId, SystemTime)> {
        let token = Token::generate()?;
        let (id, _) = handles::store_id(&self.inner.pepper, digest::CHALLENGE_ID, &token);
        let expires_at = self
            .inner
            .policy
            .expires_at(ChallengeKind::LoginTicket, now);
        self.inner
            .store
            .create_challenge(Challenge {
                id,
                user: user.to_owned(),
                purpose: purpose.encode(),
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

    /// The live trusted device of `user` whose token is `token`, if it is one.
    pub(crate) async fn trusted_device(
        &self,
        user: &str,
        token: &DeviceToken,
        now: SystemTime,
    ) -> Result<Option<TrustedDevice>> {
        let digest = self
            .inner
            .pepper
            .digest_token(digest::DEVICE, user, &token.0);
        Ok(self
            .inner
            .store
            .check_and_touch_device(user, &digest, now)
            .await?)
    }

    /// The context of a login attempt: the trusted device it carries, or its network.
    pub(crate) async fn login_context(
        &self,
        user: &str,
        device: Option<&DeviceToken>,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<(Attempt, Option<TrustedDevice>)> {
        if let Some(token) = device
            && let Some(found) = self.trusted_device(user, token, now).await?
        {
            let attempt = Attempt::trusted_device(self.network(client), &found.id);
            return Ok((attempt, Some(found)));
        }
        Ok((self.classify_network(user, client, now).await?, None))
    }

    /// Decides what follows the first factor for `user`: nothing, a trusted device, a
    /// second-factor challenge, enrolment, or a lockout.
    ///
    /// `device` is the token a previous [`Outcome::Verified`](crate::Outcome) or
    /// [`LoginStart::TrustedDevice`] returned (typically from a cookie). A valid one is rotated:
    /// store the returned token. Prefer [`password_step`](Self::password_step), which counts
    /// the password too and calls this.
    ///
    /// # Errors
    /// Store failures (open no session).
    pub async fn begin_login(
        &self,
        user: &str,
        device: Option<&DeviceToken>,
        client: &ClientInfo,
    ) -> Result<LoginStart> {
        let now = self.now();
        let account = self.account(user).await?;
        if !account.has_factor() {
            if matches!(self.without_factor(), LoginStart::NotRequired) {
                self.remember_network(user, client, now).await?;
            }
            return Ok(self.without_factor());
        }
        let (attempt, device) = self.login_context(user, device, client, now).await?;
        self.second_step(user, account, attempt, device, client, now)
            .await
    }

    /// After the first factor: the lock check, a trusted device, or a ticket.
    pub(crate) async fn second_step(
        &self,
        user: &str,
        account: Account,
        attempt: Attempt,
        device: Option<TrustedDevice>,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<LoginStart> {
        if let Some(until) = self
            .limit_check(Factor::SecondFactor, user, &attempt, now)
            .await?
        {
            self.emit(user, Some(client), EventKind::VerificationDenied)
                .await;
            return Ok(LoginStart::LockedOut { until });
        }
        if let Some(device) = device {
            // Rotate only now, so that a lockout does not cost the device its token.
            let fresh = Token::generate()?;
            let new = self.inner.pepper.digest_token(digest::DEVICE, user, &fresh);
            if self
                .inner
                .store
                .rotate_device_token(user, &device.token_digest, new, now)
                .await?
            {
                self.remember_network(user, client, now).await?;
                self.emit(
                    user,
                    Some(client),
                    EventKind::TrustedDeviceUsed {
                        device_id: device.id,
                    },
                )
                .await;
                return Ok(LoginStart::TrustedDevice {
                    rotated_token: DeviceToken(fresh),
                });
            }
        }
        if let Some(until) = self.take_ticket(user, &attempt, now).await? {
            self.emit(user, Some(client), EventKind::VerificationDenied)
                .await;
            return Ok(LoginStart::LockedOut { until });
        }
        let purpose = Purpose::Login(attempt.ticket_context());
        let (challenge_id, expires_at) = self.create_ticket(user, &purpose, now).await?;
        self.emit(
            user,
            Some(client),
            EventKind::ChallengeIssued { method: None },
        )
        .await;
        Ok(LoginStart::ChallengeRequired {
            challenge_id,
            methods: account.methods,
            expires_at,
        })
    }

    /// Starts a passwordless login from an email address (the magic-link + code flow).
    ///
    /// The user id of this flow is the address in lower case
    /// ([`EmailAddress::normalized`]): the account must have confirmed that address as its email
    /// factor. For an unknown address, a locked account or a spent login budget the answer
    /// looks the same (a challenge id that sends nothing and verifies nothing), so the
    /// response does not tell which addresses exist. Logins started from different networks do
    /// not replace each other: a stranger cannot cancel the user's login.
    ///
    /// # Errors
    /// Store failures.
    pub async fn begin_email_login(
        &self,
        email: &EmailAddress,
        client: &ClientInfo,
    ) -> Result<LoginStart> {
        let now = self.now();
        let user = email.normalized();
        let settings = self.inner.store.settings(&user).await?;
        let known = settings
            .as_ref()
            .is_some_and(|s| email_factor_matches(s, &user));
        let decoy = || -> Result<LoginStart> {
            Ok(LoginStart::ChallengeRequired {
                challenge_id: handles::decoy(&self.inner.pepper)?,
                methods: vec![Method::Email],
                expires_at: self
                    .inner
                    .policy
                    .expires_at(ChallengeKind::LoginTicket, now),
            })
        };
        if !known {
            return decoy();
        }
        let attempt = self.classify_network(&user, client, now).await?;
        let refused = match self
            .limit_check(Factor::SecondFactor, &user, &attempt, now)
            .await?
        {
            Some(until) => Some(until),
            None => self.take_ticket(&user, &attempt, now).await?,
        };
        if refused.is_some() {
            self.emit(&user, Some(client), EventKind::VerificationDenied)
                .await;
            return decoy();
        }
        let purpose = Purpose::Login(attempt.ticket_context());
        let (challenge_id, expires_at) = self.create_ticket(&user, &purpose, now).await?;
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
        let account = self.account(user).await?;
        if !account.has_factor() {
            return Ok(LoginStart::NotRequired);
        }
        let attempt = self.classify_network(user, client, now).await?;
        if let Some(until) = self
            .limit_check(Factor::SecondFactor, user, &attempt, now)
            .await?
        {
            return Ok(LoginStart::LockedOut { until });
        }
        let purpose = Purpose::StepUp(attempt.ticket_context());
        let (challenge_id, expires_at) = self.create_ticket(user, &purpose, now).await?;
        self.emit(
            user,
            Some(client),
            EventKind::ChallengeIssued { method: None },
        )
        .await;
        Ok(LoginStart::ChallengeRequired {
            challenge_id,
            methods: account.methods,
            expires_at,
        })
    }
}

/// Whether `settings` has a confirmed email factor at `address` (normalised).
pub(crate) fn email_factor_matches(settings: &MfaSettings, address: &str) -> bool {
    settings.enabled.contains(&FactorKind::Email)
        && settings
            .email
            .as_ref()
            .is_some_and(|e| e.normalized() == address)
}
