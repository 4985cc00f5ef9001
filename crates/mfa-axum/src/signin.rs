//! The sign-in steps with the session kept in step: [`AuthSession::password_step`] and
//! [`AuthSession::second_factor`] call the facade, move the session's [`AuthState`] to what the
//! facade decided (a new session id at every change), and answer failures as a [`Problem`].
//! Every application does these mappings; doing them here keeps them in one place, where a
//! reviewer reads them once.

use std::future::Future;

use mfa::{
    Channel, ClientInfo, DeviceToken, LoginStart, MagicLinkToken, Method, Mfa, Outcome,
    PasswordVerdict, Proof, SendOutcome, VerifyOptions,
};

use crate::problem::Problem;
use crate::session::{AuthSession, AuthState};

/// Where a sign-in stands after [`AuthSession::password_step`].
#[derive(Debug)]
#[must_use]
#[non_exhaustive]
pub enum SignInStep {
    /// Signed in (the session says so). `rotated_device` is the trusted device's new token when
    /// the device made the second factor unnecessary: store it with
    /// [`CookiePolicy::remember_device`](crate::CookiePolicy::remember_device).
    SignedIn {
        /// The trusted device's replacement token.
        rotated_device: Option<DeviceToken>,
    },
    /// A second factor is asked for (the session holds the login ticket): show a page for one
    /// of `methods`, preferred first.
    SecondFactor {
        /// The methods the user can answer with.
        methods: Vec<Method>,
    },
    /// The user must set up a second factor first (the policy requires one): the session is in
    /// [`AuthState::EnrolmentRequired`], which no guard but the application's enrolment pages
    /// lets through. Enrol with [`Authority::FirstFactor`](mfa::Authority::FirstFactor).
    Enrol,
}

/// What a passed second factor brought, beside the signed-in session.
#[derive(Debug)]
#[must_use]
#[non_exhaustive]
pub struct Verified {
    /// The user now signed in.
    pub user: String,
    /// The method that verified.
    pub method: Method,
    /// The new trusted-device token, when the verification asked for one
    /// ([`VerifyOptions::trust_device`]).
    pub trusted_device_token: Option<DeviceToken>,
    /// Recovery codes left, when a recovery code was used (tell the user when few are left).
    pub recovery_codes_left: Option<usize>,
}

impl AuthSession {
    /// The password step of a sign-in ([`Mfa::password_step`]), with the session moved to its
    /// result: pending the second factor (the ticket kept in the session), signed in, or
    /// enrolment first.
    ///
    /// # Errors
    /// [`Problem::WrongPassword`], [`Problem::LockedOut`], and the facade's and the session
    /// store's failures; the session is unchanged.
    pub async fn password_step<F, Fut>(
        &self,
        mfa: &Mfa,
        user: &str,
        device: Option<&DeviceToken>,
        client: &ClientInfo,
        check: F,
    ) -> Result<SignInStep, Problem>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = PasswordVerdict> + Send,
    {
        let start = mfa.password_step(user, device, client, check).await?;
        self.after_start(mfa, user, start).await
    }

    /// [`Mfa::begin_login`] (an application that checks the first factor itself, such as a
    /// passwordless one), with the session moved to its result as in
    /// [`password_step`](Self::password_step).
    ///
    /// # Errors
    /// As [`password_step`](Self::password_step).
    pub async fn begin_login(
        &self,
        mfa: &Mfa,
        user: &str,
        device: Option<&DeviceToken>,
        client: &ClientInfo,
    ) -> Result<SignInStep, Problem> {
        let start = mfa.begin_login(user, device, client).await?;
        self.after_start(mfa, user, start).await
    }

