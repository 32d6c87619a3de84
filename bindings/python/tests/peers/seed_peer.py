"""Drive the original s3-encryption 0.1.3 (module s3_encryption) against a loopback S3.

usage: seed_peer.py ENDPOINT put|get BUCKET KEY KEY_HEX FILE
put: encrypts FILE's bytes into BUCKET/KEY; get: decrypts BUCKET/KEY into FILE.
"""

import sys

import boto3
from botocore.config import Config
from s3_encryption.client import S3EncryptionClient

endpoint, op, bucket, key, key_hex, path = sys.argv[1:7]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
    config=Config(s3={"addressing_style": "path"}),
)
c = S3EncryptionClient(encryption_key=bytes.fromhex(key_hex), client=s3)
if op == "put":
    with open(path, "rb") as f:
        c.put_object(Bucket=bucket, Key=key, Body=f.read())
else:
    with open(path, "wb") as f:
        f.write(c.get_object(Bucket=bucket, Key=key))
