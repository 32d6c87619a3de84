"""Every case in test-vectors/ (written by real AWS SDKs and by s3-encryption 0.1.3), read
through the Python package: the native GetObject machine over an in-memory store."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

import s3ec
from s3ec import _native

from conftest import VECTORS
from memstore import MemTransport

SKIP_SCHEMAS = {"s3ec-metadata-kat/1", "s3ec-hkdf-kat/1"}


def _cases():
    out = []
    for p in sorted(VECTORS.rglob("*.json")):
        if "generators" in p.parts:
            continue
        v = json.loads(p.read_text())
        if v.get("schema") in SKIP_SCHEMAS:
            continue
        out.append(p)
    return out


CASES = _cases()


class OfflineKms:
    """The vectors' offline KMS: the recorded plaintext for exactly the recorded blob and
    context, otherwise a refusal (as KMS)."""

    def __init__(self, k):
        self.blob = base64.b64decode(k["ciphertext_blob_b64"])
        self.context = dict(k["encryption_context"])
        self.plaintext = base64.b64decode(k["plaintext_b64"])

    def decrypt_data_key(self, request):
        if request["kind"] != "kms":
            raise s3ec.AuthenticationError("not a KMS object")
        if bytes(request["ciphertext_blob"]) != self.blob or request["encryption_context"] != self.context:
            raise s3ec.AuthenticationError("KMS: InvalidCiphertextException")
        return self.plaintext


def keyring_of(k):
    if k["kind"] == "aes":
        return s3ec.AesKeyring(base64.b64decode(k["key_b64"]))
    if k["kind"] == "rsa":
        return s3ec.RsaKeyring(private_pem=k["private_key_pem"])
    return OfflineKms(k)


ERRORS = {
    "authentication": s3ec.AuthenticationError,
    "policy": s3ec.PolicyError,
    "format": s3ec.FormatError,
}


def run_case(path: Path, memory_budget: int = 64 << 20):
    v = json.loads(path.read_text())
    d = path.parent
    t = MemTransport()
    t.put("obj", v["object"]["metadata"], (d / v["object"]["body"]).read_bytes())
    dec = v["decrypt"]
    suffix = dec.get("instruction_file_suffix") or ".instruction"
    if v.get("instruction_file"):
        t.put("obj" + suffix, {}, (d / v["instruction_file"]["body"]).read_bytes())
    opts = {
        "commitment_policy": dec["commitment_policy"],
        "enable_legacy_wrapping_algorithms": dec.get("legacy_wrapping_algorithms", False),
        "enable_legacy_unauthenticated_modes": dec.get("legacy_unauthenticated_modes", False),
        "encryption_context": dec.get("encryption_context"),
        "instruction_file_suffix": suffix,
        "memory_budget": memory_budget,
    }
    if dec.get("range"):
        a, b = dec["range"]
        opts["range"] = f"bytes={a}-{b}"
    return v["expect"], lambda: _native.get_object(t, keyring_of(v["key"]), "bucket", "obj", opts)


def check(path: Path, memory_budget: int = 64 << 20):
    expect, go = run_case(path, memory_budget)
    if "error" in expect:
        classes = expect["error"] if isinstance(expect["error"], list) else [expect["error"]]
        with pytest.raises(s3ec.S3ECError) as ei:
            go()
        assert isinstance(ei.value, tuple(ERRORS[c] for c in classes)), (path, ei.value, ei.value.code)
    else:
        done = go()
        pt = done["plaintext"]
        assert len(pt) == expect["plaintext_len"]
        assert hashlib.sha256(pt).hexdigest() == expect["plaintext_sha256"].lower()


@pytest.mark.parametrize("path", CASES, ids=[str(p.relative_to(VECTORS)) for p in CASES])
def test_vector(path):
    check(path)


def test_vector_count():
    # The README's table: 936 cases (and the two known-answer files, skipped here).
    assert len(CASES) >= 900


@pytest.mark.parametrize(
    "path",
    [p for p in CASES if p.stat().st_size and "1048573" in p.name][:12],
    ids=lambda p: str(p.relative_to(VECTORS)),
)
def test_large_vectors_two_pass(path):
    # The same large cases with no memory budget: verified in two passes, released chunk by chunk.
    check(path, memory_budget=0)
