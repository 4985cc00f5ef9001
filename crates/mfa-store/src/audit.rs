//! The audit trail: what happened to a user's second factors, without any secret.

use std::borrow::Cow;
use std::fmt::{self, Debug};
use std::net::IpAddr;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::Result;
use crate::text::text_enum;

/// The kind of an audited event: a short stable name such as `"totp.confirmed"`.
///
/// The associated constants are the kinds the `mfa` facade records; applications may add their
/// own with [`AuditKind::new`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuditKind(Cow<'static, str>);

impl AuditKind {
    /// A TOTP factor was enrolled (pending).
    pub const TOTP_ENROLLED: Self = Self::from_static("totp.enrolled");
    /// A TOTP factor was confirmed by its first code.
    pub const TOTP_CONFIRMED: Self = Self::from_static("totp.confirmed");
    /// A TOTP factor was removed.
    pub const TOTP_REMOVED: Self = Self::from_static("totp.removed");
    /// A second-factor verification was attempted.
    pub const SECOND_FACTOR: Self = Self::from_static("second_factor");
    /// A challenge (email or SMS code, magic link) was sent.
    pub const CHALLENGE_SENT: Self = Self::from_static("challenge.sent");
    /// A recovery code was used.
    pub const RECOVERY_CODE_USED: Self = Self::from_static("recovery.used");
    /// A new set of recovery codes was generated.
    pub const RECOVERY_CODES_REGENERATED: Self = Self::from_static("recovery.regenerated");
    /// A device was trusted.
    pub const DEVICE_TRUSTED: Self = Self::from_static("device.trusted");
    /// Trusted devices were revoked.
    pub const DEVICES_REVOKED: Self = Self::from_static("device.revoked");
    /// An account was locked.
    pub const LOCKED: Self = Self::from_static("account.locked");
    /// An account was unlocked.
    pub const UNLOCKED: Self = Self::from_static("account.unlocked");

    /// A kind with a static name.
    #[must_use]
    pub const fn from_static(name: &'static str) -> Self {
        Self(Cow::Borrowed(name))
    }

    /// A kind with any name (as read back from a store).
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self(name.into())
    }

    /// The name a backend stores.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

text_enum! {
    /// How an audited event ended.
    pub enum AuditOutcome {
        /// It succeeded.
        Success => "success",
        /// It was evaluated and failed (a wrong code).
        Failure => "failure",
        /// It was refused before evaluation (rate limit, lock, expired challenge).
        Denied => "denied",
    }
}

/// Who the request came from, as far as the application can tell. Never a secret or a code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's IP address, as the application determined it (behind a proxy: from the
    /// trusted part of the forwarding chain, never a header a client can set).
    pub ip: Option<IpAddr>,
    /// The client's User-Agent header.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// A client at `ip`, without a user agent.
    #[must_use]
    pub fn new(ip: IpAddr) -> Self {
        Self {
            ip: Some(ip),
            user_agent: None,
        }
    }

    /// This client with its User-Agent header.
    #[must_use]
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }
}

/// One audited event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When it happened.
    pub at: SystemTime,
    /// The user concerned.
    pub user: String,
    /// What happened.
    pub kind: AuditKind,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// Who asked.
    pub client: ClientInfo,
    /// Who acted, when not the user: the administrator of an unlock or a reset.
    pub actor: Option<String>,
}

/// Storage of the audit trail (append only).
#[async_trait]
pub trait AuditStore: Send + Sync + Debug {
    /// Appends `event`. Concurrent appends are all kept.
    ///
    /// # Errors
    /// Backend failures.
    async fn append_audit(&self, event: AuditEvent) -> Result<()>;

    /// `user`'s latest `limit` events, newest first; events with the same time come newest
    /// appended first (SQL: `ORDER BY at DESC, seq DESC LIMIT $limit` with an auto-increment
    /// `seq`).
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`](crate::StoreError::Corrupt) for undecodable rows.
    async fn audit_events(&self, user: &str, limit: usize) -> Result<Vec<AuditEvent>>;
}
