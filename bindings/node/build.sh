#!/usr/bin/env bash
# Build the native engine of the npm package (this Node-API addon, release) and place it as a
# platform package in the npm tree, as npm would install `@s3-encryption/<platform>`:
# bindings/wasm/npm/platforms/<platform>/{package.json, s3ec.<platform>.node} (ignored build
# output; the package's loader, npm/lib/native.js, finds it there). Idempotent. No musl recipe: a
# musl cdylib links libgcc_s dynamically, and Debian's musl-gcc has none (an Alpine or
# musl-cross toolchain would).
#   build.sh                  this machine's platform (linux-x64-gnu here)
#   build.sh linux-arm64-gnu  a cross build (aarch64-unknown-linux-gnu, gcc-aarch64-linux-gnu)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
npm_dir="$root/bindings/wasm/npm"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
native="$(node -e "import('$npm_dir/lib/native.js').then((m) => console.log(m.platformTriple()))")"
platform="${1:-$native}"
case "$platform" in
  linux-x64-gnu) rust_target=x86_64-unknown-linux-gnu; cpu=x64; libc=glibc ;;
  linux-arm64-gnu) rust_target=aarch64-unknown-linux-gnu; cpu=arm64; libc=glibc ;;
  *) echo "build.sh: no recipe for platform $platform" >&2; exit 1 ;;
esac
args=(build -p s3-encryption-node --release --target "$rust_target")
case "$rust_target" in
  aarch64-unknown-linux-gnu)
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc ;;
esac
rustup target list --installed 2>/dev/null | grep -qx "$rust_target" || rustup target add "$rust_target"
(cd "$root" && CARGO_TARGET_DIR="$target_dir" cargo "${args[@]}")
out="$npm_dir/platforms/$platform"
mkdir -p "$out"
cp "$target_dir/$rust_target/release/libs3_encryption_node.so" "$out/s3ec.$platform.node"
version="$(node -p "require('$npm_dir/package.json').version")"
cat > "$out/package.json" <<JSON
{
  "name": "@s3-encryption/$platform",
  "version": "$version",
  "description": "The native engine of s3-encryption for $platform (Node-API)",
  "license": "Apache-2.0 OR MIT",
  "main": "s3ec.$platform.node",
  "files": ["s3ec.$platform.node"],
  "os": ["linux"],
  "cpu": ["$cpu"],
  "libc": ["$libc"],
  "engines": { "node": ">=20" }
}
JSON
echo "built $out/s3ec.$platform.node ($(wc -c < "$out/s3ec.$platform.node") bytes)"
