"""The client as a drop-in for boto3's S3 client: errors caught as boto3 users catch them,
forwarding of every other call, copies and batch deletes that keep encrypted objects whole, and the
constructor's checks. Against moto (started by conftest.py)."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

import s3ec
from keys import aes

MiB = 1 << 20


def client(s3, **kw):
    return s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes()), **kw)


# ------------------------------------------------------------------ errors


def test_missing_key_and_missing_bucket_are_client_errors_that_differ(s3, bucket):
    c = client(s3)
    try:
        c.get_object(Bucket=bucket, Key="absent")
    except ClientError as e:  # as boto3 users write it
        assert e.response["Error"]["Code"] == "NoSuchKey"
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert e.operation_name == "GetObject"
        assert isinstance(e, s3ec.NoSuchKeyError) and isinstance(e, s3.exceptions.NoSuchKey)
        assert not isinstance(e, s3ec.NoSuchBucketError)
        assert e.status == 404 and isinstance(e, s3ec.S3ECError)
    else:
        pytest.fail("no error")
    with pytest.raises(s3.exceptions.NoSuchBucket) as ei:
        c.get_object(Bucket=bucket + "-absent", Key="k")
    e = ei.value
    assert e.response["Error"]["Code"] == "NoSuchBucket"
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert isinstance(e, s3ec.NoSuchBucketError) and not isinstance(e, s3.exceptions.NoSuchKey)
    # HEAD answers 404 without a body, as boto3 reports it.
    with pytest.raises(ClientError) as ei:
        c.head_object(Bucket=bucket, Key="absent")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert isinstance(ei.value, s3ec.NoSuchKeyError)


def test_a_failed_condition_is_precondition_failed(s3, bucket):
    c = client(s3)
    c.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as ei:
        c.get_object(Bucket=bucket, Key="k", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert ei.value.response["Error"]["Code"] == "PreconditionFailed"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert isinstance(ei.value, s3ec.ObjectChangedError)


def test_encryption_errors_share_one_base_and_are_not_client_errors(s3, bucket):
    client(s3).put_object(Bucket=bucket, Key="k", Body=b"secret")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    other = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(aes(seed=9)))
    with pytest.raises(s3ec.S3EncryptionError) as ei:
        other.get_object(Bucket=bucket, Key="k")
    assert isinstance(ei.value, s3ec.AuthenticationError) and not isinstance(ei.value, ClientError)
    assert ei.value.code == "Authentication"
    with pytest.raises(s3ec.S3EncryptionError) as ei2:
        client(s3).get_object(Bucket=bucket, Key="plain")
    assert isinstance(ei2.value, s3ec.NotEncryptedError) and isinstance(ei2.value, s3ec.FormatError)
    with pytest.raises(s3ec.S3EncryptionError) as ei3:
        client(s3).get_object(Bucket=bucket, Key="k", Range="bytes=0-1")
    assert isinstance(ei3.value, s3ec.PolicyError)
    for cls in (s3ec.AuthenticationError, s3ec.PolicyError, s3ec.FormatError, s3ec.UsageError):
        assert issubclass(cls, s3ec.S3EncryptionError) and issubclass(cls, s3ec.S3ECError)
    for cls in (s3ec.StorageError, s3ec.NoSuchKeyError, s3ec.ObjectChangedError):
        assert issubclass(cls, ClientError) and issubclass(cls, s3ec.S3ECError)


def test_bad_constructor_arguments_fail_in_the_constructor(s3):
    with pytest.raises(TypeError, match="keyring"):
        s3ec.S3EncryptionClient(s3, None)
    with pytest.raises(TypeError, match="keyring"):
        s3ec.S3EncryptionClient(s3, object())
    with pytest.raises(TypeError, match="client"):
        s3ec.S3EncryptionClient(None, s3ec.AesKeyring(aes()))
    for kw in ({"part_size": 1}, {"part_size": 5 * MiB + 1}, {"max_concurrency": 0}, {"max_concurrency": 17},
               {"memory_budget": -1}, {"instruction_file_suffix": ""}, {"multipart_threshold": -1}):
        with pytest.raises(s3ec.UsageError):
            client(s3, **kw)
        with pytest.raises(ValueError):  # UsageError is a ValueError too
            client(s3, **kw)
    with pytest.raises(ValueError):
        client(s3, commitment_policy="NOT_A_POLICY")


# ------------------------------------------------------------------ forwarding


def test_other_calls_are_forwarded_to_the_wrapped_client(s3, bucket):
    c = client(s3)
    for i in range(3):
        c.put_object(Bucket=bucket, Key=f"p/{i}", Body=b"x" * i)
    assert [o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix="p/")["Contents"]] == ["p/0", "p/1", "p/2"]
    pages = list(c.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}))
    assert sum(len(p.get("Contents", [])) for p in pages) == 3 and len(pages) == 2
    assert c.meta is s3.meta and c.meta.region_name == "us-east-1"
    assert c.exceptions is s3.exceptions
    assert c.can_paginate("list_objects_v2")
    url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p/1"})
    assert bucket in url
    c.put_object_tagging(Bucket=bucket, Key="p/1", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert c.get_object_tagging(Bucket=bucket, Key="p/1")["TagSet"] == [{"Key": "a", "Value": "b"}]
    assert "list_objects_v2" in dir(c)
    with pytest.raises(AttributeError):
        c.no_such_call  # noqa: B018


# ------------------------------------------------------------------ copies


@pytest.mark.parametrize("placement", ["metadata", "instruction_file"])
def test_copy_object_keeps_an_encrypted_object_whole(s3, bucket, placement):
    c = client(s3, placement=placement)
    data = os.urandom(5000)
    c.put_object(Bucket=bucket, Key="src", Body=data, Metadata={"owner": "me"})
    r = c.copy_object(CopySource={"Bucket": bucket, "Key": "src"}, Bucket=bucket, Key="dst")
    assert r["S3EC"] == {"Encrypted": True, "InstructionFileCopied": placement == "instruction_file"}
    assert "ETag" in r["CopyObjectResult"]
    got = c.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == data and got["Metadata"] == {"owner": "me"}
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert ("dst.instruction" in keys) == (placement == "instruction_file")
    # The string form of CopySource, and boto3's managed copy.
    c.copy_object(CopySource=f"{bucket}/src", Bucket=bucket, Key="dst2")
    c.copy({"Bucket": bucket, "Key": "src"}, bucket, "dst3")
    for k in ("dst2", "dst3"):
        assert c.get_object(Bucket=bucket, Key=k)["Body"].read() == data
    with pytest.raises(s3ec.UsageError, match="REPLACE"):
        c.copy_object(CopySource=f"{bucket}/src", Bucket=bucket, Key="dst4", MetadataDirective="REPLACE", Metadata={})
    with pytest.raises(s3ec.UsageError, match="upload_part_copy"):
        c.upload_part_copy(CopySource=f"{bucket}/src", Bucket=bucket, Key="dst5", UploadId="u", PartNumber=1)


def test_copy_of_a_plain_object_is_boto3s(s3, bucket):
    c = client(s3)
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain", Metadata={"a": "b"})
    r = c.copy_object(CopySource={"Bucket": bucket, "Key": "plain"}, Bucket=bucket, Key="p2", MetadataDirective="REPLACE", Metadata={"c": "d"})
    assert r["S3EC"]["Encrypted"] is False
    got = s3.get_object(Bucket=bucket, Key="p2")
    assert got["Body"].read() == b"plain" and got["Metadata"] == {"c": "d"}


def test_copy_of_an_instruction_file_object_is_refused_without_instruction_files(s3, bucket):
    client(s3, placement="instruction_file").put_object(Bucket=bucket, Key="src", Body=b"x")
    c = client(s3, disable_instruction_file=True)
    with pytest.raises(s3ec.S3ECError):
        c.copy_object(CopySource=f"{bucket}/src", Bucket=bucket, Key="dst")
    assert "dst" not in {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}


# ------------------------------------------------------------------ batch deletes


def test_delete_objects_takes_instruction_files_along(s3, bucket):
    meta, ifile = client(s3), client(s3, placement="instruction_file")
    meta.put_object(Bucket=bucket, Key="m", Body=b"m")
    ifile.put_object(Bucket=bucket, Key="i", Body=b"i")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"p")
    # A plain object that merely has an instruction file's name is not one: it stays.
    s3.put_object(Bucket=bucket, Key="plain.instruction", Body=b"not an instruction file")
    r = meta.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "m"}, {"Key": "i"}, {"Key": "plain"}, {"Key": "gone"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["gone", "i", "m", "plain"]
    assert r["S3EC"]["InstructionFilesDeleted"] == ["i.instruction"]
    assert "Errors" not in r
    left = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert left == {"plain.instruction"}
    r = meta.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "plain.instruction"}], "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    assert not s3.list_objects_v2(Bucket=bucket).get("Contents")


def test_delete_objects_reports_errors_per_key(s3, bucket):
    c = client(s3)
    r = c.delete_objects(Bucket=bucket + "-absent", Delete={"Objects": [{"Key": "a"}]})
    assert r["Errors"][0]["Key"] == "a" and r["Errors"][0]["Code"] == "NoSuchBucket"
