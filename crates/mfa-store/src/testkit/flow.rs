//! Checks of [`FlowStore`](crate::FlowStore): the coarse operations do what the fine-grained
//! ones they stand for do, and keep their atomic claims.

use std::time::SystemTime;

use mfa_core::ChallengeKind;

use super::{CONCURRENCY, SharedStore, base, digest, race, sealed, secs, unique};
use crate::{
    AttemptOutcome, AttemptPlan, AuditEvent, AuditKind, AuditOutcome, Challenge, ClientInfo,
    CounterKey, CounterScope, FactorStatus, MfaSettings, NewTotpFactor, RecoveryCodeRecord,
    Settlement, Take,
};

/// A plan whose recognised list (for `tag`) is one budget of `limit`, and whose unrecognised
/// list is a per-network budget then an account budget of `limit` each.
pub(crate) fn plan(user: &str, tag: &str, limit: u32) -> AttemptPlan {
    let account = |ns: &str| CounterKey::new(ns, CounterScope::Account(user.to_owned()));
    AttemptPlan {
        tag: Some(tag.to_owned()),
        recognised: vec![Take::new(
            CounterKey::new(
                "kit.recognised",
                CounterScope::AccountClient {
                    account: user.to_owned(),
                    client: format!("net:{tag}"),
                },
            ),
            secs(900),
            limit,
        )],
        unrecognised: vec![
            Take::new(
                CounterKey::new("kit.client", CounterScope::Client(unique("net"))),
                secs(900),
                limit,
            ),
            Take::new(account("kit.account"), secs(900), limit),
        ],
    }
}

fn ticket(user: &str, t: SystemTime, tries: u32, plan: Option<AttemptPlan>) -> Challenge {
    Challenge {
        id: unique("flow-ch"),
        user: user.to_owned(),
        purpose: unique("login"),
        kind: ChallengeKind::LoginTicket,
        code_digest: None,
        link_digest: None,
        binding_digest: None,
        created_at: t,
        expires_at: t + secs(600),
        attempts_left: tries,
        consumed: false,
        plan,
    }
}

fn event(user: &str, kind: &'static str, t: SystemTime) -> AuditEvent {
    AuditEvent {
        at: t,
        user: user.to_owned(),
        kind: AuditKind::from_static(kind),
        outcome: AuditOutcome::Success,
        client: ClientInfo::default(),
        actor: None,
    }
}

/// `login_view` reads what `settings`, `remaining_recovery_codes` and `counters` read.
pub async fn login_view_reads_settings_codes_and_counters(store: SharedStore) {
    let user = unique("flow-view");
    let t = base();
    let mut settings = MfaSettings::new(user.clone());
    settings.enabled.insert(crate::FactorKind::Totp);
    store.put_settings(settings.clone()).await.unwrap();
    let codes = (0..3u8)
        .map(|_| RecoveryCodeRecord {
            locator: digest(),
            verifier: mfa_core::RecoveryVerifier::Peppered(digest()),
        })
        .collect();
    store.replace_recovery_codes(&user, codes, t).await.unwrap();
    let hit = CounterKey::new("kit.view", CounterScope::Account(user.clone()));
    let absent = CounterKey::new("kit.view-absent", CounterScope::Account(user.clone()));
    store.hit_counter(&hit, secs(900), t).await.unwrap();
    let view = store
        .login_view(&user, &[hit, absent], t + secs(1))
        .await
        .unwrap();
    assert_eq!(view.settings, Some(settings));
    assert_eq!(view.recovery_codes_left, 3);
    assert_eq!(view.counters.len(), 2);
    assert_eq!(view.counters[0].map(|s| s.count), Some(1));
    assert_eq!(view.counters[1], None);
    let nobody = store
        .login_view(&unique("flow-view-none"), &[], t)
        .await
        .unwrap();
    assert!(nobody.settings.is_none() && nobody.recovery_codes_left == 0);
}

/// `open_ticket` stores the ticket and its audit record only when the budget counted it.
pub async fn open_ticket_only_within_its_budget(store: SharedStore) {
    let user = unique("flow-open");
    let t = base();
    let budget = Take::new(
        CounterKey::new("kit.tickets", CounterScope::Account(user.clone())),
        secs(3600),
        2,
    );
    let mut made = Vec::new();
    for i in 0..3 {
        let c = ticket(&user, t, 3, None);
        let take = store
            .open_ticket(
                c.clone(),
                &budget,
                event(&user, "kit.opened", t + secs(i)),
                t,
            )
            .await
            .unwrap();
        made.push((take.is_taken(), c.id));
    }
    assert_eq!(
        made.iter().map(|(taken, _)| *taken).collect::<Vec<_>>(),
        [true, true, false]
    );
    for (taken, id) in &made {
        let stored = store.challenge(id, t).await.unwrap().is_some();
        assert_eq!(
            stored, *taken,
            "a ticket exists only when its budget counted it"
        );
    }
    let audited = store.audit_events(&user, 10).await.unwrap();
    assert_eq!(audited.len(), 2, "one audit record per opened ticket");
}

