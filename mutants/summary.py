#!/usr/bin/env python3
"""Per-module summary of cargo-mutants outcomes (MUTANTS.md).

    python3 mutants/summary.py DIR/mutants.out [DIR/mutants.out ...]

Later directories override earlier ones for the same mutant (a re-run after new tests).
Prints one Markdown row per file: caught, missed, unviable, timeout, and the mean seconds per
tested mutant (build + test).
"""
import collections
import json
import sys

final = {}
for d in sys.argv[1:]:
    for o in json.load(open(f"{d}/outcomes.json"))["outcomes"]:
        m = o["scenario"]
        if not isinstance(m, dict) or "Mutant" not in m:
            continue
        m = m["Mutant"]
        secs = sum(p["duration"] for p in o["phase_results"])
        final[m["name"]] = (m["file"], o["summary"], secs)

rows = collections.defaultdict(collections.Counter)
time = collections.defaultdict(float)
for name, (f, summary, secs) in final.items():
    rows[f][summary] += 1
    time[f] += secs
kinds = ["CaughtMutant", "MissedMutant", "Unviable", "Timeout"]
print("| file | mutants | caught | missed | unviable | timeout | s/mutant |")
print("|---|---|---|---|---|---|---|")
tot = collections.Counter()
for f in sorted(rows):
    c = rows[f]
    n = sum(c.values())
    tot.update(c)
    print(f"| `{f}` | {n} | " + " | ".join(str(c[k]) for k in kinds) + f" | {time[f] / n:.0f} |")
n = sum(tot.values())
print(f"| all | {n} | " + " | ".join(str(tot[k]) for k in kinds) + f" | {sum(time.values()) / max(n, 1):.0f} |")
for name, (f, summary, _) in sorted(final.items()):
    if summary in ("MissedMutant", "Timeout"):
        print(f"{summary}: {name}", file=sys.stderr)
