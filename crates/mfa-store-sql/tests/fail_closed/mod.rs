//! Fail-closed checks shared by the server backends.
//!
//! The claim they prove, per operation that bounds guessing: when the store call returns an
//! error (server unreachable, connection killed while the statement waited for a row lock),
//! the error is transient, the call granted nothing (no `Spent`, no `true`), and the record is
//! left in one of exactly two states: as before the call, or as if the call had succeeded. For
//! a challenge that means `attempts_left` is the old value or one less, never more, so the
//! comparisons granted over the challenge's life stay within its budget; for a TOTP step, a
//! retry of the same step succeeds exactly when the step was not recorded; for a counter, the
//! count is the old value or one more; for a recovery code, a retry consumes it exactly when
//! it is still there.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_core::{CodeDigest, Keyring, RecoveryVerifier, SealingKey, Secret};
use mfa_store::{
    AttemptOutcome, AttemptPlan, Challenge, ChallengeKind, CounterKey, CounterScope, NewTotpFactor,
    RecoveryCodeRecord, Store, StoreError, Take,
};

pub(crate) fn now() -> SystemTime {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    UNIX_EPOCH + Duration::from_secs(secs)
}

pub(crate) fn id(tag: &str) -> String {
    let mut b = [0_u8; 8];
    getrandom::fill(&mut b).unwrap();
    format!("{tag}-{:016x}", u64::from_be_bytes(b))
}

fn digest(byte: u8) -> CodeDigest {
    CodeDigest::from_bytes([byte; 32])
}

pub(crate) fn challenge(user: &str, tries: u32) -> Challenge {
    let t = now();
    Challenge {
        id: id("ch"),
        user: user.to_owned(),
        purpose: "login".into(),
        kind: ChallengeKind::EmailCode,
        code_digest: Some(digest(1)),
        link_digest: None,
        binding_digest: None,
        created_at: t,
        expires_at: t + Duration::from_secs(600),
        attempts_left: tries,
        consumed: false,
        plan: None,
    }
}

/// A confirmed factor of `user` with `id`, last used step 100.
pub(crate) async fn confirmed_factor<S: Store>(store: &S, user: &str, factor: &str) {
    let keyring = Keyring::new(1, SealingKey::generate().unwrap());
    let sealed = keyring
        .seal(&Secret::generate().unwrap(), user, factor)
        .unwrap();
    store
        .insert_pending_totp(NewTotpFactor {
            user: user.into(),
            id: factor.into(),
            sealed_secret: sealed,
            algorithm: mfa_core::Algorithm::Sha1,
            digits: mfa_core::Digits::SIX,
            period: mfa_core::Period::THIRTY_SECONDS,
            label: "phone".into(),
            created_at: now(),
        })
        .await
        .unwrap();
    assert!(store.confirm_totp(user, factor, 100, now()).await.unwrap());
}

fn assert_transient<T: std::fmt::Debug>(what: &str, result: Result<T, StoreError>) {
    match result {
        Err(e) => assert!(
            e.is_transient(),
            "{what}: expected a transient error, got {e:?}"
        ),
        Ok(v) => panic!("{what}: expected an error, got Ok({v:?})"),
    }
}

/// Every operation kind on an unreachable server returns a transient error.
pub(crate) async fn every_operation_is_transient<S: Store>(store: S) {
    let t = now();
    let key = CounterKey::new("totp", CounterScope::Account("u".into()));
    assert_transient("spend_attempt", store.spend_attempt("c", t).await);
    assert_transient(
        "advance_totp_step",
        store.advance_totp_step("u", "f", 5).await,
    );
    assert_transient("confirm_totp", store.confirm_totp("u", "f", 5, t).await);
    assert_transient(
        "take_counter",
        store
            .take_counter(&key, Duration::from_secs(60), 5, t)
            .await,
    );
    assert_transient(
        "take_counters",
        store
            .take_counters(&[Take::new(key.clone(), Duration::from_secs(60), 5)], t)
            .await,
    );
    assert_transient("refund_counter", store.refund_counter(&key, t).await);
    assert_transient(
        "revoke_user_challenges",
        store.revoke_user_challenges("u").await,
    );
    assert_transient(
        "counters",
        store.counters(std::slice::from_ref(&key), t).await,
    );
    assert_transient("lock_counter", store.lock_counter(&key, t, t).await);
    assert_transient(
        "consume_recovery_code",
        store.consume_recovery_code("u", &digest(2)).await,
    );
    assert_transient(
        "find_recovery_code",
        store.find_recovery_code("u", &digest(2)).await,
    );
    assert_transient("consume_challenge", store.consume_challenge("c", t).await);
    assert_transient(
        "create_challenge",
        store.create_challenge(challenge("u", 3)).await,
    );
    assert_transient(
        "check_and_touch_device",
        store.check_and_touch_device("u", &digest(3), t).await,
    );
    assert_transient("totp_factor", store.totp_factor("u", "f").await);
    assert_transient("purge_expired", store.purge_expired(t).await);
}

