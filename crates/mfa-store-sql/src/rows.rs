//! Rows as every engine returns them (the same column types everywhere: `BIGINT` as `i64`,
//! binary as `Vec<u8>`, text as `String`), and their conversion into `mfa-store` records.

use std::collections::BTreeSet;
use std::str::FromStr;

use mfa_core::{Algorithm, Digits, Period, SealedSecret};
use mfa_store::{
    AuditEvent, AuditKind, AuditOutcome, Challenge, ChallengeKind, ClientInfo, CounterState,
    FactorKind, FactorStatus, MfaSettings, StoreError, TotpFactor, TrustedDevice,
};

use crate::convert::{corrupt, count, digest, opt_digest, time, unsigned};

type R<T> = Result<T, StoreError>;

/// The columns of a TOTP factor, in `FACTOR_COLUMNS` order.
pub(crate) type FactorRow = (
    String,
    String,
    Vec<u8>,
    String,
    i64,
    i64,
    String,
    String,
    Option<i64>,
    i64,
);
/// The select list of a factor (`@col` marks identifier columns, see `Dialect::sql`).
pub(crate) const FACTOR_COLUMNS: &str = "@user_id, @id, sealed_secret, algorithm, digits, period, \
     label, status, last_used_step, created_at";

pub(crate) fn factor(row: FactorRow) -> R<TotpFactor> {
    let (user, id, sealed, algorithm, digits, period, label, status, last, created) = row;
    Ok(TotpFactor {
        user,
        id,
        sealed_secret: SealedSecret::from_bytes(sealed).map_err(|_| corrupt("sealed_secret"))?,
        algorithm: Algorithm::from_str(&algorithm).map_err(|_| corrupt("algorithm"))?,
        digits: u32::try_from(digits)
            .ok()
            .and_then(|d| Digits::new(d).ok())
            .ok_or_else(|| corrupt("digits"))?,
        period: Period::from_secs(unsigned(period, "period")?).map_err(|_| corrupt("period"))?,
        label,
        status: FactorStatus::from_str(&status).map_err(|_| corrupt("status"))?,
        last_used_step: last.map(|s| unsigned(s, "last_used_step")).transpose()?,
        created_at: time(created, "created_at")?,
    })
}

/// The columns of a challenge, in `CHALLENGE_COLUMNS` order.
pub(crate) type ChallengeRow = (
    String,
    String,
    String,
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    i64,
    i64,
    i64,
    bool,
);
/// The select list of a challenge.
pub(crate) const CHALLENGE_COLUMNS: &str = "@id, @user_id, @purpose, kind, code_digest, \
     link_digest, binding_digest, created_at, expires_at, attempts_left, consumed";

pub(crate) fn challenge(row: ChallengeRow) -> R<Challenge> {
    let (id, user, purpose, kind, code, link, binding, created, expires, left, consumed) = row;
    Ok(Challenge {
        id,
        user,
        purpose,
        kind: ChallengeKind::from_str(&kind).map_err(|_| corrupt("kind"))?,
        code_digest: opt_digest(code.as_deref(), "code_digest")?,
        link_digest: opt_digest(link.as_deref(), "link_digest")?,
        binding_digest: opt_digest(binding.as_deref(), "binding_digest")?,
        created_at: time(created, "created_at")?,
        expires_at: time(expires, "expires_at")?,
        attempts_left: count(left, "attempts_left")?,
        consumed,
    })
}

/// The columns of a counter, in `COUNTER_COLUMNS` order (the key first, to match batch reads).
pub(crate) type CounterRow = (String, i64, i64, i64, i64, Option<i64>);
/// The select list of a counter.
pub(crate) const COUNTER_COLUMNS: &str =
    "@counter_key, window_start, window_end, count, consecutive, locked_until";

pub(crate) fn counter(row: &CounterRow) -> R<CounterState> {
    let (_, start, end, hits, consecutive, locked) = *row;
    Ok(CounterState {
        window_start: time(start, "window_start")?,
        window_end: time(end, "window_end")?,
        count: count(hits, "count")?,
        consecutive_failures: count(consecutive, "consecutive")?,
        locked_until: locked.map(|l| time(l, "locked_until")).transpose()?,
    })
}

/// The columns of a trusted device, in `DEVICE_COLUMNS` order.
pub(crate) type DeviceRow = (String, String, Vec<u8>, String, i64, i64, i64);
/// The select list of a trusted device.
pub(crate) const DEVICE_COLUMNS: &str =
    "@user_id, @id, token_digest, label, created_at, expires_at, last_seen";

pub(crate) fn device(row: DeviceRow) -> R<TrustedDevice> {
    let (user, id, token, label, created, expires, seen) = row;
    Ok(TrustedDevice {
        user,
        id,
        token_digest: digest(&token, "token_digest")?,
        label,
        created_at: time(created, "created_at")?,
        expires_at: time(expires, "expires_at")?,
        last_seen: time(seen, "last_seen")?,
    })
}

/// The columns of an audit event, in `AUDIT_COLUMNS` order.
pub(crate) type AuditRow = (i64, String, String, String, Option<String>, Option<String>);
/// The select list of an audit event.
pub(crate) const AUDIT_COLUMNS: &str = "at, @user_id, kind, outcome, ip, user_agent";

pub(crate) fn audit(row: AuditRow) -> R<AuditEvent> {
    let (at, user, kind, outcome, ip, user_agent) = row;
    Ok(AuditEvent {
        at: time(at, "at")?,
        user,
        kind: AuditKind::new(kind),
        outcome: AuditOutcome::from_str(&outcome).map_err(|_| corrupt("outcome"))?,
        client: ClientInfo { ip, user_agent },
    })
}

/// The columns of a user's settings, in `SETTINGS_COLUMNS` order.
pub(crate) type SettingsRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);
/// The select list of a user's settings.
pub(crate) const SETTINGS_COLUMNS: &str = "@user_id, enabled, preferred, email, phone";

pub(crate) fn settings(row: SettingsRow) -> R<MfaSettings> {
    let (user, enabled, preferred, email, phone) = row;
    let enabled = enabled
        .split(',')
        .filter(|name| !name.is_empty())
        .map(|name| FactorKind::from_str(name).map_err(|_| corrupt("enabled")))
        .collect::<R<BTreeSet<_>>>()?;
    let preferred = preferred
        .map(|name| FactorKind::from_str(&name).map_err(|_| corrupt("preferred")))
        .transpose()?;
    Ok(MfaSettings {
        user,
        enabled,
        preferred,
        email,
        phone,
    })
}

/// The `enabled` column: the methods' stable names, comma-separated, in order.
pub(crate) fn enabled_text(settings: &MfaSettings) -> String {
    settings
        .enabled
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
