"""What makes :class:`S3EncryptionClient` a drop-in for the boto3 S3 client: every call it does
not encrypt goes to the wrapped client (as AWS's Python S3EC 4.0.0 forwards them), and the calls
that would break an encrypted object if forwarded as they are get their own code here
(``copy_object``, ``copy``, ``delete_objects``; the multipart calls in ``_multipart``) or are
refused with the reason (``upload_part_copy`` from an encrypted source)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Tuple, Union, cast
from urllib.parse import parse_qs, unquote

from .type_defs import CopyObjectOutputTypeDef, DeleteObjectsOutputTypeDef, DeletedObjectTypeDef, ErrorTypeDef
from botocore.exceptions import ClientError

from .errors import NotEncryptedError, S3ECError, UsageError

from ._core import ClientCore

def _copy_source(src: Union[str, Dict[str, Any]]) -> Tuple[str, str, Optional[str]]:
    """boto3's ``CopySource`` (``"bucket/key?versionId=v"`` or a dict) as (bucket, key, version)."""
    if isinstance(src, dict):
        return str(src["Bucket"]), str(src["Key"]), src.get("VersionId")
    s = str(src).lstrip("/")
    version: Optional[str] = None
    if "?versionId=" in s:
        s, q = s.split("?", 1)
        version = parse_qs(q).get("versionId", [None])[0]
    bucket, _, key = s.partition("/")
    return bucket, unquote(key), version


