"""put_object of a body in memory: one PutObject whose body boto3 reads as a file that encrypts as
it is read (and again after each seek back: boto3 hashes the body before it sends it, and re-sends
it on a retry), never the whole ciphertext in memory. The caller's buffers are only read. Against
moto."""

from __future__ import annotations

import io
import os

import pytest

import s3ec
from keys import aes

MiB = 1 << 20


class Wrapped:
    """A boto3 client whose put_object first does something to the body (``before``)."""

    def __init__(self, inner, before):
        self._inner = inner
        self._before = before
        self.puts = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def put_object(self, **kw):
        self.puts.append(kw)
        return self._before(self._inner, kw)


def _roundtrip(c, bucket, key, data):
    assert c.get_object(Bucket=bucket, Key=key)["Body"].read() == bytes(data)


@pytest.mark.parametrize("threshold", [None, 5 * MiB])
def test_the_callers_buffers_are_never_written(s3, bucket, threshold):
    # The single streamed PutObject (default) and a multipart upload (a threshold given).
    kw = {} if threshold is None else {"multipart_threshold": threshold, "part_size": 5 * MiB}
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()), **kw)
    src = os.urandom(11 * MiB + 7)
    bodies = {
        "bytes": bytes(src),
        "bytearray": bytearray(src),
        "memoryview": memoryview(bytearray(src)),
        "slice": memoryview(src)[3 : 6 * MiB + 1],
    }
    for name, body in bodies.items():
        before = bytes(body)
        w = c.put_object(Bucket=bucket, Key=name, Body=body)
        assert bytes(body) == before, name
        assert w["S3EC"]["multipart"] == (threshold is not None and len(before) > threshold)
        _roundtrip(c, bucket, name, before)


def test_a_body_in_memory_is_one_put_streamed(s3, bucket):
    w = Wrapped(s3, lambda inner, kw: inner.put_object(**kw))
    c = s3ec.S3EncryptionClient(w, s3ec.AesKeyring(aes()))
    data = os.urandom(9 * MiB + 3)
    r = c.put_object(Bucket=bucket, Key="one", Body=data)
    assert not r["S3EC"]["multipart"] and r["S3EC"]["parts"] == 1
    (put,) = w.puts
    body = put["Body"]
    assert hasattr(body, "read") and not isinstance(body, (bytes, bytearray))
    assert put["ContentLength"] == len(data) + 16
    _roundtrip(c, bucket, "one", data)
    # The body was handed back when the PutObject was answered: it cannot be read again.
    assert body.read(1) == b""
    with pytest.raises(ValueError):
        body.seek(0)


def _reread(inner, kw):
    # Read part of the body, seek about (back, forwards, to the end), then send it from its start.
    b = kw["Body"]
    n = len(b)
    first = b.read(1000)
    assert b.tell() == len(first) == min(1000, n)
    b.seek(0)
    assert b.read(1000) == first
    assert b.seek(0, io.SEEK_END) == n and b.read(10) == b""
    t = min(20, n)
    assert b.seek(-t, io.SEEK_END) == n - t
    tail = b.read()
    assert len(tail) == t
    b.seek(n // 2)
    mid = b.read(4097)
    b.seek(0)
    whole = b.read()
    assert len(whole) == n and whole[: len(first)] == first and whole[n - t :] == tail
    assert whole[n // 2 : n // 2 + 4097] == mid
    b.seek(0)
    return inner.put_object(**kw)


def test_the_streamed_body_rewinds_and_seeks(s3, bucket):
    c = s3ec.S3EncryptionClient(Wrapped(s3, _reread), s3ec.AesKeyring(aes()))
    for n in (0, 1, 16, 5000, 3 * MiB + 1):
        data = os.urandom(n)
        c.put_object(Bucket=bucket, Key=f"s{n}", Body=data)
        _roundtrip(c, bucket, f"s{n}", data)


def test_a_body_sent_short_is_not_trusted(s3, bucket):
    # A transport that sent only half of the body and got a success: the write is refused and
    # the object it left is deleted.
    def half(inner, kw):
        b = kw["Body"]
        part = b.read(len(b) // 2)
        return inner.put_object(**{**kw, "Body": part, "ContentLength": len(part)})

    c = s3ec.S3EncryptionClient(Wrapped(s3, half), s3ec.AesKeyring(aes()))
    with pytest.raises(s3ec.S3ECError):
        c.put_object(Bucket=bucket, Key="short", Body=os.urandom(100_000))
    assert "short" not in {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_a_failed_body_read_fails_the_put(s3, bucket):
    def boom(inner, kw):
        kw["Body"].read(10)
        raise ConnectionError("the connection dropped")

    c = s3ec.S3EncryptionClient(Wrapped(s3, boom), s3ec.AesKeyring(aes()))
    with pytest.raises(ConnectionError):
        c.put_object(Bucket=bucket, Key="dropped", Body=os.urandom(70_000))
    assert "dropped" not in {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


class PartHook:
    """A boto3 client whose upload_part calls ``before(kw)`` first."""

    def __init__(self, inner, before):
        self._inner = inner
        self._before = before
        self.parts = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def upload_part(self, **kw):
        self.parts.append(kw)
        self._before(kw)
        return self._inner.upload_part(**kw)

    def create_multipart_upload(self, **kw):
        self.created = kw
        return self._inner.create_multipart_upload(**kw)


def test_upload_file_streams_its_parts_from_the_file(s3, bucket, tmp_path):
    # Each part's body reads the file by position and encrypts as it is read (rewound: the
    # Recording-like hook reads it whole first); parts round-trip and Callback adds up.
    data = os.urandom(11 * MiB + 9)
    src = tmp_path / "src"
    src.write_bytes(data)

    def peek(kw):
        b = kw["Body"]
        assert hasattr(b, "read") and not isinstance(b, (bytes, bytearray))
        first = b.read()
        b.seek(0)
        assert b.read(len(first)) == first
        b.seek(0)

    hook = PartHook(s3, peek)
    c = s3ec.S3EncryptionClient(hook, s3ec.AesKeyring(aes()))
    seen = []
    from boto3.s3.transfer import TransferConfig

    c.upload_file(str(src), bucket, "f", Callback=seen.append, Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
    assert sum(seen) == len(data)
    # As boto3's managed upload does with the default request_checksum_calculation.
    assert hook.created["ChecksumAlgorithm"] == "CRC32"
    assert len(hook.parts) == 3
    assert [p["ContentLength"] for p in sorted(hook.parts, key=lambda p: p["PartNumber"])] == [5 * MiB, 5 * MiB, MiB + 9 + 16]
    _roundtrip(c, bucket, "f", data)
    assert src.read_bytes() == data


def test_a_file_changed_during_upload_fails_it(s3, bucket, tmp_path):
    # The part is read again as it is sent: bytes that differ from the part first encrypted fail
    # the upload, which is aborted (no object, no upload left).
    data = os.urandom(11 * MiB)
    src = tmp_path / "src"
    src.write_bytes(data)

    def change(kw):
        if kw["PartNumber"] == 2:
            with open(src, "r+b") as f:
                f.seek(5 * MiB + 100)
                f.write(b"changed")

    c = s3ec.S3EncryptionClient(PartHook(s3, change), s3ec.AesKeyring(aes()), max_concurrency=1)
    from boto3.s3.transfer import TransferConfig

    with pytest.raises(OSError, match="changed while it was uploaded"):
        c.upload_file(str(src), bucket, "changed", Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
    assert "changed" not in {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
