//! [`TotpFactorStore`] on Redis: one hash per factor, a set of the user's factor ids.

use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::{Algorithm, Digits, Period, SealedSecret};
use mfa_store::{NewTotpFactor, Result, StoreError, TotpFactor, TotpFactorStore};

use crate::RedisStore;
use crate::codec::{Fields, to_ms};
use crate::scripts::{
    TOTP_ADVANCE, TOTP_CONFIRM, TOTP_DELETE, TOTP_GET, TOTP_INSERT, TOTP_LIST, TOTP_REPLACE_SECRET,
};
use crate::store::{Op, check_status};

const RECORD: &str = "totp factor";

/// Decodes a factor hash.
fn decode(user: &str, id: &str, f: &Fields) -> Result<TotpFactor> {
    let corrupt = |what: &str| StoreError::corrupt(format!("{RECORD} field `{what}`"));
    let sealed_secret =
        SealedSecret::from_bytes(f.bytes("secret")?.to_vec()).map_err(|_| corrupt("secret"))?;
    let algorithm: Algorithm = f.text("alg")?.parse().map_err(|_| corrupt("alg"))?;
    let digits = u32::try_from(f.u64("digits")?)
        .ok()
        .and_then(|d| Digits::new(d).ok())
        .ok_or_else(|| corrupt("digits"))?;
    let period = Period::from_secs(f.u64("period")?).map_err(|_| corrupt("period"))?;
    Ok(TotpFactor {
        user: user.to_owned(),
        id: id.to_owned(),
        sealed_secret,
        algorithm,
        digits,
        period,
        label: f.text("label")?,
        status: f.text("status")?.parse()?,
        last_used_step: f.opt_u64("step")?,
        created_at: f.time("created")?,
        confirmed_at: f.opt_time("confirmed")?,
    })
}

/// Decodes the rows `{id, field, value, ...}` of a user's factors (`totp_rows` in Lua), oldest
/// first.
pub(crate) fn decode_rows(user: &str, rows: Vec<Vec<Vec<u8>>>) -> Result<Vec<TotpFactor>> {
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        let mut row = row.into_iter();
        let id = row
            .next()
            .and_then(|id| String::from_utf8(id).ok())
            .ok_or_else(|| StoreError::corrupt("totp factor id"))?;
        list.push(decode(user, &id, &Fields::from_flat(RECORD, row)?)?);
    }
    list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(list)
}

#[async_trait]
impl TotpFactorStore for RedisStore {
    async fn insert_pending_totp(&self, factor: NewTotpFactor) -> Result<()> {
        let base = self.keys.totp_base(&factor.user);
        let status: String = self
            .eval(
                TOTP_INSERT
                    .on(&self.keys, format!("{base}{}", factor.id))
                    .key(self.keys.totp_index(&factor.user))
                    .arg(&base)
                    .arg(&factor.id)
                    .arg("secret")
                    .arg(factor.sealed_secret.as_bytes())
                    .arg("alg")
                    .arg(factor.algorithm.as_str())
                    .arg("digits")
                    .arg(factor.digits.get())
                    .arg("period")
                    .arg(factor.period.as_secs())
                    .arg("label")
                    .arg(&factor.label)
                    .arg("created")
                    .arg(to_ms(factor.created_at)),
                Op::Write,
            )
            .await?;
        check_status(&status, "the user has a confirmed factor with this id")
    }

    async fn totp_factor(&self, user: &str, factor_id: &str) -> Result<Option<TotpFactor>> {
        let key = format!("{}{factor_id}", self.keys.totp_base(user));
        let flat: Vec<Vec<u8>> = self
            .eval(
                TOTP_GET
                    .on(&self.keys, key)
                    .key(self.keys.totp_index(user))
                    .arg(factor_id),
                Op::Read,
            )
            .await?;
        let fields = Fields::from_flat(RECORD, flat)?;
        if fields.is_empty() {
            return Ok(None);
        }
        decode(user, factor_id, &fields).map(Some)
    }

    async fn totp_factors(&self, user: &str) -> Result<Vec<TotpFactor>> {
        let rows: Vec<Vec<Vec<u8>>> = self
            .eval(
                TOTP_LIST
                    .on(&self.keys, self.keys.totp_index(user))
                    .arg(self.keys.totp_base(user)),
                Op::Read,
            )
            .await?;
        decode_rows(user, rows)
    }

    async fn confirm_totp(
        &self,
        user: &str,
        factor_id: &str,
        step: u64,
        now: SystemTime,
    ) -> Result<bool> {
        let key = format!("{}{factor_id}", self.keys.totp_base(user));
        let done: i64 = self
            .eval(
                TOTP_CONFIRM
                    .on(&self.keys, key)
                    .arg(step.to_string())
                    .arg(to_ms(now)),
                Op::Guard,
            )
            .await?;
        Ok(done == 1)
    }

    async fn advance_totp_step(&self, user: &str, factor_id: &str, step: u64) -> Result<bool> {
        let key = format!("{}{factor_id}", self.keys.totp_base(user));
        let done: i64 = self
            .eval(
                TOTP_ADVANCE.on(&self.keys, key).arg(step.to_string()),
                Op::Guard,
            )
            .await?;
        Ok(done == 1)
    }

    async fn replace_totp_secret(
        &self,
        user: &str,
        factor_id: &str,
        expected: &SealedSecret,
        replacement: SealedSecret,
    ) -> Result<bool> {
        let key = format!("{}{factor_id}", self.keys.totp_base(user));
        let done: i64 = self
            .eval(
                TOTP_REPLACE_SECRET
                    .on(&self.keys, key)
                    .arg(expected.as_bytes())
                    .arg(replacement.as_bytes()),
                Op::Write,
            )
            .await?;
        Ok(done == 1)
    }

    async fn delete_totp(&self, user: &str, factor_id: &str) -> Result<bool> {
        let key = format!("{}{factor_id}", self.keys.totp_base(user));
        let existed: i64 = self
            .eval(
                TOTP_DELETE
                    .on(&self.keys, key)
                    .key(self.keys.totp_index(user))
                    .arg(factor_id),
                Op::Guard,
            )
            .await?;
        Ok(existed == 1)
    }
}
