"""Round trips against moto S3 + KMS: every keyring, every placement, single and multipart,
the transfer methods, head/delete/rotation, policies and the typed errors."""

from __future__ import annotations

import hashlib
import io
import os
import sys

import pytest

import s3ec
from boto3.s3.transfer import TransferConfig
from keys import aes, rsa_pems

MiB = 1 << 20
SIZES = [0, 1, 17, 4101, 9 * MiB + 5]


class CustomKeyring:
    """A keyring written in Python (an 'HSM'): it wraps data keys with AES-GCM under its own key
    using the ``cryptography``-free stdlib? No: it delegates to KMS-like semantics with a local
    table, returning a blob that names the key."""

    def __init__(self):
        self.store = {}

    def generate_data_key(self, encryption_context):
        key = os.urandom(32)
        blob = b"hsm:" + hashlib.sha256(key + repr(sorted(encryption_context.items())).encode()).digest()
        self.store[blob] = (key, dict(encryption_context))
        return key, blob

    def encrypt_data_key(self, data_key, encryption_context):
        blob = b"hsm:" + hashlib.sha256(data_key + b"rewrap" + repr(sorted(encryption_context.items())).encode()).digest()
        self.store[blob] = (bytes(data_key), dict(encryption_context))
        return blob

    def decrypt_data_key(self, request):
        assert request["kind"] == "kms", request
        hit = self.store.get(bytes(request["ciphertext_blob"]))
        if hit is None or hit[1] != request["encryption_context"]:
            raise s3ec.AuthenticationError("hsm: unknown key")
        return hit[0]


def keyrings(kms, kms_key):
    priv, pub = rsa_pems()
    return {
        "aes128": s3ec.AesKeyring(aes(16)),
        "aes192": s3ec.AesKeyring(aes(24)),
        "aes256": s3ec.AesKeyring(aes(32), materials_description={"purpose": "test"}),
        "rsa": s3ec.RsaKeyring(private_pem=priv, public_pem=pub),
        "kms": s3ec.KmsKeyring(kms, kms_key),
        "custom": CustomKeyring(),
    }


@pytest.mark.parametrize("placement", ["metadata", "instruction_file"])
@pytest.mark.parametrize("name", ["aes128", "aes192", "aes256", "rsa", "kms", "custom"])
def test_round_trip(s3, kms, kms_key, bucket, name, placement):
    kr = keyrings(kms, kms_key)[name]
    c = s3ec.S3EncryptionClient(s3, kr, placement=placement)
    ctx = {"tenant": "t1"} if name in ("kms", "custom") else None
    for n in SIZES:
        data = os.urandom(n)
        w = c.put_object(Bucket=bucket, Key=f"k{n}", Body=data, EncryptionContext=ctx, Metadata={"m": "v"}, ContentType="application/x-test")
        assert w["ETag"] == s3.head_object(Bucket=bucket, Key=f"k{n}")["ETag"]
        # A body in memory goes up in one PutObject, as boto3's put_object sends it.
        assert w["S3EC"]["plaintext_len"] == n and not w["S3EC"]["multipart"]
        r = c.get_object(Bucket=bucket, Key=f"k{n}", EncryptionContext=ctx)
        assert r["Body"].read() == data, n
        assert r["ContentLength"] == n
        assert r["Metadata"] == {"m": "v"}
        assert r["ContentType"] == "application/x-test"
        assert r["S3EC"]["Verification"] == "InMemory"
        h = c.head_object(Bucket=bucket, Key=f"k{n}")
        assert h["S3EC"]["format_version"] == "V3"
        assert h["S3EC"]["instruction_file"] == (placement == "instruction_file")
        stored = s3.head_object(Bucket=bucket, Key=f"k{n}")
        assert stored["ContentLength"] == n + 16
        has_ifile = "Contents" in s3.list_objects_v2(Bucket=bucket, Prefix=f"k{n}.instruction")
        assert has_ifile == (placement == "instruction_file")
    if name == "kms":
        # Discovery reads it without a key id; a wrong context is refused before any KMS call.
        d = s3ec.S3EncryptionClient(s3, s3ec.KmsDiscoveryKeyring(kms))
        assert d.get_object(Bucket=bucket, Key="k17", EncryptionContext=ctx)["Body"].read()
        with pytest.raises(s3ec.PolicyError):
            c.get_object(Bucket=bucket, Key="k17", EncryptionContext={"tenant": "t2"})
        with pytest.raises(s3ec.PolicyError):
            d.put_object(Bucket=bucket, Key="x", Body=b"x")


def test_large_reads_are_verified_through_storage_or_two_passes(s3, bucket):
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()), memory_budget=1 * MiB)
    data = os.urandom(3 * MiB + 3)
    c.put_object(Bucket=bucket, Key="big", Body=data)
    r = c.get_object(Bucket=bucket, Key="big")
    assert r["S3EC"]["Verification"] == "Storage"
    assert r["Body"].read() == data


