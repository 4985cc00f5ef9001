//! The Lua scripts, one per atomic operation, each compiled in from `src/lua/` after the shared
//! prelude and run with `EVALSHA` (reloaded by `redis::Script` on `NOSCRIPT`).

use std::sync::LazyLock;

use redis::Script;

macro_rules! scripts {
    ($( $(#[$meta:meta])* $name:ident => $file:literal, )+) => {
        $(
            $(#[$meta])*
            pub(crate) static $name: LazyLock<Script> = LazyLock::new(|| {
                Script::new(concat!(include_str!("lua/prelude.lua"), include_str!(concat!("lua/", $file))))
            });
        )+

        /// Every script, to preload them (`SCRIPT LOAD`) or to check them.
        pub(crate) fn all() -> Vec<&'static Script> {
            vec![$( &*$name ),+]
        }
    };
}

scripts! {
    /// `insert_pending_totp`.
    TOTP_INSERT => "totp_insert.lua",
    /// `totp_factors`.
    TOTP_LIST => "totp_list.lua",
    /// `confirm_totp`.
    TOTP_CONFIRM => "totp_confirm.lua",
    /// `advance_totp_step`.
    TOTP_ADVANCE => "totp_advance.lua",
    /// `replace_totp_secret`.
    TOTP_REPLACE_SECRET => "totp_replace_secret.lua",
    /// `delete_totp`.
    TOTP_DELETE => "totp_delete.lua",
    /// `create_challenge`, claiming the id.
    CHALLENGE_CLAIM => "challenge_claim.lua",
    /// `create_challenge`, taking over a stale id mapping.
    CHALLENGE_TAKEOVER => "challenge_takeover.lua",
    /// `create_challenge`, storing it.
    CHALLENGE_CREATE => "challenge_create.lua",
    /// `spend_attempt`.
    CHALLENGE_SPEND => "challenge_spend.lua",
    /// `consume_challenge`.
    CHALLENGE_CONSUME => "challenge_consume.lua",
    /// `replace_challenge_code`.
    CHALLENGE_REPLACE => "challenge_replace.lua",
    /// `delete_challenge`.
    CHALLENGE_DELETE => "challenge_delete.lua",
    /// `delete_challenge`, dropping the id mapping.
    MAPPING_DELETE => "mapping_delete.lua",
    /// `hit_counter` and `hit_counters` (per hash tag).
    COUNTER_HIT => "counter_hit.lua",
    /// `counter` and `counters` (per hash tag).
    COUNTER_READ => "counter_read.lua",
    /// `lock_counter`.
    COUNTER_LOCK => "counter_lock.lua",
    /// `replace_recovery_codes`.
    RECOVERY_REPLACE => "recovery_replace.lua",
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
    AUDIT_APPEND => "audit_append.lua",
    /// `put_settings`.
    SETTINGS_PUT => "settings_put.lua",
}