    async fn after_start(
        &self,
        mfa: &Mfa,
        user: &str,
        start: LoginStart,
    ) -> Result<SignInStep, Problem> {
        match start {
            LoginStart::ChallengeRequired {
                challenge_id,
                methods,
                ..
            } => {
                self.second_factor_pending(user, &challenge_id).await?;
                Ok(SignInStep::SecondFactor { methods })
            }
            LoginStart::NotRequired => {
                self.sign_in(user, None).await?;
                Ok(SignInStep::SignedIn {
                    rotated_device: None,
                })
            }
            LoginStart::TrustedDevice { rotated_token } => {
                self.sign_in(user, Some(mfa.now())).await?;
                Ok(SignInStep::SignedIn {
                    rotated_device: Some(rotated_token),
                })
            }
            LoginStart::EnrollmentRequired => {
                self.set_state(AuthState::EnrolmentRequired {
                    user: user.to_owned(),
                })
                .await?;
                Ok(SignInStep::Enrol)
            }
            other => Err(Problem::from_login_start(&other, mfa.now()).unwrap_or(Problem::Internal)),
        }
    }

    /// The second factor of the pending sign-in: verifies `proof` against the session's login
    /// ticket and, when it is right, signs the session in (a new id; a step-up grant the
    /// options asked for is kept for [`SteppedUp`](crate::SteppedUp)).
    ///
    /// Failures are answered with [`Problem::public`]: the same for a wrong code, an expired
    /// ticket and a lock, so the answer does not say more about the account than the password
    /// step did.
    ///
    /// # Errors
    /// [`Problem::SignInRequired`] when no sign-in is pending in this session;
    /// [`Problem::VerificationFailed`]; the facade's and the session store's failures.
    pub async fn second_factor(
        &self,
        mfa: &Mfa,
        proof: Proof<'_>,
        client: &ClientInfo,
        options: VerifyOptions,
    ) -> Result<Verified, Problem> {
        let Some(AuthState::SecondFactorPending { user, ticket }) = self.state().await? else {
            return Err(Problem::SignInRequired);
        };
        let ticket = ticket
            .challenge_id()
            .map_err(|_| Problem::VerificationFailed)?;
        let outcome = mfa.verify(&ticket, proof, client, options).await?;
        let Outcome::Verified {
            user: verified,
            method,
            trusted_device_token,
            recovery_codes_left,
            step_up,
        } = outcome
        else {
            return Err(Problem::public(&outcome).unwrap_or(Problem::VerificationFailed));
        };
        if verified != user {
            // A ticket of another user in this session: never sign in as either.
            tracing::error!("a session's login ticket verified for another user");
            return Err(Problem::Internal);
        }
        self.sign_in(&user, Some(mfa.now())).await?;
        if let Some(grant) = &step_up {
            self.keep_step_up(grant).await?;
        }
        Ok(Verified {
            user,
            method,
            trusted_device_token,
            recovery_codes_left,
        })
    }
}

/// The session key of a pending step-up's ticket.
const STEP_UP_TICKET_KEY: &str = "mfa.step_up_ticket";

impl AuthSession {
    /// Starts a step-up for the signed-in `user` ([`Mfa::begin_step_up`]) and keeps its ticket in
    /// the session; returns the methods to ask for. Send a code with the facade if the user
    /// picks one that needs it, then [`finish_step_up`](Self::finish_step_up).
    ///
    /// # Errors
    /// [`Problem::EnrollmentRequired`] when the user has no factor to step up with (a first
    /// enrolment needs no step-up: use [`Authority::FirstFactor`](mfa::Authority::FirstFactor));
    /// [`Problem::LockedOut`]; the facade's and the session store's failures.
    pub async fn begin_step_up(
        &self,
        mfa: &Mfa,
        user: &str,
        client: &ClientInfo,
    ) -> Result<Vec<Method>, Problem> {
        match mfa.begin_step_up(user, client).await? {
            LoginStart::ChallengeRequired {
                challenge_id,
                methods,
                ..
            } => {
                let text = challenge_id.expose();
                self.session()
                    .insert_value(STEP_UP_TICKET_KEY, serde_json::Value::from(text.as_str()))
                    .await
                    .map_err(crate::Error::from)?;
                Ok(methods)
            }
            LoginStart::NotRequired => Err(Problem::EnrollmentRequired),
            other => Err(Problem::from_login_start(&other, mfa.now()).unwrap_or(Problem::Internal)),
        }
    }

