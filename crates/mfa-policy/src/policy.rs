//! [`Policy`]: every rule of one deployment in one validated value, and its builder.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use mfa_core::{ChallengeKind, Channel, Digits, Skew};

use crate::client::{ClientKey, ClientPrefixes};
use crate::decision::Decision;
use crate::error::{Result, check_count, check_duration};
use crate::factor::{Factor, FactorRules};
use crate::lifetime::{self, ChallengeState, Lifetimes};
use crate::send::{SendQuota, SendState};

/// Most TOTP steps accepted on either side of the current one.
pub const MAX_TOTP_SKEW: u8 = 2;

/// Shortest accepted recognition period: one day.
pub const MIN_RECOGNITION: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest accepted recognition period: 400 days (the longest a browser keeps a cookie).
pub const MAX_RECOGNITION: Duration = Duration::from_secs(400 * 24 * 60 * 60);

/// Whether every user must have a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Enrolment {
    /// A user without an active factor signs in with the first factor alone.
    #[default]
    Optional,
    /// A user without an active factor (none enrolled, only pending or disabled ones, or no
    /// settings record at all) gets "enrolment required" and no session until they enrol.
    Required,
}

/// What a WebAuthn assertion whose signature counter did not move forward (the sign of a cloned
/// authenticator, W3C WebAuthn §6.1.1) leads to. Either way the assertion is refused, counted
/// as a failed attempt, audited, and the user is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CounterRegression {
    /// Refuse the assertion; the credential stays registered (a false alarm, such as a
    /// restored backup of the authenticator, costs the user nothing more than this sign-in).
    #[default]
    Refuse,
    /// Refuse the assertion and remove the credential: the original and the clone stop
    /// working alike, and the user signs in with another factor or a recovery code.
    RefuseAndRemove,
}

/// Every limit, lockout, quota and lifetime of one deployment, validated once.
///
/// Build one with a preset ([`Policy::email_link_login`] and its siblings), with
/// [`Policy::builder`], or by changing a preset through [`Policy::to_builder`]. All decision
/// functions are pure: they take the counter state a store returned and the current time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Policy {
    pub(crate) password: FactorRules,
    pub(crate) second_factor: FactorRules,
    pub(crate) challenge_attempts: NonZeroU32,
    pub(crate) lifetimes: Lifetimes,
    pub(crate) email_quota: SendQuota,
    pub(crate) sms_quota: SendQuota,
    pub(crate) client_prefixes: ClientPrefixes,
    pub(crate) totp_digits: Digits,
    pub(crate) totp_skew: Skew,
    pub(crate) code_digits: Digits,
    pub(crate) enrolment: Enrolment,
    pub(crate) recognition: Duration,
    pub(crate) ticket_budget: NonZeroU32,
    pub(crate) user_quota: SendQuota,
    pub(crate) counter_regression: CounterRegression,
}

impl Default for Policy {
    /// The [`authenticator_setup`](Policy::authenticator_setup) defaults.
    fn default() -> Self {
        Self::authenticator_setup()
    }
}

