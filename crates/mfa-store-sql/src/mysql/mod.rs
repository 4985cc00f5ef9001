//! MySQL and MariaDB, InnoDB (feature `mysql`): [`MySqlStore`].
//!
//! REPEATABLE READ. MySQL has no `UPDATE .. RETURNING` (MariaDB neither), so an operation that
//! must return the row it changed is a transaction: the conditional write takes the row lock, a
//! read in the same transaction returns the row it now owns, `COMMIT` releases it. The batch of
//! counter takes, on the path of every failed attempt, is one call of a stored routine
//! (`migrations/mysql/0002_take_counters.sql`) instead: one round trip. Deadlock victims are
//! retried with a jittered backoff.

use std::fmt::Write as _;

use mfa_core::CodeDigest;
use mfa_store::{
    Challenge, CounterState, CounterTake, Result as SResult, StoreError, TrustedDevice,
};
use sqlx::MySql;
use sqlx::mysql::{MySqlDatabaseError, MySqlPool};

use crate::challenge::{self, INSERT_COLUMNS};
use crate::convert::is_retryable;
use crate::counter::{self, KeyTake, in_order, take_row};
use crate::db::{Arg, Db, On, Sql};
use crate::device;
use crate::dialect::{Dialect, Syntax};
use crate::engine::Engine;
use crate::migrate;
use crate::store::{Failure, Retry, SqlStore};

mod transactions;

use transactions::{changed_row, try_create_challenge, try_lock};

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

/// The longest counter key the `counter_key` column (and the routine) holds.
const MAX_KEY_BYTES: usize = 1024;

/// The engine-only statements of MySQL.
#[derive(Debug)]
pub struct MySqlSql {
    upsert_challenge: Sql,
    challenge_owner: Sql,
    spend: Sql,
    challenge_by_id: Sql,
    touch: Sql,
    device_by_token: Sql,
    counter_for_update: Sql,
    put_counter: Sql,
    take: Sql,
}

impl MySqlSql {
    fn new(d: &Dialect) -> Self {
        // `ON DUPLICATE KEY UPDATE` fires on a duplicate of *any* unique key: on
        // (user_id, purpose), or on the id of this user's row, it replaces the row; on the id of
        // another user's row every assignment keeps the old value, and the read-back reports the
        // conflict. The guard reads only `user_id`, which no assignment changes (MySQL assigns
        // left to right, and a later assignment would see an earlier one's value).
        let mine = "user_id = VALUES(user_id)";
        let sets: Vec<String> = INSERT_COLUMNS
            .split(", ")
            .filter(|c| *c != "user_id")
            .map(|c| format!("{c} = IF({mine}, VALUES({c}), {c})"))
            .collect();
        Self {
            upsert_challenge: d.sql(&format!(
                "INSERT INTO {{p}}challenges ({INSERT_COLUMNS}) VALUES ({}) \
                 ON DUPLICATE KEY UPDATE {}",
                ["?"; challenge::INSERT_WIDTH].join(", "),
                sets.join(", ")
            )),
            challenge_owner: d.sql("SELECT @user_id FROM {p}challenges WHERE id = ?"),
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
            counter_for_update: d.sql(&format!(
                "SELECT {} FROM {{p}}counters WHERE counter_key = ? FOR UPDATE",
                counter::COLUMNS
            )),
            put_counter: d.sql(&format!(
                "INSERT INTO {{p}}counters (counter_key, window_start, window_end, count, \
                 consecutive, locked_until) VALUES (?, ?, ?, ?, ?, ?) {}",
                d.upsert(
                    "counter_key",
                    &[
                        "window_start",
                        "window_end",
                        "count",
                        "consecutive",
                        "locked_until"
                    ]
                )
            )),
            take: d.sql("CALL {n}take_counters(?, ?)"),
        }
    }
}

/// Errors of a migration statement an interrupted earlier run already applied (MySQL commits
/// DDL as it goes): a duplicate column (1060), a duplicate key name (1061), an existing routine
/// (1304).
fn already_applied(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|e| e.try_downcast_ref::<MySqlDatabaseError>())
        .is_some_and(|e| matches!(e.number(), 1060 | 1061 | 1304))
}

/// Retries a transaction step of `store` while it fails as a deadlock victim.
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

    async fn create_challenge(store: &SqlStore<Self>, challenge: &Challenge) -> SResult<()> {
        retrying!(try_create_challenge(store, challenge))
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

    /// One `CALL` of the routine for the whole batch.
    async fn take(
        store: &SqlStore<Self>,
        takes: &[KeyTake],
        now: i64,
    ) -> SResult<Vec<CounterTake>> {
        if takes.iter().any(|t| t.key.len() > MAX_KEY_BYTES) {
            return Err(StoreError::unavailable(std::io::Error::other(
                "a counter key longer than 1024 bytes cannot be stored on MySQL",
            )));
        }
        let batch = takes_json(takes);
        let args = [Arg::Int(now), Arg::Text(&batch)];
        let rows = retrying!(async {
            Self::fetch_all(On::Pool(store.pool()), &store.sql().engine.take, &args)
                .await
                .map_err(Failure::from)
        })?;
        let results = rows
            .iter()
            .map(take_row::<Self>)
            .collect::<SResult<Vec<_>>>()?;
        in_order(results)
    }

    async fn lock_counter(
        store: &SqlStore<Self>,
        key: &str,
        until: i64,
        now: i64,
    ) -> SResult<CounterState> {
        retrying!(try_lock(store, key, until, now))
    }
}

/// The batch as the routine reads it: `[[hex(key), window end, limit], ..]` (hex, so no key
/// needs escaping).
fn takes_json(takes: &[KeyTake]) -> String {
    let mut out = String::from("[");
    for (i, take) in takes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("[\"");
        for byte in take.key.as_bytes() {
            let _ = write!(out, "{byte:02x}");
        }
        let _ = write!(out, "\",{},{}]", take.end, take.limit);
    }
    out.push(']');
    out
}
