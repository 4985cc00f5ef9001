#!/usr/bin/env bash
# Full TOTP logins on every backend at 1 and 32 concurrent tasks, in rounds (each round runs
# every backend once at each task count, so that a change in the machine's load spreads over
# all of them): the figures of docs/performance.md, "Latency, throughput and allocations".
# Prints login-throughput's key=value lines under a `== round=.. backend=.. tasks=..` header.
# Exits non-zero if a run fails.
#
# Usage: benches/login_all.sh [seconds] [rounds]   (defaults 10 and 3; the servers come from
# MFA_POSTGRES_URL, MFA_MYSQL_URL and MFA_REDIS_URL as for the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"
ROUNDS="${2:-3}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

cargo build --release -q -p mfa-benches --bin login-throughput
for round in $(seq 1 "$ROUNDS"); do
  for backend in memory sqlite postgres mysql redis; do
    for tasks in 1 32; do
      echo "== round=$round backend=$backend tasks=$tasks load=$(cut -d' ' -f1 /proc/loadavg)"
      "$TARGET_DIR/release/login-throughput" "$backend" "$tasks" "$SECS"
    done
  done
done
