//! The data-loss markers: a server restarted empty, markers missing in some slots, a record
//! lost alone, and the explicit one-time initialisation. Whatever was lost reads as
//! `StoreError::DataLoss`, never as "absent" (DESIGN invariant 11).

#![allow(clippy::unwrap_used, clippy::panic, clippy::print_stderr)]

mod common;

use std::fmt::Debug;
use std::time::Duration;

use common::server::RedisServer;
use common::{now, unique};
use mfa_core::{
    Algorithm, CodeDigest, Digits, Keyring, Period, RecoveryVerifier, SealingKey, Secret,
};
use mfa_store::{
    CounterKey, CounterScope, CounterStore, FactorKind, MfaSettings, NewTotpFactor,
    RecoveryCodeRecord, RecoveryCodeStore, SettingsStore, StoreError, TotpFactorStore,
};
use mfa_store_redis::testkit::{config, random_prefix, skip_or_fail, throwaway_store, url};
use mfa_store_redis::{Error, Initialisation, RedisConfig, RedisStore};

fn settings(user: &str) -> MfaSettings {
    let mut settings = MfaSettings::new(user);
    settings.enabled.insert(FactorKind::Totp);
    settings
}

fn factor(user: &str, id: &str) -> NewTotpFactor {
    let keyring = Keyring::new(1, SealingKey::generate().unwrap());
    NewTotpFactor {
        user: user.to_owned(),
        id: id.to_owned(),
        sealed_secret: keyring
            .seal(&Secret::generate().unwrap(), user, id)
            .unwrap(),
        algorithm: Algorithm::Sha1,
        digits: Digits::SIX,
        period: Period::THIRTY_SECONDS,
        label: "Phone".to_owned(),
        created_at: now(),
    }
}

fn assert_data_loss<T: Debug>(what: &str, result: mfa_store::Result<T>) {
    match result {
        Err(StoreError::DataLoss(_)) => {}
        other => panic!("{what}: expected DataLoss, got {other:?}"),
    }
}

