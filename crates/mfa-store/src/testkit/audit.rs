//! Checks of [`AuditStore`](crate::AuditStore).

use std::time::SystemTime;

use super::{CONCURRENCY, SharedStore, base, race, secs, unique};
use crate::{AuditEvent, AuditKind, AuditOutcome, ClientInfo};

fn event(user: &str, kind: AuditKind, at: SystemTime) -> AuditEvent {
    AuditEvent {
        at,
        user: user.to_owned(),
        kind,
        outcome: AuditOutcome::Failure,
        client: ClientInfo::new("192.0.2.7".parse().unwrap()).with_user_agent("curl/8.5"),
        actor: None,
    }
}

/// Events come back newest first (ties: last appended first), limited, per user, intact.
pub async fn newest_first_with_limit(store: SharedStore) {
    let (user, other) = (unique("audit"), unique("audit-other"));
    let t0 = base();
    let mut events = vec![
        event(&user, AuditKind::new("e1"), t0),
        event(&user, AuditKind::new("e2"), t0 + secs(1)),
        event(&user, AuditKind::new("e3"), t0 + secs(2)),
        event(&user, AuditKind::new("e4"), t0 + secs(1)),
    ];
    events[2].outcome = AuditOutcome::Success;
    events[2].client = ClientInfo::default();
    events[1].client = ClientInfo::new("2001:db8::7".parse().unwrap());
    events[1].actor = Some("admin-ops@example.com".to_owned());
    for e in &events {
        store.append_audit(e.clone()).await.unwrap();
    }
    store
        .append_audit(event(&other, AuditKind::LOCKED, t0 + secs(3)))
        .await
        .unwrap();

    let got = store.audit_events(&user, 10).await.unwrap();
    let kinds: Vec<&str> = got.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["e3", "e4", "e2", "e1"]);
    assert_eq!(got[0], events[2], "an event reads back intact");
    assert_eq!(
        got[2], events[1],
        "an IPv6 client and an actor read back intact"
    );
    assert_eq!(got[3], events[0]);
    let latest = store.audit_events(&user, 2).await.unwrap();
    assert_eq!(
        latest.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["e3", "e4"]
    );
    assert!(
        store
            .audit_events(&unique("audit-none"), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// 50 concurrent appends are all kept.
pub async fn append_race_keeps_all(store: SharedStore) {
    let user = unique("audit-race");
    race(CONCURRENCY, |i| {
        let (store, e) = (
            store.clone(),
            event(&user, AuditKind::new(format!("race.{i}")), base()),
        );
        async move { store.append_audit(e).await.unwrap() }
    })
    .await;
    let got = store.audit_events(&user, 1000).await.unwrap();
    let mut kinds: Vec<String> = got
        .into_iter()
        .map(|e| e.kind.as_str().to_owned())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), CONCURRENCY, "distinct events kept");
}
