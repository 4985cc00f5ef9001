//! A database migrated by the released version 1 of this crate moves forward to the current
//! version with its data readable, and ends with the same schema as a new database.
//!
//! `tests/fixtures/v1/<engine>.sql` are the version-1 migration files as released (one per
//! engine, before the templates); the test applies one under a prefix of its own, as the old
//! runner did, writes rows as version 1 wrote them, then runs today's `migrate()`.

use std::time::Duration;

use mfa_core::{EmailAddress, Keyring, PhoneNumber, SealingKey, Secret};
use mfa_store::{AuditOutcome, CounterKey, CounterScope, FactorStatus, NewTotpFactor, Store, Take};

use crate::fail_closed::{id, now};

/// The prefix the released schema is created under.
pub(crate) const OLD: &str = "old_";

/// The statements of a released version-1 file, as the version-1 runner split them.
pub(crate) fn fixture_statements(file: &str, tables: &str, bare: &str) -> Vec<String> {
    let text = file.replace("{p}", tables).replace("{n}", bare);
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            statements.push(std::mem::take(&mut current));
        }
    }
    statements
}

/// What version 1 knew of a user, written as version 1 wrote it.
pub(crate) struct Seed {
    pub(crate) user: String,
    sealed: Vec<u8>,
    at: i64,
}

impl Seed {
    pub(crate) fn new() -> Self {
        let user = id("fwd");
        let keyring = Keyring::new(1, SealingKey::generate().unwrap());
        let sealed = keyring
            .seal(&Secret::generate().unwrap(), &user, "f1")
            .unwrap();
        let at = i64::try_from(
            now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap();
        Self {
            user,
            sealed: sealed.as_bytes().to_vec(),
            at,
        }
    }

    fn key(&self) -> CounterKey {
        CounterKey::new("totp", CounterScope::Account(self.user.clone()))
    }

    /// The inserts, with literal values (all made here: no quote in them); `blob` spells a hex
    /// string as the engine's binary literal.
    pub(crate) fn statements(&self, tables: &str, blob: fn(&str) -> String) -> Vec<String> {
        let (user, at) = (&self.user, self.at);
        let sealed: String = self.sealed.iter().map(|b| format!("{b:02x}")).collect();
        let sealed = blob(&sealed);
        let key = self.key().storage_key();
        let end = at + 900_000;
        vec![
            format!(
                "INSERT INTO {tables}totp_factors (user_id, id, sealed_secret, algorithm, digits, \
                 period, label, status, last_used_step, created_at) \
                 VALUES ('{user}', 'f1', {sealed}, 'sha1', 6, 30, 'phone', 'confirmed', 7, {at})"
            ),
            format!(
                "INSERT INTO {tables}audit_events (at, user_id, kind, outcome, ip, user_agent) \
                 VALUES ({at}, '{user}', 'totp.confirmed', 'success', '2001:db8::1', 'curl/8')"
            ),
            format!(
                "INSERT INTO {tables}settings (user_id, enabled, preferred, email, phone) \
                 VALUES ('{user}', 'email,totp', 'totp', 'Alice@Example.com', '+15550100')"
            ),
            format!(
                "INSERT INTO {tables}counters (counter_key, window_start, window_end, count, \
                 consecutive, locked_until) VALUES ('{key}', {at}, {end}, 2, 2, NULL)"
            ),
            format!("INSERT INTO {tables}schema_migrations (version) VALUES (1)"),
        ]
    }

    /// After `migrate()`: the rows of version 1 read back, the new columns empty, and the new
    /// operations work on them.
    pub(crate) async fn check<S: Store>(&self, store: &S) {
        let t = now();
        let factor = store.totp_factor(&self.user, "f1").await.unwrap().unwrap();
        assert_eq!(
            (factor.status, factor.last_used_step, factor.confirmed_at),
            (FactorStatus::Confirmed, Some(7), None),
            "a factor confirmed before version 2 has no confirmation time"
        );
        let events = store.audit_events(&self.user, 10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].client.ip, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(
            (events[0].outcome, events[0].actor.as_deref()),
            (AuditOutcome::Success, None)
        );
        let settings = store.settings(&self.user).await.unwrap().unwrap();
        assert_eq!(
            settings.email,
            Some(EmailAddress::parse("Alice@Example.com").unwrap())
        );
        assert_eq!(
            settings.phone,
            Some(PhoneNumber::parse("+15550100").unwrap())
        );
        let take = [Take::new(self.key(), Duration::from_secs(900), 3)];
        let taken = store.take_counters(&take, t).await.unwrap();
        assert_eq!(
            taken.first().map(|r| (r.is_taken(), r.state().count)),
            Some((true, 3))
        );
        let refused = store.take_counters(&take, t).await.unwrap();
        assert!(
            !refused[0].is_taken(),
            "the limit holds on a version-1 counter"
        );

        store
            .insert_pending_totp(NewTotpFactor {
                user: self.user.clone(),
                id: "f2".into(),
                sealed_secret: mfa_core::SealedSecret::from_bytes(self.sealed.clone()).unwrap(),
                algorithm: mfa_core::Algorithm::Sha1,
                digits: mfa_core::Digits::SIX,
                period: mfa_core::Period::THIRTY_SECONDS,
                label: "new".into(),
                created_at: t,
            })
            .await
            .unwrap();
        assert!(store.confirm_totp(&self.user, "f2", 9, t).await.unwrap());
        let confirmed = store.totp_factor(&self.user, "f2").await.unwrap().unwrap();
        assert_eq!(confirmed.confirmed_at, Some(t));
    }
}

/// Catalogue lines with the prefix and run-specific numbers taken out and the whitespace
/// collapsed, sorted, so two prefixes' schemas compare equal exactly when they are the same.
pub(crate) fn normalized(lines: Vec<String>, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = lines
        .into_iter()
        .map(|line| {
            let line = line.replace(prefix, "P_");
            let line: String = line
                .split(" AUTO_INCREMENT=")
                .enumerate()
                .map(|(i, part)| {
                    if i == 0 {
                        part.to_owned()
                    } else {
                        part.trim_start_matches(|c: char| c.is_ascii_digit())
                            .to_owned()
                    }
                })
                .collect();
            line.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect();
    out.sort();
    out
}
