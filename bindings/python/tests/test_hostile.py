"""The hostile-storage matrix of the protocol (tests/object.rs, hostile_storage_matrix) through
the Python client: a boto3 client wrapper lies per case (same ETag and length with other bytes,
short and long bodies, ignored or shifted ranges, endless or swapped instruction files, header
floods, HEAD/GET disagreement, 503s). Every case ends in its typed exception, no plaintext is
returned, and a download leaves its target and directory untouched."""

from __future__ import annotations

import io
import os

import pytest
from botocore.exceptions import ClientError

import s3ec
from keys import aes

MiB = 1 << 20
N = 11 * MiB + 3


def _503(op):
    return ClientError(
        {"Error": {"Code": "503", "Message": "Slow Down"}, "ResponseMetadata": {"HTTPStatusCode": 503, "HTTPHeaders": {}}},
        op,
    )


class Endless(io.RawIOBase):
    def __init__(self):
        self.sent = 0

    def readable(self):
        return True

    def read(self, n=-1):
        n = 1 << 16 if n is None or n < 0 else n
        self.sent += n
        assert self.sent < 64 * MiB, "the machine kept reading an endless body"
        return b"A" * n


class Liar:
    """A boto3 S3 client that lies about `lie` (pass-through otherwise)."""

    def __init__(self, real, lie, arg=None):
        self.real = real
        self.lie = lie
        self.arg = arg
        self.gets = {}

    def __getattr__(self, name):
        return getattr(self.real, name)

    def _h(self, r):
        h = dict(r["ResponseMetadata"]["HTTPHeaders"])
        r["ResponseMetadata"] = dict(r["ResponseMetadata"], HTTPHeaders=h)
        return h

    def head_object(self, **a):
        if self.lie == "unavailable":
            raise _503("HeadObject")
        r = self.real.head_object(**a)
        self._flood(self._h(r))
        return r

    def _flood(self, h):
        if self.lie == "many_headers":
            for i in range(10_000):
                h[f"x-amz-meta-junk{i}"] = "x"
        if self.lie == "huge_header":
            h["x-amz-meta-junk"] = "x" * MiB

    def get_object(self, **a):
        key = a["Key"]
        ifile = key.endswith(".instruction")
        if self.lie == "unavailable":
            raise _503("GetObject")
        if ifile and self.lie == "swap_instruction_file":
            a = dict(a, Key="other.instruction")
        if ifile and self.lie == "endless_instruction_file":
            r = self.real.get_object(**a)
            r["Body"].close()
            h = self._h(r)
            h.pop("content-length", None)
            r["Body"] = Endless()
            return r
        if not ifile and self.lie == "ignore_range":
            a = {k: v for k, v in a.items() if k != "Range"}
        if not ifile and self.lie == "shift_range" and "Range" in a:
            first, last = a["Range"][len("bytes="):].split("-")
            a = dict(a, Range=f"bytes={int(first) + 16}-{int(last) + 16}")
        r = self.real.get_object(**a)
        if ifile:
            return r
        h = self._h(r)
        self._flood(h)
        n = self.gets[key] = self.gets.get(key, 0) + 1
        data = r["Body"].read()
        r["Body"].close()
        if self.lie == "flip" and self.arg[0] in (None, n):
            at = self.arg[1]
            first = 0
            cr = h.get("content-range")
            if cr:
                first = int(cr.split()[1].split("-")[0])
            if first <= at < first + len(data):
                b = bytearray(data)
                b[at - first] ^= 0x04
                data = bytes(b)
        if self.lie == "truncate":
            data = data[: len(data) // 2]
        if self.lie == "extend":
            data = data + bytes(100)
        if self.lie == "head_get_disagree":
            h["etag"] = h["etag"] + "x"
        r["Body"] = io.BytesIO(data)
        return r


@pytest.fixture(scope="module")
def stored(moto_endpoint):
    from conftest import make_client

    s3 = make_client("s3", moto_endpoint)
    s3.create_bucket(Bucket="hostile")
    pt = os.urandom(N)
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()))
    c.put_object(Bucket="hostile", Key="k", Body=pt)
    c.put_object(Bucket="hostile", Key="small", Body=pt[:5000])
    i = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()), placement="instruction_file")
    i.put_object(Bucket="hostile", Key="ik", Body=pt[:3000])
    i.put_object(Bucket="hostile", Key="other", Body=pt[3000:6000])
    return s3, pt


