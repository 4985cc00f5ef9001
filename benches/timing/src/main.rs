//! A dudect-style timing harness ("dude, is my code constant time?", Reparaz, Balasch and
//! Verbauwhede, 2017): for each case, two classes of input are measured interleaved in a random
//! order, and Welch's t-test compares the two distributions of execution times. A large |t|
//! means the time depends on the class, which an attacker could learn; below 4.5 no
//! dependence is visible at this sample size, and above 10 it is certain (dudect's "definitely
//! not constant time").
//!
//! As dudect does, each test is repeated on the samples below several percentiles of the pooled
//! times (cropping the long tail that interrupts and the scheduler add, which would otherwise
//! drown a small difference) and the largest |t| is reported.
//!
//! Cases (class A / class B), each input drawn untimed:
//! - `control`: `CodeDigest::ct_eq` against random digests / other random digests: the
//!   harness's own check, which must show nothing;
//! - `digest`: `CodeDigest::ct_eq` of a fixed digest against an equal one / random ones;
//! - `code`: `Code::ct_eq` of a fixed code against an equal one / random ones;
//! - `totp`: `Totp::verify_at` with ±1 step of the right code / random wrong codes;
//! - `email-control`: the `email-login` calls for addresses no account has, on both sides: the
//!   harness's own check for the facade cases;
//! - `email-login`: through the facade on the memory store, `begin_email_login`, `send_code` and
//!   `verify` of a guessed code for an address that has an account / one that has none;
//! - `ticket`: `verify` of a guessed code alone, against a known address's ticket / an unknown
//!   address's ticket (each with a code sent).
//!
//! Every case but `email-login` and `ticket` fails the run above |t| = 10 (see [`CASES`] for
//! why those two are reported only).
//!
//! The facade's mailer here is a no-op: what it measures is the facade's own work, and the
//! time an application's mailer takes to accept a message is the application's (deliver
//! through a queue, so that a login request does not wait for SMTP: `docs/threat-model.md`).
//!
//! `cargo run --release -p mfa-timing -- [--quick] [CASE...]`; CI runs `--quick`. The figures
//! are in `docs/performance.md`.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a measuring tool reports on the terminal

use std::fmt;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mfa::core::{Code, CodeDigest, Digits, Secret, Skew, Totp, TotpParams};
use mfa::mail::{EmailMessage, MailError, Mailer};
use mfa::store::MemoryStore;
use mfa::{
    Authority, ChallengeId, Channel, ClientInfo, EmailAddress, EnrollmentOutcome, Keyring,
    LoginStart, MailSettings, ManualClock, Mfa, Pepper, Policy, Proof, SealingKey, SendOutcome,
    VerifyOptions,
};
use tokio::runtime::Runtime;

/// Above this |t| a case fails.
const THRESHOLD: f64 = 10.0;
/// Below this |t| no dependence is visible (dudect's bound).
const CLEAN: f64 = 4.5;
/// The percentiles of the pooled times each test is repeated below (100: every sample).
const CROPS: [f64; 5] = [100.0, 99.0, 90.0, 75.0, 50.0];

/// Online mean and variance of each class (Welford), and Welch's t between them.
#[derive(Default, Clone, Copy)]
struct Welch {
    n: [f64; 2],
    mean: [f64; 2],
    m2: [f64; 2],
}

impl Welch {
    fn push(&mut self, class: usize, x: f64) {
        self.n[class] += 1.0;
        let delta = x - self.mean[class];
        self.mean[class] += delta / self.n[class];
        self.m2[class] += delta * (x - self.mean[class]);
    }

    fn t(&self) -> f64 {
        if self.n[0] < 2.0 || self.n[1] < 2.0 {
            return 0.0;
        }
        let var = |c: usize| self.m2[c] / (self.n[c] - 1.0);
        let se = (var(0) / self.n[0] + var(1) / self.n[1]).sqrt();
        if se == 0.0 {
            return 0.0;
        }
        (self.mean[0] - self.mean[1]) / se
    }
}

