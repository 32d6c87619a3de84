#!/usr/bin/env bash
# Installs moto (a local AWS KMS, and a second S3) for the transport's integration tests, into a
# virtual environment at $S3EC_MOTO_VENV (default: <repo>/target/moto-venv). Idempotent: does
# nothing when moto_server is already there. Tests that need KMS look for
# $S3EC_MOTO_SERVER, then <venv>/bin/moto_server (not PATH: the version matters); when neither
# exists they run this script themselves (once, under a lock on <venv>.lock) and fail if it fails.
# They never skip.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${S3EC_MOTO_VENV:-$repo/target/moto-venv}"
moto_version="${S3EC_MOTO_VERSION:-5.2.5}"
if [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c "import moto, sys; sys.exit(0 if moto.__version__ == '$moto_version' else 1)" 2>/dev/null; then
    echo "moto $moto_version already installed in $venv"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "moto[server]==$moto_version"
"$venv/bin/python" -c "import moto; print('moto', moto.__version__, 'installed in $venv')"
