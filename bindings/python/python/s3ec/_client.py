"""``S3EncryptionClient``: boto3's shape, the Rust core's protocol."""

from __future__ import annotations

from ._body import StreamingBody
from ._core import CommitmentPolicy, Placement
from ._dropin import DropInMixin
from ._multipart import MultipartMixin
from ._transfer import TransferMixin

__all__ = ["CommitmentPolicy", "Placement", "S3EncryptionClient", "StreamingBody"]


class S3EncryptionClient(DropInMixin, MultipartMixin, TransferMixin):
    """Amazon S3 client-side encryption around a boto3 S3 client.

    ``S3EncryptionClient(boto3.client("s3"), AesKeyring(key))``: ``put_object`` encrypts (V3,
    key-committing AES-256-GCM by default), ``get_object`` returns boto3's dict whose ``Body``
    yields only authenticated plaintext. The object protocol — which requests, how every response
    is checked, when plaintext may be released — is the Rust core's; boto3 only does the HTTP.

    Give each encryption client its own boto3 client if you also use other S3EC libraries on it.

    Options (named as in the S3EC specification):

    * ``commitment_policy``: :class:`CommitmentPolicy`, default REQUIRE_ENCRYPT_REQUIRE_DECRYPT.
    * ``enable_legacy_wrapping_algorithms``: read V1 ``x-amz-key`` (AES-ECB, RSA PKCS#1 v1.5),
      ``AESWrap``, RSA-OAEP-SHA-256 and legacy ``kms`` wraps.
    * ``enable_legacy_unauthenticated_modes``: read AES-CBC objects, and allow ``Range`` reads
      (never authenticated).
    * ``enable_delayed_authentication``: allow ``get_object(..., DelayedAuthentication=True)``,
      which releases plaintext before the tag is checked.
    * ``placement``: ``"metadata"`` (default) or ``"instruction_file"``.
    * ``disable_instruction_file``: neither read nor write instruction files (the spec's
      ``disableInstructionFile``): an object whose envelope lives in one is refused without a
      request for it.
    * ``encryption_algorithm``: the specification's name of the suite to write
      (``ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY`` or ``ALG_AES_256_GCM_IV12_TAG16_NO_KDF``); by
      default the one the commitment policy writes. A suite the policy does not write, a legacy
      or an unknown one is refused here, with :class:`UsageError`.
    * ``instruction_file_suffix``: default ``".instruction"``.
    * ``memory_budget``: objects up to this size are verified in memory; larger ones are verified
      into an anonymous temporary file first (default 16 MiB).
    * ``part_size`` / ``multipart_threshold`` / ``max_concurrency``: multipart uploads (parts
      encrypted in parallel in Rust with the GIL released, uploaded in parallel by boto3) and
      parallel ranged GETs of downloads (``Config=TransferConfig(...)`` overrides them per call).
      ``multipart_threshold`` unset: 8 MiB for the managed uploads and file-like bodies, while
      ``put_object`` sends a body in memory as one PutObject, as boto3 does.

    Every other boto3 call (``list_objects_v2``, ``get_paginator``, ``.meta``, ``.exceptions``,
    ...) goes to the wrapped client as it is, except those that would break an encrypted object:
    see :class:`DropInMixin`. A client or keyring of the wrong kind, and settings the core would
    refuse, fail here, in the constructor.
    """
