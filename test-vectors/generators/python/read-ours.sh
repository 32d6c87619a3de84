#!/usr/bin/env bash
# Usage: read-ours.sh DIR
# The official AWS Python S3 Encryption Client (4.0.0) decrypts every s3ec-vector/1 case in DIR:
# bodies + metadata (+ instruction files) go to moto's S3 on 127.0.0.1 through a plain boto3 client,
# KMS is an in-process stand-in answering Decrypt from each case's key record.
# Prints one line per case: PASS <case>, FAIL <case> <reason>, SKIP <case> <why>.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 DIR" >&2; exit 2
fi
DIR="$(cd "$1" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"

ensure_venv
mkdir -p "$PEER_HOME"
trap_cleanup
start_moto "$PEER_HOME/moto-read-ours.log"
"$VENV/bin/python" "$HERE/read_ours.py" --endpoint "$MOTO_ENDPOINT" "$DIR"
