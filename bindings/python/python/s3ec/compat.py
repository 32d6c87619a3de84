"""A drop-in for the original ``s3-encryption`` 0.1.3 client.

Code written for 0.1.3 changes only its import::

    # from s3_encryption.client import S3EncryptionClient
    from s3ec.compat import S3EncryptionClient

It reads the objects 0.1.3 wrote (V1: ``x-amz-key`` = AES-ECB of a 16-byte data key, AES-128-CBC
content; legacy and unauthenticated, so this shim enables exactly those two legacy flags for
reads) and every newer format, and it writes **V3** (key-committing AES-256-GCM, the data key
wrapped with AES-GCM under the same master key). ``put_object`` returns None and ``get_object``
returns the plaintext bytes, as in 0.1.3; ``.client`` is the boto3 client.
"""

from __future__ import annotations

from typing import Any, Optional

from ._client import CommitmentPolicy, S3EncryptionClient as _Client
from ._native import AesKeyring

__all__ = ["S3EncryptionClient", "S3EncryptionSyncClient", "ArgumentError"]


class ArgumentError(ValueError):
    """A bad argument (the name 0.1.3 used)."""


class S3EncryptionSyncClient:
    """``S3EncryptionSyncClient(encryption_key=..., region_name=...)``: 0.1.3's API."""

    def __init__(self, encryption_key: Optional[Any] = None, **kwargs: Any) -> None:
        if encryption_key is None:
            raise ArgumentError(
                "s3_encryption currently only supports encryption with client provided keys."
            )
        self.client = kwargs.get("client", None)
        if self.client is None:
            import boto3

            self.client = boto3.client("s3", region_name=kwargs.get("region_name", None))
        location = kwargs.get("envelope_location", "metadata")
        if location not in ("instruction_file", "metadata"):
            raise ArgumentError("envelope_location must be one of: metadata, instruction_file")
        self.envelope_location = location
        self.instruction_file_suffix = kwargs.get("instruction_file_suffix", ".instruction")
        key = encryption_key.encode("utf-8") if isinstance(encryption_key, str) else bytes(encryption_key)
        desc = kwargs.get("materials_description", {}) or {}
        self._s3ec = _Client(
            self.client,
            AesKeyring(key, materials_description={str(k): str(v) for k, v in desc.items()}),
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
            enable_legacy_wrapping_algorithms=True,
            enable_legacy_unauthenticated_modes=True,
            placement=location,
            instruction_file_suffix=self.instruction_file_suffix,
        )

    def put_object(self, Bucket: Any = None, Key: Any = None, Body: Any = None, ACL: Any = None, **kwargs: Any) -> None:
        if ACL is not None:
            kwargs["ACL"] = ACL
        metadata = kwargs.pop("Metadata", None)
        self._s3ec.put_object(Bucket=Bucket, Key=Key, Body=Body, Metadata=metadata, **kwargs)

    def get_object(self, Bucket: Any = None, Key: Any = None) -> bytes:
        r = self._s3ec.get_object(Bucket=Bucket, Key=Key)
        body = r["Body"]
        try:
            return body.read()
        finally:
            body.close()


S3EncryptionClient = S3EncryptionSyncClient
"""0.1.3's class name (``s3_encryption.client.S3EncryptionClient``)."""
