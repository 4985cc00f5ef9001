//! [`AuditStore`] on Redis: one sorted set per user, scored by time in milliseconds, each
//! member a zero-padded per-user sequence number followed by the encoded event, so equal
//! times come back newest appended first. Audit events have no TTL.

use async_trait::async_trait;
use mfa_store::{AuditEvent, AuditKind, AuditStore, ClientInfo, Result, StoreError};

use crate::RedisStore;
use crate::codec::{from_ms, parse_u64, push_part, to_ms};
use crate::scripts::{AUDIT_APPEND, AUDIT_LIST};
use crate::store::Op;

/// Width of the sequence number that starts every member.
const SEQ_WIDTH: usize = 20;

fn push_optional(out: &mut String, part: Option<&str>) {
    match part {
        Some(part) => {
            out.push('+');
            push_part(out, part);
        }
        None => out.push('-'),
    }
}

/// `<at ms>|<len>:<kind><len>:<outcome>(+<len>:<ip>|-)(+<len>:<user agent>|-)(+<len>:<actor>|-)`.
pub(crate) fn encode(event: &AuditEvent) -> String {
    let mut out = format!("{}|", to_ms(event.at));
    push_part(&mut out, event.kind.as_str());
    push_part(&mut out, event.outcome.as_str());
    let ip = event.client.ip.map(|ip| ip.to_string());
    push_optional(&mut out, ip.as_deref());
    push_optional(&mut out, event.client.user_agent.as_deref());
    push_optional(&mut out, event.actor.as_deref());
    out
}

/// A cursor over an encoded member.
struct Reader<'a>(&'a str);

impl<'a> Reader<'a> {
    fn until(&mut self, end: char) -> Option<&'a str> {
        let (head, tail) = self.0.split_once(end)?;
        self.0 = tail;
        Some(head)
    }

    fn part(&mut self) -> Option<&'a str> {
        let len: usize = self.until(':')?.parse().ok()?;
        let part = self.0.get(..len)?;
        self.0 = self.0.get(len..)?;
        Some(part)
    }

    fn optional(&mut self) -> Option<Option<&'a str>> {
        let flag = self.0.get(..1)?;
        self.0 = self.0.get(1..)?;
        match flag {
            "+" => self.part().map(Some),
            "-" => Some(None),
            _ => None,
        }
    }
}

fn decode(user: &str, member: &[u8]) -> Result<AuditEvent> {
    let corrupt = || StoreError::corrupt("audit event");
    let text = std::str::from_utf8(member).map_err(|_| corrupt())?;
    let mut reader = Reader(text.get(SEQ_WIDTH..).ok_or_else(corrupt)?);
    let at = reader
        .until('|')
        .and_then(|ms| parse_u64(ms.as_bytes()))
        .ok_or_else(corrupt)?;
    let kind = reader.part().ok_or_else(corrupt)?;
    let outcome = reader.part().ok_or_else(corrupt)?;
    let ip = reader.optional().ok_or_else(corrupt)?;
    let user_agent = reader.optional().ok_or_else(corrupt)?;
    // Events appended before the actor was recorded end after the user agent.
    let actor = if reader.0.is_empty() {
        None
    } else {
        reader.optional().ok_or_else(corrupt)?
    };
    if !reader.0.is_empty() {
        return Err(corrupt());
    }
    let ip = ip
        .map(|text| text.parse().map_err(|_| corrupt()))
        .transpose()?;
    Ok(AuditEvent {
        at: from_ms(at, "audit event time")?,
        user: user.to_owned(),
        kind: AuditKind::new(kind.to_owned()),
        outcome: outcome.parse()?,
        client: ClientInfo {
            ip,
            user_agent: user_agent.map(str::to_owned),
        },
        actor: actor.map(str::to_owned),
    })
}

#[async_trait]
impl AuditStore for RedisStore {
    async fn append_audit(&self, event: AuditEvent) -> Result<()> {
        let _: i64 = self
            .eval(
                AUDIT_APPEND
                    .on(&self.keys, self.keys.audit(&event.user))
                    .key(self.keys.audit_seq(&event.user))
                    .arg(to_ms(event.at))
                    .arg(encode(&event)),
                Op::Write,
            )
            .await?;
        Ok(())
    }

    async fn audit_events(&self, user: &str, limit: usize) -> Result<Vec<AuditEvent>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let stop = i64::try_from(limit).map_or(-1, |n| n.saturating_sub(1));
        let members: Vec<Vec<u8>> = self
            .eval(
                AUDIT_LIST.on(&self.keys, self.keys.audit(user)).arg(stop),
                Op::Read,
            )
            .await?;
        members.iter().map(|m| decode(user, m)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use mfa_store::AuditOutcome;

    use super::*;

    #[test]
    fn events_round_trip_whatever_their_text() {
        let event = AuditEvent {
            at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            user: "u".into(),
            kind: AuditKind::new("we|ird:3:kind"),
            outcome: AuditOutcome::Denied,
            client: ClientInfo {
                ip: None,
                user_agent: Some("+5:x|-".into()),
            },
            actor: Some("admin|+3:x".into()),
        };
        let member = format!("{:020}{}", 7, encode(&event));
        assert_eq!(decode("u", member.as_bytes()).unwrap(), event);
        let v6 = AuditEvent {
            client: ClientInfo::new("2001:db8::7".parse().unwrap()),
            actor: None,
            ..event
        };
        let member = format!("{:020}{}", 8, encode(&v6));
        assert_eq!(decode("u", member.as_bytes()).unwrap(), v6);
        let old = format!("{:020}1|1:k7:success--", 10);
        assert_eq!(
            decode("u", old.as_bytes()).unwrap().actor,
            None,
            "an event without an actor"
        );
        let bad_ip = format!("{:020}1|1:k7:success+3:abc--", 9);
        assert!(
            decode("u", bad_ip.as_bytes()).is_err(),
            "an IP that does not parse"
        );
        assert!(decode("u", b"0000000000000000000712|3:abc").is_err());
        assert!(decode("u", b"short").is_err());
    }
}
