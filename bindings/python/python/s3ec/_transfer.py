"""boto3's managed transfers (``upload_file``, ``upload_fileobj``, ``download_file``,
``download_fileobj``), with ``Callback=`` and ``Config=`` (``TransferConfig``) honoured."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from typing import Any, Callable, Dict, Mapping, Optional

from ._args import split_get_args, transfer_config

from ._core import ClientCore

# What a download holds back from the progress it reports until the object is verified: at least
# the stored bytes that are not plaintext (a tag, or CBC padding), so that the counts add up to
# the plaintext length and never pass it.
_HELD_BACK = 32


class _Progress:
    """boto3's ``Callback`` for a download: called with the byte count of each piece of the body
    as it arrives (from the transfer threads), the sum capped below the stored length until the
    read is verified, then topped up to the plaintext length."""

    def __init__(self, callback: Callable[[int], Any]) -> None:
        self._callback = callback
        self._lock = threading.Lock()
        self._cap: Optional[int] = None
        self._received = 0
        self._reported = 0

    def opened(self, resp: Dict[str, Any]) -> None:
        total: Optional[int] = None
        cr = resp.get("ContentRange")
        if isinstance(cr, str) and "/" in cr and not cr.endswith("/*"):
            total = int(cr.rsplit("/", 1)[1])
        elif resp.get("ContentLength") is not None:
            total = int(resp["ContentLength"])
        with self._lock:
            self._cap = max(0, (total or 0) - _HELD_BACK)

    def __call__(self, n: int) -> None:
        with self._lock:
            self._received += n
            cap = self._cap if self._cap is not None else 0
            step = min(self._received, cap) - self._reported
            if step <= 0:
                return
            self._reported += step
        self._callback(step)

    def finish(self, total: int) -> None:
        with self._lock:
            step = total - self._reported
            self._reported = total
        if step > 0:
            self._callback(step)


def _name_file(f: Any, path: str) -> None:
    """Give the open file ``f``, which has no name, the name ``path`` (absent): linked where
    the file is an ``O_TMPFILE`` (Linux), else copied into a new 0600 file."""
    try:
        os.link(f"/proc/self/fd/{f.fileno()}", path)
        return
    except OSError:
        pass
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(out, "wb") as w:
        f.seek(0)
        shutil.copyfileobj(f, w, 1 << 20)


def _split_download_args(extra: Dict[str, Any], ctx: Optional[Mapping[str, str]]) -> Any:
    ctx = extra.pop("EncryptionContext", ctx)
    version_id = extra.pop("VersionId", None)
    return ctx, version_id, split_get_args(extra)


class TransferMixin(ClientCore):
    """The managed transfers of :class:`S3EncryptionClient`."""

    def upload_fileobj(
        self,
        Fileobj: Any,
        Bucket: str,
        Key: str,
        ExtraArgs: Optional[Dict[str, Any]] = None,
        Callback: Optional[Callable[[int], Any]] = None,
        Config: Any = None,
        EncryptionContext: Optional[Mapping[str, str]] = None,
    ) -> None:
        """Encrypt a file-like object into ``Bucket/Key`` (multipart above the threshold; parts
        encrypted in parallel, uploaded ``max_concurrency`` at a time). ``Callback`` is called
        with the byte count of each piece of plaintext read; ``Config`` (boto3's
        ``TransferConfig``) sets ``multipart_threshold``, ``multipart_chunksize`` (rounded down to
        a multiple of 16, at least 5 MiB) and ``max_concurrency`` (at most 16) for this call."""
        self._upload(Fileobj, None, Bucket, Key, ExtraArgs, Callback, Config, EncryptionContext)

    def _upload(
        self,
        fileobj: Any,
        path: Optional[str],
        bucket: str,
        key: str,
        extra_args: Optional[Dict[str, Any]],
        callback: Optional[Callable[[int], Any]],
        config: Any,
        ctx: Optional[Mapping[str, str]],
    ) -> None:
        extra = dict(extra_args or {})
        metadata = extra.pop("Metadata", None)
        ctx = extra.pop("EncryptionContext", ctx)
        # As boto3's managed uploads do (s3transfer): with the client's default
        # request_checksum_calculation ("when_supported") the upload declares CRC32, so each part
        # carries its CRC32 and the completion lists them.
        meta = getattr(self.client, "meta", None)
        if getattr(getattr(meta, "config", None), "request_checksum_calculation", None) == "when_supported":
            extra.setdefault("ChecksumAlgorithm", "CRC32")
        sizes = transfer_config(config, self.part_size, self.multipart_threshold, self.max_concurrency)
        self._put(bucket, key, fileobj, ctx, metadata, extra, callback=callback, sizes=sizes, path=path)

    def upload_file(
        self,
        Filename: str,
        Bucket: str,
        Key: str,
        ExtraArgs: Optional[Dict[str, Any]] = None,
        Callback: Optional[Callable[[int], Any]] = None,
        Config: Any = None,
        EncryptionContext: Optional[Mapping[str, str]] = None,
    ) -> None:
        """Encrypt a local file into ``Bucket/Key`` (see :meth:`upload_fileobj`). Above the
        threshold each part is read from the file by position and encrypted as boto3 reads it
        (as boto3 reads its parts from the file), so no part is held in memory; a file that
        changes while it is uploaded fails the upload (a part read again differs from the part
        first encrypted), and the upload is aborted."""
        with open(Filename, "rb") as f:
            self._upload(f, os.fspath(Filename), Bucket, Key, ExtraArgs, Callback, Config, EncryptionContext)

    def download_file(
        self,
        Bucket: str,
        Key: str,
        Filename: str,
        ExtraArgs: Optional[Dict[str, Any]] = None,
        Callback: Optional[Callable[[int], Any]] = None,
        Config: Any = None,
        EncryptionContext: Optional[Mapping[str, str]] = None,
    ) -> None:
        """Download and decrypt into ``Filename`` (parallel ranged GETs for large objects:
        ``Config``'s ``multipart_chunksize`` and ``max_concurrency``). On Linux each piece is
        authenticated and decrypted as it arrives into a file beside ``Filename`` that has no
        name (``O_TMPFILE``) until the whole object is verified; elsewhere the ciphertext is
        verified in a temporary file beside it and decrypted in place. Only then is the file
        renamed over ``Filename``. A failure leaves ``Filename`` untouched. ``Callback`` is called
        with byte counts as the body arrives; they add up to the plaintext length, and the last
        few bytes are reported once the object is verified. ``ExtraArgs`` takes ``VersionId`` and
        what :meth:`get_object` passes through (conditions, SSE-C, ...)."""
        ctx, version_id, extra = _split_download_args(dict(ExtraArgs or {}), EncryptionContext)
        part_size, _, concurrency = transfer_config(Config, self.part_size, self.multipart_threshold, self.max_concurrency)
        progress = _Progress(Callback) if Callback is not None else None
        d = os.path.dirname(os.path.abspath(Filename))
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(Filename) + ".s3ec-", dir=d)
        os.close(fd)
        try:
            done, _ = self._get(
                Bucket,
                Key,
                ctx,
                version_id,
                None,
                False,
                tmp,
                download=True,
                connections=concurrency,
                extra=extra,
                on_bytes=progress,
                on_open=progress.opened if progress is not None else None,
                part_size=part_size,
            )
            unnamed = done.get("fd")
            if unnamed is not None:
                # The verified plaintext, in a file without a name (Linux: decrypted as it
                # arrived): give it the temporary name, then the target's.
                with open(unnamed, "rb") as f:
                    _name_file(f, tmp)
            os.replace(tmp, Filename)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        if progress is not None:
            progress.finish(int(done["released"]))

    def download_fileobj(
        self,
        Bucket: str,
        Key: str,
        Fileobj: Any,
        ExtraArgs: Optional[Dict[str, Any]] = None,
        Callback: Optional[Callable[[int], Any]] = None,
        Config: Any = None,
        EncryptionContext: Optional[Mapping[str, str]] = None,
    ) -> None:
        """Decrypt into a writable file-like object (verified before the first write);
        ``Callback`` is called with the byte count of each piece written."""
        extra = dict(ExtraArgs or {})
        ctx = extra.pop("EncryptionContext", EncryptionContext)
        version_id = extra.pop("VersionId", None)
        r = self.get_object(Bucket=Bucket, Key=Key, EncryptionContext=ctx, VersionId=version_id, **extra)
        body = r["Body"]
        try:
            for c in body.iter_chunks():
                Fileobj.write(c)
                if Callback is not None:
                    Callback(len(c))
        finally:
            body.close()
