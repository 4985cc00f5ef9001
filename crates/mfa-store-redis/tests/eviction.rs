//! Servers that evict keys, started by the tests with a tiny `maxmemory`: `connect` refuses
//! every eviction policy but `noeviction` (and accepts any policy without a memory limit);
//! with the opt-out, an evicting server really loses records, and the data-loss markers turn a
//! lost settings record into `DataLoss`, never into "never enrolled". Under `volatile-*` the
//! counters go silently, which is why `connect` refuses those policies too.

#![allow(clippy::unwrap_used, clippy::panic, clippy::print_stderr)]

mod common;

use std::time::Duration;

use common::server::RedisServer;
use common::{now, unique};
use mfa_store::{
    CounterKey, CounterScope, CounterStore, FactorKind, MfaSettings, SettingsStore, StoreError,
};
use mfa_store_redis::testkit::config;
use mfa_store_redis::{Error, EvictionCheck, Initialisation, RedisStore};
use redis::aio::MultiplexedConnection;

const POLICIES: [&str; 8] = [
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
];

async fn config_set(admin: &mut MultiplexedConnection, name: &str, value: &str) {
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query_async(admin)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_refuses_every_policy_that_can_evict() {
    let test = "connect_refuses_every_policy_that_can_evict";
    let args = ["--maxmemory", "64mb", "--maxmemory-policy", "noeviction"];
    let Some(server) = RedisServer::start(test, &args).await else {
        return;
    };
    let url = server.url();
    let config = config();
    let lazy = RedisStore::connect_lazy(&url, config.clone()).unwrap();
    lazy.initialise(Initialisation::NewDeployment)
        .await
        .unwrap();
    let mut admin = server.admin().await;
    let mut allowed = config.clone();
    allowed.eviction = EvictionCheck::Allow;

    for policy in POLICIES {
        config_set(&mut admin, "maxmemory-policy", policy).await;
        let result = RedisStore::connect(&url, config.clone()).await;
        if policy == "noeviction" {
            assert!(result.is_ok(), "noeviction: {result:?}");
        } else {
            match result {
                Err(error @ Error::Evicting { .. }) => {
                    let Error::Evicting {
                        policy: reported,
                        maxmemory,
                        ..
                    } = &error
                    else {
                        unreachable!()
                    };
                    assert_eq!((reported.as_str(), *maxmemory), (policy, 64 << 20));
                    let message = error.to_string();
                    assert!(
                        message.contains("maxmemory-policy noeviction"),
                        "the error names the setting: {message}"
                    );
                }
                other => panic!("{policy}: expected Error::Evicting, got {other:?}"),
            }
            // The refusal also guards the one-time initialisation.
            let again = RedisStore::connect_lazy(&url, config.clone()).unwrap();
            assert!(matches!(
                again.initialise(Initialisation::NewDeployment).await,
                Err(Error::Evicting { .. })
            ));
        }
        assert!(
            RedisStore::connect(&url, allowed.clone()).await.is_ok(),
            "{policy}: EvictionCheck::Allow opts out"
        );
        eprintln!(
            "maxmemory 64mb, {policy:>15}: connect {}",
            if policy == "noeviction" {
                "accepts"
            } else {
                "refuses"
            }
        );
    }

    // Without a memory limit nothing is evicted, whatever the policy says.
    config_set(&mut admin, "maxmemory", "0").await;
    for policy in POLICIES {
        config_set(&mut admin, "maxmemory-policy", policy).await;
        assert!(
            RedisStore::connect(&url, config.clone()).await.is_ok(),
            "maxmemory 0, {policy}"
        );
    }
    eprintln!(
        "maxmemory 0: connect accepts all {} policies",
        POLICIES.len()
    );
}

/// The key of `user`'s settings (user ids here need no escaping).
fn settings_key(store: &RedisStore, user: &str) -> String {
    format!("{{{}:u:{user}}}:settings", store.prefix())
}

/// The name of the `n`th filler value [`fill`] writes.
fn filler_key(n: usize) -> String {
    format!("junk:{n}")
}

/// Writes 4 KiB values without a TTL until `gone` says enough records went, or the server
/// refuses a write (nothing left it may evict); returns how many it wrote.
async fn fill(admin: &mut MultiplexedConnection, mut gone: impl AsyncFnMut() -> bool) -> usize {
    let value = "x".repeat(4096);
    let mut written = 0;
    for _ in 0..200 {
        for _ in 0..100 {
            let set: redis::RedisResult<()> = redis::cmd("SET")
                .arg(filler_key(written))
                .arg(&value)
                .query_async(admin)
                .await;
            if set.is_err() {
                return written;
            }
            written += 1;
        }
        if gone().await {
            return written;
        }
    }
    written
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicted_settings_record_reads_as_data_loss_never_as_not_enrolled() {
    let test = "an_evicted_settings_record_reads_as_data_loss_never_as_not_enrolled";
    let args = ["--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru"];
    let Some(server) = RedisServer::start(test, &args).await else {
        return;
    };
    let mut config = config();
    config.eviction = EvictionCheck::Allow;
    let store = common::initialised(&server.url(), config).await;
    let enrolled: Vec<String> = (0..300).map(|_| unique("enrolled")).collect();
    for user in &enrolled {
        let mut settings = MfaSettings::new(user.clone());
        settings.enabled.insert(FactorKind::Totp);
        store.put_settings(settings).await.unwrap();
    }

    let mut admin = server.admin().await;
    let keys: Vec<String> = enrolled.iter().map(|u| settings_key(&store, u)).collect();
    let mut probe = server.admin().await;
    let mut evicted_settings = async || {
        let present: usize = redis::cmd("EXISTS")
            .arg(&keys)
            .query_async(&mut probe)
            .await
            .unwrap();
        keys.len() - present
    };
    let written = fill(&mut admin, async || {
        evicted_settings().await * 3 >= keys.len()
    })
    .await;
    let evicted = evicted_settings().await;
    assert!(
        evicted > 0,
        "the server evicted settings ({written} values written)"
    );

    let (mut found, mut lost, mut absent) = (0, 0, 0);
    for user in &enrolled {
        match store.settings(user).await {
            Ok(Some(_)) => found += 1,
            Err(StoreError::DataLoss(_)) => lost += 1,
            Ok(None) => absent += 1,
            Err(other) => panic!("{user}: {other:?}"),
        }
    }
    let (mut never, mut never_lost) = (0, 0);
    for _ in 0..100 {
        match store.settings(&unique("never")).await {
            Ok(None) => never += 1,
            Err(StoreError::DataLoss(_)) => never_lost += 1,
            other => panic!("a user never enrolled: {other:?}"),
        }
    }
    eprintln!(
        "allkeys-lru, maxmemory 8mb, {written} values of 4 KiB written: {evicted} of {} \
         settings records evicted; reads: {found} found, {lost} DataLoss, {absent} 'never \
         enrolled'; never-enrolled users: {never} None, {never_lost} DataLoss (their slot's \
         marker went too)",
        enrolled.len()
    );
    assert_eq!(
        absent, 0,
        "no lost settings record reads as 'never enrolled'"
    );
    assert!(lost >= evicted, "every evicted record reads as DataLoss");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volatile_eviction_resets_counters_silently_which_is_why_connect_refuses_it() {
    let test = "volatile_eviction_resets_counters_silently_which_is_why_connect_refuses_it";
    let args = ["--maxmemory", "8mb", "--maxmemory-policy", "volatile-lru"];
    let Some(server) = RedisServer::start(test, &args).await else {
        return;
    };
    let mut config = config();
    config.eviction = EvictionCheck::Allow;
    let store = common::initialised(&server.url(), config).await;
    let t = now();
    let window = Duration::from_secs(900);
    let users: Vec<String> = (0..400).map(|_| unique("limited")).collect();
    let key = |user: &str| CounterKey::new("totp", CounterScope::Account(user.to_owned()));
    for user in &users {
        for _ in 0..3 {
            store.take_counter(&key(user), window, 3, t).await.unwrap();
        }
        let mut settings = MfaSettings::new(user.clone());
        settings.enabled.insert(FactorKind::Totp);
        store.put_settings(settings).await.unwrap();
    }

    let mut admin = server.admin().await;
    let written = fill(&mut admin, async || false).await;
    // While the server is full (nothing left it may evict), a take on an evicted counter is
    // refused: the script's first write is denied, so the store answers Unavailable and a
    // login fails closed; it never writes past maxmemory.
    let mut evicted = None;
    for user in &users {
        if store.counter(&key(user), t).await.unwrap().is_none() {
            evicted = Some(user);
            break;
        }
    }
    let evicted = evicted.expect("the server evicted counters");
    let full = store
        .take_counter(&key(evicted), window, 3, t + Duration::from_secs(1))
        .await;
    assert!(
        matches!(full, Err(StoreError::Unavailable(_))),
        "a take on a full server: {full:?}"
    );
    // The filler has no TTL, so nothing evicts it: free the room it took, as the server's own
    // traffic would, so that the store can write again. The counters stay evicted.
    if written > 0 {
        let filler: Vec<String> = (0..written).map(filler_key).collect();
        let _: () = redis::cmd("DEL")
            .arg(filler)
            .query_async(&mut admin)
            .await
            .unwrap();
    }
    let (mut kept, mut reset) = (0, 0);
    for user in &users {
        match store.counter(&key(user), t).await.unwrap() {
            Some(state) => {
                assert_eq!(state.count, 3);
                kept += 1;
            }
            None => {
                // The limit was reached; after the eviction the attacker has 3 guesses again.
                let again = store
                    .take_counter(&key(user), window, 3, t + Duration::from_secs(1))
                    .await
                    .unwrap();
                assert!(again.is_taken() && again.state().count == 1);
                reset += 1;
            }
        }
        assert!(
            store.settings(user).await.unwrap().is_some(),
            "keys without a TTL are never evicted under volatile-*"
        );
    }
    assert!(reset > 0, "the server evicted counters");
    eprintln!(
        "volatile-lru, maxmemory 8mb, {written} values of 4 KiB written until the server \
         refused: {reset} of {} full counters evicted (each a fresh allowance of 3 guesses), \
         {kept} kept, every settings record and marker kept, so nothing reads as DataLoss: \
         the markers cannot see this, connect must refuse it",
        users.len()
    );
}
