// A benchmark driver: its output is stdout, and a broken set-up ends it with a message.
#![allow(clippy::print_stdout, clippy::print_stderr)]
//! Full TOTP logins per second through the `mfa` facade, with `tasks` concurrent tasks for
//! `seconds`, on one backend.
//!
//! ```text
//! login-throughput <memory|sqlite|postgres|mysql|redis> <tasks> <seconds>
//! cargo run --release -p mfa-benches --bin login-throughput -- postgres 32 10
//! ```
//!
//! A login is what an application does after the password was checked: `begin_login` (which
//! answers "a TOTP code is required" with a challenge), then `verify` of the right code; it
//! must come back verified, or the run fails (exit status 1). Since the facade is at four store
//! round trips per login (`cargo bench -p mfa-benches --bench flow` counts them), this measures
//! those four, the facade around them and the client library.
//!
//! **Accounts and time.** Each task is one user: its own account, enrolled before the run, its
//! own client address, and its own facade over the one shared store (and its pool). A TOTP code
//! is single-use per time step, so one login per user per 30 s step would measure the clock, not
//! the store. Each task's facade therefore has its own manual clock, started at the real time
//! (Redis expires keys on its own clock) and moved 60 s (two steps: see `STEP`) before each
//! login. The store sees every login in full: each one opens a ticket, spends a try and consumes
//! it, advances the account's TOTP step (a replay is refused as in production) and appends its
//! audit record. The first three logins of each task, not timed, warm up connections and
//! statements and make the task's network a recognised one (the steady state of a returning
//! user); timing starts when every task is warm.
//!
//! **Output** (`key=value` lines, for scripts): the logins completed, logins per second over the
//! whole run, the median, 99th-percentile and mean latency of one login (`begin_login` +
//! `verify`), this process's CPU time per login over the run (Linux: the client's share of the
//! cost; for SQLite it includes the database, which runs in-process), and the heap allocations
//! of one login. Allocations are counted after the run, in a separate pass with one task on a
//! current-thread runtime over a fresh store of the same backend (the counter sees one thread:
//! SQLite's own worker thread is not counted); their median over 100 logins is printed.
//!
//! **Stores.** PostgreSQL and MySQL/MariaDB stores live in a throwaway schema or database of
//! `mfa-store-sql`'s test kit (`MFA_POSTGRES_URL`, `MFA_MYSQL_URL`), reached through a pool of
//! `tasks` connections, as a server sized for that many concurrent requests would have; SQLite is
//! the kit's throwaway file (WAL, its pool of 8); Redis is `mfa-store-redis`'s throwaway prefix
//! (`MFA_REDIS_URL`; the store multiplexes every task on one connection). Everything is removed
//! at the end.

use std::error::Error;
use std::future::{Future, IntoFuture as _};
use std::pin::Pin;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mfa::core::{KeyUri, Secret, Totp, TotpParams};
use mfa::mail::MemoryOutbox;
use mfa::{
    Authority, ClientInfo, Clock as _, EmailAddress, EnrollmentOutcome, Keyring, LoginStart,
    MailSettings, ManualClock, Mfa, Pepper, Policy, Proof, SealingKey, Store, TotpOptions,
    VerifyOptions,
};
use mfa_store::MemoryStore;
use mfa_store_sql::sqlx::mysql::MySqlConnectOptions;
use mfa_store_sql::{MySqlStore, PgStore, SqlStoreConfig, SqliteStore};

/// Any failure: the run stops and says why.
type Fail = Box<dyn Error + Send + Sync>;

/// Seconds a task's clock moves per login: two TOTP steps, so that a code which happens to equal
/// the next step's code cannot be matched at that next step (whose reuse the following login
/// would then rightly refuse).
const STEP: u64 = 60;
/// Untimed logins per task before the run.
const WARM_UP: usize = 3;
/// Logins of the allocation pass.
const ALLOCATION_LOGINS: usize = 100;

