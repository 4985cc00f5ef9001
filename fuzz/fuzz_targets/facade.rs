//! Sequences of `mfa` facade calls with attacker-chosen inputs, on the memory store with an
//! in-memory outbox and a manual clock, checking the facade's guarantees after every call:
//!
//! - no panic, whatever the handles, codes, tokens, grants, user ids, addresses and clock moves;
//! - nothing verifies, confirms, trusts a device or authorises a change without the right
//!   proof: the attacker's actions never know a real code, token or grant (a `Verified` from
//!   one is a bug unless its guess equals a real code), and only the deliberately right actions
//!   read them from the outbox, the authenticator or an earlier answer;
//! - a ticket answers at most its tries (each `Rejected` reports fewer tries left than the one
//!   before), verifies at most once and never after its last try; a user's evaluated wrong
//!   guesses since the last success never exceed the policy's consecutive cap;
//! - no code, secret, token, grant or handle appears in the `Debug` of any answer or error.
#![no_main]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mfa::core::{Algorithm, Code, Digits, RecoveryCode, Secret, Totp, TotpParams};
use mfa::mail::{MemoryOutbox, MemorySms};
use mfa::policy::{Counter, FactorRules, FailureRule, Lockout};
use mfa::store::MemoryStore;
use mfa::{
    Authority, ChallengeId, Channel, ClientInfo, DeviceToken, EmailAddress, EnrollmentOutcome,
    Keyring, LoginStart, MagicLinkToken, MailSettings, ManualClock, Method, Mfa, Outcome,
    PasswordVerdict, Pepper, PhoneNumber, Policy, Proof, SealingKey, StepUpGrant, TotpOptions,
    VerifyOptions,
};

/// The policy's consecutive-failure cap, low enough that one input can reach it.
const CAP: u32 = 12;
/// Tries per ticket.
const TRIES: u32 = 3;
/// Actions per input (with clock moves of at most two days each, the run stays inside the
/// consecutive counter's one-year window).
const MAX_ACTIONS: usize = 64;
const START: u64 = 1_800_000_000;
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob";
const CAROL: &str = "carol";
const USERS: [&str; 3] = [ALICE, BOB, CAROL];
/// Alice's address (a known one) and an unknown one.
const EMAILS: [&str; 2] = [ALICE, "carol@example.com"];

