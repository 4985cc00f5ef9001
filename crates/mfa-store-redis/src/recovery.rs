//! [`RecoveryCodeStore`] on Redis: one hash `locator -> verifier` per user, so a code is found
//! by one `HGET` and used up by one `HDEL` (each in a script that checks the slot's data-loss
//! marker first).

use std::collections::HashSet;
use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::{CodeDigest, RecoveryVerifier};
use mfa_store::{RecoveryCodeRecord, RecoveryCodeStore, Result, StoreError};

use crate::RedisStore;
use crate::codec::to_ms;
use crate::scripts::{RECOVERY_CONSUME, RECOVERY_COUNT, RECOVERY_FIND, RECOVERY_REPLACE};
use crate::store::{Op, check_status};

#[async_trait]
impl RecoveryCodeStore for RedisStore {
    async fn replace_recovery_codes(
        &self,
        user: &str,
        codes: Vec<RecoveryCodeRecord>,
        created_at: SystemTime,
    ) -> Result<()> {
        let mut seen = HashSet::with_capacity(codes.len());
        if !codes.iter().all(|c| seen.insert(*c.locator.as_bytes())) {
            return Err(StoreError::conflict("duplicate recovery code locator"));
        }
        let mut invocation = RECOVERY_REPLACE.on(&self.keys, self.keys.recovery(user));
        invocation
            .key(self.keys.recovery_meta(user))
            .arg(to_ms(created_at));
        for code in &codes {
            invocation
                .arg(code.locator.as_bytes().as_slice())
                .arg(code.verifier.encode());
        }
        let status: String = self.eval(&invocation, Op::Guard).await?;
        check_status(&status, "recovery codes")
    }

    async fn find_recovery_code(
        &self,
        user: &str,
        locator: &CodeDigest,
    ) -> Result<Option<RecoveryVerifier>> {
        let verifier: Option<String> = self
            .eval(
                RECOVERY_FIND
                    .on(&self.keys, self.keys.recovery(user))
                    .arg(locator.as_bytes().as_slice()),
                Op::Read,
            )
            .await?;
        verifier
            .map(|text| {
                RecoveryVerifier::decode(&text)
                    .map_err(|_| StoreError::corrupt("recovery code verifier"))
            })
            .transpose()
    }

    async fn consume_recovery_code(&self, user: &str, locator: &CodeDigest) -> Result<bool> {
        let removed: i64 = self
            .eval(
                RECOVERY_CONSUME
                    .on(&self.keys, self.keys.recovery(user))
                    .arg(locator.as_bytes().as_slice()),
                Op::Guard,
            )
            .await?;
        Ok(removed == 1)
    }

    async fn remaining_recovery_codes(&self, user: &str) -> Result<usize> {
        let n: u64 = self
            .eval(
                &RECOVERY_COUNT.on(&self.keys, self.keys.recovery(user)),
                Op::Read,
            )
            .await?;
        usize::try_from(n).map_err(|_| StoreError::corrupt("recovery code count"))
    }
}
