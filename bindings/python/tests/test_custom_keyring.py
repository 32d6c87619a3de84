"""A keyring of one's own (KEYRINGS.md): a fake HSM that wraps with AES-256-GCM from
``cryptography`` behind ``wrap_data_key`` / ``unwrap_data_key``. Round trips against moto in both
placements, single and multipart; its objects read by the native ``AesKeyring`` of the same key
and the other way round (the wrap is byte-compatible); a wrong key, a lying keyring, a key of
another HSM; rotation to and from it."""

from __future__ import annotations

import base64
import json
import os
from typing import List

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import s3ec

MiB = 1 << 20


class FakeHsm:
    """An HSM holding one AES-256 key in ``slot``; it counts its calls and what it was asked."""

    def __init__(self, key: bytes, slot: str = "slot-3") -> None:
        self.key = key
        self.slot = slot
        self.wraps = 0
        self.unwraps = 0
        self.ciphers: List[str] = []

    def wrap_data_key(self, request: s3ec.WrapRequest) -> s3ec.WrapResult:
        self.wraps += 1
        self.ciphers.append(request["content_cipher"])
        assert len(request["data_key"]) == 32
        iv = os.urandom(12)
        ct = AESGCM(self.key).encrypt(iv, request["data_key"], request["content_cipher"].encode())
        return {
            "wrap": "AES/GCM",
            "encrypted_data_key": iv + ct,
            "materials_description": {**request["materials_description"], "hsm-key": self.slot},
        }

    def unwrap_data_key(self, request: s3ec.UnwrapRequest) -> bytes:
        self.unwraps += 1
        self.ciphers.append(request["content_cipher"])
        named = request["materials_description"].get("hsm-key")
        if request["wrap"] != "AES/GCM" or named not in (None, self.slot):
            raise s3ec.UnsupportedKeyError("not a key of this HSM")
        edk = request["encrypted_data_key"]
        return AESGCM(self.key).decrypt(edk[:12], edk[12:], request["content_cipher"].encode())


MASTER = os.urandom(32)


def client(s3, keyring, **kw):
    return s3ec.S3EncryptionClient(s3, keyring, multipart_threshold=5 * MiB, part_size=5 * MiB, **kw)


def envelope(s3, bucket, key, placement):
    if placement == "instruction_file":
        return json.loads(s3.get_object(Bucket=bucket, Key=key + ".instruction")["Body"].read())
    return s3.head_object(Bucket=bucket, Key=key)["Metadata"]


@pytest.mark.parametrize("placement", ["metadata", "instruction_file"])
@pytest.mark.parametrize("size", [0, 70000, 11 * MiB + 3])
def test_round_trip(s3, bucket, placement, size):
    hsm = FakeHsm(MASTER)
    hsm.materials_description = {"purpose": "logs"}  # what writes store by default
    c = client(s3, hsm, placement=placement)
    data = os.urandom(size)
    out = c.put_object(Bucket=bucket, Key="k", Body=data)
    assert out["S3EC"]["multipart"] == (size > 5 * MiB)
    assert (hsm.wraps, hsm.unwraps) == (1, 0)
    env = envelope(s3, bucket, "k", placement)
    assert env["x-amz-w"] == "02"
    assert json.loads(env["x-amz-m"]) == {"purpose": "logs", "hsm-key": "slot-3"}
    assert len(base64.b64decode(env["x-amz-3"])) == 60
    assert c.get_object(Bucket=bucket, Key="k")["Body"].read() == data
    assert (hsm.wraps, hsm.unwraps) == (1, 1)
    assert hsm.ciphers == ["115", "115"]


def test_v2_binds_the_v2_content_cipher(s3, bucket):
    hsm = FakeHsm(MASTER)
    v2 = {"commitment_policy": "FORBID_ENCRYPT_ALLOW_DECRYPT"}
    data = os.urandom(1000)
    client(s3, hsm, **v2).put_object(Bucket=bucket, Key="v2", Body=data)
    meta = s3.head_object(Bucket=bucket, Key="v2")["Metadata"]
    assert meta["x-amz-wrap-alg"] == "AES/GCM"
    assert json.loads(meta["x-amz-matdesc"]) == {"hsm-key": "slot-3"}
    assert client(s3, hsm, **v2).get_object(Bucket=bucket, Key="v2")["Body"].read() == data
    assert client(s3, s3ec.AesKeyring(MASTER), **v2).get_object(Bucket=bucket, Key="v2")["Body"].read() == data
    assert hsm.ciphers == ["AES/GCM/NoPadding", "AES/GCM/NoPadding"]


