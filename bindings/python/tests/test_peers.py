"""Cross-reads with the real peers, each in its own venv (both import as ``s3_encryption``):

* the original ``s3-encryption`` 0.1.3: its objects are read (through the client and through the
  0.1.3-compatible shim), migrated to V3 in place and read again strictly; its README examples run
  unchanged through the shim; the shim's V3 objects are *not* readable by 0.1.3 (it has no V3).
* AWS's ``amazon-s3-encryption-client-python`` 4.0.0: its V3 and V2 KMS objects (single and
  multipart) are read; the objects this package writes with a KMS keyring are read by it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import s3ec
from conftest import ROOT
from keys import aes

HERE = Path(__file__).resolve().parent / "peers"
MiB = 1 << 20


def _peer_python(env_var: str, venv: str) -> str:
    p = os.environ.get(env_var) or str(ROOT / "target" / "py" / venv / "bin" / "python")
    if not Path(p).exists():
        if os.environ.get("S3EC_REQUIRE_PEERS"):
            pytest.fail(f"peer venv missing: {p}")
        pytest.skip(f"peer venv missing: {p} (bindings/python/ci.sh creates it)")
    return p


def run_peer(python: str, script: str, *args: str) -> None:
    r = subprocess.run([python, str(HERE / script), *args], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"{script} {args[:2]} failed:\n{r.stderr[-3000:]}")


@pytest.fixture(scope="module")
def seed_py():
    return _peer_python("S3EC_SEED_PYTHON", "seed")


@pytest.fixture(scope="module")
def aws4_py():
    return _peer_python("S3EC_AWS4_PYTHON", "aws4")


SEED_SIZES = [0, 1, 15, 16, 17, 4101, 300_000]


@pytest.mark.parametrize("key_len", [16, 32])
def test_read_and_migrate_objects_written_by_0_1_3(moto_endpoint, s3, bucket, tmp_path, seed_py, key_len):
    master = aes(key_len, seed=key_len)
    written = {}
    for n in SEED_SIZES:
        data = os.urandom(n)
        src = tmp_path / f"p{n}"
        src.write_bytes(data)
        run_peer(seed_py, "seed_peer.py", moto_endpoint, "put", bucket, f"seed{n}", master.hex(), str(src))
        written[n] = data
    md = s3.head_object(Bucket=bucket, Key="seed17")["Metadata"]
    assert "x-amz-key" in md and "x-amz-iv" in md  # V1, as 0.1.3 writes it
    kr = s3ec.AesKeyring(master)
    strict = s3ec.S3EncryptionClient(s3, kr)
    legacy = s3ec.S3EncryptionClient(
        s3,
        kr,
        commitment_policy="REQUIRE_ENCRYPT_ALLOW_DECRYPT",
        enable_legacy_wrapping_algorithms=True,
        enable_legacy_unauthenticated_modes=True,
    )
    shim = s3ec.S3EncryptionSyncClient(encryption_key=master, client=s3)
    for n, data in written.items():
        with pytest.raises(s3ec.PolicyError):
            strict.get_object(Bucket=bucket, Key=f"seed{n}")
        assert legacy.get_object(Bucket=bucket, Key=f"seed{n}")["Body"].read() == data
        assert shim.get_object(Bucket=bucket, Key=f"seed{n}") == data
        assert strict.head_object(Bucket=bucket, Key=f"seed{n}")["S3EC"]["format_version"] == "V1"
    for n, data in written.items():
        r = s3ec.migrate_object(s3, kr, Bucket=bucket, Key=f"seed{n}")
        assert r["status"] == "migrated" and r["form"]["format"] == "V1" and r["bytes"] == n
        assert strict.get_object(Bucket=bucket, Key=f"seed{n}")["Body"].read() == data
        assert strict.head_object(Bucket=bucket, Key=f"seed{n}")["S3EC"]["format_version"] == "V3"
        assert shim.get_object(Bucket=bucket, Key=f"seed{n}") == data
        # Idempotent: a V3 object is left alone.
        assert s3ec.migrate_object(s3, kr, Bucket=bucket, Key=f"seed{n}")["status"] == "skipped"
    # Migrated in place: no other key was written.
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == sorted(f"seed{n}" for n in written)


def test_migration_refuses_a_changed_object(moto_endpoint, s3, bucket, tmp_path, seed_py):
    master = aes(16, seed=5)
    src = tmp_path / "p"
    src.write_bytes(b"original")
    run_peer(seed_py, "seed_peer.py", moto_endpoint, "put", bucket, "obj", master.hex(), str(src))
    kr = s3ec.AesKeyring(master)

    # Another writer replaces the object just before the migration's conditional write: If-Match
    # fails, and the other writer's object stays.
    class Racing:
        def __getattr__(self, name):
            return getattr(s3, name)

        def put_object(self, **kw):
            if kw.get("IfMatch"):
                s3.put_object(Bucket=kw["Bucket"], Key=kw["Key"], Body=b"someone else's write")
            return s3.put_object(**kw)

    r = s3ec.migrate_object(Racing(), kr, Bucket=bucket, Key="obj")
    assert r["status"] == "changed" and r["new_etag"] is None
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == b"someone else's write"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["obj"]


def test_seed_readme_examples_run_through_the_shim(moto_endpoint, s3, bucket, monkeypatch):
    # The README of s3-encryption 0.1.3, verbatim but for the import (and boto3 pointed at moto
    # through the environment, as any deployment would configure it).
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    import boto3
    from s3ec.compat import S3EncryptionClient

    REGION = "us-east-1"
    BUCKET = bucket
    s3_key = "testing.txt"
    plaintext_key = aes(32, seed=7)
    encoded_key = plaintext_key.hex()

    s3e = S3EncryptionClient(encryption_key=plaintext_key, region_name=REGION)
    s3e.put_object(Body="this is a test", Bucket=BUCKET, Key="testing.txt")
    s3e.client.put_object(Body=encoded_key, Bucket=BUCKET, Key=s3_key + ".key")

    s3 = boto3.client("s3", region_name=REGION)
    encoded_key = s3.get_object(Bucket=BUCKET, Key=s3_key + ".key")["Body"].read()
    plaintext_key = bytes.fromhex(encoded_key.decode())
    s3e = S3EncryptionClient(encryption_key=plaintext_key, region_name=REGION)
    assert s3e.get_object(Bucket=BUCKET, Key=s3_key) == b"this is a test"
    # What the shim wrote is V3.
    assert s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(plaintext_key)).head_object(Bucket=BUCKET, Key=s3_key)["S3EC"]["format_version"] == "V3"
    # And the name the brief uses is the same class.
    assert s3ec.S3EncryptionSyncClient is S3EncryptionClient


@pytest.mark.parametrize("version", ["v3", "v2"])
def test_read_objects_written_by_aws_python_4(moto_endpoint, s3, kms, kms_key, bucket, tmp_path, aws4_py, version):
    ctx = {"purpose": "cross", "alpha": "1"}
    cases = [(0, "put", None), (17, "put", ctx), (4101, "put", None), (5 * MiB + 17, "upload", ctx)]
    policy = "REQUIRE_ENCRYPT_REQUIRE_DECRYPT" if version == "v3" else "REQUIRE_ENCRYPT_ALLOW_DECRYPT"
    ours = s3ec.S3EncryptionClient(s3, s3ec.KmsKeyring(kms, kms_key), commitment_policy=policy)
    for n, op, c in cases:
        data = os.urandom(n)
        src = tmp_path / f"a{n}"
        src.write_bytes(data)
        args = [moto_endpoint, op, bucket, f"aws{n}", kms_key, str(src), version]
        if c is not None:
            args.append(json.dumps(c))
        run_peer(aws4_py, "aws4_peer.py", *args)
        h = ours.head_object(Bucket=bucket, Key=f"aws{n}")["S3EC"]
        assert h["format_version"] == version.upper()
        assert ours.get_object(Bucket=bucket, Key=f"aws{n}", EncryptionContext=c)["Body"].read() == data
        if c is not None:
            with pytest.raises(s3ec.PolicyError):
                ours.get_object(Bucket=bucket, Key=f"aws{n}")


@pytest.mark.parametrize("placement", ["metadata", "instruction_file"])
def test_aws_python_4_reads_ours(moto_endpoint, s3, kms, kms_key, bucket, tmp_path, aws4_py, placement):
    ctx = {"purpose": "cross"}
    ours = s3ec.S3EncryptionClient(s3, s3ec.KmsKeyring(kms, kms_key), placement=placement, part_size=5 * MiB, multipart_threshold=5 * MiB)
    for n, c in [(0, None), (17, ctx), (4101, None), (11 * MiB + 3, ctx)]:
        data = os.urandom(n)
        ours.put_object(Bucket=bucket, Key=f"o{n}", Body=data, EncryptionContext=c)
        out = tmp_path / f"o{n}"
        args = [moto_endpoint, "get", bucket, f"o{n}", kms_key, str(out), "v3"]
        if c is not None:
            args.append(json.dumps(c))
        run_peer(aws4_py, "aws4_peer.py", *args)
        assert out.read_bytes() == data, (placement, n)
