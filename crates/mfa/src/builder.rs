//! [`MfaBuilder`]: everything the facade needs, validated once at start-up.

use std::sync::Arc;
use std::time::Duration;

use mfa_core::{Clock, Keyring, Pepper, RecoveryCode, RecoveryHardening, SystemClock};
use mfa_mail::{Composer, MailSettings, Mailer, SmsSender, Templates, UnlockLink};
use mfa_policy::{Policy, PolicyBuilder};
use mfa_store::Store;

use crate::error::ConfigError;
use crate::events::AuditHook;
use crate::facade::{Inner, Mfa};
use crate::settings::{DAY, Settings};

impl Mfa {
    /// A builder; see [`MfaBuilder`] for what is required.
    pub fn builder() -> MfaBuilder {
        MfaBuilder::default()
    }
}

/// Builds an [`Mfa`]; [`MfaBuilder::build`] checks every part.
///
/// Required: a store, a keyring and a pepper; an issuer or mail settings (the product name).
/// Optional: a mailer (without one, email codes, magic links and email notices are off: an
/// application that uses only authenticator apps needs none), an SMS sender, an unlock URL
/// (without one, lock notices carry no unlock link). A mailer or an SMS sender needs mail
/// settings (or a composer) to write its messages.
///
/// Defaults: [`Policy::default`], [`SystemClock`], issuer taken from the mail settings' product
/// name, trusted devices remembered 30 days, step-up grants valid 10 minutes, 10 recovery codes
/// with peppered verifiers (120-bit codes), TOTP enrolment open 15 minutes, unlock links live 24
/// hours.
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
    #[cfg(feature = "webauthn")]
    webauthn: Option<crate::webauthn::WebAuthnConfig>,
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
            #[cfg(feature = "webauthn")]
            webauthn: None,
        }
    }
}

impl MfaBuilder {
    /// The store every count, challenge, factor and device lives in (shared by all instances).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The mailer for codes, magic links and security notices (optional).
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

    /// The https page unlock links point to (`?token=<43 characters>` is appended), served by
    /// the application: a GET shows a button, the POST calls
    /// [`Mfa::begin_unlock`](crate::Mfa::begin_unlock). Without it, lock notices carry no link.
    pub fn unlock_url(mut self, url: impl Into<String>) -> Self {
        self.settings.unlock_url = Some(url.into());
        self
    }

    /// How long an unlock link stays valid (10 min..=7 days, default 24 h).
    pub fn unlock_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.unlock_lifetime = lifetime;
        self
    }

    /// A function called with every audit event (after it is written to the store).
    pub fn audit_hook(mut self, hook: AuditHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Offers WebAuthn (security keys and passkeys) as a second factor, as the relying party
    /// `config` describes; checked in [`build`](Self::build).
    #[cfg(feature = "webauthn")]
    pub fn webauthn(mut self, config: crate::webauthn::WebAuthnConfig) -> Self {
        self.webauthn = Some(config);
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
        let policy = self.policy.map_err(ConfigError::Policy)?;
        let composer = match (self.composer, self.mail_settings) {
            (Some(c), _) => Some(c),
            (None, Some(s)) => Some(Composer::new(s, self.templates).map_err(ConfigError::Mail)?),
            (None, None) => None,
        };
        if composer.is_none() && (self.mailer.is_some() || self.sms.is_some()) {
            return Err(ConfigError::MissingMailSettings);
        }
        let issuer = match (self.issuer, &composer) {
            (Some(issuer), _) => issuer,
            (None, Some(c)) => c.settings().product.clone(),
            (None, None) => return Err(ConfigError::MissingIssuer),
        };
        if issuer.trim().is_empty() || issuer.contains(':') || issuer.chars().any(char::is_control)
        {
            return Err(ConfigError::BadIssuer);
        }
        let mut settings = self.settings;
        settings.trusted_device_lifetime = check_days(self.trusted_device_days)?;
        check(
            settings.step_up_window,
            "step-up window",
            (60, 3600),
            "1 minute to 1 hour",
        )?;
        if settings.recovery_codes == 0 || settings.recovery_codes > RecoveryCode::MAX_COUNT {
            return Err(ConfigError::OutOfRange {
                setting: "recovery codes",
                bounds: "1 to 100 codes",
            });
        }
        check(
            settings.enrollment_lifetime,
            "enrolment lifetime",
            (60, DAY),
            "1 minute to 24 hours",
        )?;
        check(
            settings.unlock_lifetime,
            "unlock link lifetime",
            (600, 7 * DAY),
            "10 minutes to 7 days",
        )?;
        if let Some(url) = &settings.unlock_url {
            let probe = format!("{url}?token=probe");
            if url.contains('?') || url.contains('#') || UnlockLink::new(probe).is_err() {
                return Err(ConfigError::BadUnlockUrl);
            }
        }
        #[cfg(feature = "webauthn")]
        let webauthn = self
            .webauthn
            .map(crate::webauthn::WebAuthnConfig::build)
            .transpose()?;
        Ok(Mfa {
            inner: Arc::new(Inner {
                store,
                mailer: self.mailer,
                sms: self.sms,
                composer,
                keyring,
                pepper,
                policy,
                clock: self.clock,
                issuer,
                settings,
                hook: self.hook,
                #[cfg(feature = "webauthn")]
                webauthn,
            }),
        })
    }
}

fn check_days(days: u32) -> Result<Duration, ConfigError> {
    if !(1..=400).contains(&days) {
        return Err(ConfigError::OutOfRange {
            setting: "trusted device days",
            bounds: "1 to 400 days",
        });
    }
    Ok(Duration::from_secs(u64::from(days).saturating_mul(DAY)))
}

fn check(
    value: Duration,
    setting: &'static str,
    (min, max): (u64, u64),
    bounds: &'static str,
) -> Result<(), ConfigError> {
    if value < Duration::from_secs(min) || value > Duration::from_secs(max) {
        return Err(ConfigError::OutOfRange { setting, bounds });
    }
    Ok(())
}
