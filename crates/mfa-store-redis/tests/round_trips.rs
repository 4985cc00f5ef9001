//! How many commands each changed operation sends, as `MONITOR` on a server the test started
//! for itself shows them (the commands a script runs inside are not counted: MONITOR marks them
//! `lua`). The store sends each command after the previous one's reply, so commands are round
//! trips here.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::time::Duration;

use common::monitor::Commands;
use common::server::RedisServer;
use common::{now, unique};
use mfa_core::CodeDigest;
use mfa_store::{
    Challenge, ChallengeKind, ChallengeStore, CounterKey, CounterScope, CounterStore, MfaSettings,
    SettingsStore, Take,
};
use mfa_store_redis::testkit::config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_changed_operation_is_one_round_trip() {
    let test = "each_changed_operation_is_one_round_trip";
    let Some(server) = RedisServer::start(test, &[]).await else {
        return;
    };
    let store = common::initialised(&server.url(), config()).await;
    store.load_scripts().await.unwrap();
    let mut monitor = Commands::start(&[server.url()], store.prefix().as_str()).await;
    let (user, t, window) = (unique("rt"), now(), Duration::from_secs(900));
    let account = CounterKey::new("totp", CounterScope::Account(user.clone()));
    let pair = CounterKey::new(
        "totp",
        CounterScope::AccountClient {
            account: user.clone(),
            client: "192.0.2.1".into(),
        },
    );
    let client = CounterKey::new("totp", CounterScope::Client("192.0.2.1".into()));
    let takes = [
        Take::new(account.clone(), window, 5),
        Take::new(pair.clone(), window, 5),
        Take::new(client.clone(), window, 5),
    ];
    let challenge = Challenge {
        id: unique("ch"),
        user: user.clone(),
        purpose: "login".into(),
        kind: ChallengeKind::LoginTicket,
        code_digest: Some(CodeDigest::from_bytes([1; 32])),
        link_digest: None,
        binding_digest: None,
        created_at: t,
        expires_at: t + window,
        attempts_left: 3,
        consumed: false,
        plan: None,
    };
    store.create_challenge(challenge.clone()).await.unwrap();
    monitor.since_last_mark().await;

    let mut report = Vec::new();
    macro_rules! count {
        ($name:literal, $expected:expr, $call:expr) => {{
            $call.await.unwrap();
            let sent = monitor.since_last_mark().await;
            report.push(format!("{} {}", $name, sent.len()));
            assert_eq!(sent.len(), $expected, "{}: {sent:#?}", $name);
        }};
    }
    count!(
        "take_counter",
        1,
        store.take_counter(&account, window, 5, t)
    );
    count!(
        "take_counters(account, account+client, client)",
        1,
        store.take_counters(&takes, t)
    );
    count!("hit_counter", 1, store.hit_counter(&client, window, t));
    count!("refund_counter", 1, store.refund_counter(&account, t));
    count!(
        "counters(3 keys)",
        1,
        store.counters(&[account, pair, client], t)
    );
    count!(
        "put_settings",
        1,
        store.put_settings(MfaSettings::new(user.clone()))
    );
    count!("settings", 1, store.settings(&user));
    count!("spend_attempt", 2, store.spend_attempt(&challenge.id, t));
    // The id mapping, the user's slot, and the mapping's TTL raised to the new expiry.
    count!(
        "replace_challenge_code",
        3,
        store.replace_challenge_code(
            &challenge.id,
            ChallengeKind::SmsCode,
            CodeDigest::from_bytes([2; 32]),
            t + window,
            t
        )
    );
    count!(
        "revoke_user_challenges",
        1,
        store.revoke_user_challenges(&user)
    );
    eprintln!("round trips (standalone): {}", report.join(", "));
}