/// The backends this driver knows.
#[derive(Clone, Copy)]
enum Kind {
    Memory,
    Sqlite,
    Postgres,
    MySql,
    Redis,
}

impl Kind {
    /// The name the command line takes.
    fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
            Self::Redis => "redis",
        }
    }
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "memory" => Self::Memory,
            "sqlite" => Self::Sqlite,
            "postgres" | "postgresql" => Self::Postgres,
            "mysql" | "mariadb" => Self::MySql,
            "redis" => Self::Redis,
            other => return Err(format!("unknown backend {other:?}")),
        })
    }
}

/// A store and what removes its data at the end.
struct Backend {
    store: Arc<dyn Store>,
    cleanup: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Backend {
    /// A fresh store of `kind`, with a pool of `connections` where the backend has a pool.
    async fn open(kind: Kind, connections: u32) -> Result<Self, Fail> {
        match kind {
            Kind::Memory => Ok(Self {
                store: Arc::new(MemoryStore::new()),
                cleanup: Box::pin(async {}),
            }),
            Kind::Sqlite => {
                let (store, cleanup) = SqliteStore::throwaway().await.into_parts();
                Ok(Self {
                    store: Arc::new(store),
                    cleanup,
                })
            }
            Kind::Postgres => {
                let throwaway = PgStore::throwaway().await.ok_or("PostgreSQL unreachable")?;
                let config = SqlStoreConfig::default().with_schema(throwaway.name())?;
                let pool = PgStore::pool_options()
                    .max_connections(connections)
                    .connect(&mfa_store_sql::testkit::postgres_url())
                    .await?;
                let (_, remove) = throwaway.into_parts();
                let closing = pool.clone();
                let store = PgStore::from_pool(pool, config);
                Ok(Self::sql(
                    Arc::new(store),
                    async move { closing.close().await },
                    remove,
                ))
            }
            Kind::MySql => {
                let throwaway = MySqlStore::throwaway().await.ok_or("MySQL unreachable")?;
                let options = MySqlConnectOptions::from_str(&mfa_store_sql::testkit::mysql_url())?
                    .database(throwaway.name());
                let pool = MySqlStore::pool_options()
                    .max_connections(connections)
                    .connect_with(options)
                    .await?;
                let (_, remove) = throwaway.into_parts();
                let closing = pool.clone();
                let store = MySqlStore::from_pool(pool, SqlStoreConfig::default());
                Ok(Self::sql(
                    Arc::new(store),
                    async move { closing.close().await },
                    remove,
                ))
            }
            Kind::Redis => {
                let (store, cleanup) =
                    mfa_store_redis::testkit::throwaway_store("login-throughput")
                        .await
                        .ok_or("Redis unreachable")?;
                Ok(Self {
                    store: Arc::new(store),
                    cleanup: Box::pin(cleanup.into_future()),
                })
            }
        }
    }

    /// A SQL store on a pool of the benchmark's own, in the kit's throwaway schema or database:
    /// the cleanup closes the pool, then lets the kit remove the data.
    fn sql(
        store: Arc<dyn Store>,
        close_pool: impl Future<Output = ()> + Send + 'static,
        remove: mfa_store_sql::testkit::Cleanup,
    ) -> Self {
        Self {
            store,
            cleanup: Box::pin(async move {
                close_pool.await;
                remove.await;
            }),
        }
    }
}

/// One user with a confirmed authenticator, and the facade (with its own clock) it logs in
/// through.
struct Account {
    user: String,
    mfa: Mfa,
    clock: ManualClock,
    totp: Totp,
    client: ClientInfo,
}

impl Account {
    /// Enrols user number `n` on `store`.
    async fn enrol(store: Arc<dyn Store>, n: usize) -> Result<Self, Fail> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let clock = ManualClock::at_unix_secs(now);
        let mfa = facade(store, &clock)?;
        let user = format!("bench-user-{n}");
        let octets = u16::try_from(n)?.to_be_bytes();
        let client = ClientInfo::new(format!("10.1.{}.{}", octets[0], octets[1]).parse()?)
            .with_user_agent("login-throughput");
        let enrollment = mfa
            .start_totp_enrollment(
                &user,
                Authority::FirstFactor,
                "Phone",
                TotpOptions::new(),
                &client,
            )
            .await?;
        let uri = KeyUri::parse(enrollment.key_uri())?;
        let secret = Secret::from_base32(enrollment.secret_base32())?;
        let params = TotpParams {
            algorithm: uri.algorithm,
            digits: uri.digits,
            ..TotpParams::default()
        };
        let account = Self {
            totp: Totp::new(&secret, params),
            user,
            mfa,
            clock,
            client,
        };
        let code = account.code()?;
        let done = account
            .mfa
            .finish_totp_enrollment(
                &account.user,
                Authority::FirstFactor,
                &code,
                &account.client,
            )
            .await?;
        if !matches!(done, EnrollmentOutcome::Confirmed { .. }) {
            return Err(format!("enrolment of {} not confirmed: {done:?}", account.user).into());
        }
        Ok(account)
    }

