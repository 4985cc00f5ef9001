# Shared by .ci/run and .ci/test. Sourced, not executed.
export CARGO_TERM_COLOR=never
# A build cache outside the clone, so repeated CI runs on one machine reuse it; a fresh
# machine simply builds from scratch.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mfa-rs/target}"

# Each step's heading carries the seconds since the script started, so a slow step shows.
log() { printf '\n== [%ss] %s\n' "$SECONDS" "$*"; }

# Root on Debian or Ubuntu with apt-get: the one case where the suite installs and sets up what
# it needs by itself.
can_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && command -v dpkg-query >/dev/null &&
    grep -qsE '^ID(_LIKE)?=.*(debian|ubuntu)' /etc/os-release
}

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    pkg_installed "$pkg" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if ! can_install; then
    printf 'cannot install %s: not root on Debian/Ubuntu with apt-get; install them, then run again\n' \
      "${missing[*]}" >&2
    return 1
  fi
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_test_tools() {
  # oathtool (Debian) and pyotp (PyPI) are the independent implementations the CLI is
  # cross-checked against; OpenSSL's headers build the embedded SMTP server of mfa-mail's tests;
  # Chromium and its driver run the demo's end-to-end browser test.
  # Without root they can only be reported; with MFA_REQUIRE_SERVICES=0 the suite goes on and
  # the tests that need them skip.
  apt_install oathtool pkg-config libssl-dev chromium chromium-driver ||
    [ "${MFA_REQUIRE_SERVICES:-1}" = 0 ]
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

# --- The servers of the service-backed tests ------------------------------------------------
# The tests connect as postgres://postgres@127.0.0.1:5432/test (trust),
# mysql://root@127.0.0.1:3306/test (no password) and redis://127.0.0.1:6379. Each check below
# connects the way the tests do, so a server that runs but refuses them counts as missing.
# Where a server is down: one already set up on the machine is started as the machine starts
# it; otherwise, as root on Debian/Ubuntu, the package is installed and a server of the
# suite's own is set up, with its data under $MFA_SERVICES_DIR (PostgreSQL: a cluster named
# `mfa` made by pg_createcluster). Nothing that was set up before is reconfigured.

if [ "$(id -u)" = 0 ]; then
  MFA_SERVICES_DIR="${MFA_SERVICES_DIR:-/var/lib/mfa-rs}"
else
  MFA_SERVICES_DIR="${MFA_SERVICES_DIR:-$HOME/.cache/mfa-rs/services}"
fi

postgres_ok() {
  if command -v psql >/dev/null; then
    psql -w -X -q -tA "postgresql://postgres@127.0.0.1:$1/test" -c 'select 1' >/dev/null 2>&1
  else
    port_open "$1"
  fi
}

mariadb_ok() {
  local client
  client=$(command -v mariadb || command -v mysql) || { port_open "$1"; return; }
  "$client" --no-defaults --protocol=tcp -h 127.0.0.1 -P "$1" -u root --password= \
    -e 'select 1' test >/dev/null 2>&1
}

redis_ok() {
  if command -v redis-cli >/dev/null; then
    [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
  else
    port_open "$1"
  fi
}

# A package's own server, started by its installation, would hold the port with the package's
# settings (PostgreSQL and MariaDB accept root only through their socket): stop it, once, just
# after installing, so that the suite's own server can take the port.
stop_packaged_service() {
  if [ -d /run/systemd/system ]; then
    systemctl disable --now "$1" >/dev/null 2>&1 || true
  else
    service "$1" stop >/dev/null 2>&1 || true
  fi
}

# PostgreSQL on 127.0.0.1:$1: the cluster configured for that port, else (as root on
# Debian/Ubuntu) a new cluster named $2 (default mfa) with trust authentication and a database
# `test`.
start_postgres() {
  local port=$1 name=${2:-mfa} cluster version
  cluster=$(pg_lsclusters --no-header 2>/dev/null | awk -v p="$port" '$3 == p { print $1, $2; exit }')
  if [ -n "$cluster" ]; then
    log "starting PostgreSQL cluster ${cluster/ //}"
    # shellcheck disable=SC2086 # "version name"
    pg_ctlcluster --skip-systemctl-redirect $cluster start || true
    return 0
  fi
  can_install || return 1
  if ! pkg_installed postgresql; then
    apt_install postgresql || return 1
    # The package made a cluster `main` on 5432 with password authentication; nothing is in it.
    for version in $(ls /etc/postgresql 2>/dev/null); do
      [ -d "/etc/postgresql/$version/main" ] && pg_dropcluster --stop "$version" main
    done
  fi
  version=$(ls /usr/lib/postgresql | sort -V | tail -n1)
  log "creating PostgreSQL cluster $version/$name on 127.0.0.1:$port"
  pg_createcluster "$version" "$name" -p "$port" --start-conf manual -- --auth=trust >/dev/null
  pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start
  wait_port "$port" &&
    psql -w -X -q "postgresql://postgres@127.0.0.1:$port/postgres" -c 'create database test'
}

# MariaDB on 127.0.0.1:$1: the suite's own server if it made one; on 3306 the machine's own,
# as the machine starts it; else (as root on Debian/Ubuntu) a new server with its data in
# $MFA_SERVICES_DIR/mariadb-$1, root without a password, and a database `test`.
start_mariadb() {
  local port=$1 dir="$MFA_SERVICES_DIR/mariadb-$1" install_db
  if [ ! -d "$dir/data/mysql" ]; then
    if [ "$port" = 3306 ] && [ -x /usr/sbin/mariadbd ] && [ -d /var/lib/mysql/mysql ] &&
      pkg_installed mariadb-server; then
      log "starting the machine's MariaDB"
      start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
      return 0
    fi
    can_install || return 1
    if ! pkg_installed mariadb-server; then
      apt_install mariadb-server || return 1
      stop_packaged_service mariadb
    fi
    log "creating a MariaDB server in $dir on 127.0.0.1:$port"
    install_db=$(command -v mariadb-install-db || command -v mysql_install_db)
    mkdir -p "$dir/data" && chown -R mysql:mysql "$dir"
    "$install_db" --no-defaults --user=mysql --datadir="$dir/data" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1
  fi
  log "starting MariaDB in $dir"
  start-stop-daemon --start --oknodo --background --pidfile "$dir/mariadbd.pid" \
    --exec /usr/sbin/mariadbd -- --no-defaults --user=mysql --datadir="$dir/data" \
    --port="$port" --bind-address=127.0.0.1 --socket="$dir/mariadbd.sock" \
    --pid-file="$dir/mariadbd.pid" --log-error="$dir/error.log" >/dev/null
  wait_port "$port" &&
    "$(command -v mariadb || command -v mysql)" --no-defaults --protocol=tcp -h 127.0.0.1 \
      -P "$port" -u root --password= -e 'create database if not exists test'
}

# Redis on 127.0.0.1:$1, keeping nothing on disk; installed first as root on Debian/Ubuntu.
start_redis() {
  local port=$1 dir="$MFA_SERVICES_DIR/redis-$1"
  if ! command -v redis-server >/dev/null; then
    can_install || return 1
    apt_install redis-server || return 1
    stop_packaged_service redis-server
  fi
  mkdir -p "$dir" 2>/dev/null || return 1
  log "starting Redis on 127.0.0.1:$port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null || true
}

# Waits up to 30 s for the check $1 to pass against port $2.
wait_ok() {
  local i
  for i in $(seq 1 30); do
    "$1" "$2" && return 0
    sleep 1
  done
  return 1
}

# Makes sure the servers answer as the tests connect; starts, or installs and sets up, those
# that do not. Where that cannot be done, says so in one line, with how to run the suite
# without them, and fails if MFA_REQUIRE_SERVICES=1 (the default here and in CI). Changes
# nothing where all three answer, so it can run any number of times. The ports (PostgreSQL,
# MariaDB, Redis) are arguments only so that this can be tried on scratch ports.
ensure_services() {
  export MFA_REQUIRE_SERVICES="${MFA_REQUIRE_SERVICES:-1}"
  local pg=${1:-5432} my=${2:-3306} redis=${3:-6379} missing=""
  postgres_ok "$pg" || { start_postgres "$pg" && wait_ok postgres_ok "$pg"; } ||
    missing+="${missing:+, }PostgreSQL (postgres@127.0.0.1:$pg/test, trust)"
  mariadb_ok "$my" || { start_mariadb "$my" && wait_ok mariadb_ok "$my"; } ||
    missing+="${missing:+, }MariaDB (root@127.0.0.1:$my/test, no password)"
  redis_ok "$redis" || { start_redis "$redis" && wait_ok redis_ok "$redis"; } ||
    missing+="${missing:+, }Redis (127.0.0.1:$redis)"
  [ -z "$missing" ] && return 0

  local why="could not be started here"
  can_install || why="are not running and cannot be set up here without root on Debian/Ubuntu"
  printf 'missing servers: %s %s; start them, or run the suite without them: MFA_REQUIRE_SERVICES=0 bash .ci/test (the memory and SQLite tests still run)\n' \
    "$missing" "$why" >&2
  [ "$MFA_REQUIRE_SERVICES" = 0 ]
}

# A three-node Redis Cluster on 7001-7003 for the cluster tests of the Redis store and the
# facade (`.ci/redis-cluster.sh`); exports MFA_REDIS_CLUSTER_URLS. Needs redis-server, which
# the Redis package brings; without it, the cluster tests fail under MFA_REQUIRE_SERVICES=1.
ensure_redis_cluster() {
  if ! command -v redis-server >/dev/null; then
    can_install && apt_install redis-server && stop_packaged_service redis-server
  fi
  local exports
  if exports=$(bash .ci/redis-cluster.sh start); then
    eval "$exports"
  else
    printf 'missing: a Redis Cluster on 127.0.0.1:7001-7003 (bash .ci/redis-cluster.sh start)\n' >&2
    [ "$MFA_REQUIRE_SERVICES" = 0 ]
  fi
}

# --- Supply chain ------------------------------------------------------------------------------

ensure_cargo_deny() {
  command -v cargo-deny >/dev/null && return 0
  log "cargo install --locked cargo-deny"
  # cargo-deny's release profile asks for fat LTO in one codegen unit, which takes over ten
  # minutes on two cores; a licence check over our graph needs none of that speed.
  CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo install --locked cargo-deny@0.20.2
}

# --- Mutation testing --------------------------------------------------------------------------

ensure_cargo_mutants() {
  command -v cargo-mutants >/dev/null && return 0
  log "cargo install --locked cargo-mutants"
  cargo install --locked cargo-mutants@27.1.0
}

# One shard of the mutants of mfa-core and mfa-policy (.cargo/mutants.toml, docs/mutation-
# testing.md): shard <commit count> mod MUTATION_SHARDS, so a commit always runs the same shard
# and successive commits cover them all. Every viable mutant there is caught by a test or
# excluded in .cargo/mutants.toml as equivalent, with the reason; so a missed mutant (exit 2)
# is a test gap and fails. A timeout (exit 3: the mutant made a test loop) counts as caught.
# In place, so that the builds reuse CI's target directory; the sources are restored after.
mutation_shard() {
  local shards=${MUTATION_SHARDS:-24} shard rc=0
  shard=$(($(git rev-list --count HEAD) % shards))
  log "cargo mutants: shard $shard/$shards of mfa-core and mfa-policy"
  cargo mutants --in-place --no-shuffle -p mfa-core -p mfa-policy --shard "$shard/$shards" \
    --timeout 20 -o "$CARGO_TARGET_DIR/mutants-ci" || rc=$?
  case $rc in
    0 | 3) return 0 ;;
    *)
      cat "$CARGO_TARGET_DIR/mutants-ci/mutants.out/missed.txt" >&2 || true
      return "$rc"
      ;;
  esac
}

