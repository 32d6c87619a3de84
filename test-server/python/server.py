#!/usr/bin/env python3
"""A server of the cross-SDK harness model (`S3ECTestServer`, restJson1; see
test-server/README.md) for this repository's Python package, the `s3ec` wheel
(bindings/python), written against its public API only (`import s3ec`).

    python server.py [--port N]     # 0 (default): any free port

The first line on standard output is `listening on 127.0.0.1:PORT`. S3 and KMS endpoints,
region and credentials come from the standard AWS environment (AWS_ENDPOINT_URL, ...).

How the model maps onto `s3ec`:
  * `aesKey` -> `s3ec.AesKeyring`, `rsaKey` (PKCS#8 DER) -> `s3ec.RsaKeyring` (as PEM),
    `kmsKeyId` -> `s3ec.KmsKeyring`; `materialsDescription` goes to the raw keyrings.
  * `commitmentPolicy`, the two legacy flags and delayed authentication are the client's options
    of the same names, and `encryptionAlgorithm` is `encryption_algorithm`: the package (its core)
    refuses a suite the policy does not write, or a legacy one, with S3EncryptionClientError, as
    the specification requires (client.md).
  * `instructionFileConfig.enableInstructionFilePutObject` -> `placement="instruction_file"`.
  * `setBufferSize` -> `memory_budget` (objects up to it are verified in memory, larger ones in a
    temporary file); refused together with delayed authentication (client.md).
  * PutObject `Content-Metadata`: the KMS encryption context, or for AES/RSA key material the
    materials description of that one write (the model's C++ convention).
  * GetObject: `Content-Metadata` is the encryption context, `Range` a ranged (unauthenticated)
    read, `InstructionFileSuffix` the client's `instruction_file_suffix` for that read; with
    delayed authentication on, a whole-object read uses `DelayedAuthentication=True` (this
    server still answers only once the whole body has been read).
  * ReEncrypt -> `reencrypt_instruction_file` (`InstructionFileSuffix` without its dot, as the
    Java S3EC takes it, becomes `NewSuffix` with one; `EnforceRotation` absent means false).

Errors: every `s3ec.S3ECError` is an S3EncryptionClientError, except a missing object and an S3
error status (`NoSuchKeyError`, `StorageError` with code `RequestFailed`): those, and anything
that is not an `S3ECError` (boto3, this server), are GenericServerError. What `s3ec` lacks is
answered with GenericServerError and HTTP 501 (the runner reports the cell "unsupported"):
  * `instructionFileConfig.clientId`: no separate client for instruction files.
"""

import base64
import binascii
import os
import sys

import boto3
import s3ec
from botocore.config import Config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from model_server import Backend, client_error, generic, parse_metadata, scrub, serve  # noqa: E402
from model_server import unsupported as _unsupported  # noqa: E402

RRD = "REQUIRE_ENCRYPT_REQUIRE_DECRYPT"


def unsupported(message):
    return _unsupported("the s3ec Python package", message)


def from_exception(e, bucket, key):
    if isinstance(e, s3ec.S3ECError):
        code = getattr(e, "code", None)
        message = scrub(f"{type(e).__name__}" + (f" ({code})" if code else "") + f": {e}", bucket, key)
        if isinstance(e, s3ec.NoSuchKeyError) or (isinstance(e, s3ec.StorageError) and code == "RequestFailed"):
            return generic(message)
        return client_error(message)
    return generic(scrub(f"{type(e).__name__}: {e}", bucket, key))


def flag(c, name):
    v = c.get(name)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise generic(f"{name} must be a boolean", 400)
    return v


def string(c, name):
    v = c.get(name)
    if v is not None and not isinstance(v, str):
        raise generic(f"{name} must be a string", 400)
    return v


def blob(s):
    try:
        return base64.b64decode(s.strip(), validate=True)
    except (binascii.Error, ValueError, AttributeError):
        raise generic("a key blob is not valid base64", 400)


def pem_of_pkcs8(der):
    b64 = base64.b64encode(der).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n"


class Entry:
    """A client made by CreateClient: its keyword arguments, key material and the client."""

    def __init__(self, server, km, kwargs):
        self.server = server
        self.km = km
        self.kwargs = kwargs
        self.raw = km.get("kmsKeyId") is None
        self.client = self.make()

    def make(self, desc=None, suffix=None):
        """The client, or one like it with another materials description or suffix."""
        kwargs = dict(self.kwargs)
        if suffix is not None:
            kwargs["instruction_file_suffix"] = suffix
        return s3ec.S3EncryptionClient(self.server.s3, self.server.keyring(self.km, desc), **kwargs)


