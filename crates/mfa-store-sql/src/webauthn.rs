//! [`WebAuthnStore`] on every engine: one row per credential (unique per relying party on its
//! credential id), one row per ceremony.
//!
//! Every operation is one statement with its condition in the `WHERE` clause: a use is recorded
//! only on the use count it was read with, and a ceremony is taken by deleting the very row that
//! was read (its state compared whole, so a replacement written in between is not taken by a
//! stale read), so of concurrent takes exactly one deletes it.

use std::time::SystemTime;

use async_trait::async_trait;
use mfa_store::{
    CeremonyKind, Result as SResult, WebAuthnCeremony, WebAuthnCredential, WebAuthnStore,
    WebAuthnUse,
};

use crate::convert::{conflict_or, corrupt, count, millis, time};
use crate::db::{Arg, Cols, On, Sql};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::store::{DEFAULT_PURGE_BATCH, SqlStore};

/// The select list of a credential, in [`credential`]'s order.
const CREDENTIAL_COLUMNS: &str = "@user_id, @id, @rp_id, credential_id, label, credential, \
     sign_count, backup_eligible, backup_state, use_count, created_at, last_used_at";

/// The select list of a ceremony, in [`ceremony`]'s order.
const CEREMONY_COLUMNS: &str = "@user_id, @id, kind, state, created_at, expires_at";

/// The statements of WebAuthn credentials and ceremonies.
#[derive(Debug)]
pub(crate) struct WebAuthnSql {
    add: Sql,
    list: Sql,
    rename: Sql,
    remove: Sql,
    record_use: Sql,
    put_ceremony: Sql,
    read_ceremony: Sql,
    take_ceremony: Sql,
    purge: Sql,
}

impl WebAuthnSql {
    pub(crate) fn new(d: &Dialect) -> Self {
        let upsert = d.upsert(
            "user_id, id",
            &["kind", "state", "created_at", "expires_at"],
        );
        Self {
            add: d.sql(
                "INSERT INTO {p}webauthn_credentials (user_id, id, rp_id, credential_id, label, \
                 credential, sign_count, backup_eligible, backup_state, use_count, created_at, \
                 last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ),
            list: d.sql(&format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM {{p}}webauthn_credentials \
                 WHERE user_id = ? ORDER BY created_at, id"
            )),
            rename: d
                .sql("UPDATE {p}webauthn_credentials SET label = ? WHERE user_id = ? AND id = ?"),
            remove: d.sql("DELETE FROM {p}webauthn_credentials WHERE user_id = ? AND id = ?"),
            record_use: d.sql(
                "UPDATE {p}webauthn_credentials SET sign_count = ?, backup_eligible = ?, \
                 backup_state = ?, credential = ?, last_used_at = ?, use_count = use_count + 1 \
                 WHERE user_id = ? AND id = ? AND use_count = ?",
            ),
            put_ceremony: d.sql(&format!(
                "INSERT INTO {{p}}webauthn_ceremonies \
                 (user_id, id, kind, state, created_at, expires_at) \
                 VALUES (?, ?, ?, ?, ?, ?) {upsert}"
            )),
            read_ceremony: d.sql(&format!(
                "SELECT {CEREMONY_COLUMNS} FROM {{p}}webauthn_ceremonies \
                 WHERE user_id = ? AND id = ? AND kind = ? AND expires_at > ?"
            )),
            take_ceremony: d.sql(
                "DELETE FROM {p}webauthn_ceremonies \
                 WHERE user_id = ? AND id = ? AND kind = ? AND expires_at > ? AND state = ?",
            ),
            purge: d.purge("webauthn_ceremonies", "user_id, id"),
        }
    }
}

/// A credential from a row of [`CREDENTIAL_COLUMNS`].
fn credential<E: Engine>(row: &E::Row) -> SResult<WebAuthnCredential> {
    let mut c = Cols::<E>::new(row);
    Ok(WebAuthnCredential {
        user: c.text("user_id")?,
        id: c.text("id")?,
        rp_id: c.text("rp_id")?,
        credential_id: c.bytes("credential_id")?,
        label: c.text("label")?,
        credential: c.bytes("credential")?,
        sign_count: count(c.int("sign_count")?, "sign_count")?,
        backup_eligible: c.boolean("backup_eligible")?,
        backup_state: c.boolean("backup_state")?,
        use_count: u64::try_from(c.int("use_count")?).map_err(|_| corrupt("use_count"))?,
        created_at: time(c.int("created_at")?, "created_at")?,
        last_used_at: c
            .opt_int("last_used_at")?
            .map(|ms| time(ms, "last_used_at"))
            .transpose()?,
    })
}

