//! Checks of [`CounterStore`](crate::CounterStore).

use std::time::Duration;

use super::{CONCURRENCY, SharedStore, base, race, secs, unique};
use crate::{CounterKey, CounterScope, CounterTake, Take};

const WINDOW: Duration = secs(900);

fn account_key(tag: &str) -> CounterKey {
    CounterKey::new("totp", CounterScope::Account(unique(tag)))
}

/// Hits count up within a window; the record is absent once the window ended; the next hit
/// starts a new window.
pub async fn hit_counts_in_window(store: SharedStore) {
    let key = account_key("ctr-window");
    let t = base();
    for (offset, expected) in [(0, 1), (10, 2), (899, 3)] {
        let state = store
            .hit_counter(&key, WINDOW, t + secs(offset))
            .await
            .unwrap();
        assert_eq!(
            (state.count, state.consecutive_failures),
            (expected, expected)
        );
        assert_eq!((state.window_start, state.window_end), (t, t + WINDOW));
        assert_eq!(state.locked_until, None);
    }
    let read = store
        .counter(&key, t + secs(30))
        .await
        .unwrap()
        .expect("a live counter");
    assert_eq!(read.count, 3);
    assert!(
        store.counter(&key, t + WINDOW).await.unwrap().is_none(),
        "absent once the window ended"
    );

    let next = store.hit_counter(&key, WINDOW, t + WINDOW).await.unwrap();
    assert_eq!((next.count, next.consecutive_failures), (1, 1));
    assert_eq!(next.window_start, t + WINDOW);
}

/// A lock only ever extends, empties the window, keeps the record past its window, and survives
/// a new window, in which consecutive failures keep counting.
pub async fn lock_extends_and_retains(store: SharedStore) {
    let key = account_key("ctr-lock");
    let t = base();
    store.hit_counter(&key, WINDOW, t).await.unwrap();
    store.hit_counter(&key, WINDOW, t + secs(1)).await.unwrap();
    let locked = store
        .lock_counter(&key, t + secs(3600), t + secs(2))
        .await
        .unwrap();
    assert_eq!(locked.locked_until, Some(t + secs(3600)));
    assert!(locked.is_locked(t + secs(3599)) && !locked.is_locked(t + secs(3600)));
    assert_eq!(
        (locked.count, locked.consecutive_failures),
        (0, 2),
        "a lock spends the window's hits and keeps the consecutive failures"
    );
    assert_eq!(
        (locked.window_start, locked.window_end),
        (t + secs(2), t + secs(2)),
        "a lock starts an empty window at now"
    );
    let kept = store
        .lock_counter(&key, t + secs(1800), t + secs(3))
        .await
        .unwrap();
    assert_eq!(
        kept.locked_until,
        Some(t + secs(3600)),
        "an earlier end does not shorten a lock"
    );

    let during = store
        .counter(&key, t + secs(1000))
        .await
        .unwrap()
        .expect("retained by the lock");
    assert_eq!(
        (during.consecutive_failures, during.locked_until),
        (2, Some(t + secs(3600)))
    );

    let refused = store
        .take_counter(&key, WINDOW, u32::MAX, t + secs(1000))
        .await
        .unwrap();
    assert_eq!(
        refused,
        CounterTake::Refused(during),
        "nothing is counted while the lock holds, not even without a limit"
    );
    assert!(
        store.counter(&key, t + secs(3600)).await.unwrap().is_none(),
        "absent after the lock"
    );
}

/// A later end extends a live lock; once a lock has ended and its record gone, a new lock is
/// written whole, not held to the old end.
pub async fn lock_later_end_extends(store: SharedStore) {
    let key = account_key("ctr-lock-later");
    let t = base();
    store.lock_counter(&key, t + secs(600), t).await.unwrap();
    let longer = store
        .lock_counter(&key, t + secs(900), t + secs(1))
        .await
        .unwrap();
    assert_eq!(
        longer.locked_until,
        Some(t + secs(900)),
        "a later end extends a live lock"
    );
    assert!(store.counter(&key, t + secs(900)).await.unwrap().is_none());
    let again = store
        .lock_counter(&key, t + secs(1200), t + secs(1000))
        .await
        .unwrap();
    assert_eq!(
        again.locked_until,
        Some(t + secs(1200)),
        "a lock after an ended one is written whole"
    );
    assert!(again.is_locked(t + secs(1100)));
}

