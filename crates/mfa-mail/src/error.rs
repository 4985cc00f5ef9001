//! The crate's error type.

use std::error::Error as StdError;

/// A boxed error from a transport (SMTP client, HTTP client), kept as the source of a
/// [`MailError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a message could not be built or delivered.
///
/// Use [`MailError::is_transient`] to decide between telling the user (permanent: the address or
/// number is refused, the configuration is wrong) and retrying later (transient: the server is
/// down, busy or slow).
///
/// No variant carries a code, a link or a message body: the text of an error can be logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// An email address is malformed (permanent).
    #[error("invalid email address")]
    InvalidAddress,
    /// A phone number is not in E.164 form such as `+14155550100` (permanent).
    #[error("invalid phone number (expected E.164 such as +14155550100)")]
    InvalidPhoneNumber,
    /// A template is malformed or misses a required placeholder (permanent).
    #[error("invalid template `{kind}`: {reason}")]
    InvalidTemplate {
        /// Which message kind the template is for.
        kind: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting is invalid (permanent).
    #[error("invalid mail configuration: {0}")]
    Config(String),
    /// The server or provider refused the recipient or the message (permanent): SMTP 5xx, or an
    /// HTTP 4xx from an SMS provider such as Twilio's 21211 "invalid To number".
    #[error("delivery refused (status {status}): {message}")]
    Refused {
        /// SMTP reply code (e.g. 550), or the provider's error code (e.g. Twilio 21211) and
        /// otherwise the HTTP status.
        status: u16,
        /// The server's or provider's explanation.
        message: String,
    },
    /// The server or provider deferred the message (transient): SMTP 4xx, HTTP 429 or 5xx.
    #[error("delivery deferred (status {status}): {message}")]
    Deferred {
        /// SMTP reply code or HTTP status.
        status: u16,
        /// The server's or provider's explanation.
        message: String,
    },
    /// The server could not be reached: connection refused, reset or closed (transient).
    #[error("delivery service unavailable")]
    Unavailable(#[source] BoxError),
    /// The server did not answer in time (transient).
    #[error("delivery timed out")]
    Timeout,
    /// Delivery failed for a reason a retry will not fix: TLS failure, protocol error, a response
    /// the client cannot understand (permanent).
    #[error("delivery failed")]
    Failed(#[source] BoxError),
    /// Writing to a local outbox failed.
    #[error("outbox I/O error")]
    Io(#[from] std::io::Error),
}

impl MailError {
    /// Whether a later retry of the same message may succeed.
    ///
    /// `true` for [`Deferred`](Self::Deferred), [`Unavailable`](Self::Unavailable),
    /// [`Timeout`](Self::Timeout) and interrupted or timed-out I/O; `false` for everything the
    /// user or the operator must fix (a refused address, an invalid number, a bad template or
    /// setting).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Deferred { .. } | Self::Unavailable(_) | Self::Timeout => true,
            Self::Io(err) => matches!(
                err.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = MailError> = core::result::Result<T, E>;

impl From<mfa_core::Error> for MailError {
    /// An address or number `mfa-core` refuses is the matching permanent error; anything else
    /// from `mfa-core` is a configuration error.
    fn from(error: mfa_core::Error) -> Self {
        match error {
            mfa_core::Error::InvalidEmailAddress => Self::InvalidAddress,
            mfa_core::Error::InvalidPhoneNumber => Self::InvalidPhoneNumber,
            other => Self::Config(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_and_permanent_are_told_apart() {
        assert!(MailError::Timeout.is_transient());
        assert!(
            MailError::Deferred {
                status: 421,
                message: String::new()
            }
            .is_transient()
        );
        assert!(MailError::Unavailable("down".into()).is_transient());
        assert!(
            !MailError::Refused {
                status: 550,
                message: String::new()
            }
            .is_transient()
        );
        assert!(!MailError::InvalidAddress.is_transient());
        assert!(!MailError::InvalidPhoneNumber.is_transient());
        assert!(!MailError::Failed("tls".into()).is_transient());
    }
}
