//! MySQL and MariaDB, InnoDB (feature `mysql`): [`MySqlStore`].
//!
//! REPEATABLE READ. MySQL has no `UPDATE .. RETURNING` (MariaDB neither), so an operation that
//! must say what it changed either is a transaction (the conditional write takes the row lock,
//! a read in the same transaction returns the row it now owns, `COMMIT` releases it: spending a
//! try, touching a device), or calls a stored routine that does the same on the server
//! (`migrations/mysql/0002_take_counters.sql` and `0003_flow.sql`): one round trip for the
//! counter takes, the lock, the creation of a challenge and each coarse operation of a login
//! (`flow.rs`). Deadlock victims are retried with a jittered backoff.

mod flow;

use mfa_core::CodeDigest;
use mfa_store::{
    AttemptView, AuditEvent, Challenge, CounterState, CounterTake, Result as SResult, Settlement,
    StoreError, TrustedDevice,
};
use sqlx::MySql;
use sqlx::mysql::{MySqlDatabaseError, MySqlPool, MySqlRow};

use crate::challenge::{self, Stored};
use crate::convert::{corrupt, is_retryable, is_unique_violation};
use crate::counter::{self, KeyTake, in_order, take_from};
use crate::db::{Arg, Cols, Db, On, Sql};
use crate::device;
use crate::dialect::{Dialect, Syntax};
use crate::engine::Engine;
use crate::migrate;
use crate::routines;
use crate::store::{Failure, Retry, SqlStore};

/// An `mfa-store` [`Store`](mfa_store::Store) on MySQL 8 or MariaDB 10.5+ (feature `mysql`).
///
/// Identifiers are stored as `VARBINARY` and compared byte for byte; counter keys hold at most
/// 1024 bytes and ids 255 (a longer one fails the call, so the caller denies).
pub type MySqlStore = SqlStore<MySql>;

/// How MySQL spells what engines spell differently.
pub(crate) const SYNTAX: Syntax = Syntax {
    name: "mysql",
    numbered_placeholders: false,
    schemas: false,
    binary_identifiers: true,
    greatest: "GREATEST",
    for_update: " FOR UPDATE",
    duplicate_key_update: true,
    delete_limit: true,
    types: &[
        ("{id}", "VARBINARY(255)"),
        ("{key}", "VARBINARY(1024)"),
        ("{blob}", "BLOB"),
        ("{digest}", "VARBINARY(64)"),
        ("{serial}", "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY"),
        ("{table}", " ENGINE = InnoDB DEFAULT CHARSET = utf8mb4"),
    ],
    varchar: true,
};

/// The longest counter key the `counter_key` column (and the routines) hold.
const MAX_KEY_BYTES: usize = 1024;

/// Errors of a migration statement an interrupted earlier run already applied (MySQL commits
/// DDL as it goes): a duplicate column (1060), a duplicate key name (1061), an existing routine
/// (1304).
fn already_applied(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|e| e.try_downcast_ref::<MySqlDatabaseError>())
        .is_some_and(|e| matches!(e.number(), 1060 | 1061 | 1304))
}

/// Retries a transaction step or routine call while it fails as a deadlock victim.
macro_rules! retrying {
    ($attempt:expr) => {{
        let mut retry = Retry::default();
        loop {
            match $attempt.await {
                Ok(value) => break Ok::<_, StoreError>(value),
                Err(failure) => retry.again(failure, is_retryable).await?,
            }
        }
    }};
}

/// The engine-only statements of MySQL.
#[derive(Debug)]
pub struct MySqlSql {
    spend: Sql,
    challenge_by_id: Sql,
    touch: Sql,
    device_by_token: Sql,
    create_challenge: Sql,
    take: Sql,
    lock: Sql,
    flow: flow::FlowSql,
}

impl MySqlSql {
    fn new(d: &Dialect) -> Self {
        Self {
            spend: d.sql(
                "UPDATE {p}challenges SET attempts_left = attempts_left - 1 \
                 WHERE id = ? AND NOT consumed AND expires_at > ? AND attempts_left > 0",
            ),
            challenge_by_id: d.sql(&format!(
                "SELECT {} FROM {{p}}challenges WHERE id = ?",
                challenge::COLUMNS
            )),
            touch: d.sql(
                "UPDATE {p}trusted_devices SET last_seen = ? \
                 WHERE user_id = ? AND token_digest = ? AND expires_at > ?",
            ),
            device_by_token: d.sql(&format!(
                "SELECT {} FROM {{p}}trusted_devices WHERE user_id = ? AND token_digest = ?",
                device::COLUMNS
            )),
            create_challenge: d.sql(&format!(
                "CALL {{n}}create_challenge({})",
                ["?"; challenge::INSERT_WIDTH].join(", ")
            )),
            take: d.sql("CALL {n}take_list(?, ?)"),
            lock: d.sql("CALL {n}lock_counter(?, ?, ?)"),
            flow: flow::FlowSql::new(d),
        }
    }
}

/// Fails a counter key the `counter_key` column (and the routines) cannot hold, before any
/// write: the caller denies.
fn check_key(key: &str) -> SResult<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::unavailable(std::io::Error::other(
            "a counter key longer than 1024 bytes cannot be stored on MySQL",
        )));
    }
    Ok(())
}

