//! The coarse operations of a login (`FlowStore`) and the attempt plans they carry, on the
//! standalone test server: what the conformance kit cannot see from outside (a stored plan
//! that does not decode, a slot that lost its data, a lost factor, an id another user holds)
//! and the choices the contract leaves to a backend (a challenge listed twice, another user's
//! challenge).

#![allow(clippy::unwrap_used, clippy::panic, clippy::print_stderr)]

mod common;

use std::time::Duration;

use common::login::Login;
use common::{now, unique};
use mfa_store::{
    AttemptOutcome, AttemptPlan, Challenge, ChallengeKind, ChallengeStore, CounterKey,
    CounterScope, CounterStore, FlowStore, Settlement, StoreError, Take, TotpFactorStore,
};
use mfa_store_redis::RedisStore;
use mfa_store_redis::testkit::{marker_for, throwaway_store, url};

fn plan(user: &str) -> AttemptPlan {
    let window = Duration::from_secs(900);
    AttemptPlan {
        tag: Some("198.51.100.0/24".to_owned()),
        recognised: vec![Take::new(
            CounterKey::new("totp.recognised", CounterScope::Account(user.to_owned())),
            window,
            10,
        )],
        unrecognised: vec![
            Take::new(
                CounterKey::new("totp.client", CounterScope::Client(unique("net"))),
                window,
                50,
            ),
            Take::new(
                CounterKey::new("totp.account", CounterScope::Account(user.to_owned())),
                window,
                5,
            ),
        ],
    }
}

fn ticket(user: &str, plan: Option<AttemptPlan>) -> Challenge {
    let t = now();
    Challenge {
        id: unique("ch"),
        user: user.to_owned(),
        purpose: unique("login"),
        kind: ChallengeKind::LoginTicket,
        code_digest: None,
        link_digest: None,
        binding_digest: None,
        created_at: t,
        expires_at: t + Duration::from_secs(600),
        attempts_left: 3,
        consumed: false,
        plan,
    }
}

/// A stored plan that does not decode is `Corrupt` wherever the challenge is read: never "no
/// plan", which would let attempts go uncharged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_that_does_not_decode_is_corrupt() {
    let Some((store, cleanup)) = throwaway_store("a_plan_that_does_not_decode_is_corrupt").await
    else {
        return;
    };
    let user = unique("plan");
    let c = ticket(&user, Some(plan(&user)));
    store.create_challenge(c.clone()).await.unwrap();
    assert_eq!(
        store.challenge(&c.id, now()).await.unwrap().unwrap().plan,
        c.plan
    );
    let key = format!("{{{}:u:{user}}}:ch:{}", store.prefix(), c.id);
    let mut admin = common::admin(&url()).await;
    let () = redis::cmd("HSET")
        .arg(&key)
        .arg("plan")
        .arg("p1;-;1;900000,5,")
        .query_async(&mut admin)
        .await
        .unwrap();
    for (what, result) in [
        ("challenge", store.challenge(&c.id, now()).await.map(drop)),
        (
            "spend_attempt",
            store.spend_attempt(&c.id, now()).await.map(drop),
        ),
    ] {
        assert!(
            matches!(result, Err(StoreError::Corrupt(_))),
            "{what}: {result:?}"
        );
    }
    cleanup.await;
}

fn assert_data_loss<T: std::fmt::Debug>(what: &str, result: mfa_store::Result<T>) {
    match result {
        Err(StoreError::DataLoss(_)) => {}
        other => panic!("{what}: expected DataLoss, got {other:?}"),
    }
}

async fn del(key: &str) {
    let mut admin = common::admin(&url()).await;
    let deleted: u64 = redis::cmd("DEL")
        .arg(key)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(deleted, 1, "{key}");
}

async fn tries_left(store: &RedisStore, id: &str) -> u32 {
    store
        .challenge(id, now())
        .await
        .unwrap()
        .unwrap()
        .attempts_left
}

/// Each coarse operation touches several slots in one script on a standalone server, and checks
/// every one's marker before its first write: with the client slot's marker gone, each answers
/// `DataLoss` and changes nothing, while what lives on intact slots still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_slots_marker_is_checked_before_the_first_write() {
    let test = "every_slots_marker_is_checked_before_the_first_write";
    let Some((store, cleanup)) = throwaway_store(test).await else {
        return;
    };
    let t = now();
    let login = Login::enrolled(&store, t).await;
    login.open_ticket_quietly(&store).await;
    let id = login.ticket.id.clone();
    let client_slot = format!("{{{}:k:{}}}", store.prefix(), login.network);
    del(&marker_for(&store, &client_slot)).await;

    assert_data_loss(
        "attempt from elsewhere (the client counter first)",
        store.attempt(&id, Some("203.0.113.0/24"), true, t).await,
    );
    assert_eq!(tries_left(&store, &id).await, 5, "no try spent");
    assert_data_loss(
        "login_view",
        store.login_view(&login.user, &login.limit_keys(), t).await,
    );
    let client_budget = Take::new(login.client(), Duration::from_secs(3600), 20);
    let mut again = login.ticket.clone();
    again.id = unique("ticket");
    again.purpose = unique("login");
    assert_data_loss(
        "open_ticket with a client budget",
        store
            .open_ticket(again.clone(), &client_budget, login.event("x"), t)
            .await,
    );
    assert!(store.challenge(&again.id, t).await.unwrap().is_none());
    let mut locking = login.success();
    locking.locks = vec![(login.client(), t + Duration::from_secs(600))];
    assert_data_loss("settle locking the client", store.settle(locking, t).await);
    assert!(
        !store.challenge(&id, t).await.unwrap().unwrap().consumed,
        "nothing consumed"
    );

    // The user's own slot is intact: the recognised list and a settlement there go through.
    let view = store
        .attempt(&id, Some(&login.network), true, t)
        .await
        .unwrap();
    assert!(view.admitted() && view.factors.len() == 1);
    assert!(store.settle(login.success(), t).await.unwrap());
    eprintln!(
        "client slot's marker gone: attempt, login_view, open_ticket, settle all DataLoss, nothing written"
    );
    cleanup.await;
}

