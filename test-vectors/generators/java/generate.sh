#!/usr/bin/env bash
# Regenerates test-vectors/java-v2/ and test-vectors/java-legacy/ with the real AWS SDK for Java
# 1.12.262 encryption clients (AmazonS3EncryptionClientV2 and the legacy AmazonS3EncryptionClient),
# writing through a loopback S3 stand-in (s3stub.py) and an in-process offline KMS.
# Installs what it needs on a fresh Debian machine; idempotent; stops everything it starts.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VECTORS="$(cd "$HERE/../.." && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

setup_java_peer

WORK="$(mktemp -d "${TMPDIR:-/tmp}/s3ec-java-gen.XXXXXX")"
cleanup() {
    stop_stub
    remove_work "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_stub "$WORK"
log "S3 stand-in on $STUB_URL"

# Generate into a scratch tree, then replace the two producer folders.
mkdir -p "$WORK/out"
run_java s3ecvectors.Generate "$WORK/store" "$STUB_URL" "$WORK/out"

for d in java-v2 java-legacy; do
    rm -rf "$VECTORS/$d"
    mv "$WORK/out/$d" "$VECTORS/$d"
done
log "done: $(ls "$VECTORS/java-v2"/*.json | wc -l) cases in java-v2, $(ls "$VECTORS/java-legacy"/*.json | wc -l) in java-legacy ($(du -sh "$VECTORS/java-v2" "$VECTORS/java-legacy" | awk '{print $1}' | paste -sd' '))"
