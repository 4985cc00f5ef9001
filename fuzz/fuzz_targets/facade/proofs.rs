//! Guesses and right proofs (codes, recovery codes, links), and the checks of their answers.

use super::*;

impl World {
    pub(crate) fn options(trust: bool, step_up: bool) -> VerifyOptions {
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
    pub(crate) fn lucky(&self, index: Option<usize>, kind: &Kind, guess: &str) -> bool {
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

    pub(crate) fn verify(
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
        // A right proof that may not verify again: (TOTP secret, its step) or a recovery code.
        let mut once: Option<(String, Option<u64>)> = None;
        let mut own_link = false;
        // The proof's text, and whether it is the right proof for this ticket.
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
                    // Any link sent, this ticket's or another's: only its own may verify.
                    Kind::Link => {
                        let link = self.links.get(usize::from(pick) % self.links.len().max(1));
                        own_link = link.is_some_and(|l| l.ticket == i);
                        link.map(|l| l.token.clone())
                    }
                };
                let Some(text) = text else {
                    return;
                };
                (text, !matches!(kind, Kind::Link) || own_link)
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
        let granted = matches!(outcome, Outcome::Verified { .. } | Outcome::Unlocked { .. });
        if granted {
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
            assert!(!granted, "a handle never handed out verified");
            return;
        };
        self.answered(i, &kind, outcome, user.as_deref().unwrap_or_default());
    }

    /// Checks and records what ticket `i` answered to a proof of `kind`.
    pub(crate) fn answered(&mut self, i: usize, kind: &Kind, outcome: Outcome, user: &str) {
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
            Outcome::Unlocked { user: who } => {
                assert!(!t.verified, "a ticket verified twice");
                assert_eq!(who, &t.user, "unlocked another user");
                t.verified = true;
                // An unlock resets the consecutive count.
                self.failures.remove(who);
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

    pub(crate) fn confirm_link(&mut self, link: Text, binding: Option<String>, net: Net) {
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

    pub(crate) fn inspect_link(&mut self, link: Text) {
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

    /// Opens an unlock link and answers its ticket with a password: only a link that was
    /// mailed opens a ticket, and only a correct password (for the link's own user) unlocks.
    pub(crate) fn unlock(&mut self, token: Text, verdict: Verdict, net: Net) {
        let known = Self::known(&token, self.unlocks.len());
        let text = match (&token, known) {
            (_, Some(i)) => self.unlocks[i].1.clone(),
            (Text::Any(s), None) => s.clone(),
            (Text::Known(_), None) => return,
        };
        let Ok(parsed) = text.parse::<UnlockToken>() else {
            return;
        };
        let from = client(&net);
        let inspected = runtime().block_on(self.mfa.inspect_unlock_link(&parsed));
        self.check_debug(&inspected);
        if known.is_none() {
            assert!(
                !matches!(inspected, Ok(LinkInspection::Valid { .. })),
                "an unlock token never mailed is valid"
            );
        }
        let started = runtime().block_on(self.mfa.begin_unlock(&parsed, &from));
        self.check_debug(&started);
        let Ok(UnlockStart::ProofRequired { challenge_id, .. }) = started else {
            return;
        };
        let Some(i) = known else {
            panic!("an unlock ticket opened by a token never mailed");
        };
        let user = self.unlocks[i].0.clone();
        let handle = challenge_id.expose().to_string();
        self.secrets.push(handle.clone());
        self.tickets.push(Ticket {
            handle,
            user: user.clone(),
            real: true,
            sent: None,
            code: None,
            left: None,
            verified: false,
        });
        let answer = match verdict {
            Verdict::Correct => PasswordVerdict::Correct,
            Verdict::Wrong => PasswordVerdict::Wrong,
            Verdict::Unavailable => PasswordVerdict::Unavailable,
        };
        let asked = std::sync::Mutex::new(None);
        let result = runtime().block_on(self.mfa.unlock_with_password(
            &challenge_id,
            &from,
            |for_user| {
                *asked
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(for_user);
                async move { answer }
            },
        ));
        self.check_debug(&result);
        let asked = asked
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(asked) = asked {
            assert_eq!(asked, user, "the password checked for another user");
        }
        let Ok(outcome) = result else {
            return;
        };
        if let Outcome::Unlocked { .. } = outcome {
            assert!(
                matches!(verdict, Verdict::Correct),
                "unlocked without the password"
            );
        }
        // A password's answer, not a guess at a second factor: counted nowhere here.
        let index = self.tickets.len() - 1;
        self.answered(index, &Kind::Link, outcome, &user);
    }
}