def test_file_transfers_multipart_and_parallel(s3, bucket, tmp_path):
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()), part_size=5 * MiB, multipart_threshold=5 * MiB, max_concurrency=4)
    src = tmp_path / "src.bin"
    data = os.urandom(23 * MiB + 11)
    src.write_bytes(data)
    c.upload_file(str(src), bucket, "f", ExtraArgs={"Metadata": {"x": "1"}})
    parts = s3.head_object(Bucket=bucket, Key="f")["ETag"]
    assert parts.endswith('-5"'), parts
    dst = tmp_path / "dst.bin"
    c.download_file(bucket, "f", str(dst))
    assert dst.read_bytes() == data
    # upload_fileobj of an unseekable stream: unknown length, multipart.
    class Pipe(io.RawIOBase):
        def __init__(self, b):
            self.b = io.BytesIO(b)
        def readable(self):
            return True
        def seekable(self):
            return False
        def read(self, n=-1):
            return self.b.read(n)
    c.upload_fileobj(Pipe(data[: 6 * MiB]), bucket, "pipe")
    out = io.BytesIO()
    c.download_fileobj(bucket, "pipe", out)
    assert out.getvalue() == data[: 6 * MiB]
    # No temporary files left beside the target.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst.bin", "src.bin"]


@pytest.mark.skipif(sys.platform != "linux", reason="the single-pass download needs O_TMPFILE (Linux)")
def test_download_is_decrypted_as_it_arrives_on_linux(s3, bucket, tmp_path, monkeypatch):
    # One pass into a file without a name, named only once verified (no ciphertext written
    # first and decrypted in place): the read hands back that file; nothing else is left.
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()), memory_budget=0)
    data = os.urandom(3 * MiB + 5)
    c.put_object(Bucket=bucket, Key="one-pass", Body=data)
    seen = {}
    get = c._get

    def spy(*a, **k):
        done, opened = get(*a, **k)
        seen.update(done)
        return done, opened

    monkeypatch.setattr(c, "_get", spy)
    dst = tmp_path / "d"
    dst.write_bytes(b"old")
    c.download_file(bucket, "one-pass", str(dst), Config=TransferConfig(max_concurrency=1))
    assert dst.read_bytes() == data
    assert seen["fd"] is not None and seen["fetched"] == seen["stored_len"]
    assert [p.name for p in tmp_path.iterdir()] == ["d"]
    assert (os.stat(dst).st_mode & 0o777) == 0o600


def test_download_failure_leaves_target_untouched(s3, bucket, tmp_path):
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()))
    c.put_object(Bucket=bucket, Key="o", Body=b"secret")
    dst = tmp_path / "d"
    dst.write_bytes(b"old")
    with pytest.raises(s3ec.AuthenticationError):
        s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes(seed=2))).download_file(bucket, "o", str(dst))
    assert dst.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_ranges_are_an_opt_in(s3, bucket):
    data = os.urandom(100_000)
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()))
    c.put_object(Bucket=bucket, Key="r", Body=data)
    with pytest.raises(s3ec.PolicyError):
        c.get_object(Bucket=bucket, Key="r", Range="bytes=10-20")
    u = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()), enable_legacy_unauthenticated_modes=True)
    for rng, want in [("bytes=10-20", data[10:21]), ("bytes=99990-", data[99990:]), ("bytes=-7", data[-7:]), ("bytes=0-0", data[:1])]:
        r = u.get_object(Bucket=bucket, Key="r", Range=rng)
        assert r["Body"].read() == want, rng
        assert r["S3EC"]["Verification"] == "UnauthenticatedRange"
    with pytest.raises(s3ec.PolicyError):
        c.get_object(Bucket=bucket, Key="r", DelayedAuthentication=True)
    dl = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()), enable_delayed_authentication=True, memory_budget=0)
    r = dl.get_object(Bucket=bucket, Key="r", DelayedAuthentication=True)
    assert r["Body"].read() == data


def test_policies(s3, bucket):
    k = s3ec.AesKeyring(aes())
    v2 = s3ec.S3EncryptionClient(s3, k, commitment_policy=s3ec.CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT)
    v2.put_object(Bucket=bucket, Key="v2", Body=b"two")
    assert v2.head_object(Bucket=bucket, Key="v2")["S3EC"]["format_version"] == "V2"
    strict = s3ec.S3EncryptionClient(s3, k)
    with pytest.raises(s3ec.PolicyError):
        strict.get_object(Bucket=bucket, Key="v2")
    allow = s3ec.S3EncryptionClient(s3, k, commitment_policy="REQUIRE_ENCRYPT_ALLOW_DECRYPT")
    assert allow.get_object(Bucket=bucket, Key="v2")["Body"].read() == b"two"
    with pytest.raises(s3ec.UsageError):
        strict.put_object(Bucket=bucket, Key="x", Body=b"x", EncryptionContext={"a": "b"})