class PythonPackage(Backend):
    def __init__(self):
        # One boto3 client of each kind for every S3EC client (boto3 clients are thread-safe).
        self.s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
        self.kms = boto3.client("kms")

    def keyring(self, km, desc=None):
        """The model's KeyMaterial: exactly one of aesKey, rsaKey, kmsKeyId."""
        given = [k for k in ("aesKey", "rsaKey", "kmsKeyId") if string(km, k) is not None]
        if len(given) != 1:
            raise generic("keyMaterial must hold exactly one of aesKey, rsaKey, kmsKeyId", 400)
        if desc is None:
            desc = km.get("materialsDescription")
            desc = {} if desc is None else desc
            if not isinstance(desc, dict) or not all(isinstance(v, str) for v in desc.values()):
                raise generic("materialsDescription must map strings to strings", 400)
        try:
            if "aesKey" in given:
                return s3ec.AesKeyring(blob(km["aesKey"]), materials_description=desc)
            if "rsaKey" in given:
                return s3ec.RsaKeyring(private_pem=pem_of_pkcs8(blob(km["rsaKey"])), materials_description=desc)
            # The materials description is for raw keyrings; a KMS encryption context comes per
            # operation in Content-Metadata.
            return s3ec.KmsKeyring(self.kms, km["kmsKeyId"])
        except s3ec.S3ECError as e:
            raise client_error(f"invalid key material: {type(e).__name__}: {e}")

    def create_client(self, config):
        km = config.get("keyMaterial")
        if not isinstance(km, dict):
            raise generic("config.keyMaterial is required", 400)
        delayed = flag(config, "enableDelayedAuthenticationMode")
        # The names and whether the suite fits the policy are the package's (its core's) to
        # judge: an unknown name is the harness's 400, a refusal the S3EC's error.
        kwargs = {
            "commitment_policy": RRD if string(config, "commitmentPolicy") is None else config["commitmentPolicy"],
            "encryption_algorithm": string(config, "encryptionAlgorithm"),
            "enable_legacy_wrapping_algorithms": flag(config, "enableLegacyWrappingAlgorithms"),
            "enable_legacy_unauthenticated_modes": flag(config, "enableLegacyUnauthenticatedModes"),
            "enable_delayed_authentication": delayed,
        }
        ifc = config.get("instructionFileConfig")
        ifc = {} if ifc is None else ifc
        if not isinstance(ifc, dict):
            raise generic("instructionFileConfig must be an object", 400)
        if flag(ifc, "disableInstructionFile"):
            kwargs["disable_instruction_file"] = True
        if string(ifc, "clientId") is not None:
            raise unsupported("instructionFileConfig.clientId (no separate instruction-file client)")
        if flag(ifc, "enableInstructionFilePutObject"):
            kwargs["placement"] = s3ec.Placement.INSTRUCTION_FILE
        size = config.get("setBufferSize")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise generic("setBufferSize must be a non-negative integer", 400)
            if delayed:
                raise client_error("a buffer size cannot be set with delayed authentication mode enabled")
            kwargs["memory_budget"] = size
        try:
            return Entry(self, km, kwargs)
        except s3ec.S3ECError as e:  # first: UsageError is a ValueError too
            if str(e).startswith("unknown "):
                raise generic(str(e), 400)
            raise client_error(f"client configuration refused: {type(e).__name__}: {e}")
        except ValueError as e:  # not a commitment policy the package knows
            raise generic(f"unknown commitmentPolicy {kwargs['commitment_policy']}: {e}", 400)

    def put_object(self, entry, headers, bucket, key, body):
        md = parse_metadata(headers.get("Content-Metadata", ""))
        try:
            if md and entry.raw:
                entry.make(desc=md).put_object(Bucket=bucket, Key=key, Body=body)
            else:
                entry.client.put_object(Bucket=bucket, Key=key, Body=body, EncryptionContext=md or None)
        except Exception as e:
            raise from_exception(e, bucket, key)

    def get_object(self, entry, headers, bucket, key):
        md = parse_metadata(headers.get("Content-Metadata", ""))
        rng = headers.get("Range") or None
        suffix = headers.get("InstructionFileSuffix") or None
        try:
            client = entry.make(suffix=suffix) if suffix else entry.client
            delayed = rng is None and client.enable_delayed_authentication
            r = client.get_object(
                Bucket=bucket, Key=key, EncryptionContext=md or None, Range=rng, DelayedAuthentication=delayed
            )
            body = r["Body"]
            try:
                return body.read(), r.get("Metadata")
            finally:
                body.close()
        except Exception as e:
            raise from_exception(e, bucket, key)

    def reencrypt(self, entry, headers, bucket, key, key_material):
        new_keyring = self.keyring(key_material)
        suffix = headers.get("InstructionFileSuffix") or None
        if suffix and not suffix.startswith("."):
            suffix = "." + suffix
        enforce = (headers.get("EnforceRotation") or "").lower()
        if enforce not in ("", "true", "false"):
            raise generic("EnforceRotation must be true or false", 400)
        try:
            entry.client.reencrypt_instruction_file(
                Bucket=bucket, Key=key, NewKeyring=new_keyring, NewSuffix=suffix, EnforceRotation=enforce == "true"
            )
        except Exception as e:
            raise from_exception(e, bucket, key)


if __name__ == "__main__":
    sys.exit(serve(PythonPackage(), __doc__.split("\n\n")[0]))