/// `attempt` spends a try, takes the plan's list for the tag (stopping at a refusal), and reads
/// the factors only when every take counted and they were asked for.
pub async fn attempt_spends_takes_and_reads(store: SharedStore) {
    let user = unique("flow-attempt");
    let t = base();
    store
        .insert_pending_totp(NewTotpFactor {
            user: user.clone(),
            id: "f1".into(),
            sealed_secret: sealed(&user, "f1"),
            algorithm: mfa_core::Algorithm::Sha1,
            digits: mfa_core::Digits::SIX,
            period: mfa_core::Period::THIRTY_SECONDS,
            label: "Phone".into(),
            created_at: t,
        })
        .await
        .unwrap();
    let p = plan(&user, "198.51.100.0/24", 2);
    let c = ticket(&user, t, 5, Some(p.clone()));
    store.create_challenge(c.clone()).await.unwrap();

    // From the plan's tag: the recognised list.
    let v = store
        .attempt(&c.id, Some("198.51.100.0/24"), true, t)
        .await
        .unwrap();
    assert!(v.admitted() && v.recognised);
    assert_eq!(v.takes.len(), 1);
    assert_eq!(v.factors.len(), 1, "factors read when asked and admitted");
    assert_eq!(v.factors[0].status, FactorStatus::Pending);
    let AttemptOutcome::Spent {
        challenge,
        attempts_left_after,
    } = &v.outcome
    else {
        panic!("{:?}", v.outcome)
    };
    assert_eq!(
        (*attempts_left_after, &challenge.plan),
        (4, &Some(p.clone()))
    );

    // From elsewhere: the unrecognised list; its limit of 2 refuses the third.
    for expected_admitted in [true, true, false] {
        let v = store
            .attempt(&c.id, Some("203.0.113.0/24"), true, t)
            .await
            .unwrap();
        assert!(!v.recognised);
        assert_eq!(v.admitted(), expected_admitted);
        if !expected_admitted {
            assert!(v.factors.is_empty(), "no factors for a refused attempt");
            assert_eq!(v.takes.len(), 1, "stopped at the first refusal");
        }
    }
    // Without factors asked: none read.
    let v = store.attempt(&c.id, None, false, t).await.unwrap();
    assert!(v.factors.is_empty());
    // Out of tries: nothing taken.
    let v = store.attempt(&c.id, None, true, t).await.unwrap();
    assert!(
        matches!(v.outcome, AttemptOutcome::Exhausted),
        "{:?}",
        v.outcome
    );
    assert!(v.takes.is_empty() && !v.admitted());
    // A challenge without a plan: a try, no takes.
    let bare = ticket(&user, t, 1, None);
    store.create_challenge(bare.clone()).await.unwrap();
    let v = store.attempt(&bare.id, None, false, t).await.unwrap();
    assert!(v.admitted() && v.takes.is_empty());
    assert!(matches!(
        store
            .attempt(&unique("none"), None, true, t)
            .await
            .unwrap()
            .outcome,
        AttemptOutcome::NotFound
    ));
}

/// 50 attempts at once on a 5-try ticket whose plan allows 3: at most 5 tries spent, at most 3
/// admitted.
pub async fn attempt_race_bounded(store: SharedStore) {
    let user = unique("flow-race");
    let t = base();
    let c = ticket(&user, t, 5, Some(plan(&user, "198.51.100.0/24", 3)));
    store.create_challenge(c.clone()).await.unwrap();
    let views = race(CONCURRENCY, |_| {
        let (store, id) = (store.clone(), c.id.clone());
        async move {
            store
                .attempt(&id, Some("203.0.113.9/32"), false, t)
                .await
                .unwrap()
        }
    })
    .await;
    let spent = views
        .iter()
        .filter(|v| matches!(v.outcome, AttemptOutcome::Spent { .. }))
        .count();
    let admitted = views.iter().filter(|v| v.admitted()).count();
    assert_eq!(spent, 5, "the ticket's tries");
    assert_eq!(admitted, 3, "the plan's budget");
}

