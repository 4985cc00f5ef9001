//! Verification: one proof against one ticket. A try of the ticket and a unit of every budget
//! of its plan are taken before anything is compared, in one store step
//! ([`FlowStore::attempt`](mfa_store::FlowStore::attempt)); the outcome is settled in one more
//! ([`FlowStore::settle`](mfa_store::FlowStore::settle)).

use std::time::SystemTime;

use mfa_core::{Channel, Code, CodeDigest, RecoveryCode, Totp, TotpParams};
use mfa_policy::Factor;
use mfa_store::{
    AttemptOutcome, Challenge, ClientInfo, CounterTake, FactorStatus, Settlement, TotpFactor,
};

use crate::context::Attempt;
use crate::error::Result;
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, ChallengeId};
use crate::limits::{Admission, Admitted, AfterFailure};
use crate::login::ticket_budget;
use crate::method::Method;
use crate::outcome::{Outcome, Proof, VerifyOptions};
use crate::purpose::{Purpose, TicketContext, digest};

/// A live, unconsumed ticket, found by its handle.
pub(crate) struct Ticket {
    pub(crate) id: String,
    /// The digest whose hex is `id`: what a magic link refers to its ticket by.
    pub(crate) digest: CodeDigest,
    pub(crate) purpose: Purpose,
    pub(crate) challenge: Challenge,
}

/// What answered an unlock ticket: whose it is, its store id, the link it was opened from,
/// and the factor and TOTP step a code matched (none for a password or another proof).
pub(crate) struct UnlockAnswer<'a> {
    pub(crate) user: &'a str,
    pub(crate) ticket_id: &'a str,
    pub(crate) link: Option<&'a mfa_core::CodeDigest>,
    pub(crate) step: Option<(String, u64)>,
}

/// What comparing a proof found.
pub(crate) enum Eval {
    Match {
        /// The factor and step a TOTP code matched, to advance in the settling step.
        step: Option<(String, u64)>,
        /// Recovery codes left, when a recovery code matched.
        recovery_left: Option<usize>,
    },
    NoMatch,
}

/// Maps a refused try to its outcome.
pub(crate) fn refused(outcome: &AttemptOutcome) -> Outcome {
    match outcome {
        AttemptOutcome::Exhausted => Outcome::ChallengeExhausted,
        _ => Outcome::Expired,
    }
}

