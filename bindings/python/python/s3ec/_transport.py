"""The transport: each request a core machine asks for becomes one boto3 call.

The machines (in Rust) decide every request and check every response. This module only maps a
request dict onto the boto3 call of the same operation, runs it in a thread pool (boto3 releases
the GIL while it waits on sockets) and hands back ``(status, headers, body, upload_id)``. An S3
error status is an answer like any other (the machine decides what it means), so boto3's
``ClientError`` becomes its status and headers here.
"""

from __future__ import annotations

import base64
import hashlib
import io
import queue
import threading
import time
from urllib.parse import quote, urlencode
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Dict, List, Optional, Tuple

from botocore.exceptions import ClientError

Response = Tuple[int, List[Tuple[str, str]], Any, Optional[str]]

# Ranged GETs up to this size are read whole in the worker thread, so that parallel parts
# really transfer in parallel; other bodies stream.
PREFETCH_LIMIT = 32 << 20


def _md5(body: Any) -> str:
    if hasattr(body, "read"):
        # A streamed body (a single PutObject's): read through once, then back to its start.
        h = hashlib.md5()
        body.seek(0)
        for chunk in iter(lambda: body.read(1 << 20), b""):
            h.update(chunk)
        body.seek(0)
        return base64.b64encode(h.digest()).decode("ascii")
    return base64.b64encode(hashlib.md5(bytes(body)).digest()).decode("ascii")


# A streamed object body is read ahead on a thread of its own, in pieces of this size, at most
# READ_AHEAD_PIECES of them ahead of the machine: the socket is read while the previous piece
# is decrypted (with the GIL released), and at most 4 MiB wait in memory.
READ_AHEAD_PIECE = 1 << 20
READ_AHEAD_PIECES = 4


