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
    with pytest.raises(ValueError):
        body.read(1)


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