#[derive(Arbitrary, Debug, Clone)]
enum Text {
    Known(u8),
    Any(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum Net {
    Usual,
    Stranger(u8),
    V4([u8; 4]),
    V6([u8; 16]),
}

#[derive(Arbitrary, Debug)]
enum Verdict {
    Correct,
    Wrong,
    Unavailable,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Kind {
    Totp,
    Email,
    Sms,
    Recovery,
    Link,
}

#[derive(Arbitrary, Debug)]
enum Start {
    Login,
    EmailLogin,
    StepUp,
}

#[derive(Arbitrary, Debug)]
enum Auth {
    FirstFactor,
    Grant(Text),
}

#[derive(Arbitrary, Debug)]
enum Answer {
    Right,
    Guess(String),
}

#[derive(Arbitrary, Debug)]
enum Action {
    BeginLogin {
        user: Text,
        device: Option<Text>,
        net: Net,
    },
    PasswordStep {
        user: Text,
        device: Option<Text>,
        net: Net,
        verdict: Verdict,
    },
    BeginEmailLogin {
        email: Text,
        net: Net,
    },
    BeginStepUp {
        user: Text,
        net: Net,
    },
    SendCode {
        ticket: Text,
        sms: bool,
        net: Net,
    },
    SendLink {
        ticket: Text,
        binding: Option<String>,
        net: Net,
    },
    /// The attacker's guess: never a real code.
    Guess {
        ticket: Text,
        kind: Kind,
        guess: String,
        net: Net,
        trust: bool,
        step_up: bool,
    },
    /// The right proof, read from the outbox, the authenticator or the recovery codes.
    Prove {
        ticket: Text,
        kind: Kind,
        pick: u8,
        net: Net,
        trust: bool,
        step_up: bool,
    },
    /// Many guesses at one ticket from one network.
    Hammer {
        ticket: Text,
        kind: Kind,
        guesses: Vec<String>,
        net: Net,
    },
    /// A whole right login or step-up in one action (start, send what `kind` needs, prove),
    /// so that states behind a success (grants, device tokens, used steps and codes) are
    /// within a few actions of any input.
    Flow {
        user: Text,
        kind: Kind,
        pick: u8,
        net: Net,
        start: Start,
        trust: bool,
        step_up: bool,
    },
    /// A link redeemed directly: a known link with any binding, or any token.
    ConfirmLink {
        link: Text,
        binding: Option<String>,
        net: Net,
    },
    InspectLink {
        link: Text,
    },
    StartEmailEnrolment {
        user: Text,
        auth: Auth,
        email: Text,
        net: Net,
    },
    FinishEmailEnrolment {
        user: Text,
        auth: Auth,
        email: Text,
        code: Answer,
        net: Net,
    },
    StartSmsEnrolment {
        user: Text,
        auth: Auth,
        phone: String,
        net: Net,
    },
    FinishSmsEnrolment {
        user: Text,
        auth: Auth,
        phone: String,
        code: Answer,
        net: Net,
    },
    StartTotpEnrolment {
        user: Text,
        auth: Auth,
        net: Net,
    },
    FinishTotpEnrolment {
        user: Text,
        auth: Auth,
        code: Answer,
        net: Net,
    },
    StepUpValid {
        user: Text,
        grant: Text,
    },
    Regenerate {
        user: Text,
        grant: Text,
    },
    Devices {
        user: Text,
    },
    Wait {
        secs: u16,
    },
    WaitHours {
        hours: u8,
    },
}

/// A ticket a `ChallengeRequired` answer handed out.
struct Ticket {
    handle: String,
    user: String,
    /// A real ticket (a decoy answers every guess with the same tries left).
    real: bool,
    /// What the last delivered send put on it: a code on a channel, or a link (`None`).
    sent: Option<Option<Channel>>,
    /// The newest code delivered for it.
    code: Option<String>,
    left: Option<u32>,
    verified: bool,
}

/// Which enrolment a finish completes.
enum Finish {
    Email(EmailAddress),
    Sms(PhoneNumber),
    Totp,
}

/// A magic link the outbox received.
struct Link {
    token: String,
    ticket: usize,
    binding: Option<String>,
}

struct World {
    mfa: Mfa,
    clock: ManualClock,
    outbox: Arc<MemoryOutbox>,
    sms: Arc<MemorySms>,
    tickets: Vec<Ticket>,
    links: Vec<Link>,
    /// (user, token, live): a rotated token is no longer live.
    devices: Vec<(String, String, bool)>,
    grants: Vec<(String, String)>,
    totp: HashMap<String, Vec<String>>,
    pending_totp: HashMap<String, String>,
    recovery: HashMap<String, Vec<String>>,
    /// Recovery codes that verified once: never again.
    used_recovery: Vec<String>,
    /// The last TOTP step each secret verified or was confirmed with: only later ones verify.
    last_step: HashMap<String, u64>,
    enrol_codes: HashMap<(String, bool), String>,
    /// Evaluated wrong guesses since the user's last success.
    failures: HashMap<String, u32>,
    /// Every code, secret, token, grant and handle seen: none may appear in a `Debug`.
    secrets: Vec<String>,
}

/// Whether to print each action and answer to stderr (`FACADE_TRACE=1`, to read a crash).
fn tracing() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("FACADE_TRACE").is_some())
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime")
    })
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("not zero")
}

fn policy() -> Policy {
    let hour = Duration::from_secs(3600);
    let lock = FailureRule::new(nz(3), hour, Lockout::Fixed(hour)).expect("a valid rule");
    let rules = FactorRules::new(nz(CAP))
        .expect("a valid cap")
        .with(Counter::AccountLock, Some(lock));
    Policy::authenticator_setup()
        .to_builder()
        .second_factor(rules)
        .challenge_attempts(nz(TRIES))
        .build()
        .expect("a valid policy")
}

fn client(net: &Net) -> ClientInfo {
    let ip = match net {
        Net::Usual => IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)),
        Net::Stranger(n) => IpAddr::V4(Ipv4Addr::new(203, 0, 113, *n)),
        Net::V4(b) => IpAddr::V4(Ipv4Addr::from(*b)),
        Net::V6(b) => IpAddr::V6(Ipv6Addr::from(*b)),
    };
    ClientInfo::new(ip)
}

