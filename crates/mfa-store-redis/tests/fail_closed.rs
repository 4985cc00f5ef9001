//! Fail-closed behaviour against a real Redis: an unreachable server, scripts flushed between
//! calls, and the connection killed in the middle of a burst of operations.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{now, unique};
use mfa_core::{Algorithm, CodeDigest, Digits, Keyring, Period, SealingKey, Secret};
use mfa_store::{
    AttemptOutcome, AuditEvent, AuditKind, AuditOutcome, Challenge, ChallengeKind, ChallengeStore,
    ClientInfo, CounterKey, CounterScope, CounterStore, NewTotpFactor, RecoveryCodeRecord,
    RecoveryCodeStore, Settlement, Store, StoreError, Take, TotpFactorStore,
};
use mfa_store_redis::testkit::{random_prefix, throwaway_store, url};
use mfa_store_redis::{RedisConfig, RedisStore};
use tokio::sync::Mutex;

/// Tests that kill connections or flush scripts run one at a time, so one cannot disturb
/// another's expectations.
static SERIAL: Mutex<()> = Mutex::const_new(());

fn challenge(user: &str, tries: u32) -> Challenge {
    let t = now();
    Challenge {
        id: unique("ch"),
        user: user.to_owned(),
        purpose: "login".to_owned(),
        kind: ChallengeKind::EmailCode,
        code_digest: Some(CodeDigest::from_bytes([7; 32])),
        link_digest: None,
        binding_digest: None,
        created_at: t,
        expires_at: t + Duration::from_secs(600),
        attempts_left: tries,
        consumed: false,
        plan: None,
    }
}

async fn confirmed_factor(store: &RedisStore, user: &str) {
    let keyring = Keyring::new(1, SealingKey::generate().unwrap());
    let sealed = keyring
        .seal(&Secret::generate().unwrap(), user, "f1")
        .unwrap();
    store
        .insert_pending_totp(NewTotpFactor {
            user: user.to_owned(),
            id: "f1".to_owned(),
            sealed_secret: sealed,
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
            period: Period::THIRTY_SECONDS,
            label: "Phone".to_owned(),
            created_at: now(),
        })
        .await
        .unwrap();
    assert!(store.confirm_totp(user, "f1", 1, now()).await.unwrap());
}

fn spent(outcome: &AttemptOutcome) -> bool {
    matches!(outcome, AttemptOutcome::Spent { .. })
}

fn assert_unavailable<T: std::fmt::Debug>(what: &str, result: mfa_store::Result<T>) {
    match result {
        Err(error @ StoreError::Unavailable(_)) => assert!(error.is_transient(), "{what}"),
        other => panic!("{what}: expected Unavailable, got {other:?}"),
    }
}