/// [`check_key`] for every key of a challenge's plan, which the routines take on its attempts.
fn check_plan(challenge: &Challenge) -> SResult<()> {
    let Some(plan) = &challenge.plan else {
        return Ok(());
    };
    plan.recognised
        .iter()
        .chain(&plan.unrecognised)
        .try_for_each(|t| check_key(&t.key.storage_key()))
}

/// Runs one routine call on the pool and returns the rows of every result set, retrying it
/// while it is a deadlock victim (the routine rolled back whole); a duplicate key (the
/// routines signal another user's challenge id as one) is a `Conflict`.
async fn call(store: &SqlStore<MySql>, sql: &Sql, args: &[Arg<'_>]) -> SResult<Vec<MySqlRow>> {
    retrying!(async {
        match MySql::fetch_all(On::Pool(store.pool()), sql, args).await {
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::conflict("challenge id taken").into())
            }
            other => other.map_err(Failure::from),
        }
    })
}

/// A conditional `UPDATE` and, if it changed a row, the read of that row, in one transaction
/// (the update's row lock keeps the row as written until the read).
async fn changed_row(
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

impl Engine for MySql {
    const SYNTAX: &'static Syntax = &SYNTAX;
    type Sql = MySqlSql;

    fn sql(dialect: &Dialect) -> MySqlSql {
        MySqlSql::new(dialect)
    }

    async fn connect(url: &str) -> sqlx::Result<MySqlPool> {
        crate::store::pool_options().connect(url).await
    }

    /// Under a named lock (`GET_LOCK`, per database and prefix), so concurrent callers wait.
    /// DDL commits as it goes: a run interrupted part way is completed by the next call, which
    /// skips what is already there.
    async fn migrate(store: &SqlStore<Self>) -> crate::Result<()> {
        let mut conn = store.pool().acquire().await?;
        let lock = format!("mfa-store-sql migrate {}", store.config().table_prefix());
        sqlx::query("SELECT GET_LOCK(CONCAT(DATABASE(), ' ', ?), 60)")
            .bind(&lock)
            .execute(&mut *conn)
            .await?;
        let outcome =
            migrate::apply::<Self>(&mut conn, &store.sql().dialect, already_applied).await;
        let released = sqlx::query("SELECT RELEASE_LOCK(CONCAT(DATABASE(), ' ', ?))")
            .bind(&lock)
            .execute(&mut *conn)
            .await;
        outcome?;
        released?;
        Ok(())
    }

    async fn begin_write(pool: &MySqlPool) -> sqlx::Result<sqlx::Transaction<'static, Self>> {
        pool.begin().await
    }

    /// One `CALL` of `create_challenge` (a transaction on the server).
    async fn create_challenge(store: &SqlStore<Self>, challenge: &Challenge) -> SResult<()> {
        check_plan(challenge)?;
        let stored = Stored::new(challenge);
        call(store, &store.sql().engine.create_challenge, &stored.args()).await?;
        Ok(())
    }

    async fn spend(store: &SqlStore<Self>, id: &str, now: i64) -> SResult<Option<Challenge>> {
        let q = &store.sql().engine;
        let changed = [Arg::Text(id), Arg::Int(now)];
        let read = [Arg::Text(id)];
        let row = retrying!(changed_row(
            store,
            &q.spend,
            &changed,
            &q.challenge_by_id,
            &read
        ))?;
        row.as_ref().map(challenge::challenge::<Self>).transpose()
    }

    async fn touch_device(
        store: &SqlStore<Self>,
        user: &str,
        token: &CodeDigest,
        now: i64,
    ) -> SResult<Option<TrustedDevice>> {
        let q = &store.sql().engine;
        let token = token.as_bytes();
        let changed = [
            Arg::Int(now),
            Arg::Text(user),
            Arg::Bytes(token),
            Arg::Int(now),
        ];
        let read = [Arg::Text(user), Arg::Bytes(token)];
        let row = retrying!(changed_row(
            store,
            &q.touch,
            &changed,
            &q.device_by_token,
            &read
        ))?;
        row.as_ref().map(device::device::<Self>).transpose()
    }

    /// One `CALL` of `take_list` for the whole batch.
    async fn take(
        store: &SqlStore<Self>,
        takes: &[KeyTake],
        now: i64,
    ) -> SResult<Vec<CounterTake>> {
        takes.iter().try_for_each(|t| check_key(&t.key))?;
        let batch = routines::takes(takes, now);
        let args = [Arg::Int(now), Arg::Text(&batch)];
        let rows = call(store, &store.sql().engine.take, &args).await?;
        let results = rows
            .iter()
            .map(|row| take_from::<Self>(&mut Cols::at(row, 1)))
            .collect::<SResult<Vec<_>>>()?;
        in_order(results)
    }

    /// One `CALL` of `lock_counter`.
    async fn lock_counter(
        store: &SqlStore<Self>,
        key: &str,
        until: i64,
        now: i64,
    ) -> SResult<CounterState> {
        check_key(key)?;
        let args = [Arg::Text(key), Arg::Int(until), Arg::Int(now)];
        let rows = call(store, &store.sql().engine.lock, &args).await?;
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
        check_key(&budget.key)?;
        check_plan(ticket)?;
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
