#!/usr/bin/env bash
# The cross-implementation S3EC harness, as CI runs it: the Python environment (cached in
# target/harness-venv), the s3ec binary, the npm package (wasm build + npm ci, through
# bindings/wasm/prepare.sh), then the scenario runner against moto on 127.0.0.1 with three servers
# of AWS's harness model: `s3ec test-server` (this repository's transport), the npm package under
# Node (bindings/wasm/npm/test-server/server.mjs) and the server for AWS's official Python S3EC
# 4.0.0 (test-server/python-official/server.py).
# Extra arguments go to the runner (e.g. --only ranged-get).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash test-server/setup.sh
cargo build --quiet -p s3-encryption-transport --bin s3ec
bash bindings/wasm/prepare.sh
target_dir="${CARGO_TARGET_DIR:-target}"
s3ec="$target_dir/debug/s3ec"
venv="${HARNESS_VENV:-target/harness-venv}"
exec "$venv/bin/python" test-server/runner.py \
  --moto-server "$venv/bin/moto_server" \
  --server "rust=$s3ec --path-style test-server --port 0" \
  --server "node=node bindings/wasm/npm/test-server/server.mjs" \
  --server "python-official=$venv/bin/python test-server/python-official/server.py" \
  "$@"
