//! The JSON documents the server-side routines read (PostgreSQL's functions, MySQL's
//! procedures: `migrations/{postgres,mysql}/0003_flow.sql`), written once for both.
//!
//! Lists of any length (a batch of takes, a plan, a settlement) reach a routine as one JSON
//! text argument. Every string in them is the hex of its UTF-8 bytes, so nothing needs
//! escaping and a MySQL identifier (`VARBINARY`) gets exactly its bytes back; numbers are
//! plain JSON integers (milliseconds, steps, limits). SQLite runs no routine; it writes the
//! plan's document too, so the `plan_takes` column means the same on every engine. Settlements
//! and audit records reach MySQL's routines this way; PostgreSQL's `settle_lists` takes them
//! as typed arrays (`postgres/flow.rs`).

use std::fmt::Write as _;
use std::time::Duration;

use mfa_store::{AttemptPlan, AuditEvent, Settlement, Take};

use crate::convert::millis;
use crate::counter::KeyTake;

/// `text` as lowercase hex of its UTF-8 bytes.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn hex(text: &str) -> String {
    let mut out = String::with_capacity(text.len().saturating_mul(2));
    push_hex(&mut out, text);
    out
}

fn push_hex(out: &mut String, text: &str) {
    for byte in text.as_bytes() {
        let _ = write!(out, "{byte:02x}");
    }
}

/// A JSON string holding the hex of `text`.
fn push_string(out: &mut String, text: &str) {
    out.push('"');
    push_hex(out, text);
    out.push('"');
}

/// A JSON string holding the hex of `text`, or `null`.
fn push_opt_string(out: &mut String, text: Option<&str>) {
    match text {
        Some(text) => push_string(out, text),
        None => out.push_str("null"),
    }
}

/// `[item, ..]`, each written by `write`.
fn push_list<T>(out: &mut String, items: &[T], mut write: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(out, item);
    }
    out.push(']');
}

/// One take as the routines read it: `[hex key, window ms, limit]`.
fn push_take(out: &mut String, key: &str, window_ms: i64, limit: u32) {
    out.push('[');
    push_string(out, key);
    let _ = write!(out, ",{window_ms},{limit}]");
}

/// A window in whole milliseconds, saturating (as `AttemptPlan::encode` stores it).
fn window_ms(window: Duration) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
}

/// A batch of takes made at `now` (ms): `[[hex key, window ms, limit], ..]`, each window the
/// one that makes the routine's end (`now + window`, saturating) the take's own end exactly.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn takes(takes: &[KeyTake], now: i64) -> String {
    let mut out = String::new();
    push_list(&mut out, takes, |out, t| {
        push_take(out, &t.key, t.end.saturating_sub(now), t.limit);
    });
    out
}

/// What the `plan_takes` column holds for `plan` (see `migrations/0003_challenge_plan.sql`):
/// `{"tag": hex | null, "r": [take, ..], "u": [take, ..]}`.
pub(crate) fn plan(plan: &AttemptPlan) -> String {
    let list = |out: &mut String, takes: &[Take]| {
        push_list(out, takes, |out, t| {
            push_take(out, &t.key.storage_key(), window_ms(t.window), t.limit);
        });
    };
    let mut out = String::from("{\"tag\":");
    push_opt_string(&mut out, plan.tag.as_deref());
    out.push_str(",\"r\":");
    list(&mut out, &plan.recognised);
    out.push_str(",\"u\":");
    list(&mut out, &plan.unrecognised);
    out.push('}');
    out
}

/// Audit records: `[[at, hex user, hex kind, hex outcome, hex ip | null, hex user agent |
/// null, hex actor | null], ..]`.
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
pub(crate) fn audit(events: &[AuditEvent]) -> String {
    let mut out = String::new();
    push_list(&mut out, events, |out, e| {
        let ip = e.client.ip.map(|ip| ip.to_string());
        let _ = write!(out, "[{},", millis(e.at));
        push_string(out, &e.user);
        out.push(',');
        push_string(out, e.kind.as_str());
        out.push(',');
        push_string(out, e.outcome.as_str());
        out.push(',');
        push_opt_string(out, ip.as_deref());
        out.push(',');
        push_opt_string(out, e.client.user_agent.as_deref());
        out.push(',');
        push_opt_string(out, e.actor.as_deref());
        out.push(']');
    });
    out
}