/// A factor lost behind its user's index is `DataLoss` for `attempt` as for `totp_factors`;
/// the try and the takes made before the factors are read stay counted (fail closed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_factor_is_data_loss_and_the_try_still_counts() {
    let test = "a_lost_factor_is_data_loss_and_the_try_still_counts";
    let Some((store, cleanup)) = throwaway_store(test).await else {
        return;
    };
    let t = now();
    let login = Login::enrolled(&store, t).await;
    login.open_ticket_quietly(&store).await;
    del(&format!("{{{}:u:{}}}:totp:f1", store.prefix(), login.user)).await;
    assert_data_loss(
        "attempt reading factors",
        store
            .attempt(&login.ticket.id, Some(&login.network), true, t)
            .await,
    );
    assert_eq!(tries_left(&store, &login.ticket.id).await, 4);
    let view = store
        .attempt(&login.ticket.id, Some(&login.network), false, t)
        .await
        .unwrap();
    assert!(view.admitted(), "without factors asked, nothing is read");
    assert_data_loss("totp_factors", store.totp_factors(&login.user).await);
    cleanup.await;
}

/// `open_ticket` on an id another user's live challenge holds fails as `create_challenge` does
/// and gives back the unit it took; once that challenge is gone the id is taken over, route
/// included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_ticket_on_a_held_id_conflicts_takes_nothing_and_takes_over_a_stale_one() {
    let test = "open_ticket_on_a_held_id_conflicts_takes_nothing_and_takes_over_a_stale_one";
    let Some((store, cleanup)) = throwaway_store(test).await else {
        return;
    };
    let t = now();
    let (alice, bob) = (
        Login::enrolled(&store, t).await,
        Login::enrolled(&store, t).await,
    );
    alice.open_ticket_quietly(&store).await;
    let mut bobs = bob.ticket.clone();
    bobs.id = alice.ticket.id.clone();
    let err = store
        .open_ticket(bobs.clone(), &bob.budget(), bob.event("x"), t)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let budget = store.counter(&bob.budget().key, t).await.unwrap();
    assert_eq!(
        budget.map_or(0, |b| b.count),
        0,
        "the unit taken before the claim was given back"
    );
    assert_eq!(
        store.challenge(&bobs.id, t).await.unwrap().unwrap().user,
        alice.user
    );

    // Alice's ticket replaced by another of the same purpose: her id mapping is stale.
    let mut replacement = alice.ticket.clone();
    replacement.id = unique("ticket");
    store.create_challenge(replacement).await.unwrap();
    let take = store
        .open_ticket(bobs.clone(), &bob.budget(), bob.event("x"), t)
        .await
        .unwrap();
    assert!(take.is_taken());
    let view = store
        .attempt(&bobs.id, Some(&bob.network), true, t)
        .await
        .unwrap();
    let AttemptOutcome::Spent { challenge, .. } = &view.outcome else {
        panic!("{:?}", view.outcome)
    };
    assert_eq!(
        challenge.user, bob.user,
        "the route was rewritten with the mapping"
    );
    assert!(view.admitted() && view.factors.len() == 1);
    cleanup.await;
}

/// What `settle` does with what the contract does not spell out: a challenge listed twice is
/// consumed once at most, so the settlement is refused whole; a challenge is looked up under
/// the settlement's user, so another user's is not found there and refuses it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settle_refuses_a_challenge_twice_or_of_another_user() {
    let test = "settle_refuses_a_challenge_twice_or_of_another_user";
    let Some((store, cleanup)) = throwaway_store(test).await else {
        return;
    };
    let t = now();
    let (alice, bob) = (
        Login::enrolled(&store, t).await,
        Login::enrolled(&store, t).await,
    );
    alice.open_ticket_quietly(&store).await;
    bob.open_ticket_quietly(&store).await;
    let mut twice = alice.success();
    twice.consume.push(alice.ticket.id.clone());
    assert!(!store.settle(twice, t).await.unwrap());
    let others = Settlement {
        user: alice.user.clone(),
        consume: vec![bob.ticket.id.clone()],
        ..Settlement::default()
    };
    assert!(!store.settle(others, t).await.unwrap());
    assert!(
        !store
            .challenge(&bob.ticket.id, t)
            .await
            .unwrap()
            .unwrap()
            .consumed
    );
    assert!(
        !store
            .challenge(&alice.ticket.id, t)
            .await
            .unwrap()
            .unwrap()
            .consumed
    );
    assert!(store.settle(alice.success(), t).await.unwrap());
    assert!(!store.settle(alice.success(), t).await.unwrap(), "once");
    cleanup.await;
}
