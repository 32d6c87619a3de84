"""The package as ``mypy --strict`` sees it: the installed package is clean, and a user's code
gets the responses' types (``s3ec.type_defs``, modelled on mypy-boto3-s3's) and its mistakes
reported."""

from __future__ import annotations

import subprocess
import sys

USER = '''
import boto3
import s3ec
from botocore.exceptions import ClientError
from s3ec.type_defs import GetObjectOutputTypeDef

def read(client: s3ec.S3EncryptionClient) -> bytes:
    r: GetObjectOutputTypeDef = client.get_object(Bucket="b", Key="k", IfMatch='"e"')
    how: str = r["S3EC"]["Verification"]
    length: int = r["ContentLength"]
    client.put_object(Bucket="b", Key="k", Body=b"x")["S3EC"]["plaintext_len"] + 1
    print(how, length, client.list_objects_v2(Bucket="b"))
    try:
        return r["Body"].read()
    except ClientError as e:
        print(e.response["Error"]["Code"])
        raise
    except s3ec.S3EncryptionError as e:
        print(e.code)
        raise

read(s3ec.S3EncryptionClient(boto3.client("s3"), s3ec.AesKeyring(b"k" * 32)))
'''

WRONG = '''
import s3ec

def read(client: s3ec.S3EncryptionClient) -> int:
    r = client.get_object(Bucket="b", Key="k")
    return r["S3EC"]["Verfication"]
'''


def mypy(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )


def test_the_package_is_clean_under_mypy_strict(tmp_path):
    r = mypy(tmp_path, "-p", "s3ec")
    assert r.returncode == 0, r.stdout + r.stderr


def test_user_code_gets_the_response_types(tmp_path):
    (tmp_path / "ok.py").write_text(USER)
    r = mypy(tmp_path, "ok.py")
    assert r.returncode == 0, r.stdout + r.stderr
    (tmp_path / "bad.py").write_text(WRONG)
    r = mypy(tmp_path, "bad.py")
    assert r.returncode == 1, r.stdout + r.stderr
    assert '"GetS3ECTypeDef" has no key "Verfication"' in r.stdout, r.stdout
