"""Migration through the core's migration machine (``s3ec.migrate_prefix`` / ``migrate_object``)
against moto: a versioned bucket that mixes V1 (written by the real ``s3-encryption`` 0.1.3), V2
(the AWS SDK for Java's objects in ``test-vectors/java-v2``), V3 and plain objects; an object that
another writer changes during the run; dry runs, wrong keys, large objects, KMS; and the README's
example, run as written."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import s3ec
from conftest import ROOT, VECTORS
from keys import rsa_pems
from test_peers import _peer_python, run_peer

JAVA = VECTORS / "java-v2"
MiB = 1 << 20


@pytest.fixture(scope="module")
def seed_py():
    return _peer_python("S3EC_SEED_PYTHON", "seed")


@pytest.fixture(scope="module")
def aws4_py():
    return _peer_python("S3EC_AWS4_PYTHON", "aws4")


def _vector(name: str) -> Dict[str, Any]:
    return json.loads((JAVA / f"{name}.json").read_text())


# The AES-256 master key of the Java V2 AES/GCM vectors; 0.1.3 is given the same key, so one
# keyring opens every encrypted object of the bucket.
JAVA_KEY = base64.b64decode(_vector("strict-aesgcm-meta-17")["key"]["key_b64"])


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def new_bucket(s3, versioned: bool) -> str:
    name = "m-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def put_java_vector(s3, bucket: str, key: str, name: str, **extra: Any) -> str:
    """Store a Java SDK object byte for byte (and its instruction file); its plaintext SHA-256."""
    v = _vector(name)
    md = dict(v["object"]["metadata"])
    md.update(extra.pop("Metadata", {}))
    body = (JAVA / v["object"]["body"]).read_bytes()
    s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=md, **extra)
    if v.get("instruction_file"):
        ibody = (JAVA / v["instruction_file"]["body"]).read_bytes()
        s3.put_object(Bucket=bucket, Key=key + ".instruction", Body=ibody)
    return v["expect"]["plaintext_sha256"]


def put_v1(seed_py, endpoint: str, bucket: str, key: str, data: bytes, tmp_path: Path) -> str:
    src = tmp_path / ("p-" + uuid.uuid4().hex[:8])
    src.write_bytes(data)
    run_peer(seed_py, "seed_peer.py", endpoint, "put", bucket, key, JAVA_KEY.hex(), str(src))
    return sha(data)


def versions(s3, bucket: str) -> Tuple[List[Tuple[str, str]], int]:
    """Every (key, version id) of the bucket, and the number of delete markers."""
    out: List[Tuple[str, str]] = []
    markers = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        out.extend((v["Key"], v["VersionId"]) for v in page.get("Versions") or [])
        markers += len(page.get("DeleteMarkers") or [])
    return sorted(out), markers


def strict(s3, keyring=None) -> s3ec.S3EncryptionClient:
    return s3ec.S3EncryptionClient(s3, keyring or s3ec.AesKeyring(JAVA_KEY))


def legacy(s3) -> s3ec.S3EncryptionClient:
    return s3ec.S3EncryptionClient(
        s3,
        s3ec.AesKeyring(JAVA_KEY),
        commitment_policy="REQUIRE_ENCRYPT_ALLOW_DECRYPT",
        enable_legacy_wrapping_algorithms=True,
        enable_legacy_unauthenticated_modes=True,
    )


def read_sha(client: s3ec.S3EncryptionClient, bucket: str, key: str, **kw: Any) -> str:
    return sha(client.get_object(Bucket=bucket, Key=key, **kw)["Body"].read())


class RacingClient:
    """A boto3 client through which another writer replaces ``key`` just before the first
    request of operation ``op`` on it that carries ``IfMatch`` (the migration's pinned read or
    conditional write)."""

    def __init__(self, inner: Any, key: str, op: str, body: bytes = b"someone else's write") -> None:
        self.inner = inner
        self.key = key
        self.op = op
        self.body = body
        self.fired = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.inner, name)
        if name != self.op:
            return real

        def racing(**kw: Any) -> Any:
            if kw.get("Key") == self.key and kw.get("IfMatch") and not self.fired:
                self.fired += 1
                self.inner.put_object(Bucket=kw["Bucket"], Key=self.key, Body=self.body)
            return real(**kw)

        return racing


def by_key(report: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {r["key"]: r for r in report["objects"]}


def totals(report: Dict[str, Any]) -> Dict[str, int]:
    return {k: v["objects"] for k, v in report["totals"].items()}


def test_migrate_prefix_mixed_versioned_bucket(moto_endpoint, s3, tmp_path, seed_py):
    bucket = new_bucket(s3, versioned=True)
    kr = s3ec.AesKeyring(JAVA_KEY)
    want: Dict[str, str] = {}  # key -> plaintext SHA-256 (from the writer)
    lens: Dict[str, int] = {}
    for n in (0, 17, 4101):
        k = f"mix/v1-{n}"
        want[k] = put_v1(seed_py, moto_endpoint, bucket, k, os.urandom(n), tmp_path)
        lens[k] = n
    s3.put_object_tagging(Bucket=bucket, Key="mix/v1-17", Tagging={"TagSet": [{"Key": "team", "Value": "a b/c"}]})
    for name, n in (("strict-aesgcm-meta-0", 0), ("strict-aesgcm-meta-17", 17), ("ae-aesgcm-inst-17", 17)):
        k = f"mix/v2-{name}"
        want[k] = put_java_vector(s3, bucket, k, name)
        lens[k] = n
    k = "mix/v2-with-metadata"
    want[k] = put_java_vector(
        s3, bucket, k, "strict-aesgcm-meta-4101", Metadata={"owner": "alice"}, ContentType="text/x-thing"
    )
    lens[k] = 4101
    v3 = strict(s3)
    for n in (0, 4101):
        data = os.urandom(n)
        v3.put_object(Bucket=bucket, Key=f"mix/v3-{n}", Body=data)
        want[f"mix/v3-{n}"] = sha(data)
    s3.put_object(Bucket=bucket, Key="mix/plain.txt", Body=b"plain bytes")
    outside = put_java_vector(s3, bucket, "other/v2", "strict-aesgcm-meta-17")
    for k in want:
        assert legacy(s3).head_object(Bucket=bucket, Key=k)["S3EC"]["format_version"] == k.split("/")[1][:2].upper()

    before, markers = versions(s3, bucket)
    assert markers == 0
    seen: List[Tuple[str, int, int]] = []
    lists: List[int] = []
    s3.meta.events.register("before-call.s3.ListObjectsV2", lambda **kw: lists.append(1))
    report = s3ec.migrate_prefix(
        s3,
        kr,
        Bucket=bucket,
        Prefix="mix/",
        page_size=5,  # 11 keys: 3 pages, the instruction file on the page after its object's
        Progress=lambda r, done, total: seen.append((r["key"], done, total)),
    )
    assert len(lists) == 3

    migrated = [k for k in want if "/v1-" in k or "/v2-" in k]
    assert totals(report) == {"migrated": 7, "skipped": 2, "not-encrypted": 1}, report["failures"]
    assert report["problems"] == 0 and report["failures"] == []
    assert report["objects_total"] == 10  # the instruction file beside its object is not listed
    assert report["bytes"] == sum(lens[k] for k in migrated)
    assert report["totals"]["migrated"]["bytes"] == report["bytes"]
    assert report["inventory"]["format"] == {
        "V1": {"objects": 3, "bytes": report["inventory"]["format"]["V1"]["bytes"]},
        "V2": {"objects": 4, "bytes": report["inventory"]["format"]["V2"]["bytes"]},
        "V3": {"objects": 2, "bytes": report["inventory"]["format"]["V3"]["bytes"]},
        "plain": {"objects": 1, "bytes": len(b"plain bytes")},
    }
    assert report["inventory"]["placement"]["instruction-file"]["objects"] == 1
    assert sorted(k for k, _, _ in seen) == sorted(list(want) + ["mix/plain.txt"])
    assert [d for _, d, _ in seen] == list(range(1, 11)) and {t for _, _, t in seen} == {10}
    recs = by_key(report)
    for k in migrated:
        r = recs[k]
        assert r["status"] == "migrated" and r["bytes"] == lens[k] and r["attempts"] == 1
        assert r["form"]["format"] == ("V1" if "/v1-" in k else "V2")
        assert r["source_version"] and r["new_version"] and r["source_version"] != r["new_version"]
        assert r["new_etag"]
    assert recs["mix/v1-17"]["form"]["content"] == "AES/CBC/PKCS5Padding"
    assert recs["mix/v2-ae-aesgcm-inst-17"]["form"]["placement"] == "instruction-file"
    assert "left in place" in recs["mix/v2-ae-aesgcm-inst-17"]["detail"]
    assert recs["mix/v3-0"]["status"] == "skipped" and recs["mix/plain.txt"]["status"] == "not-encrypted"

    # Every encrypted object is V3 now and reads strictly as what its writer wrote.
    c = strict(s3)
    for k, digest in want.items():
        assert c.head_object(Bucket=bucket, Key=k)["S3EC"]["format_version"] == "V3", k
        assert read_sha(c, bucket, k) == digest, k
    assert s3.get_object(Bucket=bucket, Key="mix/plain.txt")["Body"].read() == b"plain bytes"
    # Kept: user metadata, content type, tags; the old instruction file; the object outside the prefix.
    h = c.head_object(Bucket=bucket, Key="mix/v2-with-metadata")
    assert h["Metadata"] == {"owner": "alice"} and h["ContentType"] == "text/x-thing"
    tags = s3.get_object_tagging(Bucket=bucket, Key="mix/v1-17")["TagSet"]
    assert tags == [{"Key": "team", "Value": "a b/c"}]
    assert s3.head_object(Bucket=bucket, Key="mix/v2-ae-aesgcm-inst-17.instruction")
    assert legacy(s3).head_object(Bucket=bucket, Key="other/v2")["S3EC"]["format_version"] == "V2"
    assert read_sha(legacy(s3), bucket, "other/v2") == outside

    # Nothing deleted: every version is still there (and the old ones still read), one new
    # version per migrated object, no delete marker.
    after, markers = versions(s3, bucket)
    assert markers == 0
    assert set(before) <= set(after) and len(after) == len(before) + len(migrated)
    for k in migrated:
        old = recs[k]["source_version"]
        assert legacy(s3).head_object(Bucket=bucket, Key=k, VersionId=old)["S3EC"]["format_version"] != "V3"
        assert read_sha(legacy(s3), bucket, k, VersionId=old) == want[k]

    # A rerun migrates nothing and writes nothing.
    again = s3ec.migrate_prefix(s3, kr, Bucket=bucket, Prefix="mix/")
    assert totals(again) == {"skipped": 9, "not-encrypted": 1}
    assert again["bytes"] == 0
    assert versions(s3, bucket) == (after, 0)


@pytest.mark.parametrize("op", ["put_object", "get_object"])
def test_an_object_changed_during_the_migration_is_reported_and_not_overwritten(moto_endpoint, s3, op):
    # put_object: another writer replaces the object between the HEAD and the conditional write
    # (If-Match on the PutObject fails; a versioned bucket). get_object: between the HEAD and the
    # pinned read (If-Match on the GetObject fails; an unversioned bucket, where the read cannot
    # be pinned to a version).
    versioned = op == "put_object"
    bucket = new_bucket(s3, versioned=versioned)
    kr = s3ec.AesKeyring(JAVA_KEY)
    put_java_vector(s3, bucket, "race", "strict-aesgcm-meta-4101")
    calm = put_java_vector(s3, bucket, "calm", "strict-aesgcm-meta-17")
    before, _ = versions(s3, bucket)
    racing = RacingClient(s3, "race", op)
    report = s3ec.migrate_prefix(racing, kr, Bucket=bucket)
    assert racing.fired == 1
    assert totals(report) == {"changed": 1, "migrated": 1}, report["objects"]
    assert report["problems"] == 1
    [f] = report["failures"]
    assert f["key"] == "race" and f["status"] == "changed" and f["detail"]
    assert by_key(report)["race"]["new_etag"] is None
    # The other writer's object is what is there; nothing of ours was written over it.
    assert s3.get_object(Bucket=bucket, Key="race")["Body"].read() == b"someone else's write"
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == ["calm", "race"]
    if versioned:
        after, markers = versions(s3, bucket)
        assert markers == 0
        assert set(before) <= set(after)
        # The original and the other writer's, nothing more.
        assert len([v for k, v in after if k == "race"]) == 2
    assert read_sha(strict(s3), bucket, "calm") == calm
    # A rerun: "race" is the other writer's plain object now, "calm" is done.
    again = s3ec.migrate_prefix(s3, kr, Bucket=bucket)
    assert totals(again) == {"not-encrypted": 1, "skipped": 1}


def test_migrate_object_on_an_unversioned_bucket(moto_endpoint, s3, tmp_path, seed_py):
    bucket = new_bucket(s3, versioned=False)
    kr = s3ec.AesKeyring(JAVA_KEY)
    data = os.urandom(300_000)
    put_v1(seed_py, moto_endpoint, bucket, "k", data, tmp_path)
    r = s3ec.migrate_object(s3, kr, Bucket=bucket, Key="k")
    assert r["status"] == "migrated" and r["bytes"] == len(data)
    assert r["source_version"] is None and r["new_version"] is None
    assert r["form"] == {"format": "V1", "content": "AES/CBC/PKCS5Padding", "wrap": r["form"]["wrap"], "placement": "metadata", "size": r["form"]["size"]}
    assert strict(s3).get_object(Bucket=bucket, Key="k")["Body"].read() == data
    assert s3ec.migrate_object(s3, kr, Bucket=bucket, Key="k")["status"] == "skipped"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]


def test_dry_run_wrong_key_and_legacy_off_write_nothing(moto_endpoint, s3, tmp_path, seed_py):
    bucket = new_bucket(s3, versioned=True)
    kr = s3ec.AesKeyring(JAVA_KEY)
    put_v1(seed_py, moto_endpoint, bucket, "v1", b"legacy", tmp_path)
    put_java_vector(s3, bucket, "v2", "strict-aesgcm-meta-17")
    before = versions(s3, bucket)
    dry = s3ec.migrate_prefix(s3, kr, Bucket=bucket, DryRun=True)
    assert dry["dry_run"] is True and totals(dry) == {"would-migrate": 2}
    wrong = s3ec.migrate_prefix(s3, s3ec.AesKeyring(bytes(32)), Bucket=bucket)
    assert totals(wrong) == {"cannot-open": 2} and wrong["problems"] == 2
    assert all(f["detail"] for f in wrong["failures"])
    no_legacy = s3ec.migrate_object(s3, kr, Bucket=bucket, Key="v1", legacy=False)
    assert no_legacy["status"] == "cannot-open" and no_legacy["form"]["format"] == "V1"
    assert versions(s3, bucket) == before
    # A new keyring that cannot decrypt cannot verify: refused before anything is read.
    _, pub = rsa_pems()
    with pytest.raises(s3ec.UsageError):
        s3ec.migrate_object(s3, kr, Bucket=bucket, Key="v2", NewKeyring=s3ec.RsaKeyring(public_pem=pub))
    assert versions(s3, bucket) == before


class DeniedTagging:
    """A boto3 client on which GetObjectTagging is denied (403)."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def get_object_tagging(self, **kw):
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "denied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
            "GetObjectTagging",
        )


