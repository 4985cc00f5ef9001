//! [`MySqlStore`]: the `mfa-store` traits on MySQL and MariaDB (InnoDB).
//!
//! MySQL has no `UPDATE .. RETURNING` (MariaDB neither), so an operation that must return the
//! row it changed is a transaction: the conditional `UPDATE` (or `INSERT .. ON DUPLICATE KEY
//! UPDATE`) takes the row lock, a `SELECT` in the same transaction reads the row it now owns,
//! and `COMMIT` releases it. Deadlocks that InnoDB's gap locks can cause are retried.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::SystemTime;

use mfa_core::CodeDigest;
use mfa_store::{
    AttemptOutcome, Challenge, CounterKey, CounterState, NewTotpFactor, RecoveryCodeRecord,
    Result as SResult, StoreError, TrustedDevice, window_end,
};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::{MySql, Transaction};

use crate::common::{DEFAULT_PURGE_BATCH, Purge, Queries, value_rows};
use crate::convert::{conflict_or, corrupt, is_retryable, is_unique_violation, millis, store_err};
use crate::dialect::{Dialect, Engine, migration_statements, q};
use crate::impls::common_impls;
use crate::rows::{
    CHALLENGE_COLUMNS, COUNTER_COLUMNS, ChallengeRow, CounterRow, DEVICE_COLUMNS, DeviceRow,
};
use crate::{Error, Result, SqlStoreConfig};

/// The embedded migrations, oldest first: `(version, SQL)`.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/mysql/0001_init.sql"))];

/// How many times a transaction InnoDB aborted as a deadlock victim is tried. Fifty
/// concurrent replacements of one user's challenge on two loaded cores needed more than five.
const TX_RETRIES: usize = 16;

/// Waits before trying a deadlocked transaction again: a victim retried at once tends to meet
/// the same lock order again. Grows from 1 ms to 32 ms with the tries, plus jitter. The
/// aborted transaction was rolled back whole, so trying again cannot apply anything twice.
async fn deadlock_backoff(tries: usize) {
    let base = 1_u64 << tries.min(5);
    let jitter = getrandom::u64().unwrap_or(0) % base;
    tokio::time::sleep(std::time::Duration::from_millis(
        base.saturating_add(jitter),
    ))
    .await;
}

