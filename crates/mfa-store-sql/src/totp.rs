//! [`TotpFactorStore`] on every engine: one row per factor, the replay guard in the `WHERE`
//! clause of one `UPDATE`.

use std::str::FromStr;
use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::{Algorithm, Digits, Period, SealedSecret};
use mfa_store::{
    FactorStatus, NewTotpFactor, Result as SResult, StoreError, TotpFactor, TotpFactorStore,
};

use crate::convert::{conflict_or, corrupt, is_retryable, is_unique_violation, millis, time};
use crate::db::{Arg, Cols, On, Sql};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::store::{Failure, Retry, SqlStore, execute_on, fetch_all_on};

/// The select list of a factor, in [`read`]'s order.
pub(crate) const COLUMNS: &str = "@user_id, @id, sealed_secret, algorithm, digits, period, \
     label, status, last_used_step, created_at, confirmed_at";

/// How many columns [`COLUMNS`] has.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) const WIDTH: usize = 11;

/// The statements of TOTP factors.
#[derive(Debug)]
pub(crate) struct TotpSql {
    get: Sql,
    pub(crate) list: Sql,
    confirm: Sql,
    pub(crate) advance: Sql,
    replace_secret: Sql,
    delete: Sql,
    status_for_update: Sql,
    delete_pending: Sql,
    insert: Sql,
}

impl TotpSql {
    pub(crate) fn new(d: &Dialect) -> Self {
        Self {
            get: d.sql(&format!(
                "SELECT {COLUMNS} FROM {{p}}totp_factors WHERE user_id = ? AND id = ?"
            )),
            list: d.sql(&format!(
                "SELECT {COLUMNS} FROM {{p}}totp_factors WHERE user_id = ? ORDER BY created_at, id"
            )),
            confirm: d.sql(
                "UPDATE {p}totp_factors SET status = 'confirmed', last_used_step = ?, \
                 confirmed_at = ? WHERE user_id = ? AND id = ? AND status = 'pending'",
            ),
            advance: d.sql(
                "UPDATE {p}totp_factors SET last_used_step = ? \
                 WHERE user_id = ? AND id = ? AND status = 'confirmed' \
                 AND (last_used_step IS NULL OR last_used_step < ?)",
            ),
            replace_secret: d.sql(
                "UPDATE {p}totp_factors SET sealed_secret = ? \
                 WHERE user_id = ? AND id = ? AND sealed_secret = ?",
            ),
            delete: d.sql("DELETE FROM {p}totp_factors WHERE user_id = ? AND id = ?"),
            status_for_update: d
                .sql("SELECT status FROM {p}totp_factors WHERE user_id = ? AND id = ?{for_update}"),
            delete_pending: d
                .sql("DELETE FROM {p}totp_factors WHERE user_id = ? AND status = 'pending'"),
            insert: d.sql(
                "INSERT INTO {p}totp_factors (user_id, id, sealed_secret, algorithm, digits, \
                 period, label, status, last_used_step, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', NULL, ?)",
            ),
        }
    }
}

/// A factor from a row of [`COLUMNS`].
pub(crate) fn factor<E: Engine>(row: &E::Row) -> SResult<TotpFactor> {
    read(&mut Cols::<E>::new(row))
}

/// A factor from the next columns, in [`COLUMNS`] order.
pub(crate) fn read<E: Engine>(c: &mut Cols<'_, E>) -> SResult<TotpFactor> {
    let user = c.text("user_id")?;
    let id = c.text("id")?;
    let sealed = SealedSecret::from_bytes(c.bytes("sealed_secret")?)
        .map_err(|_| corrupt("sealed_secret"))?;
    let algorithm = Algorithm::from_str(&c.text("algorithm")?).map_err(|_| corrupt("algorithm"))?;
    let digits = u32::try_from(c.int("digits")?)
        .ok()
        .and_then(|d| Digits::new(d).ok())
        .ok_or_else(|| corrupt("digits"))?;
    let period = u64::try_from(c.int("period")?)
        .ok()
        .and_then(|p| Period::from_secs(p).ok())
        .ok_or_else(|| corrupt("period"))?;
    Ok(TotpFactor {
        user,
        id,
        sealed_secret: sealed,
        algorithm,
        digits,
        period,
        label: c.text("label")?,
        status: FactorStatus::from_str(&c.text("status")?).map_err(|_| corrupt("status"))?,
        last_used_step: c
            .opt_int("last_used_step")?
            .map(|s| u64::try_from(s).map_err(|_| corrupt("last_used_step")))
            .transpose()?,
        created_at: time(c.int("created_at")?, "created_at")?,
        confirmed_at: c
            .opt_int("confirmed_at")?
            .map(|t| time(t, "confirmed_at"))
            .transpose()?,
    })
}

/// A step as the `BIGINT` it is stored as; `None` beyond `i64`, which no clock reaches (such a
/// step is refused, failing closed, rather than wrapped).
pub(crate) fn step_i64(step: u64) -> Option<i64> {
    i64::try_from(step).ok()
}

