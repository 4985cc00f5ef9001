//! [`WebAuthnStore`] on Redis: one hash per credential and a set of record ids per user, one
//! hash per ceremony (`PEXPIREAT` at its expiry), all under the user's tag; and, under a tag of
//! its own, the claim of each credential id for its relying party (a credential id is unique
//! across users, which no key of one user's slot can enforce).
//!
//! Adding a credential is two scripts: the claim (`SET NX`), then the user's record; a refused
//! record releases the claim. A failure between the two leaves a claim without a record,
//! which refuses that credential id again (fail closed) until the claim is deleted by hand.

use std::time::SystemTime;

use async_trait::async_trait;
use mfa_store::{
    CeremonyKind, Result, StoreError, WebAuthnCeremony, WebAuthnCredential, WebAuthnStore,
    WebAuthnUse,
};

use crate::RedisStore;
use crate::codec::{Fields, to_ms};
use crate::scripts::{
    WEBAUTHN_ADD, WEBAUTHN_CEREMONY_PUT, WEBAUTHN_CEREMONY_TAKE, WEBAUTHN_CLAIM, WEBAUTHN_LIST,
    WEBAUTHN_RELEASE, WEBAUTHN_REMOVE, WEBAUTHN_RENAME, WEBAUTHN_USE,
};
use crate::store::{Op, check_status};

const RECORD: &str = "webauthn credential";
const CEREMONY: &str = "webauthn ceremony";

/// The owner a claim names: the user and the record id (a newline is in neither).
fn owner(user: &str, id: &str) -> String {
    format!("{user}\n{id}")
}

fn flag(value: bool) -> &'static str {
    if value { "1" } else { "0" }
}

fn read_flag(f: &Fields, field: &str) -> Result<bool> {
    match f.bytes(field)? {
        b"1" => Ok(true),
        b"0" => Ok(false),
        _ => Err(StoreError::corrupt(format!("{RECORD} field {field}"))),
    }
}

/// Splits `{id, field, value, ...}` into a credential of `user`.
fn decode_row(user: &str, row: Vec<Vec<u8>>) -> Result<WebAuthnCredential> {
    let mut row = row.into_iter();
    let id = row
        .next()
        .and_then(|id| String::from_utf8(id).ok())
        .ok_or_else(|| StoreError::corrupt("webauthn credential id"))?;
    let f = Fields::from_flat(RECORD, row)?;
    Ok(WebAuthnCredential {
        user: user.to_owned(),
        id,
        rp_id: f.text("rp")?,
        credential_id: f.bytes("cid")?.to_vec(),
        label: f.text("label")?,
        credential: f.bytes("cred")?.to_vec(),
        sign_count: u32::try_from(f.u64("sign")?)
            .map_err(|_| StoreError::corrupt("webauthn credential field sign"))?,
        backup_eligible: read_flag(&f, "be")?,
        backup_state: read_flag(&f, "bs")?,
        use_count: f.u64("uses")?,
        created_at: f.time("created")?,
        last_used_at: f.opt_time("used")?,
    })
}

