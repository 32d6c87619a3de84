#!/usr/bin/env bash
# Regenerates every SDK-written vector from a fresh machine: installs each peer (Debian packages,
# PyPI venvs and the Java SDK jars, cached under ${S3EC_PEERS_DIR:-~/.cache/s3ec-peers}), drives it
# against a loopback S3 stand-in and a KMS stand-in, and rewrites test-vectors/<producer>/.
# IVs and data keys are random in most SDKs, so reruns change bytes but not coverage.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for peer in published java ruby go python ss; do
  echo "== generating: $peer" >&2
  bash "$HERE/generators/$peer/generate.sh"
done
python3 "$HERE/generators/derived/derive.py"
echo "done: run 'cargo test --test vectors' to check them" >&2
