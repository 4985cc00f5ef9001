#![allow(clippy::expect_used)] // benchmark fixtures: a failure is a broken set-up
//! The Redis store's share of one TOTP verification, against the server at `MFA_REDIS_URL`
//! (default `redis://127.0.0.1:6379`), under a throwaway key prefix
//! (`mfa_store_redis::testkit::throwaway_store`: initialised, deleted afterwards).
//!
//! A successful verification is the batch counter read (account, account+client, client) and
//! `advance_totp_step`; a failed one is the batch read and the batch hit of the same keys (one
//! `take_counters` without a limit). (The facade's own path, counters taken before the code is
//! evaluated and settled after, is measured end to end by the `flow` bench.)
//! Throughput runs 1 and 32 tasks at once, each with its own user.
//!
//! `cargo bench -p mfa-benches --bench store_redis`. (`benches/redis_ratio.sh` compares whole
//! logins, `login-throughput redis 32`, with `redis-benchmark`'s raw `SET` throughput.)

use std::future::IntoFuture as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mfa_core::{Algorithm, Digits, Keyring, Period, SealingKey, Secret};
use mfa_store::{CounterKey, CounterScope, CounterStore, NewTotpFactor, Take, TotpFactorStore};
use mfa_store_redis::RedisStore;
use mfa_store_redis::testkit::Cleanup;
use tokio::runtime::Runtime;

const WINDOW: Duration = Duration::from_secs(900);
const IP: &str = "192.0.2.7";

/// Numbers the bench users, so each measurement batch gets fresh ones.
static NEXT_USER: AtomicUsize = AtomicUsize::new(0);

/// One user with a confirmed factor, the counter keys a verification reads, and its next step.
struct Account {
    user: String,
    keys: Vec<CounterKey>,
    hits: Vec<Take>,
    step: u64,
}

impl Account {
    async fn new(store: &RedisStore, n: usize) -> Self {
        let user = format!("bench-user-{n}");
        let keyring = Keyring::new(1, SealingKey::generate().expect("OS RNG"));
        let sealed = keyring
            .seal(&Secret::generate().expect("OS RNG"), &user, "f1")
            .expect("sealing");
        store
            .insert_pending_totp(NewTotpFactor {
                user: user.clone(),
                id: "f1".into(),
                sealed_secret: sealed,
                algorithm: Algorithm::Sha1,
                digits: Digits::SIX,
                period: Period::THIRTY_SECONDS,
                label: "bench".into(),
                created_at: SystemTime::now(),
            })
            .await
            .expect("insert factor");
        assert!(
            store
                .confirm_totp(&user, "f1", 1, SystemTime::now())
                .await
                .expect("confirm")
        );
        let keys = vec![
            CounterKey::new("totp", CounterScope::Account(user.clone())),
            CounterKey::new(
                "totp",
                CounterScope::AccountClient {
                    account: user.clone(),
                    client: IP.into(),
                },
            ),
            CounterKey::new("totp", CounterScope::Client(IP.into())),
        ];
        let hits = keys
            .iter()
            .map(|k| Take::new(k.clone(), WINDOW, u32::MAX))
            .collect();
        Self {
            user,
            keys,
            hits,
            step: 1,
        }
    }

    /// The store work of a right code: read the limits, then advance the step (2 round trips).
    async fn verify_success(&mut self, store: &RedisStore) {
        let now = SystemTime::now();
        let states = store.counters(&self.keys, now).await.expect("counters");
        assert_eq!(states.len(), 3);
        self.step += 1;
        assert!(
            store
                .advance_totp_step(&self.user, "f1", self.step)
                .await
                .expect("advance")
        );
    }

    /// The store work of a wrong code: read the limits, then count the failure (2 round trips).
    async fn verify_failure(&mut self, store: &RedisStore) {
        let now = SystemTime::now();
        store.counters(&self.keys, now).await.expect("counters");
        store.take_counters(&self.hits, now).await.expect("hits");
    }
}

/// A throwaway store (an initialised prefix of its own) and its cleanup, or `None` (skipped, with
/// a message) without a Redis.
fn connect(rt: &Runtime) -> Option<(RedisStore, Cleanup)> {
    rt.block_on(mfa_store_redis::testkit::throwaway_store(
        "store_redis bench",
    ))
}

/// `tasks` tasks share `iters` verifications; returns the wall time of the whole batch.
fn run_concurrent(rt: &Runtime, store: &RedisStore, tasks: usize, iters: u64) -> Duration {
    rt.block_on(async {
        let mut accounts = Vec::with_capacity(tasks);
        for _ in 0..tasks {
            let n = NEXT_USER.fetch_add(1, Ordering::Relaxed);
            accounts.push(Account::new(store, n).await);
        }
        let per_task = iters.div_ceil(tasks as u64);
        let store = Arc::new(store.clone());
        let start = Instant::now();
        let handles: Vec<_> = accounts
            .into_iter()
            .map(|mut account| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        account.verify_success(&store).await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("task");
        }
        start.elapsed()
    })
}

fn store_redis(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let Some((store, cleanup)) = connect(&rt) else {
        return;
    };
    rt.block_on(store.load_scripts()).expect("load scripts");

    let mut group = c.benchmark_group("store");
    let mut account = rt.block_on(Account::new(
        &store,
        NEXT_USER.fetch_add(1, Ordering::Relaxed),
    ));
    group.bench_function("redis/verify_success", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    account.verify_success(&store).await;
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("redis/verify_failure", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    account.verify_failure(&store).await;
                }
                start.elapsed()
            })
        });
    });
    group.throughput(Throughput::Elements(1));
    for tasks in [1_usize, 32] {
        group.bench_function(format!("redis/verify_throughput/{tasks}"), |b| {
            b.iter_custom(|iters| run_concurrent(&rt, &store, tasks, iters));
        });
    }
    group.finish();
    rt.block_on(cleanup.into_future());
}

criterion_group!(store, store_redis);
criterion_main!(store);