def test_storage_failures_raise_and_are_recorded_failed_with_a_reason(moto_endpoint, s3):
    bucket = new_bucket(s3, versioned=False)
    kr = s3ec.AesKeyring(JAVA_KEY)
    with pytest.raises(s3ec.NoSuchKeyError):
        s3ec.migrate_object(s3, kr, Bucket=bucket, Key="nope")
    put_java_vector(s3, bucket, "v2", "strict-aesgcm-meta-17")
    with pytest.raises(s3ec.StorageError) as e:
        s3ec.migrate_object(DeniedTagging(s3), kr, Bucket=bucket, Key="v2")
    assert e.value.status == 403
    r = s3ec.migrate_prefix(DeniedTagging(s3), kr, Bucket=bucket)
    assert totals(r) == {"failed": 1} and r["objects"][0]["attempts"] == 1
    assert r["failures"] == [{"bucket": bucket, "key": "v2", "status": "failed", "detail": r["failures"][0]["detail"]}]
    assert "403" in r["failures"][0]["detail"]
    assert legacy(s3).head_object(Bucket=bucket, Key="v2")["S3EC"]["format_version"] == "V2"


def test_large_object_through_storage_and_multipart(moto_endpoint, s3):
    # Over the memory budget (read and read-back through the scratch file) and over the
    # multipart threshold (the V3 write is a multipart upload).
    bucket = new_bucket(s3, versioned=True)
    name = "strict-aesgcm-meta-multipart-5242897"
    digest = put_java_vector(s3, bucket, "big", name)
    r = s3ec.migrate_object(
        s3,
        s3ec.AesKeyring(JAVA_KEY),
        Bucket=bucket,
        Key="big",
        memory_budget=1 * MiB,
        part_size=5 * MiB,
        multipart_threshold=5 * MiB,
    )
    assert r["status"] == "migrated" and r["bytes"] == 5242897
    assert re.search(r"-\d+\"?$", r["new_etag"]), r["new_etag"]  # a multipart ETag
    assert read_sha(strict(s3), bucket, "big") == digest


