"""The core of ``S3EncryptionClient``: the calls that encrypt and decrypt, over the Rust core."""

from __future__ import annotations

import contextlib
import enum
import io
import os
import re
import tempfile
from typing import IO, Any, Dict, Iterator, Mapping, Optional, Tuple, Union, cast

from . import _native
from ._args import (
    check_keyring,
    check_s3_client,
    check_sizes,
    split_get_args,
    split_head_args,
    split_put_args,
)
from ._body import StreamingBody, _Reader
from ._transport import Boto3Transport
from .type_defs import (
    GetObjectOutputTypeDef,
    HeadObjectOutputTypeDef,
    PutObjectOutputTypeDef,
    ReencryptOutputTypeDef,
)
from .errors import StorageError, UsageError, storage_error

MiB = 1 << 20
# The largest body one PutObject takes (5 GiB), less the tag.
MAX_SINGLE_PUT = 5 * 1024 * MiB - 16

__all__ = ["ClientCore", "CommitmentPolicy", "Placement", "StreamingBody"]


class CommitmentPolicy(str, enum.Enum):
    """The three commitment policies of the S3EC specification."""

    FORBID_ENCRYPT_ALLOW_DECRYPT = "FORBID_ENCRYPT_ALLOW_DECRYPT"
    """Write V2 (non-committing); read V2 and V3 (and V1 with the legacy flags)."""
    REQUIRE_ENCRYPT_ALLOW_DECRYPT = "REQUIRE_ENCRYPT_ALLOW_DECRYPT"
    """Write V3; read V2 and V3 (and V1 with the legacy flags)."""
    REQUIRE_ENCRYPT_REQUIRE_DECRYPT = "REQUIRE_ENCRYPT_REQUIRE_DECRYPT"
    """Write V3; read only V3. The default."""


class Placement(str, enum.Enum):
    """Where the envelope is stored."""

    METADATA = "metadata"
    INSTRUCTION_FILE = "instruction_file"


def _policy_value(p: Union[str, CommitmentPolicy]) -> str:
    return p.value if isinstance(p, CommitmentPolicy) else CommitmentPolicy(str(p)).value


def _placement_value(p: Union[str, Placement]) -> str:
    return p.value if isinstance(p, Placement) else Placement(str(p)).value


def _user_metadata(md: Optional[Mapping[str, str]]) -> Dict[str, str]:
    return {k: v for k, v in (md or {}).items() if not _native.is_envelope_key(k)}