impl RedisStore {
    async fn release_claim(&self, claim: String, owner: &str) -> Result<()> {
        let _: i64 = self
            .eval(WEBAUTHN_RELEASE.on(&self.keys, claim).arg(owner), Op::Write)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl WebAuthnStore for RedisStore {
    async fn add_webauthn_credential(&self, c: WebAuthnCredential) -> Result<()> {
        let claim = self.keys.webauthn_claim(&c.rp_id, &c.credential_id);
        let me = owner(&c.user, &c.id);
        let status: String = self
            .eval(
                WEBAUTHN_CLAIM.on(&self.keys, claim.clone()).arg(&me),
                Op::Write,
            )
            .await?;
        check_status(
            &status,
            "a credential with this id is registered for this relying party",
        )?;
        let mut add = WEBAUTHN_ADD.on(&self.keys, self.keys.webauthn_base(&c.user) + &c.id);
        add.key(self.keys.webauthn_index(&c.user))
            .arg(&c.id)
            .arg("rp")
            .arg(&c.rp_id)
            .arg("cid")
            .arg(c.credential_id.as_slice())
            .arg("label")
            .arg(&c.label)
            .arg("cred")
            .arg(c.credential.as_slice())
            .arg("sign")
            .arg(c.sign_count)
            .arg("be")
            .arg(flag(c.backup_eligible))
            .arg("bs")
            .arg(flag(c.backup_state))
            .arg("uses")
            .arg(c.use_count)
            .arg("created")
            .arg(to_ms(c.created_at));
        if let Some(used) = c.last_used_at {
            add.arg("used").arg(to_ms(used));
        }
        let status: String = self.eval(&add, Op::Write).await?;
        if status == "conflict" {
            self.release_claim(claim, &me).await?;
        }
        check_status(&status, "the user has a credential with this id")
    }

    async fn webauthn_credentials(&self, user: &str) -> Result<Vec<WebAuthnCredential>> {
        let rows: Vec<Vec<Vec<u8>>> = self
            .eval(
                WEBAUTHN_LIST
                    .on(&self.keys, self.keys.webauthn_index(user))
                    .arg(self.keys.webauthn_base(user)),
                Op::Read,
            )
            .await?;
        let mut list = rows
            .into_iter()
            .map(|row| decode_row(user, row))
            .collect::<Result<Vec<_>>>()?;
        list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(list)
    }

    async fn rename_webauthn_credential(&self, user: &str, id: &str, label: &str) -> Result<bool> {
        let done: i64 = self
            .eval(
                WEBAUTHN_RENAME
                    .on(&self.keys, self.keys.webauthn_base(user) + id)
                    .arg(label),
                Op::Write,
            )
            .await?;
        Ok(done == 1)
    }

    async fn remove_webauthn_credential(&self, user: &str, id: &str) -> Result<bool> {
        let found: Vec<Vec<u8>> = self
            .eval(
                WEBAUTHN_REMOVE
                    .on(&self.keys, self.keys.webauthn_base(user) + id)
                    .key(self.keys.webauthn_index(user))
                    .arg(id),
                Op::Guard,
            )
            .await?;
        let [rp, cid] = found.as_slice() else {
            return Ok(false);
        };
        let rp = std::str::from_utf8(rp).map_err(|_| StoreError::corrupt("webauthn rp id"))?;
        self.release_claim(self.keys.webauthn_claim(rp, cid), &owner(user, id))
            .await?;
        Ok(true)
    }

    async fn record_webauthn_use(&self, user: &str, id: &str, update: WebAuthnUse) -> Result<bool> {
        let done: i64 = self
            .eval(
                WEBAUTHN_USE
                    .on(&self.keys, self.keys.webauthn_base(user) + id)
                    .arg(update.expected_use_count)
                    .arg("sign")
                    .arg(update.sign_count)
                    .arg("be")
                    .arg(flag(update.backup_eligible))
                    .arg("bs")
                    .arg(flag(update.backup_state))
                    .arg("cred")
                    .arg(update.credential.as_slice())
                    .arg("used")
                    .arg(to_ms(update.at)),
                Op::Guard,
            )
            .await?;
        Ok(done == 1)
    }

    async fn put_webauthn_ceremony(&self, ceremony: WebAuthnCeremony) -> Result<()> {
        let expires = to_ms(ceremony.expires_at);
        let status: String = self
            .eval(
                WEBAUTHN_CEREMONY_PUT
                    .on(
                        &self.keys,
                        self.keys.webauthn_ceremony(&ceremony.user, &ceremony.id),
                    )
                    .arg(expires)
                    .arg("kind")
                    .arg(ceremony.kind.as_str())
                    .arg("state")
                    .arg(ceremony.state.as_slice())
                    .arg("created")
                    .arg(to_ms(ceremony.created_at))
                    .arg("expires")
                    .arg(expires),
                Op::Write,
            )
            .await?;
        check_status(&status, "webauthn ceremony")
    }

    async fn take_webauthn_ceremony(
        &self,
        user: &str,
        id: &str,
        kind: CeremonyKind,
        now: SystemTime,
    ) -> Result<Option<WebAuthnCeremony>> {
        let flat: Vec<Vec<u8>> = self
            .eval(
                WEBAUTHN_CEREMONY_TAKE
                    .on(&self.keys, self.keys.webauthn_ceremony(user, id))
                    .arg(kind.as_str())
                    .arg(to_ms(now)),
                Op::Guard,
            )
            .await?;
        if flat.is_empty() {
            return Ok(None);
        }
        let f = Fields::from_flat(CEREMONY, flat)?;
        Ok(Some(WebAuthnCeremony {
            id: id.to_owned(),
            user: user.to_owned(),
            kind: f.text("kind")?.parse()?,
            state: f.bytes("state")?.to_vec(),
            created_at: f.time("created")?,
            expires_at: f.time("expires")?,
        }))
    }
}
