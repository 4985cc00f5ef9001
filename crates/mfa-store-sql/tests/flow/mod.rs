//! What this backend claims of the coarse operations beyond the conformance kit, on every
//! engine: a settlement is all or nothing even when a later condition fails after an earlier
//! one held; a ticket that conflicts takes nothing from its budget; identifiers, keys, tags
//! and audit text outside ASCII survive the routines' JSON arguments byte for byte; 50 logins
//! of one user started at once keep the ticket budget and leave one ticket.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::sync::Arc;
use std::time::Duration;

use mfa_store::{
    AttemptOutcome, AttemptPlan, AuditEvent, AuditKind, AuditOutcome, ChallengeKind, ClientInfo,
    CounterKey, CounterScope, Settlement, Store, StoreError, Take,
};

use crate::fail_closed::{challenge, confirmed_factor, id, now};

fn event(user: &str, kind: &'static str, agent: &str) -> AuditEvent {
    AuditEvent {
        at: now(),
        user: user.to_owned(),
        kind: AuditKind::from_static(kind),
        outcome: AuditOutcome::Success,
        client: ClientInfo {
            ip: Some("2001:db8::7".parse().unwrap()),
            user_agent: Some(agent.to_owned()),
        },
        actor: None,
    }
}

/// A settlement whose step holds but whose second consume is refused changes nothing: the
/// step is not used up, the first challenge stays live, no counter or audit record moves.
/// (The provided `settle` would have advanced the step and consumed the first.) The same for
/// one challenge listed twice.
pub(crate) async fn settle_is_all_or_nothing<S: Store>(store: S) {
    let user = id("all-or-nothing");
    let t = now();
    confirmed_factor(&store, &user, "f1").await;
    let live = challenge(&user, 3);
    store.create_challenge(live.clone()).await.unwrap();
    let kept = CounterKey::new("flow.kept", CounterScope::Account(user.clone()));
    let locked = CounterKey::new("flow.locked", CounterScope::Account(user.clone()));
    store
        .take_counter(&kept, Duration::from_secs(900), 10, t)
        .await
        .unwrap();
    let settlement = |consume: Vec<String>| Settlement {
        user: user.clone(),
        advance: Some(("f1".into(), 101)),
        consume,
        resets: vec![kept.clone()],
        refunds: vec![kept.clone()],
        locks: vec![(locked.clone(), t + Duration::from_secs(600))],
        audit: vec![event(&user, "flow.settled", "curl/8")],
    };
    for consume in [
        vec![live.id.clone(), id("missing")],
        vec![live.id.clone(), live.id.clone()],
    ] {
        assert!(!store.settle(settlement(consume), t).await.unwrap());
        let factor = store.totp_factor(&user, "f1").await.unwrap().unwrap();
        assert_eq!(factor.last_used_step, Some(100), "the step is not used up");
        assert!(
            !store
                .challenge(&live.id, t)
                .await
                .unwrap()
                .unwrap()
                .consumed
        );
        assert_eq!(
            store.counter(&kept, t).await.unwrap().map(|s| s.count),
            Some(1)
        );
        assert!(store.counter(&locked, t).await.unwrap().is_none());
        assert!(store.audit_events(&user, 10).await.unwrap().is_empty());
    }
    assert!(
        store
            .settle(settlement(vec![live.id.clone()]), t)
            .await
            .unwrap()
    );
    let factor = store.totp_factor(&user, "f1").await.unwrap().unwrap();
    assert_eq!(factor.last_used_step, Some(101));
    assert!(store.counter(&kept, t).await.unwrap().is_none(), "reset");
    assert!(
        store
            .counter(&locked, t)
            .await
            .unwrap()
            .unwrap()
            .is_locked(t)
    );
    assert_eq!(store.audit_events(&user, 10).await.unwrap().len(), 1);
}

/// A ticket whose id another user's challenge holds is a `Conflict`, and the step took
/// nothing from the budget, stored nothing and audited nothing.
pub(crate) async fn conflicting_ticket_takes_nothing<S: Store>(store: S) {
    let (owner, user) = (id("owner"), id("intruder"));
    let t = now();
    let theirs = challenge(&owner, 3);
    store.create_challenge(theirs.clone()).await.unwrap();
    let mut ticket = challenge(&user, 3);
    ticket.id = theirs.id.clone();
    let budget = Take::new(
        CounterKey::new("flow.tickets", CounterScope::Account(user.clone())),
        Duration::from_secs(3600),
        5,
    );
    let result = store
        .open_ticket(ticket, &budget, event(&user, "flow.opened", "x"), t)
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert!(store.counter(&budget.key, t).await.unwrap().is_none());
    assert!(store.audit_events(&user, 10).await.unwrap().is_empty());
    let kept = store.challenge(&theirs.id, t).await.unwrap().unwrap();
    assert_eq!(
        (kept.user.as_str(), kept.attempts_left),
        (owner.as_str(), 3)
    );
}