/// A store pointed at a port nobody listens on fails every operation kind as transient, and
/// grants nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_port_is_unavailable_everywhere() {
    let mut config = RedisConfig::with_prefix(random_prefix());
    config.reconnect_retries = 0;
    config.connection_timeout = Duration::from_millis(500);
    let err = RedisStore::connect("redis://127.0.0.1:1", config.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, mfa_store_redis::Error::Store(ref e) if e.is_transient()),
        "eager connect: {err:?}"
    );

    let store: Arc<dyn Store> =
        Arc::new(RedisStore::connect_lazy("redis://127.0.0.1:1", config).unwrap());
    let t = now();
    let key = CounterKey::new("totp", CounterScope::Account("alice".into()));
    assert_unavailable("spend_attempt", store.spend_attempt("c1", t).await);
    assert_unavailable(
        "advance_totp_step",
        store.advance_totp_step("alice", "f1", 9).await,
    );
    assert_unavailable(
        "confirm_totp",
        store.confirm_totp("alice", "f1", 9, t).await,
    );
    assert_unavailable(
        "take_counter",
        store
            .take_counter(&key, Duration::from_secs(60), 5, t)
            .await,
    );
    assert_unavailable(
        "take_counters",
        store
            .take_counters(&[Take::new(key.clone(), Duration::from_secs(60), 5)], t)
            .await,
    );
    assert_unavailable("refund_counter", store.refund_counter(&key, t).await);
    assert_unavailable("settings", store.settings("alice").await);
    assert_unavailable(
        "revoke_user_challenges",
        store.revoke_user_challenges("alice").await,
    );
    assert_unavailable(
        "counters",
        store.counters(std::slice::from_ref(&key), t).await,
    );
    assert_unavailable(
        "consume_recovery_code",
        store
            .consume_recovery_code("alice", &CodeDigest::from_bytes([1; 32]))
            .await,
    );
    assert_unavailable("consume_challenge", store.consume_challenge("c1", t).await);
    assert_unavailable(
        "check_and_touch_device",
        store
            .check_and_touch_device("alice", &CodeDigest::from_bytes([2; 32]), t)
            .await,
    );
    assert_unavailable(
        "create_challenge",
        store.create_challenge(challenge("alice", 3)).await,
    );
    let budget = Take::new(key.clone(), Duration::from_secs(60), 5);
    assert_unavailable(
        "login_view",
        store
            .login_view("alice", std::slice::from_ref(&key), t)
            .await,
    );
    assert_unavailable(
        "open_ticket",
        store
            .open_ticket(challenge("alice", 3), &budget, event("alice"), t)
            .await,
    );
    assert_unavailable("attempt", store.attempt("c1", None, true, t).await);
    let settlement = Settlement {
        user: "alice".into(),
        advance: Some(("f1".into(), 9)),
        consume: vec!["c1".into()],
        ..Settlement::default()
    };
    assert_unavailable("settle", store.settle(settlement, t).await);
}

fn event(user: &str) -> AuditEvent {
    AuditEvent {
        at: now(),
        user: user.to_owned(),
        kind: AuditKind::SECOND_FACTOR,
        outcome: AuditOutcome::Success,
        client: ClientInfo::default(),
        actor: None,
    }
}

/// `SCRIPT FLUSH` between calls: scripts are reloaded transparently, nothing errs, and the try
/// budget and the replay guard still hold exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scripts_flushed_between_calls_are_reloaded() {
    let _serial = SERIAL.lock().await;
    let Some((store, cleanup)) =
        throwaway_store("scripts_flushed_between_calls_are_reloaded").await
    else {
        return;
    };
    let mut admin = common::admin(&url()).await;
    let flush = || redis::cmd("SCRIPT").arg("FLUSH").to_owned();
    let user = unique("flush");
    let t = now();

    let c = challenge(&user, 3);
    store.create_challenge(c.clone()).await.unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        let _: () = flush().query_async(&mut admin).await.unwrap();
        outcomes.push(store.spend_attempt(&c.id, t).await.unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|o| spent(o)).count(),
        3,
        "{outcomes:?}"
    );
    assert!(matches!(outcomes[4], AttemptOutcome::Exhausted));

    confirmed_factor(&store, &user).await;
    let _: () = flush().query_async(&mut admin).await.unwrap();
    assert!(store.advance_totp_step(&user, "f1", 2).await.unwrap());
    let _: () = flush().query_async(&mut admin).await.unwrap();
    assert!(
        !store.advance_totp_step(&user, "f1", 2).await.unwrap(),
        "no double grant after a reload"
    );

    // 50 racing guesses while the script cache is flushed under them: still exactly 3 tries.
    let c = challenge(&user, 3);
    store.create_challenge(c.clone()).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (store, id) = (store.clone(), c.id.clone());
        let mut admin = admin.clone();
        tasks.spawn(async move {
            if i % 10 == 0 {
                let _: () = redis::cmd("SCRIPT")
                    .arg("FLUSH")
                    .query_async(&mut admin)
                    .await
                    .unwrap();
            }
            store.spend_attempt(&id, t).await.unwrap()
        });
    }
    let outcomes = tasks.join_all().await;
    assert_eq!(outcomes.iter().filter(|o| spent(o)).count(), 3);
    cleanup.await;
}