impl Policy {
    /// A builder starting from the defaults.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder {
            policy: Self::default(),
        }
    }

    /// A builder starting from this policy, to change a preset.
    pub fn to_builder(&self) -> PolicyBuilder {
        PolicyBuilder {
            policy: self.clone(),
        }
    }

    /// The failure rules of one factor.
    #[must_use]
    pub const fn rules(&self, factor: Factor) -> &FactorRules {
        match factor {
            Factor::Password => &self.password,
            Factor::SecondFactor => &self.second_factor,
        }
    }

    /// The password failure rules (counted by the facade, separately from the second factor).
    #[must_use]
    pub const fn password(&self) -> &FactorRules {
        &self.password
    }

    /// The second-factor failure rules.
    #[must_use]
    pub const fn second_factor(&self) -> &FactorRules {
        &self.second_factor
    }

    /// Tries one challenge (email or SMS code, magic link, login ticket) allows.
    #[must_use]
    pub const fn challenge_attempts(&self) -> NonZeroU32 {
        self.challenge_attempts
    }

    /// Whether a try on a challenge may proceed: refused once it has expired or has no tries
    /// left (`retry_after` zero: a new challenge is needed).
    pub fn check_challenge(&self, state: &ChallengeState, now: SystemTime) -> Decision {
        lifetime::check_challenge(self.challenge_attempts, state, now)
    }

    /// The lifetimes of each channel.
    #[must_use]
    pub const fn lifetimes(&self) -> &Lifetimes {
        &self.lifetimes
    }

    /// The lifetime of challenges of one kind.
    #[must_use]
    pub const fn lifetime(&self, kind: ChallengeKind) -> Duration {
        self.lifetimes.get(kind)
    }

    /// When a challenge of `kind` issued at `issued_at` expires.
    #[must_use]
    pub fn expires_at(&self, kind: ChallengeKind, issued_at: SystemTime) -> SystemTime {
        self.lifetimes.expires_at(kind, issued_at)
    }

    /// The send quota of one delivery channel, applied per destination: once to every
    /// unrecognised context together, and once more to each recognised context on its own, so
    /// that strangers who spend a destination's quota do not spend the user's.
    #[must_use]
    pub const fn send_quota(&self, channel: Channel) -> &SendQuota {
        match channel {
            Channel::Email => &self.email_quota,
            Channel::Sms => &self.sms_quota,
        }
    }

    /// Whether one more message may go to a destination (see [`SendQuota::check`]).
    pub fn check_send(&self, channel: Channel, state: &SendState, now: SystemTime) -> Decision {
        self.send_quota(channel).check(state, now)
    }

    /// The quota of messages to one user, over every channel and destination (enrolment
    /// addresses included), per context class as for [`send_quota`](Self::send_quota).
    #[must_use]
    pub const fn user_quota(&self) -> &SendQuota {
        &self.user_quota
    }

    /// Whether every user must have a second factor.
    #[must_use]
    pub const fn enrolment(&self) -> Enrolment {
        self.enrolment
    }

    /// How long a network stays recognised for a user after a login completed from it.
    #[must_use]
    pub const fn recognition(&self) -> Duration {
        self.recognition
    }

    /// Logins (tickets) one account may start per hour from unrecognised contexts together,
    /// and from each recognised context on its own; beyond it a login start answers like an
    /// unknown account (a decoy) and stores nothing. A login that completes gives its unit
    /// back: the budget bounds logins that are started and left unanswered.
    #[must_use]
    pub const fn ticket_budget(&self) -> NonZeroU32 {
        self.ticket_budget
    }

    /// The prefixes that map addresses to client keys.
    #[must_use]
    pub const fn client_prefixes(&self) -> ClientPrefixes {
        self.client_prefixes
    }

    /// The client key of `ip` under this policy's prefixes.
    #[must_use]
    pub fn client_key(&self, ip: IpAddr) -> ClientKey {
        self.client_prefixes.key(ip)
    }

    /// Digits of TOTP codes at enrolment.
    #[must_use]
    pub const fn totp_digits(&self) -> Digits {
        self.totp_digits
    }

    /// TOTP steps accepted before and after the current one.
    #[must_use]
    pub const fn totp_skew(&self) -> Skew {
        self.totp_skew
    }

    /// What a WebAuthn signature counter that went backwards leads to.
    #[must_use]
    pub const fn counter_regression(&self) -> CounterRegression {
        self.counter_regression
    }

    /// Digits of the numeric codes sent by email or SMS.
    #[must_use]
    pub const fn code_digits(&self) -> Digits {
        self.code_digits
    }
}

/// Builds a [`Policy`]; every value is checked in [`build`](Self::build).
#[derive(Debug, Clone)]
#[must_use]
pub struct PolicyBuilder {
    policy: Policy,
}

impl PolicyBuilder {
    /// Sets the password failure rules.
    pub const fn password(mut self, rules: FactorRules) -> Self {
        self.policy.password = rules;
        self
    }

