//! Checks of [`RecoveryCodeStore`](crate::RecoveryCodeStore).

use mfa_core::{CodeDigest, RecoveryVerifier};

use super::{CONCURRENCY, SharedStore, base, digest, race, unique};
use crate::{RecoveryCodeRecord, StoreError};

/// `n` codes with random locators and peppered verifiers.
fn codes(n: usize) -> Vec<RecoveryCodeRecord> {
    (0..n)
        .map(|_| RecoveryCodeRecord {
            locator: digest(),
            verifier: RecoveryVerifier::Peppered(digest()),
        })
        .collect()
}

async fn found(store: &SharedStore, user: &str, locator: &CodeDigest) -> Option<String> {
    store
        .find_recovery_code(user, locator)
        .await
        .unwrap()
        .map(|v| v.encode())
}

/// Every code is found by its locator with its verifier, is consumed once, and counts down.
pub async fn replace_find_consume(store: SharedStore) {
    let user = unique("rc-use");
    let set = codes(10);
    store
        .replace_recovery_codes(&user, set.clone(), base())
        .await
        .unwrap();
    assert_eq!(store.remaining_recovery_codes(&user).await.unwrap(), 10);
    for code in &set {
        assert_eq!(
            found(&store, &user, &code.locator).await,
            Some(code.verifier.encode())
        );
    }
    assert_eq!(
        found(&store, &user, &digest()).await,
        None,
        "an unknown locator"
    );

    let first = &set[0].locator;
    assert!(store.consume_recovery_code(&user, first).await.unwrap());
    assert!(
        !store.consume_recovery_code(&user, first).await.unwrap(),
        "used already"
    );
    assert_eq!(
        found(&store, &user, first).await,
        None,
        "a used code is not found"
    );
    assert_eq!(store.remaining_recovery_codes(&user).await.unwrap(), 9);
    assert!(!store.consume_recovery_code(&user, &digest()).await.unwrap());
}

/// A new set replaces the old one entirely; a set with a duplicate locator is refused and
/// leaves the current set as it was.
pub async fn replace_discards_old_set(store: SharedStore) {
    let user = unique("rc-replace");
    let (old, new) = (codes(3), codes(2));
    store
        .replace_recovery_codes(&user, old.clone(), base())
        .await
        .unwrap();
    store
        .replace_recovery_codes(&user, new.clone(), base())
        .await
        .unwrap();
    for code in &old {
        assert_eq!(
            found(&store, &user, &code.locator).await,
            None,
            "an old code"
        );
    }
    for code in &new {
        assert!(
            found(&store, &user, &code.locator).await.is_some(),
            "a new code"
        );
    }
    assert_eq!(store.remaining_recovery_codes(&user).await.unwrap(), 2);

    let mut bad = codes(3);
    bad[2].locator = bad[0].locator.clone();
    let err = store
        .replace_recovery_codes(&user, bad, base())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "expected Conflict, got {err:?}"
    );
    assert_eq!(
        store.remaining_recovery_codes(&user).await.unwrap(),
        2,
        "the set is unchanged"
    );
    assert!(found(&store, &user, &new[0].locator).await.is_some());

    store
        .replace_recovery_codes(&user, Vec::new(), base())
        .await
        .unwrap();
    assert_eq!(store.remaining_recovery_codes(&user).await.unwrap(), 0);
}

/// One user's codes are invisible to another, even under the same locator.
pub async fn users_are_separate(store: SharedStore) {
    let (alice, bob) = (unique("rc-alice"), unique("rc-bob"));
    let shared_locator = digest();
    let a = RecoveryCodeRecord {
        locator: shared_locator.clone(),
        verifier: RecoveryVerifier::Peppered(digest()),
    };
    let b = RecoveryCodeRecord {
        locator: shared_locator.clone(),
        verifier: RecoveryVerifier::Peppered(digest()),
    };
    store
        .replace_recovery_codes(&alice, vec![a.clone()], base())
        .await
        .unwrap();
    store
        .replace_recovery_codes(&bob, vec![b.clone()], base())
        .await
        .unwrap();
    assert_eq!(
        found(&store, &alice, &shared_locator).await,
        Some(a.verifier.encode())
    );
    assert_eq!(
        found(&store, &bob, &shared_locator).await,
        Some(b.verifier.encode())
    );
    assert!(
        store
            .consume_recovery_code(&alice, &shared_locator)
            .await
            .unwrap()
    );
    assert_eq!(
        found(&store, &bob, &shared_locator).await,
        Some(b.verifier.encode()),
        "bob's stays"
    );
    assert_eq!(store.remaining_recovery_codes(&bob).await.unwrap(), 1);
    assert_eq!(
        store
            .remaining_recovery_codes(&unique("rc-nobody"))
            .await
            .unwrap(),
        0
    );
}

/// One recovery code consumed by 50 tasks at once works once.
pub async fn consume_race_once(store: SharedStore) {
    let user = unique("rc-race");
    let set = codes(10);
    store
        .replace_recovery_codes(&user, set.clone(), base())
        .await
        .unwrap();
    let results = race(CONCURRENCY, |_| {
        let (store, user, locator) = (store.clone(), user.clone(), set[4].locator.clone());
        async move { store.consume_recovery_code(&user, &locator).await.unwrap() }
    })
    .await;
    assert_eq!(
        results.iter().filter(|&&won| won).count(),
        1,
        "uses of one code that succeeded"
    );
    assert_eq!(store.remaining_recovery_codes(&user).await.unwrap(), 9);
}
