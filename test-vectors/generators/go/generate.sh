#!/usr/bin/env bash
# Regenerate test-vectors/go/ with the real Go aws-sdk-go s3crypto clients (Debian golang-github-aws-aws-sdk-go-dev).
# Installs what it needs (apt), starts a loopback S3 stand-in, writes the vectors, stops everything.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(cd "$HERE/../.." && pwd)/go"
CACHE="${S3EC_PEERS_DIR:-$HOME/.cache/s3ec-peers}/go"

. "$HERE/common.sh"
ensure_go_peer

WORK="$CACHE/work"
rm -rf "$WORK"
mkdir -p "$WORK/record"
start_s3_stub "$WORK" record

echo "go: driving aws-sdk-go s3crypto against 127.0.0.1:$S3_PORT" >&2
"$S3EC_GO" gen "$S3_PORT" "$WORK/manifest.jsonl"
python3 "$HERE/../common/assemble.py" "$WORK/manifest.jsonl" "$WORK/record" "$OUT"
echo "go: checking the new vectors with the SDK's own reader (read-ours.sh)" >&2
"$HERE/read-ours.sh" "$OUT" > "$WORK/readback.txt"
if grep -qvE '^(PASS|SKIP) ' "$WORK/readback.txt"; then
    grep -vE '^(PASS|SKIP) ' "$WORK/readback.txt" >&2
    echo "go: read-ours.sh failed on the vectors above" >&2
    exit 1
fi
echo "go: read-ours.sh on the new vectors: $(grep -c '^PASS ' "$WORK/readback.txt") PASS," \
     "$(grep -c '^SKIP ' "$WORK/readback.txt" || true) SKIP (ranged reads / commitment policy the SDK lacks)" >&2
