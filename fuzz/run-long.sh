#!/usr/bin/env bash
# Run every fuzz target for MINUTES each (default 10), JOBS at a time (default 2), at low
# priority, keeping the grown corpus in fuzz/long-corpus/<target>/ (not committed) and printing
# the executions per target. Crashes are saved by libFuzzer under fuzz/artifacts/<target>/.
#
#   fuzz/run-long.sh 10          # every target, 10 minutes each, two at a time
#   JOBS=1 fuzz/run-long.sh 60 decrypt_body unwrap
set -euo pipefail

minutes="${1:-10}"
shift || true
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
sanitizer="${FUZZ_SANITIZER:-address}"
jobs="${JOBS:-2}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi
flags=(-a --sanitizer "$sanitizer")
cargo +"$toolchain" fuzz build "${flags[@]}"

if [ "$#" -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo +"$toolchain" fuzz list); fi
logs="fuzz/long-logs"
mkdir -p "$logs"

run_one() {
    local t="$1"
    mkdir -p "fuzz/long-corpus/$t"
    local secs=$((minutes * 60))
    if nice -n 10 cargo +"$toolchain" fuzz run "${flags[@]}" "$t" "fuzz/long-corpus/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -max_len=8192 -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$logs/$t.log" 2>&1; then
        echo "ok"
    else
        echo "CRASH"
    fi >"$logs/$t.status"
}

pids=()
for t in "${targets[@]}"; do
    run_one "$t" &
    pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 5; done
done
wait

status=0
printf '%-18s %-6s %14s %10s %8s\n' target result executions exec/s corpus
for t in "${targets[@]}"; do
    log="$logs/$t.log"
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    corpus="$(find "fuzz/long-corpus/$t" -type f | wc -l)"
    res="$(cat "$logs/$t.status")"
    printf '%-18s %-6s %14s %10s %8s\n' "$t" "$res" "$runs" "$rate" "$corpus"
    if [ "$res" != ok ]; then
        status=1
        grep -E 'panicked|SUMMARY|Test unit written|ERROR' "$log" | head -n 10
    fi
done
exit "$status"
