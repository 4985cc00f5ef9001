//! The presets: one associated constructor per seed flow, reproducing its numbers exactly.
//!
//! Where a seed names no number, the documented defaults below apply (see docs/policy.md).

use std::num::NonZeroU32;
use std::time::Duration;

use mfa_core::{Digits, Skew};

use mfa_core::ChallengeKind;

use crate::client::ClientPrefixes;
use crate::counter::Counter;
use crate::factor::{FactorRules, MAX_CONSECUTIVE_CAP};
use crate::lifetime::Lifetimes;
use crate::policy::{CounterRegression, Enrolment, Policy};
use crate::rule::{FailureRule, Lockout};
use crate::send::SendQuota;

const fn nz(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(v) => v,
        None => NonZeroU32::MIN,
    }
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

impl FactorRules {
    /// The recommended second-factor rules.
    ///
    /// From unrecognised contexts: a network locked out of the account for 15 min after 5
    /// failures in 15 min; **15 evaluated attempts per account per 24-hour window**, then none
    /// until the window ends (windows start at the first attempt after the previous one ended,
    /// so any 24 hours overlap at most two: at most 30 guesses in any 24 hours, whatever the
    /// number of networks, challenges or concurrent requests); one network slowed down after
    /// 50 failures in 1 h across all accounts; at most 90 consecutive failures.
    ///
    /// From each recognised context on its own: [`FailureRule::recognised_default`]; all
    /// contexts together at most the NIST cap of 100 consecutive failures.
    #[must_use]
    pub const fn recommended() -> Self {
        Self {
            account: Some(FailureRule::preset(nz(15), secs(DAY), Lockout::Throttle)),
            account_lock: None,
            account_client: Some(FailureRule::preset(
                nz(5),
                secs(15 * MINUTE),
                Lockout::Fixed(secs(15 * MINUTE)),
            )),
            client: Some(DEFAULT_CLIENT_RULE),
            recognised: FailureRule::recognised_default(),
            consecutive_cap: nz(MAX_CONSECUTIVE_CAP),
        }
    }

    /// The recommended password rules: as [`recommended`](Self::recommended) for networks,
    /// recognised contexts and the cap, with an account-wide slowdown from unrecognised
    /// contexts instead of a daily budget: 10 failures in 1 h, then a lock of 1 min doubling up
    /// to 15 min.
    #[must_use]
    pub const fn recommended_password() -> Self {
        let mut rules = Self::recommended();
        rules.account = Some(FailureRule::preset(
            nz(10),
            secs(HOUR),
            Lockout::Backoff {
                base: secs(MINUTE),
                ceiling: secs(15 * MINUTE),
            },
        ));
        rules
    }

    /// Only the per-client rule, the recognised contexts' default and the NIST cap: the
    /// starting point of the presets whose seed prescribes its own account rules.
    const fn seed_base() -> Self {
        Self {
            account: None,
            account_lock: None,
            account_client: None,
            client: Some(DEFAULT_CLIENT_RULE),
            recognised: FailureRule::recognised_default(),
            consecutive_cap: nz(MAX_CONSECUTIVE_CAP),
        }
    }
}

/// 50 failures per client per hour across all accounts, then denied until the hour ends.
const DEFAULT_CLIENT_RULE: FailureRule = FailureRule::preset(nz(50), secs(HOUR), Lockout::Throttle);