/// A user id, a network tag, counter keys and audit text outside ASCII (and with the
/// characters JSON and SQL quote) go through open_ticket, attempt and settle unchanged: the
/// tag is recognised, the plan's keys are the counters read back, the audit text reads back.
pub(crate) async fn text_outside_ascii_round_trips<S: Store>(store: S) {
    let user = format!("élodie \"'\\ {}", id("✓"));
    let tag = "réseau 2001:db8::/48 \"'";
    let agent = "Navigateur/1.0 (ßüñ; \"'\\)";
    let t = now();
    confirmed_factor(&store, &user, "clé").await;
    let mine = CounterKey::new(
        "flow.réseau",
        CounterScope::AccountClient {
            account: user.clone(),
            client: format!("net:{tag}"),
        },
    );
    let other = CounterKey::new("flow.autre", CounterScope::Account(user.clone()));
    let plan = AttemptPlan {
        tag: Some(tag.to_owned()),
        recognised: vec![Take::new(mine.clone(), Duration::from_secs(900), 3)],
        unrecognised: vec![Take::new(other.clone(), Duration::from_secs(900), 3)],
    };
    let mut ticket = challenge(&user, 5);
    ticket.kind = ChallengeKind::LoginTicket;
    ticket.purpose = "connexion ✓".into();
    ticket.plan = Some(plan.clone());
    let budget = Take::new(
        CounterKey::new("flow.billets", CounterScope::Account(user.clone())),
        Duration::from_secs(3600),
        5,
    );
    let opened = store
        .open_ticket(
            ticket.clone(),
            &budget,
            event(&user, "flow.opened", agent),
            t,
        )
        .await
        .unwrap();
    assert!(opened.is_taken());
    let view = store.attempt(&ticket.id, Some(tag), true, t).await.unwrap();
    assert!(view.admitted() && view.recognised, "{view:?}");
    assert_eq!(view.factors.len(), 1);
    assert_eq!(view.factors[0].id, "clé");
    let AttemptOutcome::Spent { challenge, .. } = &view.outcome else {
        panic!("{:?}", view.outcome);
    };
    assert_eq!(
        (challenge.user.as_str(), &challenge.plan),
        (user.as_str(), &Some(plan))
    );
    assert_eq!(
        store.counter(&mine, t).await.unwrap().map(|s| s.count),
        Some(1)
    );
    assert!(store.counter(&other, t).await.unwrap().is_none());
    let settled = store
        .settle(
            Settlement {
                user: user.clone(),
                advance: Some(("clé".into(), 101)),
                consume: vec![ticket.id.clone()],
                refunds: vec![mine.clone()],
                audit: vec![event(&user, "flow.settled", agent)],
                ..Settlement::default()
            },
            t,
        )
        .await
        .unwrap();
    assert!(settled);
    assert_eq!(
        store.counter(&mine, t).await.unwrap().map(|s| s.count),
        Some(0)
    );
    let events = store.audit_events(&user, 10).await.unwrap();
    assert_eq!(events.len(), 2);
    for e in &events {
        assert_eq!(e.user, user);
        assert_eq!(e.client.user_agent.as_deref(), Some(agent));
        assert_eq!(e.client.ip, Some("2001:db8::7".parse().unwrap()));
    }
}

/// 50 logins of one user start at once against a budget of 10: exactly 10 are counted, each
/// of those stored its ticket and its audit record, and the user ends with one ticket of the
/// purpose (one of the counted ones), as concurrent `create_challenge`s leave one.
pub(crate) async fn ticket_race_keeps_the_budget_and_one_ticket<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let user = id("ticket-race");
    let t = now();
    let budget = Take::new(
        CounterKey::new("flow.race", CounterScope::Account(user.clone())),
        Duration::from_secs(3600),
        10,
    );
    let tickets: Vec<_> = (0..50)
        .map(|_| {
            let mut ticket = challenge(&user, 3);
            ticket.kind = ChallengeKind::LoginTicket;
            ticket.purpose = "race".into();
            ticket
        })
        .collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(tickets.len()));
    let tasks: Vec<_> = tickets
        .iter()
        .map(|ticket| {
            let (store, barrier, budget) =
                (Arc::clone(&store), Arc::clone(&barrier), budget.clone());
            let (ticket, audit) = (ticket.clone(), event(&user, "flow.opened", "race"));
            tokio::spawn(async move {
                barrier.wait().await;
                store.open_ticket(ticket, &budget, audit, t).await.unwrap()
            })
        })
        .collect();
    let mut taken = Vec::new();
    for (task, ticket) in tasks.into_iter().zip(&tickets) {
        if task.await.unwrap().is_taken() {
            taken.push(ticket.id.clone());
        }
    }
    println!(
        "ticket race: 50 starts, {} counted (budget 10)",
        taken.len()
    );
    assert_eq!(taken.len(), 10, "the budget");
    assert_eq!(store.audit_events(&user, 100).await.unwrap().len(), 10);
    let mut live = Vec::new();
    for ticket in &tickets {
        if store.challenge(&ticket.id, t).await.unwrap().is_some() {
            live.push(ticket.id.clone());
        }
    }
    assert_eq!(live.len(), 1, "one ticket per purpose");
    assert!(taken.contains(&live[0]), "and one that was counted");
}

/// Runs every check of this module on stores from `make`.
pub(crate) async fn all<S: Store + 'static, F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    settle_is_all_or_nothing(make().await).await;
    conflicting_ticket_takes_nothing(make().await).await;
    text_outside_ascii_round_trips(make().await).await;
    ticket_race_keeps_the_budget_and_one_ticket(make().await).await;
}
