//! What can go wrong in the `mfa` command, each as one line for standard error.

use core::fmt;
use std::io;
use std::path::PathBuf;

/// An error that ends the command with exit status 1, as oathtool's errors do.
///
/// `Display` gives one line that says what is wrong. No variant carries a key, a code or a
/// URI: the messages of `mfa_core::Error` never contain them, and ours name only the rule or
/// the file.
#[derive(Debug)]
pub(crate) enum CliError {
    /// A key, code, URI or parameter that `mfa-core` refused.
    Core(mfa_core::Error),
    /// An empty `--account`, which no authenticator app accepts.
    EmptyAccount,
    /// Standard input could not be read (for a `-` argument).
    ReadStdin(io::Error),
    /// A file named by an `@FILE` argument could not be read.
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A `verify --window` too wide for a TOTP skew, which counts at most 255 steps each way.
    WindowTooWide(u32),
    /// A `--window` that runs past the last counter or time step, `u64::MAX`.
    WindowPastEnd,
    /// Standard output could not be written (for example a closed pipe).
    WriteStdout(io::Error),
    /// A QR code file could not be written.
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The JSON output could not be built.
    Json(serde_json::Error),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Core(e) => fmt::Display::fmt(e, f),
            Self::EmptyAccount => f.write_str("the account name must not be empty"),
            Self::ReadStdin(e) => write!(f, "cannot read standard input: {e}"),
            Self::ReadFile { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            Self::WindowTooWide(steps) => write!(
                f,
                "a TOTP window is at most {} steps each way, not {steps}",
                u8::MAX
            ),
            Self::WindowPastEnd => write!(
                f,
                "the window runs past the last counter or time step ({})",
                u64::MAX
            ),
            Self::WriteStdout(e) => write!(f, "cannot write standard output: {e}"),
            Self::WriteFile { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
            Self::Json(e) => write!(f, "cannot build the JSON output: {e}"),
        }
    }
}

impl From<mfa_core::Error> for CliError {
    fn from(e: mfa_core::Error) -> Self {
        Self::Core(e)
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        Self::Json(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_is_one_line() {
        let errors = [
            CliError::Core(mfa_core::Error::InvalidBase32),
            CliError::EmptyAccount,
            CliError::ReadStdin(io::Error::other("gone")),
            CliError::ReadFile {
                path: PathBuf::from("/nonexistent/key"),
                source: io::Error::from(io::ErrorKind::NotFound),
            },
            CliError::WindowTooWide(256),
            CliError::WindowPastEnd,
            CliError::WriteStdout(io::Error::from(io::ErrorKind::BrokenPipe)),
            CliError::WriteFile {
                path: PathBuf::from("/nonexistent/qr.png"),
                source: io::Error::from(io::ErrorKind::NotFound),
            },
        ];
        for e in errors {
            let text = e.to_string();
            assert!(!text.is_empty() && !text.contains('\n'), "{text:?}");
        }
    }
}