/// The first standalone run of `digits` digits in `text`.
fn code_in(text: &str, digits: usize) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == digits)
        .map(str::to_owned)
}

/// The token after `token=` in `text`.
fn token_in(text: &str) -> Option<String> {
    let start = text.find("token=")? + "token=".len();
    let token: String = text
        .get(start..)?
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    Some(token)
}

fn totp_code(secret: &str, unix: u64) -> Option<String> {
    let secret = Secret::from_base32(secret).ok()?;
    let totp = Totp::new(
        &secret,
        TotpParams {
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
            ..TotpParams::default()
        },
    );
    Some(totp.generate_at(unix).ok()?.expose().to_string())
}

/// Whether `guess` reads as one of `codes` (the facade's own normalisation): a lucky guess,
/// which may verify.
fn same_code<'a>(guess: &str, codes: impl IntoIterator<Item = &'a String>) -> bool {
    let Ok(typed) = Code::parse(guess, Digits::SIX) else {
        return false;
    };
    let typed = typed.expose();
    codes.into_iter().any(|c| c.as_str() == typed.as_str())
}

fn same_recovery<'a>(guess: &str, codes: impl IntoIterator<Item = &'a String>) -> bool {
    let Ok(typed) = RecoveryCode::parse(guess) else {
        return false;
    };
    let typed = typed.expose();
    codes.into_iter().any(|c| {
        RecoveryCode::parse(c).is_ok_and(|known| known.expose().as_str() == typed.as_str())
    })
}

/// Whether a secret shows in `debug`: numeric codes as a whole run of digits (a timestamp may
/// contain any six digits), everything else as a substring.
fn leaks(debug: &str, secret: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    if secret.bytes().all(|b| b.is_ascii_digit()) {
        return debug
            .split(|c: char| !c.is_ascii_digit())
            .any(|run| run == secret);
    }
    debug.contains(secret)
}