/// `settle` applies counters and audit only when its step and consumes held; a refused one
/// changes nothing; of concurrent settlements of one step exactly one holds.
pub async fn settle_applies_only_when_its_conditions_hold(store: SharedStore) {
    let user = unique("flow-settle");
    let t = base();
    store
        .insert_pending_totp(NewTotpFactor {
            user: user.clone(),
            id: "f1".into(),
            sealed_secret: sealed(&user, "f1"),
            algorithm: mfa_core::Algorithm::Sha1,
            digits: mfa_core::Digits::SIX,
            period: mfa_core::Period::THIRTY_SECONDS,
            label: "Phone".into(),
            created_at: t,
        })
        .await
        .unwrap();
    assert!(store.confirm_totp(&user, "f1", 10, t).await.unwrap());
    let reset = CounterKey::new("kit.reset", CounterScope::Account(user.clone()));
    let refund = CounterKey::new("kit.refund", CounterScope::Account(user.clone()));
    let lock = CounterKey::new("kit.lock", CounterScope::Account(user.clone()));
    store.hit_counter(&reset, secs(900), t).await.unwrap();
    store.hit_counter(&refund, secs(900), t).await.unwrap();
    store.hit_counter(&refund, secs(900), t).await.unwrap();
    let c = ticket(&user, t, 3, None);
    store.create_challenge(c.clone()).await.unwrap();
    let settlement = |step: u64| Settlement {
        user: user.clone(),
        advance: Some(("f1".into(), step)),
        consume: vec![c.id.clone()],
        resets: vec![reset.clone()],
        refunds: vec![refund.clone()],
        locks: vec![(lock.clone(), t + secs(600))],
        audit: vec![event(&user, "kit.settled", t)],
    };
    // A step not greater than the last used one: refused, nothing applied.
    assert!(!store.settle(settlement(10), t).await.unwrap());
    assert!(store.counter(&reset, t).await.unwrap().is_some());
    assert!(store.counter(&lock, t).await.unwrap().is_none());
    assert!(store.audit_events(&user, 10).await.unwrap().is_empty());
    let live = store.challenge(&c.id, t).await.unwrap().unwrap();
    assert!(!live.consumed, "a refused settlement consumes nothing");

    // 50 at once with the same step: one holds, and applies everything once.
    let results = race(CONCURRENCY, |_| {
        let (store, s) = (store.clone(), settlement(11));
        async move { store.settle(s, t).await.unwrap() }
    })
    .await;
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1);
    assert!(store.counter(&reset, t).await.unwrap().is_none());
    assert_eq!(
        store.counter(&refund, t).await.unwrap().map(|s| s.count),
        Some(1)
    );
    assert!(
        store
            .counter(&lock, t)
            .await
            .unwrap()
            .is_some_and(|s| s.is_locked(t))
    );
    assert_eq!(store.audit_events(&user, 10).await.unwrap().len(), 1);
    assert!(store.challenge(&c.id, t).await.unwrap().unwrap().consumed);

    // Without conditions (a failure's settlement): applied.
    let failure = Settlement {
        user: user.clone(),
        locks: vec![(lock.clone(), t + secs(1200))],
        audit: vec![event(&user, "kit.failed", t)],
        ..Settlement::default()
    };
    assert!(store.settle(failure, t).await.unwrap());
    assert_eq!(store.audit_events(&user, 10).await.unwrap().len(), 2);
}

