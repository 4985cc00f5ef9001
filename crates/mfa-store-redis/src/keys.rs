//! The key schema: every key of one operation shares one hash tag, so each script runs on one
//! Redis Cluster slot.
//!
//! With `P` the validated prefix and `U` the escaped user, the user's tag is `{P:u:U}` and all
//! of the user's records live under it (see `docs/store-redis.md` for the full table). Each of
//! the 16384 slots has a data-loss marker `{P:s:<n>}` ([`MarkerTable`]); every script gets the
//! marker of its slot as `KEYS[1]`.

use std::fmt::{self, Write as _};

use mfa_store::{CounterKey, CounterScope};

use crate::slot::{MarkerTable, slot};
use crate::{Error, KeyPrefix, Result};

/// Builds key names under one validated prefix.
#[derive(Clone)]
pub(crate) struct Keys {
    prefix: KeyPrefix,
    markers: MarkerTable,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Escapes the characters that would end or start a hash tag (`{`, `}`) and the escape
/// character itself, so a user id can never move the tag boundary or pose as another user.
fn escape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for c in part.chars() {
        match c {
            '%' => out.push_str("%25"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            other => out.push(other),
        }
    }
    out
}

impl Keys {
    pub(crate) fn new(prefix: KeyPrefix) -> Result<Self> {
        let markers = MarkerTable::build(prefix.as_str()).ok_or(Error::InvalidPrefix(
            "no data-loss marker name found for every slot",
        ))?;
        Ok(Self { prefix, markers })
    }

    pub(crate) fn prefix(&self) -> &KeyPrefix {
        &self.prefix
    }

    /// `{P:<kind>:<escaped part>}`: a hash tag.
    fn tag(&self, kind: char, part: &str) -> String {
        let mut out = String::with_capacity(self.prefix.as_str().len() + part.len() + 6);
        // Writing to a String cannot fail.
        let _ = write!(out, "{{{}:{kind}:{}}}", self.prefix.as_str(), escape(part));
        out
    }

    /// The data-loss marker of slot `n`'s table entry: `{P:s:<n>}`.
    fn marker_named(&self, n: u32) -> String {
        format!("{{{}:s:{n}}}", self.prefix.as_str())
    }

    /// The data-loss marker of the slot `key` hashes to.
    pub(crate) fn marker_for(&self, key: &str) -> String {
        self.marker_named(self.markers.n(slot(key.as_bytes())))
    }

    /// Every data-loss marker of this prefix, in slot order (16384 keys).
    pub(crate) fn all_markers(&self) -> Vec<String> {
        self.markers.all().map(|n| self.marker_named(n)).collect()
    }

    /// The hash tag of everything `user` owns.
    pub(crate) fn user(&self, user: &str) -> String {
        self.tag('u', user)
    }

    /// `<tag>:totp:` — a factor hash is this followed by the factor id.
    pub(crate) fn totp_base(&self, user: &str) -> String {
        self.user(user) + ":totp:"
    }

    /// The set of a user's factor ids.
    pub(crate) fn totp_index(&self, user: &str) -> String {
        self.user(user) + ":totps"
    }

    /// The challenge id -> user mapping: its own tag, as only the id is known on lookup.
    pub(crate) fn challenge_owner(&self, id: &str) -> String {
        self.tag('c', id)
    }

    /// The route beside the id mapping: the names of the challenge's keys and of its slot's
    /// data-loss marker, so that one script on a standalone server goes from the id to them.
    pub(crate) fn challenge_route(&self, id: &str) -> String {
        self.tag('c', id) + ":route"
    }

    /// `<tag>:ch:` — a challenge hash is this followed by the challenge id.
    pub(crate) fn challenge_base(&self, user: &str) -> String {
        self.user(user) + ":ch:"
    }

    /// The set of the ids of a user's challenges (for `revoke_user_challenges`).
    pub(crate) fn challenge_index(&self, user: &str) -> String {
        self.user(user) + ":chs"
    }

    /// `<tag>:chp:` — the pointer to the user's challenge of a purpose is this followed by the
    /// purpose.
    pub(crate) fn purpose_base(&self, user: &str) -> String {
        self.user(user) + ":chp:"
    }

    /// The hash `locator -> verifier` of a user's recovery codes.
    pub(crate) fn recovery(&self, user: &str) -> String {
        self.user(user) + ":rc"
    }

    /// The hash holding when a user's recovery code set was created.
    pub(crate) fn recovery_meta(&self, user: &str) -> String {
        self.user(user) + ":rcmeta"
    }

    /// The hash tag a counter lives under: the account's for account and account+client
    /// counters, the client's own for client counters.
    pub(crate) fn counter_tag(&self, key: &CounterKey) -> String {
        match &key.scope {
            CounterScope::Account(account) | CounterScope::AccountClient { account, .. } => {
                self.user(account)
            }
            CounterScope::Client(client) => self.tag('k', client),
            // A scope added later: its own tag, from the canonical key.
            _ => self.tag('x', &key.storage_key()),
        }
    }

