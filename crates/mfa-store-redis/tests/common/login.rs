//! A full TOTP login through the coarse operations, with the budgets the facade gives one: the
//! records it needs, and each step, so a test can count what each step sends.

use std::time::{Duration, SystemTime};

use mfa_core::{Algorithm, ChallengeKind, Digits, Keyring, Period, SealingKey, Secret};
use mfa_store::{
    AttemptPlan, AuditEvent, AuditKind, AuditOutcome, Challenge, ClientInfo, CounterKey,
    CounterScope, FactorKind, MfaSettings, NewTotpFactor, RecoveryCodeRecord, Settlement, Store,
    Take,
};

use super::unique;

/// One user's login from one network.
pub struct Login {
    pub user: String,
    pub network: String,
    pub at: SystemTime,
    pub ticket: Challenge,
}

const WINDOW: Duration = Duration::from_secs(900);

impl Login {
    /// A user with a confirmed TOTP factor (last step 10), settings and three recovery codes.
    pub async fn enrolled(store: &dyn Store, at: SystemTime) -> Self {
        let (user, network) = (unique("login"), format!("{}/24", unique("198.51.100.0")));
        let mut settings = MfaSettings::new(user.clone());
        settings.enabled.insert(FactorKind::Totp);
        store.put_settings(settings).await.unwrap();
        let keyring = Keyring::new(1, SealingKey::generate().unwrap());
        let sealed_secret = keyring
            .seal(&Secret::generate().unwrap(), &user, "f1")
            .unwrap();
        store
            .insert_pending_totp(NewTotpFactor {
                user: user.clone(),
                id: "f1".into(),
                sealed_secret,
                algorithm: Algorithm::Sha1,
                digits: Digits::SIX,
                period: Period::THIRTY_SECONDS,
                label: "Phone".into(),
                created_at: at,
            })
            .await
            .unwrap();
        assert!(store.confirm_totp(&user, "f1", 10, at).await.unwrap());
        let codes = (1..=3u8)
            .map(|n| RecoveryCodeRecord {
                locator: mfa_core::CodeDigest::from_bytes([n; 32]),
                verifier: mfa_core::RecoveryVerifier::Peppered(mfa_core::CodeDigest::from_bytes(
                    [n + 10; 32],
                )),
            })
            .collect();
        store
            .replace_recovery_codes(&user, codes, at)
            .await
            .unwrap();
        let ticket = Challenge {
            id: unique("ticket"),
            user: user.clone(),
            purpose: "login".into(),
            kind: ChallengeKind::LoginTicket,
            code_digest: None,
            link_digest: None,
            binding_digest: None,
            created_at: at,
            expires_at: at + Duration::from_secs(600),
            attempts_left: 5,
            consumed: false,
            plan: None,
        };
        let mut login = Self {
            user,
            network,
            at,
            ticket,
        };
        login.ticket.plan = Some(login.plan());
        login
    }

    fn key(&self, name: &str, scope: CounterScope) -> CounterKey {
        CounterKey::new(format!("totp.{name}"), scope)
    }

    fn account(&self, name: &str) -> CounterKey {
        self.key(name, CounterScope::Account(self.user.clone()))
    }

    /// The network's counter (under the client's own tag: another slot on a Cluster).
    pub fn client(&self) -> CounterKey {
        self.key("client", CounterScope::Client(self.network.clone()))
    }

    fn pair(&self, name: &str, client: String) -> CounterKey {
        self.key(
            name,
            CounterScope::AccountClient {
                account: self.user.clone(),
                client,
            },
        )
    }

    /// The counters a login start reads, in the facade's order.
    pub fn limit_keys(&self) -> Vec<CounterKey> {
        vec![
            self.client(),
            self.pair("account-client", self.network.clone()),
            self.account("account"),
            self.account("consecutive"),
            self.account("unlock"),
        ]
    }

    /// The facade's plan: the recognised context's budgets from the ticket's network, the
    /// network's, the account's and the consecutive count from anywhere else.
    pub fn plan(&self) -> AttemptPlan {
        let take = |key: CounterKey, limit| Take::new(key, WINDOW, limit);
        AttemptPlan {
            tag: Some(self.network.clone()),
            recognised: vec![
                take(self.pair("recognised", format!("net:{}", self.network)), 10),
                take(self.account("consecutive"), 100),
            ],
            unrecognised: vec![
                take(self.client(), 50),
                take(self.pair("account-client", self.network.clone()), 5),
                take(self.account("account"), 10),
                take(self.account("consecutive"), 100),
            ],
        }
    }

    /// The budget of logins the account may start from unrecognised contexts (the facade's
    /// ticket budget: an account counter).
    pub fn budget(&self) -> Take {
        Take::new(self.account("tickets"), WINDOW, 20)
    }

    pub fn event(&self, kind: &'static str) -> AuditEvent {
        AuditEvent {
            at: self.at,
            user: self.user.clone(),
            kind: AuditKind::from_static(kind),
            outcome: AuditOutcome::Success,
            client: ClientInfo::default(),
            actor: None,
        }
    }

    /// Opens the ticket (a test's set-up step).
    pub async fn open_ticket_quietly(&self, store: &dyn Store) {
        let take = store
            .open_ticket(
                self.ticket.clone(),
                &self.budget(),
                self.event("login.ticket"),
                self.at,
            )
            .await
            .unwrap();
        assert!(take.is_taken());
    }

    /// The success's settlement: step 11, the ticket consumed, the account's counters reset.
    pub fn success(&self) -> Settlement {
        Settlement {
            user: self.user.clone(),
            advance: Some(("f1".into(), 11)),
            consume: vec![self.ticket.id.clone()],
            resets: vec![
                self.pair("account-client", self.network.clone()),
                self.account("account"),
                self.account("consecutive"),
            ],
            audit: vec![self.event("login.totp")],
            ..Settlement::default()
        }
    }
}