/// A settlement's lists apply as the provided `settle` applies them, entry after entry, list
/// after list (resets, refunds, locks, audit records): a key refunded twice gets two units back
/// but never goes below zero, a key reset then refunded stays absent, a key reset then locked
/// is locked afresh, a key locked three times keeps the latest end, and audit records keep
/// their order and client details. A settlement listing a used challenge before a live one is
/// refused and changes nothing (the provided `settle` stops at the used one; a backend that
/// consumes the list in one statement must undo the live one's consume). A backend that
/// applies a list as one set-based statement must keep all of this.
pub async fn settle_lists_apply_in_order(store: SharedStore) {
    let user = unique("flow-lists");
    let t = base();
    let key = |name: &str| CounterKey::new(name, CounterScope::Account(user.clone()));
    let twice = key("kit.twice");
    let below = key("kit.below");
    let reset_refund = key("kit.reset-refund");
    let reset_lock = key("kit.reset-lock");
    let locked = key("kit.locked");
    for k in [
        &twice,
        &twice,
        &twice,
        &below,
        &reset_refund,
        &reset_lock,
        &reset_lock,
    ] {
        store.hit_counter(k, secs(900), t).await.unwrap();
    }
    let live = ticket(&user, t, 3, None);
    let used = ticket(&user, t, 3, None);
    store.create_challenge(live.clone()).await.unwrap();
    store.create_challenge(used.clone()).await.unwrap();
    assert!(store.consume_challenge(&used.id, t).await.unwrap());
    let client = ClientInfo {
        ip: Some(std::net::IpAddr::from([192, 0, 2, 7])),
        user_agent: Some("kit agent".into()),
    };
    let audit = ["kit.first", "kit.second", "kit.third"].map(|kind| AuditEvent {
        client: client.clone(),
        ..event(&user, kind, t)
    });
    let settlement = |consume: Vec<String>| Settlement {
        user: user.clone(),
        advance: None,
        consume,
        resets: vec![reset_refund.clone(), reset_lock.clone()],
        refunds: vec![
            twice.clone(),
            below.clone(),
            twice.clone(),
            below.clone(),
            reset_refund.clone(),
        ],
        locks: vec![
            (reset_lock.clone(), t + secs(600)),
            (locked.clone(), t + secs(300)),
            (locked.clone(), t + secs(900)),
            (locked.clone(), t + secs(600)),
        ],
        audit: audit.to_vec(),
    };

    // A used challenge listed before a live one: refused, the live one untouched.
    assert!(
        !store
            .settle(settlement(vec![used.id.clone(), live.id.clone()]), t)
            .await
            .unwrap()
    );
    assert!(
        !store
            .challenge(&live.id, t)
            .await
            .unwrap()
            .unwrap()
            .consumed
    );
    assert_eq!(
        store.counter(&twice, t).await.unwrap().map(|s| s.count),
        Some(3)
    );
    assert!(store.counter(&reset_refund, t).await.unwrap().is_some());
    assert!(store.counter(&locked, t).await.unwrap().is_none());
    assert!(store.audit_events(&user, 10).await.unwrap().is_empty());

    assert!(
        store
            .settle(settlement(vec![live.id.clone()]), t)
            .await
            .unwrap()
    );
    assert!(
        store
            .challenge(&live.id, t)
            .await
            .unwrap()
            .unwrap()
            .consumed
    );
    assert_eq!(
        store.counter(&twice, t).await.unwrap().map(|s| s.count),
        Some(1)
    );
    assert_eq!(
        store.counter(&below, t).await.unwrap().map(|s| s.count),
        Some(0)
    );
    assert!(store.counter(&reset_refund, t).await.unwrap().is_none());
    let afresh = store.counter(&reset_lock, t).await.unwrap().unwrap();
    assert_eq!(afresh.locked_until, Some(t + secs(600)));
    assert_eq!(
        afresh.consecutive_failures, 0,
        "the reset came before the lock"
    );
    let latest = store.counter(&locked, t).await.unwrap().unwrap();
    assert_eq!(
        latest.locked_until,
        Some(t + secs(900)),
        "a lock is only ever extended"
    );
    let written = store.audit_events(&user, 10).await.unwrap();
    let kinds: Vec<&str> = written.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["kit.third", "kit.second", "kit.first"],
        "newest appended first"
    );
    assert!(written.iter().all(|e| e.client == client && e.user == user));
}

/// A settlement without a TOTP step (an emailed code's, a magic link's) holds once: of 50
/// concurrent settlements consuming one challenge exactly one returns `true` and applies its
/// counters and audit record; a later one is refused and changes nothing. The consume is the
/// only condition, so a `settle` that ignores whether it took effect lets one code settle any
/// number of logins.
pub async fn settle_consumes_once(store: SharedStore) {
    let user = unique("flow-consume");
    let t = base();
    let reset = CounterKey::new("kit.reset", CounterScope::Account(user.clone()));
    let lock = CounterKey::new("kit.lock", CounterScope::Account(user.clone()));
    let c = ticket(&user, t, 3, None);
    store.create_challenge(c.clone()).await.unwrap();
    let settlement = || Settlement {
        user: user.clone(),
        consume: vec![c.id.clone()],
        resets: vec![reset.clone()],
        locks: vec![(lock.clone(), t + secs(600))],
        audit: vec![event(&user, "kit.settled", t)],
        ..Settlement::default()
    };
    let results = race(CONCURRENCY, |_| {
        let (store, s) = (store.clone(), settlement());
        async move { store.settle(s, t).await.unwrap() }
    })
    .await;
    assert_eq!(
        results.iter().filter(|ok| **ok).count(),
        1,
        "settlements of one challenge that held"
    );
    assert_eq!(
        store.audit_events(&user, 100).await.unwrap().len(),
        1,
        "audit records of the settlements"
    );
    assert!(store.challenge(&c.id, t).await.unwrap().unwrap().consumed);

    // A later settlement of the consumed challenge: refused, nothing applied.
    store.hit_counter(&reset, secs(900), t).await.unwrap();
    store.reset_counter(&lock).await.unwrap();
    assert!(
        !store.settle(settlement(), t).await.unwrap(),
        "a consumed challenge settles nothing"
    );
    assert!(
        store.counter(&reset, t).await.unwrap().is_some(),
        "a refused settlement resets nothing"
    );
    assert!(
        store.counter(&lock, t).await.unwrap().is_none(),
        "a refused settlement locks nothing"
    );
    assert_eq!(store.audit_events(&user, 100).await.unwrap().len(), 1);
}

