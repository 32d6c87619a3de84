"""Cross-reads with the Rust transport's ``s3ec`` command-line tool (s3-encryption-transport,
aws-sdk-s3 + aws-sdk-kms) against the same moto: objects this package writes are read by it, and
objects it writes are read by this package (AES, RSA and KMS; metadata and instruction file;
single and multipart).

The binary is the one the workspace build made (``$S3EC_CLI``, else
``$CARGO_TARGET_DIR/debug/s3ec`` or ``target/debug/s3ec``); without one these tests skip (ci.sh
says so), since building the AWS SDK is the workspace test step's job."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import s3ec
from conftest import ROOT
from keys import aes, rsa_pems

MiB = 1 << 20


def _cli():
    cands = [os.environ.get("S3EC_CLI")]
    for d in (os.environ.get("CARGO_TARGET_DIR"), str(ROOT / "target")):
        if d:
            cands += [str(Path(d) / "debug" / "s3ec"), str(Path(d) / "release" / "s3ec")]
    for c in cands:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    pytest.skip("no s3ec CLI built (cargo build -p s3-encryption-transport --bin s3ec)")


@pytest.fixture(scope="module")
def cli():
    return _cli()


def run(cli, endpoint, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1")
    env.pop("AWS_PROFILE", None)
    r = subprocess.run(
        [cli, "--endpoint", endpoint, "--path-style", "--kms-endpoint", endpoint, "--region", "us-east-1", "--quiet", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if r.returncode != 0:
        raise RuntimeError(f"s3ec {args[:1]} exit {r.returncode}: {r.stderr[-2000:]}")
    return r


def key_args(kind, tmp_path, kms_key):
    if kind == "aes":
        p = tmp_path / "k.bin"
        p.write_bytes(aes(32, seed=3))
        return s3ec.AesKeyring(aes(32, seed=3)), ["--aes-key", str(p)]
    if kind == "rsa":
        priv, _ = rsa_pems()
        p = tmp_path / "k.pem"
        p.write_text(priv)
        return s3ec.RsaKeyring(private_pem=priv), ["--rsa-key", str(p)]
    return None, ["--kms-key-id", kms_key]


@pytest.mark.parametrize("placement", ["metadata", "instruction-file"])
@pytest.mark.parametrize("kind", ["aes", "rsa", "kms"])
def test_cross_read_with_the_rust_transport(cli, moto_endpoint, s3, kms, kms_key, bucket, tmp_path, kind, placement):
    kr, kargs = key_args(kind, tmp_path, kms_key)
    if kr is None:
        kr = s3ec.KmsKeyring(kms, kms_key)
    ours = s3ec.S3EncryptionClient(s3, kr, placement=placement.replace("-", "_"), part_size=5 * MiB, multipart_threshold=5 * MiB)
    for n in (0, 17, 11 * MiB + 3):
        data = os.urandom(n)
        # ours -> Rust transport
        ours.put_object(Bucket=bucket, Key=f"py{n}", Body=data)
        out = tmp_path / f"py{n}.out"
        run(cli, moto_endpoint, "get", f"s3://{bucket}/py{n}", *kargs, "-o", str(out))
        assert out.read_bytes() == data, ("rust read ours", n)
        # Rust transport -> ours
        src = tmp_path / f"rs{n}"
        src.write_bytes(data)
        run(cli, moto_endpoint, "put", str(src), f"s3://{bucket}/rs{n}", *kargs, "--placement", placement)
        assert ours.get_object(Bucket=bucket, Key=f"rs{n}")["Body"].read() == data, ("ours read rust", n)
