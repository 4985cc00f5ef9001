//! `mfa totp`, `mfa hotp`, `mfa verify` and `mfa secret`: codes, their verification and new
//! secrets.

use mfa_core::{Clock, Code, Hotp, Secret, Skew, SystemClock, Totp, TotpParams};

use crate::cli::{HashArgs, KeyArg, TimeArgs, VerifyArgs};
use crate::error::CliError;
use crate::{Outcome, input, output};

/// `mfa totp`: prints the code for the given (or current) time.
pub(crate) fn totp(key: &KeyArg, hash: &HashArgs, time: &TimeArgs) -> Result<Outcome, CliError> {
    let secret = input::secret(key)?;
    let totp = Totp::new(&secret, params(hash, time.period, time.t0));
    let code = totp.generate_at(time.time.unwrap_or_else(now))?;
    output::line(&code.expose())?;
    Ok(Outcome::Success)
}

/// `mfa hotp`: prints the code for the given counter.
pub(crate) fn hotp(key: &KeyArg, counter: u64, hash: &HashArgs) -> Result<Outcome, CliError> {
    let secret = input::secret(key)?;
    let code = Hotp::new(&secret, hash.algorithm, hash.digits).generate(counter);
    output::line(&code.expose())?;
    Ok(Outcome::Success)
}

/// `mfa verify`: prints the matched time step (TOTP) or the next counter (HOTP).
pub(crate) fn verify(args: &VerifyArgs) -> Result<Outcome, CliError> {
    let secret = input::secret(&args.key)?;
    let typed = input::argument(&args.code)?;
    let code = Code::parse(&typed, args.hash.digits)?;
    let matched = match args.counter.filter(|_| args.hotp) {
        Some(counter) => Hotp::new(&secret, args.hash.algorithm, args.hash.digits).verify(
            &code,
            counter,
            args.look_ahead,
        ),
        None => {
            let totp = Totp::new(&secret, params(&args.hash, args.period, args.t0));
            let unix = args.time.unwrap_or_else(now);
            // A time before T0 is bad input, not a code that fails to match.
            totp.step_at(unix)?;
            totp.verify_at(&code, unix, Skew::symmetric(args.skew))
        }
    };
    match matched {
        Some(value) => {
            output::line(&value.to_string())?;
            Ok(Outcome::Success)
        }
        None => Ok(Outcome::NoMatch),
    }
}

/// `mfa secret`: prints a fresh secret of `bits` bits from the OS RNG, in base32.
pub(crate) fn secret(bits: usize) -> Result<Outcome, CliError> {
    let secret = Secret::generate_bits(bits)?;
    output::line(&secret.to_base32())?;
    Ok(Outcome::Success)
}

fn params(hash: &HashArgs, period: mfa_core::Period, t0: u64) -> TotpParams {
    TotpParams {
        algorithm: hash.algorithm,
        digits: hash.digits,
        period,
        t0,
    }
}

fn now() -> u64 {
    SystemClock.unix_secs()
}
