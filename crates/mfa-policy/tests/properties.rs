//! Property tests: limits hold for every sequence of attempts, backoff stays under its ceiling,
//! and no time or count makes a decision panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Sim, t0};
use mfa_core::{ChallengeKind, Channel};
use mfa_policy::{
    ChallengeState, Context, Counter, CounterState, Decision, FactorRules, FailureRule,
    FailureState, Lockout, Policy, SendState,
};
use proptest::prelude::*;

fn lockout() -> impl Strategy<Value = Lockout> {
    prop_oneof![
        Just(Lockout::Throttle),
        (1u64..=3_600).prop_map(|s| Lockout::Fixed(Duration::from_secs(s))),
        (1u64..=600, 0u64..=3_600).prop_map(|(b, extra)| Lockout::Backoff {
            base: Duration::from_secs(b),
            ceiling: Duration::from_secs(b + extra),
        }),
        Just(Lockout::UntilUnlock),
    ]
}

fn rule() -> impl Strategy<Value = FailureRule> {
    (1u32..=10, 1u64..=7_200, lockout()).prop_map(|(limit, window, lockout)| {
        FailureRule::new(
            NonZeroU32::new(limit).unwrap(),
            Duration::from_secs(window),
            lockout,
        )
        .unwrap()
    })
}

/// Any time the platform can represent, from before the epoch to the far future.
fn any_time() -> impl Strategy<Value = SystemTime> {
    prop_oneof![
        Just(UNIX_EPOCH),
        (0u64..=i64::MAX as u64).prop_map(|s| UNIX_EPOCH
            .checked_add(Duration::from_secs(s))
            .unwrap_or(UNIX_EPOCH)),
        (0u64..=1 << 40).prop_map(|s| UNIX_EPOCH
            .checked_sub(Duration::from_secs(s))
            .unwrap_or(UNIX_EPOCH)),
        Just(
            UNIX_EPOCH
                .checked_add(Duration::from_secs(i64::MAX as u64))
                .unwrap_or(UNIX_EPOCH)
        ),
    ]
}

fn any_count() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0), Just(u32::MAX), Just(u32::MAX - 1), any::<u32>()]
}

fn any_counter() -> impl Strategy<Value = CounterState> {
    (any_time(), any_count(), proptest::option::of(any_time())).prop_map(
        |(window_start, count, locked_until)| CounterState {
            window_start,
            count,
            locked_until,
        },
    )
}

fn any_state() -> impl Strategy<Value = FailureState> {
    prop::array::uniform6(any_counter()).prop_map(|states| {
        Counter::ALL
            .into_iter()
            .zip(states)
            .fold(FailureState::default(), |acc, (c, s)| acc.with(c, s))
    })
}

fn any_context() -> impl Strategy<Value = Context> {
    prop_oneof![Just(Context::Unrecognised), Just(Context::Recognised)]
}

/// The counters a rule can be set on (the recognised and consecutive counters have their own
/// settings).
fn settable_counter() -> impl Strategy<Value = Counter> {
    prop::sample::select(vec![
        Counter::Account,
        Counter::AccountLock,
        Counter::AccountClient,
        Counter::Client,
    ])
}

fn rules_with(counter: Counter, rule: FailureRule) -> FactorRules {
    FactorRules::new(NonZeroU32::new(100).unwrap())
        .unwrap()
        .with(counter, Some(rule))
}

