#!/usr/bin/env bash
# Build bench/crypto in release and print its table: V3 and V2 encrypt and verify-first decrypt
# (whole buffer and streaming, and pass one alone), 1 MiB and 64 MiB, chunks of 4 KiB / 64 KiB /
# 1 MiB, once per GCM backend this CPU has (forced in turn in the one default-build binary; each
# x86-64 backend also "before", with its kernels as they were before the GHASH-only loop and the
# prefetching), beside the aes-gcm and aws-lc-rs AES-256-GCM one-shots on the same buffers, with
# the ratios.
#
#   bench/crypto/run.sh
#
# Env: CARGO_TARGET_DIR (default /work/target-bench); S3EC_BENCH_ROUNDS_SMALL / _LARGE (rounds
# for 1 MiB / 64 MiB, default 100 / 15); S3EC_BENCH_QUICK=1 for V3 at 64 MiB only;
# S3EC_BENCH_PROBE=1 for where verify-first pass one's time goes (pass one alone in L2 and at
# 64 MiB per backend, beside a 64 MiB read and copy) instead of the tables;
# S3EC_BENCH_NATIVE=1 to print the tables a second time from a build with
# RUSTFLAGS="-C target-cpu=native" (built in $CARGO_TARGET_DIR/native; the core's GCM backend is
# chosen at run time either way, this changes only what the compiler may assume elsewhere).
# The table goes to stdout (Markdown), progress to stderr.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-bench}"
cargo build --release --quiet --manifest-path "$HERE/Cargo.toml"
if [ "${S3EC_BENCH_NATIVE:-0}" != 1 ]; then
    exec "$CARGO_TARGET_DIR/release/s3ec-bench-crypto"
fi
echo "### Default build"
"$CARGO_TARGET_DIR/release/s3ec-bench-crypto"
echo
echo "### Built with RUSTFLAGS=\"-C target-cpu=native\""
NATIVE_DIR="$CARGO_TARGET_DIR/native"
RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=native" CARGO_TARGET_DIR="$NATIVE_DIR" \
    cargo build --release --quiet --manifest-path "$HERE/Cargo.toml"
"$NATIVE_DIR/release/s3ec-bench-crypto"
