//! Conversions between records and column values, and from driver errors to [`StoreError`].
//!
//! Times are stored as `BIGINT` milliseconds since the Unix epoch on every engine: exact to the
//! millisecond, comparable in SQL, and free of time-zone and driver-version questions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_core::CodeDigest;
use mfa_store::StoreError;

/// `t` as milliseconds since the Unix epoch (sub-millisecond parts are dropped, towards the
/// past); saturates at the ends of `i64` (about 292 million years).
pub(crate) fn millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => {
            let d = before.duration();
            let whole = d
                .as_millis()
                .saturating_add(u128::from(d.subsec_nanos() % 1_000_000 != 0));
            i64::try_from(whole).map_or(i64::MIN, |m| m.saturating_neg())
        }
    }
}

/// The instant `ms` milliseconds after the epoch; `Corrupt` naming `column` if unrepresentable.
pub(crate) fn time(ms: i64, column: &str) -> Result<SystemTime, StoreError> {
    let offset = Duration::from_millis(ms.unsigned_abs());
    let t = if ms >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    };
    t.ok_or_else(|| corrupt(column))
}

/// A stored count as `u32`: negative is corrupt, above `u32::MAX` saturates.
pub(crate) fn count(value: i64, column: &str) -> Result<u32, StoreError> {
    if value < 0 {
        return Err(corrupt(column));
    }
    Ok(u32::try_from(value).unwrap_or(u32::MAX))
}

/// A digest column (exactly 32 bytes).
pub(crate) fn digest(bytes: &[u8], column: &str) -> Result<CodeDigest, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(CodeDigest::from_bytes)
        .map_err(|_| corrupt(column))
}

/// An optional digest column.
pub(crate) fn opt_digest(
    bytes: Option<&[u8]>,
    column: &str,
) -> Result<Option<CodeDigest>, StoreError> {
    bytes.map(|b| digest(b, column)).transpose()
}

/// `Corrupt` naming the column, never its value.
pub(crate) fn corrupt(column: &str) -> StoreError {
    StoreError::corrupt(format!("column {column}"))
}

/// Maps a driver error: decode problems are [`StoreError::Corrupt`] naming the column, every
/// other failure (I/O, TLS, pool timeout, a server error) is [`StoreError::Unavailable`].
pub(crate) fn store_err(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::ColumnDecode { index, .. } => corrupt(&index),
        sqlx::Error::ColumnNotFound(name) => corrupt(&name),
        sqlx::Error::Decode(_) => StoreError::corrupt("undecodable row"),
        other => StoreError::unavailable(other),
    }
}

/// Like [`store_err`], but a unique-key violation is [`StoreError::Conflict`] with `what`.
pub(crate) fn conflict_or(error: sqlx::Error, what: &str) -> StoreError {
    if is_unique_violation(&error) {
        StoreError::conflict(what)
    } else {
        store_err(error)
    }
}

/// Whether the server refused a write for a duplicate key.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// Whether the server aborted a transaction that a retry may complete: a deadlock or a
/// serialisation failure (SQLSTATE 40001 / 40P01; MySQL reports its deadlock 1213 as 40001).
pub(crate) fn is_retryable(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "40001" || code == "40P01")
}

/// Whether a set-up error is worth retrying (see [`crate::Error::is_transient`]).
pub(crate) fn is_transient_sqlx(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    ) || is_retryable(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_trip() {
        for ms in [
            0_i64,
            1,
            1_700_000_000_123,
            -1,
            -86_400_000,
            i64::MAX / 1000,
        ] {
            let t = time(ms, "at").unwrap();
            assert_eq!(millis(t), ms);
        }
        let t = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        assert_eq!(
            millis(t),
            1_700_000_000_123,
            "sub-millisecond parts are dropped"
        );
        let before = UNIX_EPOCH - Duration::from_micros(1500);
        assert_eq!(millis(before), -2, "towards the past before the epoch too");
    }

    #[test]
    fn counts_and_digests_are_checked() {
        assert_eq!(count(3, "c").unwrap(), 3);
        assert_eq!(count(i64::MAX, "c").unwrap(), u32::MAX);
        let err = count(-1, "attempts_left").unwrap_err();
        assert_eq!(
            err.to_string(),
            "stored data is corrupt: column attempts_left"
        );
        assert!(digest(&[0; 31], "code_digest").is_err());
        assert_eq!(digest(&[7; 32], "d").unwrap().as_bytes(), &[7; 32]);
    }

    #[test]
    fn driver_errors_are_transient() {
        let err = store_err(sqlx::Error::PoolTimedOut);
        assert!(err.is_transient());
        let err = store_err(sqlx::Error::ColumnNotFound("expires_at".into()));
        assert!(matches!(err, StoreError::Corrupt(_)));
    }
}
