# Shared by pg_ratio.sh and redis_ratio.sh (sourced, not run): the comparison both make.
#
# compare <backend> <tool> <raw label> <ratio label> <unit> <target>
#   runs `raw` (the caller's function, printing the load tool's one figure), then
#   `login-throughput <backend> 32 $SECS`, then `raw` again, against the server the caller
#   exported in the backend's URL variable; prints the login tool's output, both raw figures,
#   the logins per second and their ratio to the mean of the two raw figures (so that a change
#   in the machine's load during the run moves both sides alike). Exits non-zero if either
#   side printed no figure; a ratio below the target is a finding, printed, not a failure.
#   Also prints, for each run, how many of the machine's cores were busy (Linux /proc/stat,
#   every process: the server, the client, anything else) and so the machine's CPU time per
#   unit (per request or transaction, per login): when both sides keep the cores busy, the
#   ratio is the inverse ratio of those costs (the login run's window includes its set-up of
#   a few seconds, which makes its figure a little high).
compare() {
  local backend=$1 tool=$2 raw_label=$3 ratio_label=$4 unit=$5 target=$6 raw1 raw2 out ours
  local c0 c1 c2 c3
  c0=$(busy); raw1=$(raw); c1=$(busy)
  out=$("${CARGO_TARGET_DIR:-target}/release/login-throughput" "$backend" 32 "$SECS")
  c2=$(busy); raw2=$(raw); c3=$(busy)
  printf '%s\n' "$out"
  ours=$(printf '%s\n' "$out" | awk -F= '/^logins_per_second=/ {print $2}')
  [ -n "$ours" ] || { echo "login-throughput printed no logins_per_second" >&2; exit 1; }
  [ -n "$raw1" ] && [ -n "$raw2" ] || { echo "$tool printed no figure" >&2; exit 1; }

  echo "raw $raw_label: ${raw1} and ${raw2} ${unit}"
  echo "full TOTP logins (login-throughput $backend 32 ${SECS}): ${ours} logins/s"
  awk -v o="$ours" -v a="$raw1" -v b="$raw2" -v l="$ratio_label" -v t="$target" \
    'BEGIN { r = (a + b) / 2; printf "ratio: %.3fx %s (%.0f) (target >= %sx)\n", o / r, l, r, t }'
  per_unit "$tool run 1" "$c0" "$c1" "$raw1" "us per unit"
  per_unit "login-throughput" "$c1" "$c2" "$ours" "us per login"
  per_unit "$tool run 2" "$c2" "$c3" "$raw2" "us per unit"
}

# Busy CPU time of the whole machine (jiffies: user, nice, system, irq, softirq) and the wall
# clock (ns), on one line.
busy() {
  printf '%s %s\n' "$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat)" "$(date +%s%N)"
}

# per_unit <label> <busy before> <busy after> <units per second> <what>: the cores kept busy
# between the two readings and the machine's CPU time per unit at that rate.
per_unit() {
  local hz
  hz=$(getconf CLK_TCK)
  awk -v l="$1" -v b="$2" -v e="$3" -v rate="$4" -v hz="$hz" -v w="$5" 'BEGIN {
    split(b, x, " "); split(e, y, " ");
    cores = (y[1] - x[1]) / hz / ((y[2] - x[2]) / 1e9);
    printf "machine: %s kept %.2f cores busy, %.0f %s\n", l, cores, cores * 1e6 / rate, w }'
}
