#!/usr/bin/env bash
# Regenerates test-vectors/published/ from the published known answers transcribed in generate.py
# (no network, no servers). Needs only pyca/cryptography, in its own venv, to re-check every value.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VECTORS="$(cd "$HERE/../.." && pwd)"
PEER_HOME="${S3EC_PEERS_DIR:-$HOME/.cache/s3ec-peers}/published"
VENV="$PEER_HOME/venv"
REQ="cryptography==48.0.1"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! [ -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.s3ec-requirements" 2>/dev/null)" != "$REQ" ]; then
  PYTHON=""
  for cand in /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      PYTHON=$(command -v "$cand"); break
    fi
  done
  if [ -z "$PYTHON" ]; then
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >&2
    PYTHON=/usr/bin/python3
  fi
  mkdir -p "$PEER_HOME"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$REQ" >&2
  printf '%s\n' "$REQ" >"$VENV/.s3ec-requirements"
fi
"$VENV/bin/python" "$HERE/generate.py" --out "$VECTORS/published"
