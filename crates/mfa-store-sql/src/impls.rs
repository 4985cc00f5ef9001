//! [`common_impls!`]: the seven `mfa-store` traits for one engine's store type.
//!
//! The statements are the same on every engine (see `common::Queries`); the expansion differs
//! only in the pool's database type. Operations whose SQL or transaction shape differs per
//! engine delegate to the store's inherent `eng_*` methods.

/// Implements every `mfa-store` trait for `$store`, which has `pool: sqlx::Pool<_>`,
/// `q: Arc<Queries>`, `dialect: Dialect` and the `eng_*` methods.
macro_rules! common_impls {
    ($store:ty) => {
        #[::async_trait::async_trait]
        impl ::mfa_store::TotpFactorStore for $store {
            async fn insert_pending_totp(&self, factor: ::mfa_store::NewTotpFactor) -> SResult<()> {
                self.eng_insert_pending_totp(factor).await
            }

            async fn totp_factor(
                &self,
                user: &str,
                factor_id: &str,
            ) -> SResult<Option<::mfa_store::TotpFactor>> {
                let row: Option<$crate::rows::FactorRow> = sqlx::query_as(q(&self.q.totp_factor))
                    .bind(user)
                    .bind(factor_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_err)?;
                row.map($crate::rows::factor).transpose()
            }

            async fn totp_factors(&self, user: &str) -> SResult<Vec<::mfa_store::TotpFactor>> {
                let rows: Vec<$crate::rows::FactorRow> = sqlx::query_as(q(&self.q.totp_factors))
                    .bind(user)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_err)?;
                rows.into_iter().map($crate::rows::factor).collect()
            }

            async fn confirm_totp(&self, user: &str, factor_id: &str, step: u64) -> SResult<bool> {
                let Ok(step) = i64::try_from(step) else {
                    return Ok(false);
                };
                let done = sqlx::query(q(&self.q.confirm_totp))
                    .bind(step)
                    .bind(user)
                    .bind(factor_id)
                    .execute(&self.pool)
                    .await
                    .map_err(store_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn advance_totp_step(
                &self,
                user: &str,
                factor_id: &str,
                step: u64,
            ) -> SResult<bool> {
                // A step beyond i64 cannot be stored: refuse it (fail closed) rather than wrap.
                let Ok(step) = i64::try_from(step) else {
                    return Ok(false);
                };
                let done = sqlx::query(q(&self.q.advance_totp_step))
                    .bind(step)
                    .bind(user)
                    .bind(factor_id)
                    .bind(step)
                    .execute(&self.pool)
                    .await
                    .map_err(store_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn replace_totp_secret(
                &self,
                user: &str,
                factor_id: &str,
                expected: &::mfa_core::SealedSecret,
                replacement: ::mfa_core::SealedSecret,
            ) -> SResult<bool> {
                let done = sqlx::query(q(&self.q.replace_totp_secret))
                    .bind(replacement.as_bytes())
                    .bind(user)
                    .bind(factor_id)
                    .bind(expected.as_bytes())
                    .execute(&self.pool)
                    .await
                    .map_err(store_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_totp(&self, user: &str, factor_id: &str) -> SResult<bool> {
                let done = sqlx::query(q(&self.q.delete_totp))
                    .bind(user)
                    .bind(factor_id)
                    .execute(&self.pool)
                    .await
                    .map_err(store_err)?;
                Ok(done.rows_affected() > 0)
            }
        }

        #[::async_trait::async_trait]
        impl ::mfa_store::ChallengeStore for $store {
            async fn create_challenge(&self, challenge: ::mfa_store::Challenge) -> SResult<()> {
                self.eng_create_challenge(challenge).await
            }

            async fn challenge(
                &self,
                id: &str,
                now: SystemTime,
            ) -> SResult<Option<::mfa_store::Challenge>> {
                let row: Option<$crate::rows::ChallengeRow> = sqlx::query_as(q(&self.q.challenge))
                    .bind(id)
                    .bind(millis(now))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_err)?;
                row.map($crate::rows::challenge).transpose()
            }

            async fn spend_attempt(
                &self,
                id: &str,
                now: SystemTime,
            ) -> SResult<::mfa_store::AttemptOutcome> {
                self.eng_spend_attempt(id, millis(now)).await
            }

            async fn consume_challenge(&self, id: &str, now: SystemTime) -> SResult<bool> {
                let done = sqlx::query(q(&self.q.consume_challenge))
                    .bind(id)
                    .bind(millis(now))
                    .execute(&self.pool)
                    .await
                    .map_err(store_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn replace_challenge_code(
                &self,
                id: &str,
                code_digest: ::mfa_core::CodeDigest,
                expires_at: SystemTime,
                now: SystemTime,
            ) -> SResult<bool> {
                let done = sqlx::query(q(&self.q.replace_challenge_code))
                    .bind(&code_digest.as_bytes()[..])
                    .bind(millis(expires_at))
                    .bind(id)
                    .bind(millis(now))
                    .execute(&self.pool)
                    .await
                    .map_err(store_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_challenge(&self, id: &str) -> SResult<bool> {
                let done = sqlx::query(q(&self.q.delete_challenge))
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(store_err)?;
                Ok(done.rows_affected() > 0)
            }

            async fn purge_expired_challenges(&self, now: SystemTime) -> SResult<u64> {
                self.purge_table(
                    $crate::common::Purge::Challenges,
                    millis(now),
                    DEFAULT_PURGE_BATCH,
                )
                .await
            }
        }

        #[::async_trait::async_trait]
        impl ::mfa_store::RecoveryCodeStore for $store {
            async fn replace_recovery_codes(
                &self,
                user: &str,
                codes: Vec<::mfa_store::RecoveryCodeRecord>,
                created_at: SystemTime,
            ) -> SResult<()> {
                // A duplicate locator is refused before the old set is touched.
                let mut seen = ::std::collections::HashSet::new();
                if !codes.iter().all(|c| seen.insert(*c.locator.as_bytes())) {
                    return Err(::mfa_store::StoreError::conflict(
                        "duplicate recovery code locator",
                    ));
                }
                self.eng_replace_recovery_codes(user, &codes, millis(created_at))
                    .await
            }

            async fn find_recovery_code(
                &self,
                user: &str,
                locator: &::mfa_core::CodeDigest,
            ) -> SResult<Option<::mfa_core::RecoveryVerifier>> {
                let text: Option<String> = sqlx::query_scalar(q(&self.q.find_recovery))
                    .bind(user)
                    .bind(&locator.as_bytes()[..])
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_err)?;
                text.map(|t| {
                    ::mfa_core::RecoveryVerifier::decode(&t)
                        .map_err(|_| $crate::convert::corrupt("verifier"))
                })
                .transpose()
            }

            async fn consume_recovery_code(
                &self,
                user: &str,
                locator: &::mfa_core::CodeDigest,
            ) -> SResult<bool> {
                let done = sqlx::query(q(&self.q.consume_recovery))
                    .bind(user)
                    .bind(&locator.as_bytes()[..])
                    .execute(&self.pool)
                    .await
                    .map_err(store_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn remaining_recovery_codes(&self, user: &str) -> SResult<usize> {
                let n: i64 = sqlx::query_scalar(q(&self.q.remaining_recovery))
                    .bind(user)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(store_err)?;
                usize::try_from(n).map_err(|_| $crate::convert::corrupt("count"))
            }
        }

        #[::async_trait::async_trait]
        impl ::mfa_store::CounterStore for $store {
            async fn hit_counter(
                &self,
                key: &::mfa_store::CounterKey,
                window: ::std::time::Duration,
                now: SystemTime,
            ) -> SResult<::mfa_store::CounterState> {
                let hits = [(key.clone(), window)];
                self.eng_hit_counters(&hits, now)
                    .await?
                    .pop()
                    .ok_or_else(|| $crate::convert::corrupt("counter_key"))
            }

            async fn lock_counter(
                &self,
                key: &::mfa_store::CounterKey,
                until: SystemTime,
                now: SystemTime,
            ) -> SResult<::mfa_store::CounterState> {
                self.eng_lock_counter(&key.storage_key(), millis(until), millis(now))
                    .await
            }

            async fn reset_counter(&self, key: &::mfa_store::CounterKey) -> SResult<()> {
                sqlx::query(q(&self.q.reset_counter))
                    .bind(key.storage_key())
                    .execute(&self.pool)
                    .await
                    .map_err(store_err)?;
                Ok(())
            }

            async fn counter(
                &self,
                key: &::mfa_store::CounterKey,
                now: SystemTime,
            ) -> SResult<Option<::mfa_store::CounterState>> {
                let row: Option<$crate::rows::CounterRow> = sqlx::query_as(q(&self.q.counter))
                    .bind(key.storage_key())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_err)?;
                let state = row.as_ref().map($crate::rows::counter).transpose()?;
                Ok(state.filter(|s| !s.is_expired(now)))
            }

            /// One round trip: `SELECT .. WHERE counter_key IN (..)`.
            async fn counters(
                &self,
                keys: &[::mfa_store::CounterKey],
                now: SystemTime,
            ) -> SResult<Vec<Option<::mfa_store::CounterState>>> {
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                let wanted: Vec<String> = keys.iter().map(|k| k.storage_key()).collect();
                let sql = format!(
                    "{}{})",
                    self.q.counters_prefix,
                    self.dialect.placeholders(1, wanted.len())
                );
                let mut query =
                    sqlx::query_as::<_, $crate::rows::CounterRow>(sqlx::AssertSqlSafe(sql));
                for key in &wanted {
                    query = query.bind(key.as_str());
                }
                let rows = query.fetch_all(&self.pool).await.map_err(store_err)?;
                wanted
                    .iter()
                    .map(|key| {
                        let row = rows.iter().find(|r| r.0 == *key);
                        let state = row.map($crate::rows::counter).transpose()?;
                        Ok(state.filter(|s| !s.is_expired(now)))
                    })
                    .collect()
            }

            /// One round trip (PostgreSQL, SQLite) or one transaction (MySQL) for all keys.
            async fn hit_counters(
                &self,
                hits: &[(::mfa_store::CounterKey, ::std::time::Duration)],
                now: SystemTime,
            ) -> SResult<Vec<::mfa_store::CounterState>> {
                if hits.is_empty() {
                    return Ok(Vec::new());
                }
                self.eng_hit_counters(hits, now).await
            }

            async fn purge_expired_counters(&self, now: SystemTime) -> SResult<u64> {
                self.purge_table(
                    $crate::common::Purge::Counters,
                    millis(now),
                    DEFAULT_PURGE_BATCH,
                )
                .await
            }
        }

        #[::async_trait::async_trait]
        impl ::mfa_store::TrustedDeviceStore for $store {
            async fn insert_trusted_device(
                &self,
                device: ::mfa_store::TrustedDevice,
            ) -> SResult<()> {
                sqlx::query(q(&self.q.insert_device))
                    .bind(device.user.as_str())
                    .bind(device.id.as_str())
                    .bind(&device.token_digest.as_bytes()[..])
                    .bind(device.label.as_str())
                    .bind(millis(device.created_at))
                    .bind(millis(device.expires_at))
                    .bind(millis(device.last_seen))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::convert::conflict_or(e, "device id or token taken"))?;
                Ok(())
            }

            async fn check_and_touch_device(
                &self,
                user: &str,
                token_digest: &::mfa_core::CodeDigest,
                now: SystemTime,
            ) -> SResult<Option<::mfa_store::TrustedDevice>> {
                self.eng_check_and_touch_device(user, token_digest, millis(now))
                    .await
            }

            async fn rotate_device_token(
                &self,
                user: &str,
                old: &::mfa_core::CodeDigest,
                new: ::mfa_core::CodeDigest,
                now: SystemTime,
            ) -> SResult<bool> {
                let now = millis(now);
                let done = sqlx::query(q(&self.q.rotate_device))
                    .bind(&new.as_bytes()[..])
                    .bind(now)
                    .bind(user)
                    .bind(&old.as_bytes()[..])
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::convert::conflict_or(e, "device token taken"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn trusted_devices(
                &self,
                user: &str,
                now: SystemTime,
            ) -> SResult<Vec<::mfa_store::TrustedDevice>> {
                let rows: Vec<$crate::rows::DeviceRow> = sqlx::query_as(q(&self.q.devices))
                    .bind(user)
                    .bind(millis(now))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_err)?;
                rows.into_iter().map($crate::rows::device).collect()
            }

            async fn revoke_device(&self, user: &str, device_id: &str) -> SResult<bool> {
                let done = sqlx::query(q(&self.q.revoke_device))
                    .bind(user)
                    .bind(device_id)
                    .execute(&self.pool)
                    .await
                    .map_err(store_err)?;
                Ok(done.rows_affected() > 0)
            }

            async fn revoke_all_devices(&self, user: &str) -> SResult<u64> {
                let done = sqlx::query(q(&self.q.revoke_all_devices))
                    .bind(user)
                    .execute(&self.pool)
                    .await
                    .map_err(store_err)?;
                Ok(done.rows_affected())
            }

            async fn purge_expired_devices(&self, now: SystemTime) -> SResult<u64> {
                self.purge_table(
                    $crate::common::Purge::Devices,
                    millis(now),
                    DEFAULT_PURGE_BATCH,
                )
                .await
            }
        }

        #[::async_trait::async_trait]
        impl ::mfa_store::AuditStore for $store {
            async fn append_audit(&self, event: ::mfa_store::AuditEvent) -> SResult<()> {
                sqlx::query(q(&self.q.append_audit))
                    .bind(millis(event.at))
                    .bind(event.user.as_str())
                    .bind(event.kind.as_str())
                    .bind(event.outcome.as_str())
                    .bind(event.client.ip.as_deref())
                    .bind(event.client.user_agent.as_deref())
                    .execute(&self.pool)
                    .await
                    .map_err(store_err)?;
                Ok(())
            }

            async fn audit_events(
                &self,
                user: &str,
                limit: usize,
            ) -> SResult<Vec<::mfa_store::AuditEvent>> {
                let rows: Vec<$crate::rows::AuditRow> = sqlx::query_as(q(&self.q.audit_events))
                    .bind(user)
                    .bind($crate::convert::to_i64(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_err)?;
                rows.into_iter().map($crate::rows::audit).collect()
            }
        }

        #[::async_trait::async_trait]
        impl ::mfa_store::SettingsStore for $store {
            async fn settings(&self, user: &str) -> SResult<Option<::mfa_store::MfaSettings>> {
                let row: Option<$crate::rows::SettingsRow> = sqlx::query_as(q(&self.q.settings))
                    .bind(user)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_err)?;
                row.map($crate::rows::settings).transpose()
            }

            async fn put_settings(&self, settings: ::mfa_store::MfaSettings) -> SResult<()> {
                sqlx::query(q(&self.eng.put_settings))
                    .bind(settings.user.as_str())
                    .bind($crate::rows::enabled_text(&settings))
                    .bind(settings.preferred.map(|p| p.as_str()))
                    .bind(settings.email.as_deref())
                    .bind(settings.phone.as_deref())
                    .execute(&self.pool)
                    .await
                    .map_err(store_err)?;
                Ok(())
            }
        }
    };
}

pub(crate) use common_impls;
