//! The store work of one TOTP verification on each SQL backend: the batch counter read and
//! `advance_totp_step` (2 round trips) for a success, the batch read and the batch hit (one
//! `take_counters` without a limit) for a failure; latency, then throughput with 1 and 32
//! concurrent tasks. (The facade's own path, counters taken before the code is evaluated and
//! settled after, is measured end to end by the `flow` bench.)
//!
//! Servers: `MFA_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`, schema
//! `mfa_bench`), `MFA_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`, prefix
//! `mfa_bench_`); an unreachable server is skipped with a message. SQLite uses a temp file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mfa_core::{Keyring, SealingKey, Secret};
use mfa_store::{CounterKey, CounterScope, NewTotpFactor, Store, Take};
use mfa_store_sql::{MySqlStore, PgStore, SqlStoreConfig, SqliteStore};
use tokio::runtime::Runtime;

const WINDOW: Duration = Duration::from_secs(900);

/// One user with a confirmed factor and its two counter keys; `step` moves forward per success.
struct Account {
    user: String,
    keys: [CounterKey; 2],
    step: AtomicU64,
}

async fn account(store: &Arc<dyn Store>, n: usize) -> Arc<Account> {
    let user = format!("bench-{}-{n}", std::process::id());
    let keyring = Keyring::new(1, SealingKey::generate().unwrap());
    let sealed = keyring
        .seal(&Secret::generate().unwrap(), &user, "f")
        .unwrap();
    let _ = store.delete_totp(&user, "f").await;
    store
        .insert_pending_totp(NewTotpFactor {
            user: user.clone(),
            id: "f".into(),
            sealed_secret: sealed,
            algorithm: mfa_core::Algorithm::Sha1,
            digits: mfa_core::Digits::SIX,
            period: mfa_core::Period::THIRTY_SECONDS,
            label: "bench".into(),
            created_at: SystemTime::now(),
        })
        .await
        .unwrap();
    assert!(
        store
            .confirm_totp(&user, "f", 1, SystemTime::now())
            .await
            .unwrap()
    );
    let keys = [
        CounterKey::new("totp", CounterScope::Account(user.clone())),
        CounterKey::new("totp", CounterScope::Client("203.0.113.7".into())),
    ];
    Arc::new(Account {
        user,
        keys,
        step: AtomicU64::new(2),
    })
}

/// The store work of one successful verification: 2 round trips.
async fn verify_ok(store: &Arc<dyn Store>, account: &Account) {
    let now = SystemTime::now();
    let states = store.counters(&account.keys, now).await.unwrap();
    assert!(states.iter().all(|s| s.is_none_or(|s| !s.is_locked(now))));
    let step = account.step.fetch_add(1, Ordering::Relaxed);
    assert!(
        store
            .advance_totp_step(&account.user, "f", step)
            .await
            .unwrap()
    );
}

/// The store work of one failed verification: the batch read and the batch hit (a take without
/// a limit, which counts every time).
async fn verify_failed(store: &Arc<dyn Store>, account: &Account) {
    let now = SystemTime::now();
    store.counters(&account.keys, now).await.unwrap();
    let hits = [
        Take::new(account.keys[0].clone(), WINDOW, u32::MAX),
        Take::new(account.keys[1].clone(), WINDOW, u32::MAX),
    ];
    store.take_counters(&hits, now).await.unwrap();
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, name: &str, store: Arc<dyn Store>) {
    let accounts: Vec<Arc<Account>> = rt.block_on(async { futures_accounts(&store, 32).await });
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    group.bench_function(format!("{name}/verify_ok_latency"), |b| {
        b.iter(|| rt.block_on(verify_ok(&store, &accounts[0])));
    });
    group.bench_function(format!("{name}/verify_failed_latency"), |b| {
        b.iter(|| rt.block_on(verify_failed(&store, &accounts[1])));
    });
    for tasks in [1_usize, 32] {
        group.bench_function(format!("{name}/verify_ok_throughput_{tasks}_tasks"), |b| {
            b.iter_custom(|iters| rt.block_on(run_tasks(&store, &accounts, tasks, iters)));
        });
    }
    group.finish();
}

async fn futures_accounts(store: &Arc<dyn Store>, n: usize) -> Vec<Arc<Account>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(account(store, i).await);
    }
    out
}

/// `iters` successful verifications spread over `tasks` tasks (each on its own account, as
/// concurrent users are); returns the wall time.
async fn run_tasks(
    store: &Arc<dyn Store>,
    accounts: &[Arc<Account>],
    tasks: usize,
    iters: u64,
) -> Duration {
    let per_task = iters.div_ceil(tasks as u64);
    let start = Instant::now();
    let handles: Vec<_> = accounts
        .iter()
        .take(tasks)
        .map(|account| {
            let (store, account) = (Arc::clone(store), Arc::clone(account));
            tokio::spawn(async move {
                for _ in 0..per_task {
                    verify_ok(&store, &account).await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    start.elapsed()
}

fn url(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

fn store_sql(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let sqlite = rt.block_on(async {
        let s = SqliteStore::open(dir.path().join("bench.db"), SqlStoreConfig::default())
            .await
            .unwrap();
        s.migrate().await.unwrap();
        s
    });
    bench_backend(c, &rt, "sqlite_file", Arc::new(sqlite));

    let pg_url = url(
        "MFA_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    let config = SqlStoreConfig::new("mfa_")
        .unwrap()
        .with_schema("mfa_bench")
        .unwrap();
    match rt.block_on(PgStore::connect(&pg_url, config)) {
        Ok(pg) => {
            rt.block_on(pg.migrate()).unwrap();
            bench_backend(c, &rt, "postgres", Arc::new(pg));
        }
        Err(e) => eprintln!("store_sql: skipping postgres, {pg_url} unreachable: {e}"),
    }

    let my_url = url("MFA_MYSQL_URL", "mysql://root@127.0.0.1:3306/test");
    match rt.block_on(MySqlStore::connect(
        &my_url,
        SqlStoreConfig::new("mfa_bench_").unwrap(),
    )) {
        Ok(my) => {
            rt.block_on(my.migrate()).unwrap();
            bench_backend(c, &rt, "mysql", Arc::new(my));
        }
        Err(e) => eprintln!("store_sql: skipping mysql, {my_url} unreachable: {e}"),
    }
}

criterion_group! {
    name = store;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = store_sql
}
criterion_main!(store);
