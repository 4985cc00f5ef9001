//! Shared test harness: a facade on any store, a manual clock, mail through the real loopback
//! SMTP server or in memory, and helpers to read codes back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    dead_code,
    unreachable_pub
)]

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use mail_parser::MessageParser;
use mfa::Clock as _;
use mfa::core::{Algorithm, Digits, Secret, Totp, TotpParams};
use mfa::mail::testkit::SmtpTestServer;
use mfa::mail::{MemoryOutbox, MemorySms};
use mfa::store::{MemoryStore, MfaSettings};
use mfa::{
    Authority, ChallengeId, ClientInfo, EmailAddress, Keyring, LoginStart, MailSettings,
    ManualClock, Method, Mfa, Pepper, PhoneNumber, Policy, SealingKey, StepUpGrant, Store,
};
use mfa_store_sql::{MySqlStore, PgStore, SqliteStore};

/// A store for one test, and what removes its data afterwards.
pub struct TestStore {
    pub store: Arc<dyn Store>,
    pub cleanup: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl TestStore {
    fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cleanup: Box::pin(async {}),
        }
    }
}

/// A store factory's result (`None`: the service is missing and the test skips).
pub type StoreFuture = Pin<Box<dyn Future<Output = Option<TestStore>> + Send>>;

/// The in-memory store.
pub fn memory() -> StoreFuture {
    Box::pin(async { Some(TestStore::new(Arc::new(MemoryStore::new()))) })
}

/// SQLite in a file of its own (WAL mode), removed afterwards.
pub fn sqlite() -> StoreFuture {
    Box::pin(async {
        let (store, cleanup) = SqliteStore::throwaway().await.into_parts();
        Some(TestStore {
            store: Arc::new(store),
            cleanup: Box::pin(cleanup),
        })
    })
}

/// PostgreSQL (`MFA_POSTGRES_URL`), in a schema of its own, dropped afterwards.
pub fn postgres() -> StoreFuture {
    Box::pin(async {
        let (store, cleanup) = PgStore::throwaway().await?.into_parts();
        Some(TestStore {
            store: Arc::new(store),
            cleanup: Box::pin(cleanup),
        })
    })
}

/// MariaDB/MySQL (`MFA_MYSQL_URL`), in a database of its own, dropped afterwards.
pub fn mysql() -> StoreFuture {
    Box::pin(async {
        let (store, cleanup) = MySqlStore::throwaway().await?.into_parts();
        Some(TestStore {
            store: Arc::new(store),
            cleanup: Box::pin(cleanup),
        })
    })
}

/// Redis (`MFA_REDIS_URL`), under an initialised key prefix of its own, deleted afterwards.
pub fn redis() -> StoreFuture {
    Box::pin(async {
        let (store, cleanup) = mfa_store_redis::testkit::throwaway_store("mfa facade").await?;
        Some(TestStore {
            store: Arc::new(store),
            cleanup: Box::pin(cleanup.into_future()),
        })
    })
}

/// A three-master Redis Cluster (`MFA_REDIS_CLUSTER_URLS`, started by `.ci/redis-cluster.sh`).
pub fn redis_cluster() -> StoreFuture {
    Box::pin(async {
        let (store, cleanup) =
            mfa_store_redis::testkit::throwaway_cluster_store("mfa facade").await?;
        Some(TestStore {
            store: Arc::new(store),
            cleanup: Box::pin(cleanup.into_future()),
        })
    })
}

/// Declares one `#[tokio::test]` per scenario and store: `scenarios!([memory, redis]: { a, b })`
/// makes `memory::a`, `memory::b`, `redis::a`, `redis::b`. The store's data is removed after a
/// scenario, even when it fails.
#[macro_export]
#[allow(clippy::crate_in_macro_def)]
macro_rules! scenarios {
    ([$($factory:ident),+ $(,)?]: $names:tt) => {
        $( $crate::scenarios!(@one $factory $names); )+
    };
    (@one $factory:ident { $($name:ident),+ $(,)? }) => {
        mod $factory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(test) = (crate::common::$factory)().await else {
                        return;
                    };
                    let outcome = tokio::spawn(super::$name(test.store)).await;
                    test.cleanup.await;
                    if let Err(e) = outcome {
                        std::panic::resume_unwind(e.into_panic());
                    }
                }
            )+
        }
    };
}

