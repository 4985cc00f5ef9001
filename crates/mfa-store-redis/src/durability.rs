//! Waiting for replicas after single-use writes: [`Durability`] and the error of a write the
//! replicas did not acknowledge in time, [`NotDurable`].
//!
//! Redis replicates asynchronously: a write is acknowledged once the primary applied it, and a
//! failover to a replica that had not received it yet loses it. For most records that loss
//! fails closed (a challenge that was never created cannot be redeemed). For the writes that
//! *use something up* it does not: a consumed recovery code, an advanced TOTP step, a spent try
//! or a revoked device would come back. With [`Durability::Replicas`] the store sends `WAIT`
//! right behind each such write (in the same pipeline, so on the same connection and in the
//! same round trip) and fails the operation when fewer replicas than asked acknowledged it.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use redis::{Cmd, Value};

/// What a single-use write waits for before the store reports it done.
///
/// The writes that wait are those whose loss would grant something twice or undo a
/// restriction: `spend_attempt`, `consume_challenge`, `delete_challenge`,
/// `revoke_user_challenges`, `consume_recovery_code`, `replace_recovery_codes`,
/// `confirm_totp`, `advance_totp_step`, `delete_totp`, `rotate_device_token`, `revoke_device`,
/// `revoke_all_devices`, `take_counter(s)` (and so `hit_counter`), `lock_counter` and
/// `put_settings`.
///
/// A shortfall is reported as [`StoreError::Unavailable`](mfa_store::StoreError::Unavailable)
/// whose source is a [`NotDurable`]: the write **is applied on the primary** (the try is spent,
/// the code is used, the step advanced; a retry will see that), but it may be lost if the
/// primary fails before a replica receives it. The caller fails closed: it grants nothing on
/// that operation. While a replica is down, every such write waits for the whole `timeout` and
/// then fails: size the timeout for that (it must be shorter than the response timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Acknowledged once the primary applied the write (Redis' own behaviour; the default). A
    /// deployment without replicas, or that accepts losing the last writes in a failover.
    #[default]
    Primary,
    /// `WAIT <replicas> <timeout>` after each single-use write: at least `replicas` replicas
    /// received it (in memory; whether they persisted it depends on their own settings).
    Replicas {
        /// How many replicas must acknowledge.
        replicas: NonZeroU32,
        /// How long to wait for them (rounded up to whole milliseconds; at least 1 ms).
        timeout: Duration,
    },
    /// `WAITAOF 1 <replicas> <timeout>` after each single-use write (Redis 7.2 or later, with
    /// `appendonly yes`): the primary and at least `replicas` replicas wrote it to their
    /// append-only file and fsynced it. Checked when connecting: a server older than 7.2 or
    /// without an AOF is refused with [`Error::Durability`](crate::Error::Durability) rather
    /// than silently getting the weaker `WAIT`.
    AppendOnlyFile {
        /// How many replicas must have fsynced the write, besides the primary.
        replicas: u32,
        /// How long to wait for them (rounded up to whole milliseconds; at least 1 ms).
        timeout: Duration,
    },
}

impl Durability {
    /// The wait to send after a single-use write, if any.
    pub(crate) fn wait_command(&self) -> Option<Cmd> {
        match *self {
            Self::Primary => None,
            Self::Replicas { replicas, timeout } => {
                let mut cmd = redis::cmd("WAIT");
                cmd.arg(replicas.get()).arg(millis(timeout));
                Some(cmd)
            }
            Self::AppendOnlyFile { replicas, timeout } => {
                let mut cmd = redis::cmd("WAITAOF");
                cmd.arg(1).arg(replicas).arg(millis(timeout));
                Some(cmd)
            }
        }
    }

