#!/usr/bin/env python3
"""Write the seed corpora under fuzz/corpus/<target>/ from the SDK-written vectors in test-vectors/.

Each target reads its own input layout (see the comment at the top of each fuzz_targets/*.rs); this
script writes seeds in those layouts. The seeds are small (a few KB per target) and committed; run
again after changing a layout:  python3 fuzz/seed_corpora.py

Only the targets this script seeds are rewritten; `machine_responses` and `host_calls` keep the
seeds their runs committed.
"""
import base64
import hashlib
import json
import os
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TV = os.path.join(ROOT, "test-vectors")
OUT = os.path.join(ROOT, "fuzz", "corpus")

VECTORS = [
    "java-v2/ae-aesgcm-meta-17.json",
    "java-v2/ae-aesgcm-inst-17.json",
    "java-v2/ae-kmsec-meta-17.json",
    "java-v2/strict-rsaoaep-matdesc-meta-17.json",
    "java-v2/strict-kms-inst-17.json",
    "java-legacy/ae-aeswrap-meta-17.json",
    "ruby/v1-aes-meta-0000017.json",
    "ruby/v1-rsa-instr-0000017.json",
    "ruby/v1-kms-instr-0000017.json",
    "python/v3-kms-17.json",
    "python/v3-kms-ec-17.json",
    "python/v3-kms-ec-17-instruction-file.json",
    "python/v2-kms-ec-17-instruction-file.json",
    "go/v1-kms-cbc-meta-0000017.json",
    "ss-0.1.3/v1-aes256-17.json",
]


def load(rel):
    path = os.path.join(TV, rel)
    with open(path) as f:
        v = json.load(f)
    d = os.path.dirname(path)
    body = open(os.path.join(d, v["object"]["body"]), "rb").read()
    ins = None
    if v.get("instruction_file"):
        ins = open(os.path.join(d, v["instruction_file"]["body"]), "rb").read()
    return v, body, ins


SEEDS = {}


def write(target, data):
    SEEDS.setdefault(target, set()).add(bytes(data))


