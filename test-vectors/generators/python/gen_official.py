#!/usr/bin/env python3
"""Record s3ec-vector/1 cases written by the official AWS Python S3 Encryption Client.

Drives amazon-s3-encryption-client-python (module ``s3_encryption``) with a KMS keyring against
moto_server (S3 + KMS) on loopback. For every case it records exactly what the S3 stand-in was sent
(the x-amz-meta-* headers of the PutObject / CreateMultipartUpload request, in the case the SDK wrote
them) and the stored body (read back with a plain, non-encrypting boto3 client). The data key is the
Plaintext that KMS GenerateDataKey returned to the SDK, confirmed by a KMS Decrypt of the recorded
blob under the recorded encryption context.

Every case is also checked before it is written: the SDK reads its own object back, and an
independent decryption with pyca/cryptography (V2: AES-GCM; V3: HKDF-SHA-512 + commitment + AES-GCM)
gives the same plaintext. The expected hash is that of the plaintext handed to the SDK.
"""

import argparse
import base64
import hashlib
import hmac
import importlib.metadata
import json
import os
import sys

import boto3
from botocore.config import Config
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
from s3_encryption.materials import AlgorithmSuite, CommitmentPolicy, KmsKeyring

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import read_ours  # noqa: E402  (the same reader read-ours.sh uses)

SDK = "amazon-s3-encryption-client-python"
SDK_VERSION = importlib.metadata.version(SDK)
BOTO3_VERSION = importlib.metadata.version("boto3")
BUCKET = "s3ec-python-vectors"
SIZES = [0, 1, 15, 16, 17, 4095, 4101]
BIG = 1048573  # one near-1 MiB case per mode family
MULTIPART_PART = 5 * 1024 * 1024  # S3's minimum for a non-final part
MULTIPART_SIZE = MULTIPART_PART + 17
# Caller encryption context for the "with context" cases. Insertion order is deliberately not sorted.
USER_EC = {"purpose": "s3ec-test-vector", "alpha": "1"}
V2_POLICY_NEGATIVE_SIZE = 17


def plaintext(seed: str, n: int) -> bytes:
    """Deterministic bytes: SHA-256(seed || be32(i)) for i = 0, 1, ... concatenated, cut to n."""
    out = bytearray()
    i = 0
    s = seed.encode()
    while len(out) < n:
        out += hashlib.sha256(s + i.to_bytes(4, "big")).digest()
        i += 1
    return bytes(out[:n])


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


class WireRecorder:
    """Captures the x-amz-meta-* headers of the last PutObject / CreateMultipartUpload request sent."""

    def __init__(self, s3_client):
        self.last = None
        for op in ("PutObject", "CreateMultipartUpload"):
            s3_client.meta.events.register(f"before-send.s3.{op}", self._on_send)

    def _on_send(self, request, **kwargs):
        meta = {}
        for k, v in request.headers.items():
            if isinstance(k, bytes):
                k = k.decode("ascii")
            if isinstance(v, bytes):
                v = v.decode("utf-8")
            if k.lower().startswith("x-amz-meta-"):
                meta[k[len("x-amz-meta-"):]] = v
        self.last = meta
        return None


class KmsRecorder:
    """Wraps the KMS client's GenerateDataKey to keep what KMS handed to the SDK."""

    def __init__(self, kms_client):
        self.kms = kms_client
        self.last = None
        original = kms_client.generate_data_key

        def generate_data_key(**kwargs):
            resp = original(**kwargs)
            self.last = (dict(kwargs), resp)
            return resp

        kms_client.generate_data_key = generate_data_key


def hkdf_sha512_expand_one_block(prk: bytes, info: bytes, length: int) -> bytes:
    return hmac.new(prk, info + b"\x01", hashlib.sha512).digest()[:length]


