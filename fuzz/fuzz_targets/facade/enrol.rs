//! Enrolments, step-up grants and recovery codes, and the checks of their answers.

use super::*;

impl World {
    /// The authority an enrolment call is given, and whether it may authorise `user` at all.
    pub(crate) fn authority(&self, user: &str, auth: &Auth) -> (Option<StepUpGrant>, bool) {
        match auth {
            Auth::FirstFactor => (None, !self.has_factor(user)),
            Auth::Grant(pick) => {
                let text = self.grant_text(pick);
                let own = self.own_grant(user, &text);
                (Some(text.parse().ok()).flatten(), own)
            }
        }
    }

    pub(crate) fn enrol(&mut self, action: Action) {
        let rt = runtime();
        match action {
            Action::StartEmailEnrolment {
                user,
                auth,
                email,
                net,
            } => {
                let user = self.user(&user);
                let Some(address) = Self::email(&email) else {
                    return;
                };
                let (grant, may) = self.authority(&user, &auth);
                let Some(authority) = authority_of(&auth, grant.as_ref()) else {
                    return;
                };
                let result = rt.block_on(self.mfa.start_email_enrollment(
                    &user,
                    authority,
                    &address,
                    &client(&net),
                ));
                let code = self.new_mail_code();
                self.check_debug(&result);
                assert!(
                    may || result.is_err(),
                    "{user}: an enrolment started without authority: {result:?}"
                );
                if let Some(code) = code {
                    self.enrol_codes.insert((user, false), code);
                }
            }
            Action::StartSmsEnrolment {
                user,
                auth,
                phone,
                net,
            } => {
                let user = self.user(&user);
                let Ok(phone) = PhoneNumber::parse(&phone) else {
                    return;
                };
                let (grant, may) = self.authority(&user, &auth);
                let Some(authority) = authority_of(&auth, grant.as_ref()) else {
                    return;
                };
                let result = rt.block_on(self.mfa.start_sms_enrollment(
                    &user,
                    authority,
                    &phone,
                    &client(&net),
                ));
                let code = self.new_sms_code();
                self.check_debug(&result);
                assert!(
                    may || result.is_err(),
                    "{user}: an enrolment started without authority: {result:?}"
                );
                if let Some(code) = code {
                    self.enrol_codes.insert((user, true), code);
                }
            }
            Action::StartTotpEnrolment { user, auth, net } => {
                let user = self.user(&user);
                let (grant, may) = self.authority(&user, &auth);
                let Some(authority) = authority_of(&auth, grant.as_ref()) else {
                    return;
                };
                let result = rt.block_on(self.mfa.start_totp_enrollment(
                    &user,
                    authority,
                    "Phone",
                    TotpOptions::new(),
                    &client(&net),
                ));
                if let Ok(e) = &result {
                    self.secrets.push(e.secret_base32().to_owned());
                    self.pending_totp
                        .insert(user.clone(), e.secret_base32().to_owned());
                }
                self.check_debug(&result);
                assert!(
                    may || result.is_err(),
                    "{user}: an enrolment started without authority"
                );
            }
            Action::FinishEmailEnrolment {
                user,
                auth,
                email,
                code,
                net,
            } => {
                let user = self.user(&user);
                let Some(address) = Self::email(&email) else {
                    return;
                };
                let known = self.enrol_codes.get(&(user.clone(), false)).cloned();
                let to = address.as_str().to_owned();
                let what = Finish::Email(address);
                if self.finish(&user, &auth, code, known.as_slice(), what, &net) {
                    self.addresses.insert(to, user);
                }
            }
            Action::FinishSmsEnrolment {
                user,
                auth,
                phone,
                code,
                net,
            } => {
                let user = self.user(&user);
                let Ok(phone) = PhoneNumber::parse(&phone) else {
                    return;
                };
                let known = self.enrol_codes.get(&(user.clone(), true)).cloned();
                self.finish(
                    &user,
                    &auth,
                    code,
                    known.as_slice(),
                    Finish::Sms(phone),
                    &net,
                );
            }
            Action::FinishTotpEnrolment {
                user,
                auth,
                code,
                net,
            } => {
                let user = self.user(&user);
                let pending = self.pending_totp.get(&user).cloned();
                let known: Vec<String> =
                    pending.iter().flat_map(|s| self.window_codes(s)).collect();
                let confirmed = self.finish(&user, &auth, code, &known, Finish::Totp, &net);
                if let (true, Some(secret)) = (confirmed, pending) {
                    self.pending_totp.remove(&user);
                    self.last_step.insert(secret.clone(), self.now() / 30);
                    self.totp.entry(user.clone()).or_default().push(secret);
                }
            }
            _ => {}
        }
    }

