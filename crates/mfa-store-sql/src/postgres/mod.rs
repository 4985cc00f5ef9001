//! PostgreSQL (feature `postgres`): [`PgStore`].
//!
//! READ COMMITTED. Every guessing-bounding operation is one statement whose condition is
//! re-checked on the locked row (EvalPlanQual), so a racer that waited sees the winner's value.
//! What one statement cannot express is a function of the schema
//! (`migrations/postgres/0003_flow.sql`), called by one statement: the counter takes (a loop
//! that stops at the first refusal, each take seeing rows committed while it waited), the lock,
//! and the settlement of an attempt. The coarse operations of a login are in `flow.rs`.

mod flow;

use mfa_core::CodeDigest;
use mfa_store::{
    AttemptView, AuditEvent, Challenge, CounterState, CounterTake, Result as SResult, Settlement,
    StoreError, TrustedDevice,
};
use sqlx::Postgres;
use sqlx::postgres::PgPool;

use crate::challenge::{self, Stored};
use crate::convert::{corrupt, is_retryable, is_unique_violation};
use crate::counter::{self, KeyTake, in_order, take_from};
use crate::db::{Arg, Cols, Db, On, Sql};
use crate::dialect::{Dialect, Syntax};
use crate::engine::Engine;
use crate::migrate;
use crate::returning::{self, ReturningSql, challenge_upsert};
use crate::routines;
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
    take: Sql,
    lock: Sql,
    flow: flow::FlowSql,
}

impl AsRef<ReturningSql> for PgSql {
    fn as_ref(&self) -> &ReturningSql {
        &self.shared
    }
}

impl PgSql {
    fn new(d: &Dialect) -> Self {
        Self {
            shared: ReturningSql::new(d),
            create_challenge: {
                let (gone, insert) = create_challenge_parts(None);
                d.sql(&format!("WITH {gone} {insert}"))
            },
            take: d.sql("SELECT * FROM {p}take_list(?, CAST(? AS JSONB))"),
            lock: d.sql("SELECT * FROM {p}lock_one(?, ?, ?)"),
            flow: flow::FlowSql::new(d),
        }
    }
}

/// The writes of `create_challenge` as two templates: `gone AS (..)`, the delete of this
/// user's row with this id, and the insert that reads the delete's output (so the delete runs
/// first). Both are made only where `condition` holds, if one is given. Parameters: the id and
/// the user, then the challenge's values in `INSERT_COLUMNS` order.
fn create_challenge_parts(condition: Option<&str>) -> (String, String) {
    let (and, r#where) = match condition {
        Some(c) => (format!(" AND {c}"), format!(" WHERE {c}")),
        None => (String::new(), String::new()),
    };
    let values = ["?"; challenge::INSERT_WIDTH].join(", ");
    let gone = format!(
        "gone AS (DELETE FROM {{p}}challenges WHERE id = ? AND user_id = ?{and} RETURNING id)"
    );
    let insert = challenge_upsert(&format!(
        "SELECT {values} FROM (SELECT COUNT(*) FROM gone) g{where}"
    ));
    (gone, insert)
}

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
        let stored = Stored::new(challenge);
        let mut args = vec![Arg::Text(&challenge.id), Arg::Text(&challenge.user)];
        args.extend(stored.args());
        run(store, &store.sql().engine.create_challenge, &args).await?;
        Ok(())
    }

    async fn spend(store: &SqlStore<Self>, id: &str, now: i64) -> SResult<Option<Challenge>> {
        returning::spend(store, On::Pool(store.pool()), id, now).await
    }

    async fn touch_device(
        store: &SqlStore<Self>,
        user: &str,
        token: &CodeDigest,
        now: i64,
    ) -> SResult<Option<TrustedDevice>> {
        returning::touch_device(store, user, token, now).await
    }

    /// One statement: the schema's `take_list` function.
    async fn take(
        store: &SqlStore<Self>,
        takes: &[KeyTake],
        now: i64,
    ) -> SResult<Vec<CounterTake>> {
        let batch = routines::takes(takes, now);
        let args = [Arg::Int(now), Arg::Text(&batch)];
        let rows = run(store, &store.sql().engine.take, &args).await?;
        let results = rows
            .iter()
            .map(|row| take_from::<Self>(&mut Cols::new(row)))
            .collect::<SResult<Vec<_>>>()?;
        in_order(results)
    }

    /// One statement: the schema's `lock_one` function.
    async fn lock_counter(
        store: &SqlStore<Self>,
        key: &str,
        until: i64,
        now: i64,
    ) -> SResult<CounterState> {
        let args = [Arg::Text(key), Arg::Int(until), Arg::Int(now)];
        let rows = run(store, &store.sql().engine.lock, &args).await?;
        let row = rows.first().ok_or_else(|| corrupt("window_start"))?;
        counter::state(&mut Cols::<Self>::new(row))
    }

    async fn open_ticket(
        store: &SqlStore<Self>,
        ticket: &Challenge,
        budget: &KeyTake,
        audit: &AuditEvent,
        now: i64,
    ) -> SResult<CounterTake> {
        flow::open_ticket(store, ticket, budget, audit, now).await
    }

    async fn attempt(
        store: &SqlStore<Self>,
        id: &str,
        tag: Option<&str>,
        factors: bool,
        now: i64,
    ) -> SResult<Option<AttemptView>> {
        flow::attempt(store, id, tag, factors, now).await
    }

    async fn settle(
        store: &SqlStore<Self>,
        settlement: &Settlement,
        step: Option<i64>,
        now: i64,
    ) -> SResult<bool> {
        flow::settle(store, settlement, step, now).await
    }
}

/// Runs one statement on the pool and returns its rows, retrying it while it is a deadlock
/// victim (the statement was rolled back whole); a unique violation is the `Conflict` of a
/// challenge id another user holds (the only unique key these statements can break).
async fn run(
    store: &SqlStore<Postgres>,
    sql: &Sql,
    args: &[Arg<'_>],
) -> SResult<Vec<sqlx::postgres::PgRow>> {
    let mut retry = Retry::default();
    loop {
        match Postgres::fetch_all(On::Pool(store.pool()), sql, args).await {
            Ok(rows) => return Ok(rows),
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::conflict("challenge id taken"));
            }
            Err(e) => retry.again(e.into(), is_retryable).await?,
        }
    }
}
