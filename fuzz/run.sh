#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 20 s each) on the stable toolchain.
# Usage: bash fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
for target in $(cargo fuzz list); do
  echo "fuzz: $target for ${seconds}s"
  # Work on a copy of the committed seeds so CI leaves the tree clean.
  work="$(mktemp -d)"
  cp -r "corpus/$target/." "$work/" 2>/dev/null || true
  log="$(mktemp)"
  if ! cargo fuzz run "$target" "$work" -- -max_total_time="$seconds" -rss_limit_mb=2048 >"$log" 2>&1; then
    # Show the panic and the input that caused it (saved under fuzz/artifacts/$target/).
    grep -a -E "panicked|assert|left:|right:|Test unit written|Base64:" "$log" | head -n 20
    tail -n 30 "$log"
    rm -rf "$work" "$log"
    exit 1
  fi
  tail -n 1 "$log"
  rm -rf "$work" "$log"
done
