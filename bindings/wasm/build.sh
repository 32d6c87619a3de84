#!/usr/bin/env bash
# Build the wasm core and its JS glue into npm/dist/ (idempotent).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
version="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,"",$0); print; exit}' "$root/Cargo.lock")"
bindgen="$target/wasm-bindgen-cli-$version/bin/wasm-bindgen"
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
if [ ! -x "$bindgen" ]; then
  # No --locked: the CLI's own lock file names crate versions the registry mirror may lack.
  cargo install wasm-bindgen-cli --version "$version" --root "$target/wasm-bindgen-cli-$version"
fi
(cd "$root" && CARGO_TARGET_DIR="$target" cargo build -p s3-encryption-wasm --target wasm32-unknown-unknown --release)
mkdir -p "$here/npm/dist"
"$bindgen" --target web --out-dir "$here/npm/dist" --out-name s3ec_core \
  --remove-name-section --remove-producers-section \
  "$target/wasm32-unknown-unknown/release/s3_encryption_wasm.wasm"
rm -f "$here/npm/dist/s3ec_core_bg.wasm.d.ts"
echo "built $(wc -c < "$here/npm/dist/s3ec_core_bg.wasm") bytes of wasm"