/// A ceremony from a row of [`CEREMONY_COLUMNS`].
fn ceremony<E: Engine>(row: &E::Row) -> SResult<WebAuthnCeremony> {
    let mut c = Cols::<E>::new(row);
    Ok(WebAuthnCeremony {
        user: c.text("user_id")?,
        id: c.text("id")?,
        kind: c.text("kind")?.parse()?,
        state: c.bytes("state")?,
        created_at: time(c.int("created_at")?, "created_at")?,
        expires_at: time(c.int("expires_at")?, "expires_at")?,
    })
}

/// A count as the signed column that holds it.
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl<E: Engine> WebAuthnStore for SqlStore<E> {
    async fn add_webauthn_credential(&self, credential: WebAuthnCredential) -> SResult<()> {
        let args = [
            Arg::Text(&credential.user),
            Arg::Text(&credential.id),
            Arg::Text(&credential.rp_id),
            Arg::Bytes(&credential.credential_id),
            Arg::Text(&credential.label),
            Arg::Bytes(&credential.credential),
            Arg::Int(i64::from(credential.sign_count)),
            Arg::Bool(credential.backup_eligible),
            Arg::Bool(credential.backup_state),
            Arg::Int(signed(credential.use_count)),
            Arg::Int(millis(credential.created_at)),
            Arg::OptInt(credential.last_used_at.map(millis)),
        ];
        E::execute(On::Pool(self.pool()), &self.sql().webauthn.add, &args)
            .await
            .map_err(|e| conflict_or(e, "webauthn credential id or record id taken"))?;
        Ok(())
    }

    async fn webauthn_credentials(&self, user: &str) -> SResult<Vec<WebAuthnCredential>> {
        self.fetch_all(
            &self.sql().webauthn.list,
            &[Arg::Text(user)],
            credential::<E>,
        )
        .await
    }

    async fn rename_webauthn_credential(&self, user: &str, id: &str, label: &str) -> SResult<bool> {
        let args = [Arg::Text(label), Arg::Text(user), Arg::Text(id)];
        // MySQL counts a row whose label was already this one as unchanged: read it back.
        if self.execute(&self.sql().webauthn.rename, &args).await? == 1 {
            return Ok(true);
        }
        Ok(self
            .webauthn_credentials(user)
            .await?
            .iter()
            .any(|c| c.id == id))
    }

    async fn remove_webauthn_credential(&self, user: &str, id: &str) -> SResult<bool> {
        let args = [Arg::Text(user), Arg::Text(id)];
        Ok(self.execute(&self.sql().webauthn.remove, &args).await? == 1)
    }

    async fn record_webauthn_use(
        &self,
        user: &str,
        id: &str,
        update: WebAuthnUse,
    ) -> SResult<bool> {
        let args = [
            Arg::Int(i64::from(update.sign_count)),
            Arg::Bool(update.backup_eligible),
            Arg::Bool(update.backup_state),
            Arg::Bytes(&update.credential),
            Arg::Int(millis(update.at)),
            Arg::Text(user),
            Arg::Text(id),
            Arg::Int(signed(update.expected_use_count)),
        ];
        Ok(self.execute(&self.sql().webauthn.record_use, &args).await? == 1)
    }

    async fn put_webauthn_ceremony(&self, ceremony: WebAuthnCeremony) -> SResult<()> {
        let args = [
            Arg::Text(&ceremony.user),
            Arg::Text(&ceremony.id),
            Arg::Text(ceremony.kind.as_str()),
            Arg::Bytes(&ceremony.state),
            Arg::Int(millis(ceremony.created_at)),
            Arg::Int(millis(ceremony.expires_at)),
        ];
        self.execute(&self.sql().webauthn.put_ceremony, &args)
            .await?;
        Ok(())
    }

    async fn take_webauthn_ceremony(
        &self,
        user: &str,
        id: &str,
        kind: CeremonyKind,
        now: SystemTime,
    ) -> SResult<Option<WebAuthnCeremony>> {
        let now = millis(now);
        let key = [
            Arg::Text(user),
            Arg::Text(id),
            Arg::Text(kind.as_str()),
            Arg::Int(now),
        ];
        let sql = &self.sql().webauthn;
        let Some(read) = self
            .fetch_optional(&sql.read_ceremony, &key, ceremony::<E>)
            .await?
        else {
            return Ok(None);
        };
        let take = [
            Arg::Text(user),
            Arg::Text(id),
            Arg::Text(kind.as_str()),
            Arg::Int(now),
            Arg::Bytes(&read.state),
        ];
        Ok((self.execute(&sql.take_ceremony, &take).await? == 1).then_some(read))
    }

    async fn purge_expired_webauthn_ceremonies(&self, now: SystemTime) -> SResult<u64> {
        self.purge(&self.sql().webauthn.purge, now, DEFAULT_PURGE_BATCH)
            .await
    }
}