/// Runs `op` until it stops failing as unavailable (the connection manager reconnecting after
/// the server went away), at most 50 times.
async fn settled<T, F, Fut>(mut op: F) -> mfa_store::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = mfa_store::Result<T>>,
{
    for _ in 0..50 {
        match op().await {
            Err(StoreError::Unavailable(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
            other => return other,
        }
    }
    op().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_empty_answers_data_loss_never_absent() {
    let test = "a_server_restarted_empty_answers_data_loss_never_absent";
    let Some(mut server) = RedisServer::start(test, &[]).await else {
        return;
    };
    let config = config();
    let store = common::initialised(&server.url(), config.clone()).await;
    let (alice, t) = (unique("alice"), now());
    let key = CounterKey::new("totp", CounterScope::Account(alice.clone()));
    store.put_settings(settings(&alice)).await.unwrap();
    store
        .insert_pending_totp(factor(&alice, "f1"))
        .await
        .unwrap();
    assert!(store.confirm_totp(&alice, "f1", 7, t).await.unwrap());
    let locator = CodeDigest::from_bytes([9; 32]);
    let code = RecoveryCodeRecord {
        locator: locator.clone(),
        verifier: RecoveryVerifier::Peppered(CodeDigest::from_bytes([8; 32])),
    };
    store
        .replace_recovery_codes(&alice, vec![code], t)
        .await
        .unwrap();
    for _ in 0..3 {
        store
            .take_counter(&key, Duration::from_secs(900), 3, t)
            .await
            .unwrap();
    }
    assert!(
        !store
            .take_counter(&key, Duration::from_secs(900), 3, t)
            .await
            .unwrap()
            .is_taken()
    );

    server.restart_empty().await;

    assert_data_loss("settings", settled(|| store.settings(&alice)).await);
    assert_data_loss(
        "settings of a user never enrolled",
        store.settings(&unique("bob")).await,
    );
    assert_data_loss("totp_factors", store.totp_factors(&alice).await);
    assert_data_loss("totp_factor", store.totp_factor(&alice, "f1").await);
    assert_data_loss(
        "find_recovery_code",
        store.find_recovery_code(&alice, &locator).await,
    );
    assert_data_loss(
        "take_counter: no fresh allowance after the loss",
        store
            .take_counter(&key, Duration::from_secs(900), 3, t)
            .await,
    );
    assert_data_loss("counter", store.counter(&key, t).await);
    assert_data_loss("put_settings", store.put_settings(settings(&alice)).await);
    match RedisStore::connect(&server.url(), config).await {
        Err(error @ Error::NotInitialised { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("NEW deployment") && message.contains("LOST"),
                "{message}"
            );
            eprintln!("restarted empty: every read and write answers DataLoss; connect: {message}");
        }
        other => panic!("connect after the restart: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_missing_in_some_slots_fail_those_slots_and_connect() {
    let test = "markers_missing_in_some_slots_fail_those_slots_and_connect";
    let Some((store, cleanup)) = throwaway_store(test).await else {
        return;
    };
    let users: Vec<String> = (0..40).map(|_| unique("half")).collect();
    for user in &users {
        store.put_settings(settings(user)).await.unwrap();
    }
    // Delete the markers of half the slots: what a flush of one node of three, or an eviction
    // of some keys, leaves behind.
    let mut admin = common::admin(&url()).await;
    let mut markers: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{{{}:s:*", store.prefix()))
            .arg("COUNT")
            .arg(5000)
            .query_async(&mut admin)
            .await
            .unwrap();
        markers.extend(keys);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(markers.len(), 16384);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&markers[0])
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(
        ttl > 0 && ttl <= 3_600_000,
        "a throwaway store's markers expire: {ttl} ms"
    );
    markers.sort();
    let gone = &markers[..8192];
    let () = redis::cmd("DEL")
        .arg(gone)
        .query_async(&mut admin)
        .await
        .unwrap();

    let config = RedisConfig::with_prefix(store.prefix().clone());
    match RedisStore::connect(&url(), config).await {
        Err(Error::DataLoss { missing, .. }) => assert_eq!(missing, 8192),
        other => panic!("connect with half the markers: {other:?}"),
    }
    let (mut found, mut lost) = (0, 0);
    for user in &users {
        match store.settings(user).await {
            Ok(Some(_)) => found += 1,
            Err(StoreError::DataLoss(_)) => lost += 1,
            other => panic!("{user}: {other:?}"),
        }
    }
    eprintln!(
        "half the markers deleted: connect refuses (8192 missing); {found} users read, {lost} DataLoss, 0 absent"
    );
    assert!(found > 0 && lost > 0);
    cleanup.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_lost_alone_is_data_loss() {
    let test = "a_record_lost_alone_is_data_loss";
    let Some((store, cleanup)) = throwaway_store(test).await else {
        return;
    };
    let mut admin = common::admin(&url()).await;
    let (alice, bob) = (unique("alice"), unique("bob"));
    store.put_settings(settings(&alice)).await.unwrap();
    let key = format!("{{{}:u:{alice}}}:settings", store.prefix());
    let deleted: u64 = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert_data_loss("settings lost alone", store.settings(&alice).await);
    assert!(
        store.settings(&bob).await.unwrap().is_none(),
        "never enrolled"
    );

    store
        .insert_pending_totp(factor(&alice, "f1"))
        .await
        .unwrap();
    assert!(store.confirm_totp(&alice, "f1", 1, now()).await.unwrap());
    store
        .insert_pending_totp(factor(&alice, "f2"))
        .await
        .unwrap();
    let f1 = format!("{{{}:u:{alice}}}:totp:f1", store.prefix());
    let () = redis::cmd("DEL")
        .arg(&f1)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_data_loss(
        "totp_factor lost alone",
        store.totp_factor(&alice, "f1").await,
    );
    assert_data_loss("totp_factors", store.totp_factors(&alice).await);
    assert_data_loss(
        "insert_pending_totp",
        store.insert_pending_totp(factor(&alice, "f3")).await,
    );
    assert!(
        store.totp_factor(&alice, "f2").await.unwrap().is_some(),
        "the refused insert changed nothing"
    );
    cleanup.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialisation_is_explicit_and_refuses_what_is_not_new() {
    let test = "initialisation_is_explicit_and_refuses_what_is_not_new";
    let config = RedisConfig::with_prefix(random_prefix());
    let store = RedisStore::connect_lazy(&url(), config.clone()).unwrap();
    if let Err(error) = store.ping().await {
        return skip_or_fail(test, "Redis", &error);
    }
    match RedisStore::connect(&url(), config.clone()).await {
        Err(Error::NotInitialised { .. }) => {}
        other => panic!("connect before initialise: {other:?}"),
    }
    assert_data_loss(
        "an uninitialised deployment never reads 'never enrolled'",
        store.settings("nobody").await,
    );
    let first = store
        .initialise(Initialisation::NewDeployment)
        .await
        .unwrap();
    assert_eq!(first.markers_created, 16384);
    let again = store
        .initialise(Initialisation::NewDeployment)
        .await
        .unwrap();
    assert_eq!(
        again.markers_created, 0,
        "initialising twice changes nothing"
    );
    assert!(store.settings("nobody").await.unwrap().is_none());
    RedisStore::connect(&url(), config).await.unwrap();
    store.delete_all_keys().await.unwrap();

    // Data under a prefix without markers: an older deployment, or one that lost its markers.
    let old = RedisStore::connect_lazy(&url(), RedisConfig::with_prefix(random_prefix())).unwrap();
    let mut admin = common::admin(&url()).await;
    let key = format!("{{{}:u:carol}}:settings", old.prefix());
    let () = redis::cmd("HSET")
        .arg(&key)
        .arg("enabled")
        .arg("totp")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(matches!(
        old.initialise(Initialisation::NewDeployment).await,
        Err(Error::NotEmpty { .. })
    ));
    let adopted = old
        .initialise(Initialisation::AdoptExistingData)
        .await
        .unwrap();
    assert_eq!(
        (adopted.markers_created, adopted.settings_adopted),
        (16384, 1)
    );
    assert!(old.settings("carol").await.unwrap().is_some());
    let () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_data_loss("an adopted record lost later", old.settings("carol").await);
    old.delete_all_keys().await.unwrap();
}
