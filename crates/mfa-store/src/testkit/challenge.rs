//! Checks of [`ChallengeStore`](crate::ChallengeStore).

use std::time::SystemTime;

use super::{CONCURRENCY, SharedStore, base, bytes, digest, race, secs, unique};
use crate::{AttemptOutcome, Challenge, ChallengeKind, StoreError};

/// A live email-code challenge of `user` for `purpose`, created at `t`, expiring at `t + 600 s`.
fn challenge(user: &str, purpose: &str, t: SystemTime, tries: u32) -> Challenge {
    Challenge {
        id: unique("ch"),
        user: user.to_owned(),
        purpose: purpose.to_owned(),
        kind: ChallengeKind::EmailCode,
        code_digest: Some(digest()),
        link_digest: None,
        binding_digest: None,
        created_at: t,
        expires_at: t + secs(600),
        attempts_left: tries,
        consumed: false,
        plan: None,
    }
}

fn spent(outcome: &AttemptOutcome) -> Option<(u32, &Challenge)> {
    match outcome {
        AttemptOutcome::Spent {
            challenge,
            attempts_left_after,
        } => Some((*attempts_left_after, challenge)),
        _ => None,
    }
}

/// A created challenge reads back field for field while live, and is absent from its expiry on.
pub async fn create_and_get(store: SharedStore) {
    let user = unique("ch-get");
    let t = base();
    let mut c = challenge(&user, "login", t, 3);
    c.kind = ChallengeKind::MagicLink;
    c.link_digest = Some(digest());
    c.binding_digest = Some(digest());
    c.plan = Some(super::flow::plan(&user, "203.0.113.0/24", 2));
    store.create_challenge(c.clone()).await.unwrap();

    let got = store
        .challenge(&c.id, t)
        .await
        .unwrap()
        .expect("the created challenge");
    assert_eq!(
        (got.id.as_str(), got.user.as_str(), got.purpose.as_str()),
        (c.id.as_str(), user.as_str(), "login")
    );
    assert_eq!(got.kind, ChallengeKind::MagicLink);
    assert_eq!(got.plan, c.plan, "the plan reads back as given");
    assert_eq!(
        bytes(got.code_digest.as_ref()),
        bytes(c.code_digest.as_ref())
    );
    assert_eq!(
        bytes(got.link_digest.as_ref()),
        bytes(c.link_digest.as_ref())
    );
    assert_eq!(
        bytes(got.binding_digest.as_ref()),
        bytes(c.binding_digest.as_ref())
    );
    assert_eq!(
        (got.created_at, got.expires_at),
        (c.created_at, c.expires_at)
    );
    assert_eq!((got.attempts_left, got.consumed), (3, false));

    assert!(
        store
            .challenge(&c.id, t + secs(599))
            .await
            .unwrap()
            .is_some(),
        "live before expiry"
    );
    assert!(
        store
            .challenge(&c.id, t + secs(600))
            .await
            .unwrap()
            .is_none(),
        "expired at expires_at"
    );
    assert!(
        store
            .challenge(&unique("ch-none"), t)
            .await
            .unwrap()
            .is_none()
    );
}

/// A new challenge replaces the same user's challenge of the same purpose only; an id held by
/// another user's challenge is a conflict.
pub async fn create_replaces_same_purpose(store: SharedStore) {
    let (user, other) = (unique("ch-replace"), unique("ch-replace-other"));
    let t = base();
    let first = challenge(&user, "login", t, 3);
    let enrol = challenge(&user, "enrol", t, 3);
    let others = challenge(&other, "login", t, 3);
    for c in [&first, &enrol, &others] {
        store.create_challenge(c.clone()).await.unwrap();
    }
    let second = challenge(&user, "login", t + secs(1), 3);
    store.create_challenge(second.clone()).await.unwrap();

    assert!(
        store.challenge(&first.id, t).await.unwrap().is_none(),
        "replaced by the new code"
    );
    for c in [&second, &enrol, &others] {
        assert!(
            store.challenge(&c.id, t + secs(1)).await.unwrap().is_some(),
            "{} stays",
            c.purpose
        );
    }

    let mut thief = challenge(&user, "other", t, 3);
    thief.id.clone_from(&others.id);
    let err = store.create_challenge(thief).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "expected Conflict, got {err:?}"
    );
    let kept = store
        .challenge(&others.id, t)
        .await
        .unwrap()
        .expect("the other user's challenge");
    assert_eq!(kept.user, other);
}

