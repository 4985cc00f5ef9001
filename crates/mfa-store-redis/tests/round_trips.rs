//! How many commands each changed operation sends, as `MONITOR` on a server the test started
//! for itself shows them (the commands a script runs inside are not counted: MONITOR marks them
//! `lua`). The store sends each command after the previous one's reply, so commands are round
//! trips here.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::time::Duration;

use common::login::Login;
use common::monitor::Commands;
use common::server::RedisServer;
use common::{now, unique};
use mfa_core::CodeDigest;
use mfa_store::{
    AttemptOutcome, Challenge, ChallengeKind, ChallengeStore, CounterKey, CounterScope,
    CounterStore, FlowStore, MfaSettings, SettingsStore, Take,
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
    // The claim and the challenge in one script (two on a Cluster).
    let mut second = challenge.clone();
    second.id = unique("ch");
    second.purpose = "step-up".into();
    count!("create_challenge", 1, store.create_challenge(second));
    count!(
        "revoke_user_challenges",
        1,
        store.revoke_user_challenges(&user)
    );
    eprintln!("round trips (standalone): {}", report.join(", "));
}

/// A full TOTP login is four round trips on a standalone server: `login_view`, `open_ticket`,
/// `attempt` and `settle`, one script each, whatever the plan's budgets and from which context
/// the code comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_login_is_four_round_trips() {
    let test = "a_totp_login_is_four_round_trips";
    let Some(server) = RedisServer::start(test, &[]).await else {
        return;
    };
    let store = common::initialised(&server.url(), config()).await;
    store.load_scripts().await.unwrap();
    let t = now();
    let login = Login::enrolled(&store, t).await;
    let mut monitor = Commands::start(&[server.url()], store.prefix().as_str()).await;
    let mut report = Vec::new();
    macro_rules! count {
        ($name:expr, $expected:expr, $call:expr) => {{
            let value = $call.await.unwrap();
            let sent = monitor.since_last_mark().await;
            report.push(format!("{} {}", $name, sent.len()));
            assert_eq!(sent.len(), $expected, "{}: {sent:#?}", $name);
            value
        }};
    }

    let view = count!(
        "login_view(5 counters)",
        1,
        store.login_view(&login.user, &login.limit_keys(), t)
    );
    assert!(view.settings.is_some() && view.recovery_codes_left == 3);
    assert_eq!(view.counters.len(), 5);
    let budget = count!(
        "open_ticket",
        1,
        store.open_ticket(
            login.ticket.clone(),
            &login.budget(),
            login.event("login.ticket"),
            t
        )
    );
    assert!(budget.is_taken());
    let attempt = count!(
        "attempt(recognised: 2 takes, factors)",
        1,
        store.attempt(&login.ticket.id, Some(&login.network), true, t)
    );
    assert!(attempt.admitted() && attempt.recognised && attempt.takes.len() == 2);
    assert_eq!(attempt.factors.len(), 1);
    let held = count!("settle", 1, store.settle(login.success(), t));
    assert!(held);
    let total = report.len();

    // From another network: the unrecognised list's four takes, still one script.
    let other = Login::enrolled(&store, t).await;
    other.open_ticket_quietly(&store).await;
    monitor.since_last_mark().await;
    let attempt = count!(
        "attempt(unrecognised: 4 takes on 2 slots, factors)",
        1,
        store.attempt(&other.ticket.id, Some("203.0.113.0/24"), true, t)
    );
    assert!(attempt.admitted() && !attempt.recognised && attempt.takes.len() == 4);

    // A mapping without its route (a challenge made before routes existed): by the user.
    let route = format!("{{{}:c:{}}}:route", store.prefix(), other.ticket.id);
    let mut admin = server.admin().await;
    let deleted: u64 = redis::cmd("DEL")
        .arg(&route)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    monitor.since_last_mark().await;
    let attempt = count!(
        "attempt without a route",
        2,
        store.attempt(&other.ticket.id, None, true, t)
    );
    assert!(matches!(
        attempt.outcome,
        AttemptOutcome::Spent {
            attempts_left_after: 3,
            ..
        }
    ));
    assert!(attempt.admitted() && attempt.factors.len() == 1);
    eprintln!(
        "round trips of a TOTP login (standalone): {} in all; {}",
        total,
        report.join(", ")
    );
}
