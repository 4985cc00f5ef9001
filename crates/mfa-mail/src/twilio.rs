//! SMS through Twilio's Messages API.

use core::fmt;
use core::time::Duration;
use std::sync::Arc;

use async_trait::async_trait;
use rustls_platform_verifier::BuilderVerifierExt;
use zeroize::Zeroizing;

use crate::address::PhoneNumber;
use crate::error::{MailError, Result};
use crate::mailer::SmsSender;
use crate::message::SmsMessage;

/// Twilio's API address.
pub const TWILIO_API_BASE: &str = "https://api.twilio.com";

/// Who a Twilio message is sent from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TwilioSender {
    /// A Twilio phone number (form field `From`).
    From(PhoneNumber),
    /// A Messaging Service, which picks the number (form field `MessagingServiceSid`, `MG...`).
    MessagingService(String),
}

/// Account and sender for [`TwilioSms`]. `Debug` hides the auth token.
#[derive(Clone)]
pub struct TwilioConfig {
    /// The Account SID (`AC...`).
    pub account_sid: String,
    auth_token: Zeroizing<String>,
    /// The sender.
    pub sender: TwilioSender,
    /// The API base URL, [`TWILIO_API_BASE`] by default; `http://` is accepted only for
    /// `localhost` and `127.0.0.1` (tests, local proxies).
    pub base_url: String,
    /// The limit on one request, connect to last byte.
    pub timeout: Duration,
}

impl TwilioConfig {
    /// A configuration for Twilio's API with a 10 s timeout.
    #[must_use]
    pub fn new(
        account_sid: impl Into<String>,
        auth_token: impl Into<String>,
        sender: TwilioSender,
    ) -> Self {
        Self {
            account_sid: account_sid.into(),
            auth_token: Zeroizing::new(auth_token.into()),
            sender,
            base_url: TWILIO_API_BASE.into(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Sets the API base URL (for tests or a proxy).
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }
}

impl fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field("sender", &self.sender)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// An [`SmsSender`] that speaks Twilio's Messages API:
/// `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP basic authentication
/// and a form body `To`, `From` (or `MessagingServiceSid`) and `Body`.
///
/// HTTP 4xx answers (such as error 21211, invalid `To` number, or 21614, not a mobile number)
/// are permanent [`MailError::Refused`] with Twilio's error code as `status`; 429 and 5xx are
/// transient [`MailError::Deferred`]; connection failures are transient
/// [`MailError::Unavailable`].
#[derive(Debug)]
pub struct TwilioSms {
    client: reqwest::Client,
    url: String,
    config: TwilioConfig,
}

impl TwilioSms {
    /// A sender for `config`, with TLS through rustls (ring provider) and the platform's
    /// certificate verifier.
    ///
    /// # Errors
    /// [`MailError::Config`] when a setting is malformed or the HTTP client cannot be built.
    pub fn new(config: TwilioConfig) -> Result<Self> {
        let sid_ok = !config.account_sid.is_empty()
            && config
                .account_sid
                .chars()
                .all(|c| c.is_ascii_alphanumeric());
        if !sid_ok {
            return Err(MailError::Config("invalid Twilio Account SID".into()));
        }
        if let TwilioSender::MessagingService(sid) = &config.sender
            && (sid.is_empty() || !sid.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(MailError::Config("invalid Messaging Service SID".into()));
        }
        let base = config.base_url.trim_end_matches('/');
        if !base_is_safe(base) {
            return Err(MailError::Config(
                "the Twilio base URL must be https:// (http:// only to localhost)".into(),
            ));
        }
        let url = format!(
            "{base}/2010-04-01/Accounts/{}/Messages.json",
            config.account_sid
        );
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_platform_verifier())
            .map_err(|e| MailError::Config(format!("cannot set up TLS: {e}")))?
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| MailError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            url,
            config,
        })
    }
}

fn base_is_safe(base: &str) -> bool {
    let lower = base.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return true;
    }
    ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|p| {
            lower
                .strip_prefix(p)
                .is_some_and(|r| r.is_empty() || r.starts_with([':', '/']))
        })
}

/// Twilio's error body.
#[derive(serde::Deserialize)]
struct TwilioError {
    code: Option<u32>,
    message: Option<String>,
}

#[async_trait]
impl SmsSender for TwilioSms {
    async fn send_sms(&self, message: &SmsMessage) -> Result<()> {
        let (sender_field, sender_value) = match &self.config.sender {
            TwilioSender::From(number) => ("From", number.as_str()),
            TwilioSender::MessagingService(sid) => ("MessagingServiceSid", sid.as_str()),
        };
        let form = [
            ("To", message.to().as_str()),
            (sender_field, sender_value),
            ("Body", message.body()),
        ];
        let response = self
            .client
            .post(&self.url)
            .basic_auth(
                &self.config.account_sid,
                Some(self.config.auth_token.as_str()),
            )
            .form(&form)
            .send()
            .await
            .map_err(map_reqwest)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.bytes().await.map_err(map_reqwest)?;
        let parsed: Option<TwilioError> = serde_json::from_slice(&body).ok();
        let code = parsed.as_ref().and_then(|e| e.code);
        let text = parsed
            .and_then(|e| e.message)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        let http = status.as_u16();
        let message = match code {
            Some(code) => format!("Twilio error {code} (HTTP {http}): {text}"),
            None => format!("HTTP {http}: {text}"),
        };
        if http == 429 || status.is_server_error() {
            Err(MailError::Deferred {
                status: http,
                message,
            })
        } else {
            Err(MailError::Refused {
                status: code.and_then(|c| u16::try_from(c).ok()).unwrap_or(http),
                message,
            })
        }
    }
}

fn map_reqwest(e: reqwest::Error) -> MailError {
    // The URL in reqwest's error holds the Account SID, never the token or the body.
    if e.is_timeout() {
        MailError::Timeout
    } else if e.is_connect() || e.is_request() || e.is_body() {
        MailError::Unavailable(Box::new(e.without_url()))
    } else {
        MailError::Failed(Box::new(e.without_url()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TwilioConfig {
        TwilioConfig::new(
            "AC123",
            "token-secret-value",
            TwilioSender::From(PhoneNumber::parse("+15005550006").unwrap()),
        )
    }

    #[test]
    fn debug_hides_the_token() {
        let sms = TwilioSms::new(config()).unwrap();
        let shown = format!("{sms:?}");
        assert!(shown.contains("AC123"));
        assert!(!shown.contains("token-secret-value"), "{shown}");
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(TwilioSms::new(config().with_base_url("http://127.0.0.1:9")).is_ok());
        assert!(TwilioSms::new(config().with_base_url("http://localhost")).is_ok());
        assert!(TwilioSms::new(config().with_base_url("http://api.twilio.com")).is_err());
        assert!(TwilioSms::new(config().with_base_url("http://localhost.evil.test")).is_err());
    }

    #[test]
    fn account_sid_cannot_change_the_path() {
        let mut c = config();
        c.account_sid = "AC1/../../x".into();
        assert!(TwilioSms::new(c).is_err());
    }
}