    /// Sets the second-factor failure rules.
    pub const fn second_factor(mut self, rules: FactorRules) -> Self {
        self.policy.second_factor = rules;
        self
    }

    /// Sets the tries per challenge (at most
    /// [`MAX_CHALLENGE_ATTEMPTS`](crate::MAX_CHALLENGE_ATTEMPTS)).
    pub const fn challenge_attempts(mut self, attempts: NonZeroU32) -> Self {
        self.policy.challenge_attempts = attempts;
        self
    }

    /// Sets the lifetime of one kind of challenge (within
    /// [`MIN_LIFETIME`](crate::MIN_LIFETIME)..=[`MAX_LIFETIME`](crate::MAX_LIFETIME)).
    pub const fn lifetime(mut self, kind: ChallengeKind, lifetime: Duration) -> Self {
        self.policy.lifetimes = self.policy.lifetimes.set(kind, lifetime);
        self
    }

    /// Sets the send quota of one delivery channel.
    pub const fn send_quota(mut self, channel: Channel, quota: SendQuota) -> Self {
        match channel {
            Channel::Email => self.policy.email_quota = quota,
            Channel::Sms => self.policy.sms_quota = quota,
        }
        self
    }

    /// Sets the quota of messages per user.
    pub const fn user_quota(mut self, quota: SendQuota) -> Self {
        self.policy.user_quota = quota;
        self
    }

    /// Sets whether every user must have a second factor.
    pub const fn enrolment(mut self, enrolment: Enrolment) -> Self {
        self.policy.enrolment = enrolment;
        self
    }

    /// Sets how long a network stays recognised after a login from it (within
    /// [`MIN_RECOGNITION`]..=[`MAX_RECOGNITION`]).
    pub const fn recognition(mut self, period: Duration) -> Self {
        self.policy.recognition = period;
        self
    }

    /// Sets how many logins an account may start per hour per context class.
    pub const fn ticket_budget(mut self, per_hour: NonZeroU32) -> Self {
        self.policy.ticket_budget = per_hour;
        self
    }

    /// Sets the prefixes that map addresses to client keys.
    pub const fn client_prefixes(mut self, prefixes: ClientPrefixes) -> Self {
        self.policy.client_prefixes = prefixes;
        self
    }

    /// Sets the TOTP digits and skew (at most [`MAX_TOTP_SKEW`] steps each way).
    pub const fn totp(mut self, digits: Digits, skew: Skew) -> Self {
        self.policy.totp_digits = digits;
        self.policy.totp_skew = skew;
        self
    }

    /// Sets what a WebAuthn signature counter that went backwards leads to.
    pub const fn counter_regression(mut self, regression: CounterRegression) -> Self {
        self.policy.counter_regression = regression;
        self
    }

    /// Sets the digits of emailed and texted codes.
    pub const fn code_digits(mut self, digits: Digits) -> Self {
        self.policy.code_digits = digits;
        self
    }

    /// The policy, once every value is within its bounds.
    ///
    /// # Errors
    /// [`Error::DurationOutOfRange`](crate::Error::DurationOutOfRange) for a lifetime or
    /// recognition period outside its bounds; [`Error::LimitTooHigh`](crate::Error::LimitTooHigh) for too many challenge
    /// tries or too wide a TOTP skew. Failure rules, quotas and prefixes are validated when
    /// they are made.
    pub fn build(self) -> Result<Policy> {
        let p = self.policy;
        p.lifetimes.validate()?;
        check_duration(
            "recognition period",
            p.recognition,
            MIN_RECOGNITION,
            MAX_RECOGNITION,
        )?;
        lifetime::validate_attempts(p.challenge_attempts)?;
        let max = u32::from(MAX_TOTP_SKEW);
        check_count("TOTP skew back", u32::from(p.totp_skew.back), max)?;
        check_count("TOTP skew forward", u32::from(p.totp_skew.forward), max)?;
        Ok(p)
    }
}
