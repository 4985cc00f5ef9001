//! The Lua scripts, one per atomic operation, each compiled in from `src/lua/` after the shared
//! prelude and the libraries it names (`src/lua/lib/`: the logic of one entity as local
//! functions, so an entity operation and a coarse flow operation run the same code), and run
//! with `EVALSHA` (loaded with `SCRIPT LOAD` on `NOSCRIPT`).
//!
//! Every script's `KEYS[1]` is the data-loss marker of the slot its records live in; the prelude
//! answers `MFADATALOSS` before the script body runs if that marker is missing. [`Script::on`]
//! puts the right marker first, so no call site can forget it.

use std::sync::LazyLock;

use redis::{Cmd, ToRedisArgs};

use crate::keys::Keys;

/// A script: its source and the SHA-1 `EVALSHA` names it by.
#[derive(Debug)]
pub(crate) struct Script {
    code: &'static str,
    hash: String,
}

impl Script {
    fn new(code: &'static str) -> Self {
        // `redis::Script` computes the SHA-1 the server will know the script by.
        let hash = redis::Script::new(code).get_hash().to_owned();
        Self { code, hash }
    }

    /// An invocation on the records of the slot of `key`: `KEYS[1]` is that slot's data-loss
    /// marker, `KEYS[2]` is `key`.
    pub(crate) fn on(&self, keys: &Keys, key: impl Into<String>) -> Invocation<'_> {
        let key = key.into();
        let mut invocation = self.prepare();
        invocation.key(keys.marker_for(&key)).key(key);
        invocation
    }

    /// An invocation without keys: the caller adds the marker (`KEYS[1]`) and the rest.
    pub(crate) fn prepare(&self) -> Invocation<'_> {
        Invocation {
            script: self,
            keys: Vec::new(),
            args: Vec::new(),
        }
    }

    /// `SCRIPT LOAD <source>`.
    pub(crate) fn load_command(&self) -> Cmd {
        let mut cmd = redis::cmd("SCRIPT");
        cmd.arg("LOAD").arg(self.code);
        cmd
    }
}

/// One call of a script: its keys and arguments.
///
/// No `Debug`: arguments carry digests and sealed secrets.
pub(crate) struct Invocation<'s> {
    script: &'s Script,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

impl<'s> Invocation<'s> {
    /// Adds a key (`KEYS[i]`).
    pub(crate) fn key(&mut self, key: impl ToRedisArgs) -> &mut Self {
        key.write_redis_args(&mut self.keys);
        self
    }

    /// Adds an argument (`ARGV[i]`).
    pub(crate) fn arg(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        arg.write_redis_args(&mut self.args);
        self
    }

    /// The script called.
    pub(crate) fn script(&self) -> &'s Script {
        self.script
    }

    /// `EVALSHA <sha> <number of keys> <keys...> <args...>`.
    pub(crate) fn command(&self) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.script.hash.as_str())
            .arg(self.keys.len())
            .arg(self.keys.as_slice())
            .arg(self.args.as_slice());
        cmd
    }
}

