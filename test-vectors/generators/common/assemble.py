#!/usr/bin/env python3
"""Turn a generator manifest plus what the S3 stand-in recorded into s3ec-vector/1 files.

usage: assemble.py MANIFEST RECORD_DIR OUT_DIR

Every manifest line describes one object that a real SDK wrote (its key material, what kind of
object it is, the plaintext size and SHA-256 the SDK was given). The object's metadata, body and
instruction file are taken from the stand-in's recording of the SDK's PUT requests, never from
anything we computed. The derived cases (policy negatives, ranged reads) reuse those bytes and
change only the decrypt settings; their expectations come from the deterministic plaintext.
"""

import hashlib
import json
import os
import sys
import urllib.parse

SIZE_FOR_V2_NEGATIVE = 17
SIZE_FOR_RANGES = 4101
RANGES = [(1000, 2999), (4080, 4100)]


def plaintext(n):
    """SHA-256("s3ec-vector-plaintext:<n>:<i>") for i = 0, 1, ..., cut to n bytes (as the drivers do)."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(("s3ec-vector-plaintext:%d:%d" % (n, i)).encode()).digest()
        i += 1
    return bytes(out[:n])


def recorded(record_dir, bucket, key):
    base = os.path.join(record_dir, bucket, urllib.parse.quote(key, safe=""))
    with open(base + ".body", "rb") as f:
        body = f.read()
    with open(base + ".headers.json") as f:
        headers = json.load(f)["headers"]
    return body, headers


def user_metadata(headers):
    meta = {}
    for name, value in headers:
        if name.lower().startswith("x-amz-meta-"):
            k = name[len("x-amz-meta-"):]
            if k in meta:
                raise SystemExit("duplicate metadata header %r" % name)
            meta[k] = value
    return meta


def write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_case(out_dir, name, case):
    write(os.path.join(out_dir, name + ".json"), (json.dumps(case, indent=2, ensure_ascii=False) + "\n").encode())


def main():
    manifest, record_dir, out_dir = sys.argv[1:4]
    prefix = os.path.basename(os.path.normpath(out_dir))  # test-vectors/<prefix>/
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):  # regenerate from scratch
        if f.endswith((".json", ".body", ".instruction")):
            os.remove(os.path.join(out_dir, f))

    entries = [json.loads(line) for line in open(manifest) if line.strip()]
    names = set()
    counts = {}

    def emit(name, case, family):
        if name in names:
            raise SystemExit("duplicate case name " + name)
        names.add(name)
        write_case(out_dir, name, case)
        counts[family] = counts.get(family, 0) + 1

    v2_negative_done = set()
    for e in entries:
        name = e["name"]
        pt = plaintext(e["size"])
        if hashlib.sha256(pt).hexdigest() != e["sha256"] or len(pt) != e["size"]:
            raise SystemExit("%s: plaintext function disagrees with the driver" % name)

        body, headers = recorded(record_dir, e["bucket"], e["object_key"])
        write(os.path.join(out_dir, name + ".body"), body)
        instruction = None
        if e.get("instruction_key"):
            ibody, _ = recorded(record_dir, e["bucket"], e["instruction_key"])
            write(os.path.join(out_dir, name + ".instruction"), ibody)
            instruction = {"body": name + ".instruction"}

        legacy = e["legacy_wrap"] or e["cbc"]
        base = {
            "schema": "s3ec-vector/1",
            "producer": e["producer"],
            "derived_from": None,
            "description": e["description"],
            "object": {"metadata": user_metadata(headers), "body": name + ".body"},
            "instruction_file": instruction,
            "key": e["key"],
            "decrypt": {
                "commitment_policy": "REQUIRE_ENCRYPT_ALLOW_DECRYPT",
                "legacy_wrapping_algorithms": bool(e["legacy_wrap"]),
                "legacy_unauthenticated_modes": bool(e["cbc"]),
                "encryption_context": e.get("caller_ec"),
                "instruction_file_suffix": ".instruction",
                "range": None,
            },
            "expect": {"plaintext_len": e["size"], "plaintext_sha256": e["sha256"]},
        }
        emit(name, base, "positive")
        src = "%s/%s.json" % (prefix, name)

        def derived(suffix, description, decrypt_changes, expect, family):
            case = json.loads(json.dumps(base))
            case["derived_from"] = src
            case["description"] = base["description"] + ". DERIVED: " + description
            case["decrypt"].update(decrypt_changes)
            case["expect"] = expect
            emit(name + "-" + suffix, case, family)

        if legacy:
            off = {}
            what = []
            if e["legacy_wrap"]:
                off["legacy_wrapping_algorithms"] = False
                what.append("legacy_wrapping_algorithms")
            if e["cbc"]:
                off["legacy_unauthenticated_modes"] = False
                what.append("legacy_unauthenticated_modes")
            derived("legacy-off", "same object with %s off; a legacy object must be refused"
                    % " and ".join(what), off, {"error": "policy"}, "policy-legacy-off")
        elif e["version"] == 2 and e["size"] == SIZE_FOR_V2_NEGATIVE and e["family"] not in v2_negative_done:
            v2_negative_done.add(e["family"])
            derived("require-commit", "same V2 (non-committing) object read under "
                    "REQUIRE_ENCRYPT_REQUIRE_DECRYPT, which must refuse it",
                    {"commitment_policy": "REQUIRE_ENCRYPT_REQUIRE_DECRYPT"}, {"error": "policy"},
                    "policy-require-commit")

        if e.get("caller_ec") and e["size"] == SIZE_FOR_V2_NEGATIVE:
            derived("no-caller-ec", "the caller passes no encryption context on GET, but the object was "
                    "written with caller context %s; the stored context minus aws:x-amz-cek-alg must equal "
                    "the caller's, so this must fail" % json.dumps(e["caller_ec"], sort_keys=True),
                    {"encryption_context": None}, {"error": ["policy", "authentication"]}, "ec-mismatch")

        if e["size"] == SIZE_FOR_RANGES and not e.get("instruction_key"):
            for first, last in RANGES:
                part = pt[first:last + 1]
                derived("range-%d-%d" % (first, last), "ranged GET bytes=%d-%d of the plaintext (not "
                        "authenticated, so legacy_unauthenticated_modes is on)" % (first, last),
                        {"range": [first, last], "legacy_unauthenticated_modes": True},
                        {"plaintext_len": len(part), "plaintext_sha256": hashlib.sha256(part).hexdigest()},
                        "ranged")

    total = sum(counts.values())
    print("%s: %d cases (%s)" % (out_dir, total, ", ".join("%s %d" % kv for kv in sorted(counts.items()))))


if __name__ == "__main__":
    main()
