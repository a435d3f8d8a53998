#!/usr/bin/env bash
# `npm start`: the whole Switchyard stack on this machine, from a fresh clone.
# Installs npm deps, makes sure NATS/PostgreSQL/ClickHouse run (installing
# ClickHouse if needed), builds, migrates, applies deploy/local/switchyard.yaml
# (a demo account, key and channel), starts the four services (and the fake
# provider unless a real one is configured), prints how to call it, and stops
# everything it started on Ctrl-C.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(repo_root)
cd "$ROOT"

export NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/switchyard}
export CLICKHOUSE_URL=${CLICKHOUSE_URL:-http://127.0.0.1:8123}
export CLICKHOUSE_DATABASE=${CLICKHOUSE_DATABASE:-switchyard}
export INGRESS_PORT=${INGRESS_PORT:-8080}
export ROUTER_PORT=${ROUTER_PORT:-8081}
export BILLING_PORT=${BILLING_PORT:-8082}
export STATS_PORT=${STATS_PORT:-8083}
FAKE_PROVIDER_PORT=${FAKE_PROVIDER_PORT:-9001}
STATE=$ROOT/.switchyard
mkdir -p "$STATE/logs"

# Channel credentials are encrypted at rest: a development key is made once
# and kept in .switchyard/credential.key (set SWITCHYARD_CREDENTIAL_KEY to use your own).
if [ -z "${SWITCHYARD_CREDENTIAL_KEY:-}" ]; then
  [ -s "$STATE/credential.key" ] || (umask 077; head -c 32 /dev/urandom | base64 > "$STATE/credential.key")
  SWITCHYARD_CREDENTIAL_KEY=$(cat "$STATE/credential.key")
fi
export SWITCHYARD_CREDENTIAL_KEY

# Admin API token (billing's /admin/v1), kept across restarts in local.env.
if [ -z "${SWITCHYARD_ADMIN_TOKEN:-}" ]; then
  SWITCHYARD_ADMIN_TOKEN=$(sed -n 's/^SWITCHYARD_ADMIN_TOKEN=//p' "$STATE/local.env" 2>/dev/null || true)
  [ -n "$SWITCHYARD_ADMIN_TOKEN" ] || SWITCHYARD_ADMIN_TOKEN="sy-admin-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
fi
export SWITCHYARD_ADMIN_TOKEN

ensure_npm_deps "$ROOT"
bash deploy/local/ensure-infra.sh
build_all "$ROOT"

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "[switchyard] stopping..." >&2
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "[switchyard] stopped" >&2
  exit 0
}
trap cleanup INT TERM EXIT

run() { # name command...
  local name=$1; shift
  "$@" >>"$STATE/logs/$name.log" 2>&1 &
  PIDS+=($!)
}

node services/billing/dist/admin.cli.js migrate >/dev/null

# The upstream: a real OpenAI-compatible provider when configured, else the bundled fake.
if [ -n "${OPENAI_API_KEY:-}" ]; then
  UPSTREAM_URL=${OPENAI_BASE_URL:-https://api.openai.com/v1}
  UPSTREAM_KEY=$OPENAI_API_KEY
  CHANNEL=openai
else
  run fake-provider node libs/fake-provider/dist/main.js --port "$FAKE_PROVIDER_PORT" --api-key fake-provider-key
  UPSTREAM_URL=http://127.0.0.1:$FAKE_PROVIDER_PORT/v1
  UPSTREAM_KEY=fake-provider-key
  CHANNEL=demo-fake
  wait_http "http://127.0.0.1:$FAKE_PROVIDER_PORT/_fake/stats" 20 "fake provider"
fi

# Demo key: kept across restarts in .switchyard/local.env.
DEMO_KEY=""
[ -f "$STATE/local.env" ] && DEMO_KEY=$(sed -n 's/^SWITCHYARD_API_KEY=//p' "$STATE/local.env")
[ -n "$DEMO_KEY" ] || DEMO_KEY="sk-sy-demo-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# The demo account, key, channel and price, from the declarative file (idempotent: a restart adds nothing).
SWITCHYARD_DEMO_KEY=$DEMO_KEY DEMO_CHANNEL=$CHANNEL DEMO_UPSTREAM_URL=$UPSTREAM_URL DEMO_UPSTREAM_KEY=$UPSTREAM_KEY \
  node services/billing/dist/admin.cli.js apply deploy/local/switchyard.yaml >/dev/null

run billing node services/billing/dist/main.js
run stats node services/stats/dist/main.js
run router node services/router/dist/main.js
run ingress node services/ingress/dist/main.js
wait_http "http://127.0.0.1:$BILLING_PORT/readyz" 60 billing
wait_http "http://127.0.0.1:$STATS_PORT/readyz" 60 stats
wait_http "http://127.0.0.1:$ROUTER_PORT/readyz" 60 router
wait_http "http://127.0.0.1:$INGRESS_PORT/readyz" 60 ingress

URL=http://127.0.0.1:$INGRESS_PORT
cat >"$STATE/local.env" <<ENV
SWITCHYARD_URL=$URL/v1
SWITCHYARD_API_KEY=$DEMO_KEY
SWITCHYARD_ADMIN_TOKEN=$SWITCHYARD_ADMIN_TOKEN
ENV

cat <<MSG

Switchyard is running.
  ingress:  $URL/v1   (OpenAI-compatible)
  api key:  $DEMO_KEY
  upstream: $CHANNEL -> $UPSTREAM_URL
  logs:     $STATE/logs/
  admin:    http://127.0.0.1:$BILLING_PORT/admin/v1  (Authorization: Bearer \$SWITCHYARD_ADMIN_TOKEN; OpenAPI at /admin/v1/openapi.json)
  env:      $STATE/local.env (SWITCHYARD_URL, SWITCHYARD_API_KEY, SWITCHYARD_ADMIN_TOKEN)

Try it:
  curl -s $URL/v1/chat/completions -H "Authorization: Bearer $DEMO_KEY" \\
    -H 'content-type: application/json' \\
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}'

Ctrl-C stops everything started here.
MSG

wait -n "${PIDS[@]}" || true
echo "[switchyard] a service exited; see $STATE/logs/" >&2
