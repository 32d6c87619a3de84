#!/usr/bin/env bash
# Regenerates test-vectors/python/ with the official AWS Python S3 Encryption Client
# (amazon-s3-encryption-client-python 4.0.0) against moto_server (S3 + KMS) on 127.0.0.1.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VECTORS="$(cd "$HERE/../.." && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"

ensure_venv
mkdir -p "$PEER_HOME"
trap_cleanup
start_moto "$PEER_HOME/moto-generate.log"
"$VENV/bin/python" "$HERE/gen_official.py" --endpoint "$MOTO_ENDPOINT" --out "$VECTORS/python"
