//! The state of one run: the facade, what it handed out, and what the harness knows.

use super::*;

/// A ticket a `ChallengeRequired` answer handed out.
pub(crate) struct Ticket {
    pub(crate) handle: String,
    pub(crate) user: String,
    /// A real ticket (a decoy answers every guess with the same tries left).
    pub(crate) real: bool,
    /// What the last delivered send put on it: a code on a channel, or a link (`None`).
    pub(crate) sent: Option<Option<Channel>>,
    /// The newest code delivered for it.
    pub(crate) code: Option<String>,
    pub(crate) left: Option<u32>,
    pub(crate) verified: bool,
}

/// Which enrolment a finish completes.
pub(crate) enum Finish {
    Email(EmailAddress),
    Sms(PhoneNumber),
    Totp,
}

/// A magic link the outbox received.
pub(crate) struct Link {
    pub(crate) token: String,
    pub(crate) ticket: usize,
    pub(crate) binding: Option<String>,
}

pub(crate) struct World {
    pub(crate) mfa: Mfa,
    pub(crate) clock: ManualClock,
    pub(crate) outbox: Arc<MemoryOutbox>,
    pub(crate) sms: Arc<MemorySms>,
    pub(crate) tickets: Vec<Ticket>,
    pub(crate) links: Vec<Link>,
    /// (user, token, live): a rotated token is no longer live.
    pub(crate) devices: Vec<(String, String, bool)>,
    pub(crate) grants: Vec<(String, String)>,
    pub(crate) totp: HashMap<String, Vec<String>>,
    pub(crate) pending_totp: HashMap<String, String>,
    pub(crate) recovery: HashMap<String, Vec<String>>,
    /// Recovery codes that verified once: never again.
    pub(crate) used_recovery: Vec<String>,
    /// The last TOTP step each secret verified or was confirmed with: only later ones verify.
    pub(crate) last_step: HashMap<String, u64>,
    pub(crate) enrol_codes: HashMap<(String, bool), String>,
    /// Evaluated wrong guesses since the user's last success.
    pub(crate) failures: HashMap<String, u32>,
    /// Every code, secret, token, grant and handle seen: none may appear in a `Debug`.
    pub(crate) secrets: Vec<String>,
    /// Unlock links mailed: (user, token).
    pub(crate) unlocks: Vec<(String, String)>,
    /// The user each confirmed email address belongs to.
    pub(crate) addresses: HashMap<String, String>,
}

impl World {
    pub(crate) fn new() -> Self {
        let clock = ManualClock::at_unix_secs(START);
        let outbox = Arc::new(MemoryOutbox::new());
        let sms = Arc::new(MemorySms::new());
        let mfa = Mfa::builder()
            .store(Arc::new(MemoryStore::new()))
            .mailer(outbox.clone())
            .sms(sms.clone())
            .keyring(Keyring::new(
                1,
                SealingKey::from_bytes(&[0x11; 32]).expect("a key"),
            ))
            .pepper(Pepper::from_bytes(&[0x5a; 32]).expect("a pepper"))
            .policy(policy())
            .clock(Arc::new(clock.clone()))
            .issuer("Acme")
            .unlock_url(UNLOCK_URL)
            .mail_settings(MailSettings::new(
                "Acme",
                EmailAddress::parse("no-reply@acme.test").expect("an address"),
                EmailAddress::parse("help@acme.test").expect("an address"),
            ))
            .build()
            .expect("a facade");
        let mut world = Self {
            mfa,
            clock,
            outbox,
            sms,
            tickets: Vec::new(),
            links: Vec::new(),
            devices: Vec::new(),
            grants: Vec::new(),
            totp: HashMap::new(),
            pending_totp: HashMap::new(),
            recovery: HashMap::new(),
            used_recovery: Vec::new(),
            last_step: HashMap::new(),
            enrol_codes: HashMap::new(),
            failures: HashMap::new(),
            secrets: Vec::new(),
            unlocks: Vec::new(),
            addresses: HashMap::from([(ALICE.to_owned(), ALICE.to_owned())]),
        };
        world.enrol_alice_and_bob();
        world
    }

