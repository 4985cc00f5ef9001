//! Checks of [`TotpFactorStore`](crate::TotpFactorStore).

use std::time::SystemTime;

use mfa_core::{Algorithm, Digits, Period};

use super::{CONCURRENCY, SharedStore, base, race, sealed, secs, unique};
use crate::{FactorStatus, NewTotpFactor, StoreError};

fn new_factor(user: &str, id: &str, created_at: SystemTime) -> NewTotpFactor {
    NewTotpFactor {
        user: user.to_owned(),
        id: id.to_owned(),
        sealed_secret: sealed(user, id),
        algorithm: Algorithm::Sha256,
        digits: Digits::EIGHT,
        period: Period::from_secs(60).unwrap(),
        label: "Phone".to_owned(),
        created_at,
    }
}

/// A confirmed factor `id` of `user` whose last used step is `step`.
async fn confirmed(store: &SharedStore, user: &str, id: &str, step: u64) {
    store
        .insert_pending_totp(new_factor(user, id, base()))
        .await
        .unwrap();
    assert!(
        store.confirm_totp(user, id, step, base()).await.unwrap(),
        "confirming a pending factor"
    );
}

/// An inserted factor reads back field for field, as pending with no used step; other ids and
/// users see nothing.
pub async fn insert_pending_and_get(store: SharedStore) {
    let user = unique("totp-get");
    let t = base();
    let new = new_factor(&user, "f1", t);
    let blob = new.sealed_secret.as_bytes().to_vec();
    store.insert_pending_totp(new).await.unwrap();

    let got = store
        .totp_factor(&user, "f1")
        .await
        .unwrap()
        .expect("the inserted factor");
    assert_eq!((got.user.as_str(), got.id.as_str()), (user.as_str(), "f1"));
    assert_eq!(
        got.sealed_secret.as_bytes(),
        blob.as_slice(),
        "sealed blob kept byte for byte"
    );
    assert_eq!(got.algorithm, Algorithm::Sha256);
    assert_eq!(got.digits, Digits::EIGHT);
    assert_eq!(got.period.as_secs(), 60);
    assert_eq!(got.label, "Phone");
    assert_eq!(got.status, FactorStatus::Pending);
    assert_eq!(got.last_used_step, None);
    assert_eq!(got.created_at, t);

    assert!(store.totp_factor(&user, "f2").await.unwrap().is_none());
    assert!(
        store
            .totp_factor(&unique("totp-get-other"), "f1")
            .await
            .unwrap()
            .is_none()
    );
    let all = store.totp_factors(&user).await.unwrap();
    assert_eq!(
        all.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        ["f1"]
    );
}

