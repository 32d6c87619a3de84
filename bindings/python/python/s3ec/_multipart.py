"""boto3's caller-driven multipart calls on an encrypting client.

The parts of an encrypted upload are segments of one GCM stream, which the core's PUT machine cuts
(its part size, multiples of 16), numbers, encrypts and completes itself, with the tag on the last
part. So the caller's parts are not S3's: ``create_multipart_upload`` starts the machine on a
thread, reading a stream that ``upload_part`` feeds, in part order, and
``complete_multipart_upload`` ends the stream and returns the machine's answer. The ``UploadId``
is this client's (``s3ec-...``): the session lives in this client object, in this process, and
the S3 upload behind it is the machine's. ``upload_part`` answers an ``ETag`` of its own (the MD5
of the plaintext part), which ``complete_multipart_upload`` checks against the part list it is
given. ``abort_multipart_upload`` aborts the machine's upload (nothing is left in S3).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from typing import Any, Dict, List, Optional

from ._body import _Reader
from ._core import ClientCore
from .errors import UsageError

_PREFIX = "s3ec-"


class _Aborted(Exception):
    """The caller aborted the upload: the machine's read fails, and it aborts its upload."""


class _Feed:
    """The stream the machine reads: the parts ``upload_part`` hands over, in order. ``read``
    blocks until a part (or the end) is there; ``put`` blocks while the machine has not taken the
    previous part, so at most one part waits in memory besides the machine's own buffers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._chunk = b""
        self._pos = 0
        self._eof = False
        self._aborted = False

    def read(self, n: int) -> bytes:
        with self._cond:
            while self._pos >= len(self._chunk) and not self._eof and not self._aborted:
                self._cond.wait()
            if self._aborted:
                raise _Aborted("the upload was aborted")
            if self._pos >= len(self._chunk):
                return b""
            out = self._chunk[self._pos : self._pos + n]
            self._pos += len(out)
            self._cond.notify_all()
            return out

    def put(self, data: bytes, done: threading.Event) -> None:
        with self._cond:
            while self._pos < len(self._chunk) and not self._aborted and not done.is_set():
                self._cond.wait(0.5)
            self._chunk = data
            self._pos = 0
            self._cond.notify_all()

    def end(self, aborted: bool = False) -> None:
        with self._cond:
            if aborted:
                self._aborted = True
            self._eof = True
            self._cond.notify_all()


class _Session:
    def __init__(self, client: "MultipartMixin", bucket: str, key: str, kwargs: Dict[str, Any]) -> None:
        self.bucket = bucket
        self.key = key
        self.feed = _Feed()
        self.next_part = 1
        self.etags: List[str] = []
        self.done = threading.Event()
        self.result: Optional[Dict[str, Any]] = None
        self.error: Optional[BaseException] = None
        kwargs = dict(kwargs)
        metadata = kwargs.pop("Metadata", None)
        ctx = kwargs.pop("EncryptionContext", None)

        def run() -> None:
            try:
                self.result = dict(client._put(bucket, key, self.feed, ctx, metadata, kwargs))
            except BaseException as e:  # handed to the caller's next call
                self.error = e
            finally:
                self.done.set()

        self.thread = threading.Thread(target=run, name="s3ec-multipart", daemon=True)
        self.thread.start()

    def raise_error(self) -> None:
        if self.done.is_set() and self.error is not None:
            raise self.error


class MultipartMixin(ClientCore):
    """``create_multipart_upload`` / ``upload_part`` / ``complete_multipart_upload`` /
    ``abort_multipart_upload`` on an encrypting client (see the module documentation)."""

    def _sessions(self) -> Dict[str, _Session]:
        s: Optional[Dict[str, _Session]] = self.__dict__.get("_mpu")
        if s is None:
            s = self.__dict__.setdefault("_mpu", {})
        return s

    def _session(self, upload_id: str, bucket: str, key: str) -> _Session:
        s = self._sessions().get(upload_id)
        if s is None or (s.bucket, s.key) != (bucket, key):
            raise UsageError(f"no encrypted upload {upload_id!r} of {bucket}/{key} in this client")
        return s

    def create_multipart_upload(self, *, Bucket: str, Key: str, **kwargs: Any) -> Dict[str, Any]:
        """Start an encrypted upload; the arguments are :meth:`put_object`'s (but ``Body``)."""
        # The argument check of put_object, now rather than at the first part.
        from ._args import split_put_args

        split_put_args({k: v for k, v in kwargs.items() if k not in ("Metadata", "EncryptionContext")})
        if "ContentMD5" in kwargs:
            raise UsageError("ContentMD5 belongs to upload_part here")
        upload_id = _PREFIX + uuid.uuid4().hex
        self._sessions()[upload_id] = _Session(self, Bucket, Key, kwargs)
        return {"Bucket": Bucket, "Key": Key, "UploadId": upload_id}

    def upload_part(
        self, *, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: Any = b"", **kwargs: Any
    ) -> Dict[str, Any]:
        """Hand over the plaintext of part ``PartNumber`` (parts in order: 1, 2, 3, ...; any
        sizes). Returns this package's ``ETag`` of the part (the MD5 of its plaintext)."""
        s = self._session(UploadId, Bucket, Key)
        s.raise_error()
        if PartNumber != s.next_part:
            raise UsageError(
                f"part {PartNumber} out of order: an encrypted upload takes its parts in order (next: {s.next_part})"
            )
        unknown = set(kwargs) - {"ContentLength", "ContentMD5", "ExpectedBucketOwner", "RequestPayer"}
        if unknown:
            raise UsageError(f"unsupported arguments for an encrypted part: {sorted(unknown)!r}")
        reader = _Reader(Body, content_md5=kwargs.get("ContentMD5"))
        data = b"".join(iter(lambda: reader.read(1 << 20), b""))
        if kwargs.get("ContentLength") is not None and int(kwargs["ContentLength"]) != len(data):
            raise UsageError("ContentLength is not the part's length")
        etag = '"%s"' % hashlib.md5(data).hexdigest()
        if data:
            s.feed.put(data, s.done)
        s.raise_error()
        s.next_part += 1
        s.etags.append(etag)
        return {"ETag": etag}

    def complete_multipart_upload(
        self, *, Bucket: str, Key: str, UploadId: str, MultipartUpload: Optional[Dict[str, Any]] = None, **kwargs: Any
    ) -> Dict[str, Any]:
        """End the stream: the machine encrypts and uploads what remains, adds the tag and
        completes its upload. ``MultipartUpload["Parts"]`` must list the parts handed over, in
        order, with the ETags ``upload_part`` answered."""
        s = self._session(UploadId, Bucket, Key)
        parts = list((MultipartUpload or {}).get("Parts") or [])
        given = [(int(p["PartNumber"]), str(p["ETag"])) for p in parts]
        if given != list(enumerate(s.etags, 1)):
            self.abort_multipart_upload(Bucket=Bucket, Key=Key, UploadId=UploadId)
            raise UsageError("the part list is not the parts handed over (numbers and ETags, in order); the upload was aborted")
        if kwargs:
            raise UsageError(f"give conditions and other arguments to create_multipart_upload: {sorted(kwargs)!r}")
        s.feed.end()
        s.thread.join()
        del self._sessions()[UploadId]
        s.raise_error()
        r = dict(s.result or {})
        r.setdefault("Bucket", Bucket)
        r.setdefault("Key", Key)
        return r

    def abort_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str, **kwargs: Any) -> Dict[str, Any]:
        """Abort an encrypted upload (the machine aborts its S3 upload), or forward boto3's abort
        of any other upload."""
        if not UploadId.startswith(_PREFIX):
            return dict(self.client.abort_multipart_upload(Bucket=Bucket, Key=Key, UploadId=UploadId, **kwargs))
        s = self._session(UploadId, Bucket, Key)
        s.feed.end(aborted=True)
        s.thread.join()
        del self._sessions()[UploadId]
        return {}
