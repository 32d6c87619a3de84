#!/usr/bin/env bash
# Creates (once) the Python environment the harness needs, under target/harness-venv:
# boto3, moto[server] 5.2.5 (S3 + KMS on 127.0.0.1) and AWS's official Python S3EC 4.0.0.
# Idempotent: a venv that already has the pinned versions is kept as it is.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${HARNESS_VENV:-target/harness-venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
want_moto=5.2.5
want_s3ec=4.0.0
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$want_moto" "$want_s3ec" <<'PYEOF' 2>/dev/null; then
import sys
from importlib.metadata import version
ok = version("moto") == sys.argv[1] and version("amazon-s3-encryption-client-python") == sys.argv[2]
import boto3, flask, s3_encryption  # noqa: F401  (moto[server] brings flask)
sys.exit(0 if ok else 1)
PYEOF
  exit 0
fi
rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  boto3 "moto[server]==$want_moto" "amazon-s3-encryption-client-python==$want_s3ec"
echo "harness venv ready: $VENV"