class ClientCore:
    """The encrypting calls of :class:`S3EncryptionClient` (see there)."""

    def __init__(
        self,
        client: Any,
        keyring: Any,
        *,
        commitment_policy: Union[str, CommitmentPolicy] = CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
        enable_legacy_wrapping_algorithms: bool = False,
        enable_legacy_unauthenticated_modes: bool = False,
        enable_delayed_authentication: bool = False,
        placement: Union[str, Placement] = Placement.METADATA,
        encryption_algorithm: Optional[str] = None,
        disable_instruction_file: bool = False,
        instruction_file_suffix: str = ".instruction",
        memory_budget: int = 16 * MiB,
        part_size: int = 8 * MiB,
        multipart_threshold: Optional[int] = None,
        max_concurrency: int = 4,
        temp_dir: Optional[str] = None,
    ) -> None:
        check_s3_client(client)
        check_keyring(keyring)
        self.client = client
        self.keyring = keyring
        self.commitment_policy = CommitmentPolicy(_policy_value(commitment_policy))
        self.enable_legacy_wrapping_algorithms = bool(enable_legacy_wrapping_algorithms)
        self.enable_legacy_unauthenticated_modes = bool(enable_legacy_unauthenticated_modes)
        self.enable_delayed_authentication = bool(enable_delayed_authentication)
        self.placement = Placement(_placement_value(placement))
        # The suite written: the spec's name, checked against the policy by the core now, not at
        # the first write (absent: the suite the policy writes).
        self.encryption_algorithm: str = _native.check_write_settings(
            {
                "commitment_policy": self.commitment_policy.value,
                "encryption_algorithm": encryption_algorithm,
                "placement": self.placement.value,
            }
        )
        self.disable_instruction_file = bool(disable_instruction_file)
        if self.disable_instruction_file and self.placement == Placement.INSTRUCTION_FILE:
            raise UsageError("placement='instruction_file' needs instruction files, and disable_instruction_file is set")
        if not isinstance(instruction_file_suffix, str) or not instruction_file_suffix:
            raise UsageError("instruction_file_suffix must be a non-empty str")
        self.instruction_file_suffix = instruction_file_suffix
        self.memory_budget = int(memory_budget)
        self.part_size = int(part_size)
        # Unset: put_object sends a body in memory as one PutObject, as boto3 does (up to
        # 5 GiB - 16); other bodies and the managed uploads use TransferConfig's 8 MiB.
        self._put_threshold: Optional[int] = None if multipart_threshold is None else int(multipart_threshold)
        self.multipart_threshold = 8 * MiB if multipart_threshold is None else int(multipart_threshold)
        self.max_concurrency = int(max_concurrency)
        check_sizes(self.part_size, self.multipart_threshold, self.max_concurrency, self.memory_budget)
        self.temp_dir = temp_dir

    def __repr__(self) -> str:
        return f"S3EncryptionClient({self.keyring!r}, {self.commitment_policy.value})"

    # ------------------------------------------------------------ helpers

    def _transport(self, **kw: Any) -> Boto3Transport:
        return Boto3Transport(self.client, max_workers=max(4, self.max_concurrency + 2), **kw)

    @contextlib.contextmanager
    def _errors(self, t: Boto3Transport) -> Iterator[None]:
        """Raise the machine's storage verdicts as boto3 raises them: the ClientError S3 answered
        to the object's request (its code, message and status), of the client's modeled class."""
        try:
            yield
        except StorageError as e:
            # Only the machine's own verdicts (operation "S3EC") are replaced; an error that
            # already carries S3's response (a keyring's, a nested call's) stays as it is.
            if t.error is None or e.operation_name != "S3EC":
                raise
            op, resp = t.error
            raise storage_error(resp, op, self.client, e) from e

    def _read_options(self) -> Dict[str, Any]:
        return {
            "commitment_policy": self.commitment_policy.value,
            "enable_legacy_wrapping_algorithms": self.enable_legacy_wrapping_algorithms,
            "enable_legacy_unauthenticated_modes": self.enable_legacy_unauthenticated_modes,
            "enable_delayed_authentication": self.enable_delayed_authentication,
            "instruction_file_suffix": self.instruction_file_suffix,
            "memory_budget": self.memory_budget,
            "read_instruction_file": not self.disable_instruction_file,
        }

    def _write_options(
        self,
        placement: Optional[Union[str, Placement]] = None,
        sizes: Optional[Tuple[int, int, int]] = None,
    ) -> Dict[str, Any]:
        part_size, threshold, concurrency = sizes or (self.part_size, self.multipart_threshold, self.max_concurrency)
        return {
            "commitment_policy": self.commitment_policy.value,
            "encryption_algorithm": self.encryption_algorithm,
            "placement": _placement_value(placement) if placement is not None else self.placement.value,
            "instruction_file_suffix": self.instruction_file_suffix,
            "part_size": part_size,
            "multipart_threshold": threshold,
            "parts_in_flight": concurrency,
        }

    def _put(
        self,
        bucket: str,
        key: str,
        body: Any,
        encryption_context: Optional[Mapping[str, str]],
        metadata: Optional[Mapping[str, str]],
        extra_args: Dict[str, Any],
        placement: Optional[Union[str, Placement]] = None,
        callback: Any = None,
        sizes: Optional[Tuple[int, int, int]] = None,
        path: Optional[str] = None,
    ) -> PutObjectOutputTypeDef:
        extra, content_type, content_md5, content_length = split_put_args(extra_args)
        reader = _Reader(body, callback=callback, content_md5=content_md5, path=path)
        if content_length is not None:
            if reader.length is not None and reader.length != content_length:
                raise UsageError(f"ContentLength {content_length} is not the body's length {reader.length}")
            reader.length = content_length
        if sizes is None and self._put_threshold is None and reader.data is not None:
            sizes = (self.part_size, MAX_SINGLE_PUT, self.max_concurrency)
        opts = self._write_options(placement, sizes)
        opts["plaintext_len"] = reader.length
        opts["encryption_context"] = dict(encryption_context) if encryption_context is not None else None
        opts["metadata"] = dict(metadata or {})
        opts["content_type"] = content_type
        with self._transport(extra=extra, content_md5=content_md5 is not None) as t, self._errors(t):
            done = _native.put_object(t, self.keyring, bucket, key, reader, opts)
            written = dict(t.written or {})
        written["S3EC"] = done
        return cast(PutObjectOutputTypeDef, written)

    def _get(
        self,
        bucket: str,
        key: str,
        encryption_context: Optional[Mapping[str, str]],
        version_id: Optional[str],
        range_: Optional[str],
        delayed: bool,
        storage_path: Optional[str],
        download: bool = False,
        connections: int = 1,
        extra: Optional[Dict[str, Dict[str, Any]]] = None,
        on_bytes: Any = None,
        on_open: Any = None,
        part_size: Optional[int] = None,
    ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        opts = self._read_options()
        opts["encryption_context"] = dict(encryption_context) if encryption_context is not None else None
        opts["version_id"] = version_id
        opts["range"] = range_
        opts["delayed"] = delayed
        opts["storage_path"] = storage_path
        opts["download"] = download
        opts["connections"] = connections
        ps = self.part_size if part_size is None else part_size
        opts["part_size"] = max(8 * MiB, (ps // MiB) * MiB)
        with self._transport(extra=extra, on_bytes=on_bytes, on_open=on_open) as t, self._errors(t):
            done = _native.get_object(t, self.keyring, bucket, key, opts)
            opened = dict(t.opened or {})
        return done, opened

    # ------------------------------------------------------------ the boto3-shaped API

    def put_object(
        self,
        *,
        Bucket: str,
        Key: str,
        Body: Any = b"",
        EncryptionContext: Optional[Mapping[str, str]] = None,
        Metadata: Optional[Mapping[str, str]] = None,
        **kwargs: Any,
    ) -> PutObjectOutputTypeDef:
        """Encrypt ``Body`` (bytes, str or a file-like object) and store it.

        ``EncryptionContext`` applies to KMS (and KMS-shaped Python) keyrings; it is bound to the data key
        and must be given again to read. ``Metadata`` is stored as plain user metadata. Other
        boto3 arguments (``ContentType``, ``ACL``, ``StorageClass``, ``IfMatch``,
        ``IfNoneMatch``, the SSE-C ``SSECustomer*``, ``ChecksumAlgorithm``, ...) go to the write of
        the object. ``ContentMD5`` is checked against the plaintext, and a Content-MD5 of the
        ciphertext is sent with each body; checksum values (``ChecksumSHA256``, ...) are refused,
        as they would be over the plaintext: ``ChecksumAlgorithm`` has S3 check the bytes sent. A body
        in memory (``bytes``, ``str``, ...) goes up in one PutObject, as boto3 sends it (up to
        5 GiB), encrypted as boto3 reads it: the ciphertext is never whole in memory. A file-like
        body larger than ``multipart_threshold`` (or of unknown length) goes up as a multipart
        upload; so does a body in memory when the client was given ``multipart_threshold``.
        Returns boto3's answer to the object's write (``ETag``, ``VersionId``, ...) with an
        ``S3EC`` entry (plaintext and stored lengths, parts, instruction file).
        """
        return self._put(Bucket, Key, Body, EncryptionContext, Metadata, kwargs)

    def get_object(
        self,
        *,
        Bucket: str,
        Key: str,
        EncryptionContext: Optional[Mapping[str, str]] = None,
        Range: Optional[str] = None,
        VersionId: Optional[str] = None,
        DelayedAuthentication: bool = False,
        **kwargs: Any,
    ) -> GetObjectOutputTypeDef:
        """Read and decrypt an object; returns boto3's ``get_object`` dict.

        ``Body`` yields only authenticated plaintext: the whole object is verified before the
        first byte is returned (in memory up to ``memory_budget``, else through a temporary
        file). ``Range="bytes=a-b"`` is an unauthenticated read and needs
        ``enable_legacy_unauthenticated_modes``; ``DelayedAuthentication=True`` needs
        ``enable_delayed_authentication``. ``ContentLength`` is the plaintext length and
        ``Metadata`` the user metadata without the envelope; ``S3EC`` tells how it was verified.
        boto3's conditions (``IfMatch``, ``IfNoneMatch``, ``IfModifiedSince``,
        ``IfUnmodifiedSince``), the SSE-C ``SSECustomer*``, ``ExpectedBucketOwner``,
        ``RequestPayer``, ``ChecksumMode`` and the ``Response*`` header overrides go to every
        request on the object (not to its instruction file).
        """
        extra = split_get_args(kwargs)
        try:
            return self._get_object(Bucket, Key, EncryptionContext, Range, VersionId, DelayedAuthentication, extra)
        except UsageError as e:
            suffix = re.fullmatch(r"\s*bytes=-(\d+)\s*", Range or "")
            if suffix is None or e.code != "InvalidRange":
                raise
            return self._cbc_suffix_range(Bucket, Key, EncryptionContext, VersionId, int(suffix.group(1)), extra, e)

    def _cbc_suffix_range(
        self,
        bucket: str,
        key: str,
        ctx: Optional[Mapping[str, str]],
        version_id: Optional[str],
        n: int,
        extra: Dict[str, Dict[str, Any]],
        refused: UsageError,
    ) -> GetObjectOutputTypeDef:
        """``bytes=-n`` of an AES-CBC object that does not record its plaintext length (V1 objects
        of 0.1.3): the core plans ranges from the start only, so the length comes from a ranged
        read of the last two blocks (the core strips the padding: what it releases ends where the
        plaintext ends), and the suffix is then read as ``bytes=a-b``, pinned to the same ETag."""
        head = self.head_object(Bucket=bucket, Key=key, VersionId=version_id)
        s3ec = head["S3EC"]
        stored = int(s3ec.get("stored_len") or 0)
        if s3ec.get("plaintext_len") is not None or s3ec.get("content_algorithm") != "AesCbc" or n == 0 or stored < 16:
            raise refused
        pinned = {op: dict(args, IfMatch=s3ec["etag"]) for op, args in extra.items()}
        probe_first = max(0, stored - 32)
        probe = self._get_object(bucket, key, ctx, f"bytes={probe_first}-", version_id, False, pinned)
        probe["Body"].close()
        plaintext_len = probe_first + int(probe["ContentLength"])
        first = max(0, plaintext_len - n)
        return self._get_object(bucket, key, ctx, f"bytes={first}-{plaintext_len - 1}", version_id, False, pinned)

    def _get_object(
        self,
        Bucket: str,
        Key: str,
        EncryptionContext: Optional[Mapping[str, str]],
        Range: Optional[str],
        VersionId: Optional[str],
        DelayedAuthentication: bool,
        extra: Dict[str, Dict[str, Any]],
    ) -> GetObjectOutputTypeDef:
        fd, path = tempfile.mkstemp(prefix=".s3ec-get-", dir=self.temp_dir)
        os.close(fd)
        try:
            done, opened = self._get(
                Bucket, Key, EncryptionContext, VersionId, Range, DelayedAuthentication, path, extra=extra
            )
            inner: IO[bytes]
            if done.get("fd") is not None:
                # The storage file, already unlinked (unix): ours to read and close.
                inner = open(done["fd"], "rb")
            elif done["in_storage"]:
                inner = open(path, "rb")
            else:
                # Shares the bytes object: a whole read() returns it without a copy.
                inner = io.BytesIO(done["plaintext"])
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        resp = opened
        resp.pop("ContentRange", None)
        resp.pop("AcceptRanges", None)
        resp["ContentLength"] = done["released"]
        resp["Metadata"] = _user_metadata(resp.get("Metadata"))
        resp["Body"] = StreamingBody(inner, done["released"])
        if done.get("range_first") is not None:
            first = done["range_first"]
            resp["ContentRange"] = "bytes %d-%d/*" % (first, first + done["released"] - 1)
        resp["S3EC"] = {
            "Verification": done["verification"],
            "StoredLength": done["stored_len"],
            "ETag": done["etag"],
            "VersionId": done["version_id"],
        }
        return cast(GetObjectOutputTypeDef, resp)

    def head_object(
        self, *, Bucket: str, Key: str, VersionId: Optional[str] = None, **kwargs: Any
    ) -> HeadObjectOutputTypeDef:
        """HEAD an object and describe its envelope (no key is used, nothing is decrypted).

        ``ContentLength`` is the plaintext length when the envelope records it (else the stored
        length, and ``S3EC["plaintext_len"]`` is None); ``S3EC`` has the format version, suites,
        wrap, placement and whether the instruction file holds the envelope. boto3's conditions
        and SSE-C arguments go to the HEAD.
        """
        extra = split_head_args(kwargs)
        with self._transport(extra=extra) as t, self._errors(t):
            d = _native.describe_object(t, Bucket, Key, VersionId, self.instruction_file_suffix)
            opened = dict(t.opened or {})
        if d.get("plaintext_len") is not None:
            opened["ContentLength"] = d["plaintext_len"]
        opened["Metadata"] = _user_metadata(opened.get("Metadata"))
        opened["S3EC"] = d
        return cast(HeadObjectOutputTypeDef, opened)

    def delete_object(self, *, Bucket: str, Key: str, VersionId: Optional[str] = None, **kwargs: Any) -> Dict[str, Any]:
        """Delete an object and its instruction file (only if that file is one). With
        ``VersionId`` only that version of the object is deleted (boto3's answer is returned):
        which version of the instruction file belongs to it is not recorded anywhere."""
        if VersionId is not None:
            return dict(self.client.delete_object(Bucket=Bucket, Key=Key, VersionId=VersionId, **kwargs))
        with self._transport(extra={"DeleteObject": dict(kwargs)}) as t, self._errors(t):
            obj, ifile = _native.delete_object(t, Bucket, Key, self.instruction_file_suffix)
        if not obj and not ifile:
            # The machine found nothing to delete (its HEAD answered 404, which does not say
            # whether the bucket is missing): boto3's own delete answers as boto3 does
            # (success for a missing key, NoSuchBucket for a missing bucket).
            self.client.delete_object(Bucket=Bucket, Key=Key, **kwargs)
        return {"ObjectDeleted": obj, "InstructionFileDeleted": ifile}

    def reencrypt_instruction_file(
        self,
        *,
        Bucket: str,
        Key: str,
        NewKeyring: Any,
        EncryptionContext: Optional[Mapping[str, str]] = None,
        NewEncryptionContext: Optional[Mapping[str, str]] = None,
        SourceSuffix: Optional[str] = None,
        NewSuffix: Optional[str] = None,
        EnforceRotation: bool = True,
    ) -> ReencryptOutputTypeDef:
        """Re-wrap the data key of an instruction-file object under ``NewKeyring`` (the object
        itself is not touched). With ``EnforceRotation`` the old keyring must no longer open the
        new instruction file. ``NewSuffix`` writes a second instruction file instead of
        replacing the first."""
        opts = self._read_options()
        opts["source_suffix"] = SourceSuffix or self.instruction_file_suffix
        opts["new_suffix"] = NewSuffix or opts["source_suffix"]
        opts["encryption_context"] = dict(EncryptionContext) if EncryptionContext is not None else None
        opts["new_encryption_context"] = dict(NewEncryptionContext) if NewEncryptionContext is not None else None
        opts["enforce_rotation"] = EnforceRotation
        with self._transport() as t, self._errors(t):
            v = _native.reencrypt_instruction_file(t, self.keyring, NewKeyring, Bucket, Key, opts)
        return {"FormatVersion": v}
