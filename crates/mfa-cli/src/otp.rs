//! `mfa totp`, `mfa hotp`, `mfa verify` and `mfa secret`: codes, their verification and new
//! secrets.

use mfa_core::{Clock, Code, Hotp, Secret, Skew, SystemClock, Totp, TotpParams};

use crate::cli::{HashArgs, HotpArgs, TimeArgs, TotpArgs, VerifyArgs};
use crate::error::CliError;
use crate::verbose::{Mode, Parameters};
use crate::{Outcome, input, output};

/// `mfa totp`: prints the code for the given (or current) time, and the `--window` steps
/// after it.
pub(crate) fn totp(args: &TotpArgs) -> Result<Outcome, CliError> {
    let secret = input::secret(&args.key)?;
    let (totp, time) = totp_at(&secret, &args.hash, &args.time);
    let first = totp.step_at(time)?;
    let last = window_end(first, args.show.window)?;
    if args.show.verbose {
        let mode = totp_mode(&totp, time, first);
        output::text(&verbose(&secret, None, &args.hash, args.show.window, mode))?;
    }
    output::lines((first..=last).map(|step| totp.generate_step(step).expose()))?;
    Ok(Outcome::Success)
}

/// `mfa hotp`: prints the code for the given counter, and the `--window` counters after it.
pub(crate) fn hotp(args: &HotpArgs) -> Result<Outcome, CliError> {
    let secret = input::secret(&args.key)?;
    let hotp = Hotp::new(&secret, args.hash.algorithm, args.hash.digits);
    let last = window_end(args.counter, args.show.window)?;
    if args.show.verbose {
        let mode = Mode::Hotp {
            algorithm: args.hash.algorithm,
            counter: args.counter,
        };
        output::text(&verbose(&secret, None, &args.hash, args.show.window, mode))?;
    }
    output::lines((args.counter..=last).map(|counter| hotp.generate(counter).expose()))?;
    Ok(Outcome::Success)
}

/// `mfa verify`: prints the matched time step (TOTP) or the next counter (HOTP).
pub(crate) fn verify(args: &VerifyArgs) -> Result<Outcome, CliError> {
    let secret = input::secret(&args.key)?;
    let typed = input::argument(&args.code)?;
    let code = Code::parse(&typed, args.hash.digits)?;
    let checked = match args.counter.filter(|_| args.hotp) {
        Some(counter) => verify_hotp(args, &secret, &code, counter),
        None => verify_totp(args, &secret, &code)?,
    };
    if args.verbose {
        let report = verbose(
            &secret,
            Some(&code),
            &args.hash,
            checked.window,
            checked.mode,
        );
        output::text(&report)?;
    }
    match checked.matched {
        Some(value) => {
            output::line(&value.to_string())?;
            Ok(Outcome::Success)
        }
        None => Ok(Outcome::NoMatch),
    }
}

/// What `mfa verify` found, and how it looked.
struct Checked {
    /// The matched time step, or the next HOTP counter.
    matched: Option<u64>,
    /// The window it looked in, as `-v` reports it.
    window: u32,
    /// The mode, as `-v` reports it.
    mode: Mode,
}

fn verify_hotp(args: &VerifyArgs, secret: &Secret, code: &Code, counter: u64) -> Checked {
    let look_ahead = args.window.unwrap_or(args.look_ahead);
    let hotp = Hotp::new(secret, args.hash.algorithm, args.hash.digits);
    Checked {
        matched: hotp.verify(code, counter, look_ahead),
        window: look_ahead,
        mode: Mode::Hotp {
            algorithm: args.hash.algorithm,
            counter,
        },
    }
}

fn verify_totp(args: &VerifyArgs, secret: &Secret, code: &Code) -> Result<Checked, CliError> {
    let skew = match args.window {
        Some(steps) => u8::try_from(steps).map_err(|_| CliError::WindowTooWide(steps))?,
        None => args.skew,
    };
    let (totp, time) = totp_at(secret, &args.hash, &args.time);
    // A time before T0 is bad input, not a code that fails to match.
    let step = totp.step_at(time)?;
    Ok(Checked {
        matched: totp.verify_at(code, time, Skew::symmetric(skew)),
        window: u32::from(skew),
        mode: totp_mode(&totp, time, step),
    })
}

/// `mfa secret`: prints a fresh secret of `bits` bits from the OS RNG, in base32.
pub(crate) fn secret(bits: usize) -> Result<Outcome, CliError> {
    let secret = Secret::generate_bits(bits)?;
    output::line(&secret.to_base32())?;
    Ok(Outcome::Success)
}

/// The TOTP generator the arguments describe and the Unix time to use it at. The system
/// clock is read once, so `now` means the same instant for `--t0` and `--time`.
fn totp_at(secret: &Secret, hash: &HashArgs, time: &TimeArgs) -> (Totp, u64) {
    let now = SystemClock.unix_secs();
    let params = TotpParams {
        algorithm: hash.algorithm,
        digits: hash.digits,
        period: time.period,
        t0: time.t0.resolve(now),
    };
    (Totp::new(secret, params), time.time.resolve(now))
}

/// The last step or counter of a window of `window` more after `first`.
fn window_end(first: u64, window: u32) -> Result<u64, CliError> {
    first
        .checked_add(u64::from(window))
        .ok_or(CliError::WindowPastEnd)
}

fn totp_mode(totp: &Totp, time: u64, step: u64) -> Mode {
    let params = totp.params();
    Mode::Totp {
        algorithm: params.algorithm,
        period: params.period,
        t0: params.t0,
        time,
        step,
    }
}

fn verbose(
    secret: &Secret,
    code: Option<&Code>,
    hash: &HashArgs,
    window: u32,
    mode: Mode,
) -> zeroize::Zeroizing<String> {
    Parameters {
        secret,
        code,
        digits: hash.digits,
        window,
        mode,
    }
    .render()
}
