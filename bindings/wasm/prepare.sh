#!/usr/bin/env bash
# Makes the npm package usable from this checkout (idempotent): the wasm build into npm/dist/
# (build.sh: wasm32 target, wasm-bindgen-cli cached under the target dir, the release wasm), then
# the package's dev dependencies (`npm ci`, skipped while node_modules matches package-lock.json).
# Called by ci.sh and by the cross-SDK harness (test-server/run.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v node >/dev/null 2>&1 || { echo "prepare.sh: node (>= 20) is required" >&2; exit 1; }
bash "$here/build.sh"
npm_dir="$here/npm"
stamp="$npm_dir/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$npm_dir/package-lock.json" -nt "$stamp" ] || [ "$npm_dir/package.json" -nt "$stamp" ]; then
  (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
