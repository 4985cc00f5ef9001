//! One test per preset, driving explicit times through the seed flow's numbers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::num::NonZeroU32;
use std::time::Duration;

use common::{Sim, at};
use mfa_core::{Digits, Skew};
use mfa_policy::{
    ChallengeState, Channel, CounterState, Decision, Delivery, Device, FailureState, INDEFINITE,
    Policy, Reason, SendState,
};

fn deny(secs: u64, reason: Reason) -> Decision {
    Decision::Deny {
        retry_after: Duration::from_secs(secs),
        reason,
    }
}

fn challenge(policy: &Policy, channel: Channel, used: u32) -> ChallengeState {
    ChallengeState {
        expires_at: policy.expires_at(channel, at(0)),
        attempts_used: used,
    }
}

#[test]
fn email_link_login_two_minute_code_three_tries_then_account_locked_one_hour() {
    let p = Policy::email_link_login();
    assert_eq!(p.code_digits(), Digits::SIX);
    // Code and link live exactly 2 min.
    for channel in [Channel::EmailCode, Channel::MagicLink] {
        assert_eq!(p.lifetime(channel), Duration::from_secs(120));
        assert!(
            p.check_challenge(&challenge(&p, channel, 0), at(119))
                .is_allowed()
        );
        assert_eq!(
            p.check_challenge(&challenge(&p, channel, 0), at(120)),
            deny(0, Reason::ChallengeExpired)
        );
    }
    // Three tries per code.
    assert_eq!(p.challenge_attempts().get(), 3);
    assert!(
        p.check_challenge(&challenge(&p, Channel::EmailCode, 2), at(10))
            .is_allowed()
    );
    assert_eq!(
        p.check_challenge(&challenge(&p, Channel::EmailCode, 3), at(10)),
        deny(0, Reason::ChallengeAttempts)
    );

    // Three wrong tries: the third locks the account for exactly one hour.
    let rules = p.second_factor();
    let mut sim = Sim::default();
    assert_eq!(sim.fail(rules, at(0)).unwrap().decision, Decision::Allow);
    assert_eq!(sim.fail(rules, at(20)).unwrap().decision, Decision::Allow);
    let third = sim.fail(rules, at(40)).unwrap();
    assert!(third.locked_out());
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
    // The lock is account-wide: another client of the same account is refused too.
    let mut other_client = sim.state;
    other_client.account_client = CounterState::default();
    other_client.client = CounterState::default();
    assert!(!rules.check(&other_client, at(40 + 3599)).is_allowed());
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
    assert_eq!(p.lifetime(Channel::EmailCode), Duration::from_secs(600));
    assert!(
        p.check_challenge(&challenge(&p, Channel::EmailCode, 0), at(599))
            .is_allowed()
    );
    assert_eq!(
        p.check_challenge(&challenge(&p, Channel::EmailCode, 0), at(600)),
        deny(0, Reason::ChallengeExpired)
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
    assert_eq!(sim.fail(pw, at(12)).unwrap().decision, Decision::Allow);

    // The second factor is counted separately: a password lock does not touch it.
    assert_ne!(p.password(), p.second_factor());
    assert!(
        p.second_factor()
            .check(&FailureState::default(), at(5))
            .is_allowed()
    );

    // Login rate limit: 10 failed passwords per client per 15 min, across accounts.
    let window = pw.client_window().unwrap();
    assert_eq!(window, Duration::from_secs(900));
    let mut client = CounterState::default();
    for i in 0..10 {
        let fresh_account = FailureState {
            client,
            ..FailureState::default()
        };
        assert!(pw.check(&fresh_account, at(100 + i)).is_allowed());
        client = client.hit(window, at(100 + i));
    }
    let eleventh = FailureState {
        client,
        ..FailureState::default()
    };
    assert_eq!(pw.check(&eleventh, at(110)), deny(900 - 10, Reason::Client));
    assert!(pw.check(&eleventh, at(100 + 900)).is_allowed());
}

#[test]
fn mandatory_totp_eight_digits_five_per_quarter_hour_ten_per_hour_lock_until_unlock() {
    let p = Policy::mandatory_totp();
    assert_eq!(p.totp_digits(), Digits::EIGHT);
    assert_eq!(p.totp_skew(), Skew::ONE_STEP);
    let rules = p.second_factor();
    assert_eq!(rules.account_window(), Some(Duration::from_secs(900)));
    assert_eq!(rules.account_lock_window(), Some(Duration::from_secs(3600)));

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
    assert!(tenth.locked_out());
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
    // ... an administrator unlock does.
    sim.admin_unlock(at(904 + year));
    assert!(sim.fail(rules, at(904 + year)).is_ok());
}

#[test]
fn authenticator_setup_defaults_client_first_trusted_device_backoff_and_nist_cap() {
    let p = Policy::authenticator_setup();
    assert_eq!(p, Policy::default());
    assert_eq!(
        (p.totp_digits(), p.totp_skew()),
        (Digits::SIX, Skew::ONE_STEP)
    );
    assert_eq!(p.challenge_attempts().get(), 5);
    let rules = p.second_factor();

    // Client first: five failures lock this client out of this account for 15 min ...
    let mut attacker = Sim::default();
    for i in 0..4 {
        assert!(attacker.fail(rules, at(i)).unwrap().decision.is_allowed());
    }
    assert_eq!(
        attacker.fail(rules, at(4)).unwrap().decision,
        Decision::Lock {
            until: at(4 + 900),
            reason: Reason::AccountClient
        }
    );
    assert_eq!(
        attacker.fail(rules, at(5)).unwrap_err(),
        deny(899, Reason::AccountClient)
    );
    // ... while the account itself is untouched: the user's own client is allowed,
    let mut user = attacker.state;
    user.account_client = CounterState::default();
    user.client = CounterState::default();
    assert!(rules.check(&user, at(5)).is_allowed());
    // and so is the user's trusted device behind the attacker's address.
    let trusted = FailureState {
        device: Device::Trusted,
        ..attacker.state
    };
    assert!(rules.check(&trusted, at(5)).is_allowed());

    // Account-wide: 10 failures in an hour (from many clients) slow down with backoff.
    let mut spread = Sim::default().device(Device::Trusted); // client counters out of the way
    for i in 0..9 {
        assert!(!spread.fail(rules, at(i)).unwrap().locked_out());
    }
    assert_eq!(
        spread.fail(rules, at(9)).unwrap().decision,
        Decision::Lock {
            until: at(9 + 60),
            reason: Reason::Account
        }
    );
    // After 10 more failures the second lock doubles; 15 min is the ceiling.
    let mut now = 69;
    for _ in 0..9 {
        assert!(spread.fail(rules, at(now)).unwrap().locks.is_empty());
        now += 1;
    }
    assert_eq!(
        spread.fail(rules, at(now)).unwrap().decision,
        Decision::Lock {
            until: at(now + 120),
            reason: Reason::Account
        }
    );

    // NIST cap: the 100th consecutive failure locks until unlock, whatever the windows say.
    let mut capped = FailureState {
        consecutive_failures: 99,
        ..FailureState::default()
    };
    assert!(rules.check(&capped, at(0)).is_allowed());
    capped.consecutive_failures = 100;
    let outcome = rules.after_failure(&capped, at(0));
    assert_eq!(
        outcome.decision,
        Decision::Lock {
            until: at(0) + INDEFINITE,
            reason: Reason::ConsecutiveFailureCap
        }
    );
    assert!(outcome.locked_out());
    let later = rules.check(&capped, at(10 * 365 * 24 * 3600));
    assert_eq!(later.reason(), Some(Reason::ConsecutiveFailureCap));

    // SMS toll-fraud budget: 60 s cooldown, 3 per hour, 10 per day.
    let sms = p.send_quota(Delivery::Sms);
    assert_eq!(
        (
            sms.cooldown().as_secs(),
            sms.per_hour().get(),
            sms.per_day().get()
        ),
        (60, 3, 10)
    );
    let email = p.send_quota(Delivery::Email);
    assert_eq!(
        (
            email.cooldown().as_secs(),
            email.per_hour().get(),
            email.per_day().get()
        ),
        (30, 5, 20)
    );
}

#[test]
fn totp_backup_sms_five_minute_sms_code_and_daily_quota() {
    let p = Policy::totp_backup_sms();
    assert_eq!(p.totp_skew(), Skew::ONE_STEP);
    assert_eq!(p.lifetime(Channel::SmsCode), Duration::from_secs(300));
    assert!(
        p.check_challenge(&challenge(&p, Channel::SmsCode, 0), at(299))
            .is_allowed()
    );
    assert_eq!(
        p.check_challenge(&challenge(&p, Channel::SmsCode, 0), at(300)),
        deny(0, Reason::ChallengeExpired)
    );

    // Ten texts a day to one number, then nothing until the day's window ends.
    let mut s = SendState::default();
    let mut now = 0;
    for _ in 0..10 {
        assert!(p.check_send(Delivery::Sms, &s, at(now)).is_allowed());
        s.last_sent = Some(at(now));
        s.hour = s.hour.hit(mfa_policy::SendQuota::HOUR, at(now));
        s.day = s.day.hit(mfa_policy::SendQuota::DAY, at(now));
        now += 1200; // 20 min: three an hour
    }
    assert_eq!(
        p.check_send(Delivery::Sms, &s, at(now)),
        deny(86_400 - now, Reason::DailyQuota)
    );
    assert!(p.check_send(Delivery::Sms, &s, at(86_400)).is_allowed());
}

#[test]
fn changing_a_preset_is_validated() {
    let p = Policy::email_link_login();
    assert!(
        p.to_builder()
            .lifetime(Channel::EmailCode, Duration::from_secs(29))
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
    let longer = p
        .to_builder()
        .lifetime(Channel::EmailCode, Duration::from_secs(300))
        .build()
        .unwrap();
    assert_eq!(
        longer.lifetime(Channel::EmailCode),
        Duration::from_secs(300)
    );
}