/// The store's connection killed (`CLIENT KILL ID`) in the middle of a burst: each call either
/// succeeds or fails as transient, every try handed out was counted, no more than the budget
/// was handed out, and the store works again afterwards (the manager reconnects).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_connection_fails_transient_and_loses_no_attempt() {
    let _serial = SERIAL.lock().await;
    let Some((store, cleanup)) =
        throwaway_store("killed_connection_fails_transient_and_loses_no_attempt").await
    else {
        return;
    };
    let mut admin = common::admin(&url()).await;
    let user = unique("kill");
    let t = now();
    let tries = 1000;
    let c = challenge(&user, tries);
    store.create_challenge(c.clone()).await.unwrap();
    let key = CounterKey::new("totp", CounterScope::Account(user.clone()));
    let recovery: Vec<RecoveryCodeRecord> = (0..40u8)
        .map(|i| RecoveryCodeRecord {
            locator: CodeDigest::from_bytes([i; 32]),
            verifier: mfa_core::RecoveryVerifier::Peppered(CodeDigest::from_bytes([i; 32])),
        })
        .collect();
    store
        .replace_recovery_codes(&user, recovery, t)
        .await
        .unwrap();

    let mut errors = 0;
    let mut spends = 0;
    let mut hits = 0;
    let mut consumed = 0;
    for round in 0..4 {
        let id = store.client_id().await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..60u8 {
            let (store, cid, key) = (store.clone(), c.id.clone(), key.clone());
            tasks.spawn(async move {
                match i % 3 {
                    0 => store
                        .spend_attempt(&cid, t)
                        .await
                        .map(|o| (spent(&o), 0, 0)),
                    1 => store
                        .hit_counter(&key, Duration::from_secs(600), t)
                        .await
                        .map(|_| (false, 1, 0)),
                    _ => store
                        .consume_recovery_code(
                            &user_of(&key),
                            &CodeDigest::from_bytes([i % 40; 32]),
                        )
                        .await
                        .map(|won| (false, 0, u32::from(won))),
                }
            });
            if i == 20 + round {
                let _: redis::RedisResult<i64> = redis::cmd("CLIENT")
                    .arg("KILL")
                    .arg("ID")
                    .arg(id)
                    .query_async(&mut admin)
                    .await;
            }
        }
        for outcome in tasks.join_all().await {
            match outcome {
                Ok((s, h, r)) => {
                    spends += u32::from(s);
                    hits += h;
                    consumed += r;
                }
                Err(error) => {
                    assert!(
                        error.is_transient(),
                        "a killed connection is transient: {error:?}"
                    );
                    errors += 1;
                }
            }
        }
    }
    // The store recovers: the next calls succeed on a new connection.
    let mut recovered = false;
    for _ in 0..20 {
        if store.ping().await.is_ok() {
            recovered = true;
            break;
        }
    }
    assert!(recovered, "the connection manager reconnects");

    let left = store
        .challenge(&c.id, t)
        .await
        .unwrap()
        .unwrap()
        .attempts_left;
    let counted = tries - left;
    assert!(
        counted >= spends,
        "every try handed out is counted: {counted} counted, {spends} handed out"
    );
    let count = store.counter(&key, t).await.unwrap().map_or(0, |s| s.count);
    assert!(
        count >= hits,
        "every reported hit is counted: {count} < {hits}"
    );
    let remaining = store.remaining_recovery_codes(&user).await.unwrap();
    assert!(
        40 - remaining >= usize::try_from(consumed).unwrap(),
        "every reported use removed its code"
    );
    assert!(
        consumed <= 40,
        "a recovery code is used at most once: {consumed}"
    );
    assert!(errors > 0, "the kill reached calls in flight");
    eprintln!("killed connection: {errors} transient errors, {spends} spends, {hits} hits");
    cleanup.await;
}

fn user_of(key: &CounterKey) -> String {
    match &key.scope {
        CounterScope::Account(account) => account.clone(),
        _ => unreachable!("the test uses account counters"),
    }
}
