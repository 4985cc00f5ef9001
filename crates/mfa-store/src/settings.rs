//! Per-user second-factor settings: enabled methods, preferred method, destinations.

use std::collections::BTreeSet;
use std::fmt::Debug;

use async_trait::async_trait;
use mfa_core::{EmailAddress, FactorKind, PhoneNumber};

use crate::Result;

/// A user's second-factor settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaSettings {
    /// The user.
    pub user: String,
    /// The methods the user has enabled.
    pub enabled: BTreeSet<FactorKind>,
    /// The method to offer first, if the user chose one.
    pub preferred: Option<FactorKind>,
    /// Where email codes and security notices go.
    pub email: Option<EmailAddress>,
    /// Where SMS codes (and SMS security notices) go.
    pub phone: Option<PhoneNumber>,
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