/// 50 concurrent creates for one user and purpose leave exactly one challenge.
pub async fn create_race_leaves_one(store: SharedStore) {
    let user = unique("ch-create-race");
    let t = base();
    let all: Vec<Challenge> = (0..CONCURRENCY)
        .map(|_| challenge(&user, "login", t, 3))
        .collect();
    let ids: Vec<String> = all.iter().map(|c| c.id.clone()).collect();
    race(CONCURRENCY, |i| {
        let (store, c) = (store.clone(), all[i].clone());
        async move { store.create_challenge(c).await.unwrap() }
    })
    .await;
    let mut live = 0;
    for id in &ids {
        if store.challenge(id, t).await.unwrap().is_some() {
            live += 1;
        }
    }
    assert_eq!(live, 1, "challenges left for one user and purpose");
}

/// Each attempt spends a try and returns the digests; then the refusals, in order.
pub async fn spend_attempt_counts_down(store: SharedStore) {
    let user = unique("ch-spend");
    let t = base();
    let c = challenge(&user, "login", t, 3);
    store.create_challenge(c.clone()).await.unwrap();
    for expected in [2, 1, 0] {
        let outcome = store.spend_attempt(&c.id, t + secs(1)).await.unwrap();
        let (left, got) =
            spent(&outcome).unwrap_or_else(|| panic!("expected Spent, got {outcome:?}"));
        assert_eq!((left, got.attempts_left), (expected, expected));
        assert_eq!(
            bytes(got.code_digest.as_ref()),
            bytes(c.code_digest.as_ref())
        );
    }
    for _ in 0..2 {
        let outcome = store.spend_attempt(&c.id, t + secs(1)).await.unwrap();
        assert!(
            matches!(outcome, AttemptOutcome::Exhausted),
            "got {outcome:?}"
        );
    }
    assert_eq!(
        store
            .challenge(&c.id, t)
            .await
            .unwrap()
            .unwrap()
            .attempts_left,
        0
    );

    let missing = store.spend_attempt(&unique("ch-none"), t).await.unwrap();
    assert!(
        matches!(missing, AttemptOutcome::NotFound),
        "got {missing:?}"
    );

    let late = challenge(&user, "late", t, 3);
    store.create_challenge(late.clone()).await.unwrap();
    let outcome = store
        .spend_attempt(&late.id, late.expires_at)
        .await
        .unwrap();
    assert!(
        matches!(outcome, AttemptOutcome::Expired),
        "got {outcome:?}"
    );
    let untouched = store.challenge(&late.id, t).await.unwrap().unwrap();
    assert_eq!(
        untouched.attempts_left, 3,
        "a refused attempt spends nothing"
    );
}

/// 50 concurrent wrong guesses at a 3-try challenge: exactly 3 are let through to a comparison.
pub async fn spend_attempt_race_bounded(store: SharedStore) {
    let user = unique("ch-spend-race");
    let t = base();
    let c = challenge(&user, "login", t, 3);
    store.create_challenge(c.clone()).await.unwrap();
    let outcomes = race(CONCURRENCY, |_| {
        let (store, id) = (store.clone(), c.id.clone());
        async move { store.spend_attempt(&id, t + secs(1)).await.unwrap() }
    })
    .await;
    let mut left: Vec<u32> = outcomes
        .iter()
        .filter_map(|o| spent(o).map(|(n, _)| n))
        .collect();
    left.sort_unstable();
    assert_eq!(left, [0, 1, 2], "tries handed out, each once");
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, AttemptOutcome::Exhausted))
        .count();
    assert_eq!(
        refused,
        CONCURRENCY - 3,
        "the rest are refused before any comparison"
    );
}

/// Consumption succeeds once; a consumed challenge is refused before comparison.
pub async fn consume_once(store: SharedStore) {
    let user = unique("ch-consume");
    let t = base();
    let c = challenge(&user, "login", t, 3);
    store.create_challenge(c.clone()).await.unwrap();
    assert!(store.consume_challenge(&c.id, t).await.unwrap());
    assert!(
        !store.consume_challenge(&c.id, t).await.unwrap(),
        "consumed already"
    );
    let outcome = store.spend_attempt(&c.id, t).await.unwrap();
    assert!(
        matches!(outcome, AttemptOutcome::Consumed),
        "got {outcome:?}"
    );
    assert!(store.challenge(&c.id, t).await.unwrap().unwrap().consumed);

    let late = challenge(&user, "late", t, 3);
    store.create_challenge(late.clone()).await.unwrap();
    assert!(
        !store
            .consume_challenge(&late.id, late.expires_at)
            .await
            .unwrap(),
        "expired"
    );
    assert!(
        !store
            .consume_challenge(&unique("ch-none"), t)
            .await
            .unwrap()
    );
}

/// A challenge consumed by 50 tasks at once is consumed once.
pub async fn consume_race_once(store: SharedStore) {
    let user = unique("ch-consume-race");
    let t = base();
    let c = challenge(&user, "login", t, 3);
    store.create_challenge(c.clone()).await.unwrap();
    let results = race(CONCURRENCY, |_| {
        let (store, id) = (store.clone(), c.id.clone());
        async move { store.consume_challenge(&id, t).await.unwrap() }
    })
    .await;
    assert_eq!(
        results.iter().filter(|&&won| won).count(),
        1,
        "consumptions that succeeded"
    );
}