class DropInMixin(ClientCore):
    """Forwarding, and the calls that need care with encrypted objects."""

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the class does not define: boto3's other calls and attributes
        # (list_objects_v2, get_paginator, meta, exceptions, generate_presigned_url, ...).
        if name.startswith("__") or name in ("client", "keyring"):
            raise AttributeError(name)
        client = self.__dict__.get("client")
        if client is None:
            raise AttributeError(name)
        return getattr(client, name)

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | set(dir(self.__dict__.get("client"))))

    # ------------------------------------------------------------ copies

    def _describe_source(self, bucket: str, key: str, version: Optional[str], extra: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """The envelope of a copy source (None: a plain object)."""
        head = {k[len("CopySource"):]: v for k, v in extra.items() if k.startswith("CopySourceSSECustomer")}
        try:
            r = self.head_object(Bucket=bucket, Key=key, VersionId=version, **head)
        except NotEncryptedError:
            return None
        s3ec = r.get("S3EC")
        return dict(s3ec) if s3ec else None

    def copy_object(self, *, CopySource: Union[str, Dict[str, Any]], Bucket: str, Key: str, **kwargs: Any) -> CopyObjectOutputTypeDef:
        """A server-side copy. A plain source is copied as boto3 copies it. An encrypted source is
        copied with its envelope: its metadata is kept (``MetadataDirective="REPLACE"`` is
        refused: it would drop the envelope), and when its envelope lives in an instruction file
        that file is copied beside the new object (if that second copy fails, the new object is
        deleted again and the error raised)."""
        bucket, key, version = _copy_source(CopySource)
        env = self._describe_source(bucket, key, version, kwargs)
        if env is None:
            r = dict(self.client.copy_object(CopySource=CopySource, Bucket=Bucket, Key=Key, **kwargs))
            r["S3EC"] = {"Encrypted": False, "InstructionFileCopied": False}
            return cast(CopyObjectOutputTypeDef, r)
        if str(kwargs.get("MetadataDirective", "COPY")).upper() == "REPLACE":
            raise UsageError(
                "MetadataDirective='REPLACE' on an encrypted object would drop its envelope; copy it "
                "as it is (and set metadata with put_object), or decrypt and re-encrypt it"
            )
        in_file = bool(env.get("instruction_file"))
        if in_file and self.disable_instruction_file:
            raise UsageError("the source's envelope is in its instruction file, and disable_instruction_file is set")
        r = dict(self.client.copy_object(CopySource=CopySource, Bucket=Bucket, Key=Key, **kwargs))
        if in_file:
            suffix = self.instruction_file_suffix
            try:
                self.client.copy_object(CopySource={"Bucket": bucket, "Key": key + suffix}, Bucket=Bucket, Key=Key + suffix)
            except BaseException:
                if (Bucket, Key) != (bucket, key):
                    self.client.delete_object(Bucket=Bucket, Key=Key)
                raise
        r["S3EC"] = {"Encrypted": True, "InstructionFileCopied": in_file}
        return cast(CopyObjectOutputTypeDef, r)

    def copy(
        self,
        CopySource: Union[str, Dict[str, Any]],
        Bucket: str,
        Key: str,
        ExtraArgs: Optional[Dict[str, Any]] = None,
        Callback: Any = None,
        SourceClient: Any = None,
        Config: Any = None,
    ) -> None:
        """boto3's managed copy. An encrypted source goes through :meth:`copy_object` (so its
        envelope and instruction file come along); a plain one through boto3's ``copy``."""
        bucket, key, version = _copy_source(CopySource)
        extra = dict(ExtraArgs or {})
        if self._describe_source(bucket, key, version, extra) is None:
            self.client.copy(CopySource, Bucket, Key, ExtraArgs=ExtraArgs, Callback=Callback, SourceClient=SourceClient, Config=Config)
            return
        self.copy_object(CopySource=CopySource, Bucket=Bucket, Key=Key, **extra)

    def upload_part_copy(self, *, CopySource: Union[str, Dict[str, Any]], **kwargs: Any) -> Dict[str, Any]:
        """Forwarded for plain sources; refused for an encrypted one (a part copied from it would
        be ciphertext without its envelope in another object)."""
        bucket, key, version = _copy_source(CopySource)
        if self._describe_source(bucket, key, version, kwargs) is not None:
            raise UsageError("upload_part_copy from an encrypted object would store its ciphertext without its envelope; use copy_object")
        return dict(self.client.upload_part_copy(CopySource=CopySource, **kwargs))

    # ------------------------------------------------------------ deletes

    def delete_objects(self, *, Bucket: str, Delete: Dict[str, Any], **kwargs: Any) -> DeleteObjectsOutputTypeDef:
        """boto3's batch delete, with instruction files: each key given without a ``VersionId`` is
        deleted with its instruction file (only if that file is one, as :meth:`delete_object`
        judges), ``max_concurrency`` at a time; keys with a ``VersionId`` go to boto3's
        ``delete_objects`` as they are. Returns boto3's shape (``Deleted``, ``Errors``; ``Quiet``
        leaves out ``Deleted``), plus ``S3EC["InstructionFilesDeleted"]``."""
        objects = list(Delete.get("Objects") or [])
        quiet = bool(Delete.get("Quiet", False))
        versioned = [o for o in objects if o.get("VersionId")]
        plain = [o for o in objects if not o.get("VersionId")]
        deleted: List[DeletedObjectTypeDef] = []
        errors: List[ErrorTypeDef] = []
        ifiles: List[str] = []
        out: Dict[str, Any] = {}
        if versioned:
            r = self.client.delete_objects(Bucket=Bucket, Delete={"Objects": versioned, "Quiet": quiet}, **kwargs)
            deleted.extend(r.get("Deleted") or [])
            errors.extend(r.get("Errors") or [])
            out["ResponseMetadata"] = r.get("ResponseMetadata")

        # What DeleteObject takes of DeleteObjects' arguments (not its ChecksumAlgorithm).
        single = {k: v for k, v in kwargs.items() if k in ("MFA", "BypassGovernanceRetention", "ExpectedBucketOwner", "RequestPayer")}

        def one(o: Dict[str, Any]) -> Tuple[str, Optional[BaseException], bool]:
            try:
                d = self.delete_object(Bucket=Bucket, Key=o["Key"], **single)
                return o["Key"], None, bool(d.get("InstructionFileDeleted"))
            except (S3ECError, ClientError) as e:
                return o["Key"], e, False

        if plain:
            with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
                for key, err, ifile in pool.map(one, plain):
                    if err is None:
                        deleted.append({"Key": key})
                        if ifile:
                            ifiles.append(key + self.instruction_file_suffix)
                    else:
                        resp = getattr(err, "response", {}) or {}
                        code = str(resp.get("Error", {}).get("Code") or getattr(err, "code", "") or type(err).__name__)
                        errors.append({"Key": key, "Code": code, "Message": str(err)})
        if not quiet:
            out["Deleted"] = deleted
        if errors:
            out["Errors"] = errors
        out["S3EC"] = {"InstructionFilesDeleted": ifiles}
        return cast(DeleteObjectsOutputTypeDef, out)