    /// Alice signs in by email (her user id is her address), Bob by authenticator; Carol has
    /// no factor.
    pub(crate) fn enrol_alice_and_bob(&mut self) {
        let usual = client(&Net::Usual);
        let rt = runtime();
        self.enrol_email(ALICE);
        let e = rt
            .block_on(self.mfa.start_totp_enrollment(
                BOB,
                Authority::FirstFactor,
                "Phone",
                TotpOptions::new(),
                &usual,
            ))
            .expect("a pending authenticator");
        let secret = e.secret_base32().to_owned();
        self.secrets.push(secret.clone());
        let code = totp_code(&secret, START).expect("a code");
        let done = rt.block_on(self.mfa.finish_totp_enrollment(
            BOB,
            Authority::FirstFactor,
            &code,
            &usual,
        ));
        self.confirmed(BOB, done.expect("confirmed"));
        self.last_step.insert(secret.clone(), START / 30);
        self.totp.insert(BOB.to_owned(), vec![secret]);
        self.clock.advance(Duration::from_secs(30));
        self.check_debug(&"setup");
        self.prelude();
    }

    /// Right logins that leave what attacks need within reach of every input: a trusted-device
    /// token of Bob's, a step-up grant of Bob's, a used TOTP step and recovery code, and a
    /// ticket of Alice's with an emailed code, and an unlock link of Dave's.
    pub(crate) fn prelude(&mut self) {
        let trust = VerifyOptions::new().trust_device("Laptop");
        let step_up = VerifyOptions::new().grant_step_up();
        self.flow(
            Text::Known(1),
            Kind::Totp,
            0,
            Net::Usual,
            Start::Login,
            trust,
        );
        self.flow(
            Text::Known(1),
            Kind::Recovery,
            0,
            Net::Usual,
            Start::StepUp,
            step_up,
        );
        self.flow(
            Text::Known(0),
            Kind::Email,
            0,
            Net::Usual,
            Start::EmailLogin,
            VerifyOptions::new(),
        );
        assert_eq!(
            (
                self.devices.len(),
                self.grants.len(),
                self.used_recovery.len()
            ),
            (1, 1, 1),
            "the prelude's logins succeed"
        );
        self.clock.advance(Duration::from_secs(31)); // past the email cooldown
        self.begin_email_login(Text::Known(0), Net::Stranger(9));
        self.send_code(Text::Known(0), false, Net::Stranger(9));
        self.drain();
        assert!(
            self.tickets[3].code.is_some(),
            "the prelude's pending code was sent"
        );
        self.lock_dave();
    }

    /// Confirms `user`'s own address (the user id) as the first factor, with the mailed code.
    fn enrol_email(&mut self, user: &str) {
        let usual = client(&Net::Usual);
        let address = EmailAddress::parse(user).expect("an address");
        let rt = runtime();
        let sent = rt.block_on(self.mfa.start_email_enrollment(
            user,
            Authority::FirstFactor,
            &address,
            &usual,
        ));
        assert!(sent.is_ok(), "{sent:?}");
        let code = self.new_mail_code().expect("an enrolment code");
        let done = rt.block_on(self.mfa.finish_email_enrollment(
            user,
            Authority::FirstFactor,
            &address,
            &code,
            &usual,
        ));
        self.confirmed(user, done.expect("confirmed"));
        self.addresses.insert(user.to_owned(), user.to_owned());
    }

    /// Dave, whom strangers lock out with three wrong guesses at a mailed code: his lock
    /// notice holds an unlock link.
    fn lock_dave(&mut self) {
        self.enrol_email(DAVE);
        self.clock.advance(Duration::from_secs(31)); // past the cooldown of his enrolment mail
        let stranger = Net::Stranger(7);
        self.begin_email_login(Text::Known(2), stranger.clone());
        self.send_code(Text::Known(0), false, stranger.clone());
        let code = self.tickets.last().and_then(|t| t.code.clone());
        let code = code.expect("Dave's login code was sent");
        let wrong: String = code
            .chars()
            .map(|c| if c == '0' { '1' } else { '0' })
            .collect();
        for _ in 0..3 {
            let guess = Answer::Guess(wrong.clone());
            self.verify(
                Text::Known(0),
                Kind::Email,
                guess,
                0,
                stranger.clone(),
                VerifyOptions::new(),
            );
        }
        self.drain();
        assert_eq!(
            self.unlocks.len(),
            1,
            "Dave's lock notice carries an unlock link"
        );
    }

    pub(crate) fn now(&self) -> u64 {
        mfa::Clock::unix_secs(&self.clock)
    }

    pub(crate) fn user(&self, pick: &Text) -> String {
        match pick {
            Text::Known(n) => USERS[usize::from(*n) % USERS.len()].to_owned(),
            Text::Any(s) => s.clone(),
        }
    }

    pub(crate) fn email(pick: &Text) -> Option<EmailAddress> {
        match pick {
            Text::Known(n) => EmailAddress::parse(EMAILS[usize::from(*n) % EMAILS.len()]).ok(),
            Text::Any(s) => EmailAddress::parse(s).ok(),
        }
    }

