#!/usr/bin/env bash
# read-ours.sh DIR — reads every DIR/*.json case (s3ec-vector/1) back through the real
# AmazonS3EncryptionClientV2 (AWS SDK for Java 1.12.262, CryptoMode.AuthenticatedEncryption).
# Uploads each object (and its instruction file) to a loopback S3 stand-in with a plain S3 client,
# GETs it through the decrypting client, and prints one line per case:
#   PASS <case-file>  |  FAIL <case-file> <reason>  |  SKIP <case-file> <why unsupported>
# Exits 0 unless the harness itself broke.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
DIR="$(cd "$1" && pwd)"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

setup_java_peer

WORK="$(mktemp -d "${TMPDIR:-/tmp}/s3ec-java-read.XXXXXX")"
cleanup() {
    stop_stub
    remove_work "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_stub "$WORK"
run_java s3ecvectors.ReadOurs "$DIR" "$STUB_URL"