/// A new pending factor replaces the user's pending one, never a confirmed one; reusing a
/// confirmed factor's id is a conflict that changes nothing.
pub async fn insert_replaces_pending_only(store: SharedStore) {
    let user = unique("totp-replace");
    let t = base();
    store
        .insert_pending_totp(new_factor(&user, "f1", t))
        .await
        .unwrap();
    assert!(store.confirm_totp(&user, "f1", 10, base()).await.unwrap());
    store
        .insert_pending_totp(new_factor(&user, "f2", t + secs(1)))
        .await
        .unwrap();
    store
        .insert_pending_totp(new_factor(&user, "f3", t + secs(2)))
        .await
        .unwrap();

    let all = store.totp_factors(&user).await.unwrap();
    let summary: Vec<_> = all.iter().map(|f| (f.id.as_str(), f.status)).collect();
    assert_eq!(
        summary,
        [
            ("f1", FactorStatus::Confirmed),
            ("f3", FactorStatus::Pending)
        ]
    );

    let err = store
        .insert_pending_totp(new_factor(&user, "f1", t + secs(3)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "expected Conflict, got {err:?}"
    );
    let f1 = store
        .totp_factor(&user, "f1")
        .await
        .unwrap()
        .expect("f1 stays");
    assert_eq!(
        (f1.status, f1.last_used_step),
        (FactorStatus::Confirmed, Some(10))
    );
    assert!(
        store.totp_factor(&user, "f3").await.unwrap().is_some(),
        "f3 stays after a conflict"
    );
}

/// Confirmation works once, on a pending factor, and records the activation step and time.
pub async fn confirm_only_if_pending(store: SharedStore) {
    let user = unique("totp-confirm");
    let t = base();
    assert!(
        !store.confirm_totp(&user, "f1", 1, t).await.unwrap(),
        "no factor to confirm"
    );
    store
        .insert_pending_totp(new_factor(&user, "f1", t))
        .await
        .unwrap();
    let pending = store.totp_factor(&user, "f1").await.unwrap().unwrap();
    assert_eq!(pending.confirmed_at, None, "not confirmed while pending");
    assert!(
        store
            .confirm_totp(&user, "f1", 100, t + secs(42))
            .await
            .unwrap()
    );
    let f = store.totp_factor(&user, "f1").await.unwrap().unwrap();
    assert_eq!(
        (f.status, f.last_used_step, f.confirmed_at),
        (FactorStatus::Confirmed, Some(100), Some(t + secs(42)))
    );
    assert!(
        !store
            .confirm_totp(&user, "f1", 200, t + secs(50))
            .await
            .unwrap(),
        "confirmed already"
    );
    let f = store.totp_factor(&user, "f1").await.unwrap().unwrap();
    assert_eq!(
        f.last_used_step,
        Some(100),
        "a refused confirmation changes nothing"
    );
}

/// 50 concurrent confirmations of one pending factor: exactly one succeeds.
pub async fn confirm_race_once(store: SharedStore) {
    let user = unique("totp-confirm-race");
    store
        .insert_pending_totp(new_factor(&user, "f1", base()))
        .await
        .unwrap();
    let results = race(CONCURRENCY, |i| {
        let (store, user) = (store.clone(), user.clone());
        async move {
            store
                .confirm_totp(&user, "f1", 1000 + i as u64, base())
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|&&won| won).count(),
        1,
        "confirmations that succeeded"
    );
}

/// The last used step only moves forward, only on a confirmed factor, per factor.
pub async fn advance_step_only_forward(store: SharedStore) {
    let user = unique("totp-advance");
    let other = unique("totp-advance-other");
    store
        .insert_pending_totp(new_factor(&user, "f1", base()))
        .await
        .unwrap();
    assert!(
        !store.advance_totp_step(&user, "f1", 5).await.unwrap(),
        "a pending factor"
    );
    assert!(store.confirm_totp(&user, "f1", 10, base()).await.unwrap());
    confirmed(&store, &other, "f1", 10).await;

    for (step, accepted) in [
        (10, false),
        (9, false),
        (11, true),
        (11, false),
        (20, true),
        (15, false),
    ] {
        let got = store.advance_totp_step(&user, "f1", step).await.unwrap();
        assert_eq!(got, accepted, "advance to step {step}");
    }
    assert_eq!(
        store
            .totp_factor(&user, "f1")
            .await
            .unwrap()
            .unwrap()
            .last_used_step,
        Some(20)
    );
    assert_eq!(
        store
            .totp_factor(&other, "f1")
            .await
            .unwrap()
            .unwrap()
            .last_used_step,
        Some(10)
    );
    assert!(
        !store.advance_totp_step(&user, "nope", 30).await.unwrap(),
        "no such factor"
    );
}

/// One valid step submitted by 50 tasks at once advances exactly once (replay refusal).
pub async fn advance_step_race_once(store: SharedStore) {
    let user = unique("totp-race");
    confirmed(&store, &user, "f1", 1000).await;
    let results = race(CONCURRENCY, |_| {
        let (store, user) = (store.clone(), user.clone());
        async move { store.advance_totp_step(&user, "f1", 1001).await.unwrap() }
    })
    .await;
    assert_eq!(
        results.iter().filter(|&&won| won).count(),
        1,
        "submissions of one step accepted"
    );
    assert_eq!(
        store
            .totp_factor(&user, "f1")
            .await
            .unwrap()
            .unwrap()
            .last_used_step,
        Some(1001)
    );
}

/// Re-sealing is a compare-and-swap on the old blob that keeps status and step.
pub async fn replace_secret_compare_and_swap(store: SharedStore) {
    let user = unique("totp-reseal");
    confirmed(&store, &user, "f1", 7).await;
    let old = store
        .totp_factor(&user, "f1")
        .await
        .unwrap()
        .unwrap()
        .sealed_secret;
    let (first, second) = (sealed(&user, "f1"), sealed(&user, "f1"));

    let stranger = sealed(&user, "f1");
    assert!(
        !store
            .replace_totp_secret(&user, "f1", &stranger, first.clone())
            .await
            .unwrap()
    );
    let kept = store.totp_factor(&user, "f1").await.unwrap().unwrap();
    assert_eq!(
        kept.sealed_secret.as_bytes(),
        old.as_bytes(),
        "a wrong expected blob changes nothing"
    );

    assert!(
        store
            .replace_totp_secret(&user, "f1", &old, first.clone())
            .await
            .unwrap()
    );
    let now = store.totp_factor(&user, "f1").await.unwrap().unwrap();
    assert_eq!(now.sealed_secret.as_bytes(), first.as_bytes());
    assert_eq!(
        (now.status, now.last_used_step),
        (FactorStatus::Confirmed, Some(7))
    );

    assert!(
        !store
            .replace_totp_secret(&user, "f1", &old, second)
            .await
            .unwrap(),
        "stale blob"
    );
    assert!(
        !store
            .replace_totp_secret(&user, "f9", &first, sealed(&user, "f9"))
            .await
            .unwrap()
    );
}

/// A deleted factor is gone; deleting twice reports it.
pub async fn delete_factor(store: SharedStore) {
    let user = unique("totp-delete");
    confirmed(&store, &user, "f1", 1).await;
    assert!(store.delete_totp(&user, "f1").await.unwrap());
    assert!(store.totp_factor(&user, "f1").await.unwrap().is_none());
    assert!(store.totp_factors(&user).await.unwrap().is_empty());
    assert!(!store.delete_totp(&user, "f1").await.unwrap());
}