def test_kms_objects_written_by_aws_python_4(moto_endpoint, s3, kms, kms_key, tmp_path, aws4_py):
    bucket = new_bucket(s3, versioned=True)
    ctx = {"purpose": "migrate"}
    data = os.urandom(4101)
    src = tmp_path / "a"
    src.write_bytes(data)
    run_peer(aws4_py, "aws4_peer.py", moto_endpoint, "put", bucket, "kms", kms_key, str(src), "v2", json.dumps(ctx))
    kr = s3ec.KmsKeyring(kms, kms_key)
    r = s3ec.migrate_object(s3, kr, Bucket=bucket, Key="kms", EncryptionContext=ctx, NewEncryptionContext=ctx)
    assert r["status"] == "migrated" and r["form"]["format"] == "V2", r
    c = s3ec.S3EncryptionClient(s3, kr)
    assert c.head_object(Bucket=bucket, Key="kms")["S3EC"]["format_version"] == "V3"
    assert c.get_object(Bucket=bucket, Key="kms", EncryptionContext=ctx)["Body"].read() == data
    assert s3ec.migrate_object(s3, kr, Bucket=bucket, Key="kms", NewEncryptionContext=ctx)["status"] == "skipped"


README = ROOT / "bindings" / "python" / "README.md"


def readme_migration_example() -> str:
    text = README.read_text()
    section = text[text.index("## Migrating objects written by") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_migration_example_runs_as_written(moto_endpoint, s3, tmp_path, seed_py, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = new_bucket(s3, versioned=False)
    cat = os.urandom(5000)
    put_v1(seed_py, moto_endpoint, bucket, "photos/cat.jpg", cat, tmp_path)
    dog = put_java_vector(s3, bucket, "photos/dog.jpg", "ae-aesgcm-inst-17")
    new_master_key = os.urandom(32)
    code = readme_migration_example()
    assert "migrate_prefix" in code and "migrate_object" in code
    ns: Dict[str, Any] = {"old_master_key": JAVA_KEY, "new_master_key": new_master_key, "bucket": bucket}
    exec(compile(code, str(README), "exec"), ns)
    out = capsys.readouterr().out
    assert "photos/cat.jpg: migrated" in out and "photos/dog.jpg: migrated" in out
    assert totals(ns["report"]) == {"migrated": 2}
    assert ns["r"]["status"] == "skipped"
    c = strict(s3, s3ec.AesKeyring(new_master_key))
    assert c.get_object(Bucket=bucket, Key="photos/cat.jpg")["Body"].read() == cat
    assert read_sha(c, bucket, "photos/dog.jpg") == dog


def test_migrate_prefix_refuses_unknown_options(s3):
    with pytest.raises(TypeError, match="placement"):
        s3ec.migrate_prefix(s3, s3ec.AesKeyring(JAVA_KEY), Bucket="any", placement="metadata")


class FlakyKms(s3ec.KmsKeyring):
    """A KMS keyring whose first ``failures`` Decrypt calls are throttled."""

    def __init__(self, kms, key_id, failures):
        super().__init__(kms, key_id)
        self.failures = failures
        self.calls = 0

    def decrypt_data_key(self, request):
        self.calls += 1
        if self.calls <= self.failures:
            from botocore.exceptions import ClientError

            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
                "Decrypt",
            )
        return super().decrypt_data_key(request)


def test_throttled_keyring_is_retried_then_reported_failed_temporary(moto_endpoint, s3, kms, kms_key):
    bucket = new_bucket(s3, versioned=False)
    s3ec.S3EncryptionClient(s3, s3ec.KmsKeyring(kms, kms_key)).put_object(Bucket=bucket, Key="k", Body=b"v3")
    once = FlakyKms(kms, kms_key, failures=1)
    r = s3ec.migrate_prefix(s3, once, Bucket=bucket, backoff_s=0.01)
    assert totals(r) == {"skipped": 1} and r["objects"][0]["attempts"] == 2
    always = FlakyKms(kms, kms_key, failures=10**6)
    r = s3ec.migrate_prefix(s3, always, Bucket=bucket, backoff_s=0.01, max_attempts=3)
    assert totals(r) == {"failed-temporary": 1} and r["objects"][0]["attempts"] == 3
    assert "ThrottlingException" in r["failures"][0]["detail"]