/// A resend replaces the code and expiry under the same id and keeps the tries left.
pub async fn replace_code_keeps_id_and_tries(store: SharedStore) {
    let user = unique("ch-resend");
    let t = base();
    let mut c = challenge(&user, "login", t, 3);
    c.kind = ChallengeKind::LoginTicket;
    c.code_digest = None;
    store.create_challenge(c.clone()).await.unwrap();
    assert!(spent(&store.spend_attempt(&c.id, t).await.unwrap()).is_some());

    let fresh = digest();
    let fresh_bytes = *fresh.as_bytes();
    assert!(
        store
            .replace_challenge_code(
                &c.id,
                ChallengeKind::SmsCode,
                fresh,
                t + secs(900),
                t + secs(10)
            )
            .await
            .unwrap()
    );
    let outcome = store.spend_attempt(&c.id, t + secs(700)).await.unwrap();
    let (left, got) = spent(&outcome).unwrap_or_else(|| panic!("expected Spent, got {outcome:?}"));
    assert_eq!(left, 1, "the resend granted no new tries");
    assert_eq!(bytes(got.code_digest.as_ref()), Some(fresh_bytes));
    assert_eq!(got.expires_at, t + secs(900));
    assert_eq!(
        got.kind,
        ChallengeKind::SmsCode,
        "the kind records the channel"
    );

    assert!(store.consume_challenge(&c.id, t + secs(20)).await.unwrap());
    assert!(
        !store
            .replace_challenge_code(
                &c.id,
                ChallengeKind::EmailCode,
                digest(),
                t + secs(900),
                t + secs(30)
            )
            .await
            .unwrap(),
        "consumed"
    );
    let late = challenge(&user, "late", t, 3);
    store.create_challenge(late.clone()).await.unwrap();
    assert!(
        !store
            .replace_challenge_code(
                &late.id,
                ChallengeKind::EmailCode,
                digest(),
                t + secs(900),
                late.expires_at
            )
            .await
            .unwrap(),
        "expired"
    );
}

/// Delete removes one challenge; purge removes the expired ones and keeps the live ones.
pub async fn delete_and_purge(store: SharedStore) {
    let user = unique("ch-purge");
    let now = base();
    let live = challenge(&user, "live", now, 3);
    // Expired in real time already, so purging at the real now cannot touch other checks' data.
    let past = now - secs(7200);
    let mut old = challenge(&user, "old", past, 3);
    old.expires_at = now - secs(3600);
    store.create_challenge(live.clone()).await.unwrap();
    store.create_challenge(old.clone()).await.unwrap();

    store.purge_expired_challenges(now).await.unwrap();
    assert!(
        store.challenge(&old.id, past).await.unwrap().is_none(),
        "the expired challenge is gone"
    );
    assert!(
        store.challenge(&live.id, now).await.unwrap().is_some(),
        "the live one stays"
    );

    assert!(store.delete_challenge(&live.id).await.unwrap());
    assert!(store.challenge(&live.id, now).await.unwrap().is_none());
    assert!(!store.delete_challenge(&live.id).await.unwrap());
}

/// Revoking a user's challenges removes every one of them, whatever the purpose, and leaves
/// other users' challenges alone; a revoked challenge can be neither spent nor consumed.
pub async fn revoke_user_challenges_removes_all(store: SharedStore) {
    let (user, other) = (unique("ch-revoke"), unique("ch-revoke-other"));
    let t = base();
    let mine: Vec<Challenge> = ["login|a", "login|b", "enrol-email", "step-up"]
        .into_iter()
        .map(|purpose| challenge(&user, purpose, t, 3))
        .collect();
    for c in &mine {
        store.create_challenge(c.clone()).await.unwrap();
    }
    let theirs = challenge(&other, "login|a", t, 3);
    store.create_challenge(theirs.clone()).await.unwrap();

    assert_eq!(store.revoke_user_challenges(&user).await.unwrap(), 4);
    for c in &mine {
        assert!(store.challenge(&c.id, t).await.unwrap().is_none());
        assert!(matches!(
            store.spend_attempt(&c.id, t).await.unwrap(),
            AttemptOutcome::NotFound
        ));
        assert!(!store.consume_challenge(&c.id, t).await.unwrap());
    }
    assert!(store.challenge(&theirs.id, t).await.unwrap().is_some());
    assert_eq!(store.revoke_user_challenges(&user).await.unwrap(), 0);
    // The purposes are free again.
    let again = challenge(&user, "login|a", t, 3);
    store.create_challenge(again.clone()).await.unwrap();
    assert!(store.challenge(&again.id, t).await.unwrap().is_some());
}
