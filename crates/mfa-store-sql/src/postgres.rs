//! PostgreSQL (feature `postgres`): [`PgStore`].
//!
//! READ COMMITTED. Every guessing-bounding operation is one statement whose condition is
//! re-checked on the locked row (EvalPlanQual), so a racer that waited sees the winner's value.
//! A batch of counter takes is one statement too: a chain of data-modifying CTEs, each take
//! running only if the one before it returned a row.

use std::collections::HashSet;

use mfa_core::CodeDigest;
use mfa_store::{
    Challenge, CounterState, CounterTake, Result as SResult, StoreError, TrustedDevice,
};
use sqlx::Postgres;
use sqlx::postgres::PgPool;

use crate::challenge;
use crate::convert::{is_retryable, is_unique_violation};
use crate::counter::{KeyTake, in_order, take_row};
use crate::db::{Arg, Db, On, Sql};
use crate::dialect::{Dialect, Syntax};
use crate::engine::Engine;
use crate::migrate;
use crate::returning::{self, ReturningSql, challenge_upsert, take_upsert};
use crate::store::{Retry, SqlStore};

/// An `mfa-store` [`Store`](mfa_store::Store) on PostgreSQL (feature `postgres`).
///
/// Tables may live in a schema of their own ([`SqlStoreConfig::with_schema`](crate::SqlStoreConfig::with_schema);
/// [`migrate`](SqlStore::migrate) creates it).
pub type PgStore = SqlStore<Postgres>;

/// How PostgreSQL spells what engines spell differently.
pub(crate) const SYNTAX: Syntax = Syntax {
    name: "postgres",
    numbered_placeholders: true,
    schemas: true,
    binary_identifiers: false,
    greatest: "GREATEST",
    for_update: " FOR UPDATE",
    duplicate_key_update: false,
    delete_limit: false,
    types: &[
        ("{id}", "TEXT"),
        ("{key}", "TEXT"),
        ("{blob}", "BYTEA"),
        ("{digest}", "BYTEA"),
        ("{serial}", "BIGSERIAL PRIMARY KEY"),
        ("{table}", ""),
    ],
    varchar: false,
};

/// The engine-only statements of PostgreSQL.
#[derive(Debug)]
pub struct PgSql {
    shared: ReturningSql,
    /// One statement: delete this user's row with this id, then insert, replacing the user's
    /// challenge of this purpose (the insert reads the delete's output, so the delete runs
    /// first; a row deleted by the same statement does not count against the unique keys).
    /// Another user's id is a primary-key violation and the statement changes nothing.
    create_challenge: Sql,
}

impl AsRef<ReturningSql> for PgSql {
    fn as_ref(&self) -> &ReturningSql {
        &self.shared
    }
}

impl PgSql {
    fn new(d: &Dialect) -> Self {
        let insert = challenge_upsert(&format!(
            "SELECT {} FROM (SELECT COUNT(*) FROM gone) g",
            ["?"; challenge::INSERT_WIDTH].join(", ")
        ));
        Self {
            shared: ReturningSql::new(d),
            create_challenge: d.sql(&format!(
                "WITH gone AS (DELETE FROM {{p}}challenges WHERE id = ? AND user_id = ? \
                 RETURNING id) {insert}"
            )),
        }
    }
}

/// How many times a batch whose refusal the statement could not show (the refused record was
/// committed after the statement's snapshot) is run again from that take.
const UNSEEN_REFUSAL_RUNS: usize = 3;

/// The state columns a take returns.
const STATE: &str = "window_start, window_end, count, consecutive, locked_until";

impl Engine for Postgres {
    const SYNTAX: &'static Syntax = &SYNTAX;
    type Sql = PgSql;

    fn sql(dialect: &Dialect) -> PgSql {
        PgSql::new(dialect)
    }

    async fn connect(url: &str) -> sqlx::Result<PgPool> {
        crate::store::pool_options().connect(url).await
    }

