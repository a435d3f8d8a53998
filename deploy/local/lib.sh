# Shared by start.sh and test.sh.
repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

# npm dependencies: installed from the lockfile when missing or older than it.
ensure_npm_deps() {
  local root=$1
  if [ ! -d "$root/node_modules" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
    echo "[setup] installing npm dependencies (npm ci)" >&2
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

build_all() {
  local root=$1
  echo "[setup] building (tsc -b)" >&2
  (cd "$root" && npx tsc -b tsconfig.build.json)
}

# Node is always here; curl may not be.
http_ok() { node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$1" 2>/dev/null; }

wait_http() { # url seconds name
  local url=$1 secs=$2 name=$3
  for _ in $(seq 1 $(( secs * 5 ))); do
    http_ok "$url" && return 0
    sleep 0.2
  done
  echo "[setup] $name did not become ready at $url" >&2
  return 1
}
