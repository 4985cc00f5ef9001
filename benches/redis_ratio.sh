#!/usr/bin/env bash
# Compares our TOTP-verification store throughput (32 concurrent tasks: batch counter read +
# advance_totp_step, 2 round trips each) with raw Redis SET throughput from redis-benchmark
# (32 clients), measured in the same run against the same server. Goal: ratio >= 0.3.
#
# Usage: benches/redis_ratio.sh   (MFA_REDIS_URL=redis://host:port overrides the server)
set -euo pipefail

url="${MFA_REDIS_URL:-redis://127.0.0.1:6379}"
hostport="${url#redis://}"
hostport="${hostport##*@}"
hostport="${hostport%%/*}"
host="${hostport%%:*}"
port="${hostport##*:}"
[ "$port" = "$hostport" ] && port=6379

cd "$(dirname "$0")/.."

raw_line=$(redis-benchmark -h "$host" -p "$port" -t set -n 200000 -c 32 -q | tr '\r' '\n' | grep '^SET:' | tail -n 1)
raw=$(printf '%s\n' "$raw_line" | sed -E 's/^SET: ([0-9.]+) requests per second.*/\1/')

ours_line=$(MFA_REDIS_URL="$url" cargo bench -q -p mfa-benches --bench store_redis -- \
  'store/redis/verify_throughput/32' --warm-up-time 2 --measurement-time 5 2>/dev/null \
  | grep 'thrpt:' | grep 'elem/s' | head -n 1)
# "thrpt:  [low unit mid unit high unit]": take the middle estimate.
ours=$(printf '%s\n' "$ours_line" | awk '{
  v = $4; u = $5;
  if (u ~ /^Kelem/) v *= 1e3; else if (u ~ /^Melem/) v *= 1e6; else if (u ~ /^Gelem/) v *= 1e9;
  printf "%.1f", v }')

echo "raw redis SET (redis-benchmark, 32 clients): ${raw} ops/s"
echo "mfa-store-redis verification (32 tasks):     ${ours} verifications/s"
awk -v o="$ours" -v r="$raw" 'BEGIN { printf "ratio: %.3fx raw SET throughput (goal >= 0.3x)\n", o / r }'