/// Locking a key without a record creates one with no hits; the first hit keeps the lock.
pub async fn lock_on_absent_key(store: SharedStore) {
    let key = account_key("ctr-lock-new");
    let t = base();
    let locked = store.lock_counter(&key, t + secs(600), t).await.unwrap();
    assert_eq!(
        (
            locked.count,
            locked.consecutive_failures,
            locked.locked_until
        ),
        (0, 0, Some(t + secs(600)))
    );
    let read = store
        .counter(&key, t + secs(1))
        .await
        .unwrap()
        .expect("the lock is retained");
    assert!(read.is_locked(t + secs(1)));
    let during = store
        .take_counter(&key, WINDOW, 5, t + secs(5))
        .await
        .unwrap();
    assert!(!during.is_taken(), "refused while locked");
    assert_eq!(during.state().count, 0);
    let after = store
        .hit_counter(&key, WINDOW, t + secs(600))
        .await
        .unwrap();
    assert_eq!((after.count, after.consecutive_failures), (1, 1));
}

/// Reset removes count, failures and lock.
pub async fn reset_clears(store: SharedStore) {
    let key = account_key("ctr-reset");
    let t = base();
    store.hit_counter(&key, WINDOW, t).await.unwrap();
    store.hit_counter(&key, WINDOW, t).await.unwrap();
    store.lock_counter(&key, t + secs(3600), t).await.unwrap();
    store.reset_counter(&key).await.unwrap();
    assert!(store.counter(&key, t).await.unwrap().is_none());
    let hit = store.hit_counter(&key, WINDOW, t + secs(1)).await.unwrap();
    assert_eq!(
        (hit.count, hit.consecutive_failures, hit.locked_until),
        (1, 1, None)
    );
    store
        .reset_counter(&account_key("ctr-reset-none"))
        .await
        .unwrap();
}

/// Namespaces and scopes are separate counters.
pub async fn keys_are_separate(store: SharedStore) {
    let (account, client) = (unique("ctr-acct"), unique("ctr-ip"));
    let keys = [
        CounterKey::new("password", CounterScope::Account(account.clone())),
        CounterKey::new("totp", CounterScope::Account(account.clone())),
        CounterKey::new("totp", CounterScope::Client(client.clone())),
        CounterKey::new(
            "totp",
            CounterScope::AccountClient {
                account: account.clone(),
                client,
            },
        ),
        CounterKey::new("totp", CounterScope::Client(account)),
    ];
    let t = base();
    for (i, key) in keys.iter().enumerate() {
        for _ in 0..=i {
            store.hit_counter(key, WINDOW, t).await.unwrap();
        }
    }
    for (i, key) in keys.iter().enumerate() {
        let count = store.counter(key, t).await.unwrap().map(|s| s.count);
        assert_eq!(count, Some(i as u32 + 1), "counter {key}");
    }
}

/// 50 hits at once count exactly 50, each hit seeing its own count.
pub async fn hit_race_counts_all(store: SharedStore) {
    let key = account_key("ctr-race");
    let t = base();
    let states = race(CONCURRENCY, |_| {
        let (store, key) = (store.clone(), key.clone());
        async move { store.hit_counter(&key, WINDOW, t).await.unwrap() }
    })
    .await;
    let mut counts: Vec<u32> = states.iter().map(|s| s.count).collect();
    counts.sort_unstable();
    let expected: Vec<u32> = (1..=CONCURRENCY as u32).collect();
    assert_eq!(counts, expected, "every hit counted once");
    let read = store.counter(&key, t).await.unwrap().unwrap();
    assert_eq!(
        (read.count, read.consecutive_failures),
        (CONCURRENCY as u32, CONCURRENCY as u32)
    );
}

