//! The password step: the one call that counts a password attempt in its context, checks it
//! with the application's function only when the budgets allow, and continues to the second
//! factor.

use std::future::Future;

use mfa_policy::Factor;
use mfa_store::ClientInfo;

use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::DeviceToken;
use crate::limits::{Admission, AfterFailure};
use crate::outcome::{LoginStart, PasswordVerdict};

impl Mfa {
    /// Runs the password step of a login for `user` and, when the password is right, what
    /// follows it ([`begin_login`](Self::begin_login)).
    ///
    /// The attempt is counted in its context *before* `check` runs: a trusted-device token of
    /// the user (`device`, from its cookie) or a network the user logged in from recently
    /// makes it *recognised*, with a budget of its own that strangers' wrong passwords never
    /// spend. When the budgets refuse, `check` is not called and the answer is
    /// [`LoginStart::LockedOut`]. `check` verifies the password (for example an Argon2id hash
    /// with [`mfa_core::PasswordHasher`]); call it for unknown users too, with a dummy hash,
    /// so that timing does not tell them apart.
    ///
    /// Returns [`LoginStart::PasswordRejected`] for a wrong password (or
    /// [`LoginStart::LockedOut`] on the attempt that locked), else the answer of the second
    /// step: [`NotRequired`](LoginStart::NotRequired),
    /// [`EnrollmentRequired`](LoginStart::EnrollmentRequired),
    /// [`TrustedDevice`](LoginStart::TrustedDevice),
    /// [`ChallengeRequired`](LoginStart::ChallengeRequired) or
    /// [`LockedOut`](LoginStart::LockedOut).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mfa::{ClientInfo, Keyring, LoginStart, Mfa, PasswordVerdict, Pepper, SealingKey};
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let mfa = Mfa::builder().store(Arc::new(mfa::store::MemoryStore::new()))
    /// #     .keyring(Keyring::new(1, SealingKey::generate()?)).pepper(Pepper::generate()?)
    /// #     .issuer("Acme").build()?;
    /// let client = ClientInfo::new("203.0.113.7".parse()?);
    /// let typed = "correct horse"; // from the login form
    /// let start = mfa
    ///     .password_step("alice", None, &client, || async {
    ///         // Look the user up and verify the hash here.
    ///         if typed == "correct horse" { PasswordVerdict::Correct } else { PasswordVerdict::Wrong }
    ///     })
    ///     .await?;
    /// assert!(matches!(start, LoginStart::NotRequired)); // alice has no second factor yet
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store failures; [`Error::PasswordCheck`] when `check` answers
    /// [`PasswordVerdict::Unavailable`] (the attempt is given back: nothing was evaluated).
    /// Open no session on any error.
    pub async fn password_step<F, Fut>(
        &self,
        user: &str,
        device: Option<&DeviceToken>,
        client: &ClientInfo,
        check: F,
    ) -> Result<LoginStart>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = PasswordVerdict> + Send,
    {
        let now = self.now();
        let device = match device {
            Some(token) => self.trusted_device(user, token, now).await?,
            None => None,
        };
        let start = self.start_view(user, client, device.as_ref(), now).await?;
        let admitted = match self
            .admit(Factor::Password, user, &start.attempt, now)
            .await?
        {
            Admission::Refused(until) => {
                self.emit(user, Some(client), EventKind::PasswordDenied)
                    .await;
                return Ok(LoginStart::LockedOut { until });
            }
            Admission::Admitted(admitted) => admitted,
        };
        match check().await {
            PasswordVerdict::Wrong => {
                let failed = self.event(user, Some(client), EventKind::PasswordFailed, now);
                Ok(
                    match self
                        .attempt_failed(admitted, user, client, vec![failed], now)
                        .await?
                    {
                        AfterFailure::Continue => LoginStart::PasswordRejected,
                        AfterFailure::Blocked(until) => LoginStart::LockedOut { until },
                    },
                )
            }
            PasswordVerdict::Unavailable => {
                self.attempt_given_back(&admitted, user, now).await?;
                Err(Error::PasswordCheck)
            }
            PasswordVerdict::Correct => {
                self.attempt_succeeded(&admitted, user, Vec::new(), now)
                    .await?;
                self.second_step(user, start, device, client, now).await
            }
        }
    }
}