def test_typed_errors(s3, bucket):
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()))
    s3.put_object(Bucket=bucket, Key="plain", Body=b"hello")
    with pytest.raises(s3ec.NotEncryptedError) as e:
        c.get_object(Bucket=bucket, Key="plain")
    assert isinstance(e.value, s3ec.FormatError) and e.value.code == "NotEncrypted"
    with pytest.raises(s3ec.NoSuchKeyError):
        c.get_object(Bucket=bucket, Key="missing")
    c.put_object(Bucket=bucket, Key="o", Body=b"x")
    with pytest.raises(s3ec.AuthenticationError) as e:
        s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes(seed=9))).get_object(Bucket=bucket, Key="o")
    assert e.value.code == "Authentication"
    with pytest.raises(s3ec.UsageError):
        s3ec.AesKeyring(b"short")
    for cls in (s3ec.AuthenticationError, s3ec.PolicyError, s3ec.FormatError, s3ec.NotEncryptedError):
        assert issubclass(cls, s3ec.S3ECError)


def test_delete_object_and_instruction_file(s3, bucket):
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()), placement="instruction_file")
    c.put_object(Bucket=bucket, Key="a", Body=b"x")
    m = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()))
    m.put_object(Bucket=bucket, Key="b", Body=b"y")
    s3.put_object(Bucket=bucket, Key="b.instruction", Body=b"not an envelope")
    assert c.delete_object(Bucket=bucket, Key="a") == {"ObjectDeleted": True, "InstructionFileDeleted": True}
    assert m.delete_object(Bucket=bucket, Key="b") == {"ObjectDeleted": True, "InstructionFileDeleted": False}
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["b.instruction"]


@pytest.mark.parametrize("kind", ["aes", "rsa", "kms"])
def test_reencrypt_instruction_file(s3, kms, kms_key, bucket, kind):
    priv, pub = rsa_pems()
    old, new = {
        "aes": (s3ec.AesKeyring(aes(seed=1)), s3ec.AesKeyring(aes(seed=2))),
        "rsa": (s3ec.AesKeyring(aes(seed=1)), s3ec.RsaKeyring(private_pem=priv)),
        "kms": (s3ec.KmsKeyring(kms, kms_key), s3ec.KmsKeyring(kms, kms.create_key()["KeyMetadata"]["KeyId"])),
    }[kind]
    ctx = {"c": "1"} if kind == "kms" else None
    c = s3ec.S3EncryptionClient(s3, old, placement="instruction_file")
    data = os.urandom(5000)
    c.put_object(Bucket=bucket, Key="k", Body=data, EncryptionContext=ctx)
    before = s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    if kind != "kms":
        with pytest.raises(s3ec.S3ECError):
            c.reencrypt_instruction_file(Bucket=bucket, Key="k", NewKeyring=old)
    c.reencrypt_instruction_file(Bucket=bucket, Key="k", NewKeyring=new, EncryptionContext=ctx, NewEncryptionContext=ctx)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == before  # the object is untouched
    assert s3ec.S3EncryptionClient(s3, new).get_object(Bucket=bucket, Key="k", EncryptionContext=ctx)["Body"].read() == data
    if kind != "kms":
        # The old key no longer opens it: a wrong AES key fails to authenticate; an AES key
        # cannot unwrap an RSA wrap at all.
        with pytest.raises(s3ec.AuthenticationError if kind == "aes" else s3ec.FormatError):
            c.get_object(Bucket=bucket, Key="k")
    m = s3ec.S3EncryptionClient(s3, old)
    m.put_object(Bucket=bucket, Key="meta", Body=b"x", EncryptionContext=ctx)
    with pytest.raises(s3ec.UsageError):
        m.reencrypt_instruction_file(Bucket=bucket, Key="meta", NewKeyring=new, EncryptionContext=ctx)


class _Unseekable:
    """A body with ``read`` only: its length is unknown until it ends."""

    def __init__(self, data):
        self._b = io.BytesIO(data)

    def read(self, n=-1):
        return self._b.read(n)


@pytest.mark.parametrize("n", [0, 17, 4101, 5 * (1 << 20) + 3])
def test_body_of_unknown_length(s3, bucket, n):
    # Below the part size the machine probes one part and sends it as a single PutObject.
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes(32)), part_size=5 << 20, multipart_threshold=5 << 20)
    data = os.urandom(n)
    r = c.put_object(Bucket=bucket, Key=f"u{n}", Body=_Unseekable(data))
    assert r["S3EC"]["plaintext_len"] == n and r["S3EC"]["multipart"] == (n > 5 << 20)
    assert c.get_object(Bucket=bucket, Key=f"u{n}")["Body"].read() == data
