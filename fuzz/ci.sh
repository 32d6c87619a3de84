#!/usr/bin/env bash
# Build every fuzz target and run each one for SECONDS (default 30) from the committed seeds.
# Fails on the first crash, panic, timeout or out-of-memory, printing the reproducer's path.
#
#   fuzz/ci.sh 30
#
# Needs the nightly toolchain (FUZZ_TOOLCHAIN, default `nightly`); installs cargo-fuzz if missing.
# Builds with debug assertions and overflow checks (-a) under AddressSanitizer (FUZZ_SANITIZER to
# change). New corpus entries go to a scratch directory, never into fuzz/corpus/.
set -euo pipefail

secs="${1:-30}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
sanitizer="${FUZZ_SANITIZER:-address}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

flags=(-a --sanitizer "$sanitizer")
cargo +"$toolchain" fuzz build "${flags[@]}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
passed=0
for t in $(cargo +"$toolchain" fuzz list); do
    mkdir -p "$work/$t"
    log="$work/$t.log"
    if cargo +"$toolchain" fuzz run "${flags[@]}" "$t" "$work/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -max_len=8192 -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
        echo "fuzz $t: ok, $runs executions in ${secs}s"
        passed=$((passed + 1))
    else
        echo "fuzz $t: FAILED"
        tail -n 60 "$log"
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
