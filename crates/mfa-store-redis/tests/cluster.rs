//! The store on a real Redis Cluster (`MFA_REDIS_CLUSTER_URLS`, default the three masters of
//! `.ci/redis-cluster.sh` on 127.0.0.1:7001-7003): the whole conformance kit, and where the
//! keys land. Skipped when the Cluster is absent, failed under `MFA_REQUIRE_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::login::Login;
use common::monitor::Commands;
use common::{now, unique};
use mfa_core::{
    Algorithm, ChallengeKind, CodeDigest, Digits, Keyring, Period, RecoveryVerifier, SealingKey,
    Secret,
};
use mfa_store::{
    AuditEvent, AuditKind, AuditOutcome, Challenge, ChallengeStore, ClientInfo, CounterKey,
    CounterScope, CounterStore, FlowStore, MfaSettings, NewTotpFactor, RecoveryCodeRecord,
    RecoveryCodeStore, SettingsStore, Settlement, Take, TotpFactorStore, TrustedDevice,
    TrustedDeviceStore,
};
use mfa_store::{
    AuditStore, CeremonyKind, FactorKind, WebAuthnCeremony, WebAuthnCredential, WebAuthnStore,
};
use mfa_store_redis::RedisStore;
use mfa_store_redis::testkit::{cluster_urls, throwaway_cluster_store};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_conformance() {
    let Some((store, cleanup)) = throwaway_cluster_store("cluster_conformance").await else {
        return;
    };
    assert!(store.is_cluster());
    let nodes = store.verify_deployment().await.unwrap();
    let passed = common::run_conformance(&store, "redis-cluster").await;
    cleanup.await;
    eprintln!(
        "redis cluster conformance: {passed} checks passed on {} nodes",
        nodes.len()
    );
}

/// Writes one record of every kind for `user`.
async fn every_record(store: &RedisStore, user: &str) {
    let t = now();
    let mut settings = MfaSettings::new(user);
    settings.enabled.insert(FactorKind::Totp);
    store.put_settings(settings).await.unwrap();
    let keyring = Keyring::new(1, SealingKey::generate().unwrap());
    let sealed_secret = keyring
        .seal(&Secret::generate().unwrap(), user, "f1")
        .unwrap();
    store
        .insert_pending_totp(NewTotpFactor {
            user: user.to_owned(),
            id: "f1".to_owned(),
            sealed_secret,
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
            period: Period::THIRTY_SECONDS,
            label: "Phone".to_owned(),
            created_at: t,
        })
        .await
        .unwrap();
    assert!(store.confirm_totp(user, "f1", 1, t).await.unwrap());
    store
        .create_challenge(Challenge {
            id: unique("ch"),
            user: user.to_owned(),
            purpose: "login".to_owned(),
            kind: ChallengeKind::EmailCode,
            code_digest: Some(CodeDigest::from_bytes([1; 32])),
            link_digest: None,
            binding_digest: None,
            created_at: t,
            expires_at: t + Duration::from_secs(600),
            attempts_left: 3,
            consumed: false,
            plan: None,
        })
        .await
        .unwrap();
    let codes = vec![RecoveryCodeRecord {
        locator: CodeDigest::from_bytes([2; 32]),
        verifier: RecoveryVerifier::Peppered(CodeDigest::from_bytes([3; 32])),
    }];
    store.replace_recovery_codes(user, codes, t).await.unwrap();
    store
        .insert_trusted_device(TrustedDevice {
            user: user.to_owned(),
            id: "d1".to_owned(),
            token_digest: CodeDigest::from_bytes([4; 32]),
            label: "Firefox".to_owned(),
            created_at: t,
            expires_at: t + Duration::from_secs(3600),
            last_seen: t,
        })
        .await
        .unwrap();
    store
        .add_webauthn_credential(WebAuthnCredential {
            user: user.to_owned(),
            id: "w1".to_owned(),
            rp_id: "example.com".to_owned(),
            credential_id: unique("cred").into_bytes(),
            label: "YubiKey".to_owned(),
            credential: b"{}".to_vec(),
            sign_count: 0,
            backup_eligible: false,
            backup_state: false,
            use_count: 0,
            created_at: t,
            last_used_at: None,
        })
        .await
        .unwrap();
    store
        .put_webauthn_ceremony(WebAuthnCeremony {
            id: "registration".to_owned(),
            user: user.to_owned(),
            kind: CeremonyKind::Registration,
            state: b"state".to_vec(),
            created_at: t,
            expires_at: t + Duration::from_secs(600),
        })
        .await
        .unwrap();
    let account = CounterKey::new("totp", CounterScope::Account(user.to_owned()));
    let pair = CounterKey::new(
        "totp",
        CounterScope::AccountClient {
            account: user.to_owned(),
            client: "192.0.2.1".to_owned(),
        },
    );
    let takes = [
        Take::new(account, Duration::from_secs(900), 5),
        Take::new(pair, Duration::from_secs(900), 5),
    ];
    assert_eq!(store.take_counters(&takes, t).await.unwrap().len(), 2);
    store
        .append_audit(AuditEvent {
            at: t,
            user: user.to_owned(),
            kind: AuditKind::TOTP_CONFIRMED,
            outcome: AuditOutcome::Success,
            client: ClientInfo::default(),
            actor: None,
        })
        .await
        .unwrap();
}

