#!/usr/bin/env bash
# Full TOTP logins per second on Redis as a ratio of raw Redis SET throughput, both with 32
# concurrent clients against the same server in the same run. Target: ratio >= 0.12.
#
# - raw: `redis-benchmark -t set -c 32` (one SET per request, no pipelining), run before and
#   after ours; the raw figure is the mean of the two, so that a change in the machine's load
#   during the run moves both sides alike.
# - ours: `login-throughput redis 32 <seconds>`: 32 tasks, each its own user, each login
#   `begin_login` + `verify` of the right code through the facade (four store round trips, each
#   one Lua script).
#
# Exits non-zero if either side fails to run; a ratio below the target is a finding, printed,
# not a failure.
#
# Usage: benches/redis_ratio.sh [seconds]   (default 10; MFA_REDIS_URL, default
# redis://127.0.0.1:6379, names the server; REQUESTS the redis-benchmark request count,
# default 300000)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"
REQUESTS="${REQUESTS:-300000}"
URL="${MFA_REDIS_URL:-redis://127.0.0.1:6379}"
HOSTPORT="${URL#redis://}"; HOSTPORT="${HOSTPORT##*@}"; HOSTPORT="${HOSTPORT%%/*}"
HOST="${HOSTPORT%%:*}"; PORT="${HOSTPORT##*:}"
[ "$PORT" = "$HOSTPORT" ] && PORT=6379
. benches/ratio.sh

cargo build --release -q -p mfa-benches --bin login-throughput

raw() {
  redis-benchmark -h "$HOST" -p "$PORT" -t set -c 32 -n "$REQUESTS" -q \
    | tr '\r' '\n' | grep '^SET:' | tail -n 1 \
    | sed -E 's/^SET: ([0-9.]+) requests per second.*/\1/'
}

export MFA_REDIS_URL="$URL"
compare redis redis-benchmark "redis SET (redis-benchmark -t set -c 32)" "raw SET/s" requests/s 0.12
