//! The MySQL operations that must return or check the row they wrote: one transaction each
//! (`BEGIN`, the write that takes the row lock, the read of that row, `COMMIT`), since MySQL
//! has no `RETURNING`. A deadlock victim is tried again by the caller (`retrying!`).

use mfa_store::{Challenge, CounterState, StoreError};
use sqlx::MySql;
use sqlx::mysql::MySqlRow;

use crate::challenge;
use crate::convert::{count, is_unique_violation, millis, time};
use crate::counter;
use crate::db::{Arg, Cols, Db, On, Sql};
use crate::store::{Failure, SqlStore};

/// One try of `create_challenge`: the guarded upsert, then the owner of the id, in one
/// transaction; another user's id rolls back as a `Conflict`.
pub(super) async fn try_create_challenge(
    store: &SqlStore<MySql>,
    c: &Challenge,
) -> Result<(), Failure> {
    let q = &store.sql().engine;
    let mut tx = store.pool().begin().await?;
    match MySql::execute(
        On::Tx(&mut *tx),
        &q.upsert_challenge,
        &challenge::Stored::new(c).args(),
    )
    .await
    {
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::conflict("challenge id taken").into());
        }
        other => other?,
    };
    let owner = MySql::fetch_optional(On::Tx(&mut *tx), &q.challenge_owner, &[Arg::Text(&c.id)])
        .await?
        .map(|row| Cols::<MySql>::new(&row).text("user_id"))
        .transpose()?;
    if owner.as_deref() != Some(c.user.as_str()) {
        // Dropping the transaction rolls it back: nothing changed.
        return Err(StoreError::conflict("challenge id taken").into());
    }
    Ok(tx.commit().await?)
}

/// A conditional `UPDATE` and, if it changed a row, the read of that row, in one transaction
/// (the update's row lock keeps the row as written until the read).
pub(super) async fn changed_row(
    store: &SqlStore<MySql>,
    update: &Sql,
    update_args: &[Arg<'_>],
    read: &Sql,
    read_args: &[Arg<'_>],
) -> Result<Option<MySqlRow>, Failure> {
    let mut tx = store.pool().begin().await?;
    if MySql::execute(On::Tx(&mut *tx), update, update_args).await? != 1 {
        tx.rollback().await?;
        return Ok(None);
    }
    let row = MySql::fetch_optional(On::Tx(&mut *tx), read, read_args).await?;
    tx.commit().await?;
    Ok(row)
}

/// One try of `lock_counter`: read under `FOR UPDATE`, decide, write back.
pub(super) async fn try_lock(
    store: &SqlStore<MySql>,
    key: &str,
    until: i64,
    now: i64,
) -> Result<CounterState, Failure> {
    let q = &store.sql().engine;
    let mut tx = store.pool().begin().await?;
    let current = MySql::fetch_optional(On::Tx(&mut *tx), &q.counter_for_update, &[Arg::Text(key)])
        .await?
        .map(|row| counter::keyed::<MySql>(&row))
        .transpose()?
        .map(|(_, state)| state)
        .filter(|state| now < millis(state.retained_until()));
    // The lock spends the window's events (an empty window at now), keeps the consecutive
    // failures of a live record, and only ever extends a lock.
    let (consecutive, locked) = match current {
        Some(state) => (
            i64::from(state.consecutive_failures),
            state.locked_until.map_or(until, |l| millis(l).max(until)),
        ),
        None => (0, until),
    };
    let args = [
        Arg::Text(key),
        Arg::Int(now),
        Arg::Int(now),
        Arg::Int(0),
        Arg::Int(consecutive),
        Arg::Int(locked),
    ];
    MySql::execute(On::Tx(&mut *tx), &q.put_counter, &args).await?;
    tx.commit().await?;
    let state = CounterState {
        window_start: time(now, "window_start")?,
        window_end: time(now, "window_end")?,
        count: 0,
        consecutive_failures: count(consecutive, "consecutive")?,
        locked_until: Some(time(locked, "locked_until")?),
    };
    Ok(state)
}
