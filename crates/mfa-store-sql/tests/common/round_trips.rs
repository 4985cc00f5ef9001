//! Counting the network round trips a store operation makes: a loopback TCP proxy between the
//! store's pool and the server counts one round trip each time the client sends after the
//! server has answered (requests sent back to back, without waiting, are one).
//!
//! Run the measurement on a current-thread runtime: an operation's connection goes back to the
//! pool in a spawned task (sqlx pings it there), which then cannot run before the count taken
//! right after the operation returns, so the count is exactly the operation's own path.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The proxy: connect the store to [`port`](Self::port).
pub(crate) struct Proxy {
    port: u16,
    trips: Arc<AtomicU64>,
}

impl Proxy {
    /// Listens on a loopback port and forwards every connection to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let trips = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&trips);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(upstream).await.unwrap();
                tokio::spawn(forward(client, server, Arc::clone(&counter)));
            }
        });
        Self { port, trips }
    }

    /// The port to connect to.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The round trips of `op`, counted from its first request to its return.
    pub(crate) async fn count<T>(&self, op: impl Future<Output = T>) -> (u64, T) {
        let before = self.trips.load(Ordering::SeqCst);
        let value = op.await;
        let after = self.trips.load(Ordering::SeqCst);
        (after - before, value)
    }
}

