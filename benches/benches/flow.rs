// Benchmark fixtures: a failure is a broken set-up, and the per-login numbers are the output.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]
//! A full TOTP login through the `mfa` facade, on each store: `begin_login` (after the
//! password) and `verify(Proof::Totp)` of a right code. Group `flow`, ids `<backend>/login`.
//!
//! Before the criterion run, for each backend, one login is measured twice outside criterion:
//! its store round trips (every store call, counted by
//! [`mfa_store::testkit::Instrumented`], with the per-operation breakdown) and its heap
//! allocations (`allocation_counter::measure`, on the bench thread; the runtime is
//! current-thread so the client and connection tasks run there too, but SQLite's own worker
//! thread is not counted). Note that `allocation-counter` is this binary's global allocator, so
//! every latency here includes its small per-allocation bookkeeping.
//!
//! Each iteration uses a fresh TOTP time step: a manual clock, started at the real time (Redis
//! expires keys on its own clock), moves 30 s per login, so replay refusal never rejects it.
//!
//! Servers: `MFA_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`, a schema of
//! its own, dropped at the end), `MFA_REDIS_URL` (default `redis://127.0.0.1:6379`, a random key
//! prefix, deleted at the end); an unreachable server is skipped with a message. SQLite uses a
//! file in a temp dir.
//!
//! `cargo bench -p mfa-benches --bench flow`

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use mfa::core::{Algorithm, Digits, KeyUri, Secret, Totp, TotpParams};
use mfa::mail::{EmailAddress, MemoryOutbox};
use mfa::{
    ClientInfo, EnrollmentOutcome, Keyring, LoginStart, MailSettings, ManualClock, Mfa, Pepper,
    Policy, Proof, SealingKey, Store, TotpOptions, VerifyOptions,
};
use mfa_store::MemoryStore;
use mfa_store::testkit::Instrumented;
use mfa_store_redis::{KeyPrefix, RedisConfig, RedisStore};
// The schema name spliced into SQL below is made here from hex digits, never from input.
use mfa_store_sql::sqlx::AssertSqlSafe;
use mfa_store_sql::{PgStore, SqlStoreConfig, SqliteStore};
use tokio::runtime::Runtime;

const USER: &str = "bench-user";
/// Seconds the clock moves per login: two TOTP steps. With one step, a code that happens to equal
/// the next step's code (one chance in a million per login, and criterion runs millions) is
/// matched at that next step, whose reuse the following login then rightly refuses.
const STEP: u64 = 60;

/// A backend's store and what removes its data at the end.
struct Backend {
    name: &'static str,
    store: Arc<dyn Store>,
    cleanup: Pin<Box<dyn Future<Output = ()>>>,
}

/// A facade on `store` with the given clock, configured as the facade tests do.
fn facade(store: Arc<dyn Store>, clock: &ManualClock) -> Mfa {
    let mail = MailSettings::new(
        "Acme",
        EmailAddress::parse("no-reply@acme.test").unwrap(),
        EmailAddress::parse("help@acme.test").unwrap(),
    );
    Mfa::builder()
        .store(store)
        .mailer(Arc::new(MemoryOutbox::new()))
        .keyring(Keyring::new(
            1,
            SealingKey::from_bytes(&[0x11; 32]).unwrap(),
        ))
        .pepper(Pepper::from_bytes(&[0x5a; 32]).unwrap())
        .policy(Policy::authenticator_setup())
        .clock(Arc::new(clock.clone()))
        .issuer("Acme")
        .mail_settings(mail)
        .build()
        .unwrap()
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some("198.51.100.7".into()),
        user_agent: Some("bench-agent".into()),
    }
}

/// One user's login flow on one backend: a plain facade (timed) and an instrumented one over the
/// same store and clock (for the round-trip count).
struct Flow {
    mfa: Mfa,
    counted: Mfa,
    instrumented: Arc<Instrumented>,
    clock: ManualClock,
    totp: Totp,
}

impl Flow {
    async fn new(store: Arc<dyn Store>) -> Self {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let clock = ManualClock::at_unix_secs(now.as_secs());
        let instrumented = Arc::new(Instrumented::new(store.clone()));
        let mfa = facade(store, &clock);
        let counted = facade(instrumented.clone(), &clock);
        let enrollment = mfa
            .start_totp_enrollment(USER, "Phone", TotpOptions::new())
            .await
            .unwrap();
        let uri = KeyUri::parse(enrollment.key_uri()).unwrap();
        let secret = Secret::from_base32(enrollment.secret_base32()).unwrap();
        let totp = Totp::new(
            &secret,
            TotpParams {
                algorithm: uri.algorithm,
                digits: Digits::new(uri.digits.get()).unwrap(),
                ..TotpParams::default()
            },
        );
        assert_eq!(uri.algorithm, Algorithm::Sha1);
        let flow = Self {
            mfa,
            counted,
            instrumented,
            clock,
            totp,
        };
        let code = flow.code_now();
        let done = flow
            .mfa
            .finish_totp_enrollment(USER, &code, &client())
            .await
            .unwrap();
        assert!(
            matches!(done, EnrollmentOutcome::Confirmed { .. }),
            "{done:?}"
        );
        flow
    }

    /// Moves the clock to the next time step and returns that step's code.
    fn next_code(&self) -> String {
        self.clock.advance(Duration::from_secs(STEP));
        self.code_now()
    }

    fn code_now(&self) -> String {
        use mfa::Clock as _;
        let code = self.totp.generate_at(self.clock.unix_secs()).unwrap();
        code.expose().to_string()
    }

