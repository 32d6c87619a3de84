#!/usr/bin/env bash
# Our encryptor writes V2 and V3 objects (every wrap, both placements, several sizes, a multipart
# upload, and a parallel one whose parts were encrypted as independent segments); then the Java V2 client, the Ruby V2 client, the Go V2 client and the official Python
# client each read every object they support through a loopback S3 and must return the exact
# plaintext. Prints a matrix (writer mode × reader). Exits non-zero on any FAIL, or when a reader
# passes none of the modes it is known to support.
#
# Usage: bash test-vectors/peers-read-ours.sh [OUT_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$(mktemp -d)}"
CASES="$OUT/cases"
rm -rf "$CASES"
mkdir -p "$CASES"
cd "$ROOT"
cargo run --quiet --release --example write_ours -- "$CASES"
READERS=(java ruby go python)
status=0
for r in "${READERS[@]}"; do
  echo "== reader: $r" >&2
  if ! bash "test-vectors/generators/$r/read-ours.sh" "$CASES" >"$OUT/$r.txt" 2>"$OUT/$r.log"; then
    echo "reader $r: harness failed (see $OUT/$r.log)" >&2
    tail -20 "$OUT/$r.log" >&2 || true
    status=1
  fi
done
python3 - "$OUT" "${READERS[@]}" <<'PY' || status=1
import collections, re, sys
out, readers = sys.argv[1], sys.argv[2:]
cells = collections.defaultdict(lambda: collections.Counter())
modes = set()
fails = []
for r in readers:
    try:
        lines = open(f"{out}/{r}.txt").read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        parts = line.split(None, 2)
        if len(parts) < 2 or parts[0] not in ("PASS", "FAIL", "SKIP"):
            continue
        name = parts[1]
        m = re.match(r"(v[23]-[a-z-]+?-(?:meta|instr))-(?:\d+|multipart|parallel)", name)
        mode = m.group(1) if m else name
        if "multipart" in name:
            mode += " (multipart)"
        if "parallel" in name:
            mode += " (parallel multipart)"
        modes.add(mode)
        cells[(mode, r)][parts[0]] += 1
        if parts[0] == "FAIL":
            fails.append(f"{r}: {line}")
# The modes each reader is known to read (PEERS.md): it must pass them all.
supports = {
    "java": lambda m: m.startswith("v2-"),
    "ruby": lambda m: m.startswith("v2-"),
    "go": lambda m: m.startswith("v2-kmsctx"),
    "python": lambda m: "kmsctx" in m,
}
missing = []
w = max(len(m) for m in modes) if modes else 10
print(f"{'writer mode (ours)':<{w}} | " + " | ".join(f"{r:^10}" for r in readers))
print("-" * w + "-+-" + "-+-".join("-" * 10 for _ in readers))
for m in sorted(modes):
    row = []
    for r in readers:
        c = cells[(m, r)]
        if c["FAIL"]:
            cell = f"FAIL {c['FAIL']}"
        elif c["PASS"]:
            cell = f"ok {c['PASS']}/{c['PASS'] + c['SKIP']}"
        else:
            cell = "n/a"
        if supports[r](m) and (c["FAIL"] or c["PASS"] == 0 or c["SKIP"]):
            missing.append(f"{r} should read {m}: {dict(c)}")
        row.append(f"{cell:^10}")
    print(f"{m:<{w}} | " + " | ".join(row))
total = sum(sum(c.values()) for c in cells.values())
passed = sum(c["PASS"] for c in cells.values())
failed = sum(c["FAIL"] for c in cells.values())
print("(ok P/N: P objects of that mode read back exactly by the peer; n/a: the peer cannot read that mode)")
for f in fails:
    print(f)
for m in missing:
    print("MISSING", m)
print(f"peers-read-ours: {passed} passed, {failed + len(missing)} failed")
sys.exit(1 if fails or missing or passed == 0 else 0)
PY
exit $status