def test_cross_reads_with_the_native_aes_keyring(s3, bucket):
    hsm = FakeHsm(MASTER)
    data = os.urandom(200000)
    client(s3, hsm).put_object(Bucket=bucket, Key="from-hsm", Body=data)
    aes = client(s3, s3ec.AesKeyring(MASTER))
    assert aes.get_object(Bucket=bucket, Key="from-hsm")["Body"].read() == data
    aes.put_object(Bucket=bucket, Key="from-aes", Body=data)
    assert hsm.unwraps == 0
    assert client(s3, hsm).get_object(Bucket=bucket, Key="from-aes")["Body"].read() == data
    assert (hsm.wraps, hsm.unwraps) == (1, 1)


def test_wrong_key_liar_and_foreign_key(s3, kms, kms_key, bucket):
    data = os.urandom(5000)
    client(s3, FakeHsm(MASTER)).put_object(Bucket=bucket, Key="k", Body=data)
    # Same slot, another key: its unwrap fails, which is the opaque authentication error.
    wrong = FakeHsm(os.urandom(32))
    with pytest.raises(s3ec.AuthenticationError) as e:
        client(s3, wrong).get_object(Bucket=bucket, Key="k")
    assert e.value.code == "Authentication"
    assert wrong.unwraps == 1
    with pytest.raises(s3ec.AuthenticationError):
        client(s3, s3ec.AesKeyring(os.urandom(32))).get_object(Bucket=bucket, Key="k")

    # A keyring that hands back some other 256-bit key: the key commitment refuses it.
    class Liar:
        def wrap_data_key(self, request: s3ec.WrapRequest) -> s3ec.WrapResult:
            raise AssertionError("no writes")

        def unwrap_data_key(self, request: s3ec.UnwrapRequest) -> bytes:
            return os.urandom(32)

    with pytest.raises(s3ec.AuthenticationError):
        client(s3, Liar()).get_object(Bucket=bucket, Key="k")
    # An HSM that does not hold the key the envelope names says so.
    other = FakeHsm(MASTER, slot="slot-9")
    with pytest.raises(s3ec.UnsupportedKeyError) as e:
        client(s3, other).get_object(Bucket=bucket, Key="k")
    assert e.value.code == "UnsupportedWrap"
    assert isinstance(e.value, s3ec.FormatError)
    # A KMS envelope is never handed to such a keyring.
    s3ec.S3EncryptionClient(s3, s3ec.KmsKeyring(kms, kms_key)).put_object(Bucket=bucket, Key="kms", Body=data)
    counted = FakeHsm(MASTER)
    with pytest.raises(s3ec.UnsupportedKeyError):
        client(s3, counted).get_object(Bucket=bucket, Key="kms")
    assert counted.unwraps == 0


def test_wrap_answers_are_checked(s3, bucket):
    class Bad(FakeHsm):
        def __init__(self, answer):
            super().__init__(MASTER)
            self.answer = answer

        def wrap_data_key(self, request):
            return self.answer

    for answer in [
        {"wrap": "kms+context", "encrypted_data_key": b"x" * 60},
        {"wrap": "AES/GCM"},
        {"wrap": "AES/GCM", "encrypted_data_key": "not bytes"},
        ("AES/GCM", b"x" * 60),
        {"wrap": "AES/GCM", "encrypted_data_key": b"x" * 60, "materials_description": {"a": 1}},
    ]:
        with pytest.raises(s3ec.UsageError):
            client(s3, Bad(answer)).put_object(Bucket=bucket, Key="bad", Body=b"x")
    # 59 bytes cannot be an AES/GCM wrap of a 256-bit key.
    with pytest.raises(s3ec.S3ECError):
        client(s3, Bad({"wrap": "AES/GCM", "encrypted_data_key": b"x" * 59})).put_object(Bucket=bucket, Key="bad", Body=b"x")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    # An error of the keyring's own wrap reaches the caller as it is.

    class Down(FakeHsm):
        def wrap_data_key(self, request):
            raise ConnectionError("hsm unreachable")

    with pytest.raises(ConnectionError):
        client(s3, Down(MASTER)).put_object(Bucket=bucket, Key="bad", Body=b"x")
    # The write's EncryptionContext is for KMS keyrings; this keyring stores its own description.
    with pytest.raises(s3ec.UsageError):
        client(s3, FakeHsm(MASTER)).put_object(Bucket=bucket, Key="bad", Body=b"x", EncryptionContext={"a": "b"})


