# Shared by pg_ratio.sh and redis_ratio.sh (sourced, not run): the comparison both make.
#
# compare <backend> <tool> <raw label> <ratio label> <unit> <target>
#   runs `raw` (the caller's function, printing the load tool's one figure), then
#   `login-throughput <backend> 32 $SECS`, then `raw` again, against the server the caller
#   exported in the backend's URL variable; prints the login tool's output, both raw figures,
#   the logins per second and their ratio to the mean of the two raw figures (so that a change
#   in the machine's load during the run moves both sides alike). Exits non-zero if either
#   side printed no figure; a ratio below the target is a finding, printed, not a failure.
compare() {
  local backend=$1 tool=$2 raw_label=$3 ratio_label=$4 unit=$5 target=$6 raw1 raw2 out ours
  raw1=$(raw)
  out=$("${CARGO_TARGET_DIR:-target}/release/login-throughput" "$backend" 32 "$SECS")
  raw2=$(raw)
  printf '%s\n' "$out"
  ours=$(printf '%s\n' "$out" | awk -F= '/^logins_per_second=/ {print $2}')
  [ -n "$ours" ] || { echo "login-throughput printed no logins_per_second" >&2; exit 1; }
  [ -n "$raw1" ] && [ -n "$raw2" ] || { echo "$tool printed no figure" >&2; exit 1; }

  echo "raw $raw_label: ${raw1} and ${raw2} ${unit}"
  echo "full TOTP logins (login-throughput $backend 32 ${SECS}): ${ours} logins/s"
  awk -v o="$ours" -v a="$raw1" -v b="$raw2" -v l="$ratio_label" -v t="$target" \
    'BEGIN { r = (a + b) / 2; printf "ratio: %.3fx %s (%.0f) (target >= %sx)\n", o / r, l, r, t }'
}