/// Copies both ways; a client write that follows a server write starts a round trip.
async fn forward(client: TcpStream, server: TcpStream, trips: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let answered = Arc::new(AtomicBool::new(true));
    let answered_up = Arc::clone(&answered);
    let up = tokio::spawn(async move {
        let mut buf = vec![0_u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if answered_up.swap(false, Ordering::SeqCst) {
                trips.fetch_add(1, Ordering::SeqCst);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        let n = match server_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Marked before the client can see the answer, so its next request counts.
        answered.store(true, Ordering::SeqCst);
        if client_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    up.abort();
}

/// Waits (polling, at most 5 s) until every connection of `pool` is back and idle, so the
/// release ping of the last operation is not counted for the next.
pub(crate) async fn settle<DB: mfa_store_sql::sqlx::Database>(
    pool: &mfa_store_sql::sqlx::Pool<DB>,
) {
    for _ in 0..500 {
        if pool.num_idle() == pool.size() as usize {
            // One more turn for the ping's answer to pass the proxy.
            tokio::time::sleep(Duration::from_millis(5)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The coarse operations of a full TOTP login, as [`per_operation`] names them, in the order a
/// login makes them: two when it starts, two when the code comes.
pub(crate) const LOGIN: [&str; 4] = [
    "login_view (settings, codes, 2 counters)",
    "open_ticket (taken)",
    "attempt (spent, 2 takes, factors read)",
    "settle (step, consume, 2 refunds, audit)",
];

/// The round trips of a whole TOTP login: the sum of [`LOGIN`]'s rows.
pub(crate) fn login(rows: &[(&str, u64)]) -> u64 {
    rows.iter()
        .filter(|(op, _)| LOGIN.contains(op))
        .map(|(_, n)| n)
        .sum()
}

/// Prints the table, and the round trips of a whole TOTP login.
pub(crate) fn report(engine: &str, rows: &[(&str, u64)]) {
    println!("round trips per operation on {engine} (warm pool of one connection):");
    for (op, n) in rows {
        println!("  {op:<44} {n}");
    }
    println!(
        "  {:<44} {}",
        "a whole TOTP login (the four coarse operations)",
        login(rows)
    );
}

/// The round trips of each operation on a login's path, each measured warm (its statements
/// already prepared on the one connection), in the order printed.
pub(crate) async fn per_operation<S, DB>(
    store: &S,
    pool: &mfa_store_sql::sqlx::Pool<DB>,
    proxy: &Proxy,
) -> Vec<(&'static str, u64)>
where
    S: mfa_store::Store,
    DB: mfa_store_sql::sqlx::Database,
{
    use mfa_store::{
        AttemptOutcome, AttemptPlan, AuditEvent, AuditKind, AuditOutcome, ChallengeKind,
        ClientInfo, CounterKey, CounterScope, Settlement, Take,
    };

    use crate::fail_closed::{challenge, confirmed_factor, id, now};

    let user = id("trips");
    let t = now();
    let window = Duration::from_secs(900);
    let keys = [
        CounterKey::new("totp", CounterScope::Account(user.clone())),
        CounterKey::new("totp", CounterScope::Client(id("203.0.113.9"))),
    ];
    let takes: Vec<Take> = keys
        .iter()
        .map(|k| Take::new(k.clone(), window, 1000))
        .collect();
    let locked = CounterKey::new("totp", CounterScope::Account(id("trips-locked")));
    let refused = [
        Take::new(locked.clone(), window, 1000),
        Take::new(keys[1].clone(), window, 1000),
    ];
    store
        .lock_counter(&locked, t + Duration::from_secs(3600), t)
        .await
        .unwrap();
    confirmed_factor(store, &user, "f1").await;
    let device = mfa_store::TrustedDevice {
        user: user.clone(),
        id: "d1".into(),
        token_digest: mfa_core::CodeDigest::from_bytes([7; 32]),
        label: "laptop".into(),
        created_at: t,
        expires_at: t + Duration::from_secs(86_400),
        last_seen: t,
    };
    store.insert_trusted_device(device.clone()).await.unwrap();

    // A login ticket whose plan takes two budgets per attempt from an unrecognised network.
    let tag = "198.51.100.0/24";
    let plan = AttemptPlan {
        tag: Some(tag.to_owned()),
        recognised: vec![Take::new(
            CounterKey::new("totp.recognised", CounterScope::Account(user.clone())),
            window,
            1000,
        )],
        unrecognised: takes.clone(),
    };
    let budget = Take::new(
        CounterKey::new("login", CounterScope::Account(user.clone())),
        window,
        1000,
    );
    let event = |kind: AuditKind| AuditEvent {
        at: t,
        user: user.clone(),
        kind,
        outcome: AuditOutcome::Success,
        client: ClientInfo::new("203.0.113.9".parse().unwrap()),
        actor: None,
    };

    let mut rows = Vec::new();
    // Twice each: the first run prepares the statements, the second is counted.
    for round in 0..2_u64 {
        let mut measured: Vec<(&'static str, u64)> = Vec::new();
        macro_rules! count {
            ($name:expr, $op:expr) => {{
                settle(pool).await;
                let (n, result) = proxy.count($op).await;
                measured.push(($name, n));
                result.unwrap()
            }};
        }
        count!("counters (2 keys)", store.counters(&keys, t));
        count!(
            "take_counters (2 keys, both taken)",
            store.take_counters(&takes, t)
        );
        count!(
            "take_counters (refused at the first)",
            store.take_counters(&refused, t)
        );
        count!("refund_counter", store.refund_counter(&keys[0], t));
        count!(
            "lock_counter",
            store.lock_counter(&locked, t + Duration::from_secs(3600), t)
        );
        count!(
            "advance_totp_step",
            store.advance_totp_step(&user, "f1", 200 + round)
        );
        let c = challenge(&user, 100);
        count!("create_challenge", store.create_challenge(c.clone()));
        count!("spend_attempt (a try spent)", store.spend_attempt(&c.id, t));
        count!(
            "replace_challenge_code",
            store.replace_challenge_code(
                &c.id,
                mfa_store::ChallengeKind::SmsCode,
                mfa_core::CodeDigest::from_bytes([3; 32]),
                t + Duration::from_secs(600),
                t
            )
        );
        count!("consume_challenge", store.consume_challenge(&c.id, t));
        count!(
            "check_and_touch_device",
            store.check_and_touch_device(&user, &device.token_digest, t)
        );
        count!(
            "revoke_user_challenges",
            store.revoke_user_challenges(&user)
        );

        // A whole TOTP login, one coarse operation after another.
        let mut ticket = challenge(&user, 5);
        ticket.purpose = "login-ticket".into();
        ticket.kind = ChallengeKind::LoginTicket;
        ticket.code_digest = None;
        ticket.plan = Some(plan.clone());
        let view = count!(LOGIN[0], store.login_view(&user, &keys, t));
        assert_eq!(view.counters.len(), 2);
        let opened = count!(
            LOGIN[1],
            store.open_ticket(ticket.clone(), &budget, event(AuditKind::CHALLENGE_SENT), t)
        );
        assert!(opened.is_taken());
        let attempt = count!(
            LOGIN[2],
            store.attempt(&ticket.id, Some("203.0.113.0/24"), true, t)
        );
        assert!(attempt.admitted() && !attempt.recognised);
        assert!(matches!(attempt.outcome, AttemptOutcome::Spent { .. }));
        assert_eq!((attempt.takes.len(), attempt.factors.len()), (2, 1));
        let success = Settlement {
            user: user.clone(),
            advance: Some(("f1".into(), 300 + round)),
            consume: vec![ticket.id.clone()],
            refunds: keys.to_vec(),
            audit: vec![event(AuditKind::SECOND_FACTOR)],
            ..Settlement::default()
        };
        assert!(count!(LOGIN[3], store.settle(success.clone(), t)));
        assert!(!count!(
            "settle (refused: the step again)",
            store.settle(success, t)
        ));
        rows = measured;
    }
    settle(pool).await;
    rows
}
