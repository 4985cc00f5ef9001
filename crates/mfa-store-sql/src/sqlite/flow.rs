//! The coarse operations of a login on SQLite: one `BEGIN IMMEDIATE` transaction each, of the
//! fine-grained statements in the order the provided `FlowStore` methods run them. The
//! transaction holds the database's write lock from its first statement, so nothing
//! interleaves, and a settlement whose condition fails is rolled back whole.

use mfa_store::{
    AttemptOutcome, AttemptView, AuditEvent, Challenge, CounterTake, Result as SResult, Settlement,
};
use sqlx::Sqlite;

use crate::convert::{corrupt, millis, store_err, time};
use crate::counter::KeyTake;
use crate::db::On;
use crate::returning;
use crate::store::SqlStore;

pub(super) async fn open_ticket(
    store: &SqlStore<Sqlite>,
    ticket: &Challenge,
    budget: &KeyTake,
    audit: &AuditEvent,
    now: i64,
) -> SResult<CounterTake> {
    let mut tx = store.begin().await?;
    let take = store
        .take_on(&mut tx, std::slice::from_ref(budget), now)
        .await?
        .pop()
        .ok_or_else(|| corrupt("taken"))?;
    if take.is_taken() {
        // An error (a conflict) drops the transaction, which rolls the take back too.
        store.create_on(&mut tx, ticket).await?;
        store.append_on(On::Tx(&mut *tx), audit).await?;
    }
    tx.commit().await.map_err(store_err)?;
    Ok(take)
}

pub(super) async fn attempt(
    store: &SqlStore<Sqlite>,
    id: &str,
    tag: Option<&str>,
    factors: bool,
    now: i64,
) -> SResult<Option<AttemptView>> {
    let mut tx = store.begin().await?;
    let Some(challenge) = returning::spend(store, On::Tx(&mut *tx), id, now).await? else {
        let refused = store.refusal_on(On::Tx(&mut *tx), id, now).await?;
        tx.commit().await.map_err(store_err)?;
        let outcome = match refused {
            None => AttemptOutcome::NotFound,
            Some(Some(refusal)) => refusal,
            // Under the write lock the row cannot have changed since the spend; were it so,
            // the caller tries again.
            Some(None) => return Ok(None),
        };
        return Ok(Some(AttemptView {
            outcome,
            recognised: false,
            takes: Vec::new(),
            factors: Vec::new(),
        }));
    };
    let (recognised, takes) = match &challenge.plan {
        Some(plan) => {
            let (recognised, list) = plan.takes_for(tag);
            let at = time(now, "now")?;
            let list: Vec<KeyTake> = list
                .iter()
                .map(|t| KeyTake::new(&t.key, t.window, t.limit, at))
                .collect();
            (recognised, store.take_on(&mut tx, &list, now).await?)
        }
        None => (false, Vec::new()),
    };
    let factors = if factors && takes.iter().all(CounterTake::is_taken) {
        store.factors_on(On::Tx(&mut *tx), &challenge.user).await?
    } else {
        Vec::new()
    };
    tx.commit().await.map_err(store_err)?;
    Ok(Some(AttemptView {
        outcome: AttemptOutcome::Spent {
            attempts_left_after: challenge.attempts_left,
            challenge: Box::new(challenge),
        },
        recognised,
        takes,
        factors,
    }))
}

pub(super) async fn settle(
    store: &SqlStore<Sqlite>,
    s: &Settlement,
    step: Option<i64>,
    now: i64,
) -> SResult<bool> {
    let mut tx = store.begin().await?;
    let mut held = match (&s.advance, step) {
        (Some((factor, _)), Some(step)) => {
            store
                .advance_on(On::Tx(&mut *tx), &s.user, factor, step)
                .await?
        }
        _ => true,
    };
    for id in &s.consume {
        if !held {
            break;
        }
        held = store
            .consume_own_on(On::Tx(&mut *tx), &s.user, id, now)
            .await?;
    }
    if !held {
        tx.rollback().await.map_err(store_err)?;
        return Ok(false);
    }
    for key in &s.resets {
        store.reset_on(On::Tx(&mut *tx), &key.storage_key()).await?;
    }
    for key in &s.refunds {
        store
            .refund_on(On::Tx(&mut *tx), &key.storage_key(), now)
            .await?;
    }
    for (key, until) in &s.locks {
        store
            .lock_on(On::Tx(&mut *tx), &key.storage_key(), millis(*until), now)
            .await?;
    }
    for event in &s.audit {
        store.append_on(On::Tx(&mut *tx), event).await?;
    }
    tx.commit().await.map_err(store_err)?;
    Ok(true)
}