/// Purge removes expired counters and keeps live ones.
pub async fn purge_expired(store: SharedStore) {
    let (old, live) = (account_key("ctr-purge-old"), account_key("ctr-purge-live"));
    let now = base();
    let past = now - secs(7200);
    store.hit_counter(&old, secs(3600), past).await.unwrap();
    store.hit_counter(&live, WINDOW, now).await.unwrap();
    store.purge_expired_counters(now).await.unwrap();
    assert!(
        store.counter(&old, past).await.unwrap().is_none(),
        "the expired counter is gone"
    );
    assert!(
        store.counter(&live, now).await.unwrap().is_some(),
        "the live one stays"
    );
}

/// The batch read and batch hit give what one call per key gives, in the order asked.
pub async fn batch_ops_match_single_ops(store: SharedStore) {
    let t = base();
    let keys = [
        account_key("ctr-batch-a"),
        account_key("ctr-batch-b"),
        account_key("ctr-batch-absent"),
    ];
    let takes = [
        Take::new(keys[0].clone(), WINDOW, 10),
        Take::new(keys[1].clone(), secs(60), 10),
    ];
    let first = store.take_counters(&takes, t).await.unwrap();
    let counts = |r: &[CounterTake]| r.iter().map(|r| r.state().count).collect::<Vec<_>>();
    assert_eq!(counts(&first), [1, 1]);
    assert!(first.iter().all(CounterTake::is_taken));
    assert_eq!(
        first[1].state().window_end,
        t + secs(60),
        "each key keeps its own window"
    );
    let second = store.take_counters(&takes, t + secs(1)).await.unwrap();
    assert_eq!(counts(&second), [2, 2]);
    store
        .lock_counter(&keys[1], t + secs(600), t + secs(2))
        .await
        .unwrap();

    let batch = store.counters(&keys, t + secs(3)).await.unwrap();
    let mut single = Vec::new();
    for key in &keys {
        single.push(store.counter(key, t + secs(3)).await.unwrap());
    }
    assert_eq!(batch, single);
    assert_eq!(batch[0].map(|s| s.count), Some(2));
    assert_eq!(batch[1].and_then(|s| s.locked_until), Some(t + secs(600)));
    assert_eq!(batch[2], None);
    assert!(store.counters(&[], t).await.unwrap().is_empty());
    assert!(store.take_counters(&[], t).await.unwrap().is_empty());
}

/// A bounded take counts up to its limit and refuses after it, changing nothing; a new window
/// brings the allowance back.
pub async fn take_stops_at_limit(store: SharedStore) {
    let key = account_key("ctr-take-limit");
    let t = base();
    for expected in 1..=3 {
        let taken = store.take_counter(&key, WINDOW, 3, t).await.unwrap();
        assert_eq!(
            (taken.is_taken(), taken.state().count),
            (true, expected),
            "take {expected}"
        );
    }
    let refused = store
        .take_counter(&key, WINDOW, 3, t + secs(1))
        .await
        .unwrap();
    assert!(!refused.is_taken(), "the fourth take is refused");
    assert_eq!(
        (refused.state().count, refused.state().consecutive_failures),
        (3, 3),
        "a refusal counts nothing"
    );
    let next = store
        .take_counter(&key, WINDOW, 3, t + WINDOW)
        .await
        .unwrap();
    assert_eq!((next.is_taken(), next.state().count), (true, 1));
    assert_eq!(next.state().window_start, t + WINDOW);
}

