//! The JSON documents server-side routines read (PostgreSQL's functions, MySQL's procedures),
//! written once for both.
//!
//! Lists of any length (a batch of takes, a plan) reach a routine as one JSON text argument. Every string in them is the hex of its UTF-8 bytes, so nothing needs
//! escaping and a MySQL identifier (`VARBINARY`) gets exactly its bytes back; numbers are
//! plain JSON integers (milliseconds, steps, limits). SQLite runs no routine; it writes the
//! plan's document too, so the `plan_takes` column means the same on every engine.

use std::fmt::Write as _;
use std::time::Duration;

use mfa_store::{AttemptPlan, Take};

use crate::counter::KeyTake;

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

#[cfg(test)]
mod tests {
    use mfa_store::{CounterKey, CounterScope};

    use super::*;

    #[test]
    fn strings_are_hex_so_nothing_needs_escaping() {
        let key = CounterKey::new("n", CounterScope::Account("é\"],".into()));
        let mut hex_key = String::new();
        push_hex(&mut hex_key, &key.storage_key());
        assert_eq!(hex_key, "313a6e61353ac3a9225d2c");
        let plan = AttemptPlan {
            tag: Some("\\".into()),
            recognised: Vec::new(),
            unrecognised: vec![Take::new(key, Duration::from_millis(1500), 3)],
        };
        assert_eq!(
            super::plan(&plan),
            format!("{{\"tag\":\"5c\",\"r\":[],\"u\":[[\"{hex_key}\",1500,3]]}}")
        );
        let batch = [KeyTake {
            key: "ab".into(),
            end: 9000,
            limit: 4,
        }];
        assert_eq!(takes(&batch, 1000), "[[\"6162\",8000,4]]");
    }
}
