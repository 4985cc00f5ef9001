//! The command line: subcommands and their arguments, as clap parses them.
//!
//! Values with a meaning in `mfa-core` (algorithm, digits, period) are validated by
//! `mfa-core`'s own constructors while clap parses, so a bad value is reported with
//! `mfa_core::Error`'s message; times and step sizes are read by [`crate::time`]. Keys and codes are *not* validated here: clap would echo them
//! in its error message, and they are secrets.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mfa_core::{Algorithm, Digits, Period};

use crate::time::{self, When};

/// HOTP/TOTP codes, verification, secrets and otpauth:// Key URIs, in the spirit of oathtool.
///
/// KEY is base32 (case, spaces, dashes and padding ignored) unless --hex is given; `-` reads
/// it from standard input and `@FILE` from the first line of FILE, which keeps it out of the
/// process list and the shell history. Keys from 80 bits up are accepted, because an operator
/// checks keys that providers have already issued.
///
/// Exit status, as oathtool's: 0 done, 1 an error, 2 `verify` found no match.
#[derive(Debug, Parser)]
#[command(
    name = "mfa",
    version,
    about,
    long_about = None,
    after_help = "Exit status, as oathtool's: 0 done, 1 an error, 2 `mfa verify` found no match."
)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the TOTP code (RFC 6238) for a key at a time, and with --window the codes of the
    /// steps after it.
    Totp(TotpArgs),
    /// Print the HOTP code (RFC 4226) for a key and counter, and with --window the codes of the
    /// counters after it.
    Hotp(HotpArgs),
    /// Check a code: print the matched TOTP time step (or, with --hotp, the next counter)
    /// and exit 0; exit 2 if the code does not match.
    Verify(VerifyArgs),
    /// Print a fresh random secret in base32.
    Secret {
        /// Length of the secret in bits: a multiple of 8, from 128 to 2048.
        #[arg(
            long,
            default_value_t = 160,
            value_name = "N",
            allow_negative_numbers = true
        )]
        bits: usize,
    },
    /// Print the otpauth:// Key URI of a key, or draw it as a QR code.
    Uri(UriArgs),
    /// Print the fields of an otpauth:// Key URI as JSON (the secret only with --reveal-secret).
    Parse {
        /// The Key URI; `-` reads it from standard input, `@FILE` from the first line of FILE.
        #[arg(value_name = "URI")]
        uri: String,
        /// Also print the secret (base32).
        #[arg(long)]
        reveal_secret: bool,
    },
}

/// The key argument shared by every subcommand that computes codes.
#[derive(Debug, Args)]
pub(crate) struct KeyArg {
    /// The shared secret: base32, or hexadecimal with --hex; `-` reads it from standard input,
    /// `@FILE` from the first line of FILE.
    #[arg(value_name = "KEY")]
    pub(crate) key: String,
    /// KEY is hexadecimal instead of base32.
    #[arg(long)]
    pub(crate) hex: bool,
}

/// Hash algorithm and code length.
#[derive(Debug, Args)]
pub(crate) struct HashArgs {
    /// The HMAC hash function.
    #[arg(
        long,
        short = 'a',
        default_value = "sha1",
        value_name = "sha1|sha256|sha512",
        value_parser = parse_algorithm
    )]
    pub(crate) algorithm: Algorithm,
    /// Digits per code, 6 to 10.
    #[arg(
        long,
        short = 'd',
        default_value = "6",
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = parse_digits
    )]
    pub(crate) digits: Digits,
}

/// TOTP time parameters, in oathtool's forms as well as Unix seconds.
#[derive(Debug, Args)]
pub(crate) struct TimeArgs {
    /// Time step size: seconds (30) or a duration with units (30s, 1m, 2m30s, 1h).
    #[arg(
        long,
        short = 's',
        visible_alias = "time-step-size",
        default_value = "30",
        value_name = "DURATION",
        allow_negative_numbers = true,
        value_parser = time::parse_period
    )]
    pub(crate) period: Period,
    /// When step 0 starts (RFC 6238 T0): Unix seconds (0, @0), an RFC 3339 date
    /// (1970-01-01T00:00:00Z) or `now`.
    #[arg(
        long,
        short = 'S',
        visible_alias = "start-time",
        default_value = "0",
        value_name = "TIME",
        allow_negative_numbers = true,
        value_parser = time::parse_when
    )]
    pub(crate) t0: When,
    /// The time to compute or check the code at: Unix seconds (1234567890, @1234567890), an
    /// RFC 3339 date (2009-02-13T23:31:30Z, 2009-02-13 23:31:30+01:00) or `now`.
    #[arg(
        long,
        short = 't',
        visible_alias = "now",
        visible_short_alias = 'N',
        default_value = "now",
        value_name = "TIME",
        allow_negative_numbers = true,
        value_parser = time::parse_when
    )]
    pub(crate) time: When,
}