impl World {
    fn new() -> Self {
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
            .unlock_url("https://app.test/unlock")
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
        };
        world.enrol_alice_and_bob();
        world
    }

    /// Alice signs in by email (her user id is her address), Bob by authenticator; Carol has
    /// no factor.
    fn enrol_alice_and_bob(&mut self) {
        let usual = client(&Net::Usual);
        let alice = EmailAddress::parse(ALICE).expect("an address");
        let rt = runtime();
        let sent = rt.block_on(self.mfa.start_email_enrollment(
            ALICE,
            Authority::FirstFactor,
            &alice,
            &usual,
        ));
        assert!(sent.is_ok(), "{sent:?}");
        let code = self.new_mail_code().expect("an enrolment code");
        let done = rt.block_on(self.mfa.finish_email_enrollment(
            ALICE,
            Authority::FirstFactor,
            &alice,
            &code,
            &usual,
        ));
        self.confirmed(ALICE, done.expect("confirmed"));
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
    /// ticket of Alice's with an emailed code.
    fn prelude(&mut self) {
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
    }

    fn now(&self) -> u64 {
        mfa::Clock::unix_secs(&self.clock)
    }

    fn user(&self, pick: &Text) -> String {
        match pick {
            Text::Known(n) => USERS[usize::from(*n) % USERS.len()].to_owned(),
            Text::Any(s) => s.clone(),
        }
    }

    fn email(pick: &Text) -> Option<EmailAddress> {
        match pick {
            Text::Known(n) => EmailAddress::parse(EMAILS[usize::from(*n) % EMAILS.len()]).ok(),
            Text::Any(s) => EmailAddress::parse(s).ok(),
        }
    }

    /// Index into `len` known things, newest first (`Known(0)` is the last one), or none.
    fn known(pick: &Text, len: usize) -> Option<usize> {
        match pick {
            Text::Known(n) if len > 0 => Some(len - 1 - usize::from(*n) % len),
            _ => None,
        }
    }

    fn ticket_handle(&self, pick: &Text) -> (Option<usize>, String) {
        match Self::known(pick, self.tickets.len()) {
            Some(i) => (Some(i), self.tickets[i].handle.clone()),
            None => match pick {
                Text::Any(s) => (None, s.clone()),
                Text::Known(_) => (None, String::new()),
            },
        }
    }

    /// Takes the new mail and returns the newest code in it.
    fn new_mail_code(&mut self) -> Option<String> {
        let mut code = None;
        for m in self.outbox.take() {
            if let Some(c) = code_in(m.text(), 6) {
                self.secrets.push(c.clone());
                code = Some(c);
            }
            if let Some(t) = token_in(m.text()) {
                self.secrets.push(t);
            }
        }
        code
    }

    fn new_sms_code(&mut self) -> Option<String> {
        let mut code = None;
        for m in self.sms.take() {
            if let Some(c) = code_in(m.body(), 6) {
                self.secrets.push(c.clone());
                code = Some(c);
            }
        }
        code
    }

    fn confirmed(&mut self, user: &str, outcome: EnrollmentOutcome) {
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

    fn has_factor(&self, user: &str) -> bool {
        runtime()
            .block_on(self.mfa.enabled_methods(user))
            .is_ok_and(|m| m.iter().any(|m| *m != Method::RecoveryCode))
    }

    /// Whether `grant` is one this user was given (it may still have expired or been ended).
    fn own_grant(&self, user: &str, grant: &str) -> bool {
        self.grants.iter().any(|(u, g)| u == user && g == grant)
    }

    fn grant_text(&self, pick: &Text) -> String {
        match Self::known(pick, self.grants.len()) {
            Some(i) => self.grants[i].1.clone(),
            None => match pick {
                Text::Any(s) => s.clone(),
                Text::Known(_) => String::new(),
            },
        }
    }

    /// Panics if any secret seen so far shows in `value`'s `Debug`.
    fn check_debug(&self, value: &dyn std::fmt::Debug) {
        let debug = format!("{value:?}");
        if tracing() {
            eprintln!("  -> {debug}");
        }
        for secret in &self.secrets {
            assert!(!leaks(&debug, secret), "a secret in Debug: {debug}");
        }
    }

    /// Records a `ChallengeRequired` for `user`.
    fn started(&mut self, user: &str, start: &LoginStart, real: bool) {
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
    fn check_start(
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

    fn device(&self, pick: &Option<Text>) -> Option<String> {
        pick.as_ref()
            .map(|p| match Self::known(p, self.devices.len()) {
                Some(i) => self.devices[i].1.clone(),
                None => match p {
                    Text::Any(s) => s.clone(),
                    Text::Known(_) => String::new(),
                },
            })
    }

    fn login(&mut self, user: Text, device: Option<Text>, net: Net, verdict: Option<Verdict>) {
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

    fn begin_email_login(&mut self, email: Text, net: Net) {
        let Some(address) = Self::email(&email) else {
            return;
        };
        let result = runtime().block_on(self.mfa.begin_email_login(&address, &client(&net)));
        self.check_debug(&result);
        if let Ok(start) = result {
            assert!(
                matches!(start, LoginStart::ChallengeRequired { .. }),
                "an email login answers a challenge, real or decoy: {start:?}"
            );
            // A decoy for an unknown or locked address: real once something is delivered.
            self.started(&address.normalized(), &start, false);
        }
    }

    fn begin_step_up(&mut self, user: Text, net: Net) {
        let user = self.user(&user);
        let had_factor = self.has_factor(&user);
        let result = runtime().block_on(self.mfa.begin_step_up(&user, &client(&net)));
        self.check_debug(&result);
        if let Ok(start) = result {
            self.check_start(&user, None, had_factor, &start);
            self.started(&user, &start, true);
        }
    }

    fn send_code(&mut self, ticket: Text, sms: bool, net: Net) {
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

    fn send_link(&mut self, ticket: Text, binding: Option<String>, net: Net) {
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

    fn options(trust: bool, step_up: bool) -> VerifyOptions {
        let mut options = VerifyOptions::new();
        if trust {
            options = options.trust_device("Fuzzer");
        }
        if step_up {
            options = options.grant_step_up();
        }
        options
    }

    /// Whether an attacker's guess of `kind` on ticket `i` reads as a real proof.
    fn lucky(&self, index: Option<usize>, kind: &Kind, guess: &str) -> bool {
        let user = index.map(|i| self.tickets[i].user.as_str());
        match kind {
            Kind::Totp => self
                .totp
                .iter()
                .filter(|(u, _)| Some(u.as_str()) == user)
                .any(|(_, secrets)| {
                    let codes: Vec<String> =
                        secrets.iter().flat_map(|s| self.window_codes(s)).collect();
                    same_code(guess, &codes)
                }),
            Kind::Email | Kind::Sms => index
                .and_then(|i| self.tickets[i].code.as_ref())
                .is_some_and(|c| same_code(guess, [c])),
            Kind::Recovery => user
                .and_then(|u| self.recovery.get(u))
                .is_some_and(|codes| same_recovery(guess, codes)),
            Kind::Link => false,
        }
    }

    fn verify(
        &mut self,
        ticket: Text,
        kind: Kind,
        answer: Answer,
        pick: u8,
        net: Net,
        opts: VerifyOptions,
    ) {
        let (index, handle) = self.ticket_handle(&ticket);
        let Ok(id) = handle.parse::<ChallengeId>() else {
            return;
        };
        let user = index.map(|i| self.tickets[i].user.clone());
        // The proof text, and whether the attacker could know it.
        // A right proof that may not verify again: (TOTP secret, its step) or a recovery code.
        let mut once: Option<(String, Option<u64>)> = None;
        let (text, rightful) = match &answer {
            Answer::Guess(g) => (g.clone(), self.lucky(index, &kind, g)),
            Answer::Right => {
                let Some(i) = index else {
                    return;
                };
                let t = &self.tickets[i];
                let text = match kind {
                    Kind::Totp => {
                        let secret = self
                            .totp
                            .get(&t.user)
                            .and_then(|s| s.get(usize::from(pick) % s.len().max(1)))
                            .cloned();
                        let code = secret.as_ref().and_then(|s| totp_code(s, self.now()));
                        once = secret.map(|s| (s, Some(self.now() / 30)));
                        code
                    }
                    Kind::Email | Kind::Sms => t.code.clone(),
                    Kind::Recovery => {
                        let code = self
                            .recovery
                            .get(&t.user)
                            .and_then(|c| c.get(usize::from(pick) % c.len().max(1)))
                            .cloned();
                        once = code.clone().map(|c| (c, None));
                        code
                    }
                    Kind::Link => {
                        let links: Vec<&Link> =
                            self.links.iter().filter(|l| l.ticket == i).collect();
                        links
                            .get(usize::from(pick) % links.len().max(1))
                            .map(|l| l.token.clone())
                    }
                };
                let Some(text) = text else {
                    return;
                };
                (text, true)
            }
        };
        let link = match kind {
            Kind::Link => match text.parse::<MagicLinkToken>() {
                Ok(l) => Some(l),
                Err(_) => return,
            },
            _ => None,
        };
        let proof = match (&kind, &link) {
            (Kind::Totp, _) => Proof::Totp(&text),
            (Kind::Email, _) => Proof::EmailCode(&text),
            (Kind::Sms, _) => Proof::SmsCode(&text),
            (Kind::Recovery, _) => Proof::RecoveryCode(&text),
            (Kind::Link, Some(l)) => Proof::MagicLink(l),
            (Kind::Link, None) => return,
        };
        let result = runtime().block_on(self.mfa.verify(&id, proof, &client(&net), opts));
        self.check_debug(&result);
        let Ok(outcome) = result else {
            return;
        };
        if outcome.is_verified() {
            assert!(
                rightful,
                "verified without the proof: {kind:?} answered {outcome:?}"
            );
            match once {
                Some((secret, Some(step))) => {
                    let last = self.last_step.insert(secret, step);
                    assert!(last.is_none_or(|l| step > l), "a TOTP step verified twice");
                }
                Some((code, None)) => {
                    assert!(
                        !self.used_recovery.contains(&code),
                        "a recovery code verified twice"
                    );
                    self.used_recovery.push(code);
                }
                None => {}
            }
        }
        let Some(i) = index else {
            assert!(!outcome.is_verified(), "a handle never handed out verified");
            return;
        };
        self.answered(i, &kind, outcome, user.as_deref().unwrap_or_default());
    }

    /// Checks and records what ticket `i` answered to a proof of `kind`.
    fn answered(&mut self, i: usize, kind: &Kind, outcome: Outcome, user: &str) {
        let t = &mut self.tickets[i];
        match &outcome {
            Outcome::Verified {
                user: who,
                trusted_device_token,
                step_up,
                ..
            } => {
                assert_eq!(who, &t.user, "verified as another user");
                assert!(!t.verified, "a ticket verified twice");
                // A link is a proof with tries of its own; a code needs one of the ticket's.
                if !matches!(kind, Kind::Link) {
                    assert_ne!(t.left, Some(0), "verified after the last try");
                }
                t.verified = true;
                if let Some(token) = trusted_device_token {
                    let token = token.expose().to_string();
                    self.secrets.push(token.clone());
                    self.devices.push((user.to_owned(), token, true));
                }
                if let Some(grant) = step_up {
                    let grant = grant.expose().to_string();
                    self.secrets.push(grant.clone());
                    self.grants.push((user.to_owned(), grant));
                }
                self.failures.remove(user);
            }
            // A link's answer counts the link's tries, not the ticket's.
            Outcome::Rejected { attempts_left } if t.real && !matches!(kind, Kind::Link) => {
                assert!(*attempts_left < TRIES, "more tries left than a ticket has");
                if let Some(before) = t.left {
                    assert!(
                        *attempts_left < before,
                        "a guess that spent no try: {before} then {attempts_left}"
                    );
                }
                t.left = Some(*attempts_left);
                let counted = match kind {
                    Kind::Totp | Kind::Recovery => true,
                    Kind::Email => t.sent == Some(Some(Channel::Email)),
                    Kind::Sms => t.sent == Some(Some(Channel::Sms)),
                    Kind::Link => false,
                };
                if counted {
                    let n = self.failures.entry(user.to_owned()).or_insert(0);
                    *n += 1;
                    assert!(
                        *n <= CAP,
                        "{user}: {n} wrong guesses evaluated since the last success, cap {CAP}"
                    );
                }
            }
            Outcome::ChallengeExhausted if t.real && !matches!(kind, Kind::Link) => {
                t.left = Some(0);
            }
            _ => {}
        }
    }

    fn flow(
        &mut self,
        user: Text,
        kind: Kind,
        pick: u8,
        net: Net,
        start: Start,
        opts: VerifyOptions,
    ) {
        let before = self.tickets.len();
        match start {
            Start::Login => self.login(user, None, net.clone(), None),
            Start::EmailLogin => self.begin_email_login(user, net.clone()),
            Start::StepUp => self.begin_step_up(user, net.clone()),
        }
        let after = self.tickets.len();
        if after == before {
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
        self.verify(ticket(), kind, Answer::Right, pick, net, opts);
    }

    fn confirm_link(&mut self, link: Text, binding: Option<String>, net: Net) {
        let known = Self::known(&link, self.links.len());
        let token = match (&link, known) {
            (_, Some(i)) => self.links[i].token.clone(),
            (Text::Any(s), None) => s.clone(),
            (Text::Known(_), None) => return,
        };
        let Ok(parsed) = token.parse::<MagicLinkToken>() else {
            return;
        };
        let result = runtime().block_on(self.mfa.confirm_magic_link(
            &parsed,
            binding.as_deref(),
            &client(&net),
            VerifyOptions::new(),
        ));
        self.check_debug(&result);
        let Ok(outcome) = result else {
            return;
        };
        if !outcome.is_verified() {
            return;
        }
        let Some(i) = known else {
            panic!("a link never sent verified: {outcome:?}");
        };
        let (ticket, bound) = (self.links[i].ticket, self.links[i].binding.clone());
        if bound.is_some() {
            assert_eq!(bound, binding, "a bound link redeemed without its binding");
        }
        let user = self.tickets[ticket].user.clone();
        self.answered(ticket, &Kind::Link, outcome, &user);
    }

    fn inspect_link(&mut self, link: Text) {
        let token = match Self::known(&link, self.links.len()) {
            Some(i) => self.links[i].token.clone(),
            None => match link {
                Text::Any(s) => s,
                Text::Known(_) => return,
            },
        };
        if let Ok(parsed) = token.parse::<MagicLinkToken>() {
            let result = runtime().block_on(self.mfa.inspect_magic_link(&parsed));
            self.check_debug(&result);
        }
    }

    /// The authority an enrolment call is given, and whether it may authorise `user` at all.
    fn authority(&self, user: &str, auth: &Auth) -> (Option<StepUpGrant>, bool) {
        match auth {
            Auth::FirstFactor => (None, !self.has_factor(user)),
            Auth::Grant(pick) => {
                let text = self.grant_text(pick);
                let own = self.own_grant(user, &text);
                (Some(text.parse().ok()).flatten(), own)
            }
        }
    }

    fn enrol(&mut self, action: Action) {
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
                self.finish(
                    &user,
                    &auth,
                    code,
                    known.as_slice(),
                    Finish::Email(address),
                    &net,
                );
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

    /// The codes of `secret` for the steps around now (the widest skew a policy allows).
    fn window_codes(&self, secret: &str) -> Vec<String> {
        let now = self.now();
        (0..5u64)
            .filter_map(|k| totp_code(secret, (now + k * 30).saturating_sub(60)))
            .collect()
    }

    /// Finishes an enrolment with the right code (`known`'s first; for an authenticator, the
    /// code of now is among them) or a guess; returns whether it was confirmed.
    fn finish(
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

    fn step_up_valid(&mut self, user: Text, grant: Text) {
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

    fn regenerate(&mut self, user: Text, grant: Text) {
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

    /// Takes every message sent so far: its codes and tokens join the secrets, and the next
    /// action's messages are its own.
    fn drain(&mut self) {
        self.new_mail_code();
        self.new_sms_code();
    }

    fn run(&mut self, action: Action) {
        self.drain();
        if tracing() {
            eprintln!("{action:?}");
        }
        self.act(action);
        self.drain();
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::BeginLogin { user, device, net } => self.login(user, device, net, None),
            Action::PasswordStep {
                user,
                device,
                net,
                verdict,
            } => {
                self.login(user, device, net, Some(verdict));
            }
            Action::BeginEmailLogin { email, net } => self.begin_email_login(email, net),
            Action::BeginStepUp { user, net } => self.begin_step_up(user, net),
            Action::SendCode { ticket, sms, net } => self.send_code(ticket, sms, net),
            Action::SendLink {
                ticket,
                binding,
                net,
            } => self.send_link(ticket, binding, net),
            Action::Guess {
                ticket,
                kind,
                guess,
                net,
                trust,
                step_up,
            } => {
                self.verify(
                    ticket,
                    kind,
                    Answer::Guess(guess),
                    0,
                    net,
                    Self::options(trust, step_up),
                );
            }
            Action::Prove {
                ticket,
                kind,
                pick,
                net,
                trust,
                step_up,
            } => {
                self.verify(
                    ticket,
                    kind,
                    Answer::Right,
                    pick,
                    net,
                    Self::options(trust, step_up),
                );
            }
            Action::Hammer {
                ticket,
                kind,
                guesses,
                net,
            } => {
                for guess in guesses.into_iter().take(3 * TRIES as usize) {
                    let options = VerifyOptions::new();
                    let answer = Answer::Guess(guess);
                    self.verify(ticket.clone(), kind, answer, 0, net.clone(), options);
                }
            }
            Action::Flow {
                user,
                kind,
                pick,
                net,
                start,
                trust,
                step_up,
            } => {
                self.flow(user, kind, pick, net, start, Self::options(trust, step_up));
            }
            Action::ConfirmLink { link, binding, net } => self.confirm_link(link, binding, net),
            Action::InspectLink { link } => self.inspect_link(link),
            Action::StepUpValid { user, grant } => self.step_up_valid(user, grant),
            Action::Regenerate { user, grant } => self.regenerate(user, grant),
            Action::Devices { user } => {
                let user = self.user(&user);
                let result = runtime().block_on(self.mfa.trusted_devices(&user));
                self.check_debug(&result);
            }
            Action::Wait { secs } => self.clock.advance(Duration::from_secs(u64::from(secs))),
            Action::WaitHours { hours } => {
                self.clock
                    .advance(Duration::from_secs(u64::from(hours % 48) * 3600));
            }
            enrolment => self.enrol(enrolment),
        }
    }
}

fn authority_of<'a>(auth: &Auth, grant: Option<&'a StepUpGrant>) -> Option<Authority<'a>> {
    match auth {
        Auth::FirstFactor => Some(Authority::FirstFactor),
        Auth::Grant(_) => grant.map(Authority::StepUp),
    }
}

fuzz_target!(|actions: Vec<Action>| {
    let mut world = World::new();
    for action in actions.into_iter().take(MAX_ACTIONS) {
        world.run(action);
    }
});