/// The measured samples of one case: a class (0 or 1) and a time in nanoseconds each.
struct Samples {
    class: Vec<u8>,
    nanos: Vec<f64>,
}

/// What one case found.
struct Report {
    name: &'static str,
    samples: usize,
    mean: [f64; 2],
    t: f64,
    crop: f64,
}

impl Report {
    fn of(name: &'static str, samples: &Samples) -> Self {
        // The first 1% warms caches and allocators up; it is not measured.
        let skip = samples.nanos.len() / 100;
        let class = &samples.class[skip..];
        let nanos = &samples.nanos[skip..];
        let mut sorted = nanos.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mut worst = (0.0_f64, 100.0);
        let mut all = Welch::default();
        for crop in CROPS {
            let index = ((sorted.len() as f64 * crop / 100.0) as usize).min(sorted.len() - 1);
            let limit = sorted[index];
            let mut welch = Welch::default();
            for (&c, &x) in class.iter().zip(nanos) {
                if x <= limit {
                    welch.push(usize::from(c), x);
                }
            }
            let t = welch.t();
            if crop == 100.0 {
                all = welch;
            }
            if t.abs() >= worst.0.abs() {
                worst = (t, crop);
            }
        }
        Self {
            name,
            samples: nanos.len(),
            mean: all.mean,
            t: worst.0,
            crop: worst.1,
        }
    }

    fn verdict(&self) -> &'static str {
        match self.t.abs() {
            t if t > THRESHOLD => "LEAK",
            t if t > CLEAN => "suspect",
            _ => "ok",
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<12} {:>9} samples  mean A {:>10.1} ns  B {:>10.1} ns  t {:>7.2} (below p{:<3})  {}",
            self.name,
            self.samples,
            self.mean[0],
            self.mean[1],
            self.t,
            self.crop,
            self.verdict()
        )
    }
}

/// Random class labels from the operating system's generator, one bit each.
struct Classes {
    bytes: [u8; 256],
    bit: usize,
}

impl Classes {
    fn new() -> Self {
        Self {
            bytes: [0; 256],
            bit: 256 * 8,
        }
    }

    fn next(&mut self) -> Result<usize, String> {
        if self.bit == self.bytes.len() * 8 {
            getrandom::fill(&mut self.bytes).map_err(|e| e.to_string())?;
            self.bit = 0;
        }
        let byte = self.bytes[self.bit / 8];
        let class = (byte >> (self.bit % 8)) & 1;
        self.bit += 1;
        Ok(usize::from(class))
    }
}

/// Random bytes, for the random class's inputs.
fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Measures `samples` runs of `run(class, input)`, each timed on its own, classes interleaved
/// at random; `prepare(class, i)` makes the input, untimed. A failed run fails the case: a call
/// that errs for one class only would make the classes differ for the wrong reason.
fn measure<P, S>(
    samples: usize,
    mut prepare: impl FnMut(usize, usize) -> Result<P, String>,
    mut run: impl FnMut(usize, P) -> Result<S, String>,
) -> Result<Samples, String> {
    let mut classes = Classes::new();
    let mut out = Samples {
        class: Vec::with_capacity(samples),
        nanos: Vec::with_capacity(samples),
    };
    for i in 0..samples {
        let class = classes.next()?;
        let input = prepare(class, i)?;
        let start = Instant::now();
        let result = black_box(run(class, black_box(input)));
        let elapsed = start.elapsed();
        result?;
        out.class.push(class as u8);
        out.nanos.push(elapsed.as_nanos() as f64);
    }
    Ok(out)
}

/// Comparisons per sample for the cheap cases (one comparison is a few nanoseconds, below the
/// clock's resolution).
const BATCH: usize = 64;
/// Inputs per class in the cheap cases.
const POOL: usize = 1024;

