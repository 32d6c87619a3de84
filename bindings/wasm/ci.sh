#!/usr/bin/env bash
# The JS/WebAssembly package in CI (idempotent; the first run installs, later runs reuse):
# wasm32 target, wasm-bindgen-cli (cached under the target dir), the wasm build and its lints,
# npm ci, Debian's chromium, the moto and AWS Python S3EC venvs, the Rust s3ec binary, then
# the native engine (bindings/node/build.sh: the Node-API addon as the in-tree platform package),
# then `npm test` once per engine, native, webcrypto and wasm (vectors, round trips, hostile
# storage, cross-reads, browser, npm pack, types; the browser test runs the browser entry on both
# of its engines, webcrypto and wasm, whatever the Node engine).
# Every server a test starts is stopped by that test; all traffic stays on 127.0.0.1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export S3EC_JS_CACHE="${S3EC_JS_CACHE:-$CARGO_TARGET_DIR}"
cd "$root"

echo "== wasm build and npm ci (prepare.sh)"
bash "$here/prepare.sh"
cargo fmt -p s3-encryption-wasm -- --check
cargo clippy -p s3-encryption-wasm --target wasm32-unknown-unknown --release -- -D warnings

echo "== native engine (bindings/node/build.sh)"
bash "$root/bindings/node/build.sh"
# The linux-arm64-gnu cross build, with Debian's cross compiler (installed here when missing);
# nothing here can load it, so it is built, not tested.
if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get install -y gcc-aarch64-linux-gnu >/dev/null ||
    (apt-get update >/dev/null && apt-get install -y gcc-aarch64-linux-gnu >/dev/null)
fi
if command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
  bash "$root/bindings/node/build.sh" linux-arm64-gnu
else
  echo "WARNING: gcc-aarch64-linux-gnu missing and not root: the linux-arm64-gnu build is not checked"
fi
cargo fmt -p s3-encryption-node -p s3-encryption-glue -- --check
cargo clippy -p s3-encryption-node -p s3-encryption-glue --all-targets -- -D warnings
cargo test -q -p s3-encryption-glue

echo "== chromium"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y chromium >/dev/null || (apt-get update >/dev/null && apt-get install -y chromium >/dev/null)
  else
    echo "chromium missing and not root: the browser test will be skipped"
  fi
fi

echo "== python venvs (moto 5.2.5, amazon-s3-encryption-client-python 4.0.0)"
if [ ! -x "$S3EC_JS_CACHE/venv-moto/bin/moto_server" ]; then
  python3 -m venv "$S3EC_JS_CACHE/venv-moto"
  "$S3EC_JS_CACHE/venv-moto/bin/pip" install -q 'moto[server]==5.2.5'
fi
if ! "$S3EC_JS_CACHE/venv-s3ec/bin/python" -c 'import s3_encryption' 2>/dev/null; then
  python3 -m venv "$S3EC_JS_CACHE/venv-s3ec"
  "$S3EC_JS_CACHE/venv-s3ec/bin/pip" install -q 'amazon-s3-encryption-client-python==4.0.0'
fi

if [ "${S3EC_JS_SKIP_RUST:-0}" != 1 ]; then
  echo "== Rust s3ec (for the cross-reads)"
  cargo build -q -p s3-encryption-transport --bin s3ec
  export S3EC_RUST_BIN="$CARGO_TARGET_DIR/debug/s3ec"
fi

cd "$here/npm"
for engine in native webcrypto wasm; do
  echo "== npm test (engine: $engine)"
  S3EC_ENGINE="$engine" npm test
done
