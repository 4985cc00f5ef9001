//! [`SettingsStore`] on Redis: one hash per user, replaced whole by one script.
//!
//! The settings decide whether a user has a second factor at all, so their absence must never
//! be a loss misread: `put_settings` records the record's key in its slot's data-loss marker,
//! and `settings` answers [`StoreError::DataLoss`](mfa_store::StoreError::DataLoss) for a
//! recorded key that is gone (or a missing marker), `None` only for a user never stored.

use std::collections::BTreeSet;

use async_trait::async_trait;
use mfa_store::{
    EmailAddress, FactorKind, MfaSettings, PhoneNumber, Result, SettingsStore, StoreError,
};

use crate::RedisStore;
use crate::codec::Fields;
use crate::scripts::{SETTINGS_GET, SETTINGS_PUT};
use crate::store::{Op, check_status};

pub(crate) const RECORD: &str = "settings";

pub(crate) fn decode(user: &str, fields: &Fields) -> Result<MfaSettings> {
    let enabled = fields
        .text("enabled")?
        .split(',')
        .filter(|name| !name.is_empty())
        .map(|name| name.parse::<FactorKind>().map_err(StoreError::from))
        .collect::<Result<BTreeSet<FactorKind>>>()?;
    let parsed = |field: &str| fields.opt_text(field);
    Ok(MfaSettings {
        user: user.to_owned(),
        enabled,
        preferred: parsed("preferred")?
            .map(|name| name.parse::<FactorKind>())
            .transpose()?,
        email: parsed("email")?
            .map(|text| EmailAddress::parse(&text))
            .transpose()?,
        phone: parsed("phone")?
            .map(|text| PhoneNumber::parse(&text))
            .transpose()?,
    })
}

#[async_trait]
impl SettingsStore for RedisStore {
    async fn settings(&self, user: &str) -> Result<Option<MfaSettings>> {
        let flat: Vec<Vec<u8>> = self
            .eval(
                &SETTINGS_GET.on(&self.keys, self.keys.settings(user)),
                Op::Read,
            )
            .await?;
        let fields = Fields::from_flat(RECORD, flat)?;
        if fields.is_empty() {
            return Ok(None);
        }
        decode(user, &fields).map(Some)
    }

    async fn put_settings(&self, settings: MfaSettings) -> Result<()> {
        let enabled: Vec<&str> = settings.enabled.iter().map(|k| k.as_str()).collect();
        let mut invocation = SETTINGS_PUT.on(&self.keys, self.keys.settings(&settings.user));
        invocation.arg("enabled").arg(enabled.join(","));
        if let Some(preferred) = settings.preferred {
            invocation.arg("preferred").arg(preferred.as_str());
        }
        if let Some(email) = &settings.email {
            invocation.arg("email").arg(email.as_str());
        }
        if let Some(phone) = &settings.phone {
            invocation.arg("phone").arg(phone.as_str());
        }
        let status: String = self.eval(&invocation, Op::Guard).await?;
        check_status(&status, "settings")
    }
}
