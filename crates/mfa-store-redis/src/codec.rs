//! Decoding of stored hashes and times; every failure is [`StoreError::Corrupt`] naming the
//! field, never its value.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_core::CodeDigest;
use mfa_store::{Result, StoreError};

/// The greatest time in milliseconds stored: 2^53 - 1, exact in Lua's doubles (year 287396).
const MAX_MS: u64 = (1 << 53) - 1;

/// Milliseconds since the Unix epoch, clamped to `0..=2^53-1` (times before 1970 become 0).
pub(crate) fn to_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(MAX_MS))
        .min(MAX_MS)
}

/// The instant `ms` milliseconds after the Unix epoch.
pub(crate) fn from_ms(ms: u64, what: &'static str) -> Result<SystemTime> {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .ok_or_else(|| StoreError::corrupt(what))
}

/// A stored hash (field -> bytes), read from a flat `field, value, ...` list.
#[derive(Default)]
pub(crate) struct Fields {
    map: HashMap<Vec<u8>, Vec<u8>>,
    /// The record kind, for error messages ("challenge", "trusted device", ...).
    record: &'static str,
}

impl Fields {
    /// Pairs up a flat `field, value, ...` list as returned by `HGETALL`.
    pub(crate) fn from_flat(
        record: &'static str,
        flat: impl IntoIterator<Item = Vec<u8>>,
    ) -> Result<Self> {
        let mut map = HashMap::new();
        let mut iter = flat.into_iter();
        while let Some(field) = iter.next() {
            let value = iter
                .next()
                .ok_or_else(|| StoreError::corrupt(format!("{record}: odd field list")))?;
            map.insert(field, value);
        }
        Ok(Self { map, record })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn corrupt(&self, field: &str) -> StoreError {
        StoreError::corrupt(format!("{} field `{field}`", self.record))
    }

    /// The raw bytes of an optional field.
    pub(crate) fn opt_bytes(&self, field: &str) -> Option<&[u8]> {
        self.map.get(field.as_bytes()).map(Vec::as_slice)
    }

    /// The raw bytes of a required field.
    pub(crate) fn bytes(&self, field: &str) -> Result<&[u8]> {
        self.opt_bytes(field).ok_or_else(|| self.corrupt(field))
    }

    /// A required UTF-8 field.
    pub(crate) fn text(&self, field: &str) -> Result<String> {
        self.opt_text(field)?.ok_or_else(|| self.corrupt(field))
    }

    /// An optional UTF-8 field.
    pub(crate) fn opt_text(&self, field: &str) -> Result<Option<String>> {
        self.opt_bytes(field)
            .map(|b| {
                std::str::from_utf8(b)
                    .map(str::to_owned)
                    .map_err(|_| self.corrupt(field))
            })
            .transpose()
    }

    /// A required decimal field.
    pub(crate) fn u64(&self, field: &str) -> Result<u64> {
        self.opt_u64(field)?.ok_or_else(|| self.corrupt(field))
    }

    /// An optional decimal field.
    pub(crate) fn opt_u64(&self, field: &str) -> Result<Option<u64>> {
        self.opt_bytes(field)
            .map(|b| parse_u64(b).ok_or_else(|| self.corrupt(field)))
            .transpose()
    }

    /// A required time field (milliseconds).
    pub(crate) fn time(&self, field: &str) -> Result<SystemTime> {
        let ms = self.u64(field)?;
        from_ms(ms, "time out of range").map_err(|_| self.corrupt(field))
    }

    /// An optional time field (milliseconds).
    pub(crate) fn opt_time(&self, field: &str) -> Result<Option<SystemTime>> {
        self.opt_u64(field)?
            .map(|ms| from_ms(ms, "time out of range").map_err(|_| self.corrupt(field)))
            .transpose()
    }

    /// An optional 32-byte digest field.
    pub(crate) fn opt_digest(&self, field: &str) -> Result<Option<CodeDigest>> {
        self.opt_bytes(field)
            .map(|b| digest(b).ok_or_else(|| self.corrupt(field)))
            .transpose()
    }

    /// A required 32-byte digest field.
    pub(crate) fn digest(&self, field: &str) -> Result<CodeDigest> {
        self.opt_digest(field)?.ok_or_else(|| self.corrupt(field))
    }
}

/// Appends `<byte length>:<part>`: parts written one after another read back unambiguously,
/// whatever they contain (in Rust, and in Lua by `split_parts`).
pub(crate) fn push_part(out: &mut String, part: &str) {
    // Writing to a String cannot fail.
    let _ = write!(out, "{}:{part}", part.len());
}

/// A decimal `u64` (ASCII digits only).
pub(crate) fn parse_u64(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// A digest from exactly 32 bytes.
pub(crate) fn digest(bytes: &[u8]) -> Option<CodeDigest> {
    <[u8; 32]>::try_from(bytes).ok().map(CodeDigest::from_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_in_milliseconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(from_ms(to_ms(t), "t").unwrap(), t);
        assert_eq!(to_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert_eq!(
            to_ms(UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)),
            MAX_MS
        );
    }

    #[test]
    fn malformed_fields_are_corrupt_and_name_the_field() {
        let fields = Fields::from_flat(
            "challenge",
            [
                b"left".to_vec(),
                b"-1".to_vec(),
                b"code".to_vec(),
                vec![1; 31],
            ],
        )
        .unwrap();
        let err = fields.u64("left").unwrap_err();
        assert_eq!(
            err.to_string(),
            "stored data is corrupt: challenge field `left`"
        );
        assert!(matches!(
            fields.opt_digest("code"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            fields.time("created"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(Fields::from_flat("x", [b"odd".to_vec()]).is_err());
    }
}
