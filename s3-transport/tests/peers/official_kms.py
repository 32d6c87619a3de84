"""AWS's official Python S3EC 4.0.0 against moto (AWS_ENDPOINT_URL), for the migration tests.

  official_kms.py write KEY_ID BUCKET FORMAT KEY=FILE...  encrypt each FILE as FORMAT (v2 or v3)
  official_kms.py read  KEY_ID BUCKET KEY=FILE...         decrypt each object (policy
      REQUIRE_ENCRYPT_REQUIRE_DECRYPT) and compare it with FILE

Prints one JSON object: {"ok": [keys], "failed": {key: error}}. Exit status 0 either way (the
test reads the JSON); 2 on bad arguments.
"""
import json
import sys

import boto3
from botocore.config import Config
from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
from s3_encryption.materials.kms_keyring import KmsKeyring
from s3_encryption.materials.materials import AlgorithmSuite, CommitmentPolicy


def client(key_id, **kwargs):
    keyring = KmsKeyring(boto3.client("kms"), kms_key_id=key_id)
    cfg = S3EncryptionClientConfig(keyring=keyring, **kwargs)
    # One boto3 S3 client per S3EC client: the S3EC registers event handlers on it.
    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
    return S3EncryptionClient(s3, cfg)


def pairs(args):
    for a in args:
        k, _, f = a.partition("=")
        yield k, f


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    op, key_id, bucket = argv[1], argv[2], argv[3]
    ok, failed = [], {}
    if op == "write":
        fmt, rest = argv[4], argv[5:]
        if fmt == "v2":
            c = client(
                key_id,
                encryption_algorithm=AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF,
                commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT,
            )
        elif fmt == "v3":
            c = client(key_id)
        else:
            return 2
        for k, f in pairs(rest):
            try:
                with open(f, "rb") as fh:
                    c.put_object(Bucket=bucket, Key=k, Body=fh.read())
                ok.append(k)
            except Exception as e:  # noqa: BLE001 (reported to the test)
                failed[k] = f"{type(e).__name__}: {e}"
    elif op == "read":
        c = client(key_id, commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
        for k, f in pairs(argv[4:]):
            try:
                got = c.get_object(Bucket=bucket, Key=k)["Body"].read()
                with open(f, "rb") as fh:
                    want = fh.read()
                if got == want:
                    ok.append(k)
                else:
                    failed[k] = f"wrong plaintext ({len(got)} bytes, expected {len(want)})"
            except Exception as e:  # noqa: BLE001
                failed[k] = f"{type(e).__name__}: {e}"
    else:
        return 2
    print(json.dumps({"ok": ok, "failed": failed}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