    /// One transaction under a transaction-scoped advisory lock on the prefix: concurrent
    /// callers wait, and a failed statement applies nothing.
    async fn migrate(store: &SqlStore<Self>) -> crate::Result<()> {
        let dialect = &store.sql().dialect;
        let mut tx = store.pool().begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("mfa-store-sql migrate {}", dialect.tables()))
            .execute(&mut *tx)
            .await?;
        if let Some(schema) = store.config().schema() {
            // The name was validated ([a-z0-9_]) by SqlStoreConfig.
            let create = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
            Self::execute_raw(&mut tx, create).await?;
        }
        migrate::apply::<Self>(&mut tx, dialect, |_| false).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn begin_write(pool: &PgPool) -> sqlx::Result<sqlx::Transaction<'static, Self>> {
        pool.begin().await
    }

    async fn serialize_user(
        store: &SqlStore<Self>,
        tx: &mut sqlx::PgConnection,
        scope: &str,
        user: &str,
    ) -> sqlx::Result<()> {
        let key = format!("{}{scope}:{user}", store.sql().dialect.tables());
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(tx)
            .await?;
        Ok(())
    }

    async fn create_challenge(store: &SqlStore<Self>, challenge: &Challenge) -> SResult<()> {
        let mut args = vec![Arg::Text(&challenge.id), Arg::Text(&challenge.user)];
        let stored = challenge::Stored::new(challenge);
        args.extend(stored.args());
        let sql = &store.sql().engine.create_challenge;
        let mut retry = Retry::default();
        loop {
            match Self::execute(On::Pool(store.pool()), sql, &args).await {
                Ok(_) => return Ok(()),
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::conflict("challenge id taken"));
                }
                Err(e) => retry.again(e.into(), is_retryable).await?,
            }
        }
    }

    async fn spend(store: &SqlStore<Self>, id: &str, now: i64) -> SResult<Option<Challenge>> {
        returning::spend(store, id, now).await
    }

    async fn touch_device(
        store: &SqlStore<Self>,
        user: &str,
        token: &CodeDigest,
        now: i64,
    ) -> SResult<Option<TrustedDevice>> {
        returning::touch_device(store, user, token, now).await
    }

    async fn take(
        store: &SqlStore<Self>,
        takes: &[KeyTake],
        now: i64,
    ) -> SResult<Vec<CounterTake>> {
        let mut done = Vec::with_capacity(takes.len());
        let mut rest = takes;
        let mut unseen = 0_usize;
        while !rest.is_empty() {
            // A key twice in one statement would be two updates of one row, which PostgreSQL
            // refuses: then the takes go one statement each (never the case in a login).
            let n = if distinct(rest) { rest.len() } else { 1 };
            let (batch, after) = rest.split_at(n);
            let results = chain(store, batch, now).await?;
            let made = results.len();
            let refused = results.last().is_some_and(|t| !t.is_taken());
            done.extend(results);
            if refused {
                break;
            }
            if made < batch.len() {
                // Take `made` was refused on a record committed after the statement's
                // snapshot, so the statement could not show it: run the rest again.
                unseen = unseen.saturating_add(1);
                if unseen > UNSEEN_REFUSAL_RUNS {
                    return Err(StoreError::unavailable(std::io::Error::other(
                        "a counter kept changing under its take",
                    )));
                }
                rest = batch.get(made..).unwrap_or_default();
                continue;
            }
            rest = after;
        }
        Ok(done)
    }

    async fn lock_counter(
        store: &SqlStore<Self>,
        key: &str,
        until: i64,
        now: i64,
    ) -> SResult<CounterState> {
        returning::lock_counter(store, key, until, now).await
    }
}

/// Whether no key is taken twice.
fn distinct(takes: &[KeyTake]) -> bool {
    let mut seen = HashSet::with_capacity(takes.len());
    takes.iter().all(|t| seen.insert(t.key.as_str()))
}

/// Runs `takes` as one statement (retrying a deadlock victim); returns the takes it made, in
/// order, the last one a refusal if there was one it could show.
async fn chain(
    store: &SqlStore<Postgres>,
    takes: &[KeyTake],
    now: i64,
) -> SResult<Vec<CounterTake>> {
    let sql = chain_sql(&store.sql().dialect, takes.len());
    let mut args = Vec::with_capacity(takes.len().saturating_mul(5));
    for t in takes {
        args.extend([
            Arg::Text(&t.key),
            Arg::Int(now),
            Arg::Int(t.end),
            Arg::Int(i64::from(t.limit)),
            Arg::Text(&t.key),
        ]);
    }
    let mut retry = Retry::default();
    let rows = loop {
        match Postgres::fetch_all(On::Pool(store.pool()), &sql, &args).await {
            Ok(rows) => break rows,
            Err(e) => retry.again(e.into(), is_retryable).await?,
        }
    };
    let results = rows
        .iter()
        .map(take_row::<Postgres>)
        .collect::<SResult<Vec<_>>>()?;
    in_order(results)
}

/// The statement of `n` takes: `t<i>` is take `i`, run only if `t<i-1>` returned its row
/// (stop at the first refusal); `r<i>` reads, and locks, the record take `i` refused.
/// Parameters per take, in order: key, now, window end, limit, key.
fn chain_sql(d: &Dialect, n: usize) -> Sql {
    let mut ctes = Vec::with_capacity(n.saturating_mul(2));
    let mut rows = Vec::with_capacity(n.saturating_mul(2));
    for i in 0..n {
        let after = match i.checked_sub(1) {
            Some(previous) => format!(" WHERE EXISTS (SELECT 1 FROM t{previous})"),
            None => String::new(),
        };
        let attempted = after.replace(" WHERE", " AND");
        let upsert = take_upsert(
            &format!("SELECT ?, ?, ?, 1, 1{after}"),
            &format!("RETURNING {STATE}"),
        );
        ctes.push(format!("t{i} AS ({upsert})"));
        ctes.push(format!(
            "r{i} AS (SELECT {STATE} FROM {{p}}counters WHERE counter_key = ? \
             AND NOT EXISTS (SELECT 1 FROM t{i}){attempted} FOR UPDATE)"
        ));
        rows.push(format!(
            "SELECT CAST({i} AS BIGINT) AS i, CAST(1 AS BIGINT) AS taken, {STATE} FROM t{i}"
        ));
        rows.push(format!(
            "SELECT CAST({i} AS BIGINT), CAST(0 AS BIGINT), {STATE} FROM r{i}"
        ));
    }
    d.sql(&format!(
        "WITH {} {}",
        ctes.join(", "),
        rows.join(" UNION ALL ")
    ))
}
