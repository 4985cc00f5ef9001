#!/usr/bin/env bash
# Server-side instructions of one full TOTP login on Redis, beside one SET, counted by callgrind
# in a private redis-server: repeatable where the throughput ratio of redis_ratio.sh wobbles
# with the machine's load (a shared VM loses CPU to its neighbours; instruction counts do not).
#
# The server runs under valgrind with instrumentation off, so that the store's set-up (16 384
# data-loss markers) is not slowed; instrumentation is turned on for a window in the middle of
# `login-throughput redis 1 <seconds>` and then of `redis-benchmark -t set`, and the logins in
# the window are the server's own count of EVALSHA calls (INFO commandstats) divided by 4, the
# SETs its count of SET calls. Callgrind counts user-space instructions only: a SET's cost is
# mostly the kernel's (reading and writing the socket), so "a login = N SETs" here is far above
# the throughput ratio; compare logins with logins (before and after a change).
#
# Usage: bash benches/redis_instructions.sh   (REDIS_SERVER names the redis-server binary,
# default the one on PATH; PORT the private port, default 6391; LOGIN_THROUGHPUT a
# login-throughput binary to measure instead of this tree's, for before-and-after runs)
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER="${REDIS_SERVER:-redis-server}"
PORT="${PORT:-6391}"
BIN="${LOGIN_THROUGHPUT:-}"
if [ -z "$BIN" ]; then
  cargo build --release -q -p mfa-benches --bin login-throughput
  BIN="${CARGO_TARGET_DIR:-target}/release/login-throughput"
fi

dir=$(mktemp -d)
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/cg.%p" \
  "$SERVER" --port "$PORT" --save '' --appendonly no >"$dir/valgrind.log" 2>&1 &
vg=$!
trap 'kill $vg 2>/dev/null || true; wait $vg 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 60); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.5; done

calls() {
  redis-cli -p "$PORT" info commandstats | tr -d '\r' \
    | awk -F'[:,=]' -v c="cmdstat_$1" '$1 == c { print $3 }'
}
# window <seconds> <command>: instructions in the window and that command's calls.
window() {
  redis-cli -p "$PORT" config resetstat >/dev/null
  callgrind_control -z "$vg" >/dev/null 2>&1
  callgrind_control -i on "$vg" >/dev/null 2>&1
  sleep "$1"
  callgrind_control -i off "$vg" >/dev/null 2>&1
  local n
  n=$(calls "$2")
  callgrind_control -d "$vg" >/dev/null 2>&1
  sleep 1
  printf '%s %s\n' "$(awk '/^totals:/ { print $2; exit }' "$(ls -t "$dir"/cg.*.* | head -n 1)")" "${n:-0}"
}

MFA_REDIS_URL="redis://127.0.0.1:$PORT" "$BIN" redis 1 25 >"$dir/logins.out" 2>&1 &
logins=$!
sleep 10
read -r login_instr evalsha < <(window 8 evalsha)
wait "$logins" || { cat "$dir/logins.out" >&2; exit 1; }
redis-benchmark -p "$PORT" -t set -c 4 -n 200000 -q >/dev/null 2>&1 &
bench=$!
sleep 2
read -r set_instr sets < <(window 4 set)
kill "$bench" 2>/dev/null || true
[ "$evalsha" -gt 0 ] && [ "$sets" -gt 0 ] || { echo "no calls counted" >&2; exit 1; }
awk -v i="$login_instr" -v e="$evalsha" -v s="$set_instr" -v n="$sets" 'BEGIN {
  printf "logins in the window: %.0f (%d EVALSHA); SETs: %d\n", e / 4, e, n
  printf "server instructions per login: %.0f\n", i / (e / 4)
  printf "server instructions per SET:   %.0f\n", s / n
  printf "a login = %.0f SETs of user-space instructions\n", (i / (e / 4)) / (s / n) }'