proptest! {
    /// Whatever the attempt times, the store never records more failures in one window than
    /// the rule allows: every failure beyond the limit is refused before it is tried.
    #[test]
    fn no_window_lets_more_failures_through_than_its_limit(
        rule in rule(),
        counter in settable_counter(),
        gaps in prop::collection::vec(0u64..=900, 1..200),
    ) {
        let rules = rules_with(counter, rule);
        let mut sim = Sim::default();
        let mut now = t0();
        let mut allowed_in_window: Vec<SystemTime> = Vec::new();
        let limit = rule.limit().get() as usize;
        for gap in gaps {
            now += Duration::from_secs(gap);
            if let Ok(outcome) = sim.fail(&rules, now) {
                allowed_in_window.push(now);
                // Independent count: failures since the counter's current window started,
                // unless a lock has started a new one since.
                let state = sim.state.get(counter);
                let since = state.window_start;
                let n = allowed_in_window.iter().filter(|t| **t >= since).count();
                prop_assert!(n <= limit, "{n} failures in one window, limit {limit}");
                prop_assert!(state.count as usize <= limit);
                if let Decision::Lock { until, .. } = outcome.decision {
                    prop_assert!(until > now);
                    allowed_in_window.clear();
                }
            }
        }
    }

    /// A throttle admits at most `limit` failures in any window it counts, however the
    /// attempts are spread, and reopens when the window ends.
    #[test]
    fn a_throttle_reopens_exactly_when_its_window_ends(
        limit in 1u32..=10,
        window in 1u64..=3_600,
        // Fewer attempts than the 90 consecutive failures after which unrecognised contexts
        // wait for an unlock, not for a window.
        gaps in prop::collection::vec(0u64..=120, 1..90),
    ) {
        let rule = FailureRule::new(
            NonZeroU32::new(limit).unwrap(),
            Duration::from_secs(window),
            Lockout::Throttle,
        ).unwrap();
        let rules = rules_with(Counter::Account, rule);
        let mut sim = Sim::default();
        let mut now = t0();
        for gap in gaps {
            now += Duration::from_secs(gap);
            match sim.fail(&rules, now) {
                Ok(_) => {}
                Err(Decision::Deny { retry_after, .. }) => {
                    prop_assert!(retry_after > Duration::ZERO);
                    prop_assert!(retry_after <= Duration::from_secs(window));
                    let later = rules.check(Context::Unrecognised, &sim.state, now + retry_after);
                    prop_assert!(later.is_allowed());
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }

    /// Backoff never exceeds its ceiling and never drops below its base.
    #[test]
    fn backoff_stays_between_base_and_ceiling(
        limit in 1u32..=u32::MAX,
        base in 1u64..=86_400,
        extra in 0u64..=86_400,
        consecutive in any_count(),
        now in any_time(),
    ) {
        let (base, ceiling) = (Duration::from_secs(base), Duration::from_secs(base + extra));
        let rule = FailureRule::new(
            NonZeroU32::new(limit).unwrap(),
            Duration::from_secs(60),
            Lockout::Backoff { base, ceiling },
        ).unwrap();
        let d = rule.lock_duration(consecutive).unwrap();
        prop_assert!(base <= d && d <= ceiling);
        let rules = rules_with(Counter::Account, rule);
        let full = CounterState { window_start: now, count: u32::MAX, locked_until: None };
        let state = FailureState::default()
            .with(Counter::Account, full)
            .with(Counter::Consecutive, CounterState { count: consecutive.min(89), ..full });
        let outcome = rules.after_failure(Context::Unrecognised, &state, now);
        if let Some(lock) = outcome.locks.first() {
            let held = lock.until.duration_since(now).unwrap_or(Duration::ZERO);
            prop_assert!(held <= ceiling);
        }
        if let Decision::Lock { until, .. } = outcome.decision {
            prop_assert!(until >= now);
        }
    }

    /// Whatever the counters say, an attempt never takes from a counter of the other context:
    /// strangers' failures cannot spend a recognised context's budget, and a recognised
    /// context's failures do not spend the strangers' account-wide budgets.
    #[test]
    fn contexts_take_from_their_own_budgets(context in any_context()) {
        for policy in [Policy::authenticator_setup(), Policy::mandatory_totp()] {
            for rules in [policy.password(), policy.second_factor()] {
                for budget in rules.budgets(context) {
                    prop_assert!(budget.counter.counts(context));
                    if budget.counter != Counter::Consecutive {
                        let other = match context {
                            Context::Recognised => Context::Unrecognised,
                            Context::Unrecognised => Context::Recognised,
                        };
                        prop_assert!(!budget.counter.counts(other));
                    }
                }
                let last = rules.budgets(context).last().map(|b| b.counter);
                prop_assert_eq!(last, Some(Counter::Consecutive), "consecutive is taken last");
                prop_assert!(
                    rules.consecutive_limit(Context::Unrecognised)
                        < rules.consecutive_limit(Context::Recognised)
                );
            }
        }
    }

    /// A lock never ends before the failure that wrote it.
    #[test]
    fn locks_end_in_the_future(state in any_state(), now in any_time(), context in any_context()) {
        let rules = *Policy::mandatory_totp().second_factor();
        let outcome = rules.after_failure(context, &state, now);
        if let Decision::Lock { until, .. } = outcome.decision {
            prop_assert!(until >= now);
        }
        for lock in outcome.locks {
            prop_assert!(lock.until >= now);
        }
    }

    /// No state, time or count makes any decision panic, and a refusal always names a reason.
    #[test]
    fn extreme_times_and_counts_never_panic(
        state in any_state(),
        now in any_time(),
        issued in any_time(),
        sends in (proptest::option::of(any_time()), any_counter(), any_counter()),
        used in any_count(),
    ) {
        for policy in [
            Policy::authenticator_setup(),
            Policy::email_link_login(),
            Policy::password_then_email_code(),
            Policy::mandatory_totp(),
            Policy::totp_backup_sms(),
        ] {
            for rules in [policy.password(), policy.second_factor()] {
                for context in [Context::Unrecognised, Context::Recognised] {
                let d = rules.check(context, &state, now);
                prop_assert_eq!(d.is_allowed(), d.reason().is_none());
                let outcome = rules.after_failure(context, &state, now);
                for lock in &outcome.locks {
                    prop_assert!(lock.until >= now);
                    let _ = state.get(lock.counter).lock(lock.until, now);
                }
                for budget in rules.budgets(context) {
                    let _ = state.get(budget.counter).take(budget.window, budget.limit, now);
                    let _ = rules.refusal(&budget, &state, now);
                }
                }
            }
            let expires_at = policy.expires_at(ChallengeKind::SmsCode, issued);
            prop_assert!(expires_at >= issued);
            let _ = policy.check_challenge(&ChallengeState { expires_at, attempts_used: used }, now);
            let send = SendState { last_sent: sends.0, hour: sends.1, day: sends.2 };
            for channel in [Channel::Email, Channel::Sms] {
                let d = policy.check_send(channel, &send, now);
                if let Decision::Deny { retry_after, .. } = d {
                    prop_assert!(retry_after <= mfa_policy::SendQuota::DAY);
                }
            }
        }
    }

    /// A recognised context is never refused by a counter of unrecognised contexts.
    #[test]
    fn a_recognised_context_ignores_the_strangers_counters(state in any_state(), now in any_time()) {
        let rules = *Policy::authenticator_setup().second_factor();
        if let Some(reason) = rules.check(Context::Recognised, &state, now).reason() {
            prop_assert!(
                matches!(
                    reason.counter(),
                    Some(Counter::Recognised | Counter::Consecutive)
                ),
                "{reason:?}"
            );
        }
    }
}
