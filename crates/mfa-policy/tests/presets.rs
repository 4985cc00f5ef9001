//! One test per preset, driving explicit times through the seed flow's numbers, from
//! unrecognised contexts (where the seed's numbers apply) and recognised ones (which keep their
//! own budget).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::num::NonZeroU32;
use std::time::Duration;

use common::{Sim, at};
use mfa_core::{ChallengeKind, Channel, Digits, Skew};
use mfa_policy::{
    ChallengeState, Context, Counter, Decision, Enrolment, INDEFINITE, Policy, Reason, SendState,
};

fn deny(secs: u64, reason: Reason) -> Decision {
    Decision::Deny {
        retry_after: Duration::from_secs(secs),
        reason,
    }
}

fn challenge(policy: &Policy, kind: ChallengeKind, used: u32) -> ChallengeState {
    ChallengeState {
        expires_at: policy.expires_at(kind, at(0)),
        attempts_used: used,
    }
}

#[test]
fn email_link_login_two_minute_code_three_tries_then_account_locked_one_hour() {
    let p = Policy::email_link_login();
    assert_eq!(p.code_digits(), Digits::SIX);
    // Code and link live exactly 2 min.
    for kind in [ChallengeKind::EmailCode, ChallengeKind::MagicLink] {
        assert_eq!(p.lifetime(kind), Duration::from_secs(120));
        assert!(
            p.check_challenge(&challenge(&p, kind, 0), at(119))
                .is_allowed()
        );
        assert_eq!(
            p.check_challenge(&challenge(&p, kind, 0), at(120)),
            deny(0, Reason::ChallengeExpired)
        );
    }
    // Three tries per code.
    assert_eq!(p.challenge_attempts().get(), 3);
    assert_eq!(
        p.check_challenge(&challenge(&p, ChallengeKind::EmailCode, 3), at(10)),
        deny(0, Reason::ChallengeAttempts)
    );

    // Three wrong tries: the third locks the account for exactly one hour.
    let rules = p.second_factor();
    let mut sim = Sim::default();
    assert_eq!(sim.fail(rules, at(0)).unwrap().decision, Decision::Allow);
    assert_eq!(sim.fail(rules, at(20)).unwrap().decision, Decision::Allow);
    let third = sim.fail(rules, at(40)).unwrap();
    assert!(third.locked_out());
    assert!(mfa_policy::FactorRules::locks_account(&third));
    assert_eq!(
        third.decision,
        Decision::Lock {
            until: at(40 + 3600),
            reason: Reason::AccountLock
        }
    );
    assert_eq!(
        sim.fail(rules, at(40 + 3599)).unwrap_err(),
        deny(1, Reason::AccountLock)
    );
    // Account-wide for every unrecognised context: another network is refused too ...
    let mut other = sim.other_network();
    assert!(
        !rules
            .check(Context::Unrecognised, &other.state, at(100))
            .is_allowed()
    );
    assert!(other.fail(rules, at(100)).is_err());
    // ... but a recognised context has its own budget and signs in throughout.
    let mut home = sim.from(Context::Recognised);
    assert!(
        rules
            .check(Context::Recognised, &home.state, at(100))
            .is_allowed()
    );
    assert!(home.succeed(rules, at(100)).is_ok());
    // At one hour, allowed again, and three fresh tries.
    assert_eq!(
        sim.fail(rules, at(40 + 3600)).unwrap().decision,
        Decision::Allow
    );
    assert_eq!(
        sim.fail(rules, at(40 + 3601)).unwrap().decision,
        Decision::Allow
    );
    assert!(sim.fail(rules, at(40 + 3602)).unwrap().locked_out());
}

