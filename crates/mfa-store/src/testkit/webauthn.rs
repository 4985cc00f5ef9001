//! Checks of [`WebAuthnStore`](crate::WebAuthnStore).
//!
//! A store that keeps the provided methods (it answers [`StoreError::Unsupported`]) refuses
//! WebAuthn as a whole; these checks then pass without testing anything, and say so.

use std::time::SystemTime;

use super::{CONCURRENCY, SharedStore, base, race, secs, unique};
use crate::{CeremonyKind, StoreError, WebAuthnCeremony, WebAuthnCredential, WebAuthnUse};

/// Whether the store keeps WebAuthn credentials at all.
// The kit reports to the test's output, as a failing assertion would.
#[allow(clippy::print_stderr)]
async fn supported(store: &SharedStore) -> bool {
    match store.webauthn_credentials(&unique("wa-probe")).await {
        Err(StoreError::Unsupported(_)) => {
            eprintln!("mfa-store kit: the store does not support WebAuthn; check skipped");
            false
        }
        Err(e) => panic!("listing credentials failed: {e}"),
        Ok(_) => true,
    }
}

/// 32 random bytes: a credential id as authenticators make them.
fn random_id() -> Vec<u8> {
    let mut bytes = vec![0_u8; 32];
    getrandom::fill(&mut bytes).expect("the OS RNG works");
    bytes
}

/// A new credential of `user` with record id `id` and a random credential id.
fn credential(user: &str, id: &str, at: SystemTime) -> WebAuthnCredential {
    WebAuthnCredential {
        user: user.to_owned(),
        id: id.to_owned(),
        rp_id: "kit.example".to_owned(),
        credential_id: random_id(),
        label: format!("key {id}"),
        credential: br#"{"cred":"opaque"}"#.to_vec(),
        sign_count: 0,
        backup_eligible: false,
        backup_state: false,
        use_count: 0,
        created_at: at,
        last_used_at: None,
    }
}

/// A use of a credential read with `expected` uses, bringing the counter to `count`.
fn used(expected: u64, count: u32, at: SystemTime) -> WebAuthnUse {
    WebAuthnUse {
        expected_use_count: expected,
        sign_count: count,
        backup_eligible: true,
        backup_state: true,
        credential: format!("{{\"counter\":{count}}}").into_bytes(),
        at,
    }
}

fn ceremony(user: &str, id: &str, kind: CeremonyKind, expires_at: SystemTime) -> WebAuthnCeremony {
    WebAuthnCeremony {
        id: id.to_owned(),
        user: user.to_owned(),
        kind,
        state: format!("state of {id}").into_bytes(),
        created_at: base(),
        expires_at,
    }
}

/// Credentials are listed oldest first with every field as stored, renamed and removed by
/// their record id.
pub async fn credential_add_list_rename_remove(store: SharedStore) {
    if !supported(&store).await {
        return;
    }
    let user = unique("wa-crud");
    let (first, second) = (
        credential(&user, "b", base()),
        credential(&user, "a", base() + secs(1)),
    );
    store.add_webauthn_credential(second.clone()).await.unwrap();
    store.add_webauthn_credential(first.clone()).await.unwrap();
    let listed = store.webauthn_credentials(&user).await.unwrap();
    assert_eq!(listed, vec![first.clone(), second.clone()], "oldest first");

    assert!(
        store
            .rename_webauthn_credential(&user, "a", "Laptop")
            .await
            .unwrap()
    );
    assert!(
        !store
            .rename_webauthn_credential(&user, "zz", "x")
            .await
            .unwrap()
    );
    let listed = store.webauthn_credentials(&user).await.unwrap();
    assert_eq!(listed[1].label, "Laptop");
    assert_eq!(
        listed[1].credential_id, second.credential_id,
        "only the label changed"
    );

    assert!(store.remove_webauthn_credential(&user, "b").await.unwrap());
    assert!(
        !store.remove_webauthn_credential(&user, "b").await.unwrap(),
        "gone already"
    );
    let listed = store.webauthn_credentials(&user).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, "a");
}

