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
    Keyring, LinkInspection, LoginStart, MagicLinkToken, MailSettings, ManualClock, Method, Mfa,
    Outcome, PasswordVerdict, Pepper, PhoneNumber, Policy, Proof, SealingKey, StepUpGrant,
    TotpOptions, UnlockStart, UnlockToken, VerifyOptions,
};

// Each module takes the names imported here with `use super::*`.
#[path = "facade/enrol.rs"]
mod enrol;
#[path = "facade/login.rs"]
mod login;
#[path = "facade/oracle.rs"]
mod oracle;
#[path = "facade/proofs.rs"]
mod proofs;
#[path = "facade/world.rs"]
mod world;

use crate::oracle::*;
use crate::world::*;

/// The policy's consecutive-failure cap, low enough that one input can reach it.
const CAP: u32 = 12;
/// Tries per ticket.
const TRIES: u32 = 3;
/// Actions per input (with clock moves of at most two days each, the run stays inside the
/// consecutive counter's one-year window).
const MAX_ACTIONS: usize = 64;
const START: u64 = 1_800_000_000;
const UNLOCK_URL: &str = "https://app.test/unlock";
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob";
const CAROL: &str = "carol";
const DAVE: &str = "dave@example.com";
const USERS: [&str; 4] = [ALICE, BOB, CAROL, DAVE];
/// Known addresses (Alice's, Dave's) and an unknown one.
const EMAILS: [&str; 3] = [ALICE, "carol@example.com", DAVE];

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

#[derive(Arbitrary, Debug, Clone, Copy)]
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
    /// The right proof, read from the outbox, the authenticator or the recovery codes (for a
    /// link: any link sent, which may verify only the ticket it was sent for).
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
        /// A login to start first (the guesses then go to its ticket, the newest).
        start: Option<(Text, Start)>,
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
    /// An unlock link (one mailed in a lock notice, or any token) opened and answered with a
    /// password the application judges `verdict`.
    Unlock {
        token: Text,
        verdict: Verdict,
        net: Net,
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

impl World {
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
                start,
                ticket,
                kind,
                guesses,
                net,
            } => {
                let ticket = match start {
                    Some((user, start)) => {
                        self.start(user, start, net.clone());
                        Text::Known(0)
                    }
                    None => ticket,
                };
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
            Action::Unlock {
                token,
                verdict,
                net,
            } => self.unlock(token, verdict, net),
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

fuzz_target!(|actions: Vec<Action>| {
    let mut world = World::new();
    for action in actions.into_iter().take(MAX_ACTIONS) {
        world.run(action);
    }
});