/// Two stores with different prefixes on one database share nothing.
pub(crate) async fn prefixes_are_independent<S: Store>(a: S, b: S) {
    let c = challenge(&id("prefix"), 3);
    a.create_challenge(c.clone()).await.unwrap();
    assert!(a.challenge(&c.id, now()).await.unwrap().is_some());
    assert!(b.challenge(&c.id, now()).await.unwrap().is_none());
    b.create_challenge(c.clone()).await.unwrap();
    assert!(a.consume_challenge(&c.id, now()).await.unwrap());
    assert!(
        b.consume_challenge(&c.id, now()).await.unwrap(),
        "b's copy is its own"
    );
}

/// What a kill test needs from the engine: hold a row lock from another connection, find the
/// store's connection waiting behind it, and kill that connection.
pub(crate) trait Killer: Send {
    /// Takes row locks with `sql` (a `SELECT .. FOR UPDATE`) in an open transaction.
    fn hold(&mut self, sql: String) -> impl Future<Output = ()> + Send;
    /// Waits until a connection whose current statement contains `marker` is waiting, then
    /// kills it from a third connection.
    fn kill_waiting(&self, marker: &str) -> impl Future<Output = ()> + Send;
    /// Ends the holding transaction.
    fn release(&mut self) -> impl Future<Output = ()> + Send;
}

/// Runs `op` while its row is locked, kills its connection, and returns its result.
async fn killed<S, K, T, F, Fut>(
    store: &Arc<S>,
    killer: &mut K,
    lock: String,
    marker: &str,
    op: F,
) -> Result<T, StoreError>
where
    S: Store + 'static,
    K: Killer,
    T: Send + 'static,
    F: FnOnce(Arc<S>) -> Fut,
    Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    killer.hold(lock).await;
    let task = tokio::spawn(op(Arc::clone(store)));
    killer.kill_waiting(marker).await;
    let result = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the killed operation returns")
        .expect("the operation does not panic");
    killer.release().await;
    result
}