fn unix(now: SystemTime) -> u64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Mfa {
    /// The live, unconsumed ticket behind `handle`, if any (foreign challenges: none). One read: for the calls that act on a ticket without answering it (sends).
    pub(crate) async fn ticket(
        &self,
        handle: &ChallengeId,
        now: SystemTime,
    ) -> Result<Option<Ticket>> {
        let (id, id_digest) =
            handles::store_id(&self.inner.pepper, digest::CHALLENGE_ID, &handle.0);
        let Some(challenge) = self.inner.store.challenge(&id, now).await? else {
            return Ok(None);
        };
        let purpose = Purpose::decode(&challenge.purpose).filter(Purpose::is_ticket);
        Ok(match purpose {
            Some(purpose) if !challenge.consumed => Some(Ticket {
                id,
                digest: id_digest,
                purpose,
                challenge,
            }),
            _ => None,
        })
    }

    /// The context a send for `ticket` from `client` is counted in.
    pub(crate) fn ticket_attempt(&self, ticket: &Ticket, client: &ClientInfo) -> Attempt {
        let network = self.network(client);
        match ticket.purpose.context() {
            Some(context) => Attempt::on_ticket(context, network),
            None => Attempt {
                class: mfa_policy::Context::Recognised,
                network,
                tag: Some("unlock".to_owned()),
            },
        }
    }

    /// Verifies `proof` against challenge `challenge` (from
    /// [`begin_login`](Self::begin_login), [`password_step`](Self::password_step),
    /// [`begin_email_login`](Self::begin_email_login), [`begin_step_up`](Self::begin_step_up)
    /// or [`begin_unlock`](Self::begin_unlock)).
    ///
    /// Checks only the factor the proof names. A try of the ticket and a unit of every budget
    /// of the attempt's context are taken, atomically, before anything is compared;
    /// comparisons are constant-time; a TOTP step is accepted once; codes and the ticket are
    /// consumed once. A code guessed on a channel no code was sent through is refused and
    /// counts nowhere (it needs no secret). The attempt that reaches a lock returns
    /// [`Outcome::LockedOut`]. Show users [`Outcome::public_response`].
    ///
    /// # Errors
    /// Store, delivery or crypto failures only; nothing is granted then.
    pub async fn verify(
        &self,
        challenge: &ChallengeId,
        proof: Proof<'_>,
        client: &ClientInfo,
        options: VerifyOptions,
    ) -> Result<Outcome> {
        let now = self.now();
        let (id, id_digest) =
            handles::store_id(&self.inner.pepper, digest::CHALLENGE_ID, &challenge.0);
        if let Proof::MagicLink(link) = proof {
            return self
                .redeem_link(link, None, Some(&id_digest), client, options, now)
                .await;
        }
        let tag = self.network(client);
        let totp = matches!(proof, Proof::Totp(_));
        let view = self
            .inner
            .store
            .attempt(&id, tag.as_deref(), totp, now)
            .await?;
        let AttemptOutcome::Spent {
            challenge: stored,
            attempts_left_after,
        } = view.outcome
        else {
            return Ok(refused(&view.outcome));
        };
        let user = stored.user.clone();
        // The store reads the factors only when every take counted; a take refused by a lock
        // from before an unlock is made again by `judge_plan`, and the factors are then read
        // here (off the common path: once per unlock).
        let read_factors = totp && !view.takes.iter().all(CounterTake::is_taken);
        let admitted = match self
            .judge_plan(
                Factor::SecondFactor,
                &user,
                stored.plan.as_ref(),
                view.recognised,
                view.takes,
                now,
            )
            .await?
        {
            Admission::Refused(until) => {
                self.emit(&user, Some(client), EventKind::VerificationDenied)
                    .await;
                return Ok(Outcome::LockedOut { until });
            }
            Admission::Admitted(admitted) => admitted,
        };
        let Some(purpose) = Purpose::decode(&stored.purpose).filter(Purpose::is_ticket) else {
            self.undo(&admitted, &user, now).await?;
            return Ok(Outcome::Expired);
        };
        let channel = match proof {
            Proof::EmailCode(_) => Some(Channel::Email),
            Proof::SmsCode(_) => Some(Channel::Sms),
            _ => None,
        };
        if let Some(channel) = channel
            && (stored.kind.channel() != Some(channel) || stored.code_digest.is_none())
        {
            // No code went through this channel: the guess needs no secret and counts nowhere.
            self.undo(&admitted, &user, now).await?;
            return Ok(Outcome::Rejected {
                attempts_left: attempts_left_after,
            });
        }
        let method = proof.method();
        let factors = if read_factors {
            self.inner.store.totp_factors(&user).await?
        } else {
            view.factors
        };
        let eval = match proof {
            Proof::Totp(input) => self.check_totp(&user, input, &factors, now)?,
            Proof::EmailCode(input) | Proof::SmsCode(input) => {
                let code_purpose = match channel {
                    Some(Channel::Sms) => digest::SMS_CODE,
                    _ => digest::EMAIL_CODE,
                };
                self.check_code(&user, input, code_purpose, stored.code_digest.as_ref())
            }
            Proof::RecoveryCode(input) => self.check_recovery(&user, input).await?,
            Proof::MagicLink(_) => Eval::NoMatch,
            #[cfg(feature = "webauthn")]
            Proof::WebAuthn(assertion) => {
                self.check_webauthn(&user, &id, assertion, client, now)
                    .await?
            }
        };
        let Eval::Match {
            step,
            recovery_left,
        } = eval
        else {
            return self
                .fail(&user, admitted, method, attempts_left_after, client, now)
                .await;
        };
        if purpose == Purpose::Unlock {
            let answer = UnlockAnswer {
                user: &user,
                ticket_id: &id,
                link: stored.link_digest.as_ref(),
                step,
            };
            return self.unlocked(answer, &admitted, client, now).await;
        }
        let success = Success {
            user: &user,
            method,
            step,
            consume: vec![id],
            recovery_left,
            opened_from: purpose.context().cloned(),
        };
        self.succeed(success, admitted, attempts_left_after, client, options, now)
            .await
    }

    /// Gives back every unit an admitted attempt took, in one step (an attempt that must count
    /// nowhere).
    async fn undo(&self, admitted: &Admitted, user: &str, now: SystemTime) -> Result<()> {
        let mut settlement = Settlement {
            user: user.to_owned(),
            ..Settlement::default()
        };
        Self::undo_into(admitted, &mut settlement);
        self.inner.store.settle(settlement, now).await?;
        Ok(())
    }

    fn check_code(
        &self,
        user: &str,
        input: &str,
        code_purpose: &str,
        stored: Option<&CodeDigest>,
    ) -> Eval {
        let Ok(code) = Code::parse(input, self.inner.policy.code_digits()) else {
            return Eval::NoMatch;
        };
        let typed = self.inner.pepper.digest_code(code_purpose, user, &code);
        if stored.is_some_and(|s| s.ct_eq(&typed)) {
            Eval::Match {
                step: None,
                recovery_left: None,
            }
        } else {
            Eval::NoMatch
        }
    }

    /// Compares `input` with every confirmed authenticator of `user` (read in the attempt's
    /// step); the step to advance comes back with the match and is advanced when the success
    /// settles, atomically with consuming the ticket.
    fn check_totp(
        &self,
        user: &str,
        input: &str,
        factors: &[TotpFactor],
        now: SystemTime,
    ) -> Result<Eval> {
        let skew = self.inner.policy.totp_skew();
        for factor in factors {
            if factor.status != FactorStatus::Confirmed {
                continue;
            }
            let Ok(code) = Code::parse(input, factor.digits) else {
                continue;
            };
            let secret = self
                .inner
                .keyring
                .open(&factor.sealed_secret, user, &factor.id)?;
            let totp = Totp::new(
                &secret,
                TotpParams {
                    algorithm: factor.algorithm,
                    digits: factor.digits,
                    period: factor.period,
                    ..TotpParams::default()
                },
            );
            if let Some(step) = totp.verify_after(&code, unix(now), skew, factor.last_used_step) {
                return Ok(Eval::Match {
                    step: Some((factor.id.clone(), step)),
                    recovery_left: None,
                });
            }
        }
        Ok(Eval::NoMatch)
    }

    async fn check_recovery(&self, user: &str, input: &str) -> Result<Eval> {
        let Ok(code) = RecoveryCode::parse(input) else {
            return Ok(Eval::NoMatch);
        };
        let store = &self.inner.store;
        let locator = code.locator(&self.inner.pepper, user);
        let Some(verifier) = store.find_recovery_code(user, &locator).await? else {
            return Ok(Eval::NoMatch);
        };
        if !code.matches(&verifier, &self.inner.pepper, user)? {
            return Ok(Eval::NoMatch);
        }
        if !store.consume_recovery_code(user, &locator).await? {
            return Ok(Eval::NoMatch);
        }
        Ok(Eval::Match {
            step: None,
            recovery_left: Some(store.remaining_recovery_codes(user).await?),
        })
    }

    /// A wrong proof: audited, counted (locks written, the user told once), answered.
    pub(crate) async fn fail(
        &self,
        user: &str,
        admitted: Box<Admitted>,
        method: Method,
        attempts_left: u32,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<Outcome> {
        let failed = self.event(
            user,
            Some(client),
            EventKind::VerificationFailed { method },
            now,
        );
        Ok(
            match self
                .attempt_failed(admitted, user, client, vec![failed], now)
                .await?
            {
                AfterFailure::Continue => Outcome::Rejected { attempts_left },
                AfterFailure::Blocked(until) => Outcome::LockedOut { until },
            },
        )
    }

    /// A right proof of a login or step-up, settled in one step: the step advanced and the
    /// challenges consumed (or nothing, when a concurrent attempt won: then it is a failure),
    /// the budgets settled, the network remembered, the success audited. Then what the options
    /// asked for.
    pub(crate) async fn succeed(
        &self,
        success: Success<'_>,
        admitted: Box<Admitted>,
        attempts_left: u32,
        client: &ClientInfo,
        options: VerifyOptions,
        now: SystemTime,
    ) -> Result<Outcome> {
        let Success {
            user,
            method,
            step,
            consume,
            recovery_left,
            opened_from,
        } = success;
        let mut settlement = Settlement {
            user: user.to_owned(),
            advance: step,
            consume,
            ..Settlement::default()
        };
        Self::success(&admitted, &mut settlement);
        if let Some(context) = &opened_from {
            let per_hour = self.inner.policy.ticket_budget().get();
            settlement
                .refunds
                .push(ticket_budget(user, context, per_hour).key);
        }
        settlement.locks.extend(self.remembered(user, client, now));
        let mut events = vec![self.event(
            user,
            Some(client),
            EventKind::VerificationSucceeded { method },
            now,
        )];
        if let Some(remaining) = recovery_left {
            events.push(self.event(
                user,
                Some(client),
                EventKind::RecoveryCodeUsed { remaining },
                now,
            ));
        }
        if !self.settle_told(settlement, events, now).await? {
            // The step was used or the ticket consumed by a concurrent attempt: a replay.
            return self
                .fail(user, admitted, method, attempts_left, client, now)
                .await;
        }
        if let Some(remaining) = recovery_left {
            let notice = mfa_mail::Notice::RecoveryCodeUsed {
                remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            };
            self.notify(user, notice, Default::default()).await;
        }
        let trusted_device_token = match options.trust_device {
            Some(label) => Some(self.trust_device(user, &label, client, now).await?),
            None => None,
        };
        let step_up = if options.step_up {
            Some(self.grant_step_up(user, now).await?)
        } else {
            None
        };
        Ok(Outcome::Verified {
            user: user.to_owned(),
            method,
            trusted_device_token,
            recovery_codes_left: recovery_left,
            step_up,
        })
    }
}

/// A matched proof, to settle.
pub(crate) struct Success<'a> {
    pub(crate) user: &'a str,
    pub(crate) method: Method,
    pub(crate) step: Option<(String, u64)>,
    pub(crate) consume: Vec<String>,
    pub(crate) recovery_left: Option<usize>,
    /// The context the login's ticket was opened from: its unit of the ticket budget is given
    /// back, so logins that complete never spend the budget that bounds those that do not.
    pub(crate) opened_from: Option<TicketContext>,
}
