#!/usr/bin/env bash
# `npm test`: the whole suite on a fresh machine. Installs npm deps, makes sure
# NATS, PostgreSQL and ClickHouse run (installing ClickHouse if needed),
# builds (end-to-end tests run the built services), lints, then runs vitest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(repo_root)
cd "$ROOT"

export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/switchyard_test}
ensure_npm_deps "$ROOT"
DATABASE_URL=$TEST_DATABASE_URL bash deploy/local/ensure-infra.sh
build_all "$ROOT"
echo "[test] lint" >&2
# The module-boundary rule reads Nx's project graph: compute it first.
export NX_DAEMON=false NX_NO_CLOUD=true
npx nx show projects >/dev/null
npx eslint --max-warnings=0 .
echo "[test] vitest" >&2
npx vitest run "$@"