/// 50 takes at once against a limit of 5: exactly 5 are counted, with the counts 1..=5.
pub async fn take_race_bounded(store: SharedStore) {
    let key = account_key("ctr-take-race");
    let t = base();
    let results = race(CONCURRENCY, |_| {
        let (store, key) = (store.clone(), key.clone());
        async move { store.take_counter(&key, WINDOW, 5, t).await.unwrap() }
    })
    .await;
    let mut taken: Vec<u32> = results
        .iter()
        .filter(|r| r.is_taken())
        .map(|r| r.state().count)
        .collect();
    taken.sort_unstable();
    assert_eq!(taken, [1, 2, 3, 4, 5], "exactly the limit is taken");
    let read = store.counter(&key, t).await.unwrap().unwrap();
    assert_eq!(read.count, 5);
}

/// A batch of takes stops at the first refusal: the keys after it are untouched, the takes
/// before it stay counted.
pub async fn take_batch_stops_at_first_refusal(store: SharedStore) {
    let t = base();
    let (a, full, c) = (
        account_key("ctr-batch-stop-a"),
        account_key("ctr-batch-stop-full"),
        account_key("ctr-batch-stop-c"),
    );
    store.take_counter(&full, WINDOW, 1, t).await.unwrap();
    let takes = [
        Take::new(a.clone(), WINDOW, 5),
        Take::new(full.clone(), WINDOW, 1),
        Take::new(c.clone(), WINDOW, 5),
    ];
    let results = store.take_counters(&takes, t + secs(1)).await.unwrap();
    assert_eq!(results.len(), 2, "stopped at the refusal");
    assert!(results[0].is_taken() && !results[1].is_taken());
    assert_eq!(
        store
            .counter(&a, t + secs(1))
            .await
            .unwrap()
            .map(|s| s.count),
        Some(1)
    );
    assert!(
        store.counter(&c, t + secs(1)).await.unwrap().is_none(),
        "the key after the refusal is untouched"
    );
}

/// A refund gives one unit back inside the window and keeps consecutive failures and lock;
/// outside the window, or on an absent key, it changes nothing.
pub async fn refund_returns_one_unit(store: SharedStore) {
    let key = account_key("ctr-refund");
    let t = base();
    store.take_counter(&key, WINDOW, 2, t).await.unwrap();
    store.take_counter(&key, WINDOW, 2, t).await.unwrap();
    assert!(
        !store
            .take_counter(&key, WINDOW, 2, t)
            .await
            .unwrap()
            .is_taken()
    );
    store.refund_counter(&key, t + secs(1)).await.unwrap();
    let read = store.counter(&key, t + secs(1)).await.unwrap().unwrap();
    assert_eq!((read.count, read.consecutive_failures), (1, 2));
    assert!(
        store
            .take_counter(&key, WINDOW, 2, t + secs(2))
            .await
            .unwrap()
            .is_taken(),
        "the refunded unit can be taken again"
    );
    for _ in 0..3 {
        store.refund_counter(&key, t + secs(3)).await.unwrap();
    }
    let floor = store.counter(&key, t + secs(3)).await.unwrap().unwrap();
    assert_eq!(floor.count, 0, "never below zero");
    let absent = account_key("ctr-refund-absent");
    store.refund_counter(&absent, t).await.unwrap();
    assert!(store.counter(&absent, t).await.unwrap().is_none());
}

/// After a short lock ends, the rule's full allowance is back: the hits that reached the limit
/// were spent by the lock, even though their window has not ended.
pub async fn lock_restores_allowance_after_it_ends(store: SharedStore) {
    let key = account_key("ctr-lock-allowance");
    let t = base();
    for i in 0..3 {
        store.hit_counter(&key, WINDOW, t + secs(i)).await.unwrap();
    }
    let locked = store
        .lock_counter(&key, t + secs(12), t + secs(2))
        .await
        .unwrap();
    assert_eq!(locked.count, 0);
    assert!(
        store
            .counter(&key, t + secs(11))
            .await
            .unwrap()
            .is_some_and(|s| s.is_locked(t + secs(11))),
        "locked until it ends"
    );
    let after = store.hit_counter(&key, WINDOW, t + secs(12)).await.unwrap();
    assert_eq!(
        (after.count, after.locked_until),
        (1, None),
        "a fresh window after the lock, not a window still at its limit"
    );
}
