#!/usr/bin/env bash
# Our store's TOTP-verification throughput on PostgreSQL as a ratio of raw PostgreSQL
# (pgbench -N), both against the same server in the same run.
#
# What is compared, honestly:
# - raw: `pgbench -N` (simple-update built-in: BEGIN; UPDATE pgbench_accounts; SELECT;
#   INSERT INTO pgbench_history; END) with 32 clients, reported as transactions per second.
#   One "tps" is 5 round trips with 3 data statements, in one transaction.
# - ours: the store work of one successful TOTP verification (the batch counter read + the
#   conditional UPDATE of advance_totp_step: 2 statements, 2 round trips, autocommit) with 32
#   concurrent tasks, as verifications per second (examples/sql_throughput.rs).
# The two workloads are of the same size class (a few indexed single-row statements per unit),
# not identical; the ratio says whether our layer (sqlx, async, decoding) costs a lot on top of
# what the server itself can do.
#
# Usage: benches/pg_ratio.sh [seconds]   (MFA_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"
URL="${MFA_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
HOSTPORT="${URL#*@}"; HOSTPORT="${HOSTPORT%%/*}"
HOST="${HOSTPORT%%:*}"; PORT="${HOSTPORT##*:}"
USER_="${URL#*://}"; USER_="${USER_%%@*}"
SCRATCH="mfa_pgbench_$$"

psql -h "$HOST" -p "$PORT" -U "$USER_" -d postgres -qc "CREATE DATABASE $SCRATCH" >/dev/null
trap 'psql -h "$HOST" -p "$PORT" -U "$USER_" -d postgres -qc "DROP DATABASE IF EXISTS $SCRATCH" >/dev/null' EXIT
pgbench -h "$HOST" -p "$PORT" -U "$USER_" -i -q -s 10 "$SCRATCH" >/dev/null 2>&1
RAW=$(pgbench -h "$HOST" -p "$PORT" -U "$USER_" -N -c 32 -j 2 -T "$SECS" "$SCRATCH" 2>/dev/null \
      | awk -F'= ' '/^tps/ {split($2, a, " "); print a[1]; exit}')

cargo build --release -q -p mfa-store-sql --features postgres --example sql_throughput
OURS=$(MFA_POSTGRES_URL="$URL" target/release/examples/sql_throughput 32 "$SECS" \
      | awk -F= '/^verifications_per_second/ {print $2}')

echo "raw PostgreSQL (pgbench -N, 32 clients): ${RAW} tps"
echo "mfa-store-sql (TOTP verification store work, 32 tasks): ${OURS} verifications/s"
awk -v o="$OURS" -v r="$RAW" 'BEGIN { printf "ratio: %.2fx raw (goal >= 0.5x)\n", o / r }'