    /// One login with `code` (already the current step's): begin, then verify; panics unless
    /// verified.
    async fn login(mfa: &Mfa, code: &str) {
        let start = mfa.begin_login(USER, None, &client()).await.unwrap();
        let LoginStart::ChallengeRequired { challenge_id, .. } = start else {
            panic!("expected a challenge, got {start:?}");
        };
        let id = challenge_id.expose();
        let outcome = mfa
            .verify(&id, Proof::Totp(code), &client(), VerifyOptions::new())
            .await
            .unwrap();
        assert!(outcome.is_verified(), "{outcome:?}");
    }

    /// Prints the store round trips and heap allocations of one steady-state login.
    fn report(&self, rt: &Runtime, name: &str) {
        // Warm up: connections open, statements prepared, counters created.
        for _ in 0..3 {
            let code = self.next_code();
            rt.block_on(Self::login(&self.mfa, &code));
        }
        let code = self.next_code();
        self.instrumented.reset_calls();
        rt.block_on(Self::login(&self.counted, &code));
        let breakdown: Vec<String> = self
            .instrumented
            .calls_by_operation()
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect();
        println!(
            "flow {name}: {} store round trips per login ({})",
            self.instrumented.calls(),
            breakdown.join(", ")
        );
        let mut counts = Vec::new();
        let mut bytes = Vec::new();
        for _ in 0..10 {
            let code = self.next_code();
            let info = allocation_counter::measure(|| rt.block_on(Self::login(&self.mfa, &code)));
            counts.push(info.count_total);
            bytes.push(info.bytes_total);
        }
        counts.sort_unstable();
        bytes.sort_unstable();
        println!(
            "flow {name}: heap allocations per login: median {} (min {}, max {}), median {} bytes, over 10 logins",
            counts[5], counts[0], counts[9], bytes[5]
        );
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// A suffix no other run uses (process id and the time in nanoseconds, in hex).
fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{:08x}{nanos:08x}", std::process::id())
}

fn memory() -> Backend {
    Backend {
        name: "memory",
        store: Arc::new(MemoryStore::new()),
        cleanup: Box::pin(async {}),
    }
}

async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("mfa.db"), SqlStoreConfig::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    Backend {
        name: "sqlite",
        store: Arc::new(store),
        cleanup: Box::pin(async move {
            pool.close().await;
            drop(dir);
        }),
    }
}

async fn postgres() -> Option<Backend> {
    let url = env_or(
        "MFA_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    let schema = format!("mfa_flow_bench_{}", unique());
    let config = SqlStoreConfig::default().with_schema(&schema).unwrap();
    let store = match PgStore::connect(&url, config).await {
        Ok(store) => store,
        Err(error) => {
            println!("flow: postgres skipped, unreachable at {url} ({error})");
            return None;
        }
    };
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    Some(Backend {
        name: "postgres",
        store: Arc::new(store),
        cleanup: Box::pin(async move {
            let drop_schema = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            if let Err(error) = mfa_store_sql::sqlx::query(AssertSqlSafe(drop_schema))
                .execute(&pool)
                .await
            {
                eprintln!("flow: dropping schema {schema} failed: {error}");
            }
            pool.close().await;
        }),
    })
}

async fn redis() -> Option<Backend> {
    let url = env_or("MFA_REDIS_URL", "redis://127.0.0.1:6379");
    let prefix = KeyPrefix::new(&format!("mfa-flow-bench-{}", unique())).unwrap();
    let store = match RedisStore::connect(&url, RedisConfig::with_prefix(prefix)).await {
        Ok(store) => store,
        Err(error) => {
            println!("flow: redis skipped, unreachable at {url} ({error})");
            return None;
        }
    };
    let handle = store.clone();
    Some(Backend {
        name: "redis",
        store: Arc::new(store),
        cleanup: Box::pin(async move {
            if let Err(error) = handle.delete_all_keys().await {
                eprintln!("flow: deleting the bench keys failed: {error}");
            }
        }),
    })
}

fn flow(c: &mut Criterion) {
    // Current-thread: one login runs on the bench thread end to end, so the allocation count
    // sees the client side of every backend (and nothing of criterion's).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut backends = vec![memory(), rt.block_on(sqlite())];
    backends.extend(rt.block_on(postgres()));
    backends.extend(rt.block_on(redis()));

    let flows: Vec<Flow> = backends
        .iter()
        .map(|backend| rt.block_on(Flow::new(backend.store.clone())))
        .collect();
    for (backend, flow) in backends.iter().zip(&flows) {
        flow.report(&rt, backend.name);
    }

    let mut group = c.benchmark_group("flow");
    for (backend, flow) in backends.iter().zip(&flows) {
        group.bench_function(format!("{}/login", backend.name), |b| {
            b.iter_custom(|iters| {
                // Codes are computed outside the timed part; the clock moves one step per login.
                let start_secs = {
                    use mfa::Clock as _;
                    flow.clock.unix_secs()
                };
                let codes: Vec<String> = (1..=iters)
                    .map(|i| {
                        let at = start_secs + i * STEP;
                        flow.totp.generate_at(at).unwrap().expose().to_string()
                    })
                    .collect();
                rt.block_on(async {
                    let start = Instant::now();
                    for code in &codes {
                        flow.clock.advance(Duration::from_secs(STEP));
                        Flow::login(&flow.mfa, code).await;
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();

    drop(flows);
    for backend in backends {
        rt.block_on(backend.cleanup);
    }
}

criterion_group!(benches, flow);
criterion_main!(benches);