impl Policy {
    /// Authenticator app set-up with QR, SMS or TOTP challenge, trusted devices (seed 4, whose
    /// numbers are not fixed): the recommended defaults.
    ///
    /// Second factor: [`FactorRules::recommended`]; password:
    /// [`FactorRules::recommended_password`]; 5 tries per challenge; email code 10 min, SMS
    /// code 5 min, magic link 10 min, login ticket 5 min; email: 30 s cooldown, 5 per hour, 20
    /// per day per destination; SMS: 60 s cooldown, 3 per hour, 10 per day; per user 10 per
    /// hour, 30 per day; 30 logins started per hour per account; networks recognised for 30
    /// days after a login; client keys IPv4 /32, IPv6 /64; TOTP 6 digits, ±1 step; 6-digit
    /// codes; enrolment optional.
    ///
    /// **What an attacker can do.** Holding the password, from any number of networks: at most
    /// 30 second-factor guesses in any 24 hours (a 6-digit TOTP at ±1 step: below 1e-4 success
    /// per day), none from a network after 5 failures for 15 min. Knowing only the username:
    /// lock password logins from unrecognised contexts (strangers' networks, a new device of the
    /// user's), but never from the user's trusted devices or the networks the user logged in
    /// from in the last 30 days. Knowing only an email address (passwordless): spend that
    /// address's quota for unrecognised contexts (at most 20 messages a day), never the quota
    /// of the user's recognised contexts, and never cancel the user's own login.
    #[must_use]
    pub const fn authenticator_setup() -> Self {
        Self {
            password: FactorRules::recommended_password(),
            second_factor: FactorRules::recommended(),
            challenge_attempts: nz(5),
            lifetimes: Lifetimes::DEFAULT,
            email_quota: SendQuota::preset(secs(30), nz(5), nz(20)),
            sms_quota: SendQuota::preset(secs(60), nz(3), nz(10)),
            client_prefixes: ClientPrefixes::DEFAULT,
            totp_digits: Digits::SIX,
            totp_skew: Skew::ONE_STEP,
            code_digits: Digits::SIX,
            enrolment: Enrolment::Optional,
            recognition: secs(30 * DAY),
            ticket_budget: nz(30),
            user_quota: SendQuota::preset(secs(1), nz(10), nz(30)),
            counter_regression: CounterRegression::Refuse,
        }
    }

    /// Email magic link + 6-digit code (seed 1): link and code live 2 min; 3 wrong tries from
    /// unrecognised contexts then the account is locked for 1 h against unrecognised contexts;
    /// 3 tries per challenge; everything else as
    /// [`authenticator_setup`](Self::authenticator_setup).
    ///
    /// **What an attacker can do.** Knowing only the email address: ask for codes and guess
    /// them from strangers' networks, 3 guesses an hour (72 a day at most, about 7e-5 success
    /// per day for a 6-digit code), and so keep the account locked for every unrecognised
    /// context, which the user learns from the lock notice (with its unlock link). The user's
    /// own login from a recognised network keeps its own code, quota and budget of 10 failures
    /// an hour, so the attacker can neither lock the user out there nor cancel a code the user
    /// was sent.
    #[must_use]
    pub const fn email_link_login() -> Self {
        let mut p = Self::authenticator_setup();
        p.lifetimes = p
            .lifetimes
            .set(ChallengeKind::EmailCode, secs(2 * MINUTE))
            .set(ChallengeKind::MagicLink, secs(2 * MINUTE));
        p.challenge_attempts = nz(3);
        p.second_factor = FactorRules::seed_base().with(
            Counter::AccountLock,
            Some(FailureRule::preset(
                nz(3),
                secs(HOUR),
                Lockout::Fixed(secs(HOUR)),
            )),
        );
        p
    }

