//! Redis Cluster hash slots, and the table that names one data-loss marker per slot.
//!
//! A script may only touch keys of one slot on a Cluster, so the marker a script checks must be
//! in the slot of the record it reads. For each of the 16384 slots the table holds the smallest
//! `n` such that the key `{<prefix>:s:<n>}` hashes to that slot; it is computed once per store
//! (a few hundred thousand CRC16 steps) and shared by its clones.

use std::sync::Arc;

/// The number of hash slots of a Redis Cluster.
pub(crate) const SLOTS: usize = 16384;

/// The largest `n` tried when filling the marker table. Every slot is reached well before it
/// (at about 200 000 for any prefix: see the test), so hitting it means a bug, reported as an
/// error rather than a panic.
const MAX_MARKER_N: u32 = 10_000_000;

/// CRC16-XMODEM (polynomial 0x1021, initial value 0), the checksum Redis Cluster slots use.
const CRC16_TABLE: [u16; 256] = {
    let mut table = [0_u16; 256];
    let mut i = 0;
    while i < 256 {
        // `i < 256`, so the cast is lossless.
        #[allow(clippy::cast_possible_truncation)]
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// Continues a CRC16-XMODEM over `bytes` from `crc`.
fn crc16(mut crc: u16, bytes: &[u8]) -> u16 {
    for &byte in bytes {
        let index = usize::from((crc >> 8) ^ u16::from(byte));
        crc = (crc << 8) ^ CRC16_TABLE[index & 0xff];
    }
    crc
}

/// The part of `key` Redis Cluster hashes: the text between the first `{` and the next `}` if
/// it is not empty, else the whole key.
pub(crate) fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    let rest = key.get(open.saturating_add(1)..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'}') {
        Some(close) if close > 0 => rest.get(..close).unwrap_or(key),
        _ => key,
    }
}

/// The hash slot of `key` (`CLUSTER KEYSLOT`).
pub(crate) fn slot(key: &[u8]) -> u16 {
    crc16(0, hash_tag(key)) & 0x3fff
}

/// For each slot, the `n` of the marker key `{<prefix>:s:<n>}` that hashes to it.
#[derive(Clone)]
pub(crate) struct MarkerTable(Arc<[u32]>);

impl MarkerTable {
    /// Fills the table for `prefix`; `None` if some slot was not reached (never, in practice).
    pub(crate) fn build(prefix: &str) -> Option<Self> {
        const UNSET: u32 = u32::MAX;
        let mut table = vec![UNSET; SLOTS];
        // The tag is `<prefix>:s:<n>`: hash the fixed part once, then each `n`'s digits.
        let base = crc16(crc16(0, prefix.as_bytes()), b":s:");
        let mut missing = SLOTS;
        let mut digits = itoa_buffer();
        for n in 0..MAX_MARKER_N {
            let text = write_decimal(&mut digits, n);
            let slot = usize::from(crc16(base, text) & 0x3fff);
            if let Some(entry) = table.get_mut(slot)
                && *entry == UNSET
            {
                *entry = n;
                missing -= 1;
                if missing == 0 {
                    return Some(Self(table.into()));
                }
            }
        }
        None
    }

    /// The `n` of the marker of `slot`.
    pub(crate) fn n(&self, slot: u16) -> u32 {
        self.0.get(usize::from(slot)).copied().unwrap_or_default()
    }

    /// Every marker's `n`, in slot order.
    pub(crate) fn all(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().copied()
    }
}

fn itoa_buffer() -> [u8; 10] {
    [0; 10]
}

/// Writes `n` in decimal into the end of `buf` and returns the digits.
fn write_decimal(buf: &mut [u8; 10], mut n: u32) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        // `n % 10 < 10`, so the cast is lossless.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (n % 10) as u8;
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'0' + digit;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    buf.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // The reference value of the Redis Cluster specification, and `CLUSTER KEYSLOT` answers.
        assert_eq!(crc16(0, b"123456789"), 0x31c3);
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"somekey"), 11058);
        assert_eq!(slot(b"{user1000}.following"), slot(b"{user1000}.followers"));
        assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}"));
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(hash_tag(b"{"), b"{");
    }

    #[test]
    fn decimals_are_written_exactly() {
        let mut buf = itoa_buffer();
        for n in [0, 7, 10, 99, 12_345, u32::MAX] {
            assert_eq!(write_decimal(&mut buf, n), n.to_string().as_bytes());
        }
    }

    #[test]
    fn every_slot_gets_a_marker_that_hashes_to_it() {
        for prefix in ["mfa", "mfa-test-0123456789abcdef", &"x".repeat(64)] {
            let table = MarkerTable::build(prefix).unwrap();
            let mut highest = 0;
            for (expected, n) in table.all().enumerate() {
                let key = format!("{{{prefix}:s:{n}}}");
                assert_eq!(usize::from(slot(key.as_bytes())), expected, "{key}");
                highest = highest.max(n);
            }
            assert!(highest < 400_000, "{prefix}: highest n {highest}");
        }
    }
}
