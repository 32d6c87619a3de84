#!/usr/bin/env bash
# Creates (once) the Python environment the harness needs, under target/harness-venv: boto3,
# moto[server] 5.2.5 (S3 + KMS on 127.0.0.1) and AWS's official Python S3EC 4.0.0; then installs
# this repository's s3ec wheel into it, built by bindings/python/build-wheel.sh (reused while the
# sources it is made of do not change; reinstalled when the wheel changes). Fails if the build
# fails. Idempotent: a venv that already has the pinned versions and the current wheel is kept.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${HARNESS_VENV:-target/harness-venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
want_moto=5.2.5
want_s3ec=4.0.0
if ! { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$want_moto" "$want_s3ec" <<'PYEOF' 2>/dev/null; }; then
import sys
from importlib.metadata import version
ok = version("moto") == sys.argv[1] and version("amazon-s3-encryption-client-python") == sys.argv[2]
import boto3, flask, s3_encryption  # noqa: F401  (moto[server] brings flask)
sys.exit(0 if ok else 1)
PYEOF
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    boto3 "moto[server]==$want_moto" "amazon-s3-encryption-client-python==$want_s3ec"
  echo "harness venv ready: $VENV"
fi

# The s3ec wheel (its last line of output is the wheel's path).
wheel=$(PYTHON="$PY" bash bindings/python/build-wheel.sh | tail -n 1)
[ -f "$wheel" ] || { echo "setup.sh: no wheel built" >&2; exit 1; }
sum=$(sha256sum "$wheel" | cut -d' ' -f1)
if [ "$(cat "$VENV/.s3ec-wheel" 2>/dev/null)" != "$sum" ]; then
  # boto3, its one dependency, is already in the venv.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$wheel"
  echo "$sum" >"$VENV/.s3ec-wheel"
  echo "s3ec wheel installed: $(basename "$wheel")"
fi