/// Times `op` over a batch of inputs drawn at random from class A's inputs or class B's.
///
/// Both classes' inputs live shuffled together in one vector, and a sample's positions in it
/// are drawn untimed: the timed code is the same for both classes and so is, on average, where
/// in memory their inputs lie. Only the values differ. (With one vector per class, the two
/// allocations' placement alone gave |t| near 17 on two identical classes: see the `control`
/// case.)
fn pooled<T>(
    samples: usize,
    a: Vec<T>,
    b: Vec<T>,
    batch: usize,
    op: impl Fn(&T) -> bool,
) -> Result<Samples, String> {
    let mut tagged: Vec<(u64, usize, T)> = Vec::with_capacity(a.len() + b.len());
    for (class, items) in [(0, a), (1, b)] {
        for item in items {
            tagged.push((u64::from_le_bytes(random()?), class, item));
        }
    }
    tagged.sort_by_key(|t| t.0);
    let mut positions: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    let mut flat = Vec::with_capacity(tagged.len());
    for (i, (_, class, item)) in tagged.into_iter().enumerate() {
        positions[class].push(i);
        flat.push(item);
    }
    measure(
        samples,
        |class, _| {
            let raw = random::<{ 2 * BATCH }>()?;
            let own = &positions[class];
            let mut idx = [0usize; BATCH];
            for (slot, pair) in idx.iter_mut().zip(raw.chunks_exact(2)) {
                *slot = own[usize::from(u16::from_le_bytes([pair[0], pair[1]])) % own.len()];
            }
            Ok(idx)
        },
        |_, idx| {
            let mut hits = 0u32;
            for &k in &idx[..batch] {
                hits += u32::from(op(black_box(&flat[k])));
            }
            Ok(hits)
        },
    )
}

fn digest_case(samples: usize) -> Result<Samples, String> {
    let fixed = CodeDigest::from_bytes(random()?);
    let equal: Vec<CodeDigest> = (0..POOL).map(|_| fixed.clone()).collect();
    let other: Vec<CodeDigest> = (0..POOL)
        .map(|_| random().map(CodeDigest::from_bytes))
        .collect::<Result<_, _>>()?;
    pooled(samples, equal, other, BATCH, |d| black_box(&fixed).ct_eq(d))
}

/// The harness's own check: both classes compare against random digests, so any |t| beyond
/// noise here is the machine or the harness, not the code measured.
fn control_case(samples: usize) -> Result<Samples, String> {
    let fixed = CodeDigest::from_bytes(random()?);
    let pool = || -> Result<Vec<CodeDigest>, String> {
        (0..POOL)
            .map(|_| random().map(CodeDigest::from_bytes))
            .collect()
    };
    let (a, b) = (pool()?, pool()?);
    pooled(samples, a, b, BATCH, |d| black_box(&fixed).ct_eq(d))
}

fn code_case(samples: usize) -> Result<Samples, String> {
    let fixed = Code::generate(Digits::SIX).map_err(|e| e.to_string())?;
    let copy = || Code::parse(&fixed.expose(), Digits::SIX).map_err(|e| e.to_string());
    let equal: Vec<Code> = (0..POOL).map(|_| copy()).collect::<Result<_, _>>()?;
    let other: Vec<Code> = (0..POOL)
        .map(|_| Code::generate(Digits::SIX))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    pooled(samples, equal, other, BATCH, |c| black_box(&fixed).ct_eq(c))
}

