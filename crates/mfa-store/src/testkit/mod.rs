//! The conformance test kit: the checks every [`Store`] must pass, including the concurrency
//! claims, runnable with [`conformance_tests!`](crate::conformance_tests) or [`run_all`].
//!
//! Each check is a public `async fn(SharedStore)` in the module of its entity, so a backend can
//! also call one directly while debugging it. Checks use user ids with a random suffix and real
//! "now"-based times in whole seconds, so they can share one database with each other and with
//! earlier runs: a record a check wants expired is written with an expiry in the real past, and
//! every other record lives at least ten minutes past the real time the check started.

// The kit's job is to fail loudly: assertions and unwraps are how a check reports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::missing_panics_doc
)]

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_core::{CodeDigest, Keyring, SealedSecret, SealingKey, Secret};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::Barrier;

use crate::Store;

pub use self::instrumented::Instrumented;

pub mod audit;
pub mod challenge;
pub mod counter;
pub mod device;
pub mod flow;
mod instrumented;
pub mod recovery;
pub mod settings;
pub mod totp;
pub mod webauthn;

/// What the generated tests need, re-exported so a backend crate needs no `tokio` of its own.
#[doc(hidden)]
pub mod __private {
    pub use tokio;
}

/// The store handle every check takes.
pub type SharedStore = Arc<dyn Store>;

/// How many tasks a concurrency check starts at once.
pub const CONCURRENCY: usize = 50;

/// Wraps a store for the checks.
pub fn shared<S: Store + 'static>(store: S) -> SharedStore {
    Arc::new(store)
}

/// The future of one check.
pub type CheckFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// One named check of the kit.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// `<entity>::<check>`, as in the generated test names.
    pub name: &'static str,
    /// Runs the check against a store; panics on a failure.
    pub run: fn(SharedStore) -> CheckFuture,
}

/// Lists every check, grouped by entity, and hands the list to `$callback`. The single source
/// of [`CHECKS`] and of the tests [`conformance_tests!`](crate::conformance_tests) generates.
#[doc(hidden)]
#[macro_export]
macro_rules! __mfa_store_checks {
    ($callback:ident { $($args:tt)* }) => {
        $crate::$callback! {
            { $($args)* }
            totp: [
                insert_pending_and_get,
                insert_replaces_pending_only,
                confirm_only_if_pending,
                confirm_race_once,
                advance_step_only_forward,
                advance_step_race_once,
                replace_secret_compare_and_swap,
                delete_factor,
            ],
            challenge: [
                create_and_get,
                create_replaces_same_purpose,
                create_race_leaves_one,
                spend_attempt_counts_down,
                spend_attempt_race_bounded,
                consume_once,
                consume_race_once,
                replace_code_keeps_id_and_tries,
                delete_and_purge,
                revoke_user_challenges_removes_all,
            ],
            recovery: [
                replace_find_consume,
                replace_discards_old_set,
                users_are_separate,
                consume_race_once,
            ],
            counter: [
                hit_counts_in_window,
                lock_extends_and_retains,
                lock_later_end_extends,
                lock_on_absent_key,
                lock_restores_allowance_after_it_ends,
                reset_clears,
                keys_are_separate,
                hit_race_counts_all,
                take_stops_at_limit,
                take_race_bounded,
                take_batch_stops_at_first_refusal,
                refund_returns_one_unit,
                batch_ops_match_single_ops,
                purge_expired,
            ],
            device: [
                insert_check_and_touch,
                rotate_once,
                rotate_race_once,
                revoke_one_and_all,
                list_and_purge,
            ],
            audit: [
                newest_first_with_limit,
                append_race_keeps_all,
            ],
            settings: [
                put_get_replace,
            ],
            webauthn: [
                credential_add_list_rename_remove,
                credential_id_unique_per_relying_party,
                credential_add_race_once,
                use_compare_and_set,
                use_race_once,
                users_are_separate,
                ceremony_taken_once,
                ceremony_take_race_once,
                ceremony_put_replaces_and_purge,
            ],
            flow: [
                login_view_reads_settings_codes_and_counters,
                open_ticket_only_within_its_budget,
                attempt_spends_takes_and_reads,
                attempt_race_bounded,
                settle_applies_only_when_its_conditions_hold,
                settle_consumes_once,
                settle_lists_apply_in_order,
                settle_stays_within_its_user,
                open_ticket_conflict_changes_nothing,
            ],
        }
    };
}