/// The masters' addresses, from `CLUSTER NODES` of the first seed.
async fn masters() -> Vec<String> {
    let mut conn = common::admin(&cluster_urls()[0]).await;
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut conn)
        .await
        .unwrap();
    nodes
        .lines()
        .filter(|line| line.split(' ').nth(2).is_some_and(|f| f.contains("master")))
        .filter_map(|line| line.split(' ').nth(1))
        .map(|address| address.split('@').next().unwrap().to_owned())
        .collect()
}

/// Every key of a user (`{P:u:<user>}...`) is in one slot, on one master, as the server itself
/// computes slots (`CLUSTER KEYSLOT`); different users spread over every master.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_users_keys_share_one_slot_and_users_spread_over_the_masters() {
    let Some((store, cleanup)) =
        throwaway_cluster_store("a_users_keys_share_one_slot_and_users_spread_over_the_masters")
            .await
    else {
        return;
    };
    let users: Vec<String> = (0..60).map(|_| unique("spread")).collect();
    for user in &users {
        every_record(&store, user).await;
    }

    let pattern = format!("{{{}:u:*", store.prefix());
    // user tag -> (masters holding its keys, slots of its keys, how many keys)
    let mut placement: BTreeMap<String, (BTreeSet<String>, BTreeSet<u16>, usize)> = BTreeMap::new();
    let masters = masters().await;
    for master in &masters {
        let mut conn = common::admin(&format!("redis://{master}")).await;
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .unwrap();
            for key in keys {
                let slot: u16 = redis::cmd("CLUSTER")
                    .arg("KEYSLOT")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                let tag = key.split('}').next().unwrap().to_owned();
                let entry = placement.entry(tag).or_default();
                entry.0.insert(master.clone());
                entry.1.insert(slot);
                entry.2 += 1;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }

    assert_eq!(placement.len(), users.len(), "every user's keys were found");
    let mut per_master: BTreeMap<&str, usize> = masters.iter().map(|m| (m.as_str(), 0)).collect();
    for (tag, (nodes, slots, keys)) in &placement {
        assert_eq!(nodes.len(), 1, "{tag}: keys on {nodes:?}");
        assert_eq!(slots.len(), 1, "{tag}: keys in slots {slots:?}");
        assert!(*keys >= 12, "{tag}: only {keys} keys");
        *per_master.get_mut(nodes.first().unwrap().as_str()).unwrap() += 1;
    }
    assert!(
        per_master.values().all(|&n| n > 0),
        "users on every master: {per_master:?}"
    );
    let keys_per_user: BTreeSet<usize> = placement.values().map(|p| p.2).collect();
    eprintln!(
        "{} users, {keys_per_user:?} keys each, each user's keys in one slot; users per master: \
         {per_master:?}",
        users.len()
    );
    cleanup.await;
}