/// Kills the connection of each guessing-bounding operation mid-statement (an attempt on a
/// ticket while the try is spent and a take waits) and checks the claim of this module. `tables` is the qualified table prefix (`schema.mfa_`, `mfa_`), whose table
/// names mark the statements to kill; `counters_marker` marks the counter take's statement
/// (the take runs inside a routine: PostgreSQL shows the statement that called it, MySQL the
/// routine's statement as it is written).
pub(crate) async fn killed_mid_operation<S: Store + 'static, K: Killer>(
    store: S,
    mut killer: K,
    tables: &str,
    counters_marker: &str,
) {
    let store = Arc::new(store);
    let user = id("kill");

    // spend_attempt: nothing granted, the budget never grows.
    let c = challenge(&user, 3);
    store.create_challenge(c.clone()).await.unwrap();
    let lock = format!(
        "SELECT 1 FROM {tables}challenges WHERE id = '{}' FOR UPDATE",
        c.id
    );
    let cid = c.id.clone();
    let result = killed(
        &store,
        &mut killer,
        lock,
        &format!("{tables}challenges"),
        move |s| async move { s.spend_attempt(&cid, now()).await },
    )
    .await;
    assert_transient("killed spend_attempt", result);
    let left = store
        .challenge(&c.id, now())
        .await
        .unwrap()
        .unwrap()
        .attempts_left;
    assert!(
        left == 3 || left == 2,
        "tries left after a killed spend: {left}"
    );
    let mut granted = 0;
    for _ in 0..5 {
        if matches!(
            store.spend_attempt(&c.id, now()).await.unwrap(),
            AttemptOutcome::Spent { .. }
        ) {
            granted += 1;
        }
    }
    assert_eq!(
        granted, left,
        "later attempts get exactly the tries left, never more"
    );

    // advance_totp_step: refused on error; a retry succeeds exactly when nothing was recorded.
    confirmed_factor(&*store, &user, "f1").await;
    let lock = format!(
        "SELECT 1 FROM {tables}totp_factors WHERE user_id = '{user}' AND id = 'f1' FOR UPDATE"
    );
    let u = user.clone();
    let result = killed(
        &store,
        &mut killer,
        lock,
        &format!("{tables}totp_factors"),
        move |s| async move { s.advance_totp_step(&u, "f1", 101).await },
    )
    .await;
    assert_transient("killed advance_totp_step", result);
    let recorded = store
        .totp_factor(&user, "f1")
        .await
        .unwrap()
        .unwrap()
        .last_used_step;
    assert!(
        recorded == Some(100) || recorded == Some(101),
        "step after a kill: {recorded:?}"
    );
    let retry = store.advance_totp_step(&user, "f1", 101).await.unwrap();
    assert_eq!(
        retry,
        recorded == Some(100),
        "the step is accepted at most once overall"
    );

    // take_counters (the pre-charge of every attempt): nothing counted is reported, the count is
    // the old one or one more, and the next take adds exactly one.
    let key = CounterKey::new("totp", CounterScope::Account(user.clone()));
    let take = [Take::new(key.clone(), Duration::from_secs(900), 10)];
    let first = store.take_counters(&take, now()).await.unwrap();
    assert_eq!(first.first().map(|t| t.state().count), Some(1));
    let lock = format!(
        "SELECT 1 FROM {tables}counters WHERE counter_key = '{}' FOR UPDATE",
        key.storage_key()
    );
    let batch = take.clone();
    let result = killed(
        &store,
        &mut killer,
        lock,
        counters_marker,
        move |s| async move { s.take_counters(&batch, now()).await },
    )
    .await;
    assert_transient("killed take_counters", result);
    let count = store.counter(&key, now()).await.unwrap().unwrap().count;
    assert!(
        count == 1 || count == 2,
        "count after a killed take: {count}"
    );
    let next = store.take_counters(&take, now()).await.unwrap();
    assert_eq!(next.first().map(|t| t.state().count), Some(count + 1));

    // attempt (the try and its plan's takes in one step): killed while a take waits for its
    // counter, after the try was spent in the same step, both stay as before or both are done.
    let key = CounterKey::new("totp.plan", CounterScope::Account(user.clone()));
    let plan_take = Take::new(key.clone(), Duration::from_secs(900), 10);
    store
        .take_counters(std::slice::from_ref(&plan_take), now())
        .await
        .unwrap();
    let mut ticket = challenge(&user, 3);
    ticket.purpose = "kill-attempt".into();
    ticket.plan = Some(AttemptPlan {
        tag: None,
        recognised: Vec::new(),
        unrecognised: vec![plan_take],
    });
    store.create_challenge(ticket.clone()).await.unwrap();
    let lock = format!(
        "SELECT 1 FROM {tables}counters WHERE counter_key = '{}' FOR UPDATE",
        key.storage_key()
    );
    let id = ticket.id.clone();
    let result = killed(
        &store,
        &mut killer,
        lock,
        counters_marker,
        move |s| async move { s.attempt(&id, None, false, now()).await },
    )
    .await;
    assert_transient("killed attempt", result);
    let left = store
        .challenge(&ticket.id, now())
        .await
        .unwrap()
        .unwrap()
        .attempts_left;
    let count = store.counter(&key, now()).await.unwrap().unwrap().count;
    assert!(
        (left, count) == (3, 1) || (left, count) == (2, 2),
        "the try and its take move together: {left} tries left, count {count}"
    );

    // consume_recovery_code: no `true` on error; a retry consumes exactly when it is still there.
    let locator = CodeDigest::from_bytes([9; 32]);
    store
        .replace_recovery_codes(
            &user,
            vec![RecoveryCodeRecord {
                locator: locator.clone(),
                verifier: RecoveryVerifier::Peppered(digest(8)),
            }],
            now(),
        )
        .await
        .unwrap();
    let lock = format!("SELECT 1 FROM {tables}recovery_codes WHERE user_id = '{user}' FOR UPDATE");
    let (u, l) = (user.clone(), locator.clone());
    let result = killed(
        &store,
        &mut killer,
        lock,
        &format!("{tables}recovery_codes"),
        move |s| async move { s.consume_recovery_code(&u, &l).await },
    )
    .await;
    assert_transient("killed consume_recovery_code", result);
    let still_there = store
        .find_recovery_code(&user, &locator)
        .await
        .unwrap()
        .is_some();
    assert_eq!(
        store.consume_recovery_code(&user, &locator).await.unwrap(),
        still_there
    );
    assert!(
        !store.consume_recovery_code(&user, &locator).await.unwrap(),
        "used once at most"
    );
}
