#!/usr/bin/env bash
# CI's mutation check (MUTANTS.md): cargo-mutants over the lines the change touches in the
# security-relevant core (the globs of .cargo/mutants.toml), judged by the core's own tests.
#
#   bash mutants/ci.sh [BASE]      # BASE defaults to HEAD^ (on a merge: its first parent)
#
# Fails only when a mutant of a touched line is MISSED (no test fails on it), or when the check
# itself cannot run (cargo-mutants not installable, a bad diff, tests failing on the unmutated
# tree). Nothing to test (no parent commit, no listed module touched, no mutant on the touched
# lines) passes. Bounded in time: each mutant's test run has a timeout, and the whole check stops
# after S3EC_MUTANTS_BUDGET seconds (default 600); mutants not reached then are reported as
# untested, and the step passes unless one already tested was missed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version=27.1.0
base="${1:-HEAD^}"
budget="${S3EC_MUTANTS_BUDGET:-600}"
out="${CARGO_TARGET_DIR:-target}/mutants-ci"
# The listed modules: keep in step with examine_globs in .cargo/mutants.toml.
paths=(src/envelope src/wrap src/key_commitment.rs src/policy.rs src/hazmat
  src/object/get/response.rs src/object/put/requests.rs src/range.rs)

if ! git rev-parse -q --verify "$base^{commit}" >/dev/null; then
  echo "mutants: no commit $base to diff against (shallow clone or first commit): nothing to test"
  exit 0
fi
mkdir -p "$out"
diff="$out/change.diff"
git diff "$base" HEAD -- "${paths[@]}" >"$diff" || exit 1
if [ ! -s "$diff" ]; then
  echo "mutants: the change touches none of the listed modules: nothing to test"
  exit 0
fi
echo "mutants: the change touches $(grep -c '^+++ ' "$diff") listed file(s)"

if [ "$(cargo mutants --version 2>/dev/null)" != "cargo-mutants $version" ]; then
  cargo install --locked cargo-mutants --version "$version" || exit 1
fi

# The mutants build in a copy of the tree; pointing them at this checkout's target directory
# reuses the core's dependencies that the test steps built. --in-diff takes only mutants on added
# or changed lines.
target="${CARGO_TARGET_DIR:-$PWD/target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
rm -rf "$out/mutants.out"
CARGO_TARGET_DIR="$target" timeout -s INT -k 30 "$budget" \
  nice -n 10 cargo mutants --package s3-encryption --in-diff "$diff" --baseline=skip \
  --timeout 180 --build-timeout 600 --output "$out" --colors never
rc=$?
res="$out/mutants.out"
missed=0
[ -f "$res/missed.txt" ] && missed=$(grep -c . "$res/missed.txt")
case $rc in
  0) echo "mutants: every mutant of the touched lines was caught" ;;
  2) ;;
  3) echo "mutants: some mutants timed out (counted as caught: a test did not finish)" ;;
  124 | 130 | 137)
    echo "mutants: stopped after the ${budget} s budget; mutants not reached are untested" ;;
  *)
    echo "mutants: cargo-mutants failed (exit $rc): see $res/debug.log"
    exit 1
    ;;
esac
if [ "$missed" -ne 0 ]; then
  echo "mutants: $missed MISSED (no test fails on them):"
  cat "$res/missed.txt"
  exit 1
fi
exit 0
