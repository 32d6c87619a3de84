"""``S3EncryptionClient``: boto3's shape, the Rust core's protocol."""

from __future__ import annotations

import enum
import io
import os
import tempfile
from typing import IO, Any, Dict, Mapping, Optional, Tuple, Union

from . import _native
from ._transport import Boto3Transport

MiB = 1 << 20

# boto3 arguments that belong to the write of the object (PutObject / CreateMultipartUpload),
# and the conditional ones (PutObject / CompleteMultipartUpload).
_CREATE_ARGS = {
    "ACL",
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Expires",
    "GrantFullControl",
    "GrantRead",
    "GrantReadACP",
    "GrantWriteACP",
    "ServerSideEncryption",
    "StorageClass",
    "WebsiteRedirectLocation",
    "SSEKMSKeyId",
    "SSEKMSEncryptionContext",
    "BucketKeyEnabled",
    "Tagging",
    "ObjectLockMode",
    "ObjectLockRetainUntilDate",
    "ObjectLockLegalHoldStatus",
    "ExpectedBucketOwner",
    "RequestPayer",
    "ChecksumAlgorithm",
}
_CONDITION_ARGS = {"IfMatch", "IfNoneMatch"}


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


class _Reader:
    """The body of a write as something with ``read(n)``; with its length when known."""

    def __init__(self, body: Any) -> None:
        if body is None:
            body = b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if isinstance(body, (bytes, bytearray, memoryview)):
            self.stream: Any = io.BytesIO(bytes(body))
            self.length: Optional[int] = len(body)
            return
        if not hasattr(body, "read"):
            raise TypeError("Body must be bytes, str or a file-like object with read()")
        self.stream = body
        self.length = None
        try:
            if body.seekable():
                pos = body.tell()
                end = body.seek(0, io.SEEK_END)
                body.seek(pos)
                self.length = end - pos
        except (AttributeError, OSError, ValueError):
            self.length = None

    def read(self, n: int) -> bytes:
        b = self.stream.read(n)
        if isinstance(b, str):
            b = b.encode("utf-8")
        return bytes(b)


class StreamingBody(io.RawIOBase):
    """The ``Body`` of :meth:`S3EncryptionClient.get_object`: verified plaintext only.

    Whatever it yields was authenticated before it was handed out (unless the read was an
    explicitly unauthenticated one: a ``Range`` or delayed authentication, see the response's
    ``S3EC`` entry). Small objects are held in memory; larger ones in an anonymous temporary file.
    """

    def __init__(self, inner: IO[bytes], length: int) -> None:
        super().__init__()
        self._inner = inner
        self._length = length

    def readable(self) -> bool:
        return True

    def read(self, amt: Optional[int] = None) -> bytes:  # type: ignore[override]
        if amt is None or amt < 0:
            return self._inner.read()
        return self._inner.read(amt)

    def readinto(self, b: Any) -> int:  # type: ignore[override]
        data = self._inner.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def iter_chunks(self, chunk_size: int = 1024 * 1024):
        """Yield the plaintext in chunks."""
        while True:
            c = self.read(chunk_size)
            if not c:
                return
            yield c

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()

    @property
    def content_length(self) -> int:
        return self._length


def _user_metadata(md: Optional[Mapping[str, str]]) -> Dict[str, str]:
    return {k: v for k, v in (md or {}).items() if not _native.is_envelope_key(k)}


