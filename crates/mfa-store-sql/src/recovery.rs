//! [`RecoveryCodeStore`] on every engine: one row per code, found by `(user_id, locator)`,
//! consumed by one `DELETE`; the set replaced in one transaction.

use std::collections::HashSet;
use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::{CodeDigest, RecoveryVerifier};
use mfa_store::{RecoveryCodeRecord, RecoveryCodeStore, Result as SResult, StoreError};

use crate::convert::{corrupt, is_retryable, is_unique_violation, millis};
use crate::db::{Arg, Cols, On, Sql};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::store::{Failure, Retry, SqlStore};

/// Codes inserted per statement (4 placeholders each, well under every engine's limit).
const CHUNK: usize = 200;

/// The statements of recovery codes.
#[derive(Debug)]
pub(crate) struct RecoverySql {
    find: Sql,
    consume: Sql,
    remaining: Sql,
    delete_user: Sql,
    dialect: Dialect,
}

impl RecoverySql {
    pub(crate) fn new(d: &Dialect) -> Self {
        Self {
            find: d.sql("SELECT verifier FROM {p}recovery_codes WHERE user_id = ? AND locator = ?"),
            consume: d.sql("DELETE FROM {p}recovery_codes WHERE user_id = ? AND locator = ?"),
            remaining: d.sql("SELECT COUNT(*) FROM {p}recovery_codes WHERE user_id = ?"),
            delete_user: d.sql("DELETE FROM {p}recovery_codes WHERE user_id = ?"),
            dialect: d.clone(),
        }
    }

    /// A multi-row insert of `n` codes.
    fn insert(&self, n: usize) -> Sql {
        let rows = self.dialect.value_rows(1, n, 4, |p| format!("({p})"));
        let template = "INSERT INTO {p}recovery_codes (user_id, locator, verifier, created_at) \
                        VALUES ";
        format!("{}{rows}", self.dialect.names(template)).into()
    }
}

impl<E: Engine> SqlStore<E> {
    /// One try of `replace_recovery_codes`: delete the set and insert the new one, in one
    /// transaction that concurrent replacements for the same user wait for.
    async fn try_replace_recovery(
        &self,
        user: &str,
        codes: &[RecoveryCodeRecord],
        verifiers: &[String],
        created: i64,
    ) -> Result<(), Failure> {
        let q = &self.sql().recovery;
        let mut tx = E::begin_write(self.pool()).await?;
        E::serialize_user(self, &mut tx, "recovery", user).await?;
        // MySQL (REPEATABLE READ): this DELETE takes next-key locks on the user's range of the
        // primary key, so a concurrent replacement for the same user waits for this one.
        E::execute(On::Tx(&mut *tx), &q.delete_user, &[Arg::Text(user)]).await?;
        for (chunk, texts) in codes.chunks(CHUNK).zip(verifiers.chunks(CHUNK)) {
            let mut args = Vec::with_capacity(chunk.len().saturating_mul(4));
            for (code, text) in chunk.iter().zip(texts) {
                args.extend([
                    Arg::Text(user),
                    Arg::Bytes(code.locator.as_bytes()),
                    Arg::Text(text),
                    Arg::Int(created),
                ]);
            }
            match E::execute(On::Tx(&mut *tx), &q.insert(chunk.len()), &args).await {
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::conflict("duplicate recovery code locator").into());
                }
                other => other?,
            };
        }
        Ok(tx.commit().await?)
    }
}

#[async_trait]
impl<E: Engine> RecoveryCodeStore for SqlStore<E> {
    async fn replace_recovery_codes(
        &self,
        user: &str,
        codes: Vec<RecoveryCodeRecord>,
        created_at: SystemTime,
    ) -> SResult<()> {
        // A duplicate locator is refused before the old set is touched.
        let mut seen = HashSet::new();
        if !codes.iter().all(|c| seen.insert(*c.locator.as_bytes())) {
            return Err(StoreError::conflict("duplicate recovery code locator"));
        }
        let verifiers: Vec<String> = codes.iter().map(|c| c.verifier.encode()).collect();
        let created = millis(created_at);
        let mut retry = Retry::default();
        loop {
            match self
                .try_replace_recovery(user, &codes, &verifiers, created)
                .await
            {
                Ok(()) => return Ok(()),
                Err(failure) => retry.again(failure, is_retryable).await?,
            }
        }
    }

    async fn find_recovery_code(
        &self,
        user: &str,
        locator: &CodeDigest,
    ) -> SResult<Option<RecoveryVerifier>> {
        let args = [Arg::Text(user), Arg::Bytes(locator.as_bytes())];
        self.fetch_optional(&self.sql().recovery.find, &args, |row| {
            let text = Cols::<E>::new(row).text("verifier")?;
            RecoveryVerifier::decode(&text).map_err(|_| corrupt("verifier"))
        })
        .await
    }

    async fn consume_recovery_code(&self, user: &str, locator: &CodeDigest) -> SResult<bool> {
        let args = [Arg::Text(user), Arg::Bytes(locator.as_bytes())];
        Ok(self.execute(&self.sql().recovery.consume, &args).await? == 1)
    }

    async fn remaining_recovery_codes(&self, user: &str) -> SResult<usize> {
        let n = self
            .fetch_optional(&self.sql().recovery.remaining, &[Arg::Text(user)], |row| {
                Cols::<E>::new(row).int("count")
            })
            .await?
            .unwrap_or(0);
        usize::try_from(n).map_err(|_| corrupt("count"))
    }
}
