//! Per-user second-factor settings: enabled methods, preferred method, destinations.

use std::collections::BTreeSet;
use std::fmt::Debug;

use async_trait::async_trait;

use crate::Result;
use crate::text::text_enum;

text_enum! {
    /// A second-factor method a user can enable.
    pub enum FactorKind {
        /// Codes from an authenticator app.
        Totp => "totp",
        /// Codes (or magic links) sent by email.
        Email => "email",
        /// Codes sent by SMS.
        Sms => "sms",
    }
}

/// A user's second-factor settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaSettings {
    /// The user.
    pub user: String,
    /// The methods the user has enabled.
    pub enabled: BTreeSet<FactorKind>,
    /// The method to offer first, if the user chose one.
    pub preferred: Option<FactorKind>,
    /// Where email codes go.
    pub email: Option<String>,
    /// Where SMS codes go (E.164).
    pub phone: Option<String>,
}

impl MfaSettings {
    /// Settings with nothing enabled.
    pub fn new(user: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            enabled: BTreeSet::new(),
            preferred: None,
            email: None,
            phone: None,
        }
    }
}

/// Storage of per-user settings.
#[async_trait]
pub trait SettingsStore: Send + Sync + Debug {
    /// `user`'s settings, `None` if never stored.
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`](crate::StoreError::Corrupt) for undecodable rows.
    async fn settings(&self, user: &str) -> Result<Option<MfaSettings>>;

    /// Stores `settings` as the whole record of `settings.user` (upsert: every field replaced).
    ///
    /// # Errors
    /// Backend failures.
    async fn put_settings(&self, settings: MfaSettings) -> Result<()>;
}
