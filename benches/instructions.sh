#!/usr/bin/env bash
# Instruction counts of TOTP verification, ours and totp-rs's, under callgrind: repeatable
# where wall-clock ratios wobble. Each case runs N verifications; the set-up alone ("none") is
# subtracted, and the per-verification counts and ratios are printed.
# Usage: bash benches/instructions.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20000}"
cargo build -q --release -p mfa-benches --bin otp-instructions
bin="${CARGO_TARGET_DIR:-target}/release/otp-instructions"
count() {
  local out
  out="$(mktemp)"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" "$2" >/dev/null 2>&1
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
  rm -f "$out"
}
base=$(count none "$n")
declare -A per
for case in mfa-core/valid mfa-core/invalid totp-rs/valid totp-rs/invalid; do
  total=$(count "$case" "$n")
  per[$case]=$(( (total - base) / n ))
  printf '%-18s %8d instructions per verification\n' "$case" "${per[$case]}"
done
awk -v a="${per[mfa-core/valid]}" -v b="${per[totp-rs/valid]}" 'BEGIN { printf "valid:   mfa-core / totp-rs = %.2f\n", a / b }'
awk -v a="${per[mfa-core/invalid]}" -v b="${per[totp-rs/invalid]}" 'BEGIN { printf "invalid: mfa-core / totp-rs = %.2f\n", a / b }'
