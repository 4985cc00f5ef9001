//! [`Policy`]: every rule of one deployment in one validated value, and its builder.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use mfa_core::{Digits, Skew};

use crate::client::{ClientKey, ClientPrefixes};
use crate::decision::Decision;
use crate::error::{Result, check_count};
use crate::factor::{Factor, FactorRules};
use crate::lifetime::{self, ChallengeState, Channel, Lifetimes};
use crate::send::{Delivery, SendQuota, SendState};

/// Most TOTP steps accepted on either side of the current one.
pub const MAX_TOTP_SKEW: u8 = 2;

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

    /// The window of the second factor's account-wide counter, if it is on.
    #[must_use]
    pub fn account_window(&self) -> Option<Duration> {
        self.second_factor.account_window()
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

    /// The lifetime of one channel.
    #[must_use]
    pub const fn lifetime(&self, channel: Channel) -> Duration {
        self.lifetimes.get(channel)
    }

    /// When a challenge of `channel` issued at `issued_at` expires.
    #[must_use]
    pub fn expires_at(&self, channel: Channel, issued_at: SystemTime) -> SystemTime {
        self.lifetimes.expires_at(channel, issued_at)
    }

    /// The send quota of one delivery channel.
    #[must_use]
    pub const fn send_quota(&self, delivery: Delivery) -> &SendQuota {
        match delivery {
            Delivery::Email => &self.email_quota,
            Delivery::Sms => &self.sms_quota,
        }
    }

    /// Whether one more message may go to a destination (see [`SendQuota::check`]).
    pub fn check_send(&self, delivery: Delivery, state: &SendState, now: SystemTime) -> Decision {
        self.send_quota(delivery).check(state, now)
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

    /// Sets the lifetime of one channel (within
    /// [`MIN_LIFETIME`](crate::MIN_LIFETIME)..=[`MAX_LIFETIME`](crate::MAX_LIFETIME)).
    pub const fn lifetime(mut self, channel: Channel, lifetime: Duration) -> Self {
        self.policy.lifetimes = self.policy.lifetimes.set(channel, lifetime);
        self
    }

    /// Sets the send quota of one delivery channel.
    pub const fn send_quota(mut self, delivery: Delivery, quota: SendQuota) -> Self {
        match delivery {
            Delivery::Email => self.policy.email_quota = quota,
            Delivery::Sms => self.policy.sms_quota = quota,
        }
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

    /// Sets the digits of emailed and texted codes.
    pub const fn code_digits(mut self, digits: Digits) -> Self {
        self.policy.code_digits = digits;
        self
    }

    /// The policy, once every value is within its bounds.
    ///
    /// # Errors
    /// [`Error::DurationOutOfRange`](crate::Error::DurationOutOfRange) for a lifetime outside
    /// its bounds; [`Error::LimitTooHigh`](crate::Error::LimitTooHigh) for too many challenge
    /// tries or too wide a TOTP skew. Failure rules, quotas and prefixes are validated when
    /// they are made.
    pub fn build(self) -> Result<Policy> {
        let p = self.policy;
        p.lifetimes.validate()?;
        lifetime::validate_attempts(p.challenge_attempts)?;
        let max = u32::from(MAX_TOTP_SKEW);
        check_count("TOTP skew back", u32::from(p.totp_skew.back), max)?;
        check_count("TOTP skew forward", u32::from(p.totp_skew.forward), max)?;
        Ok(p)
    }
}