# The workspace's crates that may be published: all but those with `publish = false` (the
# examples, the demo and the benchmarks).
publishable_crates() {
  cargo metadata --no-deps --format-version 1 --offline |
    python3 -c 'import json, sys
print(*(p["name"] for p in json.load(sys.stdin)["packages"] if p.get("publish") != []))'
}

# Packages every publishable crate as `cargo publish` would, after checking that each package
# carries its README and both licence files, then verifies the packages by building each from
# its .crate (workspace dependencies come from the packages just made, not from crates.io).
# Offline: only what the earlier steps downloaded is used. --allow-dirty so that a local run
# on a modified tree checks the packaging, not the git state.
package_crates() {
  local crates crate listed file args=()
  read -r -a crates <<<"$(publishable_crates)"
  for crate in "${crates[@]}"; do
    listed=$(cargo package --offline --allow-dirty --list -p "$crate")
    for file in README.md LICENSE-MIT LICENSE-APACHE; do
      if ! grep -qx "$file" <<<"$listed"; then
        printf 'the package of %s lacks %s\n' "$crate" "$file" >&2
        return 1
      fi
    done
    args+=(-p "$crate")
  done
  # The verification builds get a target directory of their own (see forget_package_builds).
  local verify_dir="$CARGO_TARGET_DIR/package-verify"
  forget_package_builds "$verify_dir" "${crates[@]}"
  cargo package --offline --locked --allow-dirty --target-dir "$verify_dir" "${args[@]}"
}

# Cargo verifies a package against its workspace dependencies through a temporary local
# registry: a dependency is unpacked under $CARGO_HOME/registry/src/-<hash>/<name>-<version>
# and built as a registry crate. Both are kept across runs and trusted by name and version
# alone: an unpacked copy from an earlier run is not unpacked again, and a registry crate's
# build is not redone when its source changes. Under our unchanged version 0.1.0 a dependency
# then keeps its old API (this failed CI once, after mfa-store grew its WebAuthn types). So
# before each run our crates' unpacked copies go (only in the local registries' directories,
# whose names start with "-", never the crates.io sources), and so do their builds in the
# verification's own target directory; the third-party crates' builds stay cached there.
forget_package_builds() {
  local dir=$1 crate unpacked
  shift
  for crate in "$@"; do
    for unpacked in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/"$crate"-[0-9]*; do
      [ -d "$unpacked" ] && rm -rf -- "$unpacked"
    done
  done
  rm -rf -- "$dir"/debug/.fingerprint/mfa* "$dir"/debug/deps/*mfa* "$dir"/debug/build/mfa*
}
