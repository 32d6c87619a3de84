"""boto3's arguments on the encrypting calls: conditions, versions, response headers and SSE-C go
to the object's requests (not to its instruction file); ContentMD5 is checked over the plaintext
and a Content-MD5 of the ciphertext is sent; checksum values are refused; Callback and Config
(TransferConfig) of the managed transfers; Range on V1 (CBC) objects. Against moto."""

from __future__ import annotations

import base64
import hashlib
import os
import threading

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

import s3ec
from keys import aes

MiB = 1 << 20


class Recording:
    """A boto3 client whose calls are recorded (name, arguments) and then made."""

    def __init__(self, inner):
        self._inner = inner
        self.calls = []
        self._lock = threading.Lock()

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if not callable(attr) or name.startswith("_") or name in ("can_paginate", "get_paginator"):
            return attr

        def call(*a, **kw):
            seen = dict(kw)
            body = kw.get("Body")
            if hasattr(body, "read"):
                # A streamed body (a single PutObject's): recorded as the bytes it reads as.
                seen["Body"] = body.read()
                body.seek(0)
            with self._lock:
                self.calls.append((name, seen))
            return attr(*a, **kw)

        return call

    def named(self, name):
        return [kw for n, kw in self.calls if n == name]


def test_ssec_and_owner_arguments_reach_every_request_on_the_object_only(s3, bucket):
    rec = Recording(s3)
    c = s3ec.S3EncryptionClient(rec, s3ec.AesKeyring(aes()), part_size=5 * MiB, multipart_threshold=5 * MiB, placement="instruction_file")
    key = os.urandom(16).hex()  # boto3 takes the 32-byte key as str (and adds its MD5)
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    data = os.urandom(11 * MiB)
    c.put_object(Bucket=bucket, Key="big", Body=data, ExpectedBucketOwner="123456789012", **ssec)
    c.put_object(Bucket=bucket, Key="small", Body=b"small", **ssec)
    for kw in rec.named("create_multipart_upload") + rec.named("upload_part") + rec.named("complete_multipart_upload"):
        assert kw["Key"] == "big" and kw["SSECustomerKey"] == key
    assert len(rec.named("upload_part")) == 3
    puts = rec.named("put_object")
    assert {p["Key"] for p in puts} == {"big.instruction", "small", "small.instruction"}
    for p in puts:
        assert ("SSECustomerKey" in p) == (not p["Key"].endswith(".instruction"))
    rec.calls.clear()
    got = c.get_object(Bucket=bucket, Key="small", **ssec)
    assert got["Body"].read() == b"small"
    for name, kw in rec.calls:
        if name in ("get_object", "head_object"):
            assert ("SSECustomerKey" in kw) == (kw["Key"] == "small"), (name, kw["Key"])


def test_read_conditions_versions_and_response_headers(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()))
    v1 = c.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    put2 = c.put_object(Bucket=bucket, Key="k", Body=b"two")
    assert c.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    r = c.get_object(Bucket=bucket, Key="k", IfMatch=put2["ETag"], ResponseContentType="text/x-test",
                     ResponseCacheControl="no-store")
    assert r["Body"].read() == b"two" and r["ContentType"] == "text/x-test" and r["CacheControl"] == "no-store"
    with pytest.raises(ClientError) as ei:
        c.get_object(Bucket=bucket, Key="k", IfNoneMatch=put2["ETag"])
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    assert c.head_object(Bucket=bucket, Key="k", IfMatch=put2["ETag"])["ContentLength"] == 3
    with pytest.raises(s3ec.UsageError, match="PartNumber"):
        c.get_object(Bucket=bucket, Key="k", PartNumber=1)
    with pytest.raises(TypeError, match="Bogus"):
        c.get_object(Bucket=bucket, Key="k", Bogus=1)
    # Conditional writes.
    with pytest.raises(ClientError) as ei:
        c.put_object(Bucket=bucket, Key="k", Body=b"three", IfNoneMatch="*")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert c.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"


