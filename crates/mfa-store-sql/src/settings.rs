//! [`SettingsStore`] on every engine: one row per user, replaced whole by an upsert.

use std::collections::BTreeSet;
use std::str::FromStr;

use async_trait::async_trait;
use mfa_core::{EmailAddress, FactorKind, PhoneNumber};
use mfa_store::{MfaSettings, Result as SResult, SettingsStore};

use crate::convert::corrupt;
use crate::db::{Arg, Cols, Sql};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::store::SqlStore;

/// The statements of settings.
#[derive(Debug)]
pub(crate) struct SettingsSql {
    get: Sql,
    put: Sql,
}

impl SettingsSql {
    pub(crate) fn new(d: &Dialect) -> Self {
        let upsert = d.upsert("user_id", &["enabled", "preferred", "email", "phone"]);
        Self {
            get: d.sql(&format!(
                "SELECT {COLUMNS} FROM {{p}}settings WHERE user_id = ?"
            )),
            put: d.sql(&format!(
                "INSERT INTO {{p}}settings (user_id, enabled, preferred, email, phone) \
                 VALUES (?, ?, ?, ?, ?) {upsert}"
            )),
        }
    }
}

/// The select list of settings, in [`read`]'s order.
pub(crate) const COLUMNS: &str = "@user_id, enabled, preferred, email, phone";

/// How many columns [`COLUMNS`] has.
pub(crate) const WIDTH: usize = 5;

/// Settings from the next columns, in [`COLUMNS`] order; `None` where the columns are `NULL`
/// (a left join that found no row). `enabled` holds the methods' stable names,
/// comma-separated; the destinations are stored as text and parsed again, so a value that no
/// longer parses is corrupt (and the caller fails closed) rather than used.
pub(crate) fn read<E: Engine>(c: &mut Cols<'_, E>) -> SResult<Option<MfaSettings>> {
    let Some(user) = c.opt_text("user_id")? else {
        return Ok(None);
    };
    let enabled = c
        .text("enabled")?
        .split(',')
        .filter(|name| !name.is_empty())
        .map(|name| FactorKind::from_str(name).map_err(|_| corrupt("enabled")))
        .collect::<SResult<BTreeSet<_>>>()?;
    let preferred = c
        .opt_text("preferred")?
        .map(|name| FactorKind::from_str(&name).map_err(|_| corrupt("preferred")))
        .transpose()?;
    let email = c
        .opt_text("email")?
        .map(|text| EmailAddress::parse(&text).map_err(|_| corrupt("email")))
        .transpose()?;
    let phone = c
        .opt_text("phone")?
        .map(|text| PhoneNumber::parse(&text).map_err(|_| corrupt("phone")))
        .transpose()?;
    Ok(Some(MfaSettings {
        user,
        enabled,
        preferred,
        email,
        phone,
    }))
}

/// Settings from a row of [`COLUMNS`].
fn settings<E: Engine>(row: &E::Row) -> SResult<MfaSettings> {
    read(&mut Cols::<E>::new(row))?.ok_or_else(|| corrupt("user_id"))
}

#[async_trait]
impl<E: Engine> SettingsStore for SqlStore<E> {
    async fn settings(&self, user: &str) -> SResult<Option<MfaSettings>> {
        self.fetch_optional(&self.sql().settings.get, &[Arg::Text(user)], settings::<E>)
            .await
    }

    async fn put_settings(&self, settings: MfaSettings) -> SResult<()> {
        let enabled = settings
            .enabled
            .iter()
            .map(|kind| kind.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let args = [
            Arg::Text(&settings.user),
            Arg::Text(&enabled),
            Arg::OptText(settings.preferred.map(FactorKind::as_str)),
            Arg::OptText(settings.email.as_ref().map(EmailAddress::as_str)),
            Arg::OptText(settings.phone.as_ref().map(PhoneNumber::as_str)),
        ];
        self.execute(&self.sql().settings.put, &args).await?;
        Ok(())
    }
}