/// A credential id is registered once per relying party, across users; another relying party
/// may hold the same id; a record id is unique per user. A refused add changes nothing.
pub async fn credential_id_unique_per_relying_party(store: SharedStore) {
    if !supported(&store).await {
        return;
    }
    let (alice, mallory) = (unique("wa-uniq-a"), unique("wa-uniq-m"));
    let original = credential(&alice, "k1", base());
    store
        .add_webauthn_credential(original.clone())
        .await
        .unwrap();

    let mut stolen = credential(&mallory, "k1", base());
    stolen.credential_id.clone_from(&original.credential_id);
    assert!(
        matches!(
            store.add_webauthn_credential(stolen.clone()).await,
            Err(StoreError::Conflict(_))
        ),
        "the same credential id for the same relying party, another user"
    );
    assert!(
        store
            .webauthn_credentials(&mallory)
            .await
            .unwrap()
            .is_empty()
    );

    let mut elsewhere = stolen;
    elsewhere.rp_id = "other.example".to_owned();
    store.add_webauthn_credential(elsewhere).await.unwrap();

    let same_record = credential(&alice, "k1", base());
    assert!(
        matches!(
            store.add_webauthn_credential(same_record).await,
            Err(StoreError::Conflict(_))
        ),
        "a record id the user has"
    );
    assert_eq!(
        store.webauthn_credentials(&alice).await.unwrap(),
        vec![original]
    );
}

/// One credential id added by 50 users at once is registered to exactly one.
pub async fn credential_add_race_once(store: SharedStore) {
    if !supported(&store).await {
        return;
    }
    let id = random_id();
    let users: Vec<String> = (0..CONCURRENCY).map(|_| unique("wa-race-add")).collect();
    let results = race(CONCURRENCY, |i| {
        let store = store.clone();
        let mut c = credential(&users[i], "k", base());
        c.credential_id.clone_from(&id);
        async move { store.add_webauthn_credential(c).await }
    })
    .await;
    let added = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
        .count();
    assert_eq!((added, conflicts), (1, CONCURRENCY - 1));
}