class S3EncryptionClient:
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
      into a temporary file first (default 64 MiB).
    * ``part_size`` / ``multipart_threshold`` / ``max_concurrency``: multipart uploads (parts
      encrypted in parallel in Rust with the GIL released, uploaded in parallel by boto3) and
      parallel ranged GETs of downloads.
    """

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
        memory_budget: int = 64 * MiB,
        part_size: int = 8 * MiB,
        multipart_threshold: int = 8 * MiB,
        max_concurrency: int = 4,
        temp_dir: Optional[str] = None,
    ) -> None:
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
            raise _native.UsageError("placement='instruction_file' needs instruction files, and disable_instruction_file is set")
        self.instruction_file_suffix = instruction_file_suffix
        self.memory_budget = int(memory_budget)
        self.part_size = int(part_size)
        self.multipart_threshold = int(multipart_threshold)
        self.max_concurrency = max(1, int(max_concurrency))
        self.temp_dir = temp_dir

    def __repr__(self) -> str:
        return f"S3EncryptionClient({self.keyring!r}, {self.commitment_policy.value})"

    # ------------------------------------------------------------ helpers

    def _transport(self, **kw: Any) -> Boto3Transport:
        return Boto3Transport(self.client, max_workers=max(4, self.max_concurrency + 2), **kw)

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

    def _write_options(self, placement: Optional[Union[str, Placement]] = None) -> Dict[str, Any]:
        return {
            "commitment_policy": self.commitment_policy.value,
            "encryption_algorithm": self.encryption_algorithm,
            "placement": _placement_value(placement) if placement is not None else self.placement.value,
            "instruction_file_suffix": self.instruction_file_suffix,
            "part_size": self.part_size,
            "multipart_threshold": self.multipart_threshold,
            "parts_in_flight": self.max_concurrency,
        }

    @staticmethod
    def _split_extra(kwargs: Dict[str, Any]) -> Tuple[Dict[str, Dict[str, Any]], Optional[str]]:
        create: Dict[str, Any] = {}
        cond: Dict[str, Any] = {}
        content_type = kwargs.pop("ContentType", None)
        for k, v in kwargs.items():
            if k in _CONDITION_ARGS:
                cond[k] = v
            elif k in _CREATE_ARGS:
                create[k] = v
            else:
                raise TypeError(f"unsupported argument {k!r} for an encrypted write")
        extra = {
            "PutObject": {**create, **cond},
            "CreateMultipartUpload": dict(create),
            "CompleteMultipartUpload": dict(cond),
        }
        return extra, content_type

    def _put(
        self,
        bucket: str,
        key: str,
        reader: _Reader,
        encryption_context: Optional[Mapping[str, str]],
        metadata: Optional[Mapping[str, str]],
        extra_args: Dict[str, Any],
        placement: Optional[Union[str, Placement]] = None,
    ) -> Dict[str, Any]:
        extra, content_type = self._split_extra(dict(extra_args))
        opts = self._write_options(placement)
        opts["plaintext_len"] = reader.length
        opts["encryption_context"] = dict(encryption_context) if encryption_context is not None else None
        opts["metadata"] = dict(metadata or {})
        opts["content_type"] = content_type
        with self._transport(extra=extra) as t:
            done = _native.put_object(t, self.keyring, bucket, key, reader, opts)
            written = dict(t.written or {})
        written["S3EC"] = done
        return written

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
    ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        opts = self._read_options()
        opts["encryption_context"] = dict(encryption_context) if encryption_context is not None else None
        opts["version_id"] = version_id
        opts["range"] = range_
        opts["delayed"] = delayed
        opts["storage_path"] = storage_path
        opts["download"] = download
        opts["connections"] = connections
        opts["part_size"] = max(8 * MiB, (self.part_size // MiB) * MiB)
        with self._transport() as t:
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
    ) -> Dict[str, Any]:
        """Encrypt ``Body`` (bytes, str or a file-like object) and store it.

        ``EncryptionContext`` applies to KMS (and KMS-shaped Python) keyrings; it is bound to the data key
        and must be given again to read. ``Metadata`` is stored as plain user metadata. Other
        boto3 arguments (``ContentType``, ``ACL``, ``StorageClass``, ``IfMatch``,
        ``IfNoneMatch``, ...) go to the write of the object. A body larger than
        ``multipart_threshold`` (or of unknown length) goes up as a multipart upload. Returns
        boto3's answer to the object's write (``ETag``, ``VersionId``, ...) with an ``S3EC``
        entry (plaintext and stored lengths, parts, instruction file).
        """
        return self._put(Bucket, Key, _Reader(Body), EncryptionContext, Metadata, kwargs)

    def get_object(
        self,
        *,
        Bucket: str,
        Key: str,
        EncryptionContext: Optional[Mapping[str, str]] = None,
        Range: Optional[str] = None,
        VersionId: Optional[str] = None,
        DelayedAuthentication: bool = False,
    ) -> Dict[str, Any]:
        """Read and decrypt an object; returns boto3's ``get_object`` dict.

        ``Body`` yields only authenticated plaintext: the whole object is verified before the
        first byte is returned (in memory up to ``memory_budget``, else through a temporary
        file). ``Range="bytes=a-b"`` is an unauthenticated read and needs
        ``enable_legacy_unauthenticated_modes``; ``DelayedAuthentication=True`` needs
        ``enable_delayed_authentication``. ``ContentLength`` is the plaintext length and
        ``Metadata`` the user metadata without the envelope; ``S3EC`` tells how it was verified.
        """
        fd, path = tempfile.mkstemp(prefix=".s3ec-get-", dir=self.temp_dir)
        os.close(fd)
        try:
            done, opened = self._get(
                Bucket, Key, EncryptionContext, VersionId, Range, DelayedAuthentication, path
            )
            if done["in_storage"]:
                inner: IO[bytes] = open(path, "rb")
            else:
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
        return resp

    def head_object(self, *, Bucket: str, Key: str, VersionId: Optional[str] = None) -> Dict[str, Any]:
        """HEAD an object and describe its envelope (no key is used, nothing is decrypted).

        ``ContentLength`` is the plaintext length when the envelope records it (else the stored
        length, and ``S3EC["plaintext_len"]`` is None); ``S3EC`` has the format version, suites,
        wrap, placement and whether the instruction file holds the envelope.
        """
        with self._transport() as t:
            d = _native.describe_object(t, Bucket, Key, VersionId, self.instruction_file_suffix)
            opened = dict(t.opened or {})
        if d.get("plaintext_len") is not None:
            opened["ContentLength"] = d["plaintext_len"]
        opened["Metadata"] = _user_metadata(opened.get("Metadata"))
        opened["S3EC"] = d
        return opened

    def delete_object(self, *, Bucket: str, Key: str) -> Dict[str, Any]:
        """Delete an object and its instruction file (only if that file is one)."""
        with self._transport() as t:
            obj, ifile = _native.delete_object(t, Bucket, Key, self.instruction_file_suffix)
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
    ) -> Dict[str, Any]:
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
        with self._transport() as t:
            v = _native.reencrypt_instruction_file(t, self.keyring, NewKeyring, Bucket, Key, opts)
        return {"FormatVersion": v}

    # ------------------------------------------------------------ transfers

    def upload_fileobj(
        self,
        Fileobj: Any,
        Bucket: str,
        Key: str,
        ExtraArgs: Optional[Dict[str, Any]] = None,
        Callback: Any = None,
        Config: Any = None,
        EncryptionContext: Optional[Mapping[str, str]] = None,
    ) -> None:
        """Encrypt a file-like object into ``Bucket/Key`` (multipart above the threshold; parts
        encrypted in parallel, uploaded ``max_concurrency`` at a time)."""
        extra = dict(ExtraArgs or {})
        metadata = extra.pop("Metadata", None)
        ctx = extra.pop("EncryptionContext", EncryptionContext)
        self._put(Bucket, Key, _Reader(Fileobj), ctx, metadata, extra)

    def upload_file(
        self,
        Filename: str,
        Bucket: str,
        Key: str,
        ExtraArgs: Optional[Dict[str, Any]] = None,
        Callback: Any = None,
        Config: Any = None,
        EncryptionContext: Optional[Mapping[str, str]] = None,
    ) -> None:
        """Encrypt a local file into ``Bucket/Key`` (see :meth:`upload_fileobj`)."""
        with open(Filename, "rb") as f:
            self.upload_fileobj(f, Bucket, Key, ExtraArgs=ExtraArgs, EncryptionContext=EncryptionContext)

    def download_file(
        self,
        Bucket: str,
        Key: str,
        Filename: str,
        ExtraArgs: Optional[Dict[str, Any]] = None,
        Callback: Any = None,
        Config: Any = None,
        EncryptionContext: Optional[Mapping[str, str]] = None,
    ) -> None:
        """Download and decrypt into ``Filename``: the ciphertext is verified in a temporary
        file beside it (parallel ranged GETs for large objects), decrypted in place, and only
        then renamed over ``Filename``. A failure leaves ``Filename`` untouched."""
        extra = dict(ExtraArgs or {})
        ctx = extra.pop("EncryptionContext", EncryptionContext)
        version_id = extra.pop("VersionId", None)
        if extra:
            raise TypeError(f"unsupported ExtraArgs {sorted(extra)!r}")
        d = os.path.dirname(os.path.abspath(Filename))
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(Filename) + ".s3ec-", dir=d)
        os.close(fd)
        try:
            self._get(
                Bucket,
                Key,
                ctx,
                version_id,
                None,
                False,
                tmp,
                download=True,
                connections=self.max_concurrency,
            )
            os.replace(tmp, Filename)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def download_fileobj(
        self,
        Bucket: str,
        Key: str,
        Fileobj: Any,
        ExtraArgs: Optional[Dict[str, Any]] = None,
        Callback: Any = None,
        Config: Any = None,
        EncryptionContext: Optional[Mapping[str, str]] = None,
    ) -> None:
        """Decrypt into a writable file-like object (verified before the first write)."""
        extra = dict(ExtraArgs or {})
        ctx = extra.pop("EncryptionContext", EncryptionContext)
        r = self.get_object(Bucket=Bucket, Key=Key, EncryptionContext=ctx, VersionId=extra.pop("VersionId", None))
        body = r["Body"]
        try:
            for c in body.iter_chunks():
                Fileobj.write(c)
        finally:
            body.close()
