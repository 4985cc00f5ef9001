//! [`FlowStore`]: the coarse operations a login makes, one round trip each on a backend that
//! overrides them, each provided by default as the fine-grained operations it stands for.
//!
//! A full TOTP login is four of them: [`login_view`](FlowStore::login_view) and
//! [`open_ticket`](FlowStore::open_ticket) when it starts, [`attempt`](FlowStore::attempt) and
//! [`settle`](FlowStore::settle) when the code comes. A third-party store that implements only
//! the entity traits gets them with `impl FlowStore for MyStore {}` and works unchanged; a
//! backend overrides them (one statement, transaction or script each) to save round trips. The
//! conformance kit checks the defaults (`MemoryStore`) and every override with the same checks.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::{
    AttemptOutcome, AuditEvent, AuditStore, Challenge, ChallengeStore, CounterKey, CounterState,
    CounterStore, CounterTake, MfaSettings, RecoveryCodeStore, Result, SettingsStore, Take,
    TotpFactor, TotpFactorStore,
};

/// What a login start reads about a user, in one step.
#[derive(Debug, Clone)]
pub struct LoginView {
    /// The user's settings, `None` if never stored.
    pub settings: Option<MfaSettings>,
    /// How many unused recovery codes the user has.
    pub recovery_codes_left: usize,
    /// The states of the keys asked for, in their order (`None`: absent or expired).
    pub counters: Vec<Option<CounterState>>,
}

/// What one attempt on a challenge did and read, in one step.
#[derive(Debug, Clone)]
pub struct AttemptView {
    /// The try: [`AttemptOutcome::Spent`] (with the challenge, plan included) or the refusal.
    pub outcome: AttemptOutcome,
    /// Whether the plan's recognised list was taken (the attempt's tag equals the plan's).
    pub recognised: bool,
    /// The takes of the plan's chosen list, as [`CounterStore::take_counters`] returns them
    /// (stopping at the first refusal); empty when no try was spent or the challenge has no
    /// plan.
    pub takes: Vec<CounterTake>,
    /// The user's TOTP factors, when asked for and every take was counted; else empty.
    pub factors: Vec<TotpFactor>,
}

impl AttemptView {
    /// Whether a try was spent and every take of the plan counted: the attempt may be
    /// evaluated.
    #[must_use]
    pub fn admitted(&self) -> bool {
        matches!(self.outcome, AttemptOutcome::Spent { .. })
            && self.takes.iter().all(CounterTake::is_taken)
    }
}

/// What an attempt's outcome changes, applied in one step: the conditions first (a TOTP step
/// to advance, challenges to consume), then, only when every condition held, the counters and
/// the audit records.
#[derive(Debug, Clone, Default)]
pub struct Settlement {
    /// The user the attempt was for.
    pub user: String,
    /// A TOTP factor id and the step to record as its last used one (only if greater).
    pub advance: Option<(String, u64)>,
    /// Challenges to consume (each only if live and unconsumed).
    pub consume: Vec<String>,
    /// Counters to delete.
    pub resets: Vec<CounterKey>,
    /// Counters to give one unit back.
    pub refunds: Vec<CounterKey>,
    /// Counters to lock until the instant given.
    pub locks: Vec<(CounterKey, SystemTime)>,
    /// Audit records of what this step did.
    pub audit: Vec<AuditEvent>,
}

impl Settlement {
    /// Whether the settlement keeps to the rules every backend refuses it for breaking: no
    /// challenge listed twice, and every audit record the settlement user's. (Whether each
    /// challenge is the user's is checked where it is consumed.) A backend's `settle` returns
    /// `false` without applying anything when this is `false`.
    #[must_use]
    pub fn is_own(&self) -> bool {
        settlement_is_own(&self.user, &self.consume, &self.audit)
    }
}

fn settlement_is_own(user: &str, consume: &[String], audit: &[AuditEvent]) -> bool {
    let twice = consume.iter().enumerate().any(|(i, id)| {
        consume
            .iter()
            .skip(i.saturating_add(1))
            .any(|other| other == id)
    });
    !twice && audit.iter().all(|event| event.user == user)
}