    /// Finishes an enrolment with the right code (`known`'s first; for an authenticator, the
    /// code of now is among them) or a guess; returns whether it was confirmed.
    pub(crate) fn finish(
        &mut self,
        user: &str,
        auth: &Auth,
        code: Answer,
        known: &[String],
        what: Finish,
        net: &Net,
    ) -> bool {
        let (grant, may) = self.authority(user, auth);
        let Some(authority) = authority_of(auth, grant.as_ref()) else {
            return false;
        };
        let (text, rightful) = match code {
            Answer::Right => {
                let right = match what {
                    Finish::Totp => known.get(2),
                    _ => known.first(),
                };
                match right {
                    Some(c) => (c.clone(), true),
                    None => return false,
                }
            }
            Answer::Guess(g) => {
                let lucky = same_code(&g, known);
                (g, lucky)
            }
        };
        let from = client(net);
        let mfa = &self.mfa;
        let result = runtime().block_on(async {
            match &what {
                Finish::Email(a) => {
                    mfa.finish_email_enrollment(user, authority, a, &text, &from)
                        .await
                }
                Finish::Sms(p) => {
                    mfa.finish_sms_enrollment(user, authority, p, &text, &from)
                        .await
                }
                Finish::Totp => {
                    mfa.finish_totp_enrollment(user, authority, &text, &from)
                        .await
                }
            }
        });
        self.check_debug(&result);
        match result {
            Ok(outcome @ EnrollmentOutcome::Confirmed { .. }) => {
                assert!(may, "{user}: an enrolment confirmed without authority");
                assert!(rightful, "{user}: an enrolment confirmed without its code");
                self.confirmed(user, outcome);
                true
            }
            _ => false,
        }
    }

    pub(crate) fn step_up_valid(&mut self, user: Text, grant: Text) {
        let user = self.user(&user);
        let text = self.grant_text(&grant);
        let Ok(parsed) = text.parse::<StepUpGrant>() else {
            return;
        };
        let result = runtime().block_on(self.mfa.step_up_valid(&user, &parsed));
        self.check_debug(&result);
        if matches!(result, Ok(true)) {
            assert!(
                self.own_grant(&user, &text),
                "{user}: a grant not theirs is valid"
            );
        }
    }

    pub(crate) fn regenerate(&mut self, user: Text, grant: Text) {
        let user = self.user(&user);
        let text = self.grant_text(&grant);
        let Ok(parsed) = text.parse::<StepUpGrant>() else {
            return;
        };
        let result = runtime().block_on(self.mfa.regenerate_recovery_codes(&user, &parsed));
        self.check_debug(&result);
        if let Ok(codes) = result {
            assert!(
                self.own_grant(&user, &text),
                "{user}: recovery codes minted without a grant"
            );
            let codes: Vec<String> = codes.expose().iter().map(|c| c.to_string()).collect();
            self.secrets.extend(codes.iter().cloned());
            self.recovery.insert(user, codes);
        }
    }
}

fn authority_of<'a>(auth: &Auth, grant: Option<&'a StepUpGrant>) -> Option<Authority<'a>> {
    match auth {
        Auth::FirstFactor => Some(Authority::FirstFactor),
        Auth::Grant(_) => grant.map(Authority::StepUp),
    }
}
