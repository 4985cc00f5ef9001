//! `Durability`: single-use writes wait for a replica (`WAIT`, in the same round trip), and a
//! missing acknowledgement fails the call closed while the write stays on the primary; `WAITAOF`
//! is refused on a server without it. Against servers the tests start: a primary and a replica
//! started with `--replicaof`.

#![allow(clippy::unwrap_used, clippy::panic, clippy::print_stderr)]

mod common;

use std::error::Error as _;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use common::login::Login;
use common::server::RedisServer;
use common::{now, unique};
use mfa_store::{
    ChallengeStore, CounterKey, CounterScope, CounterStore, FlowStore, SettingsStore, StoreError,
};
use mfa_store_redis::testkit::config;
use mfa_store_redis::{Durability, Error, NotDurable, RedisStore};

const WAIT: Duration = Duration::from_millis(300);

fn replicas(n: u32) -> Durability {
    Durability::Replicas {
        replicas: NonZeroU32::new(n).unwrap(),
        timeout: WAIT,
    }
}

/// `field` of `INFO replication` of `server`.
async fn replication(server: &RedisServer, field: &str) -> String {
    let mut admin = server.admin().await;
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut admin)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| {
            line.trim_end()
                .strip_prefix(&format!("{field}:"))
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_use_writes_wait_for_a_replica_and_fail_closed_without_one() {
    let test = "single_use_writes_wait_for_a_replica_and_fail_closed_without_one";
    let Some(primary) = RedisServer::start(test, &[]).await else {
        return;
    };
    let port = primary.port().to_string();
    let Some(replica) = RedisServer::start(test, &["--replicaof", "127.0.0.1", &port]).await else {
        return;
    };
    until("replication", async || {
        replication(&replica, "master_link_status").await == "up"
            && replication(&primary, "connected_slaves").await == "1"
    })
    .await;

    let mut config = config();
    config.durability = replicas(1);
    let store = common::initialised(&primary.url(), config.clone()).await;
    let (t, window) = (now(), Duration::from_secs(900));
    let key = CounterKey::new("totp", CounterScope::Account(unique("durable")));
    // The coarse operations wait too: a login goes through while the replica acknowledges.
    let login = Login::enrolled(&store, t).await;
    login.open_ticket_quietly(&store).await;
    let id = login.ticket.id.clone();
    assert!(
        store
            .attempt(&id, Some(&login.network), true, t)
            .await
            .unwrap()
            .admitted()
    );

    let started = Instant::now();
    for _ in 0..50 {
        store.take_counter(&key, window, 1000, t).await.unwrap();
    }
    let with_replica = started.elapsed() / 50;
    let mut unwaited = config.clone();
    unwaited.durability = Durability::Primary;
    let plain = RedisStore::connect(&primary.url(), unwaited).await.unwrap();
    let started = Instant::now();
    for _ in 0..50 {
        plain.take_counter(&key, window, 1000, t).await.unwrap();
    }
    let without = started.elapsed() / 50;

    // Two replicas asked, one attached: refused, though applied on the primary.
    let mut two = config.clone();
    two.durability = replicas(2);
    let two = RedisStore::connect(&primary.url(), two).await.unwrap();
    let err = two.take_counter(&key, window, 1000, t).await.unwrap_err();
    let short = not_durable(&err);
    assert_eq!((short.acknowledged(), short.required()), (Some(1), 2));

    drop(replica);
    until("the primary noticing the replica went", async || {
        replication(&primary, "connected_slaves").await == "0"
    })
    .await;
    let before = store.counter(&key, t).await.unwrap().unwrap().count;
    let started = Instant::now();
    let err = store.take_counter(&key, window, 1000, t).await.unwrap_err();
    let waited = started.elapsed();
    let short = not_durable(&err);
    assert!(err.is_transient(), "reported as Unavailable");
    assert_eq!((short.acknowledged(), short.required()), (Some(0), 1));
    assert!(waited >= WAIT, "waited {waited:?}");
    let after = store.counter(&key, t).await.unwrap().unwrap().count;
    assert_eq!(after, before + 1, "the take is applied on the primary");
    // Without it, a try and a settlement are applied on the primary and reported failed.
    let err = store
        .attempt(&id, Some(&login.network), true, t)
        .await
        .unwrap_err();
    assert_eq!(not_durable(&err).acknowledged(), Some(0));
    let left = store
        .challenge(&id, t)
        .await
        .unwrap()
        .unwrap()
        .attempts_left;
    assert_eq!(left, 3, "both tries spent on the primary");
    let err = store.settle(login.success(), t).await.unwrap_err();
    assert_eq!(not_durable(&err).acknowledged(), Some(0));
    assert!(store.challenge(&id, t).await.unwrap().unwrap().consumed);
    let read = Instant::now();
    assert!(store.settings("nobody").await.unwrap().is_none());
    assert!(
        store
            .login_view(&login.user, &login.limit_keys(), t)
            .await
            .is_ok(),
        "login_view only reads"
    );
    assert!(read.elapsed() < WAIT, "reads do not wait for replicas");
    eprintln!(
        "WAIT 1: take_counter {with_replica:?} with the replica attached ({without:?} without \
         waiting); without the replica it fails after {waited:?}: {err} ({short}); applied on \
         the primary: count {before} -> {after}"
    );
}

fn not_durable(err: &StoreError) -> &NotDurable {
    err.source()
        .and_then(|source| source.downcast_ref::<NotDurable>())
        .unwrap_or_else(|| panic!("expected a NotDurable source, got {err:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waitaof_is_refused_where_the_server_cannot_give_it() {
    let test = "waitaof_is_refused_where_the_server_cannot_give_it";
    let Some(server) = RedisServer::start(test, &[]).await else {
        return;
    };
    let version = {
        let mut admin = server.admin().await;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut admin)
            .await
            .unwrap();
        info.lines()
            .find_map(|l| {
                l.trim_end()
                    .strip_prefix("redis_version:")
                    .map(str::to_owned)
            })
            .unwrap()
    };
    let mut config = config();
    config.durability = Durability::AppendOnlyFile {
        replicas: 0,
        timeout: WAIT,
    };
    match RedisStore::connect(&server.url(), config).await {
        Err(error @ Error::Durability { .. }) => {
            let message = error.to_string();
            let expected = if version.starts_with("7.0") || version.starts_with("7.1") {
                "7.2"
            } else {
                "appendonly"
            };
            assert!(message.contains(expected), "{message}");
            eprintln!("Redis {version}, Durability::AppendOnlyFile: {message}");
        }
        other => panic!("Redis {version}: expected Error::Durability, got {other:?}"),
    }
}