#[test]
fn password_then_email_code_ten_minute_code_three_passwords_lock_ten_seconds() {
    let p = Policy::password_then_email_code();
    assert_eq!(
        p.lifetime(ChallengeKind::EmailCode),
        Duration::from_secs(600)
    );

    let pw = p.password();
    let mut sim = Sim::default();
    assert_eq!(sim.fail(pw, at(0)).unwrap().decision, Decision::Allow);
    assert_eq!(sim.fail(pw, at(1)).unwrap().decision, Decision::Allow);
    assert_eq!(
        sim.fail(pw, at(2)).unwrap().decision,
        Decision::Lock {
            until: at(12),
            reason: Reason::AccountLock
        }
    );
    assert_eq!(
        sim.fail(pw, at(11)).unwrap_err(),
        deny(1, Reason::AccountLock)
    );
    // The user's recognised context is not refused because strangers typed wrong passwords.
    assert!(sim.from(Context::Recognised).succeed(pw, at(11)).is_ok());
    assert_eq!(sim.fail(pw, at(12)).unwrap().decision, Decision::Allow);

    // The second factor is counted separately: a password lock does not touch it.
    assert_ne!(p.password(), p.second_factor());

    // Login rate limit: 10 failed passwords per network per 15 min, across accounts.
    let window = pw.window(Counter::Client).unwrap();
    assert_eq!(window, Duration::from_secs(900));
    let mut network = Sim::default();
    for i in 0..10 {
        // A fresh account each time, the same network.
        let mut account = network.clone();
        for c in [Counter::AccountLock, Counter::Consecutive] {
            *account.state.get_mut(c) = Default::default();
        }
        assert!(account.fail(pw, at(100 + i)).is_ok(), "failure {i}");
        network = account;
    }
    let mut eleventh = network.clone();
    *eleventh.state.get_mut(Counter::AccountLock) = Default::default();
    assert_eq!(
        eleventh.fail(pw, at(110)).unwrap_err(),
        deny(890, Reason::Client)
    );
    assert!(eleventh.fail(pw, at(100 + 900)).is_ok());
}

#[test]
fn mandatory_totp_eight_digits_five_per_quarter_hour_ten_per_hour_lock_until_unlock() {
    let p = Policy::mandatory_totp();
    assert_eq!(p.enrolment(), Enrolment::Required);
    assert_eq!(p.totp_digits(), Digits::EIGHT);
    assert_eq!(p.totp_skew(), Skew::ONE_STEP);
    let rules = p.second_factor();
    assert_eq!(
        rules.window(Counter::Account),
        Some(Duration::from_secs(900))
    );
    assert_eq!(
        rules.window(Counter::AccountLock),
        Some(Duration::from_secs(3600))
    );

    let mut sim = Sim::default();
    for i in 0..4 {
        assert_eq!(sim.fail(rules, at(i)).unwrap().decision, Decision::Allow);
    }
    // The fifth failure uses up the quarter hour: denied until its window ends.
    assert_eq!(
        sim.fail(rules, at(4)).unwrap().decision,
        deny(900 - 4, Reason::Account)
    );
    assert_eq!(
        sim.fail(rules, at(899)).unwrap_err(),
        deny(1, Reason::Account)
    );
    // Next quarter hour: five more; the tenth failure within the hour locks until unlock.
    for i in 0..4 {
        assert!(!sim.fail(rules, at(900 + i)).unwrap().locked_out());
    }
    let tenth = sim.fail(rules, at(904)).unwrap();
    let Decision::Lock { until, reason } = tenth.decision else {
        panic!("the tenth failure must lock, got {:?}", tenth.decision);
    };
    assert_eq!(reason, Reason::UnlockRequired);
    assert!(reason.requires_unlock());
    assert_eq!(until, at(904) + INDEFINITE);
    // Waiting does not help (a year later still locked) ...
    let year = 365 * 24 * 3600;
    let refused = sim.fail(rules, at(904 + year)).unwrap_err();
    assert_eq!(refused.reason(), Some(Reason::UnlockRequired));
    // ... while the user's recognised contexts are not locked at all,
    assert!(
        sim.from(Context::Recognised)
            .succeed(rules, at(905))
            .is_ok()
    );
    // and an unlock frees the unrecognised ones.
    sim.unlock();
    assert!(sim.fail(rules, at(904 + year)).is_ok());
}

