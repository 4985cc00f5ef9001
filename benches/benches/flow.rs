// Benchmark fixtures: a failure is a broken set-up, and the per-login numbers are the output.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
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
//! The measured logins come from the user's usual network, which the facade *recognises* once a
//! login completed from it (the warm-up does): that is the steady state of a returning user. The
//! round trips of a login from a network the user never signed in from (its budgets are those of
//! unrecognised contexts, and the network is remembered at the end) are printed too, once.
//!
//! Each iteration uses a fresh TOTP time step: a manual clock, started at the real time (Redis
//! expires keys on its own clock), moves 30 s per login, so replay refusal never rejects it.
//!
//! Stores: the backends' throwaway stores (`PgStore::throwaway`, `SqliteStore::throwaway`,
//! `mfa_store_redis::testkit::throwaway_store`: a schema, file or initialised key prefix of its
//! own, removed at the end) on `MFA_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and `MFA_REDIS_URL` (default
//! `redis://127.0.0.1:6379`); an unreachable server is skipped with a message (a failure under
//! `MFA_REQUIRE_SERVICES=1`).
//!
//! `cargo bench -p mfa-benches --bench flow`

use std::future::{Future, IntoFuture as _};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use mfa::core::{Algorithm, Digits, KeyUri, Secret, Totp, TotpParams};
use mfa::mail::MemoryOutbox;
use mfa::{
    Authority, ClientInfo, EmailAddress, EnrollmentOutcome, Keyring, LoginStart, MailSettings,
    ManualClock, Mfa, Pepper, Policy, Proof, SealingKey, Store, TotpOptions, VerifyOptions,
};
use mfa_store::MemoryStore;
use mfa_store::testkit::Instrumented;
use mfa_store_sql::{PgStore, SqliteStore};
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

/// The user's usual network (recognised after the first completed login).
fn client() -> ClientInfo {
    ClientInfo::new("198.51.100.7".parse().unwrap()).with_user_agent("bench-agent")
}

/// A network the user never signed in from.
fn new_network() -> ClientInfo {
    ClientInfo::new("203.0.113.7".parse().unwrap()).with_user_agent("bench-agent")
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
            .start_totp_enrollment(
                USER,
                Authority::FirstFactor,
                "Phone",
                TotpOptions::new(),
                &client(),
            )
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
            .finish_totp_enrollment(USER, Authority::FirstFactor, &code, &client())
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

    /// One login with `code` (already the current step's) from the user's usual network:
    /// begin, then verify; panics unless verified.
    async fn login(mfa: &Mfa, code: &str) {
        Self::login_from(mfa, code, &client()).await;
    }

    /// One login with `code` from `from`.
    async fn login_from(mfa: &Mfa, code: &str, from: &ClientInfo) {
        let start = mfa.begin_login(USER, None, from).await.unwrap();
        let LoginStart::ChallengeRequired { challenge_id, .. } = start else {
            panic!("expected a challenge, got {start:?}");
        };
        let outcome = mfa
            .verify(&challenge_id, Proof::Totp(code), from, VerifyOptions::new())
            .await
            .unwrap();
        assert!(outcome.is_verified(), "{outcome:?}");
    }

    /// The store calls of one login with `code` from `from` on the instrumented facade: the
    /// total, and "operation n, ..." per operation.
    fn count(&self, rt: &Runtime, code: &str, from: &ClientInfo) -> (u64, String) {
        self.instrumented.reset_calls();
        rt.block_on(Self::login_from(&self.counted, code, from));
        let breakdown: Vec<String> = self
            .instrumented
            .calls_by_operation()
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect();
        (self.instrumented.calls(), breakdown.join(", "))
    }

    /// Prints the store round trips and heap allocations of one steady-state login.
    fn report(&self, rt: &Runtime, name: &str) {
        // Warm up: connections open, statements prepared, counters created.
        for _ in 0..3 {
            let code = self.next_code();
            rt.block_on(Self::login(&self.mfa, &code));
        }
        let code = self.next_code();
        let (calls, breakdown) = self.count(rt, &code, &new_network());
        println!(
            "flow {name}: {calls} store round trips for a login from a new network ({breakdown})"
        );
        let code = self.next_code();
        let (calls, breakdown) = self.count(rt, &code, &client());
        println!("flow {name}: {calls} store round trips per login ({breakdown})");
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

fn memory() -> Backend {
    Backend {
        name: "memory",
        store: Arc::new(MemoryStore::new()),
        cleanup: Box::pin(async {}),
    }
}

async fn sqlite() -> Backend {
    let (store, cleanup) = SqliteStore::throwaway().await.into_parts();
    Backend {
        name: "sqlite",
        store: Arc::new(store),
        cleanup,
    }
}

async fn postgres() -> Option<Backend> {
    let (store, cleanup) = PgStore::throwaway().await?.into_parts();
    Some(Backend {
        name: "postgres",
        store: Arc::new(store),
        cleanup,
    })
}

async fn redis() -> Option<Backend> {
    let (store, cleanup) = mfa_store_redis::testkit::throwaway_store("flow bench").await?;
    Some(Backend {
        name: "redis",
        store: Arc::new(store),
        cleanup: Box::pin(cleanup.into_future()),
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
