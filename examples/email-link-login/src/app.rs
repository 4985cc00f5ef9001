//! The "app": passwordless sign-in by magic link or code, on top of the facade.

use std::sync::Arc;
use std::time::SystemTime;

use mfa::{
    Authority, ChallengeId, Channel, ClientInfo, Clock, EmailAddress, EnrollmentOutcome, Keyring,
    LinkInspection, LoginStart, MagicLinkToken, MailSettings, Mailer, Mfa, Outcome, Pepper, Policy,
    Proof, SendOutcome, Store, VerifyOptions,
};

use crate::error::Result;

/// Where a registration stands after the address's first code was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Registration {
    /// The address is confirmed: it can sign in from now on.
    Complete,
    /// The code was wrong or expired; ask again (or register again for a new code).
    Incomplete,
}

/// What a sign-in step returned (one value per case a page must tell apart).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignIn {
    /// Signed in: open the session for `email`.
    SignedIn {
        /// The (normalised) address signed in.
        email: String,
    },
    /// Wrong code: `attempts_left` more tries on this login.
    WrongCode {
        /// Tries left.
        attempts_left: u32,
    },
    /// The code or link is unknown, expired or used: start again.
    Expired,
    /// Too many wrong codes: the account is locked until `until`.
    Locked {
        /// When the lock ends.
        until: SystemTime,
    },
}

impl From<Outcome> for SignIn {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Verified { user, .. } => Self::SignedIn { email: user },
            Outcome::Rejected { attempts_left } => Self::WrongCode { attempts_left },
            Outcome::LockedOut { until } => Self::Locked { until },
            _ => Self::Expired,
        }
    }
}

/// A pending sign-in: the opaque id the browser carries between requests.
#[derive(Debug)]
pub struct PendingLogin {
    /// The challenge id (keep it in a cookie; it is not the code).
    pub challenge: ChallengeId,
    /// When this login expires.
    pub expires_at: SystemTime,
}

/// The passwordless sign-in app: users are their email addresses.
#[derive(Debug, Clone)]
pub struct EmailLinkApp {
    mfa: Mfa,
}

impl EmailLinkApp {
    /// The app on `store`, sending through `mailer`, with [`Policy::email_link_login`]: code
    /// and link live 2 minutes, 3 wrong tries from unrecognised networks lock the account
    /// against them for 1 hour, one active code per login (a resend replaces it), codes kept
    /// only as keyed digests.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) if the facade refuses the parts.
    pub fn new(
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        keyring: Keyring,
        pepper: Pepper,
    ) -> Result<Self> {
        let settings = MailSettings::new(
            "Acme",
            EmailAddress::parse("no-reply@acme.test")?,
            EmailAddress::parse("help@acme.test")?,
        );
        let mfa = Mfa::builder()
            .store(store)
            .mailer(mailer)
            .clock(clock)
            .keyring(keyring)
            .pepper(pepper)
            .policy(Policy::email_link_login())
            .mail_settings(settings)
            .build()?;
        Ok(Self { mfa })
    }

    /// The facade underneath (for operations this example does not wrap).
    #[must_use]
    pub fn mfa(&self) -> &Mfa {
        &self.mfa
    }

    /// Starts registering `email`: mails it a code that proves the address. The user id is the
    /// address in lower case; the address is its first (and only) factor.
    ///
    /// # Errors
    /// [`Error::Address`](crate::Error::Address) for an invalid address;
    /// [`Error::Mfa`](crate::Error::Mfa) on a store or delivery failure, or
    /// [`NotAuthorised`](mfa::Error::NotAuthorised) for an address already registered.
    pub async fn register(&self, email: &str, client: &ClientInfo) -> Result<SendOutcome> {
        let address = EmailAddress::parse(email)?;
        let user = address.normalized();
        Ok(self
            .mfa
            .start_email_enrollment(&user, Authority::FirstFactor, &address, client)
            .await?)
    }

