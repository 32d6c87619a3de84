#!/usr/bin/env bash
# Regenerates test-vectors/ss-0.1.3/ with the original third-party Python wrapper s3-encryption 0.1.3
# against moto_server's S3 on 127.0.0.1.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VECTORS="$(cd "$HERE/../.." && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"

ensure_venv
mkdir -p "$PEER_HOME"
trap_cleanup
start_moto "$PEER_HOME/moto-generate.log"
"$VENV/bin/python" "$HERE/gen_ss.py" --endpoint "$MOTO_ENDPOINT" --out "$VECTORS/ss-0.1.3"