pub const PEPPER: [u8; 32] = [0x5a; 32];

/// Where the harness's email goes.
pub enum Mail {
    Memory(Arc<MemoryOutbox>),
    Smtp(SmtpTestServer),
}

pub struct Harness {
    pub mfa: Mfa,
    pub clock: ManualClock,
    pub store: Arc<dyn Store>,
    pub mail: Mail,
    pub sms: Arc<MemorySms>,
}

/// The user's usual network (recognised once a login completed from it).
pub fn client() -> ClientInfo {
    ClientInfo::new("198.51.100.7".parse().unwrap()).with_user_agent("test-agent")
}

/// A client at `ip`.
pub fn client_at(ip: &str) -> ClientInfo {
    ClientInfo::new(ip.parse().unwrap())
}

/// A stranger's network, a different one for each `n` (IPv4 /32s of 203.0.113.0/24 and, past
/// 250, IPv6 /64s of 2001:db8::/32).
pub fn stranger(n: u32) -> ClientInfo {
    if n < 250 {
        client_at(&format!("203.0.113.{}", n + 1))
    } else {
        client_at(&format!("2001:db8:{:x}:{:x}::1", n >> 16, n & 0xffff))
    }
}

pub fn email(address: &str) -> EmailAddress {
    EmailAddress::parse(address).unwrap()
}

pub fn phone(number: &str) -> PhoneNumber {
    PhoneNumber::parse(number).unwrap()
}

pub fn mail_settings() -> MailSettings {
    MailSettings::new(
        "Acme",
        EmailAddress::parse("no-reply@acme.test").unwrap(),
        EmailAddress::parse("help@acme.test").unwrap(),
    )
}

pub fn keyring() -> Keyring {
    Keyring::new(1, SealingKey::from_bytes(&[0x11; 32]).unwrap())
}

/// A harness with mail in memory.
pub fn harness(store: Arc<dyn Store>, policy: Policy) -> Harness {
    build(store, policy, false, |b| b)
}

/// A harness with mail through the real SMTP server on loopback.
pub fn harness_smtp(store: Arc<dyn Store>, policy: Policy) -> Harness {
    build(store, policy, true, |b| b)
}

pub fn build(
    store: Arc<dyn Store>,
    policy: Policy,
    smtp: bool,
    extra: impl FnOnce(mfa::MfaBuilder) -> mfa::MfaBuilder,
) -> Harness {
    // Start at the real time: Redis expires keys on its own clock (PEXPIREAT is housekeeping
    // only, but a record written with an expiry already past in real time is gone at once).
    let clock = ManualClock::at_unix_secs(mfa::SystemClock.unix_secs());
    let sms = Arc::new(MemorySms::new());
    let (mail, mailer): (Mail, Arc<dyn mfa::Mailer>) = if smtp {
        let server = SmtpTestServer::start().unwrap();
        let mailer = Arc::new(server.mailer().unwrap());
        (Mail::Smtp(server), mailer)
    } else {
        let outbox = Arc::new(MemoryOutbox::new());
        (Mail::Memory(outbox.clone()), outbox)
    };
    let builder = Mfa::builder()
        .store(store.clone())
        .mailer(mailer)
        .sms(sms.clone())
        .keyring(keyring())
        .pepper(Pepper::from_bytes(&PEPPER).unwrap())
        .policy(policy)
        .clock(Arc::new(clock.clone()))
        .issuer("Acme")
        .unlock_url("https://app.test/unlock")
        .mail_settings(mail_settings());
    let mfa = extra(builder).build().unwrap();
    Harness {
        mfa,
        clock,
        store,
        mail,
        sms,
    }
}