    /// Finishes registering `email` with the code from its first message.
    ///
    /// # Errors
    /// [`Error::Address`](crate::Error::Address) for an invalid address;
    /// [`Error::Mfa`](crate::Error::Mfa) on a store failure, or
    /// [`NotAuthorised`](mfa::Error::NotAuthorised) for an address already registered.
    pub async fn confirm_registration(
        &self,
        email: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<Registration> {
        let address = EmailAddress::parse(email)?;
        let user = address.normalized();
        let done = self
            .mfa
            .finish_email_enrollment(&user, Authority::FirstFactor, &address, code, client)
            .await?;
        Ok(match done {
            EnrollmentOutcome::Confirmed { .. } | EnrollmentOutcome::AlreadyEnabled => {
                Registration::Complete
            }
            _ => Registration::Incomplete,
        })
    }

    /// Starts a sign-in for `email`. Unknown and locked addresses get a login too (it never
    /// sends anything), so the page cannot tell who is registered.
    ///
    /// # Errors
    /// [`Error::Address`](crate::Error::Address) for an invalid address;
    /// [`Error::Mfa`](crate::Error::Mfa) on a store failure.
    pub async fn begin_login(&self, email: &str, client: &ClientInfo) -> Result<PendingLogin> {
        let address = EmailAddress::parse(email)?;
        match self.mfa.begin_email_login(&address, client).await? {
            LoginStart::ChallengeRequired {
                challenge_id,
                expires_at,
                ..
            } => Ok(PendingLogin {
                challenge: challenge_id,
                expires_at,
            }),
            // Not reachable for an email login; answered as a login that never succeeds.
            _ => Err(mfa::Error::MethodNotEnabled.into()),
        }
    }

    /// Mails the magic link (to `base_url?token=…`) and the 6-digit code beside it, bound to
    /// `browser` when given (the link then signs in only there). Replaces any earlier code of
    /// this login. `client` decides which send quotas it counts against.
    ///
    /// # Errors
    /// [`Error::Mfa`](crate::Error::Mfa) on a store or delivery failure or a non-https URL.
    pub async fn send_link(
        &self,
        login: &PendingLogin,
        base_url: &str,
        browser: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SendOutcome> {
        Ok(self
            .mfa
            .send_magic_link(&login.challenge, base_url, browser, client)
            .await?)
    }

    /// Sends a new code for the same login; the previous code stops working.
    ///
    /// # Errors
    /// [`Error::Mfa`](crate::Error::Mfa) on a store or delivery failure.
    pub async fn resend_code(
        &self,
        login: &PendingLogin,
        client: &ClientInfo,
    ) -> Result<SendOutcome> {
        Ok(self
            .mfa
            .send_code(&login.challenge, Channel::Email, client)
            .await?)
    }

    /// What opening the link (a GET, maybe by a mail scanner) finds; consumes nothing. `token`
    /// is the link's `token` query parameter; anything malformed is an invalid link.
    ///
    /// # Errors
    /// [`Error::Mfa`](crate::Error::Mfa) on a store failure.
    pub async fn open_link(&self, token: &str) -> Result<LinkInspection> {
        let Ok(token) = token.parse::<MagicLinkToken>() else {
            return Ok(LinkInspection::Invalid);
        };
        Ok(self.mfa.inspect_magic_link(&token).await?)
    }

    /// The explicit confirmation (the button on the page the link opened): signs in once. A
    /// malformed token is answered as an expired link.
    ///
    /// # Errors
    /// [`Error::Mfa`](crate::Error::Mfa) on a store failure.
    pub async fn confirm_link(
        &self,
        token: &str,
        browser: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SignIn> {
        let Ok(token) = token.parse::<MagicLinkToken>() else {
            return Ok(SignIn::Expired);
        };
        let outcome = self
            .mfa
            .confirm_magic_link(&token, browser, client, VerifyOptions::new())
            .await?;
        Ok(SignIn::from(outcome))
    }

    /// Signs in with the 6-digit code typed in the browser that started the login.
    ///
    /// # Errors
    /// [`Error::Mfa`](crate::Error::Mfa) on a store failure.
    pub async fn login_with_code(
        &self,
        login: &PendingLogin,
        code: &str,
        client: &ClientInfo,
    ) -> Result<SignIn> {
        let outcome = self
            .mfa
            .verify(
                &login.challenge,
                Proof::EmailCode(code),
                client,
                VerifyOptions::new(),
            )
            .await?;
        Ok(SignIn::from(outcome))
    }
}
