//! [`SettingsStore`] on Redis: one hash per user, replaced whole by one script.

use std::collections::BTreeSet;

use async_trait::async_trait;
use mfa_store::{FactorKind, MfaSettings, Result, SettingsStore};

use crate::RedisStore;
use crate::codec::Fields;
use crate::scripts::SETTINGS_PUT;
use crate::store::{Retry, check_status};

#[async_trait]
impl SettingsStore for RedisStore {
    async fn settings(&self, user: &str) -> Result<Option<MfaSettings>> {
        let map = self
            .command(
                redis::cmd("HGETALL").arg(self.keys.settings(user)),
                Retry::Idempotent,
            )
            .await?;
        let fields = Fields::from_map("settings", map);
        if fields.is_empty() {
            return Ok(None);
        }
        let enabled = fields
            .text("enabled")?
            .split(',')
            .filter(|name| !name.is_empty())
            .map(str::parse)
            .collect::<Result<BTreeSet<FactorKind>>>()?;
        Ok(Some(MfaSettings {
            user: user.to_owned(),
            enabled,
            preferred: fields
                .opt_text("preferred")?
                .map(|name| name.parse())
                .transpose()?,
            email: fields.opt_text("email")?,
            phone: fields.opt_text("phone")?,
        }))
    }

    async fn put_settings(&self, settings: MfaSettings) -> Result<()> {
        let enabled: Vec<&str> = settings.enabled.iter().map(|k| k.as_str()).collect();
        let mut invocation = SETTINGS_PUT.key(self.keys.settings(&settings.user));
        invocation.arg("enabled").arg(enabled.join(","));
        if let Some(preferred) = settings.preferred {
            invocation.arg("preferred").arg(preferred.as_str());
        }
        if let Some(email) = &settings.email {
            invocation.arg("email").arg(email);
        }
        if let Some(phone) = &settings.phone {
            invocation.arg("phone").arg(phone);
        }
        let status: String = self.eval(&invocation, Retry::Never).await?;
        check_status(&status, "settings")
    }
}
