#!/usr/bin/env python3
"""Record s3ec-vector/1 cases written by the original third-party Python wrapper s3-encryption 0.1.3.

s3-encryption 0.1.3 (module ``s3_encryption``, PyPI; StephenSorriaux/s3-encryption) writes V1 objects
with a client-side AES master key. The generator drives its S3EncryptionClient against moto_server's S3
on loopback, records the x-amz-meta-* headers exactly as the PutObject request carried them and the
stored body (read back with a plain boto3 client), and checks, before writing anything:
  * the wrapper reads its own object back;
  * what it really wrote, independently with pyca/cryptography: x-amz-key = AES-ECB/PKCS#7 of a
    16-byte data key under the master key, content = AES-128-CBC/PKCS#7 with the 16-byte x-amz-iv,
    no x-amz-unencrypted-content-length, no cek-alg/wrap-alg keys.
The expected hash is that of the plaintext handed to the wrapper.
"""

import argparse
import base64
import hashlib
import importlib.metadata
import json
import os
import sys

import boto3
from botocore.config import Config
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from s3_encryption.client import S3EncryptionClient

SDK = "s3-encryption"
SDK_VERSION = importlib.metadata.version(SDK)
CRYPTO_VERSION = importlib.metadata.version("pycryptodome")
BOTO3_VERSION = importlib.metadata.version("boto3")
BUCKET = "s3ec-ss-vectors"
SIZES = [0, 1, 15, 16, 17, 4095, 4101]
BIG = 1048573
# Fixed master keys (arbitrary constants for these vectors).
MASTER_KEYS = {
    "aes128": bytes.fromhex("8f1c3ba2d45e6f70819203a4b5c6d7e8"),
    "aes256": bytes.fromhex("0b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe"),
}
MATDESC = {"purpose": "s3ec-test-vector"}


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


def aes_decrypt(key: bytes, mode, data: bytes) -> bytes:
    d = Cipher(algorithms.AES(key), mode).decryptor()
    raw = d.update(data) + d.finalize()
    u = padding.PKCS7(128).unpadder()
    return u.update(raw) + u.finalize()


def independent_decrypt(meta: dict, body: bytes, master: bytes) -> bytes:
    m = {k.lower(): v for k, v in meta.items()}
    assert set(m) == {"x-amz-key", "x-amz-iv", "x-amz-matdesc"}, sorted(m)
    wrapped = base64.b64decode(m["x-amz-key"])
    assert len(wrapped) == 32, len(wrapped)  # 16-byte key + a full PKCS#7 block
    data_key = aes_decrypt(master, modes.ECB(), wrapped)
    assert len(data_key) == 16, len(data_key)  # AES-128 content key, whatever the master key size
    iv = base64.b64decode(m["x-amz-iv"])
    assert len(iv) == 16
    assert len(body) % 16 == 0
    return aes_decrypt(data_key, modes.CBC(iv), body)


class WireRecorder:
    def __init__(self, s3_client):
        self.last = None
        s3_client.meta.events.register("before-send.s3.PutObject", self._on_send)

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
    written = []

    def record(name, key_name, size, matdesc=None):
        master = MASTER_KEYS[key_name]
        wrapped_s3 = boto3.client("s3", config=s3_config, **common)
        wire = WireRecorder(wrapped_s3)
        kwargs = {"materials_description": matdesc} if matdesc is not None else {}
        client = S3EncryptionClient(encryption_key=master, client=wrapped_s3, **kwargs)
        seed = f"s3ec-ss-0.1.3/{name}"
        pt = plaintext(seed, size)
        client.put_object(Bucket=BUCKET, Key=name, Body=pt)
        meta = wire.last
        assert meta, "no metadata captured"
        stored = plain_s3.get_object(Bucket=BUCKET, Key=name)
        body = stored["Body"].read()
        assert stored["Metadata"] == {k.lower(): v for k, v in meta.items()}, (stored["Metadata"], meta)
        assert json.loads(meta["x-amz-matdesc"]) == (matdesc or {})
        assert len(body) == 16 * (size // 16 + 1)
        # The wrapper reads back its own object ...
        assert client.get_object(Bucket=BUCKET, Key=name) == pt, f"{name}: wrapper round trip differs"
        # ... and an independent decryption confirms what it wrote.
        assert independent_decrypt(meta, body, master) == pt, f"{name}: independent decrypt differs"

        with open(os.path.join(out, name + ".body"), "wb") as f:
            f.write(body)
        bits = len(master) * 8
        case = {
            "schema": "s3ec-vector/1",
            "producer": f"{SDK} {SDK_VERSION} (third-party Python wrapper; pycryptodome {CRYPTO_VERSION} standing in "
                        f"for pycrypto, boto3 {BOTO3_VERSION}), S3EncryptionClient(encryption_key=<AES-{bits} key>), "
                        "metadata placement",
            "derived_from": None,
            "description": (
                f"V1 object, AES-{bits} master key{', materials_description ' + json.dumps(matdesc) if matdesc else ''}: "
                "x-amz-key = AES-ECB/PKCS#7 wrap of a 16-byte data key (32 bytes), content AES-128-CBC/PKCS#7 "
                f"with the 16-byte x-amz-iv, no x-amz-unencrypted-content-length. {len(pt)}-byte plaintext = "
                f"SHA-256(\"{seed}\" || be32(i)) for i = 0.. concatenated and truncated. Written with put_object to "
                "moto_server; metadata as sent on the wire, body as stored."
            ),
            "object": {"metadata": meta, "body": name + ".body"},
            "instruction_file": None,
            "key": {"kind": "aes", "key_b64": b64(master)},
            "decrypt": {
                "commitment_policy": "REQUIRE_ENCRYPT_ALLOW_DECRYPT",
                "legacy_wrapping_algorithms": True,
                "legacy_unauthenticated_modes": True,
                "encryption_context": None,
                "instruction_file_suffix": ".instruction",
                "range": None,
            },
            "expect": {"plaintext_len": len(pt), "plaintext_sha256": hashlib.sha256(pt).hexdigest()},
        }
        write_case(out, name, case)
        written.append(name)

        # The same object with both legacy flags off must be refused by policy.
        neg = json.loads(json.dumps(case))
        neg["derived_from"] = f"ss-0.1.3/{name}.json"
        neg["description"] = ("Same V1 object (AES-ECB-wrapped key, CBC content) read with legacy_wrapping_algorithms "
                              "and legacy_unauthenticated_modes both off: must be refused by policy before key work.")
        neg["decrypt"]["legacy_wrapping_algorithms"] = False
        neg["decrypt"]["legacy_unauthenticated_modes"] = False
        neg["expect"] = {"error": "policy"}
        write_case(out, name + "-policy-legacy-off", neg)
        written.append(name + "-policy-legacy-off")

    for key_name in ("aes128", "aes256"):
        for size in SIZES:
            record(f"v1-{key_name}-{size}", key_name, size)
    record(f"v1-aes256-{BIG}", "aes256", BIG)
    record("v1-aes128-matdesc-17", "aes128", 17, matdesc=MATDESC)

    print(f"wrote {len(written)} cases to {out}", file=sys.stderr)
    return 0


def write_case(out, name, case):
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(case, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