/// The slot of `key`, as the cluster computes it.
async fn keyslot(key: &str) -> u16 {
    let mut conn = common::admin(&cluster_urls()[0]).await;
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// A batch of takes costs one script per run of consecutive same-slot takes (they stop at the
/// first refusal, in order), a batch read one script per slot; counted by the masters' MONITOR.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_cost_one_script_per_slot_run() {
    let Some((store, cleanup)) =
        throwaway_cluster_store("batches_cost_one_script_per_slot_run").await
    else {
        return;
    };
    // Loaded first: a NOSCRIPT answer and the resend would be counted as scripts too.
    store.load_scripts().await.unwrap();
    let (user, client, t) = (unique("batch"), unique("203.0.113.9"), now());
    let user_slot = keyslot(&format!("{{{}:u:{user}}}", store.prefix())).await;
    let client_slot = keyslot(&format!("{{{}:k:{client}}}", store.prefix())).await;
    let slots = if user_slot == client_slot { 1 } else { 2 };
    let window = Duration::from_secs(900);
    let account = CounterKey::new("totp", CounterScope::Account(user.clone()));
    let pair = CounterKey::new(
        "totp",
        CounterScope::AccountClient {
            account: user.clone(),
            client: client.clone(),
        },
    );
    let by_client = CounterKey::new("totp", CounterScope::Client(client));
    let masters: Vec<String> = masters()
        .await
        .iter()
        .map(|m| format!("redis://{m}"))
        .collect();
    let mut monitor = Commands::start(&masters, store.prefix().as_str()).await;

    let grouped = [
        Take::new(account.clone(), window, 5),
        Take::new(pair.clone(), window, 5),
        Take::new(by_client.clone(), window, 5),
    ];
    assert_eq!(store.take_counters(&grouped, t).await.unwrap().len(), 3);
    let first = monitor.since_last_mark().await.len();
    let interleaved = [
        Take::new(account.clone(), window, 5),
        Take::new(by_client.clone(), window, 5),
        Take::new(pair.clone(), window, 5),
    ];
    assert_eq!(store.take_counters(&interleaved, t).await.unwrap().len(), 3);
    let second = monitor.since_last_mark().await.len();
    store
        .counters(&[account, by_client, pair], t)
        .await
        .unwrap();
    let read = monitor.since_last_mark().await.len();
    eprintln!(
        "cluster, {slots} slot(s): take_counters(account, account+client, client) {first} \
         scripts, take_counters(account, client, account+client) {second}, counters(3 keys) \
         {read} (concurrent)"
    );
    assert_eq!(first, slots, "one script per run of same-slot takes");
    assert_eq!(second, if slots == 1 { 1 } else { 3 });
    assert_eq!(read, slots, "one read script per slot");
    cleanup.await;
}

/// A full TOTP login on the Cluster, counted by the masters' MONITOR: each coarse operation
/// split by slot as `docs/store-redis.md` states (scripts sent at once count as one round trip
/// of latency but are each counted here).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_totp_login_on_the_cluster_costs_what_the_slots_require() {
    let Some((store, cleanup)) =
        throwaway_cluster_store("a_totp_login_on_the_cluster_costs_what_the_slots_require").await
    else {
        return;
    };
    store.load_scripts().await.unwrap();
    let t = now();
    let login = Login::enrolled(&store, t).await;
    let other = Login::enrolled(&store, t).await;
    other.open_ticket_quietly(&store).await;
    let user_slot = keyslot(&format!("{{{}:u:{}}}", store.prefix(), login.user)).await;
    let client_slot = keyslot(&format!("{{{}:k:{}}}", store.prefix(), login.network)).await;
    let other_slots = keyslot(&format!("{{{}:u:{}}}", store.prefix(), other.user)).await
        != keyslot(&format!("{{{}:k:{}}}", store.prefix(), other.network)).await;
    let apart = usize::from(client_slot != user_slot);
    let masters: Vec<String> = masters()
        .await
        .iter()
        .map(|m| format!("redis://{m}"))
        .collect();
    let mut monitor = Commands::start(&masters, store.prefix().as_str()).await;
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

    // The user's slot and the client's, at once.
    let view = count!(
        "login_view (at once)",
        1 + apart,
        store.login_view(&login.user, &login.limit_keys(), t)
    );
    assert!(view.settings.is_some() && view.recovery_codes_left == 3);
    // The claim on the id's slot, then the budget, the ticket and its record on the user's.
    let take = count!(
        "open_ticket",
        2,
        store.open_ticket(
            login.ticket.clone(),
            &login.budget(),
            login.event("login.ticket"),
            t
        )
    );
    assert!(take.is_taken());
    // The mapping, then the try, both takes and the factors on the user's slot.
    let view = count!(
        "attempt (recognised)",
        2,
        store.attempt(&login.ticket.id, Some(&login.network), true, t)
    );
    assert!(view.admitted() && view.recognised && view.factors.len() == 1);
    // The mapping, the try, the network's take, then the account's three and the factors.
    let view = count!(
        "attempt (unrecognised)",
        if other_slots { 4 } else { 2 },
        store.attempt(&other.ticket.id, Some("203.0.113.0/24"), true, t)
    );
    assert!(view.admitted() && view.takes.len() == 4 && view.factors.len() == 1);
    // Everything on the user's slot.
    assert!(count!("settle", 1, store.settle(login.success(), t)));
    // A failure's settlement (no conditions): every slot at once.
    let failure = Settlement {
        user: login.user.clone(),
        locks: vec![(login.client(), t + Duration::from_secs(600))],
        audit: vec![login.event("login.failed")],
        ..Settlement::default()
    };
    assert!(count!(
        "settle (failure, at once)",
        1 + apart,
        store.settle(failure, t)
    ));
    eprintln!(
        "round trips on the cluster (user and client slots {}): {}",
        if apart == 1 { "apart" } else { "shared" },
        report.join(", ")
    );
    cleanup.await;
}
