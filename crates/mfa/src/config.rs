//! [`MfaBuilder`]: everything the facade needs, validated once at start-up.

use std::sync::Arc;
use std::time::Duration;

use mfa_core::{Clock, Keyring, Pepper, RecoveryCode, RecoveryHardening, SystemClock};
use mfa_mail::{Composer, MailSettings, Mailer, SmsSender, Templates};
use mfa_policy::{Policy, PolicyBuilder};
use mfa_store::Store;

use crate::error::ConfigError;
use crate::events::AuditHook;
use crate::facade::{Inner, Mfa};

/// Facade settings that are not part of the [`Policy`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) trusted_device_lifetime: Duration,
    pub(crate) step_up_window: Duration,
    pub(crate) recovery_codes: usize,
    pub(crate) recovery_hardening: RecoveryHardening,
    pub(crate) enrollment_lifetime: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            trusted_device_lifetime: Duration::from_secs(30 * DAY),
            step_up_window: Duration::from_secs(10 * 60),
            recovery_codes: RecoveryCode::DEFAULT_COUNT,
            recovery_hardening: RecoveryHardening::Peppered,
            enrollment_lifetime: Duration::from_secs(15 * 60),
        }
    }
}

const DAY: u64 = 24 * 60 * 60;

/// Builds an [`Mfa`]; [`MfaBuilder::build`] checks every part.
///
/// Required: a store, a mailer, mail settings (or a composer), a keyring and a pepper.
/// Defaults: [`Policy::default`], [`SystemClock`], issuer taken from the mail settings' product
/// name, no SMS sender, trusted devices remembered 30 days, step-up grants valid 10 minutes,
/// 10 recovery codes with peppered verifiers, TOTP enrolment open 15 minutes.
#[must_use]
pub struct MfaBuilder {
    store: Option<Arc<dyn Store>>,
    mailer: Option<Arc<dyn Mailer>>,
    sms: Option<Arc<dyn SmsSender>>,
    keyring: Option<Keyring>,
    pepper: Option<Result<Pepper, usize>>,
    policy: Result<Policy, mfa_policy::Error>,
    clock: Arc<dyn Clock>,
    issuer: Option<String>,
    mail_settings: Option<MailSettings>,
    templates: Templates,
    composer: Option<Composer>,
    settings: Settings,
    trusted_device_days: u32,
    hook: Option<AuditHook>,
}

impl core::fmt::Debug for MfaBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MfaBuilder").finish_non_exhaustive()
    }
}

impl Default for MfaBuilder {
    fn default() -> Self {
        Self {
            store: None,
            mailer: None,
            sms: None,
            keyring: None,
            pepper: None,
            policy: Ok(Policy::default()),
            clock: Arc::new(SystemClock),
            issuer: None,
            mail_settings: None,
            templates: Templates::english(),
            composer: None,
            settings: Settings::default(),
            trusted_device_days: 30,
            hook: None,
        }
    }
}

impl MfaBuilder {
    /// The store every count, challenge, factor and device lives in (shared by all instances).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The mailer for codes, magic links and security notices.
    pub fn mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// The SMS sender (without one, SMS codes are unavailable).
    pub fn sms(mut self, sms: Arc<dyn SmsSender>) -> Self {
        self.sms = Some(sms);
        self
    }

    /// The keyring TOTP secrets are sealed with.
    pub fn keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// The pepper codes and tokens are digested under.
    pub fn pepper(mut self, pepper: Pepper) -> Self {
        self.pepper = Some(Ok(pepper));
        self
    }

    /// The pepper as raw bytes (32 to 64), checked at [`build`](Self::build).
    pub fn pepper_bytes(mut self, bytes: &[u8]) -> Self {
        self.pepper = Some(Pepper::from_bytes(bytes).map_err(|_| bytes.len()));
        self
    }

