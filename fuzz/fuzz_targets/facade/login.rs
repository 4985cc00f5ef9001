//! Login starts, sends and whole right logins, and the checks of their answers.

use super::*;

impl World {
    /// Records a `ChallengeRequired` for `user`.
    pub(crate) fn started(&mut self, user: &str, start: &LoginStart, real: bool) {
        match start {
            LoginStart::ChallengeRequired { challenge_id, .. } => {
                let handle = challenge_id.expose().to_string();
                self.secrets.push(handle.clone());
                self.tickets.push(Ticket {
                    handle,
                    user: user.to_owned(),
                    real,
                    sent: None,
                    code: None,
                    left: None,
                    verified: false,
                });
            }
            LoginStart::TrustedDevice { rotated_token } => {
                let token = rotated_token.expose().to_string();
                self.secrets.push(token.clone());
                self.devices.push((user.to_owned(), token, true));
            }
            _ => {}
        }
    }

    /// Checks a login start's answer: no `NotRequired` for a user with a factor, no trusted
    /// device without a live token of this user (which it then rotates).
    pub(crate) fn check_start(
        &mut self,
        user: &str,
        device: Option<&str>,
        had_factor: bool,
        start: &LoginStart,
    ) {
        if had_factor {
            assert!(
                !matches!(start, LoginStart::NotRequired),
                "{user}: NotRequired with a factor"
            );
        }
        if matches!(start, LoginStart::TrustedDevice { .. }) {
            let live = self
                .devices
                .iter_mut()
                .find(|(u, t, live)| *live && u == user && Some(t.as_str()) == device);
            let Some(entry) = live else {
                panic!("{user}: a trusted device without a live token of theirs");
            };
            entry.2 = false;
        }
    }

    pub(crate) fn login(
        &mut self,
        user: Text,
        device: Option<Text>,
        net: Net,
        verdict: Option<Verdict>,
    ) {
        let user = self.user(&user);
        let device_text = self.device(&device);
        let token = device_text
            .as_deref()
            .and_then(|t| t.parse::<DeviceToken>().ok());
        let had_factor = self.has_factor(&user);
        let from = client(&net);
        let rt = runtime();
        let result = match &verdict {
            None => rt.block_on(self.mfa.begin_login(&user, token.as_ref(), &from)),
            Some(v) => {
                let verdict = match v {
                    Verdict::Correct => PasswordVerdict::Correct,
                    Verdict::Wrong => PasswordVerdict::Wrong,
                    Verdict::Unavailable => PasswordVerdict::Unavailable,
                };
                rt.block_on(
                    self.mfa
                        .password_step(&user, token.as_ref(), &from, || async move { verdict }),
                )
            }
        };
        self.check_debug(&result);
        let Ok(start) = result else {
            return;
        };
        match verdict {
            Some(Verdict::Wrong) => assert!(
                matches!(
                    start,
                    LoginStart::PasswordRejected | LoginStart::LockedOut { .. }
                ),
                "a wrong password answered {start:?}"
            ),
            Some(Verdict::Unavailable) => assert!(
                matches!(start, LoginStart::LockedOut { .. }),
                "an unavailable check answered {start:?}"
            ),
            _ => {}
        }
        let used = token.is_some().then_some(device_text.as_deref()).flatten();
        self.check_start(&user, used, had_factor, &start);
        self.started(&user, &start, true);
    }

    pub(crate) fn begin_email_login(&mut self, email: Text, net: Net) {
        let Some(address) = Self::email(&email) else {
            return;
        };
        let result = runtime().block_on(self.mfa.begin_email_login(&address, &client(&net)));
        self.check_debug(&result);
        if let Ok(start) = result {
            // Every address gets a real ticket, known or not (an unknown one's message is
            // withheld); a locked address, or a network over its login budget, is refused.
            assert!(
                matches!(
                    start,
                    LoginStart::ChallengeRequired { .. } | LoginStart::LockedOut { .. }
                ),
                "an email login answers a ticket or a lock: {start:?}"
            );
            self.started(&address.normalized(), &start, true);
        }
    }

    pub(crate) fn begin_step_up(&mut self, user: Text, net: Net) {
        let user = self.user(&user);
        let had_factor = self.has_factor(&user);
        let result = runtime().block_on(self.mfa.begin_step_up(&user, &client(&net)));
        self.check_debug(&result);
        if let Ok(start) = result {
            self.check_start(&user, None, had_factor, &start);
            self.started(&user, &start, true);
        }
    }

    pub(crate) fn send_code(&mut self, ticket: Text, sms: bool, net: Net) {
        let (index, handle) = self.ticket_handle(&ticket);
        let Ok(id) = handle.parse::<ChallengeId>() else {
            return;
        };
        let channel = if sms { Channel::Sms } else { Channel::Email };
        let result = runtime().block_on(self.mfa.send_code(&id, channel, &client(&net)));
        let code = if sms {
            self.new_sms_code()
        } else {
            self.new_mail_code()
        };
        self.check_debug(&result);
        match (index, code) {
            (Some(i), Some(code)) => {
                let t = &mut self.tickets[i];
                t.real = true;
                t.sent = Some(Some(channel));
                t.code = Some(code);
            }
            (None, Some(_)) => panic!("a code delivered for a handle never handed out"),
            _ => {}
        }
    }

    pub(crate) fn send_link(&mut self, ticket: Text, binding: Option<String>, net: Net) {
        let (index, handle) = self.ticket_handle(&ticket);
        let Ok(id) = handle.parse::<ChallengeId>() else {
            return;
        };
        let result = runtime().block_on(self.mfa.send_magic_link(
            &id,
            "https://app.test/link",
            binding.as_deref(),
            &client(&net),
        ));
        let mut token = None;
        for m in self.outbox.take() {
            if let Some(t) = token_in(m.text()) {
                self.secrets.push(t.clone());
                token = Some(t);
            }
            if let Some(c) = code_in(m.text(), 6) {
                self.secrets.push(c);
            }
        }
        self.check_debug(&result);
        match (index, token) {
            (Some(i), Some(token)) => {
                self.tickets[i].real = true;
                self.tickets[i].sent = Some(None);
                self.links.push(Link {
                    token,
                    ticket: i,
                    binding,
                });
            }
            (None, Some(_)) => panic!("a link delivered for a handle never handed out"),
            _ => {}
        }
    }

    /// Starts a login, email login or step-up; returns whether it handed out a ticket.
    pub(crate) fn start(&mut self, user: Text, start: Start, net: Net) -> bool {
        let before = self.tickets.len();
        match start {
            Start::Login => self.login(user, None, net, None),
            Start::EmailLogin => self.begin_email_login(user, net),
            Start::StepUp => self.begin_step_up(user, net),
        }
        self.tickets.len() > before
    }

    pub(crate) fn flow(
        &mut self,
        user: Text,
        kind: Kind,
        pick: u8,
        net: Net,
        start: Start,
        opts: VerifyOptions,
    ) {
        if !self.start(user, start, net.clone()) {
            return;
        }
        let ticket = || Text::Known(0);
        match kind {
            Kind::Email => self.send_code(ticket(), false, net.clone()),
            Kind::Sms => self.send_code(ticket(), true, net.clone()),
            Kind::Link => self.send_link(ticket(), None, net.clone()),
            Kind::Totp | Kind::Recovery => {}
        }
        self.drain();
        // The link just sent is the newest (while `pick` can still name it).
        let pick = match kind {
            Kind::Link => u8::try_from(self.links.len().saturating_sub(1)).unwrap_or(pick),
            _ => pick,
        };
        self.verify(ticket(), kind, Answer::Right, pick, net, opts);
    }
}
