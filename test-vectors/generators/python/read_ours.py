#!/usr/bin/env python3
"""Reverse direction: the official AWS Python S3 Encryption Client reads s3ec-vector/1 cases.

For each *.json case in DIR: upload the body with its metadata (and the instruction file, if any,
as key + suffix) to moto's S3 with a plain boto3 client, then GET it through
s3_encryption.S3EncryptionClient configured from the case's "decrypt" settings, with a KMS stand-in
that answers Decrypt only for the case's recorded (blob, encryption context) pair.

Prints exactly one line per case on stdout: PASS <file>, FAIL <file> <reason> or SKIP <file> <why>.
Exit status 0 unless the harness itself broke.
"""

import argparse
import base64
import glob
import hashlib
import json
import os
import sys
import traceback
from types import SimpleNamespace

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
from s3_encryption.materials import AlgorithmSuite, CommitmentPolicy, KmsKeyring

BUCKET = "s3ec-python-read-ours"


class OfflineKms:
    """Answers KMS Decrypt from a case's key record: the recorded blob + context, nothing else."""

    def __init__(self, record):
        self.key_id = record.get("key_id")
        self.blob = base64.b64decode(record["ciphertext_blob_b64"])
        self.context = record.get("encryption_context") or {}
        self.plaintext = base64.b64decode(record["plaintext_b64"])
        # The SDK appends its user agent to client.meta.config.user_agent_extra.
        self.meta = SimpleNamespace(config=SimpleNamespace(user_agent_extra=None))
        self.calls = 0

    @staticmethod
    def _fail(code, msg, op):
        return ClientError({"Error": {"Code": code, "Message": msg}}, op)

    def decrypt(self, CiphertextBlob=None, EncryptionContext=None, KeyId=None, **_):
        self.calls += 1
        if CiphertextBlob != self.blob:
            raise self._fail("InvalidCiphertextException", "unknown ciphertext blob", "Decrypt")
        if (EncryptionContext or {}) != self.context:
            raise self._fail("InvalidCiphertextException", "encryption context mismatch", "Decrypt")
        if KeyId is not None and self.key_id is not None and KeyId != self.key_id:
            raise self._fail("IncorrectKeyException", "key id mismatch", "Decrypt")
        return {"Plaintext": self.plaintext, "KeyId": self.key_id or KeyId,
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def generate_data_key(self, **_):
        raise self._fail("AccessDeniedException", "offline KMS stand-in only decrypts", "GenerateDataKey")


def one_line(text: str) -> str:
    return " ".join(str(text).split())[:300]


def run_case(path, plain_s3, s3_factory):
    name = os.path.basename(path)
    base = os.path.dirname(path)
    with open(path) as f:
        case = json.load(f)
    if case.get("schema") != "s3ec-vector/1":
        return "SKIP", f"not an s3ec-vector/1 case (schema {case.get('schema')!r})"
    key = case["key"]
    dec = case["decrypt"]
    expect = case["expect"]
    if key.get("kind") != "kms":
        return "SKIP", f"{key.get('kind')}-wrapped: the official Python client has only a KMS keyring"
    if dec.get("range") is not None:
        return "SKIP", "ranged GET: the official Python client refuses Range"
    ec = dec.get("encryption_context")
    if ec is not None and not all(k.isascii() and v.isascii() for k, v in ec.items()):
        return "SKIP", "non-ASCII encryption context: the official Python client refuses it on GET"

    obj_key = name[:-len(".json")] if name.endswith(".json") else name
    with open(os.path.join(base, case["object"]["body"]), "rb") as f:
        body = f.read()
    plain_s3.put_object(Bucket=BUCKET, Key=obj_key, Body=body, Metadata=case["object"]["metadata"])
    suffix = dec.get("instruction_file_suffix") or ".instruction"
    inst = case.get("instruction_file")
    if inst:
        with open(os.path.join(base, inst["body"]), "rb") as f:
            plain_s3.put_object(Bucket=BUCKET, Key=obj_key + suffix, Body=f.read())

    kms = OfflineKms(key)
    config = S3EncryptionClientConfig(
        keyring=KmsKeyring(
            kms_client=kms,
            kms_key_id=key.get("key_id") or "offline-kms-key",
            enable_legacy_wrapping_algorithms=bool(dec.get("legacy_wrapping_algorithms")),
        ),
        # FORBID_ENCRYPT_ALLOW_DECRYPT needs a non-committing encrypt suite in this SDK's config check.
        encryption_algorithm=(AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF
                              if dec["commitment_policy"] == "FORBID_ENCRYPT_ALLOW_DECRYPT"
                              else AlgorithmSuite.ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY),
        commitment_policy=CommitmentPolicy[dec["commitment_policy"]],
        enable_legacy_unauthenticated_modes=bool(dec.get("legacy_unauthenticated_modes")),
    )
    client = S3EncryptionClient(s3_factory(), config)
    kwargs = {"Bucket": BUCKET, "Key": obj_key}
    if ec is not None:
        kwargs["EncryptionContext"] = ec
    if suffix != ".instruction":
        kwargs["InstructionFileSuffix"] = suffix
    try:
        got = client.get_object(**kwargs)["Body"].read()
    except Exception as e:  # the SDK wraps everything in S3EncryptionClientError
        if "error" in expect:
            return "PASS", None
        return "FAIL", "decrypt failed: " + one_line(f"{type(e).__name__}: {e}")
    if "error" in expect:
        return "FAIL", f"expected error {expect['error']}, but it decrypted {len(got)} bytes"
    if len(got) != expect["plaintext_len"]:
        return "FAIL", f"length {len(got)} != {expect['plaintext_len']}"
    if hashlib.sha256(got).hexdigest() != expect["plaintext_sha256"]:
        return "FAIL", "plaintext sha256 mismatch"
    return "PASS", None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("dir")
    args = ap.parse_args()
    cases = sorted(glob.glob(os.path.join(args.dir, "*.json")))
    common = dict(
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAS3ECTESTVECTORS0",
        aws_secret_access_key="s3ec-test-vectors-dummy-secret",
    )
    s3_config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})

    def s3_factory():
        return boto3.client("s3", config=s3_config, **common)

    plain_s3 = s3_factory()
    plain_s3.create_bucket(Bucket=BUCKET)
    for path in cases:
        name = os.path.basename(path)
        try:
            verdict, reason = run_case(path, plain_s3, s3_factory)
        except (OSError, KeyError, ValueError, TypeError) as e:
            # A malformed case file is that case's failure, not the harness's.
            verdict, reason = "FAIL", "bad case: " + one_line(f"{type(e).__name__}: {e}")
        except Exception:
            traceback.print_exc()
            return 2
        print(f"{verdict} {name}" + (f" {reason}" if reason else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
