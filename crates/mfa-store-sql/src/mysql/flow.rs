//! The coarse operations of a login on MySQL/MariaDB: one `CALL` each of the routines in
//! `migrations/mysql/0003_flow.sql`, each a transaction on the server that rolls back whole
//! on any error (a deadlock victim is called again, a duplicate ticket id is a `Conflict`).

use mfa_store::{AttemptView, AuditEvent, Challenge, CounterTake, Result as SResult, Settlement};
use sqlx::MySql;

use super::call;
use crate::challenge::{self, Stored};
use crate::convert::corrupt;
use crate::counter::{KeyTake, taken_from};
use crate::db::{Arg, Cols, Sql};
use crate::dialect::Dialect;
use crate::flow::{Parts, attempt_view};
use crate::routines;
use crate::store::SqlStore;

/// The routine calls of the coarse operations.
#[derive(Debug)]
pub(super) struct FlowSql {
    open_ticket: Sql,
    attempt: Sql,
    settle: Sql,
}

/// Every part of an attempt's answer is a result set of its own, its columns after the tag.
const PARTS: Parts = Parts {
    challenge: 1,
    take: 1,
    factor: 1,
    refusal: 1,
};

impl FlowSql {
    pub(super) fn new(d: &Dialect) -> Self {
        Self {
            // now, the budget (key, end, limit), the ticket's values, its audit records.
            open_ticket: d.sql(&format!(
                "CALL {{n}}open_ticket(?, ?, ?, ?, {}, ?)",
                ["?"; challenge::INSERT_WIDTH].join(", ")
            )),
            attempt: d.sql("CALL {n}attempt(?, ?, ?, ?)"),
            settle: d.sql("CALL {n}settle(?, ?)"),
        }
    }
}

pub(super) async fn open_ticket(
    store: &SqlStore<MySql>,
    ticket: &Challenge,
    budget: &KeyTake,
    audit: &AuditEvent,
    now: i64,
) -> SResult<CounterTake> {
    let stored = Stored::new(ticket);
    let audit = routines::audit(std::slice::from_ref(audit));
    let mut args = vec![
        Arg::Int(now),
        Arg::Text(&budget.key),
        Arg::Int(budget.end),
        Arg::Int(i64::from(budget.limit)),
    ];
    args.extend(stored.args());
    args.push(Arg::Text(&audit));
    let rows = call(store, &store.sql().engine.flow.open_ticket, &args).await?;
    let row = rows.first().ok_or_else(|| corrupt("taken"))?;
    taken_from::<MySql>(&mut Cols::new(row))
}

pub(super) async fn attempt(
    store: &SqlStore<MySql>,
    id: &str,
    tag: Option<&str>,
    factors: bool,
    now: i64,
) -> SResult<Option<AttemptView>> {
    let tag = tag.map(routines::hex);
    let args = [
        Arg::Text(id),
        Arg::Int(now),
        Arg::OptText(tag.as_deref()),
        Arg::Bool(factors),
    ];
    let rows = call(store, &store.sql().engine.flow.attempt, &args).await?;
    attempt_view::<MySql>(&rows, PARTS, now)
}

pub(super) async fn settle(
    store: &SqlStore<MySql>,
    settlement: &Settlement,
    step: Option<i64>,
    now: i64,
) -> SResult<bool> {
    let doc = routines::settlement(settlement, step);
    let args = [Arg::Int(now), Arg::Text(&doc)];
    let rows = call(store, &store.sql().engine.flow.settle, &args).await?;
    let row = rows.first().ok_or_else(|| corrupt("held"))?;
    Cols::<MySql>::new(row).boolean("held")
}
