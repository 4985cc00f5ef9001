//! The engines with `RETURNING` and `ON CONFLICT` (PostgreSQL, SQLite): their statements and
//! the operations built on them ([`returning_impls!`]).
//!
//! Each guessing-bounding operation is one statement whose condition sits in its `WHERE` or
//! `ON CONFLICT` clause, so the row lock (PostgreSQL) or the single writer (SQLite) serialises
//! racers and the loser sees the winner's value. Multi-statement operations run in one
//! transaction (`BEGIN IMMEDIATE` on SQLite, so it takes the write lock before reading).

use std::sync::Arc;

use crate::dialect::Dialect;
use crate::rows::{CHALLENGE_COLUMNS, COUNTER_COLUMNS, DEVICE_COLUMNS};

/// Engine-specific statements of PostgreSQL and SQLite.
#[derive(Debug)]
pub(crate) struct ReturningQueries {
    pub(crate) put_settings: Arc<str>,
    pub(crate) factor_status: Arc<str>,
    pub(crate) delete_pending: Arc<str>,
    pub(crate) insert_factor: Arc<str>,
    pub(crate) delete_own_challenge: Arc<str>,
    pub(crate) upsert_challenge: Arc<str>,
    pub(crate) spend: Arc<str>,
    pub(crate) spend_state: Arc<str>,
    pub(crate) delete_recovery: Arc<str>,
    /// `INSERT .. VALUES ` for recovery codes; rows are appended per call.
    pub(crate) insert_recovery_prefix: String,
    /// `INSERT .. VALUES ` for counter hits; rows and `hit_suffix` are appended per call.
    pub(crate) hit_prefix: String,
    pub(crate) hit_suffix: String,
    pub(crate) lock_counter: Arc<str>,
    pub(crate) touch_device: Arc<str>,
    pub(crate) purge_challenges: Arc<str>,
    pub(crate) purge_counters: Arc<str>,
    pub(crate) purge_devices: Arc<str>,
}

