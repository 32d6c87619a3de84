"""Fixtures: a moto server (S3 + KMS) on 127.0.0.1, started and stopped by the tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "test-vectors"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _moto_bin() -> str:
    cand = Path(sys.executable).with_name("moto_server")
    return str(cand) if cand.exists() else "moto_server"


@pytest.fixture(scope="session")
def moto_endpoint():
    """``http://127.0.0.1:PORT`` of a moto server for the whole session (stopped at the end)."""
    port = _free_port()
    env = dict(os.environ)
    env.setdefault("AWS_ACCESS_KEY_ID", "testing")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    proc = subprocess.Popen(
        [_moto_bin(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("moto_server exited")
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("moto_server did not start")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def make_client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


@pytest.fixture
def s3(moto_endpoint):
    return make_client("s3", moto_endpoint)


@pytest.fixture
def kms(moto_endpoint):
    return make_client("kms", moto_endpoint)


@pytest.fixture
def bucket(s3):
    name = "b-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def kms_key(kms):
    return kms.create_key(Description="s3ec test")["KeyMetadata"]["KeyId"]