    /// Index into `len` known things, newest first (`Known(0)` is the last one), or none.
    pub(crate) fn known(pick: &Text, len: usize) -> Option<usize> {
        match pick {
            Text::Known(n) if len > 0 => Some(len - 1 - usize::from(*n) % len),
            _ => None,
        }
    }

    pub(crate) fn ticket_handle(&self, pick: &Text) -> (Option<usize>, String) {
        match Self::known(pick, self.tickets.len()) {
            Some(i) => (Some(i), self.tickets[i].handle.clone()),
            None => match pick {
                Text::Any(s) => (None, s.clone()),
                Text::Known(_) => (None, String::new()),
            },
        }
    }

    pub(crate) fn device(&self, pick: &Option<Text>) -> Option<String> {
        pick.as_ref()
            .map(|p| match Self::known(p, self.devices.len()) {
                Some(i) => self.devices[i].1.clone(),
                None => match p {
                    Text::Any(s) => s.clone(),
                    Text::Known(_) => String::new(),
                },
            })
    }

    pub(crate) fn grant_text(&self, pick: &Text) -> String {
        match Self::known(pick, self.grants.len()) {
            Some(i) => self.grants[i].1.clone(),
            None => match pick {
                Text::Any(s) => s.clone(),
                Text::Known(_) => String::new(),
            },
        }
    }

    /// Whether `grant` is one this user was given (it may still have expired or been ended).
    pub(crate) fn own_grant(&self, user: &str, grant: &str) -> bool {
        self.grants.iter().any(|(u, g)| u == user && g == grant)
    }

    pub(crate) fn has_factor(&self, user: &str) -> bool {
        runtime()
            .block_on(self.mfa.enabled_methods(user))
            .is_ok_and(|m| m.iter().any(|m| *m != Method::RecoveryCode))
    }

    /// Takes the new mail and returns the newest code in it.
    pub(crate) fn new_mail_code(&mut self) -> Option<String> {
        let mut code = None;
        for m in self.outbox.take() {
            if let Some(c) = code_in(m.text(), 6) {
                self.secrets.push(c.clone());
                code = Some(c);
            }
            if let Some(t) = token_in(m.text()) {
                self.secrets.push(t);
            }
            // An unlock link (in a lock notice): kept with the user it was mailed to.
            let unlock = m
                .text()
                .find(UNLOCK_URL)
                .and_then(|at| token_in(&m.text()[at..]));
            if let Some(token) = unlock {
                let to = m.to().address.as_str().to_owned();
                let user = self.addresses.get(&to).cloned().unwrap_or(to);
                self.secrets.push(token.clone());
                self.unlocks.push((user, token));
            }
        }
        code
    }

    pub(crate) fn new_sms_code(&mut self) -> Option<String> {
        let mut code = None;
        for m in self.sms.take() {
            if let Some(c) = code_in(m.body(), 6) {
                self.secrets.push(c.clone());
                code = Some(c);
            }
        }
        code
    }

    /// Takes every message sent so far: its codes and tokens join the secrets, and the next
    /// action's messages are its own.
    pub(crate) fn drain(&mut self) {
        self.new_mail_code();
        self.new_sms_code();
    }

    pub(crate) fn confirmed(&mut self, user: &str, outcome: EnrollmentOutcome) {
        let EnrollmentOutcome::Confirmed { recovery_codes } = &outcome else {
            panic!("expected a confirmation for {user}, got {outcome:?}");
        };
        if let Some(codes) = recovery_codes {
            let codes: Vec<String> = codes.expose().iter().map(|c| c.to_string()).collect();
            self.secrets.extend(codes.iter().cloned());
            self.recovery.insert(user.to_owned(), codes);
        }
        self.failures.remove(user);
        self.check_debug(&outcome);
    }

    /// Panics if any secret seen so far shows in `value`'s `Debug`.
    pub(crate) fn check_debug(&self, value: &dyn std::fmt::Debug) {
        let debug = format!("{value:?}");
        if tracing() {
            eprintln!("  -> {debug}");
        }
        for secret in &self.secrets {
            assert!(!leaks(&debug, secret), "a secret in Debug: {debug}");
        }
    }

    /// The codes of `secret` for the steps around now (the widest skew a policy allows).
    pub(crate) fn window_codes(&self, secret: &str) -> Vec<String> {
        let now = self.now();
        (0..5u64)
            .filter_map(|k| totp_code(secret, (now + k * 30).saturating_sub(60)))
            .collect()
    }
}
