#!/usr/bin/env bash
# The Python package's CI: install what it needs (idempotent; venvs and a wheelhouse under
# target/py/), build the abi3 wheel from the tracked tree, install it into a fresh venv, run pytest.
#
#   bash bindings/python/ci.sh            # everything
#   S3EC_PY_FAST=1 bash bindings/python/ci.sh   # reuse the last wheel if the sources did not change
#
# Then `mypy --strict -p s3ec` on the installed package, `cargo check` of the binding for Windows
# and macOS (rustup installs the two targets once; S3EC_PY_SKIP_CROSS=1 skips it), and the sdist
# built into a wheel offline with cargo and maturin only (S3EC_PY_SKIP_SDIST=1 skips it).
#
# Venvs: target/py/tools (maturin), target/py/test (fresh each run: the wheel + pytest, boto3,
# moto[server], mypy, botocore-stubs, boto3-stubs), target/py/seed (s3-encryption 0.1.3), target/py/aws4
# (amazon-s3-encryption-client-python 4.0.0). After the first run nothing is downloaded: the
# test venv installs from target/py/wheelhouse with --no-index.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
PY=${PYTHON:-python3}
T=$ROOT/target/py
mkdir -p "$T"
log() { echo "[python-ci] $*"; }

venv() { # venv DIR MARKER PIP-ARGS...
  local dir=$1 marker=$2
  shift 2
  if [ -f "$dir/.s3ec-ok" ] && [ "$(cat "$dir/.s3ec-ok")" = "$marker" ]; then
    return 0
  fi
  log "creating $dir ($marker)"
  rm -rf "$dir"
  "$PY" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
  echo "$marker" >"$dir/.s3ec-ok"
}

# 1. Tools and peers (each peer in its own venv: both import as `s3_encryption`).
venv "$T/tools" "maturin>=1.7,<2" "maturin>=1.7,<2"   # build-wheel.sh keeps the same marker
venv "$T/seed" "s3-encryption==0.1.3" --no-deps s3-encryption==0.1.3 pycryptodome boto3 botocore \
  jmespath s3transfer python-dateutil six urllib3
venv "$T/aws4" "amazon-s3-encryption-client-python==4.0.0" amazon-s3-encryption-client-python==4.0.0

# 2. A wheelhouse for the test venv (downloaded once).
# cryptography and mypy: the fake HSM and the typing test of tests/test_custom_keyring.py; mypy with
# botocore-stubs and boto3-stubs: `mypy --strict -p s3ec` (step 6). The marker holds the list, so that
# a changed list refills the wheelhouse.
TEST_DEPS=(pytest boto3 "moto[server]" cryptography mypy botocore-stubs boto3-stubs)
if [ ! -f "$T/wheelhouse/.s3ec-ok" ] || [ "$(cat "$T/wheelhouse/.s3ec-ok")" != "${TEST_DEPS[*]}" ]; then
  log "filling the wheelhouse"
  rm -rf "$T/wheelhouse"
  "$T/tools/bin/python" -m pip wheel -q --disable-pip-version-check -w "$T/wheelhouse" "${TEST_DEPS[@]}"
  echo "${TEST_DEPS[*]}" >"$T/wheelhouse/.s3ec-ok"
fi

# 3. The wheel, from the tracked files only (bindings/python/build-wheel.sh: a clean copy of the
#    tree; the maturin venv target/py/tools). Rebuilt each run unless S3EC_PY_FAST is set.
if [ -z "${S3EC_PY_FAST:-}" ]; then
  export S3EC_PY_REBUILD=1
fi
WHEEL=$(PYTHON="$PY" bash "$ROOT/bindings/python/build-wheel.sh" | tail -n 1)
log "wheel: $(basename "$WHEEL")"

# 4. A fresh venv with the wheel and the test dependencies (offline).
rm -rf "$T/test"
"$PY" -m venv "$T/test"
"$T/test/bin/python" -m pip install -q --disable-pip-version-check --no-index --find-links "$T/wheelhouse" \
  "${TEST_DEPS[@]}" "$WHEEL"

# 5. The tests, run from outside the source tree so that the installed wheel is what is tested.
export S3EC_SEED_PYTHON=$T/seed/bin/python
export S3EC_AWS4_PYTHON=$T/aws4/bin/python
export S3EC_REQUIRE_PEERS=1
unset AWS_PROFILE AWS_ENDPOINT_URL || true
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
cd "$T"
"$T/test/bin/python" -c 'import s3ec, sys; assert "site-packages" in s3ec.__file__, s3ec.__file__; print("[python-ci] testing", s3ec.__file__)'
"$T/test/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$ROOT/bindings/python" "$ROOT/bindings/python/tests" "$@"

# 6. The installed package's typing, as a user's `mypy --strict` sees it (py.typed, the TypedDicts).
log "mypy --strict -p s3ec"
"$T/test/bin/python" -m mypy --strict --no-incremental -p s3ec

# 7. The binding builds on Windows and macOS too (positional I/O through std on every OS): cargo check
#    for two foreign targets (their std is installed once by rustup; no C toolchain is needed).
#    S3EC_PY_SKIP_CROSS=1 leaves it out.
if [ -z "${S3EC_PY_SKIP_CROSS:-}" ]; then
  cd "$ROOT"
  for target in x86_64-pc-windows-gnu aarch64-apple-darwin; do
    if ! rustup target list --installed | grep -qx "$target"; then
      log "rustup target add $target"
      rustup target add "$target"
    fi
    log "cargo check -p s3ec-python --target $target"
    CARGO_PROFILE_DEV_DEBUG=line-tables-only cargo check -q --locked -p s3ec-python --target "$target"
  done
fi

# 8. The sdist: made by maturin from the clean copy of the tree (target/py/clean, step 3), then a
#    wheel built from it alone, offline, with cargo and maturin only (its own target dir, kept between
#    runs), installed into a scratch venv and imported. S3EC_PY_SKIP_SDIST=1 leaves it out.
if [ -z "${S3EC_PY_SKIP_SDIST:-}" ]; then
  log "sdist"
  rm -rf "$T/sdist" "$T/sdist-build" "$T/sdist-venv"
  mkdir -p "$T/sdist" "$T/sdist-build"
  (cd "$T/clean/bindings/python" && "$T/tools/bin/maturin" sdist -o "$T/sdist" >&2)
  SDIST=$(ls "$T"/sdist/s3ec-*.tar.gz)
  tar -xzf "$SDIST" -C "$T/sdist-build"
  (cd "$T"/sdist-build/s3ec-* && CARGO_TARGET_DIR="$T/sdist-target" "$T/tools/bin/maturin" build --release --offline \
    -o "$T/sdist/dist" >&2)
  "$PY" -m venv "$T/sdist-venv"
  "$T/sdist-venv/bin/python" -m pip install -q --disable-pip-version-check --no-index --find-links "$T/wheelhouse" \
    boto3 "$T"/sdist/dist/s3ec-*.whl
  (cd "$T" && "$T/sdist-venv/bin/python" -c '
import s3ec, s3ec._native as n
assert "sdist-venv" in s3ec.__file__, s3ec.__file__
s3ec.AesKeyring(bytes(32))
assert n.check_write_settings({"commitment_policy": "REQUIRE_ENCRYPT_REQUIRE_DECRYPT", "placement": "metadata", "encryption_algorithm": None})
print("[python-ci] the wheel built from", __import__("os").path.basename("'"$SDIST"'"), "imports and runs")')
fi
