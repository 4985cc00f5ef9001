//! Two application instances on one database: two independently built `Mfa` values, each with
//! its own connection pool, racing on the same user. The limits and single-use guarantees live
//! in the store, so they hold across instances.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use mfa::Clock as _;
use mfa::core::Algorithm;
use mfa::store::{CounterKey, CounterScope};
use mfa::{
    Keyring, LoginStart, Outcome, Policy, Proof, SealingKey, Store, TotpOptions, VerifyOptions,
};
use mfa_store_redis::{RedisConfig, RedisStore};
use mfa_store_sql::{MySqlStore, PgStore};

/// Two stores over one database, each with its own pool, and what removes the data.
struct Pair {
    first: Arc<dyn Store>,
    second: Arc<dyn Store>,
    cleanup: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

async fn postgres() -> Option<Pair> {
    let throwaway = PgStore::throwaway().await?;
    let url = mfa_store_sql::testkit::postgres_url();
    let second = PgStore::connect(&url, throwaway.config().clone())
        .await
        .unwrap();
    let (first, cleanup) = throwaway.into_parts();
    Some(Pair {
        first: Arc::new(first),
        second: Arc::new(second),
        cleanup: Box::pin(cleanup),
    })
}

async fn mysql() -> Option<Pair> {
    let throwaway = MySqlStore::throwaway().await?;
    let url = mfa_store_sql::testkit::mysql_url();
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    let second = MySqlStore::connect(
        &format!("{base}/{}", throwaway.name()),
        throwaway.config().clone(),
    )
    .await
    .unwrap();
    let (first, cleanup) = throwaway.into_parts();
    Some(Pair {
        first: Arc::new(first),
        second: Arc::new(second),
        cleanup: Box::pin(cleanup),
    })
}

async fn redis() -> Option<Pair> {
    use std::future::IntoFuture;
    let (first, cleanup) = mfa_store_redis::testkit::throwaway_store("two instances").await?;
    let config = RedisConfig::with_prefix(first.prefix().clone());
    let second = RedisStore::connect(&mfa_store_redis::testkit::url(), config)
        .await
        .unwrap();
    Some(Pair {
        first: Arc::new(first),
        second: Arc::new(second),
        cleanup: Box::pin(cleanup.into_future()),
    })
}

/// Two facades over the pair, sharing pepper, keyring and a clock (`clock`, or a new one), but
/// nothing in memory.
fn instances(
    pair: &Pair,
    keyring: fn() -> Keyring,
    clock: Option<mfa::ManualClock>,
) -> (Harness, Harness) {
    let make = |store: &Arc<dyn Store>, clock: Option<mfa::ManualClock>| {
        let mut h = build(store.clone(), Policy::authenticator_setup(), false, |b| {
            let b = b.keyring(keyring());
            match &clock {
                Some(c) => b.clock(Arc::new(c.clone())),
                None => b,
            }
        });
        if let Some(c) = clock {
            h.clock = c;
        }
        h
    };
    let a = make(&pair.first, clock);
    let b = make(&pair.second, Some(a.clock.clone()));
    (a, b)
}

fn rotated() -> Keyring {
    Keyring::new(1, SealingKey::from_bytes(&[0x11; 32]).unwrap())
        .with_current(2, SealingKey::from_bytes(&[0x22; 32]).unwrap())
        .unwrap()
}

async fn races_across_two_instances(pair: Pair) {
    let (a, b) = instances(&pair, keyring, None);
    // The same TOTP code at both instances, 25 times each at once: one success.
    let (secret, _) = a.enrol_totp("twin", TotpOptions::new()).await;
    a.advance(30);
    let id = Arc::new(a.login("twin").await);
    let code = Arc::new(totp_code(&secret, 6, Algorithm::Sha1, a.clock.unix_secs()));
    let mut tasks = Vec::new();
    for n in 0..50 {
        let mfa = if n % 2 == 0 {
            a.mfa.clone()
        } else {
            b.mfa.clone()
        };
        let (id, code) = (id.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            mfa.verify(&id, Proof::Totp(&code), &client(), VerifyOptions::new())
                .await
                .unwrap()
                .is_verified()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap());
    }
    assert_eq!(ok, 1, "one success across two instances");

    // Wrong guesses at one ticket through both: at most its tries are evaluated, and the
    // consecutive count equals the evaluations.
    a.advance(30);
    let id = Arc::new(a.login_from("twin", &stranger(1)).await);
    let mut tasks = Vec::new();
    for n in 0..40 {
        let mfa = if n % 2 == 0 {
            a.mfa.clone()
        } else {
            b.mfa.clone()
        };
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let r = mfa
                .verify(
                    &id,
                    Proof::Totp("000000"),
                    &stranger(1),
                    VerifyOptions::new(),
                )
                .await
                .unwrap();
            matches!(r, Outcome::Rejected { .. } | Outcome::LockedOut { .. })
        }));
    }
    let mut evaluated = 0;
    for t in tasks {
        evaluated += u32::from(t.await.unwrap());
    }
    let key = CounterKey::new("mfa.consecutive", CounterScope::Account("twin".into()));
    let counted = pair
        .first
        .counter(&key, a.now())
        .await
        .unwrap()
        .unwrap()
        .count;
    assert!(evaluated <= 5, "{evaluated} evaluated at a 5-try ticket");
    assert_eq!(counted, evaluated);

    // One recovery code through both instances: one success.
    let (_, _, codes) = a.enrol_totp_codes("twin-rc", TotpOptions::new()).await;
    let ids = (
        a.login("twin-rc").await,
        b.login_from("twin-rc", &stranger(2)).await,
    );
    let (home, away) = (client(), stranger(2));
    let (ra, rb) = tokio::join!(
        a.mfa.verify(
            &ids.0,
            Proof::RecoveryCode(&codes[0]),
            &home,
            VerifyOptions::new()
        ),
        b.mfa.verify(
            &ids.1,
            Proof::RecoveryCode(&codes[0]),
            &away,
            VerifyOptions::new()
        ),
    );
    let ok = usize::from(ra.unwrap().is_verified()) + usize::from(rb.unwrap().is_verified());
    assert_eq!(ok, 1, "a recovery code works once across instances");

    // A trusted-device token rotated at both at once: one rotation wins.
    a.advance(30);
    let id = a.login("twin").await;
    let now = totp_code(&secret, 6, Algorithm::Sha1, a.clock.unix_secs());
    let Outcome::Verified {
        trusted_device_token: Some(device),
        ..
    } = a
        .mfa
        .verify(
            &id,
            Proof::Totp(&now),
            &client(),
            VerifyOptions::new().trust_device("Laptop"),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let home = client();
    let (ra, rb) = tokio::join!(
        a.mfa.begin_login("twin", Some(&device), &home),
        b.mfa.begin_login("twin", Some(&device), &home),
    );
    let trusted = [ra.unwrap(), rb.unwrap()]
        .iter()
        .filter(|s| matches!(s, LoginStart::TrustedDevice { .. }))
        .count();
    assert_eq!(trusted, 1, "a device token rotates once across instances");
    (pair.cleanup).await;
}

