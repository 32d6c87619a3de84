#!/usr/bin/env python3
"""Derive negative (and case-variant) vectors from SDK-written ones.

Every output names its source in `derived_from`. The expected outcome of each mutation follows from
the S3EC specification (S3EC-FORMAT.md), never from our own decryptor: tampered bytes must fail
authentication, spoofed or ambiguous envelopes must be rejected as format errors, and so on.
Usage: python3 derive.py   (rewrites test-vectors/derived/)
"""
import base64, copy, json, os, shutil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "derived")

def load(rel):
    with open(os.path.join(ROOT, rel)) as f:
        v = json.load(f)
    base = os.path.dirname(os.path.join(ROOT, rel))
    v["_dir"] = base
    v["_rel"] = rel
    return v

def body(v):
    with open(os.path.join(v["_dir"], v["object"]["body"]), "rb") as f:
        return f.read()

def instruction(v):
    if not v.get("instruction_file"):
        return None
    with open(os.path.join(v["_dir"], v["instruction_file"]["body"]), "rb") as f:
        return f.read()

written = []

def emit(name, src, desc, expect, meta=None, new_body=None, new_instr=None, decrypt=None, key=None):
    case = {k: copy.deepcopy(v) for k, v in src.items() if not k.startswith("_")}
    case["derived_from"] = src["_rel"]
    case["description"] = desc
    case["producer"] = src["producer"] + " (mutated by test-vectors/generators/derived/derive.py)"
    if meta is not None:
        case["object"]["metadata"] = meta
    b = body(src) if new_body is None else new_body
    with open(os.path.join(OUT, name + ".body"), "wb") as f:
        f.write(b)
    case["object"]["body"] = name + ".body"
    ins = instruction(src) if new_instr is None else new_instr
    if ins is not None:
        with open(os.path.join(OUT, name + ".instruction"), "wb") as f:
            f.write(ins)
        case["instruction_file"] = {"body": name + ".instruction"}
    else:
        case["instruction_file"] = None
    if decrypt:
        case["decrypt"].update(decrypt)
    if key is not None:
        case["key"] = key
    case["expect"] = {"error": expect} if isinstance(expect, list) else expect
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(case, f, indent=2, sort_keys=False)
        f.write("\n")
    written.append(name)

def flip(b, i):
    b = bytearray(b)
    b[i] ^= 0x01
    return bytes(b)

def meta_get(m, key):
    for k, v in m.items():
        if k.lower() == key:
            return k, v
    return None, None

def meta_set(m, key, value):
    m = {k: v for k, v in m.items() if k.lower() != key}
    if value is not None:
        m[key] = value
    return m

AUTH = {"error": "authentication"}
FORMAT = {"error": "format"}
POLICY = {"error": "policy"}

