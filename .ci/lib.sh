# Shared by .ci/run and .ci/test. Sourced, not executed.
export CARGO_TERM_COLOR=never
# A build cache outside the clone, so repeated CI runs on one machine reuse it; a fresh
# machine simply builds from scratch.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mfa-rs/target}"

log() { printf '\n== %s\n' "$*"; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

install_test_tools() {
  # oathtool (Debian) and pyotp (PyPI) are the independent implementations the CLI is
  # cross-checked against; OpenSSL's headers build the embedded SMTP server of mfa-mail's tests;
  # Chromium and its driver run the demo's end-to-end browser test.
  apt_install oathtool pkg-config libssl-dev chromium chromium-driver
  if ! python3 -c 'import pyotp' 2>/dev/null; then
    log "pip install pyotp"
    python3 -m pip install --quiet --disable-pip-version-check pyotp
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 i
  for i in $(seq 1 30); do
    port_open "$port" && return 0
    sleep 1
  done
  return 1
}

# PostgreSQL, MariaDB and Redis are started on the machine before a session; start any that
# is down with the same commands, and fail loudly if one cannot be reached, since the suite
# runs with MFA_REQUIRE_SERVICES=1.
ensure_services() {
  export MFA_REQUIRE_SERVICES="${MFA_REQUIRE_SERVICES:-1}"
  if ! port_open 5432 && command -v pg_ctlcluster >/dev/null; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  if ! port_open 3306 && [ -x /usr/sbin/mariadbd ]; then
    log "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  fi
  if ! port_open 6379 && command -v redis-server >/dev/null; then
    log "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/mfa-redis.log || true
  fi
  local missing=()
  wait_port 5432 || missing+=("PostgreSQL on 127.0.0.1:5432")
  wait_port 3306 || missing+=("MariaDB on 127.0.0.1:3306")
  wait_port 6379 || missing+=("Redis on 127.0.0.1:6379")
  if [ "${#missing[@]}" -gt 0 ]; then
    printf 'service not reachable: %s\n' "${missing[@]}" >&2
    [ "$MFA_REQUIRE_SERVICES" = 1 ] && return 1
  fi
  return 0
}