/// A use is recorded only against the use count it was read with: counter, flags, credential
/// and last use replaced, the count incremented; a stale or missing one changes nothing.
pub async fn use_compare_and_set(store: SharedStore) {
    if !supported(&store).await {
        return;
    }
    let user = unique("wa-cas");
    store
        .add_webauthn_credential(credential(&user, "k", base()))
        .await
        .unwrap();
    let at = base() + secs(5);
    assert!(
        store
            .record_webauthn_use(&user, "k", used(0, 7, at))
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_webauthn_use(&user, "k", used(0, 8, at))
            .await
            .unwrap(),
        "read before the first use: stale"
    );
    assert!(
        !store
            .record_webauthn_use(&user, "nope", used(1, 8, at))
            .await
            .unwrap()
    );
    let c = &store.webauthn_credentials(&user).await.unwrap()[0];
    assert_eq!((c.sign_count, c.use_count), (7, 1));
    assert!(c.backup_eligible && c.backup_state);
    assert_eq!(c.credential, br#"{"counter":7}"#.to_vec());
    assert_eq!(c.last_used_at, Some(at));
    assert!(
        store
            .record_webauthn_use(&user, "k", used(1, 8, at))
            .await
            .unwrap()
    );
}

/// Fifty uses verified against the same read are recorded exactly once.
pub async fn use_race_once(store: SharedStore) {
    if !supported(&store).await {
        return;
    }
    let user = unique("wa-race-use");
    store
        .add_webauthn_credential(credential(&user, "k", base()))
        .await
        .unwrap();
    let results = race(CONCURRENCY, |_| {
        let (store, user) = (store.clone(), user.clone());
        async move {
            store
                .record_webauthn_use(&user, "k", used(0, 1, base()))
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1);
    let c = &store.webauthn_credentials(&user).await.unwrap()[0];
    assert_eq!((c.sign_count, c.use_count), (1, 1));
}

/// Another user's credentials and ceremonies are out of reach by record id.
pub async fn users_are_separate(store: SharedStore) {
    if !supported(&store).await {
        return;
    }
    let (alice, bob) = (unique("wa-sep-a"), unique("wa-sep-b"));
    let key = credential(&alice, "k", base());
    store.add_webauthn_credential(key.clone()).await.unwrap();
    store
        .put_webauthn_ceremony(ceremony(
            &alice,
            "c",
            CeremonyKind::Authentication,
            base() + secs(600),
        ))
        .await
        .unwrap();
    assert!(store.webauthn_credentials(&bob).await.unwrap().is_empty());
    assert!(
        !store
            .rename_webauthn_credential(&bob, "k", "mine")
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_webauthn_use(&bob, "k", used(0, 1, base()))
            .await
            .unwrap()
    );
    assert!(!store.remove_webauthn_credential(&bob, "k").await.unwrap());
    assert!(
        store
            .take_webauthn_ceremony(&bob, "c", CeremonyKind::Authentication, base())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.webauthn_credentials(&alice).await.unwrap(), vec![key]);
    assert!(
        store
            .take_webauthn_ceremony(&alice, "c", CeremonyKind::Authentication, base())
            .await
            .unwrap()
            .is_some(),
        "bob's attempts left alice's ceremony in place"
    );
}

/// A ceremony is taken once, whole; a take of the wrong kind leaves it; an expired one is gone.
pub async fn ceremony_taken_once(store: SharedStore) {
    if !supported(&store).await {
        return;
    }
    let user = unique("wa-cer");
    let live = ceremony(&user, "r", CeremonyKind::Registration, base() + secs(600));
    store.put_webauthn_ceremony(live.clone()).await.unwrap();
    let take = |kind, now| {
        let (store, user) = (store.clone(), user.clone());
        async move {
            store
                .take_webauthn_ceremony(&user, "r", kind, now)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        take(CeremonyKind::Authentication, base()).await,
        None,
        "another kind"
    );
    assert_eq!(take(CeremonyKind::Registration, base()).await, Some(live));
    assert_eq!(
        take(CeremonyKind::Registration, base()).await,
        None,
        "taken already"
    );

    let expiring = ceremony(&user, "r", CeremonyKind::Registration, base() + secs(600));
    store.put_webauthn_ceremony(expiring).await.unwrap();
    assert_eq!(
        take(CeremonyKind::Registration, base() + secs(600)).await,
        None,
        "expired at expires_at"
    );
}

/// A ceremony taken by 50 tasks at once is returned to exactly one.
pub async fn ceremony_take_race_once(store: SharedStore) {
    if !supported(&store).await {
        return;
    }
    let user = unique("wa-cer-race");
    store
        .put_webauthn_ceremony(ceremony(
            &user,
            "a",
            CeremonyKind::Authentication,
            base() + secs(600),
        ))
        .await
        .unwrap();
    let results = race(CONCURRENCY, |_| {
        let (store, user) = (store.clone(), user.clone());
        async move {
            store
                .take_webauthn_ceremony(&user, "a", CeremonyKind::Authentication, base())
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(results.iter().filter(|c| c.is_some()).count(), 1);
}

/// A new ceremony with the same id replaces the old one; expired ceremonies are purged (or
/// expire by themselves).
pub async fn ceremony_put_replaces_and_purge(store: SharedStore) {
    if !supported(&store).await {
        return;
    }
    let user = unique("wa-cer-put");
    let old = ceremony(&user, "r", CeremonyKind::Registration, base() + secs(600));
    let mut new = ceremony(&user, "r", CeremonyKind::Registration, base() + secs(900));
    new.state = b"new state".to_vec();
    store.put_webauthn_ceremony(old).await.unwrap();
    store.put_webauthn_ceremony(new.clone()).await.unwrap();
    let taken = store
        .take_webauthn_ceremony(&user, "r", CeremonyKind::Registration, base())
        .await
        .unwrap();
    assert_eq!(taken, Some(new));

    let stale = ceremony(&user, "s", CeremonyKind::Authentication, base() - secs(60));
    store.put_webauthn_ceremony(stale).await.unwrap();
    store
        .purge_expired_webauthn_ceremonies(base())
        .await
        .unwrap();
    assert!(
        store
            .take_webauthn_ceremony(&user, "s", CeremonyKind::Authentication, base() - secs(120))
            .await
            .unwrap()
            .is_none(),
        "purged (or expired by itself), even for a take dated before its expiry"
    );
}
