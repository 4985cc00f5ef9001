//! [`AuditStore`] on every engine: an append-only table, ordered by time and an auto-increment
//! sequence number.

use std::net::IpAddr;
use std::str::FromStr;

use async_trait::async_trait;
use mfa_store::{AuditEvent, AuditKind, AuditOutcome, AuditStore, ClientInfo, Result as SResult};

use crate::convert::{corrupt, millis, time};
use crate::db::{Arg, Cols, On, Sql};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::store::{SqlStore, execute_on};

/// The select list of an event, in [`event`]'s order.
const COLUMNS: &str = "at, @user_id, kind, outcome, ip, user_agent, actor";

/// The statements of the audit trail.
#[derive(Debug)]
pub(crate) struct AuditSql {
    append: Sql,
    list: Sql,
}

impl AuditSql {
    pub(crate) fn new(d: &Dialect) -> Self {
        Self {
            append: d.sql(&format!(
                "INSERT INTO {{p}}audit_events ({INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            )),
            list: d.sql(&format!(
                "SELECT {COLUMNS} FROM {{p}}audit_events WHERE user_id = ? \
                 ORDER BY at DESC, seq DESC LIMIT ?"
            )),
        }
    }
}

/// An event from a row of [`COLUMNS`]. The address is stored as text (`IpAddr`'s `Display`);
/// text that no longer parses is corrupt, never a guess.
fn event<E: Engine>(row: &E::Row) -> SResult<AuditEvent> {
    let mut c = Cols::<E>::new(row);
    Ok(AuditEvent {
        at: time(c.int("at")?, "at")?,
        user: c.text("user_id")?,
        kind: AuditKind::new(c.text("kind")?),
        outcome: AuditOutcome::from_str(&c.text("outcome")?).map_err(|_| corrupt("outcome"))?,
        client: ClientInfo {
            ip: c
                .opt_text("ip")?
                .map(|ip| IpAddr::from_str(&ip).map_err(|_| corrupt("ip")))
                .transpose()?,
            user_agent: c.opt_text("user_agent")?,
        },
        actor: c.opt_text("actor")?,
    })
}

/// The columns of an appended event, in [`insert_args`]' order.
pub(crate) const INSERT_COLUMNS: &str = "at, user_id, kind, outcome, ip, user_agent, actor";

/// An event's address as it is stored (`IpAddr`'s `Display`), to pass to [`insert_args`].
pub(crate) fn stored_ip(event: &AuditEvent) -> Option<String> {
    event.client.ip.map(|ip| ip.to_string())
}

/// The values of an append of `event`, in [`INSERT_COLUMNS`] order; `ip` is
/// [`stored_ip`]'s.
pub(crate) fn insert_args<'a>(event: &'a AuditEvent, ip: Option<&'a str>) -> [Arg<'a>; 7] {
    [
        Arg::Int(millis(event.at)),
        Arg::Text(&event.user),
        Arg::Text(event.kind.as_str()),
        Arg::Text(event.outcome.as_str()),
        Arg::OptText(ip),
        Arg::OptText(event.client.user_agent.as_deref()),
        Arg::OptText(event.actor.as_deref()),
    ]
}

impl<E: Engine> SqlStore<E> {
    /// `append_audit` on `on` (the pool, or a transaction it is a step of).
    pub(crate) async fn append_on(&self, on: On<'_, E>, event: &AuditEvent) -> SResult<()> {
        let ip = stored_ip(event);
        let args = insert_args(event, ip.as_deref());
        execute_on(on, &self.sql().audit.append, &args).await?;
        Ok(())
    }
}

#[async_trait]
impl<E: Engine> AuditStore for SqlStore<E> {
    async fn append_audit(&self, event: AuditEvent) -> SResult<()> {
        self.append_on(On::Pool(self.pool()), &event).await
    }

    async fn audit_events(&self, user: &str, limit: usize) -> SResult<Vec<AuditEvent>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let args = [Arg::Text(user), Arg::Int(limit)];
        self.fetch_all(&self.sql().audit.list, &args, event::<E>)
            .await
    }
}
