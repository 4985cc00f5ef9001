//! Starting a login (after the first factor, or passwordless by email) and step-up challenges.
//!
//! A login start is two store steps: [`login_view`](mfa_store::FlowStore::login_view) reads
//! the user's settings, recovery codes and every counter the decision needs;
//! [`open_ticket`](mfa_store::FlowStore::open_ticket) takes one of the context's login starts
//! and stores the ticket with its audit record.

use std::time::{Duration, SystemTime};

use mfa_core::{ChallengeKind, EmailAddress, FactorKind, Token};
use mfa_policy::{Enrolment, Factor};
use mfa_store::{
    AttemptPlan, Challenge, ClientInfo, CounterKey, CounterScope, CounterState, MfaSettings, Take,
    TrustedDevice,
};

use crate::context::{Attempt, known_key};
use crate::error::Result;
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, ChallengeId, DeviceToken};
use crate::method::Method;
use crate::outcome::LoginStart;
use crate::purpose::{Purpose, TicketContext, digest};

/// What a login start read about a user, in one store step.
pub(crate) struct Start {
    /// The methods the user can answer with, preferred first, recovery codes last; empty when
    /// the user has no active factor.
    pub(crate) methods: Vec<Method>,
    /// The attempt's context.
    pub(crate) attempt: Attempt,
    /// Until when the second factor refuses this context, if it does.
    pub(crate) locked: Option<SystemTime>,
}

impl Start {
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

/// The methods a challenge offers: the active factors, then recovery codes if any are left.
fn methods(settings: Option<&MfaSettings>, recovery_codes_left: usize) -> Vec<Method> {
    let mut methods: Vec<Method> = active_factors(settings)
        .into_iter()
        .map(Method::from)
        .collect();
    if !methods.is_empty() && recovery_codes_left > 0 {
        methods.push(Method::RecoveryCode);
    }
    methods
}

/// One of the logins a context may start per hour: a recognised network's own budget, or the
/// account's budget shared by every unrecognised context. A ticket that ends in a success gives
/// its unit back (`verify`), so the budget bounds logins that do not complete.
pub(crate) fn ticket_budget(user: &str, ticket: &TicketContext, per_hour: u32) -> Take {
    let scope = match &ticket.network {
        Some(network) if ticket.recognised => CounterScope::AccountClient {
            account: user.to_owned(),
            client: format!("net:{network}"),
        },
        _ => CounterScope::Account(user.to_owned()),
    };
    Take::new(
        CounterKey::new("tickets", scope),
        Duration::from_secs(3600),
        per_hour,
    )
}

impl Mfa {
    /// The answer for a user without an active factor: a session, or enrolment first.
    pub(crate) fn without_factor(&self) -> LoginStart {
        match self.inner.policy.enrolment() {
            Enrolment::Optional => LoginStart::NotRequired,
            Enrolment::Required => LoginStart::EnrollmentRequired,
        }
    }

    /// The second factors `user` can answer with now: the active factors, in the order of
    /// [`Method`], then [`Method::RecoveryCode`] while codes are left. Empty when the user has
    /// no active factor: the one state in which [`Authority::FirstFactor`](crate::Authority)
    /// may enrol one, so an application asks this to choose between that and a step-up.
    ///
    /// Two store reads; not on the login path (a login reads the same in its one view).
    ///
    /// # Errors
    /// Store failures.
    pub async fn enabled_methods(&self, user: &str) -> Result<Vec<Method>> {
        let settings = self.inner.store.settings(user).await?;
        let left = self.inner.store.remaining_recovery_codes(user).await?;
        Ok(methods(settings.as_ref(), left))
    }

