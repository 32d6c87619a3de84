#!/usr/bin/env bash
# usage: read-ours.sh DIR
# Reads every s3ec-vector/1 case in DIR through aws-sdk-go s3crypto DecryptionClientV2 and prints
# one line per case: PASS <case>, FAIL <case> <reason> or SKIP <case> <why unsupported>.
# Exits 0 unless the harness itself broke.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -eq 1 ] && [ -d "$1" ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR="$(cd "$1" && pwd)"
CACHE="${S3EC_PEERS_DIR:-$HOME/.cache/s3ec-peers}/go"

. "$HERE/common.sh"
ensure_go_peer

mkdir -p "$CACHE"
WORK="$(mktemp -d "$CACHE/read-ours.XXXXXX")"
start_s3_stub "$WORK"
trap 'kill "$S3_STUB_PID" 2>/dev/null || true; wait "$S3_STUB_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$S3EC_GO" read "$S3_PORT" "$DIR"
