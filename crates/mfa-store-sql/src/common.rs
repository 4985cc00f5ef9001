//! The statements every engine runs with the same control flow, and the trait impls built on
//! them ([`common_impls!`]). What differs per engine (upserts, `RETURNING`, transactions) is an
//! inherent `eng_*` method of each store, in the engine's module.

use std::sync::Arc;

use crate::dialect::Dialect;
use crate::rows::{
    AUDIT_COLUMNS, CHALLENGE_COLUMNS, COUNTER_COLUMNS, DEVICE_COLUMNS, FACTOR_COLUMNS,
    SETTINGS_COLUMNS,
};

/// How many rows one purge statement deletes at most, when the trait's purge methods run.
pub const DEFAULT_PURGE_BATCH: u32 = 1000;

/// The statements shared by all engines, built once per store.
#[derive(Debug)]
pub(crate) struct Queries {
    pub(crate) totp_factor: Arc<str>,
    pub(crate) totp_factors: Arc<str>,
    pub(crate) confirm_totp: Arc<str>,
    pub(crate) advance_totp_step: Arc<str>,
    pub(crate) replace_totp_secret: Arc<str>,
    pub(crate) delete_totp: Arc<str>,
    pub(crate) challenge: Arc<str>,
    pub(crate) consume_challenge: Arc<str>,
    pub(crate) replace_challenge_code: Arc<str>,
    pub(crate) delete_challenge: Arc<str>,
    pub(crate) find_recovery: Arc<str>,
    pub(crate) consume_recovery: Arc<str>,
    pub(crate) remaining_recovery: Arc<str>,
    pub(crate) reset_counter: Arc<str>,
    pub(crate) counter: Arc<str>,
    /// `SELECT .. WHERE counter_key IN (` : the batch read, closed per call.
    pub(crate) counters_prefix: String,
    pub(crate) insert_device: Arc<str>,
    pub(crate) rotate_device: Arc<str>,
    pub(crate) devices: Arc<str>,
    pub(crate) revoke_device: Arc<str>,
    pub(crate) revoke_all_devices: Arc<str>,
    pub(crate) append_audit: Arc<str>,
    pub(crate) audit_events: Arc<str>,
    pub(crate) settings: Arc<str>,
}

impl Queries {
    pub(crate) fn new(d: &Dialect) -> Self {
        Self {
            totp_factor: d.sql(&format!(
                "SELECT {FACTOR_COLUMNS} FROM {{p}}totp_factors WHERE user_id = ? AND id = ?"
            )),
            totp_factors: d.sql(&format!(
                "SELECT {FACTOR_COLUMNS} FROM {{p}}totp_factors WHERE user_id = ? \
                 ORDER BY created_at, id"
            )),
            confirm_totp: d.sql(
                "UPDATE {p}totp_factors SET status = 'confirmed', last_used_step = ? \
                 WHERE user_id = ? AND id = ? AND status = 'pending'",
            ),
            advance_totp_step: d.sql(
                "UPDATE {p}totp_factors SET last_used_step = ? \
                 WHERE user_id = ? AND id = ? AND status = 'confirmed' \
                 AND (last_used_step IS NULL OR last_used_step < ?)",
            ),
            replace_totp_secret: d.sql(
                "UPDATE {p}totp_factors SET sealed_secret = ? \
                 WHERE user_id = ? AND id = ? AND sealed_secret = ?",
            ),
            delete_totp: d.sql("DELETE FROM {p}totp_factors WHERE user_id = ? AND id = ?"),
            challenge: d.sql(&format!(
                "SELECT {CHALLENGE_COLUMNS} FROM {{p}}challenges WHERE id = ? AND expires_at > ?"
            )),
            consume_challenge: d.sql(
                "UPDATE {p}challenges SET consumed = TRUE \
                 WHERE id = ? AND NOT consumed AND expires_at > ?",
            ),
            replace_challenge_code: d.sql(
                "UPDATE {p}challenges SET code_digest = ?, expires_at = ? \
                 WHERE id = ? AND NOT consumed AND expires_at > ?",
            ),
            delete_challenge: d.sql("DELETE FROM {p}challenges WHERE id = ?"),
            find_recovery: d
                .sql("SELECT verifier FROM {p}recovery_codes WHERE user_id = ? AND locator = ?"),
            consume_recovery: d
                .sql("DELETE FROM {p}recovery_codes WHERE user_id = ? AND locator = ?"),
            remaining_recovery: d.sql("SELECT COUNT(*) FROM {p}recovery_codes WHERE user_id = ?"),
            reset_counter: d.sql("DELETE FROM {p}counters WHERE counter_key = ?"),
            counter: d.sql(&format!(
                "SELECT {COUNTER_COLUMNS} FROM {{p}}counters WHERE counter_key = ?"
            )),
            counters_prefix: d
                .sql(&format!(
                    "SELECT {COUNTER_COLUMNS} FROM {{p}}counters WHERE counter_key IN ("
                ))
                .to_string(),
            insert_device: d.sql(
                "INSERT INTO {p}trusted_devices \
                 (user_id, id, token_digest, label, created_at, expires_at, last_seen) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            ),
            rotate_device: d.sql(
                "UPDATE {p}trusted_devices SET token_digest = ?, last_seen = ? \
                 WHERE user_id = ? AND token_digest = ? AND expires_at > ?",
            ),
            devices: d.sql(&format!(
                "SELECT {DEVICE_COLUMNS} FROM {{p}}trusted_devices \
                 WHERE user_id = ? AND expires_at > ? ORDER BY created_at, id"
            )),
            revoke_device: d.sql("DELETE FROM {p}trusted_devices WHERE user_id = ? AND id = ?"),
            revoke_all_devices: d.sql("DELETE FROM {p}trusted_devices WHERE user_id = ?"),
            append_audit: d.sql(
                "INSERT INTO {p}audit_events (at, user_id, kind, outcome, ip, user_agent) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            ),
            audit_events: d.sql(&format!(
                "SELECT {AUDIT_COLUMNS} FROM {{p}}audit_events WHERE user_id = ? \
                 ORDER BY at DESC, seq DESC LIMIT ?"
            )),
            settings: d.sql(&format!(
                "SELECT {SETTINGS_COLUMNS} FROM {{p}}settings WHERE user_id = ?"
            )),
        }
    }
}

/// A table the purge empties of expired rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purge {
    /// Challenges with `expires_at <= now`.
    Challenges,
    /// Counters whose window and lock have both ended.
    Counters,
    /// Trusted devices with `expires_at <= now`.
    Devices,
}

/// `n` comma-separated rows of `width` placeholders each, numbered from `first`.
pub(crate) fn value_rows(
    d: &Dialect,
    first: usize,
    n: usize,
    width: usize,
    row: impl Fn(&str) -> String,
) -> String {
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        let start = first.saturating_add(i.saturating_mul(width));
        out.push_str(&row(&d.placeholders(start, width)));
    }
    out
}