/// `settle` stays inside its user: another user's challenge is refused like a spent one, and a
/// settlement that lists a challenge twice or carries another user's audit record is refused
/// before anything is applied.
pub async fn settle_stays_within_its_user(store: SharedStore) {
    let (user, other) = (unique("flow-own"), unique("flow-other"));
    let t = base();
    let reset = CounterKey::new("kit.reset", CounterScope::Account(user.clone()));
    store.hit_counter(&reset, secs(900), t).await.unwrap();
    let theirs = ticket(&other, t, 3, None);
    let mine = ticket(&user, t, 3, None);
    store.create_challenge(theirs.clone()).await.unwrap();
    store.create_challenge(mine.clone()).await.unwrap();
    let settlement = |consume: Vec<String>, audit_user: &str| Settlement {
        user: user.clone(),
        consume,
        resets: vec![reset.clone()],
        audit: vec![event(audit_user, "kit.settled", t)],
        ..Settlement::default()
    };
    let refused = [
        (
            "another user's challenge",
            settlement(vec![theirs.id.clone()], &user),
        ),
        (
            "a challenge listed twice",
            settlement(vec![mine.id.clone(), mine.id.clone()], &user),
        ),
        (
            "another user's audit record",
            settlement(vec![mine.id.clone()], &other),
        ),
    ];
    for (what, s) in refused {
        assert!(!store.settle(s, t).await.unwrap(), "{what}: refused");
        for c in [&theirs, &mine] {
            let live = store.challenge(&c.id, t).await.unwrap().unwrap();
            assert!(!live.consumed, "{what}: nothing consumed");
        }
        assert!(
            store.counter(&reset, t).await.unwrap().is_some(),
            "{what}: nothing reset"
        );
        for u in [&user, &other] {
            assert!(
                store.audit_events(u, 10).await.unwrap().is_empty(),
                "{what}: nothing audited"
            );
        }
    }
    assert!(
        store
            .settle(settlement(vec![mine.id.clone()], &user), t)
            .await
            .unwrap()
    );
    assert!(
        store
            .challenge(&mine.id, t)
            .await
            .unwrap()
            .unwrap()
            .consumed
    );
    assert!(store.counter(&reset, t).await.unwrap().is_none());
}

/// `open_ticket` on an id another user's live challenge holds fails with `Conflict` and
/// changes nothing: the holder's challenge stays, the unit taken is given back.
pub async fn open_ticket_conflict_changes_nothing(store: SharedStore) {
    let (user, other) = (unique("flow-open-c"), unique("flow-open-o"));
    let t = base();
    let theirs = ticket(&other, t, 3, None);
    store.create_challenge(theirs.clone()).await.unwrap();
    let budget = Take::new(
        CounterKey::new("kit.tickets", CounterScope::Account(user.clone())),
        secs(3600),
        5,
    );
    let mut mine = ticket(&user, t, 3, None);
    mine.id.clone_from(&theirs.id);
    let result = store
        .open_ticket(mine, &budget, event(&user, "kit.opened", t), t)
        .await;
    assert!(
        matches!(result, Err(crate::StoreError::Conflict(_))),
        "an id held by another user's live challenge: Conflict, got {result:?}"
    );
    let kept = store.challenge(&theirs.id, t).await.unwrap().unwrap();
    assert_eq!(kept.user, other, "the holder's challenge is untouched");
    assert_eq!(
        store
            .counter(&budget.key, t)
            .await
            .unwrap()
            .map_or(0, |s| s.count),
        0,
        "the refused open gave its unit back"
    );
    assert!(store.audit_events(&user, 10).await.unwrap().is_empty());
}