# (name, how to read): in memory; verified into a temporary file with one GET; and a download
# with parallel ranged GETs (two 8 MiB parts) into a temporary file beside the target.
MODES = ["memory", "storage", "parallel"]


def read(client, mode, key, tmp_path):
    if mode == "memory":
        return client.get_object(Bucket="hostile", Key=key)["Body"].read()
    if mode == "storage":
        client.memory_budget = 0
        return client.get_object(Bucket="hostile", Key=key)["Body"].read()
    client.max_concurrency = 3
    target = tmp_path / "out"
    target.write_bytes(b"previous")
    try:
        client.download_file("hostile", key, str(target))
    finally:
        if target.read_bytes() != b"previous":
            data = target.read_bytes()
        else:
            data = None
        # Nothing left beside the target but the target.
        assert [p.name for p in tmp_path.iterdir()] == ["out"]
    return data


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("at", [0, 5 * MiB + 17, N - 1, N + 5])
def test_flipped_bytes_under_the_same_etag(stored, tmp_path, mode, at):
    s3, pt = stored
    key = "k" if mode != "memory" else "small"
    if mode == "memory" and at >= 5000 + 16:
        at = 100
    # Every GET whose bytes cover `at` lies (parallel parts arrive in any order).
    c = s3ec.S3EncryptionClient(Liar(s3, "flip", (None, at)), s3ec.AesKeyring(aes()))
    with pytest.raises((s3ec.AuthenticationError, s3ec.ObjectChangedError)):
        read(c, mode, key, tmp_path)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "lie,exc,code",
    [
        ("truncate", s3ec.AuthenticationError, "TruncatedBody"),
        ("extend", s3ec.StorageError, "UnexpectedResponse"),
        ("many_headers", s3ec.UsageError, "TooLarge"),
        ("huge_header", s3ec.UsageError, "TooLarge"),
        ("head_get_disagree", s3ec.ObjectChangedError, "ObjectChanged"),
        ("unavailable", s3ec.StorageError, "RequestFailed"),
    ],
)
def test_lies(stored, tmp_path, mode, lie, exc, code):
    s3, pt = stored
    key = "small" if mode == "memory" else "k"
    c = s3ec.S3EncryptionClient(Liar(s3, lie), s3ec.AesKeyring(aes()))
    if lie == "head_get_disagree" and mode != "parallel":
        # One GET and no HEAD: nothing to disagree with, and the bytes verify.
        assert read(c, mode, key, tmp_path) == (pt[:5000] if key == "small" else pt)
        return
    with pytest.raises(exc) as e:
        read(c, mode, key, tmp_path)
    assert e.value.code == code, e.value
    if lie == "unavailable":
        assert e.value.status == 503


@pytest.mark.parametrize("lie", ["ignore_range", "shift_range"])
def test_parallel_ranges_must_match(stored, tmp_path, lie):
    s3, _ = stored
    c = s3ec.S3EncryptionClient(Liar(s3, lie), s3ec.AesKeyring(aes()))
    with pytest.raises(s3ec.StorageError) as e:
        read(c, "parallel", "k", tmp_path)
    assert e.value.code == "UnexpectedResponse"


def test_unauthenticated_ranges_must_match(stored):
    s3, _ = stored
    for lie in ["ignore_range", "shift_range"]:
        c = s3ec.S3EncryptionClient(Liar(s3, lie), s3ec.AesKeyring(aes()), enable_legacy_unauthenticated_modes=True)
        with pytest.raises(s3ec.StorageError):
            c.get_object(Bucket="hostile", Key="small", Range="bytes=1000-1100")


def test_instruction_files_are_capped_and_bound(stored):
    s3, _ = stored
    c = s3ec.S3EncryptionClient(Liar(s3, "endless_instruction_file"), s3ec.AesKeyring(aes()))
    # Past the instruction-file cap (16 KiB received, whatever the headers say): not an envelope.
    with pytest.raises(s3ec.FormatError) as e:
        c.get_object(Bucket="hostile", Key="ik")
    assert e.value.code == "InvalidMetadata"
    c = s3ec.S3EncryptionClient(Liar(s3, "swap_instruction_file"), s3ec.AesKeyring(aes()))
    with pytest.raises(s3ec.AuthenticationError):
        c.get_object(Bucket="hostile", Key="ik")
