"""Bodies: what a write reads from (``_Reader``), and what a read returns (``StreamingBody``)."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import IO, Any, Callable, Iterator, Optional, Tuple

from .errors import storage_error


_PIECE = 1 << 20


class _Reader:
    """The body of a write as something with ``read(n)``; with its length when known.

    ``callback`` is called with the size of each piece read (boto3's ``Callback=``);
    ``content_md5`` (boto3's ``ContentMD5``, base64) is checked against the plaintext read, and a
    mismatch fails the write before its last byte is sent (S3's ``BadDigest``).
    """

    def __init__(
        self,
        body: Any,
        callback: Optional[Callable[[int], Any]] = None,
        content_md5: Optional[str] = None,
        path: Optional[str] = None,
    ) -> None:
        if body is None:
            body = b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.length: Optional[int]
        # A body in memory, as one bytes object that the native side copies from directly
        # (read_span); never written to.
        self.data: Optional[bytes] = None
        self._pos = 0
        if isinstance(body, (bytes, bytearray, memoryview)):
            self.data = bytes(body)  # the same object for bytes; one copy of the others
            self.stream: Any = io.BytesIO(self.data)
            self.length = len(self.data)
        elif not hasattr(body, "read"):
            raise TypeError("Body must be bytes, str or a file-like object with read()")
        else:
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
        self._callback = callback
        # The file the stream reads (upload_file), for the native side to read by position.
        self._path = path
        self._expected_md5 = content_md5
        self._md5 = hashlib.md5() if content_md5 is not None else None
        self._read = 0
        self._checked = False

    def read_span(self, n: int) -> Optional[Tuple[bytes, int, int]]:
        """For a body in memory: the next ``n`` bytes (fewer at the end) as ``(data, start,
        length)``, ``data`` being the whole body (no copy is made here); None for a stream."""
        if self.data is None:
            return None
        start = self._pos
        length = max(0, min(n, len(self.data) - start))
        self._pos += length
        self.stream.seek(self._pos)
        self._account(memoryview(self.data)[start : start + length])
        return self.data, start, length

    def file_source(self) -> Optional[Tuple[str, int]]:
        """For a file of known length opened by name (``upload_file``, no ``ContentMD5``): its
        path and the offset where the body starts, for the native side to read the parts by
        position (each as boto3 sends it; never whole in memory). None otherwise."""
        if self._path is None or self.length is None or self._md5 is not None:
            return None
        return self._path, int(self.stream.tell())

    def advance(self, n: int) -> None:
        """``n`` bytes of a :meth:`file_source` body were read (and encrypted) natively."""
        self._read += n
        if n and self._callback is not None:
            self._callback(n)

    def take_whole(self, n: int) -> Optional[Tuple[bytes, int]]:
        """For a body in memory with exactly ``n`` bytes left (and no ``callback``): the whole
        body and where those bytes start in it, all of them accounted as read now (``ContentMD5``
        checked before anything is sent). The native side encrypts them as the transport reads
        (a single PutObject's streamed body). None otherwise."""
        if self.data is None or self._callback is not None or len(self.data) - self._pos != n:
            return None
        span = self.read_span(n)
        assert span is not None
        return span[0], span[1]

    def read(self, n: int) -> bytes:
        if self.data is not None:
            span = self.read_span(n)
            assert span is not None
            data, start, length = span
            return data[start : start + length]
        # A stream is read in pieces of at most 1 MiB (the native side gathers a part from
        # several): the memory a piece takes is reused, and no second copy of a part is held.
        b = self.stream.read(min(n, _PIECE) if n is not None and n >= 0 else _PIECE)
        if isinstance(b, str):
            b = b.encode("utf-8")
        b = bytes(b)
        self._account(b)
        return b

    def _account(self, b: Any) -> None:
        self._read += len(b)
        if self._md5 is not None:
            self._md5.update(b)
            if not b or (self.length is not None and self._read >= self.length):
                self._check_md5()
        if len(b) and self._callback is not None:
            self._callback(len(b))

    def _check_md5(self) -> None:
        if self._checked or self._md5 is None:
            return
        self._checked = True
        got = base64.b64encode(self._md5.digest()).decode("ascii")
        if got != self._expected_md5:
            raise storage_error(
                {
                    "Error": {
                        "Code": "BadDigest",
                        "Message": "The Content-MD5 you specified did not match the body (checked "
                        "over the plaintext before it was encrypted; nothing was stored).",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "PutObject",
            )


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

    def read(self, amt: Optional[int] = None) -> bytes:
        if amt is None or amt < 0:
            return self._inner.read()
        return self._inner.read(amt)

    def readinto(self, b: Any) -> int:
        data = self._inner.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def iter_chunks(self, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
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