    /// The policy (a preset such as [`Policy::mandatory_totp`] or a custom one).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Ok(policy);
        self
    }

    /// A policy still to be built; an impossible one fails [`build`](Self::build).
    pub fn policy_builder(mut self, builder: PolicyBuilder) -> Self {
        self.policy = builder.build();
        self
    }

    /// The clock (default [`SystemClock`]; tests use [`mfa_core::ManualClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The issuer shown in authenticator apps (default: the mail settings' product name).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Product name, sender and support address for emails.
    pub fn mail_settings(mut self, settings: MailSettings) -> Self {
        self.mail_settings = Some(settings);
        self
    }

    /// Email and SMS templates (default English).
    pub fn templates(mut self, templates: Templates) -> Self {
        self.templates = templates;
        self
    }

    /// A ready composer (instead of mail settings and templates).
    pub fn composer(mut self, composer: Composer) -> Self {
        self.composer = Some(composer);
        self
    }

    /// How many days a trusted device skips the second factor (1..=400, default 30).
    pub fn trusted_device_days(mut self, days: u32) -> Self {
        self.trusted_device_days = days;
        self
    }

    /// How long a step-up grant is accepted (1 min..=1 h, default 10 min).
    pub fn step_up_window(mut self, window: Duration) -> Self {
        self.settings.step_up_window = window;
        self
    }

    /// Recovery codes per set (1..=100, default 10).
    pub fn recovery_codes(mut self, count: usize) -> Self {
        self.settings.recovery_codes = count;
        self
    }

    /// How recovery code verifiers are made (default peppered digest; Argon2id for NIST's
    /// hardened mode).
    pub fn recovery_hardening(mut self, hardening: RecoveryHardening) -> Self {
        self.settings.recovery_hardening = hardening;
        self
    }

    /// How long a TOTP enrolment stays open before its first code (1 min..=24 h, default
    /// 15 min).
    pub fn enrollment_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.enrollment_lifetime = lifetime;
        self
    }

    /// A function called with every audit event (after it is written to the store).
    pub fn audit_hook(mut self, hook: AuditHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Checks everything and builds the facade.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or invalid part.
    pub fn build(self) -> Result<Mfa, ConfigError> {
        let store = self.store.ok_or(ConfigError::MissingStore)?;
        let keyring = self.keyring.ok_or(ConfigError::MissingKeyring)?;
        let pepper = match self.pepper {
            None => return Err(ConfigError::MissingPepper),
            Some(Err(bytes)) => return Err(ConfigError::BadPepper { bytes }),
            Some(Ok(p)) => p,
        };
        let mailer = self.mailer.ok_or(ConfigError::MissingMailer)?;
        let policy = self.policy.map_err(ConfigError::Policy)?;
        let composer = match (self.composer, self.mail_settings) {
            (Some(c), _) => c,
            (None, Some(s)) => Composer::new(s, self.templates).map_err(ConfigError::Mail)?,
            (None, None) => return Err(ConfigError::MissingMailSettings),
        };
        let issuer = self
            .issuer
            .unwrap_or_else(|| composer.settings().product.clone());
        if issuer.trim().is_empty() || issuer.contains(':') || issuer.chars().any(char::is_control)
        {
            return Err(ConfigError::BadIssuer);
        }
        let mut settings = self.settings;
        if !(1..=400).contains(&self.trusted_device_days) {
            return Err(ConfigError::OutOfRange {
                setting: "trusted device days",
                bounds: "1 to 400 days",
            });
        }
        settings.trusted_device_lifetime =
            Duration::from_secs(u64::from(self.trusted_device_days).saturating_mul(DAY));
        if settings.step_up_window < Duration::from_secs(60)
            || settings.step_up_window > Duration::from_secs(3600)
        {
            return Err(ConfigError::OutOfRange {
                setting: "step-up window",
                bounds: "1 minute to 1 hour",
            });
        }
        if settings.recovery_codes == 0 || settings.recovery_codes > RecoveryCode::MAX_COUNT {
            return Err(ConfigError::OutOfRange {
                setting: "recovery codes",
                bounds: "1 to 100 codes",
            });
        }
        if settings.enrollment_lifetime < Duration::from_secs(60)
            || settings.enrollment_lifetime > Duration::from_secs(DAY)
        {
            return Err(ConfigError::OutOfRange {
                setting: "enrolment lifetime",
                bounds: "1 minute to 24 hours",
            });
        }
        Ok(Mfa {
            inner: Arc::new(Inner {
                store,
                mailer,
                sms: self.sms,
                keyring,
                pepper,
                policy,
                clock: self.clock,
                issuer,
                composer,
                settings,
                hook: self.hook,
            }),
        })
    }
}