def flush():
    for target, seeds in SEEDS.items():
        d = os.path.join(OUT, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for data in seeds:
            with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
                f.write(data)


def harness_seeds(loaded):
    """harness_requests: [mode, data]; 0 CreateClient JSON, 1 structured config, 2 ReEncrypt
    body (first data byte even: raw JSON after it), 3 Content-Metadata, 4 path segment / header."""
    aes = base64.b64encode(bytes(range(32))).decode()
    rsa = None
    for v, body, ins in loaded:
        pem = v.get("key", {}).get("private_key_pem")
        if pem and "BEGIN PRIVATE KEY" in pem:
            rsa = "".join(l for l in pem.splitlines() if not l.startswith("-----"))
            break
    keys = [
        {"aesKey": aes},
        {"aesKey": aes, "materialsDescription": {"purpose": "test", "k\u00e9y": "v"}},
        {"kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/abc"},
        {"aesKey": base64.b64encode(bytes(16)).decode()},
    ]
    if rsa:
        keys.append({"rsaKey": rsa, "materialsDescription": {"who": "me"}})
    configs = [
        {},
        {"commitmentPolicy": "REQUIRE_ENCRYPT_REQUIRE_DECRYPT"},
        {"commitmentPolicy": "FORBID_ENCRYPT_ALLOW_DECRYPT",
         "encryptionAlgorithm": "ALG_AES_256_GCM_IV12_TAG16_NO_KDF",
         "enableLegacyWrappingAlgorithms": True, "enableLegacyUnauthenticatedModes": True},
        {"instructionFileConfig": {"enableInstructionFilePutObject": True}},
        {"instructionFileConfig": {"disableInstructionFile": True, "clientId": None}},
        {"enableDelayedAuthenticationMode": True},
        {"setBufferSize": 33554432},
        {"encryptionAlgorithm": "ALG_AES_256_CBC_IV16_NO_KDF"},
    ]
    for km in keys:
        write("harness_requests", b"\x02\x00" + json.dumps(km).encode())
        for c in configs:
            doc = {"config": dict(c, keyMaterial=km)}
            write("harness_requests", b"\x00" + json.dumps(doc).encode())
    for i in range(4):
        write("harness_requests", bytes([1]) + hashlib.sha256(bytes([i])).digest() * 4)
        write("harness_requests", bytes([2, 1]) + hashlib.sha256(bytes([i, 1])).digest() * 2)
    for h in ("[a]:[b]", "[purpose]:[test],[x]:[y, z]", '"[a]:[b,c]", [d]:[]', ""):
        write("harness_requests", b"\x03" + h.encode())
    for p in ("object", "my%20bucket", "k%C3%A9y%2Fwith%2Fslashes", "true", "FALSE",
              "instruction-rsa", ".instruction"):
        write("harness_requests", b"\x04" + p.encode())


def main():
    loaded = []
    for rel in VECTORS:
        if os.path.exists(os.path.join(TV, rel)):
            loaded.append(load(rel))
        else:
            print("missing", rel)

    for v, body, ins in loaded:
        meta = v["object"]["metadata"]
        # envelope_parse: `key:value` lines, NUL, instruction file.
        text = "\n".join(f"{k}:{val}" for k, val in meta.items()).encode()
        write("envelope_parse", text + (b"\0" + ins if ins is not None else b""))
        # text: mode 0 context / matdesc JSON, 1-2 instruction files, 3 base64 values.
        low = {k.lower(): val for k, val in meta.items()}
        for key in ("x-amz-matdesc", "x-amz-t", "x-amz-m"):
            if key in low:
                write("text", b"\x00" + low[key].encode())
        if ins is not None:
            write("text", (b"\x02" if b"x-amz-3" in ins else b"\x01") + ins)
        for i, key in enumerate(("x-amz-key-v2", "x-amz-iv", "x-amz-d", "x-amz-i")):
            if key in low:
                write("text", bytes([3 + 8 * i]) + low[key].encode())
        # ranged / roundtrip / gcm_differential take structured bytes: seed with SDK bodies.
        for t in ("roundtrip", "gcm_differential", "ranged"):
            write(t, body[:512])

    # text: RFC 2047 (mode 4 exact, mode 5 raw), ranges (mode 6), matdesc pairs (mode 7).
    for s in ("caf\u00e9", "\u00c3\u00a9t\u00e9", "\u65e5\u672c", "plain ascii"):
        write("text", b"\x04" + s.encode())
        write("text", b"\x25" + s.encode())
    write("text", b"\x05UTF-8?B?e30=")
    write("text", b"\x05ISO-8859-1?Q?=7B=7D")
    for r in ("bytes=10-40", "bytes=4000-", "bytes=-16", "bytes=0-0"):
        write("text", b"\x06" + r.encode())
    write("text", b"\x07who=me\nk\u00e9y=v\"al\\ue")

    # decrypt_body: [object, flags, n, splits..., payload]; flags bit 0 = edit the real body.
    for obj in range(5):
        write("decrypt_body", bytes([obj, 1, 2, 7, 16]))  # the real body, 7/16/rest
        write("decrypt_body", bytes([obj, 3, 1, 1, 0, 5, 0x80]))  # one flipped bit
        write("decrypt_body", bytes([obj, 1, 0, 0x03]))  # truncated by 3
        write("decrypt_body", bytes([obj, 1, 0, 0x90]))  # extended by 16
    for v, body, ins in loaded:
        if "ruby/v1-aes-meta" in v["object"]["body"] or v["object"]["body"] == "v3-kms-17.body":
            write("decrypt_body", bytes([3, 0, 1, 13]) + body)

    # unwrap: [wrap, mode, key size, payload]; mode 0 = raw EDK, otherwise edits of the real one.
    for w in range(8):
        write("unwrap", bytes([w, 1, 3]))
        write("unwrap", bytes([w, 1, 3, 5, 1]))
        write("unwrap", bytes([w, 1, 3, 0x01]))
    for v, body, ins in loaded:
        low = {k.lower(): val for k, val in v["object"]["metadata"].items()}
        for key, w in (("x-amz-key-v2", 2), ("x-amz-key", 6)):
            if key in low:
                write("unwrap", bytes([w, 0, 3]) + base64.b64decode(low[key]))

    harness_seeds(loaded)
    flush()


if __name__ == "__main__":
    main()