    /// Reads, in one store step, what starting a login for `user` from `client` needs: the
    /// settings, the recovery codes left, whether the network is recognised (unless `device`
    /// already makes the attempt recognised), and the second factor's counters of the context.
    pub(crate) async fn start_view(
        &self,
        user: &str,
        client: &ClientInfo,
        device: Option<&TrustedDevice>,
        now: SystemTime,
    ) -> Result<Start> {
        let network = self.network(client);
        let candidates: Vec<Attempt> = match (device, &network) {
            (Some(d), _) => vec![Attempt::trusted_device(network.clone(), &d.id)],
            (None, Some(net)) => vec![
                Attempt::known_network(net.clone()),
                Attempt::unrecognised(network.clone()),
            ],
            (None, None) => vec![Attempt::unrecognised(None)],
        };
        let known = match (device, &network) {
            (None, Some(net)) => Some(known_key(user, net)),
            _ => None,
        };
        let mut keys: Vec<CounterKey> = known.iter().cloned().collect();
        for candidate in &candidates {
            for key in self.limit_keys(Factor::SecondFactor, user, candidate) {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        let view = self.inner.store.login_view(user, &keys, now).await?;
        let read = |k: &CounterKey| -> Option<CounterState> {
            keys.iter()
                .position(|x| x == k)
                .and_then(|i| view.counters.get(i).copied().flatten())
        };
        let recognised_network = known
            .as_ref()
            .and_then(&read)
            .is_some_and(|s| s.is_locked(now));
        let attempt = match candidates.as_slice() {
            [first, ..] if device.is_some() || recognised_network => first.clone(),
            [.., last] => last.clone(),
            [] => Attempt::unrecognised(network),
        };
        let locked = self.limit_verdict(Factor::SecondFactor, user, &attempt, &read, now);
        Ok(Start {
            methods: methods(view.settings.as_ref(), view.recovery_codes_left),
            attempt,
            locked,
        })
    }

    /// A new ticket of `purpose` for `user`, charged by `plan`, and its handle.
    pub(crate) fn new_ticket(
        &self,
        user: &str,
        purpose: &Purpose,
        plan: AttemptPlan,
        now: SystemTime,
    ) -> Result<(Challenge, ChallengeId)> {
        let token = Token::generate()?;
        let (id, _) = handles::store_id(&self.inner.pepper, digest::CHALLENGE_ID, &token);
        let expires_at = self
            .inner
            .policy
            .expires_at(ChallengeKind::LoginTicket, now);
        let challenge = Challenge {
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
            plan: Some(plan),
        };
        Ok((challenge, ChallengeId(token)))
    }

    /// Opens a login (or step-up) ticket for `user` from `attempt`, within the context's
    /// budget of login starts, with its audit record, in one store step. `None` when the
    /// budget is spent (until the returned instant).
    async fn open(
        &self,
        user: &str,
        purpose: Purpose,
        attempt: &Attempt,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<std::result::Result<(ChallengeId, SystemTime), SystemTime>> {
        let plan = self.plan(Factor::SecondFactor, user, attempt);
        let (ticket, handle) = self.new_ticket(user, &purpose, plan, now)?;
        let expires_at = ticket.expires_at;
        let budget = ticket_budget(
            user,
            &attempt.ticket_context(),
            self.inner.policy.ticket_budget().get(),
        );
        let event = self.event(
            user,
            Some(client),
            EventKind::ChallengeIssued { method: None },
            now,
        );
        let take = self
            .inner
            .store
            .open_ticket(ticket, &budget, Self::record_of(&event), now)
            .await?;
        if !take.is_taken() {
            return Ok(Err(take.state().window_end));
        }
        self.announce(&[event]);
        Ok(Ok((handle, expires_at)))
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
        let device = match device {
            Some(token) => self.trusted_device(user, token, now).await?,
            None => None,
        };
        let start = self.start_view(user, client, device.as_ref(), now).await?;
        self.second_step(user, start, device, client, now).await
    }

    /// After the first factor: no factor, the lock check, a trusted device, or a ticket.
    pub(crate) async fn second_step(
        &self,
        user: &str,
        start: Start,
        device: Option<TrustedDevice>,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<LoginStart> {
        if !start.has_factor() {
            let answer = self.without_factor();
            if matches!(answer, LoginStart::NotRequired) {
                self.remember_network(user, client, now).await?;
            }
            return Ok(answer);
        }
        if let Some(until) = start.locked {
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
        let purpose = Purpose::Login(start.attempt.ticket_context());
        match self
            .open(user, purpose, &start.attempt, client, now)
            .await?
        {
            Ok((challenge_id, expires_at)) => Ok(LoginStart::ChallengeRequired {
                challenge_id,
                methods: start.methods,
                expires_at,
            }),
            Err(until) => {
                self.emit(user, Some(client), EventKind::VerificationDenied)
                    .await;
                Ok(LoginStart::LockedOut { until })
            }
        }
    }

    /// Starts a passwordless login from an email address (the magic-link + code flow).
    ///
    /// The user id of this flow is the address in lower case
    /// ([`EmailAddress::normalized`]): the account must have confirmed that address as its email
    /// factor. Every address gets a real ticket, whether or not an account has it: for an
    /// unknown address, [`send_code`](Self::send_code) and
    /// [`send_magic_link`](Self::send_magic_link) make, count and store a code exactly as for
    /// a known one and deliver nothing, and [`verify`](Self::verify) counts its guesses and
    /// locks it by the same rules. The answers, their timing and their store work are the same
    /// for known and unknown addresses, so they do not tell which addresses exist
    /// (`benches/src/bin/timing.rs` measures it). An address that is locked, or whose
    /// network spent its login budget, answers [`LoginStart::LockedOut`], known or not.
    /// Logins started from different networks do not replace each other: a stranger cannot
    /// cancel the user's login.
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
        let start = self.start_view(&user, client, None, now).await?;
        let opened = match start.locked {
            Some(until) => Err(until),
            None => {
                let purpose = Purpose::EmailLogin(start.attempt.ticket_context());
                self.open(&user, purpose, &start.attempt, client, now)
                    .await?
            }
        };
        match opened {
            Ok((challenge_id, expires_at)) => Ok(LoginStart::ChallengeRequired {
                challenge_id,
                methods: vec![Method::Email],
                expires_at,
            }),
            Err(until) => {
                self.emit(&user, Some(client), EventKind::VerificationDenied)
                    .await;
                Ok(LoginStart::LockedOut { until })
            }
        }
    }

    /// Starts a re-verification of a signed-in `user` before a management call. Verify it with
    /// [`VerifyOptions::grant_step_up`](crate::VerifyOptions::grant_step_up) to obtain a
    /// step-up grant. Returns [`LoginStart::NotRequired`] when the user has no factor.
    ///
    /// # Errors
    /// Store failures.
    pub async fn begin_step_up(&self, user: &str, client: &ClientInfo) -> Result<LoginStart> {
        let now = self.now();
        let start = self.start_view(user, client, None, now).await?;
        if !start.has_factor() {
            return Ok(LoginStart::NotRequired);
        }
        if let Some(until) = start.locked {
            return Ok(LoginStart::LockedOut { until });
        }
        let purpose = Purpose::StepUp(start.attempt.ticket_context());
        Ok(
            match self
                .open(user, purpose, &start.attempt, client, now)
                .await?
            {
                Ok((challenge_id, expires_at)) => LoginStart::ChallengeRequired {
                    challenge_id,
                    methods: start.methods,
                    expires_at,
                },
                Err(until) => LoginStart::LockedOut { until },
            },
        )
    }
}
