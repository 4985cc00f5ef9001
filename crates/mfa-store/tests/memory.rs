//! `MemoryStore` passes the whole conformance kit, and its records keep secrets out of `Debug`.

use std::time::{Duration, SystemTime};

use mfa_core::{CodeDigest, RecoveryVerifier};
use mfa_store::testkit::{CHECKS, run_all};
use mfa_store::{
    Challenge, ChallengeKind, ChallengeStore, MemoryStore, RecoveryCodeRecord, TrustedDevice,
};

mfa_store::conformance_tests!(memory, async { MemoryStore::new() });

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_all_passes_for_the_memory_store() {
    run_all("memory", || async { MemoryStore::new() }).await;
}

#[test]
fn check_names_are_unique() {
    let mut names: Vec<&str> = CHECKS.iter().map(|c| c.name).collect();
    let total = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), total);
    assert!(total >= 30, "the kit has {total} checks");
}

/// 0xA7 repeated: easy to spot in any rendering (decimal `167`, hex `a7`).
const MARK: [u8; 32] = [0xA7; 32];

fn assert_no_digest_bytes(debug: &str) {
    assert!(!debug.contains("167"), "decimal bytes leaked: {debug}");
    assert!(
        !debug.to_lowercase().contains("a7a7"),
        "hex bytes leaked: {debug}"
    );
}

#[tokio::test]
async fn records_print_no_digest_bytes() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let challenge = Challenge {
        id: "c1".into(),
        user: "alice".into(),
        purpose: "login".into(),
        kind: ChallengeKind::MagicLink,
        code_digest: Some(CodeDigest::from_bytes(MARK)),
        link_digest: Some(CodeDigest::from_bytes(MARK)),
        binding_digest: Some(CodeDigest::from_bytes(MARK)),
        created_at: now,
        expires_at: now + Duration::from_secs(60),
        attempts_left: 3,
        consumed: false,
        plan: None,
    };
    assert_no_digest_bytes(&format!("{challenge:?}"));

    let store = MemoryStore::new();
    store.create_challenge(challenge).await.unwrap();
    let outcome = store.spend_attempt("c1", now).await.unwrap();
    assert_no_digest_bytes(&format!("{outcome:?} {store:?}"));
    // The store shows its name and nothing of what it holds.
    assert_eq!(format!("{store:?}"), "MemoryStore { .. }");

    let code = RecoveryCodeRecord {
        locator: CodeDigest::from_bytes(MARK),
        verifier: RecoveryVerifier::Peppered(CodeDigest::from_bytes(MARK)),
    };
    assert_no_digest_bytes(&format!("{code:?}"));
    let device = TrustedDevice {
        user: "alice".into(),
        id: "d1".into(),
        token_digest: CodeDigest::from_bytes(MARK),
        label: "phone".into(),
        created_at: now,
        expires_at: now,
        last_seen: now,
    };
    assert_no_digest_bytes(&format!("{device:?}"));
}