    /// The code of the clock's current step.
    fn code(&self) -> Result<String, Fail> {
        let code = self.totp.generate_at(self.clock.unix_secs())?;
        Ok(code.expose().as_str().to_owned())
    }

    /// Moves to a fresh step and logs in with its code; returns the time `begin_login` and
    /// `verify` took together.
    async fn login(&self) -> Result<Duration, Fail> {
        self.clock.advance(Duration::from_secs(STEP));
        let code = self.code()?;
        let start = Instant::now();
        let begun = self.mfa.begin_login(&self.user, None, &self.client).await?;
        let LoginStart::ChallengeRequired { challenge_id, .. } = begun else {
            return Err(format!("{}: expected a challenge, got {begun:?}", self.user).into());
        };
        let outcome = self
            .mfa
            .verify(
                &challenge_id,
                Proof::Totp(&code),
                &self.client,
                VerifyOptions::new(),
            )
            .await?;
        let took = start.elapsed();
        if !outcome.is_verified() {
            return Err(format!("{}: the right code was refused: {outcome:?}", self.user).into());
        }
        Ok(took)
    }
}

/// A facade on `store` with `clock`, configured as the facade tests and the flow bench do.
fn facade(store: Arc<dyn Store>, clock: &ManualClock) -> Result<Mfa, Fail> {
    let mail = MailSettings::new(
        "Acme",
        EmailAddress::parse("no-reply@acme.test")?,
        EmailAddress::parse("help@acme.test")?,
    );
    Ok(Mfa::builder()
        .store(store)
        .mailer(Arc::new(MemoryOutbox::new()))
        .keyring(Keyring::new(1, SealingKey::from_bytes(&[0x11; 32])?))
        .pepper(Pepper::from_bytes(&[0x5a; 32])?)
        .policy(Policy::authenticator_setup())
        .clock(Arc::new(clock.clone()))
        .issuer("Acme")
        .mail_settings(mail)
        .build()?)
}

/// What the timed run measured.
struct Run {
    latencies: Vec<Duration>,
    elapsed: Duration,
    /// This process's CPU time over the timed run, where the platform says (Linux).
    cpu: Option<Duration>,
}

/// This process's user + system CPU time so far, from `/proc/self/stat` (Linux; `None`
/// elsewhere). The kernel reports it in ticks of 1/100 s (`USER_HZ`, fixed by its ABI).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after its ')' are plain.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis(
        user.checked_add(system)?.checked_mul(10)?,
    ))
}