def test_rotation_to_the_hsm_and_back(s3, bucket):
    data = os.urandom(30000)
    aes = s3ec.AesKeyring(os.urandom(32))
    hsm = FakeHsm(MASTER)
    hsm.materials_description = {"rotated": "yes"}
    client(s3, aes, placement="instruction_file").put_object(Bucket=bucket, Key="r", Body=data)
    # AES -> HSM: the HSM wraps the object's data key, then reads it back before anything is written.
    client(s3, aes).reencrypt_instruction_file(Bucket=bucket, Key="r", NewKeyring=hsm)
    assert (hsm.wraps, hsm.unwraps) == (1, 1)
    ifile = json.loads(s3.get_object(Bucket=bucket, Key="r.instruction")["Body"].read())
    assert json.loads(ifile["x-amz-m"]) == {"rotated": "yes", "hsm-key": "slot-3"}
    assert client(s3, hsm).get_object(Bucket=bucket, Key="r")["Body"].read() == data
    with pytest.raises(s3ec.AuthenticationError):
        client(s3, aes).get_object(Bucket=bucket, Key="r")
    # HSM -> HSM under the same key is not an enforced rotation: the old keyring still opens it.
    with pytest.raises(s3ec.UsageError) as e:
        client(s3, hsm).reencrypt_instruction_file(Bucket=bucket, Key="r", NewKeyring=hsm)
    assert e.value.code == "RotationNotEnforced"
    # HSM -> a new AES key: the HSM is asked whether it still opens the new envelope (it does not).
    new = s3ec.AesKeyring(os.urandom(32))
    before = hsm.unwraps
    client(s3, hsm).reencrypt_instruction_file(Bucket=bucket, Key="r", NewKeyring=new)
    assert hsm.unwraps == before + 2
    assert client(s3, new).get_object(Bucket=bucket, Key="r")["Body"].read() == data


def test_the_kms_shaped_protocol_is_still_told_apart(s3, bucket):
    # An object with decrypt_data_key/generate_data_key only is the KMS-shaped keyring.
    class Kmsish:
        def __init__(self):
            self.keys = {}

        def generate_data_key(self, encryption_context):
            k = os.urandom(32)
            blob = os.urandom(16)
            self.keys[blob] = k
            return k, blob

        def decrypt_data_key(self, request):
            assert request["kind"] == "kms"
            return self.keys[bytes(request["ciphertext_blob"])]

    k = Kmsish()
    c = client(s3, k)
    c.put_object(Bucket=bucket, Key="kk", Body=b"hello", EncryptionContext={"a": "b"})
    assert s3.head_object(Bucket=bucket, Key="kk")["Metadata"]["x-amz-w"] == "12"
    assert c.get_object(Bucket=bucket, Key="kk", EncryptionContext={"a": "b"})["Body"].read() == b"hello"


TYPED = '''
import os
import s3ec

class Hsm:
    def wrap_data_key(self, request: s3ec.WrapRequest) -> s3ec.WrapResult:
        return {"wrap": "AES/GCM", "encrypted_data_key": os.urandom(60)}

    def unwrap_data_key(self, request: s3ec.UnwrapRequest) -> bytes:
        if request["wrap"] != "AES/GCM":
            raise s3ec.UnsupportedKeyError("not mine")
        return bytes(request["encrypted_data_key"][:32])

keyring: s3ec.WrappingKeyring = Hsm()
'''

UNTYPED_WRAP = '''
import s3ec

class Bad:
    def wrap_data_key(self, request: s3ec.WrapRequest) -> s3ec.WrapResult:
        return {"wrap": "kms+context", "encrypted_data_key": b""}

    def unwrap_data_key(self, request: s3ec.UnwrapRequest) -> bytes:
        return request["data_key"]

keyring: s3ec.WrappingKeyring = Bad()
'''


def test_the_protocol_types_check_under_mypy_strict(tmp_path):
    import subprocess
    import sys

    def mypy(src):
        f = tmp_path / "k.py"
        f.write_text(src)
        return subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(f)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )

    ok = mypy(TYPED)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = mypy(UNTYPED_WRAP)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    # The wrap literal and the request's keys are both checked.
    assert "'kms+context'" in bad.stdout and '"UnwrapRequest" has no key "data_key"' in bad.stdout, bad.stdout