/// The coarse operations of a login. Every method is provided, composed from the entity
/// traits; see the module documentation.
#[async_trait]
pub trait FlowStore:
    TotpFactorStore + ChallengeStore + RecoveryCodeStore + CounterStore + AuditStore + SettingsStore
{
    /// Reads `user`'s settings, the number of unused recovery codes, and the states of `keys`.
    ///
    /// Provided as `settings`, `remaining_recovery_codes` and `counters`.
    ///
    /// # Errors
    /// Backend failures.
    async fn login_view(
        &self,
        user: &str,
        keys: &[CounterKey],
        now: SystemTime,
    ) -> Result<LoginView> {
        Ok(LoginView {
            settings: self.settings(user).await?,
            recovery_codes_left: self.remaining_recovery_codes(user).await?,
            counters: self.counters(keys, now).await?,
        })
    }

    /// Takes one unit of `budget` (the logins a context may start) and, only if it was
    /// counted, stores `ticket` (as [`ChallengeStore::create_challenge`]) and appends `audit`.
    /// Returns the take. `audit` names the ticket's user.
    ///
    /// When the ticket's id is held by another user's live challenge the call fails with
    /// `Conflict` and changes nothing: the unit it took is given back, and the holder's
    /// challenge stays as it was. (Ids are digests of 256-bit handles, so an honest conflict
    /// does not happen; what matters is that a failed open leaves no trace.)
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Conflict`](crate::StoreError::Conflict) as
    /// `create_challenge`.
    async fn open_ticket(
        &self,
        ticket: Challenge,
        budget: &Take,
        audit: AuditEvent,
        now: SystemTime,
    ) -> Result<CounterTake> {
        let take = self
            .take_counter(&budget.key, budget.window, budget.limit, now)
            .await?;
        if take.is_taken() {
            if let Err(error) = self.create_challenge(ticket).await {
                if matches!(error, crate::StoreError::Conflict(_)) {
                    self.refund_counter(&budget.key, now).await?;
                }
                return Err(error);
            }
            self.append_audit(audit).await?;
        }
        Ok(take)
    }

    /// Spends one try of challenge `id` ([`ChallengeStore::spend_attempt`]); if it was spent and
    /// the challenge has a plan, takes the plan's list for `tag`
    /// ([`AttemptPlan::takes_for`](crate::AttemptPlan::takes_for), with the semantics of
    /// [`CounterStore::take_counters`]); if every take counted and `factors` is true, reads the
    /// challenge user's TOTP factors.
    ///
    /// Each part is atomic as its own operation; a backend should make the whole one step
    /// (the try and the takes atomic together).
    ///
    /// # Errors
    /// Backend failures; the caller must refuse the attempt.
    async fn attempt(
        &self,
        id: &str,
        tag: Option<&str>,
        factors: bool,
        now: SystemTime,
    ) -> Result<AttemptView> {
        let outcome = self.spend_attempt(id, now).await?;
        let mut view = AttemptView {
            outcome,
            recognised: false,
            takes: Vec::new(),
            factors: Vec::new(),
        };
        let AttemptOutcome::Spent { challenge, .. } = &view.outcome else {
            return Ok(view);
        };
        if let Some(plan) = &challenge.plan {
            let (recognised, takes) = plan.takes_for(tag);
            view.recognised = recognised;
            view.takes = self.take_counters(takes, now).await?;
        }
        if factors && view.takes.iter().all(CounterTake::is_taken) {
            view.factors = self.totp_factors(&challenge.user).await?;
        }
        Ok(view)
    }

    /// Applies `settlement`: advances the TOTP step if one is given (only if greater than the
    /// stored one, as [`TotpFactorStore::advance_totp_step`]) and consumes the challenges
    /// listed; if any of these is refused, returns `false`. Otherwise resets, refunds and locks
    /// the counters listed, appends the audit records and returns `true`.
    ///
    /// Everything a settlement names is the settlement user's: a challenge listed in `consume`
    /// that belongs to another user is refused like a spent one, and a settlement that lists a
    /// challenge twice, or carries an audit record of another user, is refused before anything
    /// is applied. (On Redis Cluster a user's records share one slot; these rules keep a
    /// settlement inside it.)
    ///
    /// Atomic as a whole on a backend that overrides it: of concurrent settlements with the
    /// same step or challenge exactly one returns `true`, and a refused one changes nothing.
    /// The provided version stops at the first refusal: what it applied before stays (a step
    /// advanced before a refused consume is used up: fail closed).
    ///
    /// # Errors
    /// Backend failures; the caller must not grant what the settlement stands for.
    async fn settle(&self, settlement: Settlement, now: SystemTime) -> Result<bool> {
        if !settlement.is_own() {
            return Ok(false);
        }
        let Settlement {
            user,
            advance,
            consume,
            resets,
            refunds,
            locks,
            audit,
        } = settlement;
        if let Some((factor, step)) = advance
            && !self.advance_totp_step(&user, &factor, step).await?
        {
            return Ok(false);
        }
        for id in &consume {
            let owned = self
                .challenge(id, now)
                .await?
                .is_some_and(|challenge| challenge.user == user);
            if !owned || !self.consume_challenge(id, now).await? {
                return Ok(false);
            }
        }
        for key in &resets {
            self.reset_counter(key).await?;
        }
        for key in &refunds {
            self.refund_counter(key, now).await?;
        }
        for (key, until) in &locks {
            self.lock_counter(key, *until, now).await?;
        }
        for event in audit {
            self.append_audit(event).await?;
        }
        Ok(true)
    }
}