def test_content_md5_is_checked_over_the_plaintext_and_sent_over_the_ciphertext(s3, bucket):
    rec = Recording(s3)
    c = s3ec.S3EncryptionClient(rec, s3ec.AesKeyring(aes()), part_size=5 * MiB, multipart_threshold=5 * MiB)
    for data in (b"hello", os.urandom(6 * MiB)):
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        rec.calls.clear()
        c.put_object(Bucket=bucket, Key="m", Body=data, ContentMD5=md5)
        bodies = [kw for n, kw in rec.calls if n in ("put_object", "upload_part")]
        assert bodies
        for kw in bodies:
            assert kw["ContentMD5"] == base64.b64encode(hashlib.md5(kw["Body"]).digest()).decode()
            assert kw["ContentMD5"] != md5
        assert c.get_object(Bucket=bucket, Key="m")["Body"].read() == data
    for body in (b"hello", os.urandom(6 * MiB)):
        with pytest.raises(ClientError) as ei:
            c.put_object(Bucket=bucket, Key="bad", Body=body, ContentMD5=base64.b64encode(b"\0" * 16).decode())
        assert ei.value.response["Error"]["Code"] == "BadDigest"
    assert "bad" not in {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_checksums_are_computed_over_what_is_sent_or_refused(s3, bucket):
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()), part_size=5 * MiB, multipart_threshold=5 * MiB)
    with pytest.raises(s3ec.UsageError, match="ChecksumAlgorithm"):
        c.put_object(Bucket=bucket, Key="c", Body=b"x", ChecksumSHA256=base64.b64encode(hashlib.sha256(b"x").digest()).decode())
    for data in (b"abc", os.urandom(6 * MiB)):
        c.put_object(Bucket=bucket, Key="c", Body=data, ChecksumAlgorithm="SHA256")
        assert c.get_object(Bucket=bucket, Key="c")["Body"].read() == data
        assert s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED").get("ChecksumSHA256")


def test_upload_and_download_callbacks_and_transfer_config(s3, bucket, tmp_path):
    rec = Recording(s3)
    c = s3ec.S3EncryptionClient(rec, s3ec.AesKeyring(aes()))
    data = os.urandom(12 * MiB + 5)
    src = tmp_path / "src"
    src.write_bytes(data)
    seen = []
    c.upload_file(str(src), bucket, "f", Callback=seen.append)
    assert sum(seen) == len(data) and len(seen) >= 2
    assert len(rec.named("upload_part")) == 2  # the client's 8 MiB parts
    rec.calls.clear()
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=2)
    c.upload_file(str(src), bucket, "f", Config=cfg)
    assert len(rec.named("upload_part")) == 3  # 5 MiB parts
    rec.calls.clear()
    c.upload_file(str(src), bucket, "one", Config=TransferConfig(multipart_threshold=64 * MiB))
    assert not rec.named("upload_part") and len(rec.named("put_object")) == 1
    got = []
    dst = tmp_path / "dst"
    rec.calls.clear()
    c.download_file(bucket, "f", str(dst), Callback=got.append, Config=TransferConfig(multipart_chunksize=8 * MiB, max_concurrency=3))
    assert dst.read_bytes() == data
    assert sum(got) == len(data) and len(got) >= 2
    assert len([kw for kw in rec.named("get_object") if kw.get("Range")]) >= 2  # parallel ranged GETs
    got.clear()
    import io
    buf = io.BytesIO()
    c.download_fileobj(bucket, "f", buf, Callback=got.append)
    assert buf.getvalue() == data and sum(got) == len(data)


def test_range_on_v1_cbc_objects_written_by_0_1_3(moto_endpoint, s3, bucket, tmp_path):
    # Ranged reads of V1 (AES-CBC) objects, with the reading policy that admits them; planned by the
    # core (src/range.rs), decrypted by its hazmat range stream.
    from test_peers import _peer_python, run_peer

    seed_py = _peer_python("S3EC_SEED_PYTHON", "seed")
    master = aes(16, seed=3)
    data = os.urandom(4101)
    src = tmp_path / "v1"
    src.write_bytes(data)
    run_peer(seed_py, "seed_peer.py", moto_endpoint, "put", bucket, "v1", master.hex(), str(src))
    c = s3ec.S3EncryptionClient(
        s3,
        s3ec.AesKeyring(master),
        commitment_policy=s3ec.CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
        enable_legacy_wrapping_algorithms=True,
        enable_legacy_unauthenticated_modes=True,
    )
    for rng, want in [("bytes=10-20", data[10:21]), ("bytes=4000-", data[4000:]), ("bytes=0-0", data[:1]),
                      ("bytes=16-4100", data[16:]), ("bytes=4090-9999", data[4090:])]:
        r = c.get_object(Bucket=bucket, Key="v1", Range=rng)
        assert r["Body"].read() == want, rng
        assert r["S3EC"]["Verification"] == "UnauthenticatedRange"
    # A suffix range needs the plaintext length, which 0.1.3 does not record
    # (x-amz-unencrypted-content-length): it is learnt from a ranged read of the last blocks.
    for n in (1, 10, 16, 17, 4101, 5000):
        r = c.get_object(Bucket=bucket, Key="v1", Range=f"bytes=-{n}")
        assert r["Body"].read() == data[-n:], n
    # Refused as before by the strict policy.
    with pytest.raises(s3ec.PolicyError):
        s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(master)).get_object(Bucket=bucket, Key="v1", Range="bytes=-10")