impl ReturningQueries {
    /// `greatest` is the two-argument maximum: `GREATEST` (PostgreSQL) or `MAX` (SQLite).
    pub(crate) fn new(d: &Dialect, greatest: &str) -> Self {
        Self {
            put_settings: d.sql(
                "INSERT INTO {p}settings (user_id, enabled, preferred, email, phone) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET \
                 enabled = excluded.enabled, preferred = excluded.preferred, \
                 email = excluded.email, phone = excluded.phone",
            ),
            factor_status: d.sql("SELECT status FROM {p}totp_factors WHERE user_id = ? AND id = ?"),
            delete_pending: d
                .sql("DELETE FROM {p}totp_factors WHERE user_id = ? AND status = 'pending'"),
            insert_factor: d.sql(
                "INSERT INTO {p}totp_factors (user_id, id, sealed_secret, algorithm, digits, \
                 period, label, status, last_used_step, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', NULL, ?)",
            ),
            delete_own_challenge: d.sql("DELETE FROM {p}challenges WHERE id = ? AND user_id = ?"),
            upsert_challenge: d.sql(
                "INSERT INTO {p}challenges (id, user_id, purpose, kind, code_digest, link_digest, \
                 binding_digest, created_at, expires_at, attempts_left, consumed) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (user_id, purpose) DO UPDATE SET id = excluded.id, \
                 kind = excluded.kind, code_digest = excluded.code_digest, \
                 link_digest = excluded.link_digest, binding_digest = excluded.binding_digest, \
                 created_at = excluded.created_at, expires_at = excluded.expires_at, \
                 attempts_left = excluded.attempts_left, consumed = excluded.consumed",
            ),
            spend: d.sql(&format!(
                "UPDATE {{p}}challenges SET attempts_left = attempts_left - 1 \
                 WHERE id = ? AND NOT consumed AND expires_at > ? AND attempts_left > 0 \
                 RETURNING {CHALLENGE_COLUMNS}"
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
                    "INSERT INTO {p}counters AS c (counter_key, window_start, window_end, count, \
                     consecutive, locked_until) VALUES ",
                )
                .to_string(),
            // `excluded.window_start` is `now`; `c.expires_at` is the old row's retention end.
            hit_suffix: d
                .sql(&format!(
                    " ON CONFLICT (counter_key) DO UPDATE SET \
                     window_start = CASE WHEN excluded.window_start >= c.window_end \
                       THEN excluded.window_start ELSE c.window_start END, \
                     window_end = CASE WHEN excluded.window_start >= c.window_end \
                       THEN excluded.window_end ELSE c.window_end END, \
                     count = CASE WHEN excluded.window_start >= c.window_end \
                       THEN 1 ELSE c.count + 1 END, \
                     consecutive = CASE WHEN excluded.window_start >= c.expires_at \
                       THEN 1 ELSE c.consecutive + 1 END, \
                     locked_until = CASE WHEN excluded.window_start >= c.expires_at \
                       THEN NULL ELSE c.locked_until END \
                     RETURNING {COUNTER_COLUMNS}"
                ))
                .to_string(),
            lock_counter: d.sql(&format!(
                "INSERT INTO {{p}}counters AS c (counter_key, window_start, window_end, count, \
                 consecutive, locked_until) VALUES (?, ?, ?, 0, 0, ?) \
                 ON CONFLICT (counter_key) DO UPDATE SET \
                 window_start = excluded.window_start, window_end = excluded.window_end, \
                 count = 0, \
                 consecutive = CASE WHEN excluded.window_start >= c.expires_at \
                   THEN 0 ELSE c.consecutive END, \
                 locked_until = CASE WHEN excluded.window_start >= c.expires_at \
                   THEN excluded.locked_until \
                   ELSE {greatest}(COALESCE(c.locked_until, excluded.locked_until), \
                                   excluded.locked_until) END \
                 RETURNING {COUNTER_COLUMNS}"
            )),
            touch_device: d.sql(&format!(
                "UPDATE {{p}}trusted_devices SET last_seen = ? \
                 WHERE user_id = ? AND token_digest = ? AND expires_at > ? \
                 RETURNING {DEVICE_COLUMNS}"
            )),
            purge_challenges: d.sql(
                "DELETE FROM {p}challenges WHERE id IN \
                 (SELECT id FROM {p}challenges WHERE expires_at <= ? LIMIT ?)",
            ),
            purge_counters: d.sql(
                "DELETE FROM {p}counters WHERE counter_key IN \
                 (SELECT counter_key FROM {p}counters WHERE expires_at <= ? LIMIT ?)",
            ),
            purge_devices: d.sql(
                "DELETE FROM {p}trusted_devices WHERE (user_id, id) IN \
                 (SELECT user_id, id FROM {p}trusted_devices WHERE expires_at <= ? LIMIT ?)",
            ),
        }
    }
}

/// How many times a transaction aborted by a concurrent writer (a unique-key race on the
/// pending factor, a deadlock) is retried before the error is returned.
pub(crate) const TX_RETRIES: usize = 5;

/// Implements the `eng_*` operations on `$store` (fields `pool`, `eng: Arc<ReturningQueries>`,
/// `dialect`; inherent `begin_write` and `serialize_user`).
macro_rules! returning_impls {
    ($store:ty) => {
        impl $store {
            async fn eng_insert_pending_totp(&self, f: ::mfa_store::NewTotpFactor) -> SResult<()> {
                let digits = i64::from(f.digits.get());
                let period = i64::try_from(f.period.as_secs()).unwrap_or(i64::MAX);
                let created = millis(f.created_at);
                for _ in 0..$crate::returning::TX_RETRIES {
                    let mut tx = self.begin_write().await.map_err(store_err)?;
                    let status: Option<String> = sqlx::query_scalar(q(&self.eng.factor_status))
                        .bind(f.user.as_str())
                        .bind(f.id.as_str())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(store_err)?;
                    if status.as_deref() == Some("confirmed") {
                        return Err(::mfa_store::StoreError::conflict(
                            "a confirmed factor has this id",
                        ));
                    }
                    sqlx::query(q(&self.eng.delete_pending))
                        .bind(f.user.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(store_err)?;
                    let inserted = sqlx::query(q(&self.eng.insert_factor))
                        .bind(f.user.as_str())
                        .bind(f.id.as_str())
                        .bind(f.sealed_secret.as_bytes())
                        .bind(f.algorithm.as_str())
                        .bind(digits)
                        .bind(period)
                        .bind(f.label.as_str())
                        .bind(created)
                        .execute(&mut *tx)
                        .await;
                    match inserted {
                        Ok(_) => return tx.commit().await.map_err(store_err),
                        // A concurrent insert for this user won the pending slot: start over,
                        // so this call's delete sees (and replaces) the winner.
                        Err(e) if is_unique_violation(&e) || is_retryable(&e) => continue,
                        Err(e) => return Err(store_err(e)),
                    }
                }
                Err(::mfa_store::StoreError::conflict(
                    "concurrent enrolments kept colliding",
                ))
            }

            async fn eng_create_challenge(&self, c: ::mfa_store::Challenge) -> SResult<()> {
                let mut tx = self.begin_write().await.map_err(store_err)?;
                sqlx::query(q(&self.eng.delete_own_challenge))
                    .bind(c.id.as_str())
                    .bind(c.user.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(store_err)?;
                sqlx::query(q(&self.eng.upsert_challenge))
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
                    .await
                    .map_err(|e| conflict_or(e, "challenge id taken"))?;
                tx.commit().await.map_err(store_err)
            }

            async fn eng_spend_attempt(
                &self,
                id: &str,
                now: i64,
            ) -> SResult<::mfa_store::AttemptOutcome> {
                use ::mfa_store::AttemptOutcome;
                for _ in 0..$crate::returning::TX_RETRIES {
                    let spent: Option<$crate::rows::ChallengeRow> =
                        sqlx::query_as(q(&self.eng.spend))
                            .bind(id)
                            .bind(now)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(store_err)?;
                    if let Some(row) = spent {
                        let challenge = $crate::rows::challenge(row)?;
                        return Ok(AttemptOutcome::Spent {
                            attempts_left_after: challenge.attempts_left,
                            challenge: Box::new(challenge),
                        });
                    }
                    // Nothing was spent; this read only names the refusal.
                    let state: Option<(i64, bool, i64)> = sqlx::query_as(q(&self.eng.spend_state))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(store_err)?;
                    match state {
                        None => return Ok(AttemptOutcome::NotFound),
                        Some((expires, _, _)) if now >= expires => {
                            return Ok(AttemptOutcome::Expired);
                        }
                        Some((_, true, _)) => return Ok(AttemptOutcome::Consumed),
                        Some((_, _, left)) if left <= 0 => return Ok(AttemptOutcome::Exhausted),
                        // Changed between the two statements (a resend, a re-create): try again.
                        Some(_) => continue,
                    }
                }
                Ok(::mfa_store::AttemptOutcome::Exhausted)
            }

            async fn eng_replace_recovery_codes(
                &self,
                user: &str,
                codes: &[::mfa_store::RecoveryCodeRecord],
                created: i64,
            ) -> SResult<()> {
                let mut tx = self.begin_write().await.map_err(store_err)?;
                self.serialize_user(&mut tx, "recovery", user)
                    .await
                    .map_err(store_err)?;
                sqlx::query(q(&self.eng.delete_recovery))
                    .bind(user)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_err)?;
                let verifiers: Vec<String> = codes.iter().map(|c| c.verifier.encode()).collect();
                for (chunk, texts) in codes.chunks(200).zip(verifiers.chunks(200)) {
                    let rows = $crate::common::value_rows(&self.dialect, 1, chunk.len(), 4, |p| {
                        format!("({p})")
                    });
                    let sql = format!("{}{rows}", self.eng.insert_recovery_prefix);
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (code, text) in chunk.iter().zip(texts) {
                        query = query
                            .bind(user)
                            .bind(&code.locator.as_bytes()[..])
                            .bind(text.as_str())
                            .bind(created);
                    }
                    query
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| conflict_or(e, "duplicate recovery code locator"))?;
                }
                tx.commit().await.map_err(store_err)
            }

            async fn eng_hit_counters(
                &self,
                hits: &[(::mfa_store::CounterKey, ::std::time::Duration)],
                now: SystemTime,
            ) -> SResult<Vec<::mfa_store::CounterState>> {
                let now_ms = millis(now);
                let mut rows: Vec<(String, i64)> = hits
                    .iter()
                    .map(|(key, window)| {
                        (
                            key.storage_key(),
                            millis(::mfa_store::window_end(now, *window)),
                        )
                    })
                    .collect();
                let keys: Vec<String> = rows.iter().map(|(k, _)| k.clone()).collect();
                // One lock order for every caller (no deadlock between two batches).
                rows.sort();
                let distinct = rows
                    .windows(2)
                    .all(|w| w.first().map(|a| &a.0) != w.get(1).map(|b| &b.0));
                let mut states: Vec<$crate::rows::CounterRow> = Vec::with_capacity(rows.len());
                // One statement for the whole batch; a key twice in one batch would be two
                // updates of one row in one statement, which the engines refuse, so then one
                // statement per hit.
                let groups: Vec<&[(String, i64)]> = if distinct {
                    vec![&rows[..]]
                } else {
                    rows.chunks(1).collect()
                };
                for group in groups {
                    let values =
                        $crate::common::value_rows(&self.dialect, 1, group.len(), 3, |p| {
                            format!("({p}, 1, 1, NULL)")
                        });
                    let sql = format!("{}{values}{}", self.eng.hit_prefix, self.eng.hit_suffix);
                    let mut query =
                        sqlx::query_as::<_, $crate::rows::CounterRow>(sqlx::AssertSqlSafe(sql));
                    for (key, end) in group {
                        query = query.bind(key.as_str()).bind(now_ms).bind(*end);
                    }
                    states.extend(query.fetch_all(&self.pool).await.map_err(store_err)?);
                }
                keys.iter()
                    .map(|key| {
                        // The last state of a key is the one after all of its hits.
                        let row = states
                            .iter()
                            .rev()
                            .find(|r| r.0 == *key)
                            .ok_or_else(|| $crate::convert::corrupt("counter_key"))?;
                        $crate::rows::counter(row)
                    })
                    .collect()
            }

            async fn eng_lock_counter(
                &self,
                key: &str,
                until: i64,
                now: i64,
            ) -> SResult<::mfa_store::CounterState> {
                let row: $crate::rows::CounterRow = sqlx::query_as(q(&self.eng.lock_counter))
                    .bind(key)
                    .bind(now)
                    .bind(now)
                    .bind(until)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(store_err)?;
                $crate::rows::counter(&row)
            }

            async fn eng_check_and_touch_device(
                &self,
                user: &str,
                token: &::mfa_core::CodeDigest,
                now: i64,
            ) -> SResult<Option<::mfa_store::TrustedDevice>> {
                let row: Option<$crate::rows::DeviceRow> =
                    sqlx::query_as(q(&self.eng.touch_device))
                        .bind(now)
                        .bind(user)
                        .bind(&token.as_bytes()[..])
                        .bind(now)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(store_err)?;
                row.map($crate::rows::device).transpose()
            }

            async fn purge_table(
                &self,
                table: $crate::common::Purge,
                now: i64,
                batch: u32,
            ) -> SResult<u64> {
                let sql = match table {
                    $crate::common::Purge::Challenges => &self.eng.purge_challenges,
                    $crate::common::Purge::Counters => &self.eng.purge_counters,
                    $crate::common::Purge::Devices => &self.eng.purge_devices,
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
        }
    };
}

pub(crate) use returning_impls;
