//! Helpers shared by the integration tests: running the built `mfa` binary, a seeded random
//! generator, and finding the independent implementations we compare against.

// Each test file compiles this module on its own and uses part of it.
#![allow(dead_code, unreachable_pub)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// What one run of a program gave.
#[derive(Debug)]
pub struct Run {
    /// Exit status (`-1` if killed by a signal).
    pub status: i32,
    /// Standard output, as text.
    pub stdout: String,
    /// Standard error, as text.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Self {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `mfa` with `args`.
pub fn mfa(args: &[&str]) -> Run {
    mfa_with_stdin(args, "")
}

/// Runs `mfa` with `args`, feeding `stdin` to its standard input.
pub fn mfa_with_stdin(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mfa"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the mfa binary runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("stdin is writable");
    child.wait_with_output().expect("mfa finishes").into()
}

/// Runs `oathtool` with `args`, feeding `stdin` to its standard input.
pub fn oathtool_with_stdin(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new("oathtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("oathtool runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("stdin is writable");
    child.wait_with_output().expect("oathtool finishes").into()
}

/// Runs `oathtool` with `args`.
pub fn oathtool(args: &[&str]) -> Run {
    oathtool_with_stdin(args, "")
}

/// Runs `mfa` with `args`, asserts success and returns standard output without the line end.
pub fn mfa_ok(args: &[&str]) -> String {
    let run = mfa(args);
    assert_eq!(run.status, 0, "mfa {args:?} failed: {run:?}");
    assert_eq!(run.stderr, "", "mfa {args:?} wrote to stderr");
    run.stdout.trim_end_matches('\n').to_owned()
}

/// A tiny deterministic generator (SplitMix64): enough to draw test cases, and the same
/// cases again from the same seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low ..= high` (bias is irrelevant here).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }

    /// `len` random bytes as lower-case hex.
    pub fn hex_bytes(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| format!("{:02x}", self.next_u64() as u8))
            .collect()
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.range(0, items.len() as u64 - 1) as usize]
    }
}

/// The seed of the randomised cross-checks: `MFA_TEST_SEED` if set, else a fixed one. Every
/// failure message prints it, so a failing run can be replayed.
pub fn seed() -> u64 {
    std::env::var("MFA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6d66_615f_636c_6931)
}

/// Whether an independent tool is available. When it is not: under `MFA_REQUIRE_SERVICES=1`
/// (as CI sets it) the test fails with `install`'s hint; otherwise it prints a skip message
/// and the caller returns.
pub fn tool_available(name: &str, probe: &mut Command, install: &str) -> bool {
    let works = probe
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if works {
        return true;
    }
    if std::env::var("MFA_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!("{name} is required (MFA_REQUIRE_SERVICES=1) but missing: {install}");
    }
    // Straight to stderr, past the test harness's capture, so that a skip is seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {name} is not installed ({install})"
    );
    false
}

/// Whether `oathtool` runs here; see [`tool_available`].
pub fn oathtool_available() -> bool {
    tool_available(
        "oathtool",
        Command::new("oathtool").arg("--version"),
        "apt-get install -y oathtool",
    )
}

/// Whether Python with `pyotp` runs here; see [`tool_available`].
pub fn pyotp_available() -> bool {
    tool_available(
        "pyotp",
        Command::new("python3").args(["-c", "import pyotp"]),
        "pip install pyotp",
    )
}
