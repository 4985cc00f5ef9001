#!/usr/bin/env bash
# Full TOTP logins per second on PostgreSQL as a ratio of `pgbench -N` transactions per second,
# both with 32 clients against the same server in the same run. Target: ratio >= 0.35.
#
# - raw: `pgbench -N -c 32 -j 2` (the simple-update script: BEGIN; UPDATE pgbench_accounts;
#   SELECT; INSERT INTO pgbench_history; END: one committed write transaction, five round
#   trips) on a scale-10 database of its own, created for the run and dropped after it; run
#   before and after ours, the raw figure is the mean of the two, so that a change in the
#   machine's load during the run moves both sides alike. A login must commit, so a write
#   transaction is the fair unit.
# - ours: `login-throughput postgres 32 <seconds>`: 32 tasks, each its own user, each login
#   `begin_login` + `verify` of the right code through the facade (four store round trips, three
#   of them committing writes), on a pool of 32 connections to a throwaway schema.
#
# Exits non-zero if either side fails to run; a ratio below the target is a finding, printed,
# not a failure.
#
# Usage: benches/pg_ratio.sh [seconds]   (default 10; MFA_POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432/test, names the server; SCALE the pgbench scale, default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"
SCALE="${SCALE:-10}"
URL="${MFA_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
HOSTPORT="${URL#*@}"; HOSTPORT="${HOSTPORT%%/*}"
HOST="${HOSTPORT%%:*}"; PORT="${HOSTPORT##*:}"
[ "$PORT" = "$HOSTPORT" ] && PORT=5432
USER_="${URL#*://}"; USER_="${USER_%%@*}"
. benches/ratio.sh
SCRATCH="mfa_pgbench_$$"

cargo build --release -q -p mfa-benches --bin login-throughput

psql -h "$HOST" -p "$PORT" -U "$USER_" -d postgres -qc "CREATE DATABASE $SCRATCH" >/dev/null
trap 'psql -h "$HOST" -p "$PORT" -U "$USER_" -d postgres -qc "DROP DATABASE IF EXISTS $SCRATCH" >/dev/null' EXIT
pgbench -h "$HOST" -p "$PORT" -U "$USER_" -i -q -s "$SCALE" "$SCRATCH" >/dev/null 2>&1

raw() {
  pgbench -h "$HOST" -p "$PORT" -U "$USER_" -N -c 32 -j 2 -T "$SECS" "$SCRATCH" 2>/dev/null \
    | awk -F'= ' '/^tps/ {split($2, a, " "); print a[1]; exit}'
}

export MFA_POSTGRES_URL="$URL"
compare postgres pgbench "PostgreSQL (pgbench -N -c 32)" "pgbench -N tps" tps 0.35