def independent_decrypt(meta: dict, body: bytes, data_key: bytes) -> bytes:
    m = {k.lower(): v for k, v in meta.items()}
    if "x-amz-3" in m:
        assert m["x-amz-c"] == "115" and m["x-amz-w"] == "12", m
        mid = base64.b64decode(m["x-amz-i"])
        stored_commit = base64.b64decode(m["x-amz-d"])
        assert len(mid) == 28 and len(stored_commit) == 28 and len(data_key) == 32
        prk = hmac.new(mid, data_key, hashlib.sha512).digest()
        dek = hkdf_sha512_expand_one_block(prk, b"\x00\x73DERIVEKEY", 32)
        ck = hkdf_sha512_expand_one_block(prk, b"\x00\x73COMMITKEY", 28)
        assert hmac.compare_digest(ck, stored_commit), "commitment mismatch"
        return AESGCM(dek).decrypt(b"\x01" * 12, body, b"\x00\x73")
    assert m["x-amz-wrap-alg"] == "kms+context" and m["x-amz-cek-alg"] == "AES/GCM/NoPadding", m
    iv = base64.b64decode(m["x-amz-iv"])
    assert len(iv) == 12
    return AESGCM(data_key).decrypt(iv, body, None)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        if name.endswith((".json", ".body", ".instruction")):
            os.remove(os.path.join(out, name))

    common = dict(
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAS3ECTESTVECTORS0",
        aws_secret_access_key="s3ec-test-vectors-dummy-secret",
    )
    s3_config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
    plain_s3 = boto3.client("s3", config=s3_config, **common)
    plain_s3.create_bucket(Bucket=BUCKET)
    kms = boto3.client("kms", **common)
    key_id = kms.create_key(Description="s3ec python vectors")["KeyMetadata"]["KeyId"]
    kms_rec = KmsRecorder(kms)

    def make_client(v2: bool):
        wrapped = boto3.client("s3", config=s3_config, **common)
        wire = WireRecorder(wrapped)
        if v2:
            cfg = S3EncryptionClientConfig(
                keyring=KmsKeyring(kms_client=kms, kms_key_id=key_id),
                encryption_algorithm=AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF,
                commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT,
            )
        else:
            cfg = S3EncryptionClientConfig(keyring=KmsKeyring(kms_client=kms, kms_key_id=key_id))
        return S3EncryptionClient(wrapped, cfg), wire

    clients = {"v3": make_client(False), "v2": make_client(True)}
    producer = {
        "v3": f"{SDK} {SDK_VERSION} (boto3 {BOTO3_VERSION}), S3EncryptionClient + KmsKeyring, defaults: "
        "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY (115), REQUIRE_ENCRYPT_REQUIRE_DECRYPT; metadata placement",
        "v2": f"{SDK} {SDK_VERSION} (boto3 {BOTO3_VERSION}), S3EncryptionClient + KmsKeyring, "
        "ALG_AES_256_GCM_IV12_TAG16_NO_KDF, FORBID_ENCRYPT_ALLOW_DECRYPT; metadata placement",
    }
    written = []

    def record(name, fmt, size, with_ec, multipart=False):
        client, wire = clients[fmt]
        seed = f"s3ec-python/{name}"
        pt = plaintext(seed, size)
        ec = dict(USER_EC) if with_ec else None
        extra = {"EncryptionContext": ec} if ec is not None else {}
        kms_rec.last = None
        wire.last = None
        if multipart:
            up = client.create_multipart_upload(Bucket=BUCKET, Key=name, **extra)
            parts = []
            chunks = [pt[i:i + MULTIPART_PART] for i in range(0, len(pt), MULTIPART_PART)]
            for idx, chunk in enumerate(chunks, start=1):
                r = client.upload_part(Bucket=BUCKET, Key=name, UploadId=up["UploadId"], PartNumber=idx,
                                       Body=chunk, IsLastPart=(idx == len(chunks)))
                parts.append({"PartNumber": idx, "ETag": r["ETag"]})
            client.complete_multipart_upload(Bucket=BUCKET, Key=name, UploadId=up["UploadId"],
                                             MultipartUpload={"Parts": parts})
            how = (f"multipart upload (create_multipart_upload, upload_part x{len(chunks)} of "
                   f"{MULTIPART_PART} + {len(pt) - MULTIPART_PART} bytes with IsLastPart on the last, "
                   "complete_multipart_upload)")
        else:
            client.put_object(Bucket=BUCKET, Key=name, Body=pt, **extra)
            how = "put_object"
        meta = wire.last
        assert meta, "no metadata captured"
        kms_req, kms_resp = kms_rec.last
        data_key = kms_resp["Plaintext"]
        blob = kms_resp["CiphertextBlob"]
        kms_ec = kms_req["EncryptionContext"]
        # KMS itself confirms the (blob, context) -> key mapping the vector records.
        assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=kms_ec)["Plaintext"] == data_key

        stored = plain_s3.get_object(Bucket=BUCKET, Key=name)
        body = stored["Body"].read()
        stored_meta = stored["Metadata"]
        lower = {k.lower(): v for k, v in meta.items()}
        assert stored_meta == lower, (stored_meta, meta)
        assert len(body) == len(pt) + 16
        # The EC stored on the object is the one given to KMS.
        stored_ec_json = lower.get("x-amz-t") if fmt == "v3" else lower.get("x-amz-matdesc")
        assert json.loads(stored_ec_json) == kms_ec, (stored_ec_json, kms_ec)
        assert base64.b64decode(lower["x-amz-3" if fmt == "v3" else "x-amz-key-v2"]) == blob

        # The SDK reads back its own object ...
        got = client.get_object(Bucket=BUCKET, Key=name, **extra)["Body"].read()
        assert got == pt, f"{name}: SDK round trip differs"
        # ... and so does an independent implementation.
        assert independent_decrypt(meta, body, data_key) == pt, f"{name}: independent decrypt differs"

        digest = hashlib.sha256(pt).hexdigest()
        body_file = f"{name}.body"
        with open(os.path.join(out, body_file), "wb") as f:
            f.write(body)
        ec_text = (f"caller encryption context {json.dumps(USER_EC)} on PUT and GET" if with_ec
                   else "no caller encryption context")
        case = {
            "schema": "s3ec-vector/1",
            "producer": producer[fmt],
            "derived_from": None,
            "description": (
                f"{'V3 (x-amz-c 115, x-amz-w 12 kms+context)' if fmt == 'v3' else 'V2 kms+context, AES/GCM/NoPadding'}"
                f", {len(pt)}-byte plaintext, {ec_text}; written with {how} to moto_server, metadata as sent on "
                f"the wire, body as stored. Plaintext = SHA-256(\"{seed}\" || be32(i)) for i = 0.. "
                "concatenated and truncated. KMS is moto; plaintext_b64 is GenerateDataKey's Plaintext."
            ),
            "object": {"metadata": meta, "body": body_file},
            "instruction_file": None,
            "key": {
                "kind": "kms",
                "key_id": key_id,
                "ciphertext_blob_b64": b64(blob),
                "encryption_context": kms_ec,
                "plaintext_b64": b64(data_key),
            },
            "decrypt": {
                "commitment_policy": ("REQUIRE_ENCRYPT_REQUIRE_DECRYPT" if fmt == "v3"
                                      else "REQUIRE_ENCRYPT_ALLOW_DECRYPT"),
                "legacy_wrapping_algorithms": False,
                "legacy_unauthenticated_modes": False,
                "encryption_context": ec,
                "instruction_file_suffix": ".instruction",
                "range": None,
            },
            "expect": {"plaintext_len": len(pt), "plaintext_sha256": digest},
        }
        write_case(out, name, case)
        written.append(name)
        return case

    for size in SIZES + [BIG]:
        record(f"v3-kms-{size}", "v3", size, False)
    for size in SIZES:
        record(f"v3-kms-ec-{size}", "v3", size, True)
    record(f"v3-kms-ec-multipart-{MULTIPART_SIZE}", "v3", MULTIPART_SIZE, True, multipart=True)
    for size in SIZES + [BIG]:
        record(f"v2-kms-{size}", "v2", size, False)
    for size in SIZES:
        record(f"v2-kms-ec-{size}", "v2", size, True)

    # V2 objects read under REQUIRE_ENCRYPT_REQUIRE_DECRYPT must be refused (one size per V2 family).
    for base in (f"v2-kms-{V2_POLICY_NEGATIVE_SIZE}", f"v2-kms-ec-{V2_POLICY_NEGATIVE_SIZE}"):
        with open(os.path.join(out, base + ".json")) as f:
            pos = json.load(f)
        neg = json.loads(json.dumps(pos))
        neg["derived_from"] = f"python/{base}.json"
        neg["description"] = ("Same V2 object as the positive case, read under REQUIRE_ENCRYPT_REQUIRE_DECRYPT: "
                              "a non-committing (V2) object must be refused by policy before any key work.")
        neg["decrypt"]["commitment_policy"] = "REQUIRE_ENCRYPT_REQUIRE_DECRYPT"
        neg["expect"] = {"error": "policy"}
        write_case(out, base + "-policy-require-decrypt", neg)
        written.append(base + "-policy-require-decrypt")

    # Derived cases: the SDK's objects, mutated as described. Each is confirmed below by the SDK.
    def derive(base, new_name, description, expect, mutate_meta=None, mutate_body=None, instruction=None):
        with open(os.path.join(out, base + ".json")) as f:
            case = json.load(f)
        case["derived_from"] = f"python/{base}.json"
        case["description"] = description
        meta = dict(case["object"]["metadata"])
        if mutate_meta:
            meta = mutate_meta(meta)
        case["object"]["metadata"] = meta
        if mutate_body:
            with open(os.path.join(out, case["object"]["body"]), "rb") as f:
                body = mutate_body(f.read())
            case["object"]["body"] = new_name + ".body"
            with open(os.path.join(out, new_name + ".body"), "wb") as f:
                f.write(body)
        if instruction is not None:
            with open(os.path.join(out, new_name + ".instruction"), "wb") as f:
                f.write(instruction)
            case["instruction_file"] = {"body": new_name + ".instruction"}
        case["expect"] = expect
        write_case(out, new_name, case)
        written.append(new_name)

    def to_instruction_file(base, keep):
        with open(os.path.join(out, base + ".json")) as f:
            meta = json.load(f)["object"]["metadata"]
        inst = {k: v for k, v in meta.items() if k not in keep}
        return ({k: v for k, v in meta.items() if k in keep},
                json.dumps(inst, separators=(",", ":")).encode())

    for base, keep, what in (
        ("v3-kms-ec-17", ("x-amz-c", "x-amz-d", "x-amz-i"),
         "x-amz-c, x-amz-d and x-amz-i stay on the object; x-amz-3, x-amz-w and x-amz-t move to the instruction file"),
        ("v3-kms-4101", ("x-amz-c", "x-amz-d", "x-amz-i"),
         "x-amz-c, x-amz-d and x-amz-i stay on the object; x-amz-3, x-amz-w and x-amz-t move to the instruction file"),
        ("v2-kms-ec-17", (), "the whole V2 envelope moves to the instruction file; the object keeps no S3EC keys"),
    ):
        obj_meta, inst = to_instruction_file(base, keep)
        with open(os.path.join(out, base + ".json")) as f:
            pos_expect = json.load(f)["expect"]
        derive(base, base + "-instruction-file",
               f"Instruction-file placement of the SDK's object (this SDK reads but never writes instruction files): "
               f"{what} (compact JSON written by the generator). The official client {SDK_VERSION} decrypts it.",
               pos_expect, mutate_meta=lambda m, o=obj_meta: o, instruction=inst)

    def flip_last_byte(b):
        return b[:-1] + bytes([b[-1] ^ 0x01])

    def flip_b64(value):
        raw = bytearray(base64.b64decode(value))
        raw[0] ^= 0x80
        return b64(bytes(raw))

    derive("v3-kms-17", "v3-kms-17-tampered-tag",
           "The SDK's V3 object with the last byte of the GCM tag flipped: must fail authentication.",
           {"error": "authentication"}, mutate_body=flip_last_byte)
    derive("v3-kms-17", "v3-kms-17-wrong-commitment",
           "The SDK's V3 object with one bit of x-amz-d (key commitment) flipped: the derived commitment no "
           "longer matches, so it must fail before any content decryption.",
           {"error": "authentication"}, mutate_meta=lambda m: {**m, "x-amz-d": flip_b64(m["x-amz-d"])})
    derive("v3-kms-17", "v3-kms-17-wrong-message-id",
           "The SDK's V3 object with one bit of x-amz-i (message id) flipped: the commitment derived from it "
           "no longer matches x-amz-d.",
           {"error": "authentication"}, mutate_meta=lambda m: {**m, "x-amz-i": flip_b64(m["x-amz-i"])})
    derive("v2-kms-17", "v2-kms-17-tampered-tag",
           "The SDK's V2 object with the last byte of the GCM tag flipped: must fail authentication.",
           {"error": "authentication"}, mutate_body=flip_last_byte)
    derive("v2-kms-17", "v2-kms-17-spoofed-v3-headers",
           "V3 header spoofing: x-amz-c: 115 and x-amz-w: 12 added to the SDK's V2 object, read under "
           "REQUIRE_ENCRYPT_REQUIRE_DECRYPT. It is not a V3 object (no x-amz-3/d/i), so it must be refused.",
           {"error": ["policy", "format"]},
           mutate_meta=lambda m: {**m, "x-amz-c": "115", "x-amz-w": "12"})
    with open(os.path.join(out, "v2-kms-17-spoofed-v3-headers.json")) as f:
        spoof = json.load(f)
    spoof["decrypt"]["commitment_policy"] = "REQUIRE_ENCRYPT_REQUIRE_DECRYPT"
    write_case(out, "v2-kms-17-spoofed-v3-headers", spoof)

    # Every case, positive or negative, is read back by the official client through the same path
    # read-ours.sh uses (plain upload, offline KMS answering from the case's key record).
    plain_s3.create_bucket(Bucket=read_ours.BUCKET)
    for name in written:
        verdict, reason = read_ours.run_case(os.path.join(out, name + ".json"), plain_s3,
                                             lambda: boto3.client("s3", config=s3_config, **common))
        assert verdict == "PASS", f"{name}: official client disagrees: {verdict} {reason}"

    print(f"wrote {len(written)} cases to {out}", file=sys.stderr)
    return 0


def write_case(out, name, case):
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(case, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