/// Key rotation at one instance while the other signs users in: every login succeeds, each
/// factor is re-sealed once.
async fn key_rotation_while_logins_run(pair: Pair) {
    let (a, b) = instances(&pair, keyring, None);
    let mut secrets = Vec::new();
    for n in 0..6 {
        let user = format!("rot{n}");
        let (secret, _) = a.enrol_totp(&user, TotpOptions::new()).await;
        secrets.push((user, secret));
    }
    // Both instances move to the new keyring (old key kept to open, new key to seal).
    let (a2, b2) = instances(&pair, rotated, Some(a.clock.clone()));
    a2.advance(30);
    let users: Vec<String> = secrets.iter().map(|(u, _)| u.clone()).collect();
    let rotation = {
        let mfa = b2.mfa.clone();
        tokio::spawn(async move { mfa.rotate_keys(&users).await.unwrap() })
    };
    for (user, secret) in &secrets {
        let id = a2.login(user).await;
        let code = totp_code(secret, 6, Algorithm::Sha1, a2.clock.unix_secs());
        let r = a2.verify(&id, Proof::Totp(&code)).await;
        assert!(r.is_verified(), "{user}: {r:?}");
    }
    let report = rotation.await.unwrap();
    assert_eq!(report.resealed + report.raced + report.current, 6);
    let again = b2
        .mfa
        .rotate_keys(&secrets.iter().map(|(u, _)| u.clone()).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(again.current, 6, "every factor is under the new key");
    drop((b, a));
    (pair.cleanup).await;
}

macro_rules! pairs {
    ($($backend:ident),+) => {
        $(
            mod $backend {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn races_across_two_instances() {
                    if let Some(pair) = super::$backend().await {
                        super::races_across_two_instances(pair).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn key_rotation_while_logins_run() {
                    if let Some(pair) = super::$backend().await {
                        super::key_rotation_while_logins_run(pair).await;
                    }
                }
            }
        )+
    };
}

pairs!(postgres, mysql, redis);
