//! Verifications per second against PostgreSQL: `tasks` concurrent tasks, each doing the store
//! work of successful TOTP verifications (the batch counter read and `advance_totp_step`, two
//! statements in autocommit) on its own account, for `seconds`: the store work of a verification
//! alone. (`benches/pg_ratio.sh` measures whole logins with `mfa-benches`' `login-throughput`.)
//!
//! `cargo run --release -p mfa-store-sql --features postgres --example sql_throughput -- 32 10`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use mfa_core::{Keyring, SealingKey, Secret};
use mfa_store::{CounterKey, CounterScope, NewTotpFactor, Store};
use mfa_store_sql::sqlx::postgres::PgPoolOptions;
use mfa_store_sql::{PgStore, SqlStoreConfig};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let tasks: usize = args.next().map_or(32, |a| a.parse().unwrap());
    let seconds: u64 = args.next().map_or(10, |a| a.parse().unwrap());
    let url = std::env::var("MFA_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(tasks).unwrap())
        .connect(&url)
        .await
        .unwrap();
    let config = SqlStoreConfig::new("mfa_")
        .unwrap()
        .with_schema("mfa_ratio")
        .unwrap();
    let pg = PgStore::from_pool(pool, config);
    pg.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(pg);

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let (store, done) = (Arc::clone(&store), Arc::clone(&done));
        let user = format!("ratio-{}-{task}", std::process::id());
        handles.push(tokio::spawn(async move {
            let keyring = Keyring::new(1, SealingKey::generate().unwrap());
            let sealed = keyring
                .seal(&Secret::generate().unwrap(), &user, "f")
                .unwrap();
            store
                .insert_pending_totp(NewTotpFactor {
                    user: user.clone(),
                    id: "f".into(),
                    sealed_secret: sealed,
                    algorithm: mfa_core::Algorithm::Sha1,
                    digits: mfa_core::Digits::SIX,
                    period: mfa_core::Period::THIRTY_SECONDS,
                    label: "ratio".into(),
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
            let mut step = 2_u64;
            while Instant::now() < deadline {
                let now = SystemTime::now();
                store.counters(&keys, now).await.unwrap();
                assert!(store.advance_totp_step(&user, "f", step).await.unwrap());
                step += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!("verifications={n} seconds={elapsed:.2} tasks={tasks}");
    println!("verifications_per_second={:.0}", n as f64 / elapsed);
}