impl<E: Engine> SqlStore<E> {
    /// `advance_totp_step` on `on` (the pool, or a transaction it is a step of).
    pub(crate) async fn advance_on(
        &self,
        on: On<'_, E>,
        user: &str,
        factor_id: &str,
        step: i64,
    ) -> SResult<bool> {
        let args = [
            Arg::Int(step),
            Arg::Text(user),
            Arg::Text(factor_id),
            Arg::Int(step),
        ];
        Ok(execute_on(on, &self.sql().totp.advance, &args).await? == 1)
    }

    /// `totp_factors` on `on`.
    pub(crate) async fn factors_on(&self, on: On<'_, E>, user: &str) -> SResult<Vec<TotpFactor>> {
        fetch_all_on(on, &self.sql().totp.list, &[Arg::Text(user)], factor::<E>).await
    }

    /// One try of `insert_pending_totp`: read the status of the id (locking it), delete the
    /// user's pending factor, insert.
    async fn try_insert_pending(&self, f: &NewTotpFactor) -> Result<(), Failure> {
        let q = &self.sql().totp;
        let mut tx = E::begin_write(self.pool()).await?;
        let user_and_id = [Arg::Text(&f.user), Arg::Text(&f.id)];
        let status = E::fetch_optional(On::Tx(&mut *tx), &q.status_for_update, &user_and_id)
            .await?
            .map(|row| Cols::<E>::new(&row).text("status"))
            .transpose()?;
        if status.as_deref() == Some(FactorStatus::Confirmed.as_str()) {
            return Err(StoreError::conflict("a confirmed factor has this id").into());
        }
        E::execute(On::Tx(&mut *tx), &q.delete_pending, &[Arg::Text(&f.user)]).await?;
        let args = [
            Arg::Text(&f.user),
            Arg::Text(&f.id),
            Arg::Bytes(f.sealed_secret.as_bytes()),
            Arg::Text(f.algorithm.as_str()),
            Arg::Int(i64::from(f.digits.get())),
            Arg::Int(i64::try_from(f.period.as_secs()).unwrap_or(i64::MAX)),
            Arg::Text(&f.label),
            Arg::Int(millis(f.created_at)),
        ];
        E::execute(On::Tx(&mut *tx), &q.insert, &args).await?;
        Ok(tx.commit().await?)
    }
}

/// A concurrent enrolment that won the pending slot (a unique violation) is retried like a
/// deadlock: the next try's delete sees, and replaces, the winner.
fn enrolment_race(e: &sqlx::Error) -> bool {
    is_unique_violation(e) || is_retryable(e)
}

#[async_trait]
impl<E: Engine> TotpFactorStore for SqlStore<E> {
    async fn insert_pending_totp(&self, factor: NewTotpFactor) -> SResult<()> {
        let mut retry = Retry::default();
        loop {
            match self.try_insert_pending(&factor).await {
                Ok(()) => return Ok(()),
                Err(Failure::Sql(e)) if !enrolment_race(&e) => {
                    return Err(conflict_or(e, "factor id taken"));
                }
                Err(failure) => retry.again(failure, enrolment_race).await?,
            }
        }
    }

    async fn totp_factor(&self, user: &str, factor_id: &str) -> SResult<Option<TotpFactor>> {
        let args = [Arg::Text(user), Arg::Text(factor_id)];
        self.fetch_optional(&self.sql().totp.get, &args, factor::<E>)
            .await
    }

    async fn totp_factors(&self, user: &str) -> SResult<Vec<TotpFactor>> {
        self.factors_on(On::Pool(self.pool()), user).await
    }

    async fn confirm_totp(
        &self,
        user: &str,
        factor_id: &str,
        step: u64,
        now: SystemTime,
    ) -> SResult<bool> {
        let Some(step) = step_i64(step) else {
            return Ok(false);
        };
        let args = [
            Arg::Int(step),
            Arg::Int(millis(now)),
            Arg::Text(user),
            Arg::Text(factor_id),
        ];
        Ok(self.execute(&self.sql().totp.confirm, &args).await? == 1)
    }

    async fn advance_totp_step(&self, user: &str, factor_id: &str, step: u64) -> SResult<bool> {
        let Some(step) = step_i64(step) else {
            return Ok(false);
        };
        self.advance_on(On::Pool(self.pool()), user, factor_id, step)
            .await
    }

    async fn replace_totp_secret(
        &self,
        user: &str,
        factor_id: &str,
        expected: &SealedSecret,
        replacement: SealedSecret,
    ) -> SResult<bool> {
        let args = [
            Arg::Bytes(replacement.as_bytes()),
            Arg::Text(user),
            Arg::Text(factor_id),
            Arg::Bytes(expected.as_bytes()),
        ];
        Ok(self.execute(&self.sql().totp.replace_secret, &args).await? == 1)
    }

    async fn delete_totp(&self, user: &str, factor_id: &str) -> SResult<bool> {
        let args = [Arg::Text(user), Arg::Text(factor_id)];
        Ok(self.execute(&self.sql().totp.delete, &args).await? > 0)
    }
}