/// What `mfa totp` and `mfa hotp` print besides the code.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Also print the next N codes (of the time steps or counters that follow), one a line.
    #[arg(
        long,
        short = 'w',
        default_value_t = 0,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub(crate) window: u32,
    /// First print the parameters, the key included, as `oathtool -v` does.
    #[arg(long, short = 'v')]
    pub(crate) verbose: bool,
}

/// Arguments of `mfa totp`.
#[derive(Debug, Args)]
pub(crate) struct TotpArgs {
    #[command(flatten)]
    pub(crate) key: KeyArg,
    #[command(flatten)]
    pub(crate) hash: HashArgs,
    #[command(flatten)]
    pub(crate) time: TimeArgs,
    #[command(flatten)]
    pub(crate) show: ShowArgs,
}

/// Arguments of `mfa hotp`.
#[derive(Debug, Args)]
pub(crate) struct HotpArgs {
    #[command(flatten)]
    pub(crate) key: KeyArg,
    /// The counter value.
    #[arg(long, short = 'c', value_name = "N", allow_negative_numbers = true)]
    pub(crate) counter: u64,
    #[command(flatten)]
    pub(crate) hash: HashArgs,
    #[command(flatten)]
    pub(crate) show: ShowArgs,
}

/// Arguments of `mfa verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) key: KeyArg,
    /// The code to check (spaces and dashes between digit groups are ignored); `-` reads it
    /// from standard input, `@FILE` from the first line of FILE.
    #[arg(value_name = "CODE")]
    pub(crate) code: String,
    #[command(flatten)]
    pub(crate) hash: HashArgs,
    #[command(flatten)]
    pub(crate) time: TimeArgs,
    /// Steps accepted before and after the current one (TOTP).
    #[arg(
        long,
        default_value_t = 1,
        value_name = "STEPS",
        allow_negative_numbers = true,
        conflicts_with = "hotp"
    )]
    pub(crate) skew: u8,
    /// Verify an HOTP code (RFC 4226) against --counter instead of a TOTP code.
    #[arg(long, requires = "counter", conflicts_with = "TimeArgs")]
    pub(crate) hotp: bool,
    /// The first HOTP counter to try (with --hotp).
    #[arg(
        long,
        short = 'c',
        value_name = "N",
        allow_negative_numbers = true,
        requires = "hotp"
    )]
    pub(crate) counter: Option<u64>,
    /// How many counters after --counter to try as well (with --hotp).
    #[arg(
        long,
        default_value_t = 0,
        value_name = "W",
        allow_negative_numbers = true,
        requires = "hotp"
    )]
    pub(crate) look_ahead: u32,
    /// oathtool's window: as --skew N for TOTP, as --look-ahead N with --hotp.
    #[arg(
        long,
        short = 'w',
        value_name = "N",
        allow_negative_numbers = true,
        conflicts_with_all = ["skew", "look_ahead"]
    )]
    pub(crate) window: Option<u32>,
    /// First print the parameters, the key included, as `oathtool -v` does.
    #[arg(long, short = 'v')]
    pub(crate) verbose: bool,
}

/// Arguments of `mfa uri`.
#[derive(Debug, Args)]
pub(crate) struct UriArgs {
    #[command(flatten)]
    pub(crate) key: KeyArg,
    /// The provider or service, shown by the app above the account.
    #[arg(long, value_name = "ISSUER")]
    pub(crate) issuer: Option<String>,
    /// The account name, usually an e-mail address or user name.
    #[arg(long, value_name = "ACCOUNT")]
    pub(crate) account: String,
    #[command(flatten)]
    pub(crate) hash: HashArgs,
    /// Time step size (TOTP): seconds (30) or a duration with units (30s, 1m).
    #[arg(
        long,
        short = 's',
        default_value = "30",
        value_name = "DURATION",
        allow_negative_numbers = true,
        value_parser = time::parse_period,
        conflicts_with = "counter"
    )]
    pub(crate) period: Period,
    /// Make an HOTP URI starting at this counter instead of a TOTP URI.
    #[arg(long, short = 'c', value_name = "N", allow_negative_numbers = true)]
    pub(crate) counter: Option<u64>,
    /// The URL of a logo for the app to show (FreeOTP's `image` parameter).
    #[arg(long, value_name = "URL")]
    pub(crate) image: Option<String>,
    /// Draw the URI as a QR code in the terminal instead of printing it.
    #[arg(long)]
    pub(crate) qr: bool,
    /// Also write the QR code as SVG to FILE (created with owner-only permissions).
    #[arg(long, value_name = "FILE")]
    pub(crate) qr_svg: Option<PathBuf>,
    /// Also write the QR code as PNG to FILE (created with owner-only permissions).
    #[arg(long, value_name = "FILE")]
    pub(crate) qr_png: Option<PathBuf>,
}

fn parse_algorithm(s: &str) -> Result<Algorithm, mfa_core::Error> {
    s.parse()
}

fn parse_digits(s: &str) -> Result<Digits, String> {
    let n: u32 = s.trim().parse().map_err(|e| format!("not a number: {e}"))?;
    Digits::new(n).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
