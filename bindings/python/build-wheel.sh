#!/usr/bin/env bash
# Builds the `s3ec` abi3 wheel into target/py/dist from the tracked files only (a clean copy of
# the tree under target/py/clean: nothing untracked or ignored leaks in), with maturin from the
# venv target/py/tools (created once). Prints the wheel's path as its last line.
#
#   bash bindings/python/build-wheel.sh          # rebuild unless target/py/dist/.stamp matches
#   S3EC_PY_REBUILD=1 bash bindings/python/build-wheel.sh   # rebuild whatever the stamp says
#
# The stamp is a hash of the tracked sources the wheel is made of (index and unstaged changes)
# and of `rustc -V`, so an unchanged tree reuses the last wheel. Cargo's target dir is
# $CARGO_TARGET_DIR, else target/ of this checkout: a rebuild reuses the compiled dependencies. Used by bindings/python/ci.sh and
# test-server/run.sh; fails (non-zero) when the build fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
PY=${PYTHON:-python3}
T=$ROOT/target/py
mkdir -p "$T"
log() { echo "[python-wheel] $*" >&2; }

MATURIN="maturin>=1.7,<2"
if [ ! -f "$T/tools/.s3ec-ok" ] || [ "$(cat "$T/tools/.s3ec-ok")" != "$MATURIN" ]; then
  log "creating $T/tools ($MATURIN)"
  rm -rf "$T/tools"
  "$PY" -m venv "$T/tools"
  "$T/tools/bin/python" -m pip install -q --disable-pip-version-check "$MATURIN"
  echo "$MATURIN" >"$T/tools/.s3ec-ok"
fi

SRC=$T/clean
PATHS=(Cargo.toml Cargo.lock README.md src benches examples tests s3-transport lambda bindings object-store test-server/requests)
# What is copied: the tracked files as they are in the work tree (staged or not); and the compiler.
STAMP=$({ rustc -V; git ls-files -s -- "${PATHS[@]}"; git diff --no-ext-diff -- "${PATHS[@]}"; } | git hash-object --stdin)
if [ -z "${S3EC_PY_REBUILD:-}" ] && [ -f "$T/dist/.stamp" ] && [ "$(cat "$T/dist/.stamp")" = "$STAMP" ] \
  && ls "$T"/dist/s3ec-*-abi3-*.whl >/dev/null 2>&1; then
  log "wheel up to date"
else
  rm -rf "$SRC" "$T/dist"
  mkdir -p "$SRC" "$T/dist"
  git ls-files -z -- "${PATHS[@]}" | xargs -0 tar -cf - | tar -xf - -C "$SRC"
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
  log "building the wheel (target dir $CARGO_TARGET_DIR)"
  (cd "$SRC/bindings/python" && "$T/tools/bin/maturin" build --release --locked -o "$T/dist" >&2)
  echo "$STAMP" >"$T/dist/.stamp"
fi
WHEEL=$(ls "$T"/dist/s3ec-*-abi3-*.whl | head -1)
log "wheel: $(basename "$WHEEL")"
echo "$WHEEL"