/// The recommended rules bound an attacker's guesses over time: whatever the number of
/// networks, at most 30 evaluated guesses in any 24 hours.
#[test]
fn recommended_second_factor_allows_at_most_thirty_guesses_in_any_day() {
    let rules = Policy::authenticator_setup().second_factor().to_owned();
    // A new network every 5 minutes, as many guesses as each is allowed, for 3 days.
    let mut sim = Sim::default();
    let mut evaluated = Vec::new();
    for minute in (0..3 * 24 * 60).step_by(5) {
        sim = sim.other_network();
        for second in 0..20 {
            let now = at(minute * 60 + second);
            if sim.fail(&rules, now).is_ok() {
                evaluated.push(minute * 60 + second);
            }
        }
    }
    let day = 24 * 3600;
    let worst = evaluated
        .iter()
        .map(|start| {
            evaluated
                .iter()
                .filter(|t| **t >= *start && **t < start + day)
                .count()
        })
        .max()
        .unwrap();
    eprintln!(
        "guesses evaluated in 72 h: {}, most in any 24 h: {worst}",
        evaluated.len()
    );
    assert!(worst <= 30, "{worst} guesses in one day");
    assert!(worst >= 15, "the budget is usable: {worst}");
}

#[test]
fn authenticator_setup_defaults_client_first_recognised_contexts_and_nist_cap() {
    let p = Policy::authenticator_setup();
    assert_eq!(p, Policy::default());
    assert_eq!(p.enrolment(), Enrolment::Optional);
    assert_eq!(p.recognition(), Duration::from_secs(30 * 24 * 3600));
    assert_eq!(
        (p.totp_digits(), p.totp_skew()),
        (Digits::SIX, Skew::ONE_STEP)
    );
    assert_eq!(p.challenge_attempts().get(), 5);
    let rules = p.second_factor();

    // Client first: five failures lock this network out of this account for 15 min ...
    let mut attacker = Sim::default();
    for i in 0..4 {
        assert!(attacker.fail(rules, at(i)).unwrap().decision.is_allowed());
    }
    let fifth = attacker.fail(rules, at(4)).unwrap();
    assert_eq!(
        fifth.decision,
        Decision::Lock {
            until: at(4 + 900),
            reason: Reason::AccountClient
        }
    );
    assert!(
        !mfa_policy::FactorRules::locks_account(&fifth),
        "a network lock is not an account lock"
    );
    assert_eq!(
        attacker.fail(rules, at(5)).unwrap_err(),
        deny(899, Reason::AccountClient)
    );
    // ... while another network of the user is allowed.
    let user = attacker.other_network();
    assert!(
        rules
            .check(Context::Unrecognised, &user.state, at(5))
            .is_allowed()
    );

    // A recognised context: its own budget of 10 an hour, then a backoff from 15 min.
    let mut device = Sim::recognised();
    for i in 0..9 {
        assert!(!device.fail(rules, at(i)).unwrap().locked_out());
    }
    assert_eq!(
        device.fail(rules, at(9)).unwrap().decision,
        Decision::Lock {
            until: at(9 + 900),
            reason: Reason::Recognised
        }
    );
    // Unrecognised failures never touched it, and its failures never touch theirs.
    assert!(
        rules
            .check(Context::Unrecognised, &user.state, at(10))
            .is_allowed()
    );

    // The NIST cap: unrecognised contexts stop at 90 consecutive failures ...
    assert_eq!(rules.consecutive_limit(Context::Unrecognised), 90);
    assert_eq!(rules.consecutive_limit(Context::Recognised), 100);
    let mut state = mfa_policy::FailureState::default();
    state.get_mut(Counter::Consecutive).count = 89;
    state.get_mut(Counter::Consecutive).window_start = at(0);
    assert!(
        rules
            .check(Context::Unrecognised, &state, at(1))
            .is_allowed()
    );
    state.get_mut(Counter::Consecutive).count = 90;
    let refused = rules.check(Context::Unrecognised, &state, at(1));
    assert_eq!(refused.reason(), Some(Reason::ConsecutiveFailureCap));
    // ... leaving ten to the recognised contexts, and then nobody.
    assert!(rules.check(Context::Recognised, &state, at(1)).is_allowed());
    state.get_mut(Counter::Consecutive).count = 100;
    let capped = rules.check(Context::Recognised, &state, at(30 * 24 * 3600));
    assert_eq!(capped.reason(), Some(Reason::ConsecutiveFailureCap));

    // SMS toll-fraud budget: 60 s cooldown, 3 per hour, 10 per day.
    let sms = p.send_quota(Channel::Sms);
    assert_eq!(
        (
            sms.cooldown().as_secs(),
            sms.per_hour().get(),
            sms.per_day().get()
        ),
        (60, 3, 10)
    );
    let email = p.send_quota(Channel::Email);
    assert_eq!(
        (
            email.cooldown().as_secs(),
            email.per_hour().get(),
            email.per_day().get()
        ),
        (30, 5, 20)
    );
    assert_eq!(
        (
            p.user_quota().per_hour().get(),
            p.user_quota().per_day().get()
        ),
        (10, 30)
    );
    assert_eq!(p.ticket_budget().get(), 30);
}