class _ReadAhead:
    """A response body read ahead on its own thread. ``read(n)`` returns at most ``n`` bytes
    (``b""`` at the end) and raises what the body raised. ``close`` stops the thread and closes
    the body."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._queue: "queue.Queue[Any]" = queue.Queue(READ_AHEAD_PIECES)
        self._stop = threading.Event()
        self._rest = b""
        self._ended = False
        self._thread = threading.Thread(target=self._run, name="s3ec-body", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                b = self._inner.read(READ_AHEAD_PIECE)
                self._queue.put(b)
                if not b:
                    return
        except BaseException as e:  # handed to the reader, raised there
            self._queue.put(e)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts: List[bytes] = []
            while True:
                b = self.read(READ_AHEAD_PIECE)
                if not b:
                    return b"".join(parts)
                parts.append(b)
        if self._rest:
            b, self._rest = self._rest[:n], self._rest[n:]
            return b
        if self._ended or n == 0:
            return b""
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        if not item:
            self._ended = True
            return b""
        if len(item) > n:
            item, self._rest = item[:n], item[n:]
        return bytes(item)

    def close(self) -> None:
        self._stop.set()
        self._ended = True
        # Unblock the thread if it waits on a full queue, and let it see the stop (it finishes
        # the piece it is reading first; a stalled server gets 5 s before the body is closed
        # under it).
        deadline = time.monotonic() + 5
        while self._thread.is_alive() and time.monotonic() < deadline:
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._inner.close()


class _Counting:
    """A response body that reports the size of each piece read from it."""

    def __init__(self, inner: Any, on_bytes: Callable[[int], None]) -> None:
        self._inner = inner
        self._on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        b: bytes = self._inner.read(n)
        if b:
            self._on_bytes(len(b))
        return b

    def close(self) -> None:
        self._inner.close()


def status_ok(r: Dict[str, Any]) -> bool:
    return 200 <= int(r.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) < 300


def _headers(resp: Dict[str, Any]) -> List[Tuple[str, str]]:
    h = resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    return [(str(k), str(v)) for k, v in h.items()]


class Boto3Transport:
    """Runs the core's requests on a boto3 S3 client.

    ``extra`` maps an operation name (``"PutObject"``, ``"CompleteMultipartUpload"``, ...) to
    extra boto3 arguments for requests on the object itself (not its instruction file), e.g.
    ``{"PutObject": {"IfMatch": etag}}``.
    """

    def __init__(
        self,
        client: Any,
        max_workers: int = 8,
        extra: Optional[Dict[str, Dict[str, Any]]] = None,
        instruction_extra: Optional[Dict[str, Dict[str, Any]]] = None,
        on_open: Optional[Callable[[Dict[str, Any]], None]] = None,
        on_bytes: Optional[Callable[[int], None]] = None,
        content_md5: bool = False,
    ) -> None:
        self.client = client
        self.extra = extra or {}
        self.instruction_extra = instruction_extra or {}
        self.on_open = on_open
        # Called with the byte count of each piece of the object's body as it is read (Callback=).
        self.on_bytes = on_bytes
        # Send Content-MD5 over each body actually sent (PutObject, UploadPart): the ciphertext.
        self.content_md5 = content_md5
        # The first boto3 error answered to a request on the object itself: (operation, response).
        # An error status is an answer the machine judges; the client raises this response as a
        # ClientError when the machine's verdict is a storage error.
        self.error: Optional[Tuple[str, Dict[str, Any]]] = None
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="s3ec")
        self._parts: Dict[str, Dict[int, Dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.opened: Optional[Dict[str, Any]] = None
        self.written: Optional[Dict[str, Any]] = None

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> "Boto3Transport":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the two calls the native driver makes

    def submit(self, req: Dict[str, Any], body: Any) -> "Future[Response]":
        return self._pool.submit(self._run, req, body)

    @staticmethod
    def wait_any(futures: List["Future[Response]"]) -> int:
        done, _ = wait(futures, return_when=FIRST_COMPLETED)
        for i, f in enumerate(futures):
            if f in done:
                return i
        return 0

    # -- mapping

    def _run(self, req: Dict[str, Any], body: Any) -> Response:
        try:
            return self._call(req, body)
        except ClientError as e:
            r: Dict[str, Any] = dict(e.response or {})
            if req.get("is_object"):
                with self._lock:
                    if self.error is None:
                        self.error = (str(req["op"]), dict(r))
            md = r.get("ResponseMetadata", {})
            status = int(md.get("HTTPStatusCode") or 0)
            if status == 0:
                code = str(r.get("Error", {}).get("Code", ""))
                status = int(code) if code.isdigit() else 500
            return status, _headers(r), None, None

    def _extra(self, req: Dict[str, Any]) -> Dict[str, Any]:
        table = self.extra if req["is_object"] else self.instruction_extra
        return dict(table.get(req["op"], {}))

    def _call(self, req: Dict[str, Any], body: Any) -> Response:
        c = self.client
        op = req["op"]
        a: Dict[str, Any] = {"Bucket": req["bucket"], "Key": req["key"]}
        if op in ("HeadObject", "GetObject"):
            # The machine's own pins (version, If-Match on the ETag it saw) win over the
            # caller's arguments of the same name: they only narrow what the caller asked.
            if req["version_id"]:
                a["VersionId"] = req["version_id"]
            if req["if_match"]:
                a["IfMatch"] = req["if_match"]
            if op == "HeadObject":
                r = c.head_object(**{**self._extra(req), **a})
                self._opened(req, r)
                return 200, _headers(r), None, None
            if req["range"]:
                a["Range"] = req["range"]
            r = c.get_object(**{**self._extra(req), **a})
            self._opened(req, r)
            stream = r["Body"]
            limit = req.get("body_limit")
            if req["range"] and limit is not None and limit <= PREFETCH_LIMIT:
                data = stream.read(limit + 1)
                stream.close()
                if self.on_bytes is not None and req["is_object"]:
                    self.on_bytes(len(data))
                stream = io.BytesIO(data)
            else:
                if req["is_object"] and status_ok(r):
                    stream = _ReadAhead(stream)
                if self.on_bytes is not None and req["is_object"]:
                    stream = _Counting(stream, self.on_bytes)
            status = int(r["ResponseMetadata"]["HTTPStatusCode"])
            return status, _headers(r), stream, None
        if op == "PutObject":
            a["Body"] = body if body is not None else b""
            if req["content_length"] is not None:
                a["ContentLength"] = req["content_length"]
            if req["content_type"]:
                a["ContentType"] = req["content_type"]
            a["Metadata"] = req["metadata"]
            self._conditions(req, a, if_match=True, tagging=True)
            a.update(self._extra(req))
            if self.content_md5 and req["is_object"]:
                a["ContentMD5"] = _md5(a["Body"])
            r = c.put_object(**a)
            if req["is_object"]:
                self.written = r
            return int(r["ResponseMetadata"]["HTTPStatusCode"]), _headers(r), None, None
        if op == "CreateMultipartUpload":
            if req["content_type"]:
                a["ContentType"] = req["content_type"]
            a["Metadata"] = req["metadata"]
            self._conditions(req, a, if_match=False, tagging=True)
            a.update(self._extra(req))
            r = c.create_multipart_upload(**a)
            uid = r.get("UploadId", "")
            with self._lock:
                self._parts[uid] = {}
            return int(r["ResponseMetadata"]["HTTPStatusCode"]), _headers(r), None, uid
        if op == "UploadPart":
            n = int(req["part_number"])
            a.update(self._extra(req))
            a["Body"] = body if body is not None else b""
            if self.content_md5 and req["is_object"]:
                a["ContentMD5"] = _md5(a["Body"])
            r = c.upload_part(**a, UploadId=req["upload_id"], PartNumber=n, ContentLength=req["content_length"])
            part = {"PartNumber": n, "ETag": r["ETag"]}
            for k in ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumSHA1", "ChecksumSHA256", "ChecksumCRC64NVME"):
                if r.get(k):
                    part[k] = r[k]
            with self._lock:
                self._parts.setdefault(req["upload_id"], {})[n] = part
            return int(r["ResponseMetadata"]["HTTPStatusCode"]), _headers(r), None, None
        if op == "CompleteMultipartUpload":
            uid = req["upload_id"]
            with self._lock:
                parts = [p for _, p in sorted(self._parts.pop(uid, {}).items())]
            self._conditions(req, a, if_match=True, tagging=False)
            a.update(self._extra(req))
            r = c.complete_multipart_upload(**a, UploadId=uid, MultipartUpload={"Parts": parts})
            if req["is_object"]:
                self.written = r
            return int(r["ResponseMetadata"]["HTTPStatusCode"]), _headers(r), None, None
        if op == "AbortMultipartUpload":
            with self._lock:
                self._parts.pop(req["upload_id"], None)
            a.update(self._extra(req))
            r = c.abort_multipart_upload(**a, UploadId=req["upload_id"])
            return int(r["ResponseMetadata"]["HTTPStatusCode"]), _headers(r), None, None
        if op == "DeleteObject":
            a.update(self._extra(req))
            r = c.delete_object(**a)
            return int(r["ResponseMetadata"]["HTTPStatusCode"]), _headers(r), None, None
        raise ValueError(f"unknown operation {op}")

    @staticmethod
    def _conditions(req: Dict[str, Any], a: Dict[str, Any], if_match: bool, tagging: bool) -> None:
        # What the machine itself asks for on a write: a condition on the object's current ETag
        # (a migration's conditional replace) and the tags to store.
        if if_match and req.get("if_match"):
            a["IfMatch"] = req["if_match"]
        if tagging and req.get("tagging"):
            a["Tagging"] = req["tagging"]

    def get_object_tagging(self, bucket: str, key: str, version_id: Optional[str]) -> Tuple[int, Optional[str]]:
        """The object's tags as ``x-amz-tagging`` takes them (``k=v&...``, URL-encoded), with the
        status; an error status is an answer (``(404, None)``: the object is gone)."""
        a: Dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            a["VersionId"] = version_id
        try:
            r = self._pool.submit(self.client.get_object_tagging, **a).result()
        except ClientError as e:
            md = (e.response or {}).get("ResponseMetadata", {})
            return int(md.get("HTTPStatusCode") or 500), None
        tags = [(t["Key"], t["Value"]) for t in r.get("TagSet") or []]
        return 200, urlencode(tags, quote_via=quote)

    def _opened(self, req: Dict[str, Any], r: Dict[str, Any]) -> None:
        # The first response about the object itself: what get_object/head_object return.
        if req["is_object"] and self.opened is None:
            self.opened = {k: v for k, v in r.items() if k != "Body"}
            if self.on_open is not None:
                self.on_open(self.opened)
