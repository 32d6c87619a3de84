"""Drive AWS's amazon-s3-encryption-client-python 4.0.0 (module s3_encryption) against moto.

usage: aws4_peer.py ENDPOINT put|get|upload BUCKET KEY KMS_KEY_ID FILE [v2|v3] [CONTEXT_JSON]
"""

import json
import sys

import boto3
from botocore.config import Config
from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
from s3_encryption.materials import AlgorithmSuite, CommitmentPolicy, KmsKeyring

endpoint, op, bucket, key, key_id, path = sys.argv[1:7]
version = sys.argv[7] if len(sys.argv) > 7 else "v3"
ctx = json.loads(sys.argv[8]) if len(sys.argv) > 8 else None


def client(service):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )


if version == "v2":
    cfg = S3EncryptionClientConfig(
        keyring=KmsKeyring(kms_client=client("kms"), kms_key_id=key_id),
        encryption_algorithm=AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF,
        commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT,
    )
else:
    cfg = S3EncryptionClientConfig(keyring=KmsKeyring(kms_client=client("kms"), kms_key_id=key_id))
# One boto3 S3 client per encryption client (PEERS.md).
c = S3EncryptionClient(client("s3"), cfg)
kw = {"EncryptionContext": ctx} if ctx is not None else {}
if op == "put":
    with open(path, "rb") as f:
        c.put_object(Bucket=bucket, Key=key, Body=f.read(), **kw)
elif op == "upload":
    with open(path, "rb") as f:
        c.upload_fileobj(f, bucket, key, **kw)
else:
    with open(path, "wb") as f:
        f.write(c.get_object(Bucket=bucket, Key=key, **kw)["Body"].read())
