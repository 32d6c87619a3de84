#!/usr/bin/env bash
# The cross-implementation S3EC harness, as CI runs it: the Python environment (cached in
# target/harness-venv, with the s3ec wheel built from this tree), the s3ec binary, the npm
# package (wasm build + npm ci, through bindings/wasm/prepare.sh; its native engine through
# bindings/node/build.sh, which the node server then runs on), then the scenario runner
# against moto on 127.0.0.1 with every server listed in test-server/servers.txt (the Rust
# transport, the npm package under Node, the Python package, and AWS's official Python S3EC).
# Extra arguments go to the runner (e.g. --only ranged-get, --only-server python).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash test-server/setup.sh
cargo build --quiet -p s3-encryption-transport --bin s3ec
bash bindings/wasm/prepare.sh
bash bindings/node/build.sh
S3EC="${CARGO_TARGET_DIR:-target}/debug/s3ec"
VENV="${HARNESS_VENV:-target/harness-venv}"
export S3EC VENV
exec "$VENV/bin/python" test-server/runner.py \
  --moto-server "$VENV/bin/moto_server" \
  --servers-file test-server/servers.txt \
  "$@"
