#!/usr/bin/env python3
"""Drive AWS's official Python S3EC (amazon-s3-encryption-client-python 4.0.0) for the JS
cross-read tests: read a JSON list of operations from argv[2], print a JSON list of results.

Each operation: {"op": "put" | "get", "key", "version": "V2" | "V3", "context": {...} | null,
"file": path, "multipart": bool}. put encrypts the file's bytes (multipart: parts of 5 MiB, in
order); get writes the decrypted bytes to the file. Endpoint (moto: S3 and KMS), bucket and KMS
key come from argv[1] (JSON).
"""

import json
import sys

import boto3
from botocore.config import Config

from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
from s3_encryption.materials import AlgorithmSuite, CommitmentPolicy, KmsKeyring

sys.dont_write_bytecode = True
PART = 5 * 1024 * 1024


def main() -> int:
    cfg = json.loads(sys.argv[1])
    ops = json.load(open(sys.argv[2]))
    common = dict(endpoint_url=cfg["endpoint"], region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
    s3_config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
    kms = boto3.client("kms", **common)
    clients = {}

    def client(version):
        # One boto3 client per encryption client (see PEERS.md).
        if version not in clients:
            ring = KmsKeyring(kms_client=kms, kms_key_id=cfg["kms_key_id"])
            if version == "V2":
                c = S3EncryptionClientConfig(
                    keyring=ring,
                    encryption_algorithm=AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF,
                    commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT)
            else:
                c = S3EncryptionClientConfig(keyring=ring)
            clients[version] = S3EncryptionClient(boto3.client("s3", config=s3_config, **common), c)
        return clients[version]

    out = []
    for op in ops:
        c = client(op["version"])
        extra = {"EncryptionContext": op["context"]} if op.get("context") is not None else {}
        try:
            if op["op"] == "put":
                data = open(op["file"], "rb").read()
                if op.get("multipart"):
                    up = c.create_multipart_upload(Bucket=cfg["bucket"], Key=op["key"], **extra)
                    chunks = [data[i:i + PART] for i in range(0, len(data), PART)]
                    parts = []
                    for i, ch in enumerate(chunks, start=1):
                        r = c.upload_part(Bucket=cfg["bucket"], Key=op["key"], UploadId=up["UploadId"],
                                          PartNumber=i, Body=ch, IsLastPart=(i == len(chunks)))
                        parts.append({"PartNumber": i, "ETag": r["ETag"]})
                    c.complete_multipart_upload(Bucket=cfg["bucket"], Key=op["key"], UploadId=up["UploadId"],
                                                MultipartUpload={"Parts": parts})
                else:
                    c.put_object(Bucket=cfg["bucket"], Key=op["key"], Body=data, **extra)
            else:
                body = c.get_object(Bucket=cfg["bucket"], Key=op["key"], **extra)["Body"].read()
                open(op["file"], "wb").write(body)
            out.append({"ok": True})
        except Exception as e:  # reported, not raised: the test decides
            out.append({"ok": False, "error": f"{type(e).__name__}: {e}"[:500]})
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