/// Builds [`CHECKS`] from the list.
#[doc(hidden)]
#[macro_export]
macro_rules! __mfa_store_check_table {
    ({} $($group:ident : [$($check:ident),* $(,)?]),* $(,)?) => {
        /// Every check of the kit, in a stable order.
        pub const CHECKS: &[Check] = &[
            $($(
                Check {
                    name: concat!(stringify!($group), "::", stringify!($check)),
                    run: |store| Box::pin($crate::testkit::$group::$check(store)),
                },
            )*)*
        ];
    };
}

__mfa_store_checks!(__mfa_store_check_table {});

/// Generates the tests [`conformance_tests!`](crate::conformance_tests) promises.
#[doc(hidden)]
#[macro_export]
macro_rules! __mfa_store_emit_tests {
    ({ $backend:ident, $make:expr } $($group:ident : [$($check:ident),* $(,)?]),* $(,)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            async fn __mfa_store_make() -> $crate::testkit::SharedStore {
                $crate::testkit::shared($make.await)
            }

            $(
                mod $group {
                    use $crate::testkit::__private::tokio;

                    $(
                        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                        async fn $check() {
                            $crate::testkit::$group::$check(super::__mfa_store_make().await).await;
                        }
                    )*
                }
            )*
        }
    };
}

/// Generates the whole conformance suite for a backend: one
/// `#[tokio::test(flavor = "multi_thread", worker_threads = 4)]` per check, named
/// `<backend>::<entity>::<check>` so a failure names both the backend and the check.
///
/// The second argument is an expression of a future that makes a fresh store handle (it is
/// awaited once per test; handles may share one database).
///
/// ```ignore
/// // tests/conformance.rs of a backend crate, with mfa-store's `testkit` feature on
/// mfa_store::conformance_tests!(postgres, async { PgStore::connect(&url()).await.unwrap() });
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($backend:ident, $make:expr $(,)?) => {
        $crate::__mfa_store_checks!(__mfa_store_emit_tests { $backend, $make });
    };
}

/// Runs every check of the kit against stores from `make`, one fresh store per check, and
/// panics with the list of failed checks, each named `<backend>::<entity>::<check>`.
///
/// Call it from a multi-threaded runtime (`#[tokio::test(flavor = "multi_thread")]`): the
/// concurrency checks need real parallelism. Prefer [`conformance_tests!`](crate::conformance_tests),
/// which runs the checks as separate tests.
pub async fn run_all<S, F, Fut>(backend: &str, make: F)
where
    S: Store + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    assert!(
        Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread,
        "mfa-store conformance for `{backend}` must run on a multi-threaded tokio runtime"
    );
    let mut failures = Vec::new();
    for check in CHECKS {
        let store = shared(make().await);
        if let Err(error) = tokio::spawn((check.run)(store)).await {
            let why = if error.is_panic() {
                panic_message(error.into_panic())
            } else {
                error.to_string()
            };
            failures.push(format!("{backend}::{}: {why}", check.name));
        }
    }
    assert!(
        failures.is_empty(),
        "mfa-store conformance: {} of {} checks failed:\n{}",
        failures.len(),
        CHECKS.len(),
        failures.join("\n")
    );
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or("panic", |m| m)
            .to_owned(),
    }
}

// -- helpers of the checks -------------------------------------------------------------------

/// A user id no other check or run uses: `tag` and 64 random bits.
pub(crate) fn unique(tag: &str) -> String {
    format!("{tag}-{:016x}", getrandom::u64().expect("the OS RNG works"))
}

/// A random digest (stands for a peppered digest of a code or token).
pub(crate) fn digest() -> CodeDigest {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).expect("the OS RNG works");
    CodeDigest::from_bytes(bytes)
}

/// The digests' bytes, to compare in assertions.
pub(crate) fn bytes(digest: Option<&CodeDigest>) -> Option<[u8; 32]> {
    digest.map(|d| *d.as_bytes())
}

/// A well-formed sealed secret, bound to `user` and `factor`.
pub(crate) fn sealed(user: &str, factor: &str) -> SealedSecret {
    let keyring = Keyring::new(1, SealingKey::generate().expect("the OS RNG works"));
    let secret = Secret::generate().expect("the OS RNG works");
    keyring.seal(&secret, user, factor).expect("sealing works")
}

/// The real current time in whole seconds: the base of every check's times.
pub(crate) fn base() -> SystemTime {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `n` seconds.
pub(crate) const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Runs `task(i)` for `i` in `0..n` as `n` spawned tasks released together by a barrier, and
/// returns their results in order of `i`.
pub(crate) async fn race<T, F, Fut>(n: usize, task: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            let run = task(i);
            tokio::spawn(async move {
                barrier.wait().await;
                run.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for handle in handles {
        results.push(handle.await.expect("a racing task panicked"));
    }
    results
}
