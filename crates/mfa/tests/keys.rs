//! Sealing keys at the facade: rotation re-seals every factor once, and a factor whose key is
//! gone fails closed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use mfa::Clock as _;
use mfa::core::Algorithm;
use mfa::{Error, Keyring, Policy, Proof, SealingKey, Store, TotpOptions, VerifyOptions};

fn key(byte: u8) -> SealingKey {
    SealingKey::from_bytes(&[byte; 32]).unwrap()
}

/// A second facade over the same store and clock, with another keyring: what a deployment
/// looks like after an operator changed the keys.
fn with_keyring(h: &Harness, keyring: Keyring) -> Harness {
    let clock = h.clock.clone();
    let mut other = build(h.store.clone(), Policy::authenticator_setup(), false, |b| {
        b.keyring(keyring).clock(Arc::new(clock.clone()))
    });
    other.clock = clock;
    other
}

async fn sealed_key_id(store: &Arc<dyn Store>, user: &str) -> u32 {
    store.totp_factors(user).await.unwrap()[0]
        .sealed_secret
        .key_id()
}

/// `rotate_keys` re-seals under the current key once (then reports the factor as current),
/// the re-sealed secret opens with the new key alone, and the old key alone no longer opens it:
/// the login fails with an error, never a grant.
async fn rotation_reseals_once_and_old_key_fails_closed(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("rk", TotpOptions::new()).await;
    assert_eq!(sealed_key_id(&h.store, "rk").await, 1);

    let rotated = with_keyring(
        &h,
        Keyring::new(1, key(0x11))
            .with_current(2, key(0x22))
            .unwrap(),
    );
    let report = rotated.mfa.rotate_keys(&["rk", "nobody"]).await.unwrap();
    assert_eq!((report.resealed, report.current, report.raced), (1, 0, 0));
    assert_eq!(sealed_key_id(&h.store, "rk").await, 2);
    let again = rotated.mfa.rotate_keys(&["rk"]).await.unwrap();
    assert_eq!((again.resealed, again.current), (0, 1), "idempotent");

    // Only the new key: the factor still verifies.
    let new_only = with_keyring(&h, Keyring::new(2, key(0x22)));
    h.advance(30);
    let id = new_only.login("rk").await;
    let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
    let ok = new_only
        .mfa
        .verify(&id, Proof::Totp(&code), &client(), VerifyOptions::new())
        .await
        .unwrap();
    assert!(ok.is_verified(), "{ok:?}");

    // Only the old key: the sealed secret cannot be opened; an error, nothing granted.
    let old_only = with_keyring(&h, Keyring::new(1, key(0x11)));
    h.advance(30);
    let id = old_only.login("rk").await;
    let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
    let denied = old_only
        .mfa
        .verify(&id, Proof::Totp(&code), &client(), VerifyOptions::new())
        .await;
    assert!(
        matches!(denied, Err(Error::Crypto(_))),
        "a missing key fails closed: {denied:?}"
    );
}

scenarios!([memory, sqlite, postgres, mysql, redis, redis_cluster]: { rotation_reseals_once_and_old_key_fails_closed });

/// The background purge deletes expired challenges on its interval, without being asked.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn purge_task_deletes_expired_records_on_its_interval() {
    use mfa::store::MemoryStore;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let h = harness(store.clone(), Policy::authenticator_setup());
    let (_secret, _) = h.enrol_totp("pt", TotpOptions::new()).await;
    let id = h.login("pt").await;
    let text = id.expose().to_string();
    let pepper = mfa::Pepper::from_bytes(&PEPPER).unwrap();
    let digest = pepper.digest_token(
        "mfa/challenge-id",
        "",
        &mfa::core::Token::parse(&text).unwrap(),
    );
    let store_id: String = digest
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // Expired by the facade's clock, still stored: only a purge removes it.
    h.advance(3600);
    let far_past = std::time::SystemTime::UNIX_EPOCH;
    assert!(
        store
            .challenge(&store_id, far_past)
            .await
            .unwrap()
            .is_some()
    );
    let task = tokio::spawn(h.mfa.purge_task(std::time::Duration::from_secs(60)));
    tokio::time::sleep(std::time::Duration::from_secs(61)).await;
    assert!(
        store
            .challenge(&store_id, far_past)
            .await
            .unwrap()
            .is_none(),
        "purged by the task"
    );
    task.abort();
}
