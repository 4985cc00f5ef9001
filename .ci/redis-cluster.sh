#!/usr/bin/env bash
# A 3-master Redis Cluster on loopback for the Redis store's cluster tests
# (crates/mfa-store-redis/tests/cluster.rs).
#
#   eval "$(bash .ci/redis-cluster.sh start)"   # start (or reuse) it; exports MFA_REDIS_CLUSTER_URLS
#   bash .ci/redis-cluster.sh status            # exit 0 if it is up and healthy
#   bash .ci/redis-cluster.sh stop              # stop the nodes this script started, delete their files
#
# `start` is idempotent: if the three ports already answer as one healthy cluster of three
# masters, it starts nothing. Nodes that answer but do not form that cluster (a half-finished
# earlier run) are stopped and recreated, but only if this script started them (it keeps their
# pid files under $MFA_REDIS_CLUSTER_DIR); a port held by anything else is an error. The only line
# on stdout is the `export MFA_REDIS_CLUSTER_URLS=...` to eval; progress goes to stderr.
#
# Nodes keep nothing on disk (--save "" --appendonly no): a restarted node comes back empty, which
# is what the store's data-loss marker is for; the tests create their own keys each run.
#
# Settings (environment): MFA_REDIS_CLUSTER_PORTS (default "7001 7002 7003"),
# MFA_REDIS_CLUSTER_DIR (default /tmp/mfa-redis-cluster).
set -euo pipefail

read -r -a PORTS <<<"${MFA_REDIS_CLUSTER_PORTS:-7001 7002 7003}"
DIR="${MFA_REDIS_CLUSTER_DIR:-/tmp/mfa-redis-cluster}"
HOST=127.0.0.1

say() { printf 'redis-cluster: %s\n' "$*" >&2; }

urls() {
  local out="" port
  for port in "${PORTS[@]}"; do out+="${out:+,}redis://$HOST:$port"; done
  printf '%s' "$out"
}

cli() { redis-cli -h "$HOST" -p "$1" "${@:2}" 2>/dev/null; }

answers() { [ "$(cli "$1" PING)" = PONG ]; }

# Healthy: every port answers as a cluster node in state ok that knows exactly our masters and
# serves all 16384 slots.
healthy() {
  local port info
  for port in "${PORTS[@]}"; do
    info="$(cli "$port" CLUSTER INFO | tr -d '\r')" || return 1
    grep -qx 'cluster_state:ok' <<<"$info" || return 1
    grep -qx "cluster_known_nodes:${#PORTS[@]}" <<<"$info" || return 1
    grep -qx 'cluster_slots_assigned:16384' <<<"$info" || return 1
  done
}

ours() { [ -f "$DIR/$1/redis.pid" ] && kill -0 "$(cat "$DIR/$1/redis.pid")" 2>/dev/null; }

stop_nodes() {
  local port pid i
  for port in "${PORTS[@]}"; do
    if ours "$port"; then
      pid="$(cat "$DIR/$port/redis.pid")"
      say "stopping the node on $port (pid $pid)"
      kill "$pid" 2>/dev/null || true
      for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
  rm -rf "$DIR"
}

start_nodes() {
  local port
  for port in "${PORTS[@]}"; do
    if answers "$port"; then
      say "port $port is held by a process this script did not start; stop it or set MFA_REDIS_CLUSTER_PORTS"
      exit 1
    fi
    # A node that died (or a machine that rebooted) leaves its nodes.conf behind; a node started
    # on it would remember the old cluster and refuse to join a new one ("is not empty").
    rm -rf "${DIR:?}/$port"
    mkdir -p "$DIR/$port"
    redis-server --port "$port" --bind "$HOST" \
      --cluster-enabled yes --cluster-config-file "$DIR/$port/nodes.conf" \
      --cluster-node-timeout 5000 \
      --dir "$DIR/$port" --save "" --appendonly no \
      --daemonize yes --pidfile "$DIR/$port/redis.pid" --logfile "$DIR/$port/redis.log"
  done
  for port in "${PORTS[@]}"; do
    for _ in $(seq 1 50); do answers "$port" && break; sleep 0.1; done
    answers "$port" || { say "the node on $port did not start; see $DIR/$port/redis.log"; exit 1; }
  done
}

create_cluster() {
  local nodes=() port
  for port in "${PORTS[@]}"; do nodes+=("$HOST:$port"); done
  # Freshly started and ours: make sure each is an empty, lone master before joining them.
  for port in "${PORTS[@]}"; do
    cli "$port" FLUSHALL >/dev/null
    cli "$port" CLUSTER RESET HARD >/dev/null
  done
  say "creating the cluster of ${nodes[*]}"
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >&2
}

wait_healthy() {
  local _
  for _ in $(seq 1 300); do
    healthy && return 0
    sleep 0.1
  done
  say "the cluster did not reach cluster_state:ok within 30 s"
  return 1
}

start() {
  command -v redis-server >/dev/null || { say "redis-server is not installed"; exit 1; }
  if healthy; then
    say "already up on ports ${PORTS[*]}"
  else
    local port any=0
    for port in "${PORTS[@]}"; do ours "$port" && any=1; done
    # Ours but unhealthy (a half-created cluster, a node that died): start over.
    [ "$any" = 1 ] && stop_nodes
    start_nodes
    create_cluster
    wait_healthy
    say "up on ports ${PORTS[*]}"
  fi
  printf 'export MFA_REDIS_CLUSTER_URLS=%s\n' "$(urls)"
}

case "${1:-start}" in
  start) start ;;
  status) healthy ;;
  stop) stop_nodes ;;
  *) say "usage: $0 [start|status|stop]"; exit 2 ;;
esac