    /// The wait's timeout, if there is a wait.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        match *self {
            Self::Primary => None,
            Self::Replicas { timeout, .. } | Self::AppendOnlyFile { timeout, .. } => Some(timeout),
        }
    }

    /// Checks the reply of [`wait_command`](Self::wait_command); `Err` names the shortfall.
    pub(crate) fn check(&self, reply: &Value) -> Result<(), NotDurable> {
        let number = |value: &Value| match value {
            Value::Int(n) => u64::try_from(*n).ok(),
            _ => None,
        };
        match (*self, reply) {
            (Self::Primary, _) => Ok(()),
            (Self::Replicas { replicas, timeout }, reply) => {
                let acked = number(reply);
                let required = u64::from(replicas.get());
                if acked.is_some_and(|n| n >= required) {
                    Ok(())
                } else {
                    Err(NotDurable {
                        command: "WAIT",
                        local: None,
                        replicas: acked,
                        required,
                        timeout,
                    })
                }
            }
            (Self::AppendOnlyFile { replicas, timeout }, Value::Array(counts)) => {
                let local = counts.first().and_then(number);
                let acked = counts.get(1).and_then(number);
                let required = u64::from(replicas);
                if local.is_some_and(|n| n >= 1) && acked.is_some_and(|n| n >= required) {
                    Ok(())
                } else {
                    Err(NotDurable {
                        command: "WAITAOF",
                        local: Some(local.unwrap_or(0) >= 1),
                        replicas: acked,
                        required,
                        timeout,
                    })
                }
            }
            (Self::AppendOnlyFile { timeout, replicas }, _) => Err(NotDurable {
                command: "WAITAOF",
                local: None,
                replicas: None,
                required: u64::from(replicas),
                timeout,
            }),
        }
    }
}

/// Whole milliseconds, rounded up, at least 1 (a `WAIT` timeout of 0 would block for ever).
fn millis(timeout: Duration) -> u64 {
    let ms = timeout.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX).max(1)
}

/// A single-use write that the primary applied but fewer replicas than
/// [`Durability`] asks for acknowledged within its timeout.
///
/// Found as the source of a [`StoreError::Unavailable`](mfa_store::StoreError::Unavailable).
/// The write happened on the primary and stays (nothing is rolled back); it may still reach the
/// replicas later, or be lost if the primary fails first. Grant nothing on the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDurable {
    command: &'static str,
    local: Option<bool>,
    replicas: Option<u64>,
    required: u64,
    timeout: Duration,
}

impl NotDurable {
    /// How many replicas acknowledged the write (`None` if the reply was not a count).
    #[must_use]
    pub fn acknowledged(&self) -> Option<u64> {
        self.replicas
    }

    /// How many replicas had to.
    #[must_use]
    pub fn required(&self) -> u64 {
        self.required
    }
}

impl fmt::Display for NotDurable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let acked = self
            .replicas
            .map_or_else(|| "an unreadable number of".to_owned(), |n| n.to_string());
        write!(
            f,
            "{}: {acked} of {} replicas acknowledged the write within {:?}",
            self.command, self.required, self.timeout
        )?;
        if self.local == Some(false) {
            f.write_str(", and the primary did not fsync it")?;
        }
        f.write_str(
            "; it is applied on the primary but may be lost in a failover, so it is reported failed",
        )
    }
}

impl std::error::Error for NotDurable {}

#[cfg(test)]
mod tests {
    use super::*;

    fn replicas(n: u32) -> Durability {
        Durability::Replicas {
            replicas: NonZeroU32::new(n).unwrap(),
            timeout: Duration::from_micros(1500),
        }
    }

    #[test]
    fn wait_commands_say_what_is_waited_for() {
        let cmd = replicas(2).wait_command().unwrap();
        assert_eq!(
            cmd.get_packed_command(),
            redis::cmd("WAIT").arg(2).arg(2).get_packed_command(),
            "timeout rounded up to whole milliseconds"
        );
        let aof = Durability::AppendOnlyFile {
            replicas: 0,
            timeout: Duration::ZERO,
        };
        assert_eq!(
            aof.wait_command().unwrap().get_packed_command(),
            redis::cmd("WAITAOF")
                .arg(1)
                .arg(0)
                .arg(1)
                .get_packed_command(),
            "never a timeout of 0, which waits for ever"
        );
        assert!(Durability::Primary.wait_command().is_none());
    }

    #[test]
    fn fewer_acknowledgements_than_asked_is_an_error() {
        assert!(replicas(1).check(&Value::Int(1)).is_ok());
        assert!(replicas(1).check(&Value::Int(3)).is_ok());
        let short = replicas(2).check(&Value::Int(1)).unwrap_err();
        assert_eq!((short.acknowledged(), short.required()), (Some(1), 2));
        assert!(short.to_string().contains("applied on the primary"));
        assert!(replicas(1).check(&Value::Nil).is_err());

        let aof = Durability::AppendOnlyFile {
            replicas: 1,
            timeout: Duration::from_millis(5),
        };
        assert!(
            aof.check(&Value::Array(vec![Value::Int(1), Value::Int(1)]))
                .is_ok()
        );
        let unsynced = aof
            .check(&Value::Array(vec![Value::Int(0), Value::Int(1)]))
            .unwrap_err();
        assert!(unsynced.to_string().contains("primary did not fsync"));
        assert!(aof.check(&Value::Int(1)).is_err());
    }
}