/// A success resets the context's own counters and the consecutive count, and gives back only
/// its own unit of the account-wide budget: the real user signing in does not hand an attacker
/// elsewhere a fresh daily budget.
#[test]
fn a_success_resets_its_own_context_and_refunds_only_its_unit() {
    let rules = Policy::authenticator_setup().second_factor().to_owned();
    let mut attacker = Sim::default();
    for i in 0..4 {
        let _ = attacker.fail(&rules, at(i)).unwrap();
    }
    assert_eq!(attacker.state.get(Counter::Account).count, 4);
    let mut user = attacker.other_network();
    user.succeed(&rules, at(10)).unwrap();
    assert_eq!(
        user.state.get(Counter::Account).count,
        4,
        "the success's own unit is refunded, the attacker's four stay"
    );
    assert_eq!(user.state.get(Counter::Consecutive).count, 0);
}

#[test]
fn totp_backup_sms_five_minute_sms_code_and_daily_quota() {
    let p = Policy::totp_backup_sms();
    assert_eq!(p.totp_skew(), Skew::ONE_STEP);
    assert_eq!(p.lifetime(ChallengeKind::SmsCode), Duration::from_secs(300));
    assert_eq!(
        p.check_challenge(&challenge(&p, ChallengeKind::SmsCode, 0), at(300)),
        deny(0, Reason::ChallengeExpired)
    );

    // Ten texts a day to one number, then nothing until the day's window ends.
    let mut s = SendState::default();
    let mut now = 0;
    for _ in 0..10 {
        assert!(p.check_send(Channel::Sms, &s, at(now)).is_allowed());
        s.last_sent = Some(at(now));
        s.hour = s.hour.hit(mfa_policy::SendQuota::HOUR, at(now));
        s.day = s.day.hit(mfa_policy::SendQuota::DAY, at(now));
        now += 1200; // 20 min: three an hour
    }
    assert_eq!(
        p.check_send(Channel::Sms, &s, at(now)),
        deny(86_400 - now, Reason::DailyQuota)
    );
    assert!(p.check_send(Channel::Sms, &s, at(86_400)).is_allowed());
}

#[test]
fn every_out_of_band_code_lives_at_most_ten_minutes_by_default() {
    for p in [
        Policy::authenticator_setup(),
        Policy::email_link_login(),
        Policy::password_then_email_code(),
        Policy::mandatory_totp(),
        Policy::totp_backup_sms(),
    ] {
        for kind in [
            ChallengeKind::EmailCode,
            ChallengeKind::SmsCode,
            ChallengeKind::MagicLink,
        ] {
            assert!(p.lifetime(kind) <= Duration::from_secs(600), "{kind}");
        }
    }
}

#[test]
fn changing_a_preset_is_validated() {
    let p = Policy::email_link_login();
    assert!(
        p.to_builder()
            .lifetime(ChallengeKind::EmailCode, Duration::from_secs(29))
            .build()
            .is_err()
    );
    assert!(
        p.to_builder()
            .challenge_attempts(NonZeroU32::new(11).unwrap())
            .build()
            .is_err()
    );
    assert!(
        p.to_builder()
            .totp(Digits::SIX, Skew::symmetric(3))
            .build()
            .is_err()
    );
    assert!(
        p.to_builder()
            .recognition(Duration::from_secs(3600))
            .build()
            .is_err()
    );
    let longer = p
        .to_builder()
        .lifetime(ChallengeKind::EmailCode, Duration::from_secs(300))
        .enrolment(Enrolment::Required)
        .build()
        .unwrap();
    assert_eq!(
        longer.lifetime(ChallengeKind::EmailCode),
        Duration::from_secs(300)
    );
    assert_eq!(longer.enrolment(), Enrolment::Required);
}