def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    sources = {
        "java-aes": load("java-v2/ae-aesgcm-meta-4101.json"),
        "java-aes-instr": load("java-v2/ae-aesgcm-inst-4101.json"),
        "java-rsa": load("java-v2/ae-rsaoaep-meta-4101.json"),
        "ruby-rsa": load("ruby/v2-rsa-meta-0004101.json"),
        "ruby-v1-aes": load("ruby/v1-aes-meta-0004101.json"),
        "go-kms": load("go/v2-kmsctx-meta-0004101.json"),
        "py-v3": load("python/v3-kms-4101.json"),
        "py-v3-instr": load("python/v3-kms-4101-instruction-file.json"),
        "py-v2": load("python/v2-kms-4101.json"),
    }
    # 1. Tampered body and tag, truncated and extended bodies: for every source.
    for tag, v in sources.items():
        b = body(v)
        # CBC (V1) content is unauthenticated: a flipped byte before the last block only garbles the
        # plaintext, so only the mutations that reach the padding are expected to fail there.
        if not tag.startswith("ruby-v1"):
            emit(f"{tag}-body-first-byte", v, "first body byte flipped", AUTH, new_body=flip(b, 0))
            emit(f"{tag}-body-middle-byte", v, "a middle body byte flipped", AUTH, new_body=flip(b, len(b) // 2))
        emit(f"{tag}-body-last-byte", v, "last body byte (tag, or last CBC block) flipped", AUTH, new_body=flip(b, len(b) - 1))
        for cut in (1, 15, 16, 17):
            emit(f"{tag}-truncated-{cut}", v, f"body truncated by {cut} bytes", AUTH, new_body=b[:-cut])
        emit(f"{tag}-extended-1", v, "one byte appended to the body", AUTH, new_body=b + b"\x00")
        emit(f"{tag}-extended-16", v, "sixteen bytes appended to the body", AUTH, new_body=b + b"\x00" * 16)
    # 2. V3: tampered commitment and message id, in metadata and instruction-file placement.
    for tag in ("py-v3", "py-v3-instr"):
        v = sources[tag]
        m = v["object"]["metadata"]
        for key in ("x-amz-d", "x-amz-i"):
            k, val = meta_get(m, key)
            raw = bytearray(base64.b64decode(val))
            raw[5] ^= 0x80
            emit(f"{tag}-tampered-{key}", v, f"{key} altered", AUTH, meta=meta_set(m, key, base64.b64encode(bytes(raw)).decode()))
    # 3. c/d/i inside a V3 instruction file.
    v = sources["py-v3-instr"]
    ins = json.loads(instruction(v))
    for key in ("x-amz-c", "x-amz-d", "x-amz-i"):
        _, val = meta_get(v["object"]["metadata"], key)
        bad = dict(ins)
        bad[key] = val
        emit(f"py-v3-instr-with-{key}", v, f"{key} copied into the instruction file (must stay on the object)", FORMAT,
             new_instr=json.dumps(bad).encode())
    # An instruction file swapped between two V3 objects: the commitment catches it.
    other = load("python/v3-kms-ec-17-instruction-file.json")
    emit("py-v3-instr-swapped", v, "instruction file of another V3 object (other data key) with this object's c/d/i",
         [ "authentication", "policy" ], new_instr=instruction(other), key=other["key"],
         decrypt={"encryption_context": other["decrypt"].get("encryption_context")})
    # 4. V3 headers spoofed onto V2 objects, under every commitment policy.
    v3m = sources["py-v3"]["object"]["metadata"]
    for tag in ("java-aes", "ruby-rsa", "go-kms", "py-v2"):
        v = sources[tag]
        m = dict(v["object"]["metadata"])
        m["x-amz-c"] = "115"
        m["x-amz-w"] = "12"
        m["x-amz-d"] = meta_get(v3m, "x-amz-d")[1]
        m["x-amz-i"] = meta_get(v3m, "x-amz-i")[1]
        for pol in ("REQUIRE_ENCRYPT_REQUIRE_DECRYPT", "REQUIRE_ENCRYPT_ALLOW_DECRYPT", "FORBID_ENCRYPT_ALLOW_DECRYPT"):
            emit(f"{tag}-spoofed-v3-{pol.lower()}", v, f"V3 keys (x-amz-c/w/d/i) added to a V2 object, policy {pol}",
                 ["format", "policy"], meta=m, decrypt={"commitment_policy": pol})
    # 5. Tag length other than 128; content-cipher downgrade; unknown wrap.
    for tag in ("java-aes", "go-kms"):
        v = sources[tag]
        m = v["object"]["metadata"]
        emit(f"{tag}-tag-len-96", v, "x-amz-tag-len 96", FORMAT, meta=meta_set(m, "x-amz-tag-len", "96"))
        emit(f"{tag}-cek-cbc", v, "x-amz-cek-alg relabelled AES/CBC/PKCS5Padding (downgrade), legacy flags on",
             ["format", "authentication"], meta=meta_set(m, "x-amz-cek-alg", "AES/CBC/PKCS5Padding"),
             decrypt={"legacy_wrapping_algorithms": True, "legacy_unauthenticated_modes": True})
        emit(f"{tag}-wrap-unknown", v, "x-amz-wrap-alg unknown", FORMAT, meta=meta_set(m, "x-amz-wrap-alg", "AES/KW"))
    emit("java-aes-instr-tag-len-96", sources["java-aes-instr"], "instruction file with x-amz-tag-len 96", FORMAT,
         new_instr=json.dumps({**json.loads(instruction(sources["java-aes-instr"])), "x-amz-tag-len": "96"}).encode())
    emit("java-aes-instr-tag-len-number", sources["java-aes-instr"], "instruction file with x-amz-tag-len as a JSON number (PHP V1 style): accepted",
         sources["java-aes-instr"]["expect"],
         new_instr=json.dumps({**json.loads(instruction(sources["java-aes-instr"])), "x-amz-tag-len": 128}).encode())
    # 6. Mixed V1/V2/V3 keys.
    v = sources["java-aes"]
    m = v["object"]["metadata"]
    _, k2 = meta_get(m, "x-amz-key-v2")
    emit("java-aes-mixed-v1-key", v, "x-amz-key added beside x-amz-key-v2", FORMAT, meta={**m, "x-amz-key": k2})
    emit("java-aes-mixed-v3-key", v, "x-amz-3 added beside x-amz-key-v2", FORMAT, meta={**m, "x-amz-3": k2})
    v = sources["py-v3"]
    m = v["object"]["metadata"]
    _, k3 = meta_get(m, "x-amz-3")
    emit("py-v3-mixed-v2-key", v, "x-amz-key-v2 added beside x-amz-3", FORMAT, meta={**m, "x-amz-key-v2": k3})
    emit("py-v3-with-v2-iv", v, "x-amz-iv added to a V3 object", FORMAT, meta={**m, "x-amz-iv": "AAAAAAAAAAAAAAAA"})
    v = sources["ruby-v1-aes"]
    m = v["object"]["metadata"]
    _, k1 = meta_get(m, "x-amz-key")
    emit("ruby-v1-aes-mixed-v2-key", v, "x-amz-key-v2 added beside x-amz-key", FORMAT, meta={**m, "x-amz-key-v2": k1})
    # 7. Missing pieces.
    for tag, key in (("java-aes", "x-amz-key-v2"), ("java-aes", "x-amz-iv"), ("py-v3", "x-amz-d"), ("py-v3", "x-amz-3"),
                     ("ruby-v1-aes", "x-amz-iv"), ("go-kms", "x-amz-cek-alg")):
        v = sources[tag]
        emit(f"{tag}-missing-{key}", v, f"{key} removed", FORMAT, meta=meta_set(v["object"]["metadata"], key, None))
    # 8. Wrong master keys.
    v = sources["java-aes"]
    k = base64.b64decode(v["key"]["key_b64"])
    emit("java-aes-wrong-key", v, "another AES master key", AUTH,
         key={"kind": "aes", "key_b64": base64.b64encode(flip(k, 0)).decode()})
    v = sources["ruby-v1-aes"]
    k = base64.b64decode(v["key"]["key_b64"])
    emit("ruby-v1-aes-wrong-key", v, "another AES master key (legacy AES-ECB wrap)", AUTH,
         key={"kind": "aes", "key_b64": base64.b64encode(flip(k, 0)).decode()})
    emit("java-rsa-wrong-key", sources["java-rsa"], "the RSA private key of another producer", AUTH,
         key=sources["ruby-rsa"]["key"])
    emit("ruby-rsa-wrong-key", sources["ruby-rsa"], "the RSA private key of another producer", AUTH,
         key=sources["java-rsa"]["key"])
    # 9. KMS encryption context: caller passes a wrong one; the stored one is altered.
    for tag in ("go-kms", "py-v3", "py-v2"):
        v = sources[tag]
        emit(f"{tag}-wrong-caller-context", v, "the caller passes an encryption context the object was not written with",
             POLICY, decrypt={"encryption_context": {"department": "not-the-one"}})
        m = v["object"]["metadata"]
        ec_key = "x-amz-t" if tag == "py-v3" else "x-amz-matdesc"
        k, val = meta_get(m, ec_key)
        ec = json.loads(val)
        ec["injected"] = "value"
        emit(f"{tag}-stored-context-altered", v, f"{ec_key} gains an entry: KMS Decrypt gets another context and fails",
             ["authentication", "policy"], meta=meta_set(m, ec_key, json.dumps(ec)))
    # 10. Keys in canonical case, and with the x-amz-meta- prefix, must still be read.
    for tag in ("java-aes", "py-v3", "ruby-v1-aes"):
        v = sources[tag]
        canon = {"-".join(p.capitalize() for p in k.split("-")): val for k, val in v["object"]["metadata"].items()}
        emit(f"{tag}-canonical-case", v, "metadata keys in canonical header case (X-Amz-Key-V2)", v["expect"], meta=canon)
        pref = {"x-amz-meta-" + k: val for k, val in v["object"]["metadata"].items()}
        emit(f"{tag}-meta-prefix", v, "metadata keys with the x-amz-meta- prefix", v["expect"], meta=pref)
    print(f"derived: {len(written)} cases in {OUT}")

if __name__ == "__main__":
    main()
