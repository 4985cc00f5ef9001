//! The coarse operations of a login (`FlowStore`) and the attempt plans they carry, on the
//! standalone test server: what the conformance kit cannot see from outside (a stored plan
//! that does not decode).

#![allow(clippy::unwrap_used, clippy::panic, clippy::print_stderr)]

mod common;

use std::time::Duration;

use common::{now, unique};
use mfa_store::{
    AttemptPlan, Challenge, ChallengeKind, ChallengeStore, CounterKey, CounterScope, StoreError,
    Take,
};
use mfa_store_redis::testkit::{throwaway_store, url};

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
