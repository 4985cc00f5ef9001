//! What the documentation promises, held to it: the bounds each setting is checked against
//! (both ends included), the numbers each preset is documented with, and the small rules the
//! facade builds on (which reason names which counter, which one needs a new challenge, which
//! decision wins a tie). Mutation testing (docs/mutation-testing.md) found each of these
//! unpinned: a changed bound or preset number passed every other test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_core::ChallengeKind;
use mfa_policy::{
    ClientPrefixes, Counter, CounterLock, CounterState, Decision, FailureOutcome, FailureRule,
    INDEFINITE, Lifetimes, Lockout, MAX_LIFETIME, MAX_RECOGNITION, MIN_LIFETIME, MIN_RECOGNITION,
    Policy, Reason,
};

const MINUTE: u64 = 60;
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn at(s: u64) -> SystemTime {
    UNIX_EPOCH + secs(1_700_000_000 + s)
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

// -- bounds: both ends are accepted, one past either end is refused ---------------------------

#[test]
fn a_code_lifetime_may_be_anything_from_30_seconds_to_24_hours() {
    assert_eq!(MIN_LIFETIME, secs(30));
    assert_eq!(MAX_LIFETIME, secs(DAY));
    for kind in ChallengeKind::ALL {
        let l = Lifetimes::DEFAULT;
        assert_eq!(l.with(*kind, secs(30)).unwrap().get(*kind), secs(30));
        assert_eq!(l.with(*kind, secs(DAY)).unwrap().get(*kind), secs(DAY));
        assert!(l.with(*kind, secs(29)).is_err());
        assert!(l.with(*kind, secs(DAY + 1)).is_err());
    }
}

#[test]
fn every_code_sent_out_of_band_lives_the_documented_minutes_at_most_ten() {
    // Email code 10 min, SMS code 5 min, magic link 10 min, login ticket 5 min.
    let l = Lifetimes::DEFAULT;
    assert_eq!(l.get(ChallengeKind::EmailCode), secs(10 * MINUTE));
    assert_eq!(l.get(ChallengeKind::SmsCode), secs(5 * MINUTE));
    assert_eq!(l.get(ChallengeKind::MagicLink), secs(10 * MINUTE));
    assert_eq!(l.get(ChallengeKind::LoginTicket), secs(5 * MINUTE));
    assert_eq!(Lifetimes::default(), l);
    // What the default lifetimes mean for a challenge issued now.
    assert_eq!(l.expires_at(ChallengeKind::SmsCode, at(0)), at(5 * MINUTE));
}

#[test]
fn a_recognition_period_may_be_anything_from_a_day_to_400_days() {
    assert_eq!(MIN_RECOGNITION, secs(DAY));
    assert_eq!(MAX_RECOGNITION, secs(400 * DAY));
    let build = |period| Policy::builder().recognition(period).build();
    assert_eq!(build(secs(DAY)).unwrap().recognition(), secs(DAY));
    assert_eq!(
        build(secs(400 * DAY)).unwrap().recognition(),
        secs(400 * DAY)
    );
    assert!(build(secs(DAY - 1)).is_err());
    assert!(build(secs(400 * DAY + 1)).is_err());
}

#[test]
fn a_backoff_may_start_at_its_ceiling_but_not_above_it() {
    let rule =
        |base, ceiling| FailureRule::new(nz(5), secs(HOUR), Lockout::Backoff { base, ceiling });
    assert!(rule(secs(MINUTE), secs(MINUTE)).is_ok());
    assert!(rule(secs(MINUTE + 1), secs(MINUTE)).is_err());
}

#[test]
fn client_prefixes_report_what_they_were_built_with() {
    let p = ClientPrefixes::new(24, 48).unwrap();
    assert_eq!((p.v4(), p.v6()), (24, 48));
    let d = ClientPrefixes::DEFAULT;
    assert_eq!((d.v4(), d.v6()), (32, 64));
    // The builder's setting is what the policy then uses.
    let policy = Policy::builder().client_prefixes(p).build().unwrap();
    assert_eq!(policy.client_prefixes(), p);
    let key = policy.client_key("203.0.113.77".parse().unwrap());
    assert_eq!(key.to_string(), "203.0.113.0/24");
}

#[test]
fn an_indefinite_lock_lasts_ten_years_in_numbers() {
    assert_eq!(INDEFINITE, secs(315_360_000));
}

// -- the presets' documented numbers -----------------------------------------------------------

fn rule(rules: &mfa_policy::FactorRules, counter: Counter) -> FailureRule {
    *rules
        .rule(counter)
        .unwrap_or_else(|| panic!("{counter:?} has a rule"))
}

#[test]
fn the_recommended_rules_are_the_documented_ones() {
    let r = mfa_policy::FactorRules::recommended();
    // 15 failures a day account-wide from unrecognised contexts, slowed down, never locked.
    let account = rule(&r, Counter::Account);
    assert_eq!((account.limit(), account.window()), (nz(15), secs(DAY)));
    assert_eq!(account.lockout(), Lockout::Throttle);
    // 5 per network and account in 15 min, then a 15-minute lock.
    let per_client = rule(&r, Counter::AccountClient);
    assert_eq!(
        (per_client.limit(), per_client.window()),
        (nz(5), secs(15 * MINUTE))
    );
    assert_eq!(per_client.lockout(), Lockout::Fixed(secs(15 * MINUTE)));
    assert!(r.rule(Counter::AccountLock).is_none());
    // 50 per network across accounts in an hour.
    let client = rule(&r, Counter::Client);
    assert_eq!((client.limit(), client.window()), (nz(50), secs(HOUR)));
    // The NIST cap of 100 consecutive failures.
    assert_eq!(r.consecutive_cap(), nz(100));
}

#[test]
fn the_recommended_password_rules_slow_down_from_a_minute_to_a_quarter_hour() {
    let r = mfa_policy::FactorRules::recommended_password();
    let account = rule(&r, Counter::Account);
    assert_eq!((account.limit(), account.window()), (nz(10), secs(HOUR)));
    assert_eq!(
        account.lockout(),
        Lockout::Backoff {
            base: secs(MINUTE),
            ceiling: secs(15 * MINUTE),
        }
    );
    // The doubling each time the limit of 10 is reached again: 1, 2, 4, 8 minutes, then the
    // ceiling.
    let locks: Vec<_> = (1..=6).map(|n| account.lock_duration(n * 10)).collect();
    assert_eq!(
        locks,
        [1, 2, 4, 8, 15, 15]
            .map(|m| Some(secs(m * MINUTE)))
            .to_vec()
    );
}

#[test]
fn a_recognised_context_gets_ten_failures_an_hour_then_a_backoff_from_15_minutes_to_a_day() {
    let r = FailureRule::recognised_default();
    assert_eq!((r.limit(), r.window()), (nz(10), secs(HOUR)));
    assert_eq!(
        r.lockout(),
        Lockout::Backoff {
            base: secs(15 * MINUTE),
            ceiling: secs(DAY),
        }
    );
}

#[test]
fn password_then_email_code_locks_after_3_password_failures_in_15_minutes() {
    let p = Policy::password_then_email_code();
    let lock = rule(p.password(), Counter::AccountLock);
    assert_eq!((lock.limit(), lock.window()), (nz(3), secs(15 * MINUTE)));
    assert_eq!(lock.lockout(), Lockout::Fixed(secs(10)));
    let client = rule(p.password(), Counter::Client);
    assert_eq!(
        (client.limit(), client.window()),
        (nz(10), secs(15 * MINUTE))
    );
    assert_eq!(p.lifetime(ChallengeKind::EmailCode), secs(10 * MINUTE));
}

// -- the small rules the facade builds on --------------------------------------------------------

#[test]
fn each_counter_reason_names_its_counter_and_the_others_none() {
    let pairs = [
        (Reason::Account, Some(Counter::Account)),
        (Reason::AccountLock, Some(Counter::AccountLock)),
        (Reason::AccountClient, Some(Counter::AccountClient)),
        (Reason::Client, Some(Counter::Client)),
        (Reason::Recognised, Some(Counter::Recognised)),
        (Reason::ConsecutiveFailureCap, Some(Counter::Consecutive)),
        (Reason::UnlockRequired, None),
        (Reason::ChallengeAttempts, None),
        (Reason::ChallengeExpired, None),
        (Reason::ResendCooldown, None),
        (Reason::HourlyQuota, None),
        (Reason::DailyQuota, None),
    ];
    for (reason, counter) in pairs {
        assert_eq!(reason.counter(), counter, "{reason:?}");
    }
}

#[test]
fn only_a_spent_or_expired_challenge_needs_a_new_one() {
    assert!(Reason::ChallengeAttempts.needs_new_challenge());
    assert!(Reason::ChallengeExpired.needs_new_challenge());
    for reason in [
        Reason::Account,
        Reason::AccountClient,
        Reason::Client,
        Reason::ConsecutiveFailureCap,
        Reason::ResendCooldown,
        Reason::DailyQuota,
    ] {
        assert!(!reason.needs_new_challenge(), "{reason:?}");
    }
}

#[test]
fn of_two_equally_strict_decisions_the_first_wins() {
    let now = at(0);
    let a = Decision::Deny {
        retry_after: secs(60),
        reason: Reason::Client,
    };
    let b = Decision::Deny {
        retry_after: secs(60),
        reason: Reason::AccountClient,
    };
    assert_eq!(a.stricter(b, now), a);
    assert_eq!(b.stricter(a, now), b);
    // A later end wins whichever comes first.
    let later = Decision::Deny {
        retry_after: secs(61),
        reason: Reason::Account,
    };
    assert_eq!(a.stricter(later, now), later);
    assert_eq!(later.stricter(a, now), later);
}

#[test]
fn a_failure_locked_something_when_its_decision_is_a_lock_or_it_wrote_one() {
    let until = at(900);
    let lock = CounterLock {
        counter: Counter::AccountClient,
        until,
    };
    let deny = Decision::Deny {
        retry_after: secs(60),
        reason: Reason::Client,
    };
    let locked = Decision::Lock {
        until,
        reason: Reason::AccountClient,
    };
    let outcome = |decision, locks| FailureOutcome { decision, locks };
    assert!(outcome(locked, vec![]).locked_out());
    assert!(outcome(deny, vec![lock]).locked_out());
    assert!(outcome(locked, vec![lock]).locked_out());
    assert!(!outcome(deny, vec![]).locked_out());
    assert!(!outcome(Decision::Allow, vec![]).locked_out());
}

#[test]
fn a_refund_at_the_end_of_the_window_gives_nothing_back() {
    let window = secs(HOUR);
    let state = CounterState {
        window_start: at(0),
        count: 3,
        locked_until: None,
    };
    assert_eq!(state.refund(window, at(HOUR - 1)).count, 2);
    assert_eq!(state.refund(window, at(HOUR)).count, 3);
    assert_eq!(state.refund(window, at(HOUR + 1)).count, 3);
}
