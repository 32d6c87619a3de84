"""Rewrite a V1/V2 object as V3 in place, losing nothing on the way.

The sequence (every step must succeed before the next one starts):

1. **Describe** the object (HEAD + instruction file): already V3 → nothing to do.
2. **Read** it under a reading policy that admits the legacy formats, to a temporary file:
   plaintext ``P``, its SHA-256, and the ETag ``E`` the read was pinned to (every GET of the read
   carries ``If-Match: E``, so ``P`` is the plaintext of exactly that version).
3. **Write** ``P`` as V3 to a temporary key ``T = Key + ".s3ec-migrate-<random>"``
   (``If-None-Match: *``), with the user metadata and content type of the original.
4. **Verify** ``T``: read it back strictly (REQUIRE_ENCRYPT_REQUIRE_DECRYPT, no legacy flag) and
   compare its SHA-256 with ``P``'s.
5. **Replace**: copy ``T``'s stored bytes and metadata onto ``Key`` with ``If-Match: E`` (a
   conditional PutObject, or for large objects a multipart copy completed with ``If-Match: E``).
   If the object changed since step 2, S3 refuses (412) and the original is untouched:
   :class:`ObjectChangedError`, ``T`` is deleted.
6. **Verify** ``Key`` strictly again. If that fails, ``T`` (a verified V3 copy) is kept and its
   name is in the error.
7. **Clean up**: delete ``T`` (and its instruction file), and the original's V1/V2 instruction
   file when the envelope moved into the metadata.

At no point is the only copy of the plaintext the one being overwritten: until step 5 the
original is untouched; after it, both ``Key`` and ``T`` hold the verified V3 object until step 6
has read ``Key`` back.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from typing import Any, Dict, Mapping, Optional

from ._client import CommitmentPolicy, S3EncryptionClient
from ._native import ObjectChangedError, StorageError

MiB = 1 << 20
_COPY_PART = 64 * MiB
_SINGLE_COPY_LIMIT = 256 * MiB


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for c in iter(lambda: f.read(1 << 20), b""):
            h.update(c)
    return h.hexdigest()


def _sha256_body(body: Any) -> str:
    h = hashlib.sha256()
    try:
        for c in iter(lambda: body.read(1 << 20), b""):
            h.update(c)
    finally:
        body.close()
    return h.hexdigest()


def _status(e: BaseException) -> int:
    r = getattr(e, "response", None) or {}
    return int(r.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def migrate_object(
    client: Any,
    keyring: Any,
    *,
    Bucket: str,
    Key: str,
    EncryptionContext: Optional[Mapping[str, str]] = None,
    NewEncryptionContext: Optional[Mapping[str, str]] = None,
    NewKeyring: Any = None,
    placement: str = "metadata",
    instruction_file_suffix: str = ".instruction",
    temp_dir: Optional[str] = None,
) -> Dict[str, Any]:
    """Rewrite ``Bucket/Key`` (V1 or V2, e.g. written by ``s3-encryption`` 0.1.3) as V3.

    ``client`` is a boto3 S3 client; ``keyring`` opens the old object, ``NewKeyring`` (default:
    the same) wraps the new one. ``EncryptionContext`` is the old object's (KMS),
    ``NewEncryptionContext`` the new one's (default: the old one). Returns a dict with
    ``Migrated`` (False when the object already was V3), ``FromVersion``, ``ETag`` (the new
    object's) and ``PlaintextSHA256``. See the module documentation for the exact sequence.
    """
    new_keyring = NewKeyring if NewKeyring is not None else keyring
    new_ctx = NewEncryptionContext if NewEncryptionContext is not None else EncryptionContext
    reader = S3EncryptionClient(
        client,
        keyring,
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
        enable_legacy_wrapping_algorithms=True,
        enable_legacy_unauthenticated_modes=True,
        instruction_file_suffix=instruction_file_suffix,
        memory_budget=0,
        temp_dir=temp_dir,
    )
    strict = S3EncryptionClient(
        client,
        new_keyring,
        placement=placement,
        instruction_file_suffix=instruction_file_suffix,
        temp_dir=temp_dir,
    )
    # 1. describe
    head = reader.head_object(Bucket=Bucket, Key=Key)
    info = head["S3EC"]
    if info["format_version"] == "V3":
        return {"Migrated": False, "FromVersion": "V3", "ETag": head.get("ETag")}
    old_had_instruction_file = bool(info["instruction_file"])
    if placement == "instruction_file" and old_had_instruction_file:
        # Writing the new instruction file would overwrite the old envelope before the
        # conditional replace: refuse rather than risk the original.
        from ._native import UsageError

        raise UsageError(
            "the object keeps its envelope in an instruction file: migrate it with placement='metadata'"
        )
    # 2. read (pinned to one ETag)
    fd, ptext = tempfile.mkstemp(prefix=".s3ec-migrate-", dir=temp_dir)
    os.close(fd)
    tmp_key = f"{Key}.s3ec-migrate-{uuid.uuid4().hex[:12]}"
    tmp_written = False
    try:
        got = reader.get_object(Bucket=Bucket, Key=Key, EncryptionContext=EncryptionContext)
        etag = got["S3EC"]["ETag"]
        if not etag:
            raise StorageError("the object has no ETag: cannot replace it conditionally")
        body = got["Body"]
        with open(ptext, "wb") as f:
            for c in body.iter_chunks():
                f.write(c)
        body.close()
        digest = _sha256_file(ptext)
        metadata = got.get("Metadata") or {}
        extra: Dict[str, Any] = {}
        if got.get("ContentType"):
            extra["ContentType"] = got["ContentType"]
        # 3. write the V3 copy to a fresh temporary key
        with open(ptext, "rb") as f:
            strict.put_object(
                Bucket=Bucket,
                Key=tmp_key,
                Body=f,
                EncryptionContext=new_ctx,
                Metadata=metadata,
                IfNoneMatch="*",
                **extra,
            )
        tmp_written = True
        # 4. verify it strictly
        r = strict.get_object(Bucket=Bucket, Key=tmp_key, EncryptionContext=new_ctx)
        if _sha256_body(r["Body"]) != digest:
            raise StorageError(f"the V3 copy {tmp_key!r} does not read back as the original")
        # 5. replace, conditionally on the original being unchanged
        new_etag = _replace(client, Bucket, tmp_key, Key, etag, placement, instruction_file_suffix)
        # 6. verify the replaced object
        try:
            r = strict.get_object(Bucket=Bucket, Key=Key, EncryptionContext=new_ctx)
            ok = _sha256_body(r["Body"]) == digest
        except Exception as e:  # keep the verified copy
            tmp_written = False
            raise StorageError(
                f"{Key!r} was replaced but does not read back ({e}); the verified V3 copy is kept at {tmp_key!r}"
            ) from e
        if not ok:
            tmp_written = False
            raise StorageError(
                f"{Key!r} was replaced but does not read back as the original; the verified V3 copy is kept at {tmp_key!r}"
            )
        # 7. clean up: the stale old instruction file (the envelope is in the metadata now)
        if old_had_instruction_file and placement == "metadata":
            client.delete_object(Bucket=Bucket, Key=Key + instruction_file_suffix)
        return {
            "Migrated": True,
            "FromVersion": info["format_version"],
            "ETag": new_etag,
            "PlaintextSHA256": digest,
        }
    finally:
        try:
            os.unlink(ptext)
        except OSError:
            pass
        if tmp_written:
            for k in (tmp_key, tmp_key + instruction_file_suffix):
                try:
                    client.delete_object(Bucket=Bucket, Key=k)
                except Exception:
                    pass


def _replace(
    client: Any, bucket: str, src: str, dst: str, etag: str, placement: str, suffix: str
) -> Optional[str]:
    """Copy ``src``'s stored bytes and metadata onto ``dst`` if ``dst``'s ETag is still ``etag``."""
    if placement == "instruction_file":
        # The new instruction file first: while the old object is still in place its metadata
        # envelope takes precedence over any instruction file, so readers are not disturbed.
        r = client.get_object(Bucket=bucket, Key=src + suffix)
        data = r["Body"].read()
        client.put_object(
            Bucket=bucket,
            Key=dst + suffix,
            Body=data,
            Metadata=r.get("Metadata") or {},
            ContentType=r.get("ContentType") or "application/json",
        )
    head = client.head_object(Bucket=bucket, Key=src)
    size = int(head["ContentLength"])
    md = head.get("Metadata") or {}
    ct = head.get("ContentType") or "binary/octet-stream"
    try:
        if size <= _SINGLE_COPY_LIMIT:
            with tempfile.SpooledTemporaryFile(max_size=64 * MiB) as buf:
                r = client.get_object(Bucket=bucket, Key=src, IfMatch=head["ETag"])
                for c in iter(lambda: r["Body"].read(1 << 20), b""):
                    buf.write(c)
                buf.seek(0)
                out = client.put_object(
                    Bucket=bucket, Key=dst, Body=buf, ContentLength=size, Metadata=md, ContentType=ct, IfMatch=etag
                )
            return out.get("ETag")
        up = client.create_multipart_upload(Bucket=bucket, Key=dst, Metadata=md, ContentType=ct)
        uid = up["UploadId"]
        try:
            parts = []
            for i, off in enumerate(range(0, size, _COPY_PART), start=1):
                last = min(off + _COPY_PART, size) - 1
                p = client.upload_part_copy(
                    Bucket=bucket,
                    Key=dst,
                    UploadId=uid,
                    PartNumber=i,
                    CopySource={"Bucket": bucket, "Key": src},
                    CopySourceRange=f"bytes={off}-{last}",
                    CopySourceIfMatch=head["ETag"],
                )
                parts.append({"PartNumber": i, "ETag": p["CopyPartResult"]["ETag"]})
            out = client.complete_multipart_upload(
                Bucket=bucket, Key=dst, UploadId=uid, MultipartUpload={"Parts": parts}, IfMatch=etag
            )
            return out.get("ETag")
        except BaseException:
            client.abort_multipart_upload(Bucket=bucket, Key=dst, UploadId=uid)
            raise
    except Exception as e:
        if _status(e) == 412:
            raise ObjectChangedError(
                f"{dst!r} changed since it was read (If-Match {etag} failed): not replaced"
            ) from None
        raise