    /// Password then email code, then a session (seed 2): the code lives 10 min; 3 failed
    /// password tries in 15 min from unrecognised contexts lock the account for 10 s against
    /// them; password logins rate-limited to 10 failures per network per 15 min; second factor
    /// as [`authenticator_setup`](Self::authenticator_setup).
    ///
    /// **What an attacker can do.** Knowing only the username: slow password logins from
    /// unrecognised contexts to 3 tries per 10 s, and keep them locked (up to the NIST cap of 90
    /// consecutive failures from unrecognised contexts, after which only the unlock link, an
    /// administrator or a login from a recognised context clears it); the user's recognised
    /// contexts keep their own budget. Holding the password: as
    /// [`authenticator_setup`](Self::authenticator_setup), at most 30 code guesses a day.
    #[must_use]
    pub const fn password_then_email_code() -> Self {
        let mut p = Self::authenticator_setup();
        p.lifetimes = p.lifetimes.set(ChallengeKind::EmailCode, secs(10 * MINUTE));
        p.password = FactorRules::seed_base()
            .with(
                Counter::AccountLock,
                Some(FailureRule::preset(
                    nz(3),
                    secs(15 * MINUTE),
                    Lockout::Fixed(secs(10)),
                )),
            )
            .with(
                Counter::Client,
                Some(FailureRule::preset(
                    nz(10),
                    secs(15 * MINUTE),
                    Lockout::Throttle,
                )),
            );
        p
    }

    /// Mandatory TOTP at registration (seed 3): enrolment required (no session without a
    /// second factor); 8 digits, ±1 step; from unrecognised contexts 5 failed tries per 15 min
    /// per account (the seed's "per email and per user" are both account keys) and 10 failures
    /// in 1 h lock the account against them until it is unlocked (the notice's link, or an
    /// administrator).
    ///
    /// **What an attacker can do.** Holding the password: 10 guesses at an 8-digit code, then
    /// nothing until an unlock (about 3e-7 success). The lock shuts out unrecognised contexts
    /// only: the user's trusted devices and recent networks keep their own budget and log in
    /// throughout; a user on a new network unlocks with the emailed link plus their password or
    /// second factor.
    #[must_use]
    pub const fn mandatory_totp() -> Self {
        let mut p = Self::authenticator_setup();
        p.enrolment = Enrolment::Required;
        p.totp_digits = Digits::EIGHT;
        p.totp_skew = Skew::ONE_STEP;
        p.second_factor = FactorRules::seed_base()
            .with(
                Counter::Account,
                Some(FailureRule::preset(
                    nz(5),
                    secs(15 * MINUTE),
                    Lockout::Throttle,
                )),
            )
            .with(
                Counter::AccountLock,
                Some(FailureRule::preset(
                    nz(10),
                    secs(HOUR),
                    Lockout::UntilUnlock,
                )),
            );
        p
    }

    /// TOTP + 10 backup codes + SMS fallback (seed 5): SMS code lives 5 min; TOTP ±1 step;
    /// everything else, and what an attacker can do, as
    /// [`authenticator_setup`](Self::authenticator_setup) (the SMS quotas bound toll fraud to
    /// 10 messages per number per day for strangers).
    #[must_use]
    pub const fn totp_backup_sms() -> Self {
        let mut p = Self::authenticator_setup();
        p.lifetimes = p.lifetimes.set(ChallengeKind::SmsCode, secs(5 * MINUTE));
        p.totp_skew = Skew::ONE_STEP;
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revalidate(p: &Policy) {
        p.to_builder().build().unwrap();
        for rules in [p.password(), p.second_factor()] {
            FactorRules::new(rules.consecutive_cap()).unwrap();
            for c in Counter::ALL
                .into_iter()
                .filter(|c| *c != Counter::Consecutive)
            {
                if let Some(r) = rules.rule(c) {
                    FailureRule::new(r.limit(), r.window(), r.lockout()).unwrap();
                }
            }
        }
        for q in [&p.email_quota, &p.sms_quota, &p.user_quota] {
            SendQuota::new(q.cooldown(), q.per_hour(), q.per_day()).unwrap();
        }
        let cp = p.client_prefixes();
        ClientPrefixes::new(cp.v4(), cp.v6()).unwrap();
    }

    #[test]
    fn every_preset_passes_validation() {
        for p in [
            Policy::authenticator_setup(),
            Policy::email_link_login(),
            Policy::password_then_email_code(),
            Policy::mandatory_totp(),
            Policy::totp_backup_sms(),
        ] {
            revalidate(&p);
        }
    }
}