/// A settlement whose step (if any) fits the `BIGINT` it is stored as: `{"user": hex,
/// "advance": [hex factor, step] | null, "consume": [hex id, ..], "resets": [hex key, ..],
/// "refunds": [hex key, ..], "locks": [[hex key, until ms], ..], "audit": [..] (as
/// [`audit`])}`.
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
pub(crate) fn settlement(s: &Settlement, step: Option<i64>) -> String {
    let keys = |out: &mut String, keys: &[mfa_store::CounterKey]| {
        push_list(out, keys, |out, k| push_string(out, &k.storage_key()));
    };
    let mut out = String::from("{\"user\":");
    push_string(&mut out, &s.user);
    out.push_str(",\"advance\":");
    match (&s.advance, step) {
        (Some((factor, _)), Some(step)) => {
            out.push('[');
            push_string(&mut out, factor);
            let _ = write!(out, ",{step}]");
        }
        _ => out.push_str("null"),
    }
    out.push_str(",\"consume\":");
    push_list(&mut out, &s.consume, |out, id| push_string(out, id));
    out.push_str(",\"resets\":");
    keys(&mut out, &s.resets);
    out.push_str(",\"refunds\":");
    keys(&mut out, &s.refunds);
    out.push_str(",\"locks\":");
    push_list(&mut out, &s.locks, |out, (key, until)| {
        out.push('[');
        push_string(out, &key.storage_key());
        let _ = write!(out, ",{}]", millis(*until));
    });
    out.push_str(",\"audit\":");
    out.push_str(&audit(&s.audit));
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use mfa_store::{AuditKind, AuditOutcome, ClientInfo, CounterKey, CounterScope};

    use super::*;

    #[test]
    fn strings_are_hex_so_nothing_needs_escaping() {
        assert_eq!(hex("a\"\\é"), "61225cc3a9");
        let key = CounterKey::new("n", CounterScope::Account("\"],".into()));
        let plan = AttemptPlan {
            tag: None,
            recognised: Vec::new(),
            unrecognised: vec![Take::new(key.clone(), Duration::from_millis(1500), 3)],
        };
        assert_eq!(
            super::plan(&plan),
            format!(
                "{{\"tag\":null,\"r\":[],\"u\":[[\"{}\",1500,3]]}}",
                hex(&key.storage_key())
            )
        );
    }

    #[test]
    fn settlements_and_takes_as_the_routines_read_them() {
        let at = UNIX_EPOCH + Duration::from_millis(5000);
        let key = CounterKey::new("k", CounterScope::Client("c".into()));
        let s = Settlement {
            user: "u".into(),
            advance: Some(("f".into(), 7)),
            consume: vec!["x".into()],
            resets: vec![key.clone()],
            refunds: Vec::new(),
            locks: vec![(key.clone(), at)],
            audit: vec![AuditEvent {
                at,
                user: "u".into(),
                kind: AuditKind::LOCKED,
                outcome: AuditOutcome::Denied,
                client: ClientInfo::default(),
                actor: Some("a".into()),
            }],
        };
        let k = hex(&key.storage_key());
        assert_eq!(
            settlement(&s, Some(7)),
            format!(
                "{{\"user\":\"75\",\"advance\":[\"66\",7],\"consume\":[\"78\"],\
                 \"resets\":[\"{k}\"],\"refunds\":[],\"locks\":[[\"{k}\",5000]],\
                 \"audit\":[[5000,\"75\",\"{}\",\"{}\",null,null,\"61\"]]}}",
                hex("account.locked"),
                hex("denied")
            )
        );
        assert!(settlement(&s, None).contains("\"advance\":null"));
        let batch = [KeyTake {
            key: "ab".into(),
            end: 9000,
            limit: 4,
        }];
        assert_eq!(takes(&batch, 1000), "[[\"6162\",8000,4]]");
    }
}