    /// A counter hash: its tag, then the canonical storage key.
    pub(crate) fn counter(&self, key: &CounterKey) -> String {
        self.counter_tag(key) + ":ctr:" + &key.storage_key()
    }

    /// `<tag>:dev:` — a device hash is this followed by the device id.
    pub(crate) fn device_base(&self, user: &str) -> String {
        self.user(user) + ":dev:"
    }

    /// The hash `token digest -> device id` of a user's devices.
    pub(crate) fn device_tokens(&self, user: &str) -> String {
        self.user(user) + ":devtok"
    }

    /// The set of a user's device ids.
    pub(crate) fn device_index(&self, user: &str) -> String {
        self.user(user) + ":devs"
    }

    /// The sorted set of a user's audit events.
    pub(crate) fn audit(&self, user: &str) -> String {
        self.user(user) + ":audit"
    }

    /// The audit sequence counter of a user.
    pub(crate) fn audit_seq(&self, user: &str) -> String {
        self.user(user) + ":auditseq"
    }

    /// A user's settings hash.
    pub(crate) fn settings(&self, user: &str) -> String {
        self.user(user) + ":settings"
    }

    /// `<tag>:wa:` — a WebAuthn credential hash is this followed by its record id.
    pub(crate) fn webauthn_base(&self, user: &str) -> String {
        self.user(user) + ":wa:"
    }

    /// The set of a user's WebAuthn credential record ids.
    pub(crate) fn webauthn_index(&self, user: &str) -> String {
        self.user(user) + ":was"
    }

    /// A user's WebAuthn ceremony `id`.
    pub(crate) fn webauthn_ceremony(&self, user: &str, id: &str) -> String {
        self.user(user) + ":wac:" + id
    }

    /// The claim of a credential id for a relying party: its own tag, as a credential id is
    /// unique across users (`{P:w:<rp id>:<credential id in hex>}`).
    pub(crate) fn webauthn_claim(&self, rp_id: &str, credential_id: &[u8]) -> String {
        let mut part = String::with_capacity(rp_id.len() + 1 + credential_id.len() * 2);
        part.push_str(rp_id);
        part.push(':');
        for b in credential_id {
            let _ = write!(part, "{b:02x}");
        }
        self.tag('w', &part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new(KeyPrefix::new("mfa").unwrap()).unwrap()
    }

    fn hash_tag(key: &str) -> &str {
        std::str::from_utf8(crate::slot::hash_tag(key.as_bytes())).unwrap()
    }

    #[test]
    fn every_key_of_a_user_shares_the_users_tag() {
        let k = keys();
        let user = "al}ice{x";
        let tag = hash_tag(&k.user(user)).to_owned();
        assert_eq!(tag, "mfa:u:al%7Dice%7Bx");
        let account = CounterKey::new("totp", CounterScope::Account(user.into()));
        let pair = CounterKey::new(
            "totp",
            CounterScope::AccountClient {
                account: user.into(),
                client: "192.0.2.1".into(),
            },
        );
        for key in [
            k.totp_base(user) + "f1",
            k.totp_index(user),
            k.challenge_base(user) + "c1",
            k.challenge_index(user),
            k.purpose_base(user) + "login",
            k.recovery(user),
            k.recovery_meta(user),
            k.counter(&account),
            k.counter(&pair),
            k.device_base(user) + "d1",
            k.device_tokens(user),
            k.device_index(user),
            k.webauthn_base(user) + "w1",
            k.webauthn_index(user),
            k.webauthn_ceremony(user, "registration"),
            k.audit(user),
            k.audit_seq(user),
            k.settings(user),
        ] {
            assert_eq!(hash_tag(&key), tag, "{key}");
        }
    }

    #[test]
    fn client_counters_and_challenge_ids_have_their_own_tags() {
        let k = keys();
        let client = CounterKey::new("totp", CounterScope::Client("alice".into()));
        assert_eq!(hash_tag(&k.counter(&client)), "mfa:k:alice");
        assert_eq!(hash_tag(&k.challenge_owner("alice")), "mfa:c:alice");
        assert_eq!(hash_tag(&k.challenge_route("alice")), "mfa:c:alice");
        assert_ne!(hash_tag(&k.user("alice")), hash_tag(&k.counter(&client)));
    }

    #[test]
    fn a_marker_shares_the_slot_of_the_key_it_guards() {
        let k = keys();
        for key in [k.settings("alice"), k.challenge_owner("c1"), k.user("bob")] {
            let marker = k.marker_for(&key);
            assert!(marker.starts_with("{mfa:s:"), "{marker}");
            assert_eq!(slot(marker.as_bytes()), slot(key.as_bytes()), "{key}");
        }
        let all = k.all_markers();
        assert_eq!(all.len(), crate::slot::SLOTS);
        assert_eq!(
            all.iter().collect::<std::collections::HashSet<_>>().len(),
            all.len()
        );
    }

    #[test]
    fn escaping_keeps_users_apart() {
        let k = keys();
        assert_ne!(k.user("a%7Db"), k.user("a}b"));
        assert_ne!(k.user("a%b"), k.user("a%25b"));
    }
}
