#!/usr/bin/env bash
# Makes sure NATS (JetStream), PostgreSQL and ClickHouse answer on their local
# ports; starts them — installing ClickHouse from Debian's packages — when not.
# Idempotent: a service that already answers is left alone. URLs come from
# NATS_URL, DATABASE_URL and CLICKHOUSE_URL; only local ones are started here.
set -euo pipefail
log() { printf '[infra] %s\n' "$*" >&2; }

NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/switchyard}
CLICKHOUSE_URL=${CLICKHOUSE_URL:-http://127.0.0.1:8123}

hostport() { # url -> "host port"
  local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}
  echo "${rest%%:*} ${rest##*:}"
}
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_port() { # host port name seconds
  for _ in $(seq 1 $(( $4 * 5 ))); do port_open "$1" "$2" && return 0; sleep 0.2; done
  log "$3 did not come up on $1:$2"; return 1
}
is_local() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]; }

# --- NATS with JetStream -----------------------------------------------------
read -r h p <<<"$(hostport "$NATS_URL")"
if ! port_open "$h" "$p"; then
  is_local "$h" || { log "NATS at $NATS_URL is not reachable"; exit 1; }
  if ! command -v nats-server >/dev/null; then
    log "installing nats-server (apt)"; apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q nats-server >/dev/null
  fi
  log "starting nats-server with JetStream on $p"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
    -a 127.0.0.1 -p "$p" -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_port "$h" "$p" NATS 20
fi

# --- PostgreSQL ----------------------------------------------------------------
read -r h p <<<"$(hostport "$DATABASE_URL")"
if ! port_open "$h" "$p"; then
  is_local "$h" || { log "PostgreSQL at $DATABASE_URL is not reachable"; exit 1; }
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "installing postgresql (apt)"; apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
  fi
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | tail -n1)" main start || true
  wait_port "$h" "$p" PostgreSQL 30
fi
# The database itself: created when missing (trust auth locally).
db=${DATABASE_URL##*/}; db=${db%%\?*}
admin_url=${DATABASE_URL%/*}/postgres
if command -v psql >/dev/null; then
  if ! psql "$admin_url" -tAc "select 1 from pg_database where datname='$db'" 2>/dev/null | grep -q 1; then
    log "creating database $db"; psql "$admin_url" -qc "create database \"$db\"" >/dev/null
  fi
fi

# --- ClickHouse ----------------------------------------------------------------
read -r h p <<<"$(hostport "$CLICKHOUSE_URL")"
if ! port_open "$h" "$p"; then
  is_local "$h" || { log "ClickHouse at $CLICKHOUSE_URL is not reachable"; exit 1; }
  if ! command -v clickhouse-server >/dev/null; then
    log "installing clickhouse-server (apt; Debian ships 18.16)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q clickhouse-server clickhouse-client >/dev/null
  fi
  log "starting clickhouse-server on $p"
  mkdir -p /var/lib/clickhouse /var/log/clickhouse-server
  chown -R clickhouse:clickhouse /var/lib/clickhouse /var/log/clickhouse-server 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --chuid clickhouse \
    --exec /usr/sbin/clickhouse-server -- --config=/etc/clickhouse-server/config.xml
  wait_port "$h" "$p" ClickHouse 60
  # The HTTP port opens a moment before queries are served.
  for _ in $(seq 1 50); do
    node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$CLICKHOUSE_URL/ping" 2>/dev/null && break; sleep 0.2
  done
fi
log "NATS, PostgreSQL and ClickHouse are up"
