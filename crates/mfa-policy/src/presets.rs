//! The presets: one associated constructor per seed flow, reproducing its numbers exactly.
//!
//! Where a seed names no number, the documented defaults below apply (see docs/policy.md).

use std::num::NonZeroU32;
use std::time::Duration;

use mfa_core::{Digits, Skew};

use crate::client::ClientPrefixes;
use crate::counter::Counter;
use crate::factor::{FactorRules, MAX_CONSECUTIVE_CAP};
use crate::lifetime::{Channel, Lifetimes};
use crate::policy::Policy;
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

impl FactorRules {
    /// The default rules: this client locked out of this account for 15 min after 5 failures in
    /// 15 min; the account slowed down after 10 failures in 1 h (backoff 1 min doubling up to
    /// 15 min); one client slowed down after 50 failures in 1 h across all accounts; the NIST
    /// cap of 100 consecutive failures.
    #[must_use]
    pub const fn recommended() -> Self {
        Self {
            account: Some(FailureRule::preset(
                nz(10),
                secs(HOUR),
                Lockout::Backoff {
                    base: secs(MINUTE),
                    ceiling: secs(15 * MINUTE),
                },
            )),
            account_lock: None,
            account_client: Some(FailureRule::preset(
                nz(5),
                secs(15 * MINUTE),
                Lockout::Fixed(secs(15 * MINUTE)),
            )),
            client: Some(DEFAULT_CLIENT_RULE),
            consecutive_cap: nz(MAX_CONSECUTIVE_CAP),
        }
    }

    /// Only the per-client rule and the NIST cap: the starting point of the presets whose seed
    /// prescribes its own account rules.
    const fn seed_base() -> Self {
        Self {
            account: None,
            account_lock: None,
            account_client: None,
            client: Some(DEFAULT_CLIENT_RULE),
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
    /// Password and second factor: [`FactorRules::recommended`]; 5 tries per challenge; email
    /// code 10 min, SMS code 5 min, magic link 15 min, login ticket 5 min; email: 30 s
    /// cooldown, 5 per hour, 20 per day; SMS: 60 s cooldown, 3 per hour, 10 per day; client
    /// keys IPv4 /32, IPv6 /64; TOTP 6 digits, ±1 step; 6-digit codes.
    #[must_use]
    pub const fn authenticator_setup() -> Self {
        Self {
            password: FactorRules::recommended(),
            second_factor: FactorRules::recommended(),
            challenge_attempts: nz(5),
            lifetimes: Lifetimes::DEFAULT,
            email_quota: SendQuota::preset(secs(30), nz(5), nz(20)),
            sms_quota: SendQuota::preset(secs(60), nz(3), nz(10)),
            client_prefixes: ClientPrefixes::DEFAULT,
            totp_digits: Digits::SIX,
            totp_skew: Skew::ONE_STEP,
            code_digits: Digits::SIX,
        }
    }

    /// Email magic link + 6-digit code (seed 1): link and code live 2 min; 3 wrong tries then
    /// the account is locked for 1 h; 3 tries per challenge.
    #[must_use]
    pub const fn email_link_login() -> Self {
        let mut p = Self::authenticator_setup();
        p.lifetimes = p
            .lifetimes
            .set(Channel::EmailCode, secs(2 * MINUTE))
            .set(Channel::MagicLink, secs(2 * MINUTE));
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
    /// password tries in 15 min lock the account for 10 s; login rate-limited to 10 failed
    /// passwords per client per 15 min.
    #[must_use]
    pub const fn password_then_email_code() -> Self {
        let mut p = Self::authenticator_setup();
        p.lifetimes = p.lifetimes.set(Channel::EmailCode, secs(10 * MINUTE));
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

    /// Mandatory TOTP at registration (seed 3): 8 digits, ±1 step; 5 failed tries per 15 min
    /// per account (the seed's "per email and per user" are both account keys); 10 failures in
    /// 1 h lock the account until an administrator unlocks it.
    #[must_use]
    pub const fn mandatory_totp() -> Self {
        let mut p = Self::authenticator_setup();
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
    /// everything else as [`authenticator_setup`](Self::authenticator_setup).
    #[must_use]
    pub const fn totp_backup_sms() -> Self {
        let mut p = Self::authenticator_setup();
        p.lifetimes = p.lifetimes.set(Channel::SmsCode, secs(5 * MINUTE));
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
            for c in Counter::ALL {
                if let Some(r) = rules.rule(c) {
                    FailureRule::new(r.limit(), r.window(), r.lockout()).unwrap();
                }
            }
        }
        for q in [&p.email_quota, &p.sms_quota] {
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