macro_rules! scripts {
    ($( $(#[$meta:meta])* $name:ident => $file:literal $(with [$($lib:literal),+])?, )+) => {
        $(
            $(#[$meta])*
            pub(crate) static $name: LazyLock<Script> = LazyLock::new(|| {
                Script::new(concat!(
                    include_str!("lua/prelude.lua"),
                    $($(include_str!(concat!("lua/lib/", $lib)),)+)?
                    include_str!(concat!("lua/", $file)),
                ))
            });
        )+

        /// Every script, to preload them (`SCRIPT LOAD`) or to check them.
        pub(crate) fn all() -> Vec<&'static Script> {
            vec![$( &*$name ),+]
        }
    };
}

scripts! {
    /// `add_webauthn_credential`: claiming the credential id for the relying party.
    WEBAUTHN_CLAIM => "webauthn_claim.lua",
    /// Releasing a credential-id claim (a refused add, a removal).
    WEBAUTHN_RELEASE => "webauthn_release.lua",
    /// `add_webauthn_credential`: the user's record.
    WEBAUTHN_ADD => "webauthn_add.lua",
    /// `webauthn_credentials`.
    WEBAUTHN_LIST => "webauthn_list.lua",
    /// `rename_webauthn_credential`.
    WEBAUTHN_RENAME => "webauthn_rename.lua",
    /// `remove_webauthn_credential`.
    WEBAUTHN_REMOVE => "webauthn_remove.lua",
    /// `record_webauthn_use`.
    WEBAUTHN_USE => "webauthn_use.lua",
    /// `put_webauthn_ceremony`.
    WEBAUTHN_CEREMONY_PUT => "webauthn_ceremony_put.lua",
    /// `take_webauthn_ceremony`.
    WEBAUTHN_CEREMONY_TAKE => "webauthn_ceremony_take.lua",
    /// `insert_pending_totp`.
    TOTP_INSERT => "totp_insert.lua" with ["totp.lua"],
    /// `totp_factor`.
    TOTP_GET => "totp_get.lua" with ["totp.lua"],
    /// `totp_factors`.
    TOTP_LIST => "totp_list.lua" with ["totp.lua"],
    /// `confirm_totp`.
    TOTP_CONFIRM => "totp_confirm.lua",
    /// `advance_totp_step`.
    TOTP_ADVANCE => "totp_advance.lua" with ["totp.lua"],
    /// `replace_totp_secret`.
    TOTP_REPLACE_SECRET => "totp_replace_secret.lua",
    /// `delete_totp`.
    TOTP_DELETE => "totp_delete.lua",
    /// Every operation by challenge id: the id -> user mapping.
    MAPPING_GET => "mapping_get.lua",
    /// `create_challenge` and `open_ticket` when the id is held: claiming the id.
    CHALLENGE_CLAIM => "challenge_claim.lua" with ["challenge.lua"],
    /// `create_challenge` and `open_ticket`: taking over a stale id mapping.
    CHALLENGE_TAKEOVER => "challenge_takeover.lua" with ["challenge.lua"],
    /// `challenge`.
    CHALLENGE_GET => "challenge_get.lua",
    /// `spend_attempt`.
    CHALLENGE_SPEND => "challenge_spend.lua" with ["challenge.lua"],
    /// `consume_challenge`.
    CHALLENGE_CONSUME => "challenge_consume.lua" with ["challenge.lua"],
    /// `replace_challenge_code`.
    CHALLENGE_REPLACE => "challenge_replace.lua",
    /// `delete_challenge`.
    CHALLENGE_DELETE => "challenge_delete.lua",
    /// `revoke_user_challenges`.
    CHALLENGE_REVOKE_USER => "challenge_revoke_user.lua",
    /// `delete_challenge`, dropping the id mapping.
    MAPPING_DELETE => "mapping_delete.lua",
    /// `replace_challenge_code`, extending the id mapping.
    MAPPING_EXTEND => "mapping_extend.lua",
    /// `take_counter`, `take_counters` (and so `hit_counter`).
    COUNTER_TAKE => "counter_take.lua" with ["counter.lua"],
    /// `counter` and `counters`.
    COUNTER_READ => "counter_read.lua" with ["counter.lua"],
    /// `refund_counter`.
    COUNTER_REFUND => "counter_refund.lua" with ["counter.lua"],
    /// `lock_counter`.
    COUNTER_LOCK => "counter_lock.lua" with ["counter.lua"],
    /// `replace_recovery_codes`.
    RECOVERY_REPLACE => "recovery_replace.lua",
    /// `find_recovery_code`.
    RECOVERY_FIND => "recovery_find.lua",
    /// `consume_recovery_code`.
    RECOVERY_CONSUME => "recovery_consume.lua",
    /// `remaining_recovery_codes`.
    RECOVERY_COUNT => "recovery_count.lua",
    /// `insert_trusted_device`.
    DEVICE_INSERT => "device_insert.lua",
    /// `check_and_touch_device`.
    DEVICE_CHECK => "device_check.lua",
    /// `rotate_device_token`.
    DEVICE_ROTATE => "device_rotate.lua",
    /// `trusted_devices`.
    DEVICE_LIST => "device_list.lua",
    /// `revoke_device`.
    DEVICE_REVOKE => "device_revoke.lua",
    /// `revoke_all_devices`.
    DEVICE_REVOKE_ALL => "device_revoke_all.lua",
    /// `append_audit`.
    AUDIT_APPEND => "audit_append.lua" with ["audit.lua"],
    /// `audit_events`.
    AUDIT_LIST => "audit_list.lua",
    /// `settings`.
    SETTINGS_GET => "settings_get.lua" with ["settings.lua"],
    /// `put_settings`.
    SETTINGS_PUT => "settings_put.lua",
    /// `login_view`.
    FLOW_VIEW => "flow_view.lua" with ["settings.lua", "counter.lua"],
    /// `open_ticket`, and `create_challenge` (an opening without budget and audit).
    FLOW_OPEN => "flow_open.lua" with ["flow.lua", "counter.lua", "challenge.lua", "audit.lua"],
    /// `attempt`: the try, the plan's takes (all, or those on the user's slot), the factors.
    FLOW_ATTEMPT => "flow_attempt.lua" with ["flow.lua", "challenge.lua", "counter.lua", "totp.lua"],
    /// `attempt` on a Cluster: a run of the plan's takes after the try, then the factors.
    FLOW_TAKES => "flow_takes.lua" with ["counter.lua", "totp.lua"],
    /// `settle`.
    FLOW_SETTLE => "flow_settle.lua" with ["flow.lua", "challenge.lua", "totp.lua", "counter.lua", "audit.lua"],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_starts_with_the_marker_check() {
        for script in all() {
            assert!(
                script.code.contains("redis.call('EXISTS', KEYS[1]) == 0"),
                "the prelude checks KEYS[1]"
            );
            assert_eq!(script.hash.len(), 40);
        }
    }
}