/// The failure of one try of a transaction: retried if the server says so.
enum TxError {
    Sql(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for TxError {
    fn from(e: sqlx::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Runs `body` up to [`TX_RETRIES`] times while it fails with a deadlock.
macro_rules! retrying {
    ($body:expr) => {{
        let mut tries = 0_usize;
        loop {
            tries = tries.saturating_add(1);
            match $body.await {
                Ok(value) => break Ok(value),
                Err(TxError::Sql(e)) if is_retryable(&e) && tries < TX_RETRIES => {
                    deadlock_backoff(tries).await;
                }
                Err(TxError::Sql(e)) => break Err(store_err(e)),
                Err(TxError::Store(e)) => break Err(e),
            }
        }
    }};
}

/// Statements only MySQL runs.
#[derive(Debug)]
struct MySqlQueries {
    put_settings: Arc<str>,
    factor_status: Arc<str>,
    delete_pending: Arc<str>,
    insert_factor: Arc<str>,
    upsert_challenge: Arc<str>,
    challenge_owner: Arc<str>,
    spend: Arc<str>,
    challenge_by_id: Arc<str>,
    spend_state: Arc<str>,
    delete_recovery: Arc<str>,
    insert_recovery_prefix: String,
    hit_prefix: String,
    hit_suffix: String,
    counter_for_update: Arc<str>,
    put_counter: Arc<str>,
    touch_device: Arc<str>,
    device_by_token: Arc<str>,
    purge_challenges: Arc<str>,
    purge_counters: Arc<str>,
    purge_devices: Arc<str>,
}

impl MySqlQueries {
    fn new(d: &Dialect) -> Self {
        // In `ON DUPLICATE KEY UPDATE`, MySQL evaluates assignments left to right and a later
        // one sees the values set by earlier ones: each statement below assigns a column only
        // after every condition that reads it.
        let mine = "user_id = VALUES(user_id)";
        Self {
            put_settings: d.sql(
                "INSERT INTO {p}settings (user_id, enabled, preferred, email, phone) \
                 VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE enabled = VALUES(enabled), \
                 preferred = VALUES(preferred), email = VALUES(email), phone = VALUES(phone)",
            ),
            factor_status: d.sql(
                "SELECT status FROM {p}totp_factors WHERE user_id = ? AND id = ? FOR UPDATE",
            ),
            delete_pending: d
                .sql("DELETE FROM {p}totp_factors WHERE user_id = ? AND status = 'pending'"),
            insert_factor: d.sql(
                "INSERT INTO {p}totp_factors (user_id, id, sealed_secret, algorithm, digits, \
                 period, label, status, last_used_step, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', NULL, ?)",
            ),
            // A duplicate on (user_id, purpose) or on an id of this user's is this user's row:
            // replace it. A duplicate on the id of another user's row: change nothing, and the
            // read-back reports the conflict.
            upsert_challenge: d.sql(&format!(
                "INSERT INTO {{p}}challenges (id, user_id, purpose, kind, code_digest, \
                 link_digest, binding_digest, created_at, expires_at, attempts_left, consumed) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
                 kind = IF({mine}, VALUES(kind), kind), \
                 code_digest = IF({mine}, VALUES(code_digest), code_digest), \
                 link_digest = IF({mine}, VALUES(link_digest), link_digest), \
                 binding_digest = IF({mine}, VALUES(binding_digest), binding_digest), \
                 created_at = IF({mine}, VALUES(created_at), created_at), \
                 expires_at = IF({mine}, VALUES(expires_at), expires_at), \
                 attempts_left = IF({mine}, VALUES(attempts_left), attempts_left), \
                 consumed = IF({mine}, VALUES(consumed), consumed), \
                 purpose = IF({mine}, VALUES(purpose), purpose), \
                 id = IF({mine}, VALUES(id), id)"
            )),
            challenge_owner: d.sql("SELECT @user_id FROM {p}challenges WHERE id = ?"),
            spend: d.sql(
                "UPDATE {p}challenges SET attempts_left = attempts_left - 1 \
                 WHERE id = ? AND NOT consumed AND expires_at > ? AND attempts_left > 0",
            ),
            challenge_by_id: d.sql(&format!(
                "SELECT {CHALLENGE_COLUMNS} FROM {{p}}challenges WHERE id = ?"
            )),
            spend_state: d.sql(
                "SELECT expires_at, consumed, attempts_left FROM {p}challenges WHERE id = ?",
            ),
            delete_recovery: d.sql("DELETE FROM {p}recovery_codes WHERE user_id = ?"),
            insert_recovery_prefix: d
                .sql("INSERT INTO {p}recovery_codes (user_id, locator, verifier, created_at) VALUES ")
                .to_string(),
            hit_prefix: d
                .sql(
                    "INSERT INTO {p}counters (counter_key, window_start, window_end, count, \
                     consecutive, locked_until) VALUES ",
                )
                .to_string(),
            // VALUES(window_start) is `now`. The two conditions on the retention end run before
            // `locked_until` and `window_end` change; `window_end` is assigned last.
            hit_suffix: d
                .sql(
                    " ON DUPLICATE KEY UPDATE \
                     consecutive = IF(VALUES(window_start) >= \
                       GREATEST(window_end, COALESCE(locked_until, window_end)), \
                       1, consecutive + 1), \
                     locked_until = IF(VALUES(window_start) >= \
                       GREATEST(window_end, COALESCE(locked_until, window_end)), \
                       NULL, locked_until), \
                     count = IF(VALUES(window_start) >= window_end, 1, count + 1), \
                     window_start = IF(VALUES(window_start) >= window_end, \
                       VALUES(window_start), window_start), \
                     window_end = IF(VALUES(window_start) >= window_end, \
                       VALUES(window_end), window_end)",
                )
                .to_string(),
            counter_for_update: d.sql(&format!(
                "SELECT {COUNTER_COLUMNS} FROM {{p}}counters WHERE counter_key = ? FOR UPDATE"
            )),
            put_counter: d.sql(
                "INSERT INTO {p}counters (counter_key, window_start, window_end, count, \
                 consecutive, locked_until) VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
                 window_start = VALUES(window_start), window_end = VALUES(window_end), \
                 count = VALUES(count), consecutive = VALUES(consecutive), \
                 locked_until = VALUES(locked_until)",
            ),
            touch_device: d.sql(
                "UPDATE {p}trusted_devices SET last_seen = ? \
                 WHERE user_id = ? AND token_digest = ? AND expires_at > ?",
            ),
            device_by_token: d.sql(&format!(
                "SELECT {DEVICE_COLUMNS} FROM {{p}}trusted_devices \
                 WHERE user_id = ? AND token_digest = ?"
            )),
            purge_challenges: d
                .sql("DELETE FROM {p}challenges WHERE expires_at <= ? ORDER BY expires_at LIMIT ?"),
            purge_counters: d
                .sql("DELETE FROM {p}counters WHERE expires_at <= ? ORDER BY expires_at LIMIT ?"),
            purge_devices: d.sql(
                "DELETE FROM {p}trusted_devices WHERE expires_at <= ? ORDER BY expires_at LIMIT ?",
            ),
        }
    }
}

/// An `mfa-store` [`Store`](mfa_store::Store) on MySQL 8 or MariaDB 10.5+ (feature `mysql`).
///
/// Identifiers are stored as `VARBINARY` and compared byte for byte. Cheap to clone: clones
/// share the pool.
#[derive(Debug, Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
    config: SqlStoreConfig,
    dialect: Arc<Dialect>,
    q: Arc<Queries>,
    eng: Arc<MySqlQueries>,
}

impl MySqlStore {
    /// Connects a pool to `url` (`mysql://user@host:3306/db`).
    ///
    /// # Errors
    /// [`Error::Database`] if no connection could be made.
    pub async fn connect(url: &str, config: SqlStoreConfig) -> Result<Self> {
        let pool = MySqlPoolOptions::new().connect(url).await?;
        Ok(Self::from_pool(pool, config))
    }

    /// A store on an existing pool (no I/O).
    #[must_use]
    pub fn from_pool(pool: MySqlPool, config: SqlStoreConfig) -> Self {
        let dialect = Dialect::new(Engine::MySql, &config);
        Self {
            pool,
            q: Arc::new(Queries::new(&dialect)),
            eng: Arc::new(MySqlQueries::new(&dialect)),
            dialect: Arc::new(dialect),
            config,
        }
    }

    /// The pool, to share with the rest of the application.
    #[must_use]
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The configuration the store was built with.
    #[must_use]
    pub fn config(&self) -> &SqlStoreConfig {
        &self.config
    }

    /// Creates the tables, applying every embedded migration not yet applied, under a named
    /// lock (`GET_LOCK`), so concurrent callers wait for each other. MySQL commits DDL as it
    /// goes: a migration that fails part way is completed by the next call (every statement is
    /// `CREATE .. IF NOT EXISTS`).
    ///
    /// # Errors
    /// [`Error::Database`] if a statement failed; [`Error::SchemaTooNew`] if the database was
    /// migrated by a newer version of this crate.
    pub async fn migrate(&self) -> Result<()> {
        let prefix = self.config.table_prefix();
        let mut conn = self.pool.acquire().await?;
        let lock = format!("mfa-store-sql migrate {prefix}");
        sqlx::query("SELECT GET_LOCK(CONCAT(DATABASE(), ' ', ?), 60)")
            .bind(&lock)
            .execute(&mut *conn)
            .await?;
        let outcome = async {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE TABLE IF NOT EXISTS {prefix}schema_migrations \
                 (version BIGINT NOT NULL PRIMARY KEY) ENGINE = InnoDB"
            )))
            .execute(&mut *conn)
            .await?;
            let current: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT MAX(version) FROM {prefix}schema_migrations"
            )))
            .fetch_one(&mut *conn)
            .await?;
            let current = current.unwrap_or(0);
            let known = MIGRATIONS.last().map_or(0, |(v, _)| *v);
            if current > known {
                return Err(Error::SchemaTooNew {
                    found: current,
                    known,
                });
            }
            for (version, file) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
                for statement in migration_statements(&self.dialect, file) {
                    sqlx::query(sqlx::AssertSqlSafe(statement))
                        .execute(&mut *conn)
                        .await?;
                }
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO {prefix}schema_migrations (version) VALUES (?)"
                )))
                .bind(version)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }
        .await;
        let released = sqlx::query("SELECT RELEASE_LOCK(CONCAT(DATABASE(), ' ', ?))")
            .bind(&lock)
            .execute(&mut *conn)
            .await;
        outcome?;
        released?;
        Ok(())
    }

    /// Deletes expired challenges, counters and trusted devices, at most `batch_size` rows per
    /// statement (`DELETE .. LIMIT`); returns how many rows went. The trait's purge methods
    /// call it with a batch of 1000.
    ///
    /// # Errors
    /// The first backend failure; batches deleted before it stay deleted.
    pub async fn purge_expired_batched(
        &self,
        now: SystemTime,
        batch_size: NonZeroU32,
    ) -> SResult<u64> {
        let now = millis(now);
        let mut total = 0_u64;
        for table in [Purge::Challenges, Purge::Counters, Purge::Devices] {
            total = total.saturating_add(self.purge_table(table, now, batch_size.get()).await?);
        }
        Ok(total)
    }

    async fn purge_table(&self, table: Purge, now: i64, batch: u32) -> SResult<u64> {
        let sql = match table {
            Purge::Challenges => &self.eng.purge_challenges,
            Purge::Counters => &self.eng.purge_counters,
            Purge::Devices => &self.eng.purge_devices,
        };
        let batch = batch.max(1);
        let mut total = 0_u64;
        loop {
            let done = sqlx::query(q(sql))
                .bind(now)
                .bind(i64::from(batch))
                .execute(&self.pool)
                .await
                .map_err(store_err)?;
            total = total.saturating_add(done.rows_affected());
            if done.rows_affected() < u64::from(batch) {
                return Ok(total);
            }
        }
    }

    async fn begin(&self) -> Result<Transaction<'static, MySql>, TxError> {
        Ok(self.pool.begin().await?)
    }

    async fn eng_insert_pending_totp(&self, f: NewTotpFactor) -> SResult<()> {
        let mut tries = 0_usize;
        loop {
            tries = tries.saturating_add(1);
            match self.try_insert_pending(&f).await {
                Ok(()) => return Ok(()),
                // A concurrent enrolment won the pending slot, or InnoDB chose this one as a
                // deadlock victim: start over, so this call's delete sees the winner.
                Err(TxError::Sql(e))
                    if (is_unique_violation(&e) || is_retryable(&e)) && tries < TX_RETRIES =>
                {
                    deadlock_backoff(tries).await;
                }
                Err(TxError::Sql(e)) => return Err(conflict_or(e, "factor id taken")),
                Err(TxError::Store(e)) => return Err(e),
            }
        }
    }

    async fn try_insert_pending(&self, f: &NewTotpFactor) -> Result<(), TxError> {
        let mut tx = self.begin().await?;
        let status: Option<String> = sqlx::query_scalar(q(&self.eng.factor_status))
            .bind(f.user.as_str())
            .bind(f.id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if status.as_deref() == Some("confirmed") {
            return Err(StoreError::conflict("a confirmed factor has this id").into());
        }
        sqlx::query(q(&self.eng.delete_pending))
            .bind(f.user.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(q(&self.eng.insert_factor))
            .bind(f.user.as_str())
            .bind(f.id.as_str())
            .bind(f.sealed_secret.as_bytes())
            .bind(f.algorithm.as_str())
            .bind(i64::from(f.digits.get()))
            .bind(i64::try_from(f.period.as_secs()).unwrap_or(i64::MAX))
            .bind(f.label.as_str())
            .bind(millis(f.created_at))
            .execute(&mut *tx)
            .await?;
        Ok(tx.commit().await?)
    }

    async fn eng_create_challenge(&self, c: Challenge) -> SResult<()> {
        retrying!(self.try_create_challenge(&c))
    }

    async fn try_create_challenge(&self, c: &Challenge) -> Result<(), TxError> {
        let mut tx = self.begin().await?;
        let upserted = sqlx::query(q(&self.eng.upsert_challenge))
            .bind(c.id.as_str())
            .bind(c.user.as_str())
            .bind(c.purpose.as_str())
            .bind(c.kind.as_str())
            .bind(c.code_digest.as_ref().map(|d| &d.as_bytes()[..]))
            .bind(c.link_digest.as_ref().map(|d| &d.as_bytes()[..]))
            .bind(c.binding_digest.as_ref().map(|d| &d.as_bytes()[..]))
            .bind(millis(c.created_at))
            .bind(millis(c.expires_at))
            .bind(i64::from(c.attempts_left))
            .bind(c.consumed)
            .execute(&mut *tx)
            .await;
        match upserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::conflict("challenge id taken").into());
            }
            other => other?,
        };
        let owner: Option<String> = sqlx::query_scalar(q(&self.eng.challenge_owner))
            .bind(c.id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if owner.as_deref() != Some(c.user.as_str()) {
            // Dropping the transaction rolls it back: nothing changed.
            return Err(StoreError::conflict("challenge id taken").into());
        }
        Ok(tx.commit().await?)
    }

    async fn eng_spend_attempt(&self, id: &str, now: i64) -> SResult<AttemptOutcome> {
        for _ in 0..TX_RETRIES {
            let spent: Option<ChallengeRow> = retrying!(self.try_spend(id, now))?;
            if let Some(row) = spent {
                let challenge = crate::rows::challenge(row)?;
                return Ok(AttemptOutcome::Spent {
                    attempts_left_after: challenge.attempts_left,
                    challenge: Box::new(challenge),
                });
            }
            let state: Option<(i64, bool, i64)> = sqlx::query_as(q(&self.eng.spend_state))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(store_err)?;
            match state {
                None => return Ok(AttemptOutcome::NotFound),
                Some((expires, _, _)) if now >= expires => return Ok(AttemptOutcome::Expired),
                Some((_, true, _)) => return Ok(AttemptOutcome::Consumed),
                Some((_, _, left)) if left <= 0 => return Ok(AttemptOutcome::Exhausted),
                Some(_) => {}
            }
        }
        Ok(AttemptOutcome::Exhausted)
    }

    /// The decrement and the read of the row it locked, in one transaction.
    async fn try_spend(&self, id: &str, now: i64) -> Result<Option<ChallengeRow>, TxError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(q(&self.eng.spend))
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let row: ChallengeRow = sqlx::query_as(q(&self.eng.challenge_by_id))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(row))
    }

    async fn eng_replace_recovery_codes(
        &self,
        user: &str,
        codes: &[RecoveryCodeRecord],
        created: i64,
    ) -> SResult<()> {
        retrying!(self.try_replace_recovery(user, codes, created))
    }

    async fn try_replace_recovery(
        &self,
        user: &str,
        codes: &[RecoveryCodeRecord],
        created: i64,
    ) -> Result<(), TxError> {
        let mut tx = self.begin().await?;
        // Under REPEATABLE READ this DELETE takes next-key locks on the user's range of the
        // primary key, so a concurrent replacement for the same user waits for this one.
        sqlx::query(q(&self.eng.delete_recovery))
            .bind(user)
            .execute(&mut *tx)
            .await?;
        let verifiers: Vec<String> = codes.iter().map(|c| c.verifier.encode()).collect();
        for (chunk, texts) in codes.chunks(200).zip(verifiers.chunks(200)) {
            let rows = value_rows(&self.dialect, 1, chunk.len(), 4, |p| format!("({p})"));
            let sql = format!("{}{rows}", self.eng.insert_recovery_prefix);
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (code, text) in chunk.iter().zip(texts) {
                query = query
                    .bind(user)
                    .bind(&code.locator.as_bytes()[..])
                    .bind(text.as_str())
                    .bind(created);
            }
            match query.execute(&mut *tx).await {
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::conflict("duplicate recovery code locator").into());
                }
                other => other?,
            };
        }
        Ok(tx.commit().await?)
    }

    async fn eng_hit_counters(
        &self,
        hits: &[(CounterKey, std::time::Duration)],
        now: SystemTime,
    ) -> SResult<Vec<CounterState>> {
        let now_ms = millis(now);
        let mut rows: Vec<(String, i64)> = hits
            .iter()
            .map(|(key, window)| (key.storage_key(), millis(window_end(now, *window))))
            .collect();
        let keys: Vec<String> = rows.iter().map(|(k, _)| k.clone()).collect();
        // One lock order for every caller (no deadlock between two batches).
        rows.sort();
        let states = retrying!(self.try_hit(&rows, now_ms))?;
        keys.iter()
            .map(|key| {
                let row = states
                    .iter()
                    .find(|r| r.0 == *key)
                    .ok_or_else(|| corrupt("counter_key"))?;
                crate::rows::counter(row)
            })
            .collect()
    }

    /// All hits in one `INSERT .. ON DUPLICATE KEY UPDATE` (rows applied in order, so a key
    /// given twice is hit twice), then the rows it locked, in one transaction.
    async fn try_hit(&self, rows: &[(String, i64)], now: i64) -> Result<Vec<CounterRow>, TxError> {
        let mut tx = self.begin().await?;
        let values = value_rows(&self.dialect, 1, rows.len(), 3, |p| {
            format!("({p}, 1, 1, NULL)")
        });
        let sql = format!("{}{values}{}", self.eng.hit_prefix, self.eng.hit_suffix);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (key, end) in rows {
            query = query.bind(key.as_str()).bind(now).bind(*end);
        }
        query.execute(&mut *tx).await?;
        let read = format!(
            "{}{})",
            self.q.counters_prefix,
            self.dialect.placeholders(1, rows.len())
        );
        let mut select = sqlx::query_as::<_, CounterRow>(sqlx::AssertSqlSafe(read));
        for (key, _) in rows {
            select = select.bind(key.as_str());
        }
        let states = select.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(states)
    }

    async fn eng_lock_counter(&self, key: &str, until: i64, now: i64) -> SResult<CounterState> {
        retrying!(self.try_lock(key, until, now))
    }

    /// Read under `FOR UPDATE`, decide in Rust, write back: one transaction.
    async fn try_lock(&self, key: &str, until: i64, now: i64) -> Result<CounterState, TxError> {
        let mut tx = self.begin().await?;
        let row: Option<CounterRow> = sqlx::query_as(q(&self.eng.counter_for_update))
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let live = row.filter(|(_, _, end, _, _, locked)| now < (*end).max(locked.unwrap_or(*end)));
        // The lock spends the window's hits (an empty window at `now`) and keeps the
        // consecutive failures of a live record.
        let (start, end, hits) = (now, now, 0_i64);
        let (consecutive, locked) = match live {
            Some((_, _, _, _, consecutive, locked)) => {
                (consecutive, locked.map_or(until, |l| l.max(until)))
            }
            None => (0, until),
        };
        sqlx::query(q(&self.eng.put_counter))
            .bind(key)
            .bind(start)
            .bind(end)
            .bind(hits)
            .bind(consecutive)
            .bind(locked)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(crate::rows::counter(&(
            String::new(),
            start,
            end,
            hits,
            consecutive,
            Some(locked),
        ))?)
    }

    async fn eng_check_and_touch_device(
        &self,
        user: &str,
        token: &CodeDigest,
        now: i64,
    ) -> SResult<Option<TrustedDevice>> {
        let row = retrying!(self.try_touch(user, token, now))?;
        row.map(crate::rows::device).transpose()
    }

    async fn try_touch(
        &self,
        user: &str,
        token: &CodeDigest,
        now: i64,
    ) -> Result<Option<DeviceRow>, TxError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(q(&self.eng.touch_device))
            .bind(now)
            .bind(user)
            .bind(&token.as_bytes()[..])
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let row: DeviceRow = sqlx::query_as(q(&self.eng.device_by_token))
            .bind(user)
            .bind(&token.as_bytes()[..])
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(row))
    }
}

common_impls!(MySqlStore);