fn totp_case(samples: usize) -> Result<Samples, String> {
    const TIME: u64 = 1_111_111_111;
    let secret = Secret::from_bytes(&random::<20>()?).map_err(|e| e.to_string())?;
    let totp = Totp::new(&secret, TotpParams::default());
    let right = totp.generate_at(TIME).map_err(|e| e.to_string())?;
    let copy = || Code::parse(&right.expose(), Digits::SIX).map_err(|e| e.to_string());
    let rights: Vec<Code> = (0..POOL).map(|_| copy()).collect::<Result<_, _>>()?;
    // Random codes that match no step of the window.
    let mut wrongs = Vec::with_capacity(POOL);
    while wrongs.len() < POOL {
        let code = Code::generate(Digits::SIX).map_err(|e| e.to_string())?;
        if totp.verify_at(&code, TIME, Skew::ONE_STEP).is_none() {
            wrongs.push(code);
        }
    }
    // One verification (three HMACs) is long enough to time on its own.
    pooled(samples, rights, wrongs, 1, |c| {
        totp.verify_at(c, TIME, Skew::ONE_STEP).is_some()
    })
}

/// Addresses per class: each is used once every `2 * ADDRESSES` samples, far enough apart (on
/// the manual clock) that no quota or budget of an earlier sample is still counting.
const ADDRESSES: usize = 512;
/// Manual-clock seconds per sample.
const TICK: u64 = 3_600;

/// The facade on a memory store, with `ADDRESSES` accounts that confirmed their address
/// (class A's addresses) and as many addresses no account has (class B's). Every address has
/// the same length, so that no string work differs between the classes.
struct Flow {
    rt: Runtime,
    mfa: Mfa,
    clock: ManualClock,
    pools: [Vec<EmailAddress>; 2],
    outbox: Arc<mfa::mail::MemoryOutbox>,
}

fn address(text: &str) -> Result<EmailAddress, String> {
    EmailAddress::parse(text).map_err(|e| e.to_string())
}

fn facade(clock: &ManualClock, mailer: Arc<dyn Mailer>) -> Result<Mfa, String> {
    let mail = MailSettings::new(
        "Acme",
        address("no-reply@acme.test")?,
        address("help@acme.test")?,
    );
    Mfa::builder()
        .store(Arc::new(MemoryStore::new()))
        .mailer(mailer)
        .keyring(Keyring::new(
            1,
            SealingKey::from_bytes(&random::<32>()?).map_err(|e| e.to_string())?,
        ))
        .pepper(Pepper::from_bytes(&random::<32>()?).map_err(|e| e.to_string())?)
        .policy(Policy::email_link_login())
        .clock(Arc::new(clock.clone()))
        .issuer("Acme")
        .mail_settings(mail)
        .build()
        .map_err(|e| e.to_string())
}

/// A client on a network of its own (a /24 per sample, cycling after 65,536, hours of clock
/// apart): as an attacker's would be, and never near a per-network budget.
fn client(i: usize) -> ClientInfo {
    let [_, _, a, b] = (i as u32).to_be_bytes();
    ClientInfo::new(IpAddr::V4(Ipv4Addr::new(10, a, b, 1)))
}