impl Harness {
    /// Verifies `proof` against challenge `id` from the user's usual client, without options.
    pub async fn verify(&self, id: &ChallengeId, proof: mfa::Proof<'_>) -> mfa::Outcome {
        self.verify_from(id, proof, &client()).await
    }

    /// Verifies `proof` against challenge `id` from `from`, without options.
    pub async fn verify_from(
        &self,
        id: &ChallengeId,
        proof: mfa::Proof<'_>,
        from: &ClientInfo,
    ) -> mfa::Outcome {
        self.mfa
            .verify(id, proof, from, mfa::VerifyOptions::new())
            .await
            .unwrap()
    }

    /// Sends a code for `id` from the user's usual client.
    pub async fn send(&self, id: &ChallengeId, channel: mfa::Channel) -> mfa::SendOutcome {
        self.mfa.send_code(id, channel, &client()).await.unwrap()
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    pub fn now(&self) -> std::time::SystemTime {
        mfa::Clock::now(&self.clock)
    }

    /// Plain-text bodies of every email delivered so far, oldest first.
    pub fn mails(&self) -> Vec<String> {
        match &self.mail {
            Mail::Memory(o) => o.sent().iter().map(|m| m.text().to_owned()).collect(),
            Mail::Smtp(s) => s
                .messages()
                .iter()
                .map(|m| {
                    let parsed = MessageParser::default().parse(&m.data).unwrap();
                    parsed.body_text(0).unwrap().into_owned()
                })
                .collect(),
        }
    }

    /// The recipients of every email delivered so far, oldest first.
    pub fn mail_recipients(&self) -> Vec<String> {
        match &self.mail {
            Mail::Memory(o) => o
                .sent()
                .iter()
                .map(|m| m.to().address.as_str().to_owned())
                .collect(),
            Mail::Smtp(s) => s
                .messages()
                .iter()
                .map(|m| m.rcpt_to.first().cloned().unwrap_or_default())
                .collect(),
        }
    }

    pub fn last_mail(&self) -> String {
        self.mails().pop().expect("an email was sent")
    }

    /// The code in the newest email.
    pub fn last_email_code(&self, digits: usize) -> String {
        code_in(&self.last_mail(), digits)
    }

    /// The code in the newest text message.
    pub fn last_sms_code(&self, digits: usize) -> String {
        code_in(self.sms.last().unwrap().body(), digits)
    }

    /// Confirms `address` as `user`'s first factor (no factor before) through the facade.
    pub async fn enrol_email(&self, user: &str, address: &str) {
        self.enrol_email_as(user, address, Authority::FirstFactor)
            .await;
    }

    /// Confirms `address` as `user`'s email factor with `authority`.
    pub async fn enrol_email_as(&self, user: &str, address: &str, authority: Authority<'_>) {
        let to = email(address);
        let sent = self
            .mfa
            .start_email_enrollment(user, authority, &to, &client())
            .await
            .unwrap();
        assert!(matches!(sent, mfa::SendOutcome::Sent { .. }), "{sent:?}");
        let code = self.last_email_code(6);
        let done = self
            .mfa
            .finish_email_enrollment(user, authority, &to, &code, &client())
            .await
            .unwrap();
        assert!(
            matches!(done, mfa::EnrollmentOutcome::Confirmed { .. }),
            "{done:?}"
        );
    }

    /// Enrols and confirms an authenticator as `user`'s first factor; returns its base32
    /// secret and digits.
    pub async fn enrol_totp(&self, user: &str, options: mfa::TotpOptions) -> (String, u32) {
        let (secret, digits, _) = self.enrol_totp_codes(user, options).await;
        (secret, digits)
    }

    /// As [`enrol_totp`](Self::enrol_totp), also returning the recovery codes minted.
    pub async fn enrol_totp_codes(
        &self,
        user: &str,
        options: mfa::TotpOptions,
    ) -> (String, u32, Vec<String>) {
        let e = self
            .mfa
            .start_totp_enrollment(user, Authority::FirstFactor, "Phone", options, &client())
            .await
            .unwrap();
        let uri = mfa::core::KeyUri::parse(e.key_uri()).unwrap();
        let digits = uri.digits.get();
        let secret = e.secret_base32().to_owned();
        let code = totp_code(&secret, digits, uri.algorithm, self.clock.unix_secs());
        let done = self
            .mfa
            .finish_totp_enrollment(user, Authority::FirstFactor, &code, &client())
            .await
            .unwrap();
        let mfa::EnrollmentOutcome::Confirmed { recovery_codes } = done else {
            panic!("{done:?}")
        };
        let codes = recovery_codes
            .map(|c| c.expose().iter().map(|c| c.to_string()).collect())
            .unwrap_or_default();
        (secret, digits, codes)
    }

    /// A step-up grant for `user`, proven with the current code of the 6-digit SHA-1
    /// authenticator `secret` (the clock moves one step first, so the code is fresh).
    pub async fn grant(&self, user: &str, secret: &str) -> StepUpGrant {
        self.advance(30);
        let LoginStart::ChallengeRequired { challenge_id, .. } =
            self.mfa.begin_step_up(user, &client()).await.unwrap()
        else {
            panic!("a step-up challenge")
        };
        let code = totp_code(secret, 6, Algorithm::Sha1, self.clock.unix_secs());
        let r = self
            .mfa
            .verify(
                &challenge_id,
                mfa::Proof::Totp(&code),
                &client(),
                mfa::VerifyOptions::new().grant_step_up(),
            )
            .await
            .unwrap();
        let mfa::Outcome::Verified {
            step_up: Some(grant),
            ..
        } = r
        else {
            panic!("{r:?}")
        };
        grant
    }

    /// Starts a login that must need a second factor, from the user's usual client.
    pub async fn login(&self, user: &str) -> ChallengeId {
        self.login_from(user, &client()).await
    }

    /// Starts a login that must need a second factor, from `from`.
    pub async fn login_from(&self, user: &str, from: &ClientInfo) -> ChallengeId {
        match self.mfa.begin_login(user, None, from).await.unwrap() {
            LoginStart::ChallengeRequired { challenge_id, .. } => challenge_id,
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    pub async fn methods(&self, user: &str) -> Vec<Method> {
        match self.mfa.begin_login(user, None, &client()).await.unwrap() {
            LoginStart::ChallengeRequired { methods, .. } => methods,
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    /// Sets a notice address without enabling email as a factor.
    pub async fn set_notice_email(&self, user: &str, address: &str) {
        let mut s = MfaSettings::new(user);
        s.email = Some(email(address));
        self.store.put_settings(s).await.unwrap();
    }

    /// The audit kinds recorded for `user`, oldest first.
    pub async fn audit_kinds(&self, user: &str) -> Vec<String> {
        let mut events = self.store.audit_events(user, 1000).await.unwrap();
        events.reverse();
        events
            .iter()
            .map(|e| format!("{}:{}", e.kind.as_str(), e.outcome))
            .collect()
    }
}

/// The TOTP code of `secret` at `unix` (independently of the facade's verifier).
pub fn totp_code(secret_b32: &str, digits: u32, algorithm: Algorithm, unix: u64) -> String {
    let secret = Secret::from_base32(secret_b32).unwrap();
    let totp = Totp::new(
        &secret,
        TotpParams {
            algorithm,
            digits: Digits::new(digits).unwrap(),
            ..TotpParams::default()
        },
    );
    totp.generate_at(unix).unwrap().expose().to_string()
}

/// The first standalone number of `digits` digits in `text`.
pub fn code_in(text: &str, digits: usize) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == digits)
        .unwrap_or_else(|| panic!("no {digits}-digit code in the message"))
        .to_owned()
}

/// The token after `token=` in `text` (a magic link or an unlock link).
pub fn token_in(text: &str) -> String {
    let start = text.find("token=").expect("a link") + "token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A code that is certainly not `code` (same length).
pub fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect()
}
