#![doc = include_str!("../README.md")]
// A command-line tool exists to print: its results go to standard output and its one-line
// errors to standard error. The workspace denies printing in library code; here it is the job.
// (Results are written through `output::line`, which reports a closed pipe instead of
// panicking as `println!` would.)
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod error;
mod input;
mod otp;
mod output;
mod time;
mod uri;
mod verbose;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::{Cli, Command};
use crate::error::CliError;

// Exit statuses are oathtool's (`EXIT_FAILURE` and `EXIT_OTP_INVALID` in oathtool.c), so that
// a script written for oathtool reads `mfa`'s the same way.

/// Exit status of an error of any kind, ours or clap's: bad input, a usage error, I/O.
const EXIT_FAILURE: u8 = 1;
/// Exit status of a code that does not match (`mfa verify`).
const EXIT_NO_MATCH: u8 = 2;

/// How a subcommand that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Done; exit status 0.
    Success,
    /// The code checked by `mfa verify` does not match; exit status 2.
    NoMatch,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match run(cli.command) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::NoMatch) => {
            stderr_line("no match");
            ExitCode::from(EXIT_NO_MATCH)
        }
        Err(e) => {
            stderr_line(&format!("error: {e}"));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run(command: Command) -> Result<Outcome, CliError> {
    match command {
        Command::Totp(args) => otp::totp(&args),
        Command::Hotp(args) => otp::hotp(&args),
        Command::Verify(args) => otp::verify(&args),
        Command::Secret { bits } => otp::secret(bits),
        Command::Uri(args) => uri::uri(&args),
        Command::Parse { uri, reveal_secret } => uri::parse(&uri, reveal_secret),
    }
}

/// Reports an error clap found in the command line, or the help or version asked for.
///
/// A value that does not parse (a bad number, digits out of range, an unknown algorithm) is
/// bad input like any other: one line, exit status 1. Clap's other errors (a missing or
/// unknown argument) keep clap's usage text, with exit status 1 too, as oathtool's do;
/// `--help` and `--version` print to standard output and exit 0.
fn usage_error(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::InvalidValue | ErrorKind::ValueValidation | ErrorKind::InvalidUtf8 => {
            let rendered = e.to_string();
            stderr_line(rendered.lines().next().unwrap_or("error: invalid value"));
            ExitCode::from(EXIT_FAILURE)
        }
        _ => {
            // If even the usage text cannot be written there is nothing left to report.
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(EXIT_FAILURE)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

/// Writes one line to standard error; if that fails there is nowhere left to report it.
fn stderr_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
