#!/usr/bin/env python3
"""A server for AWS's official Python S3EC (`amazon-s3-encryption-client-python` 4.0.0) that
speaks the cross-SDK harness model (`S3ECTestServer`, restJson1; see test-server/README.md).

Written for this repository from the model: the client plus the HTTP side shared with the
other Python server (../model_server.py).

    python server.py [--port N]     # 0 (default): any free port

The first line on standard output is `listening on 127.0.0.1:PORT`. S3 and KMS endpoints,
region and credentials come from the standard AWS environment (AWS_ENDPOINT_URL, ...).

Errors follow the model: `S3EncryptionClientError` for what the S3EC raised, `GenericServerError`
for problems of this server. A feature the official client does not have is answered with
`GenericServerError` and HTTP 501, which the runner reports as "unsupported":
  * AES and RSA key material (the client has only a KMS keyring);
  * writing instruction files (`enableInstructionFilePutObject`): it only reads them;
  * `setBufferSize` (no such option);
  * ranged GETs (the client refuses every Range);
  * ReEncrypt (no instruction-file re-encryption).
"""

import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
from s3_encryption.exceptions import S3EncryptionClientError as OfficialClientError
from s3_encryption.exceptions import S3EncryptionClientSecurityError as OfficialSecurityError
from s3_encryption.instruction_file_config import InstructionFileConfig
from s3_encryption.materials.kms_keyring import KmsKeyring
from s3_encryption.materials.materials import AlgorithmSuite, CommitmentPolicy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from model_server import Backend, client_error, generic, parse_metadata, serve  # noqa: E402
from model_server import unsupported as _unsupported  # noqa: E402

S3EC_ERRORS = (OfficialClientError, OfficialSecurityError)

POLICIES = {
    "REQUIRE_ENCRYPT_REQUIRE_DECRYPT": CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
    "REQUIRE_ENCRYPT_ALLOW_DECRYPT": CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
    "FORBID_ENCRYPT_ALLOW_DECRYPT": CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT,
}
ALGORITHMS = {
    "ALG_AES_256_CBC_IV16_NO_KDF": AlgorithmSuite.ALG_AES_256_CBC_IV16_NO_KDF,
    "ALG_AES_256_GCM_IV12_TAG16_NO_KDF": AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF,
    "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY": AlgorithmSuite.ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
}


def unsupported(message):
    return _unsupported("the official Python S3EC", message)


def from_exception(e):
    """S3EC exceptions are client errors, unless the S3EC only wrapped an S3/network failure of
    the harness (the official client wraps every exception of put_object and get_object)."""
    if isinstance(e, S3EC_ERRORS):
        cause = e.__cause__
        if isinstance(cause, ClientError):
            code = cause.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                return generic(str(e))
        if isinstance(cause, BotoCoreError) and not isinstance(cause, S3EC_ERRORS):
            return generic(str(e))
        return client_error(str(e))
    return generic(f"{type(e).__name__}: {e}")


class Official(Backend):
    def create_client(self, config):
        km = config.get("keyMaterial") or {}
        given = [k for k in ("aesKey", "rsaKey", "kmsKeyId") if km.get(k) is not None]
        if len(given) != 1:
            raise generic("keyMaterial must hold exactly one of aesKey, rsaKey, kmsKeyId", 400)
        if given[0] != "kmsKeyId":
            raise unsupported(f"{given[0]} (the client has only a KMS keyring)")
        if config.get("setBufferSize") is not None:
            raise unsupported("setBufferSize")
        ifc = config.get("instructionFileConfig") or {}
        if ifc.get("enableInstructionFilePutObject"):
            raise unsupported("writing instruction files (enableInstructionFilePutObject)")
        if ifc.get("clientId"):
            raise unsupported("instructionFileConfig.clientId")
        kwargs = {}
        alg = config.get("encryptionAlgorithm")
        if alg is not None:
            if alg not in ALGORITHMS:
                raise generic(f"unknown encryptionAlgorithm {alg}", 400)
            kwargs["encryption_algorithm"] = ALGORITHMS[alg]
        pol = config.get("commitmentPolicy")
        if pol is not None:
            if pol not in POLICIES:
                raise generic(f"unknown commitmentPolicy {pol}", 400)
            kwargs["commitment_policy"] = POLICIES[pol]
        try:
            keyring = KmsKeyring(
                boto3.client("kms"),
                kms_key_id=km["kmsKeyId"],
                enable_legacy_wrapping_algorithms=bool(config.get("enableLegacyWrappingAlgorithms")),
            )
            cfg = S3EncryptionClientConfig(
                keyring=keyring,
                enable_legacy_unauthenticated_modes=bool(config.get("enableLegacyUnauthenticatedModes")),
                enable_delayed_authentication=bool(config.get("enableDelayedAuthenticationMode")),
                instruction_file_config=InstructionFileConfig(
                    disable_get_object=bool(ifc.get("disableInstructionFile"))
                ),
                **kwargs,
            )
            # One boto3 S3 client per S3EC client: the S3EC registers event handlers on it.
            s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
            return S3EncryptionClient(s3, cfg)
        except S3EC_ERRORS as e:
            raise client_error(str(e))

    def put_object(self, client, headers, bucket, key, body):
        md = parse_metadata(headers.get("Content-Metadata", ""))
        try:
            kwargs = {"Bucket": bucket, "Key": key, "Body": body}
            if md:
                kwargs["EncryptionContext"] = md
            client.put_object(**kwargs)
        except Exception as e:
            raise from_exception(e)

    def get_object(self, client, headers, bucket, key):
        if headers.get("Range"):
            raise unsupported("ranged GETs")
        md = parse_metadata(headers.get("Content-Metadata", ""))
        kwargs = {"Bucket": bucket, "Key": key}
        if md:
            kwargs["EncryptionContext"] = md
        suffix = headers.get("InstructionFileSuffix")
        if suffix:
            kwargs["InstructionFileSuffix"] = suffix
        try:
            r = client.get_object(**kwargs)
            return r["Body"].read(), r.get("Metadata")
        except Exception as e:
            raise from_exception(e)

    def reencrypt(self, client, headers, bucket, key, key_material):
        raise unsupported("ReEncrypt (no instruction-file re-encryption)")


if __name__ == "__main__":
    sys.exit(serve(Official(), __doc__.split("\n\n")[0]))
