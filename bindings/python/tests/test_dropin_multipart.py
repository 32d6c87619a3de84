"""boto3's caller-driven multipart calls on the encrypting client: the caller's parts (any sizes,
in order) feed the core's PUT machine, which cuts, encrypts and uploads its own parts. Read back by
this package and, for KMS objects, by AWS's Python S3EC 4.0.0. Against moto."""

from __future__ import annotations

import json
import os

import pytest

import s3ec
from keys import aes
from test_peers import _peer_python, run_peer

MiB = 1 << 20


def upload(c, bucket, key, parts, **kw):
    up = c.create_multipart_upload(Bucket=bucket, Key=key, **kw)
    uid = up["UploadId"]
    done = []
    for n, p in enumerate(parts, 1):
        done.append({"PartNumber": n, "ETag": c.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=p)["ETag"]})
    return c.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})


@pytest.mark.parametrize("sizes", [[0], [5], [3 * MiB, 7 * MiB + 1, 1], [6 * MiB, 6 * MiB]])
def test_caller_driven_parts_are_one_encrypted_object(s3, bucket, sizes):
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()), part_size=5 * MiB, multipart_threshold=5 * MiB)
    parts = [os.urandom(n) for n in sizes]
    r = upload(c, bucket, "k", parts, Metadata={"owner": "me"}, ContentType="application/x-test")
    data = b"".join(parts)
    assert r["S3EC"]["plaintext_len"] == len(data)
    assert r["S3EC"]["multipart"] == (len(data) > 5 * MiB)
    got = c.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"owner": "me"} and got["ContentType"] == "application/x-test"
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_out_of_order_parts_a_wrong_list_and_abort(s3, bucket):
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()), part_size=5 * MiB, multipart_threshold=5 * MiB)
    uid = c.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    with pytest.raises(s3ec.UsageError, match="order"):
        c.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=2, Body=b"x")
    e1 = c.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=os.urandom(6 * MiB))["ETag"]
    c.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=2, Body=os.urandom(6 * MiB))
    with pytest.raises(s3ec.UsageError, match="part list"):
        c.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    # The wrong list aborted the upload: no object, no upload left in S3.
    assert not s3.list_objects_v2(Bucket=bucket).get("Contents")
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    uid = c.create_multipart_upload(Bucket=bucket, Key="k2")["UploadId"]
    c.upload_part(Bucket=bucket, Key="k2", UploadId=uid, PartNumber=1, Body=os.urandom(6 * MiB))
    c.abort_multipart_upload(Bucket=bucket, Key="k2", UploadId=uid)
    assert not s3.list_objects_v2(Bucket=bucket).get("Contents")
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    with pytest.raises(s3ec.UsageError):
        c.upload_part(Bucket=bucket, Key="k2", UploadId=uid, PartNumber=2, Body=b"x")


def test_aws_python_4_reads_a_caller_driven_kms_upload(moto_endpoint, s3, kms, kms_key, bucket, tmp_path):
    aws4_py = _peer_python("S3EC_AWS4_PYTHON", "aws4")
    ctx = {"purpose": "multipart"}
    c = s3ec.S3EncryptionClient(s3, s3ec.KmsKeyring(kms, kms_key), part_size=5 * MiB, multipart_threshold=5 * MiB)
    parts = [os.urandom(n) for n in (4 * MiB, 4 * MiB, 3 * MiB + 3)]
    upload(c, bucket, "kms", parts, EncryptionContext=ctx)
    out = tmp_path / "kms"
    run_peer(aws4_py, "aws4_peer.py", moto_endpoint, "get", bucket, "kms", kms_key, str(out), "v3", json.dumps(ctx))
    assert out.read_bytes() == b"".join(parts)