    /// The ticket of the step-up [`begin_step_up`](Self::begin_step_up) started, if one is
    /// pending in this session (to send a code to).
    ///
    /// # Errors
    /// [`Error::Session`](crate::Error::Session).
    pub async fn step_up_ticket(&self) -> Result<Option<mfa::ChallengeId>, crate::Error> {
        let value = self.session().get_value(STEP_UP_TICKET_KEY).await?;
        Ok(value
            .as_ref()
            .and_then(serde_json::Value::as_str)
            .and_then(|text| text.parse().ok()))
    }

    /// Answers the pending step-up with `proof`; when it is right, the grant is kept in the
    /// session for [`SteppedUp`](crate::SteppedUp) and the session gets a new id. The user is
    /// known here, so failures are answered in detail ([`Problem::from_outcome`]: code
    /// mismatch with the tries left, expired, locked out).
    ///
    /// # Errors
    /// [`Problem::SignInRequired`] without a signed-in session, [`Problem::ExpiredCode`] without
    /// a pending step-up; the verification's problem; the facade's and the session store's
    /// failures.
    pub async fn finish_step_up(
        &self,
        mfa: &Mfa,
        proof: Proof<'_>,
        client: &ClientInfo,
    ) -> Result<(), Problem> {
        let Some(AuthState::SignedIn { user, .. }) = self.state().await? else {
            return Err(Problem::SignInRequired);
        };
        let Some(ticket) = self.step_up_ticket().await? else {
            return Err(Problem::ExpiredCode);
        };
        let outcome = mfa
            .verify(&ticket, proof, client, VerifyOptions::new().grant_step_up())
            .await?;
        match outcome {
            Outcome::Verified {
                user: verified,
                step_up: Some(grant),
                ..
            } if verified == user => {
                self.session()
                    .remove_value(STEP_UP_TICKET_KEY)
                    .await
                    .map_err(crate::Error::from)?;
                self.keep_step_up(&grant).await?;
                Ok(())
            }
            Outcome::Verified { .. } => Err(Problem::Internal),
            other => Err(Problem::from_outcome(&other, mfa.now()).unwrap_or(Problem::Internal)),
        }
    }
}

impl AuthSession {
    /// Whether the request carried this session (its cookie), as opposed to one that started
    /// with this request. A page reached from an email link under `SameSite=Strict` carries no
    /// cookie: it must not start a session there (that would replace the browser's own), and
    /// should continue with a same-site step instead.
    #[must_use]
    pub fn is_established(&self) -> bool {
        self.session().id().is_some()
    }

    /// The page a guard refused this session (a browser's GET), to go back to after the step
    /// it asked for; taken once, and only a path on this site.
    ///
    /// # Errors
    /// [`Error::Session`](crate::Error::Session).
    pub async fn take_return_to(&self) -> Result<Option<String>, crate::Error> {
        let value = self
            .session()
            .remove_value(crate::guard::RETURN_TO_KEY)
            .await?;
        Ok(value
            .as_ref()
            .and_then(serde_json::Value::as_str)
            .filter(|path| crate::guard::is_local_path(path))
            .map(str::to_owned))
    }

    /// The login ticket of the pending sign-in, if this session has one.
    async fn pending(&self) -> Result<Option<(String, mfa::ChallengeId)>, Problem> {
        match self.state().await? {
            Some(AuthState::SecondFactorPending { user, ticket }) => {
                Ok(ticket.challenge_id().ok().map(|id| (user, id)))
            }
            _ => Ok(None),
        }
    }

    /// Sends a code through `channel` for the pending sign-in ([`Mfa::send_code`]). A wait is
    /// answered as [`Problem::TooManyMessages`]; every other answer (sent, or not, for an
    /// address the facade answers for with a decoy) is `Ok`, so the page says "if this
    /// address is known, we sent a code" either way.
    ///
    /// # Errors
    /// [`Problem::SignInRequired`] without a pending sign-in; the facade's failures.
    pub async fn send_code(
        &self,
        mfa: &Mfa,
        channel: Channel,
        client: &ClientInfo,
    ) -> Result<SendOutcome, Problem> {
        let Some((_, ticket)) = self.pending().await? else {
            return Err(Problem::SignInRequired);
        };
        let sent = mfa.send_code(&ticket, channel, client).await?;
        match Problem::from_send(&sent, true) {
            Some(problem) => Err(problem),
            None => Ok(sent),
        }
    }