impl Flow {
    /// With `control`, class A's addresses have no account either: the harness's own check.
    fn new(control: bool) -> Result<Self, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let clock = ManualClock::at_unix_secs(1_800_000_000);
        // Enrolment needs the codes: the facade's mailer is an outbox until the accounts
        // exist, then a no-op.
        let outbox = Arc::new(mfa::mail::MemoryOutbox::new());
        let switch = Arc::new(Switch::new(outbox.clone()));
        let mfa = facade(&clock, switch.clone())?;
        let pool = |prefix: &str| -> Result<Vec<EmailAddress>, String> {
            (0..ADDRESSES)
                .map(|i| address(&format!("{prefix}-{i:03}@timing.test")))
                .collect()
        };
        let flow = Self {
            rt,
            mfa,
            clock,
            pools: [pool("known")?, pool("other")?],
            outbox,
        };
        if !control {
            for (i, to) in flow.pools[0].iter().enumerate() {
                flow.enrol(to, &client(i))?;
            }
        }
        switch.mute();
        // One untimed login per address first: the store's maps then hold every address's
        // entries, so no class pays for first insertions during the measurement.
        for (i, to) in flow.pools.iter().flatten().enumerate() {
            let from = client(i);
            flow.tick(i)?;
            flow.login(to, &from)?;
        }
        flow.clock.advance(Duration::from_secs(7 * 24 * 3600));
        Ok(flow)
    }

    fn enrol(&self, to: &EmailAddress, from: &ClientInfo) -> Result<(), String> {
        let user = to.normalized();
        self.rt.block_on(async {
            let sent = self
                .mfa
                .start_email_enrollment(&user, Authority::FirstFactor, to, from)
                .await
                .map_err(|e| e.to_string())?;
            if !matches!(sent, SendOutcome::Sent { .. }) {
                return Err(format!("enrolment not sent: {sent:?}"));
            }
            let text = self
                .outbox
                .last()
                .map(|m| m.text().to_owned())
                .ok_or("no enrolment message")?;
            let code = text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .ok_or("no code in the enrolment message")?
                .to_owned();
            let done = self
                .mfa
                .finish_email_enrollment(&user, Authority::FirstFactor, to, &code, from)
                .await
                .map_err(|e| e.to_string())?;
            match done {
                EnrollmentOutcome::Confirmed { .. } => Ok(()),
                other => Err(format!("enrolment not confirmed: {other:?}")),
            }
        })
    }

    fn pick(&self, class: usize, i: usize) -> &EmailAddress {
        let pool = &self.pools[class];
        &pool[(i / 2) % pool.len()]
    }

    /// A login ticket for `to` with a code sent (untimed part of the `ticket` case).
    async fn ticket(&self, to: &EmailAddress, from: &ClientInfo) -> Result<ChallengeId, String> {
        let start = self
            .mfa
            .begin_email_login(to, from)
            .await
            .map_err(|e| e.to_string())?;
        let LoginStart::ChallengeRequired { challenge_id, .. } = start else {
            return Err(format!("no ticket: {start:?}"));
        };
        let sent = self
            .mfa
            .send_code(&challenge_id, Channel::Email, from)
            .await
            .map_err(|e| e.to_string())?;
        if !matches!(sent, SendOutcome::Sent { .. }) {
            return Err(format!("not sent: {sent:?}"));
        }
        Ok(challenge_id)
    }

    /// A guess at the ticket's code (right once in a million tries, for either class).
    async fn guess(&self, ticket: &ChallengeId, from: &ClientInfo) -> Result<(), String> {
        self.mfa
            .verify(
                ticket,
                Proof::EmailCode("000000"),
                from,
                VerifyOptions::default(),
            )
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// One login as an attacker makes it, blocking: a ticket with a code sent, and a guess.
    fn login(&self, to: &EmailAddress, from: &ClientInfo) -> Result<(), String> {
        self.rt.block_on(async {
            let ticket = self.ticket(to, from).await?;
            self.guess(&ticket, from).await
        })
    }

    fn tick(&self, i: usize) -> Result<(), String> {
        self.clock.advance(Duration::from_secs(TICK));
        if i % 1024 == 1023 {
            self.rt
                .block_on(self.mfa.purge_expired())
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// The facade's mailer: the outbox while the accounts are enrolled, then a no-op.
#[derive(Debug)]
struct Switch {
    outbox: Arc<mfa::mail::MemoryOutbox>,
    muted: std::sync::atomic::AtomicBool,
}

impl Switch {
    fn new(outbox: Arc<mfa::mail::MemoryOutbox>) -> Self {
        Self {
            outbox,
            muted: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn mute(&self) {
        self.muted.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Mailer for Switch {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        // Muted, it accepts every message at once: the facade's own work is what is measured.
        if self.muted.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        self.outbox.send(message).await
    }
}

fn email_login_case(samples: usize) -> Result<Samples, String> {
    email_login(samples, false)
}

/// `email-login` with no account on either side: the harness's own check for the facade cases.
fn email_control_case(samples: usize) -> Result<Samples, String> {
    email_login(samples, true)
}

fn email_login(samples: usize, control: bool) -> Result<Samples, String> {
    let flow = Flow::new(control)?;
    measure(
        samples,
        |class, i| {
            flow.tick(i)?;
            Ok((flow.pick(class, i).clone(), client(i)))
        },
        |_, (to, from)| flow.login(&to, &from),
    )
}

fn ticket_case(samples: usize) -> Result<Samples, String> {
    let flow = Flow::new(false)?;
    measure(
        samples,
        |class, i| {
            flow.tick(i)?;
            let from = client(i);
            let to = flow.pick(class, i).clone();
            let ticket = flow.rt.block_on(flow.ticket(&to, &from))?;
            Ok((ticket, from))
        },
        |_, (ticket, from)| flow.rt.block_on(flow.guess(&ticket, &from)),
    )
}

/// Each case: its name, samples for a full and a quick run, whether |t| above [`THRESHOLD`]
/// fails the run, and how to measure it.
///
/// The two facade cases that compare a known address with an unknown one are reported, not
/// gated: both classes make the same store round trips and the same cryptographic work, but a
/// known address's settings record is read, cloned and dropped and its message handed to the
/// mailer, about 2% more instructions per login on the memory store (`--one-class` under
/// callgrind), which many local samples resolve (`docs/performance.md`).
type Case = (
    &'static str,
    usize,
    usize,
    bool,
    fn(usize) -> Result<Samples, String>,
);

const CASES: [Case; 7] = [
    ("control", 400_000, 20_000, true, control_case),
    ("digest", 400_000, 20_000, true, digest_case),
    ("code", 400_000, 20_000, true, code_case),
    ("totp", 400_000, 20_000, true, totp_case),
    ("email-control", 40_000, 4_000, true, email_control_case),
    ("email-login", 40_000, 4_000, false, email_login_case),
    ("ticket", 40_000, 4_000, false, ticket_case),
];

/// `--one-class CLASS N`: N samples of the `email-login` case for one class only, and no
/// statistics, for `valgrind --tool=callgrind` to compare the instructions of the two classes.
fn one_class(class: &str, n: &str) -> ExitCode {
    let (Ok(class), Ok(n)) = (class.parse::<usize>(), n.parse::<usize>()) else {
        return ExitCode::from(2);
    };
    let run = || -> Result<(), String> {
        let flow = Flow::new(false)?;
        for i in 0..n {
            flow.tick(i)?;
            let (to, from) = (flow.pick(class.min(1), 2 * i).clone(), client(i));
            flow.login(&to, &from)?;
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, class, n] = args.as_slice()
        && flag == "--one-class"
    {
        return one_class(class, n);
    }
    let mut quick = false;
    let mut chosen = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            name if CASES.iter().any(|c| c.0 == name) => chosen.push(arg),
            _ => {
                let names: Vec<&str> = CASES.iter().map(|c| c.0).collect();
                eprintln!("usage: mfa-timing [--quick] [{}]...", names.join("|"));
                return ExitCode::from(2);
            }
        }
    }
    if cfg!(debug_assertions) {
        eprintln!("mfa-timing: a debug build measures nothing useful; run it with --release");
    }
    let mut failed = false;
    for (name, full, short, gated, run) in CASES {
        if !chosen.is_empty() && !chosen.iter().any(|c| c == name) {
            continue;
        }
        let samples = if quick { short } else { full };
        match run(samples) {
            Ok(s) => {
                let report = Report::of(name, &s);
                if gated {
                    println!("{report}");
                    failed |= report.t.abs() > THRESHOLD;
                } else {
                    println!("{report} (reported, not gated)");
                }
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                failed = true;
            }
        }
    }
    if failed {
        eprintln!("mfa-timing: a case failed (|t| > {THRESHOLD} or an error)");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