/// `tasks` users log in concurrently for `seconds` after warming up.
async fn throughput(store: Arc<dyn Store>, tasks: usize, seconds: u64) -> Result<Run, Fail> {
    let mut accounts = Vec::with_capacity(tasks);
    for n in 0..tasks {
        accounts.push(Account::enrol(store.clone(), n).await?);
    }
    let warming: Vec<_> = accounts
        .into_iter()
        .map(|account| {
            tokio::spawn(async move {
                for _ in 0..WARM_UP {
                    account.login().await?;
                }
                Ok::<_, Fail>(account)
            })
        })
        .collect();
    let mut accounts = Vec::with_capacity(tasks);
    for warm in warming {
        accounts.push(warm.await??);
    }
    // One deadline for all: the run is the same window of time for every task.
    let cpu_before = process_cpu();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let running: Vec<_> = accounts
        .into_iter()
        .map(|account| {
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    latencies.push(account.login().await?);
                    // A login on the memory store never waits: let the other tasks of this
                    // worker thread run, as a server's request tasks would.
                    tokio::task::yield_now().await;
                }
                Ok::<_, Fail>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in running {
        latencies.extend(task.await??);
    }
    let elapsed = start.elapsed();
    let cpu = process_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    Ok(Run {
        latencies,
        elapsed,
        cpu,
    })
}

/// The median heap allocations of one login on the current thread (after a warm-up).
fn allocations(kind: Kind) -> Result<u64, Fail> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let backend = rt.block_on(Backend::open(kind, 1))?;
    let measured = (|| {
        let account = rt.block_on(Account::enrol(backend.store.clone(), 0))?;
        for _ in 0..WARM_UP {
            rt.block_on(account.login())?;
        }
        let mut counts = Vec::with_capacity(ALLOCATION_LOGINS);
        for _ in 0..ALLOCATION_LOGINS {
            let mut result = Ok(Duration::ZERO);
            let info = allocation_counter::measure(|| result = rt.block_on(account.login()));
            result?;
            counts.push(info.count_total);
        }
        counts.sort_unstable();
        Ok::<_, Fail>(counts[counts.len() / 2])
    })();
    rt.block_on(backend.cleanup);
    measured
}

/// The `q`-quantile of sorted `values` (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank: ceil(q n), 1-based.
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn micros(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

/// Parses the arguments, runs, prints.
fn run(args: &[String]) -> Result<(), Fail> {
    let [kind, tasks, seconds] = args else {
        return Err(
            "usage: login-throughput <memory|sqlite|postgres|mysql|redis> <tasks> <seconds>".into(),
        );
    };
    let kind: Kind = kind.parse()?;
    let tasks: usize = tasks.parse()?;
    let seconds: u64 = seconds.parse()?;
    if tasks == 0 || seconds == 0 {
        return Err("tasks and seconds must be at least 1".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut run = rt.block_on(async {
        let backend = Backend::open(kind, u32::try_from(tasks)?).await?;
        let run = throughput(backend.store.clone(), tasks, seconds).await;
        backend.cleanup.await;
        run
    })?;
    drop(rt);
    run.latencies.sort_unstable();
    let logins = run.latencies.len();
    let total: Duration = run.latencies.iter().sum();
    let mean = total / u32::try_from(logins.max(1))?;
    println!("backend={} tasks={tasks} seconds={seconds}", kind.name());
    println!("logins={logins}");
    println!(
        "logins_per_second={:.1}",
        logins as f64 / run.elapsed.as_secs_f64()
    );
    println!("latency_p50_us={}", micros(quantile(&run.latencies, 0.50)));
    println!("latency_p99_us={}", micros(quantile(&run.latencies, 0.99)));
    println!("latency_mean_us={}", micros(mean));
    if let Some(cpu) = run.cpu {
        // The client's side: the facade, the store and its driver (for SQLite also the
        // database, which runs in this process).
        println!(
            "client_cpu_us_per_login={}",
            micros(cpu / u32::try_from(logins.max(1))?)
        );
    }
    println!("allocations_per_login={}", allocations(kind)?);
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("login-throughput: {e}");
            ExitCode::FAILURE
        }
    }
}