    /// Sends a magic link for the pending sign-in ([`Mfa::send_magic_link`]), bound to this
    /// session ([`link_binding`](Self::link_binding)): it signs in only here. Answers as
    /// [`send_code`](Self::send_code).
    ///
    /// # Errors
    /// As [`send_code`](Self::send_code); [`Problem::Internal`] for a base URL the facade refuses.
    pub async fn send_magic_link(
        &self,
        mfa: &Mfa,
        base_url: &str,
        client: &ClientInfo,
    ) -> Result<SendOutcome, Problem> {
        let Some((_, ticket)) = self.pending().await? else {
            return Err(Problem::SignInRequired);
        };
        let binding = self.link_binding().await?;
        let sent = mfa
            .send_magic_link(&ticket, base_url, Some(binding.expose()), client)
            .await?;
        match Problem::from_send(&sent, true) {
            Some(problem) => Err(problem),
            None => Ok(sent),
        }
    }

    /// Confirms a magic link (the explicit POST from the page the link opened) in the session
    /// that asked for it, and signs that session in. A link never grants a step-up: whoever
    /// reads the mailbox must still prove a factor for account changes.
    ///
    /// # Errors
    /// [`Problem::VerificationFailed`] for every failure (a link asked for in another browser
    /// included); the facade's and the session store's failures.
    pub async fn confirm_magic_link(
        &self,
        mfa: &Mfa,
        token: &MagicLinkToken,
        client: &ClientInfo,
    ) -> Result<Verified, Problem> {
        let binding = self.link_binding().await?;
        let outcome = mfa
            .confirm_magic_link(token, Some(binding.expose()), client, VerifyOptions::new())
            .await?;
        let Outcome::Verified {
            user,
            method,
            trusted_device_token,
            recovery_codes_left,
            ..
        } = outcome
        else {
            return Err(Problem::public(&outcome).unwrap_or(Problem::VerificationFailed));
        };
        self.sign_in(&user, Some(mfa.now())).await?;
        Ok(Verified {
            user,
            method,
            trusted_device_token,
            recovery_codes_left,
        })
    }

    /// Sends a code through `channel` for the pending step-up, starting one for the signed-in
    /// user if none is pending. Answers as [`send_code`](Self::send_code), and
    /// [`Problem::MethodNotEnabled`] when the user has no such channel.
    ///
    /// # Errors
    /// [`Problem::SignInRequired`] without a signed-in session; the facade's failures.
    pub async fn send_step_up_code(
        &self,
        mfa: &Mfa,
        channel: Channel,
        client: &ClientInfo,
    ) -> Result<SendOutcome, Problem> {
        let ticket = self.step_up_ticket_or_begin(mfa, client).await?;
        let sent = mfa.send_code(&ticket, channel, client).await?;
        match Problem::from_send(&sent, false) {
            Some(problem) => Err(problem),
            None => Ok(sent),
        }
    }

    /// Steps up with `proof` in one call: starts a step-up for the signed-in user if none is
    /// pending (for an authenticator or a recovery code, which need nothing sent first), then
    /// answers it as [`finish_step_up`](Self::finish_step_up).
    ///
    /// # Errors
    /// As [`begin_step_up`](Self::begin_step_up) and [`finish_step_up`](Self::finish_step_up).
    pub async fn step_up_with(
        &self,
        mfa: &Mfa,
        proof: Proof<'_>,
        client: &ClientInfo,
    ) -> Result<(), Problem> {
        self.step_up_ticket_or_begin(mfa, client).await?;
        self.finish_step_up(mfa, proof, client).await
    }

    async fn step_up_ticket_or_begin(
        &self,
        mfa: &Mfa,
        client: &ClientInfo,
    ) -> Result<mfa::ChallengeId, Problem> {
        let Some(AuthState::SignedIn { user, .. }) = self.state().await? else {
            return Err(Problem::SignInRequired);
        };
        if let Some(ticket) = self.step_up_ticket().await? {
            return Ok(ticket);
        }
        self.begin_step_up(mfa, &user, client).await?;
        self.step_up_ticket().await?.ok_or(Problem::Internal)
    }
}
