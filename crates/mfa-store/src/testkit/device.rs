//! Checks of [`TrustedDeviceStore`](crate::TrustedDeviceStore).

use std::time::SystemTime;

use super::{CONCURRENCY, SharedStore, base, bytes, digest, race, secs, unique};
use crate::{StoreError, TrustedDevice};

const DAY: u64 = 86_400;

/// A device of `user` trusted at `t` for 30 days.
fn device(user: &str, id: &str, t: SystemTime) -> TrustedDevice {
    TrustedDevice {
        user: user.to_owned(),
        id: id.to_owned(),
        token_digest: digest(),
        label: "Firefox on Linux".to_owned(),
        created_at: t,
        expires_at: t + secs(30 * DAY),
        last_seen: t,
    }
}

/// A device is found by its token digest while live, and each check records when it was seen;
/// duplicate ids and tokens are conflicts.
pub async fn insert_check_and_touch(store: SharedStore) {
    let (user, other) = (unique("dev-check"), unique("dev-check-other"));
    let t = base();
    let d = device(&user, "d1", t);
    store.insert_trusted_device(d.clone()).await.unwrap();

    let seen = store
        .check_and_touch_device(&user, &d.token_digest, t + secs(60))
        .await
        .unwrap();
    let seen = seen.expect("a live device with its token");
    assert_eq!(
        (seen.id.as_str(), seen.label.as_str()),
        ("d1", "Firefox on Linux")
    );
    assert_eq!(
        bytes(Some(&seen.token_digest)),
        bytes(Some(&d.token_digest))
    );
    assert_eq!(
        (seen.created_at, seen.expires_at, seen.last_seen),
        (t, d.expires_at, t + secs(60))
    );
    let listed = store.trusted_devices(&user, t + secs(61)).await.unwrap();
    assert_eq!(
        listed.iter().map(|d| d.last_seen).collect::<Vec<_>>(),
        [t + secs(60)],
        "touched"
    );

    assert!(
        store
            .check_and_touch_device(&user, &digest(), t)
            .await
            .unwrap()
            .is_none(),
        "wrong token"
    );
    assert!(
        store
            .check_and_touch_device(&other, &d.token_digest, t)
            .await
            .unwrap()
            .is_none(),
        "other user"
    );
    assert!(
        store
            .check_and_touch_device(&user, &d.token_digest, d.expires_at)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );

    let same_id = device(&user, "d1", t);
    let err = store.insert_trusted_device(same_id).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "duplicate id: got {err:?}"
    );
    let mut same_token = device(&user, "d2", t);
    same_token.token_digest = d.token_digest.clone();
    let err = store.insert_trusted_device(same_token).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "duplicate token: got {err:?}"
    );
    assert_eq!(store.trusted_devices(&user, t).await.unwrap().len(), 1);
}

/// A rotation swaps the token once: the old one stops working, the new one works.
pub async fn rotate_once(store: SharedStore) {
    let user = unique("dev-rotate");
    let t = base();
    let d = device(&user, "d1", t);
    store.insert_trusted_device(d.clone()).await.unwrap();
    let new = digest();
    let new_copy = new.clone();
    assert!(
        store
            .rotate_device_token(&user, &d.token_digest, new, t + secs(10))
            .await
            .unwrap()
    );
    assert!(
        store
            .check_and_touch_device(&user, &d.token_digest, t + secs(11))
            .await
            .unwrap()
            .is_none()
    );
    let seen = store
        .check_and_touch_device(&user, &new_copy, t + secs(12))
        .await
        .unwrap();
    assert_eq!(seen.map(|s| s.id), Some("d1".to_owned()));
    assert!(
        !store
            .rotate_device_token(&user, &d.token_digest, digest(), t + secs(13))
            .await
            .unwrap(),
        "stale token"
    );
    assert!(
        !store
            .rotate_device_token(&user, &new_copy, digest(), d.expires_at)
            .await
            .unwrap(),
        "expired"
    );
}

/// One token rotated by 50 tasks at once: one rotation wins and only its new token works.
pub async fn rotate_race_once(store: SharedStore) {
    let user = unique("dev-rotate-race");
    let t = base();
    let d = device(&user, "d1", t);
    store.insert_trusted_device(d.clone()).await.unwrap();
    let news: Vec<_> = (0..CONCURRENCY).map(|_| digest()).collect();
    let results = race(CONCURRENCY, |i| {
        let (store, user, old, new) = (
            store.clone(),
            user.clone(),
            d.token_digest.clone(),
            news[i].clone(),
        );
        async move {
            store
                .rotate_device_token(&user, &old, new, t + secs(1))
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|&&won| won).count(),
        1,
        "rotations that succeeded"
    );
    let mut working = 0;
    for new in &news {
        if store
            .check_and_touch_device(&user, new, t + secs(2))
            .await
            .unwrap()
            .is_some()
        {
            working += 1;
        }
    }
    assert_eq!(working, 1, "exactly the winner's token works");
    assert!(
        store
            .check_and_touch_device(&user, &d.token_digest, t + secs(2))
            .await
            .unwrap()
            .is_none()
    );
}

/// Revoking one device or all of a user's leaves the others.
pub async fn revoke_one_and_all(store: SharedStore) {
    let (user, other) = (unique("dev-revoke"), unique("dev-revoke-other"));
    let t = base();
    for (i, id) in ["d1", "d2", "d3"].into_iter().enumerate() {
        store
            .insert_trusted_device(device(&user, id, t + secs(i as u64)))
            .await
            .unwrap();
    }
    store
        .insert_trusted_device(device(&other, "d1", t))
        .await
        .unwrap();

    assert!(store.revoke_device(&user, "d1").await.unwrap());
    assert!(
        !store.revoke_device(&user, "d1").await.unwrap(),
        "revoked already"
    );
    let ids: Vec<String> = store
        .trusted_devices(&user, t)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, ["d2", "d3"], "oldest first");
    assert_eq!(store.revoke_all_devices(&user).await.unwrap(), 2);
    assert!(store.trusted_devices(&user, t).await.unwrap().is_empty());
    assert_eq!(
        store.trusted_devices(&other, t).await.unwrap().len(),
        1,
        "another user's device stays"
    );
}

/// The list holds live devices only; purge removes the expired ones.
pub async fn list_and_purge(store: SharedStore) {
    let user = unique("dev-purge");
    let now = base();
    let past = now - secs(40 * DAY);
    let live = device(&user, "live", now);
    let old = device(&user, "old", past); // expired 10 days ago in real time
    store.insert_trusted_device(live.clone()).await.unwrap();
    store.insert_trusted_device(old.clone()).await.unwrap();

    let ids: Vec<String> = store
        .trusted_devices(&user, now)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, ["live"]);
    store.purge_expired_devices(now).await.unwrap();
    assert!(
        store
            .check_and_touch_device(&user, &old.token_digest, past + secs(1))
            .await
            .unwrap()
            .is_none(),
        "the expired device is gone"
    );
    assert!(
        store
            .check_and_touch_device(&user, &live.token_digest, now)
            .await
            .unwrap()
            .is_some()
    );
}
