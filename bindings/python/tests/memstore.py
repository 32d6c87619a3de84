"""An in-memory S3 stand-in with the transport interface (no network): for the vectors and for
lies that need exact control. Every answer is computed from stored bytes, as S3 would."""

from __future__ import annotations

import hashlib
import io
import re
from concurrent.futures import Future
from typing import Any, Dict, List, Optional, Tuple


class MemTransport:
    def __init__(self) -> None:
        self.objects: Dict[str, Tuple[Dict[str, str], bytes]] = {}
        self.requests: List[Dict[str, Any]] = []
        self.opened: Optional[Dict[str, Any]] = None

    def put(self, key: str, metadata: Dict[str, str], body: bytes) -> None:
        self.objects[key] = (dict(metadata), bytes(body))

    def submit(self, req: Dict[str, Any], body: Optional[bytes]) -> "Future":
        f: Future = Future()
        f.set_result(self._serve(req, body))
        return f

    @staticmethod
    def wait_any(futures: List["Future"]) -> int:
        return 0

    def _serve(self, req: Dict[str, Any], body: Optional[bytes]):
        self.requests.append(req)
        key = req["key"]
        op = req["op"]
        if op in ("HeadObject", "GetObject"):
            if key not in self.objects:
                return 404, [], None, None
            md, data = self.objects[key]
            etag = '"%s"' % hashlib.md5(data).hexdigest()
            if req.get("if_match") and req["if_match"] != etag:
                return 412, [], None, None
            headers = [("etag", etag)]
            headers += [("x-amz-meta-" + k, v) for k, v in md.items()]
            status = 200
            rng = req.get("range")
            if rng and op == "GetObject":
                m = re.fullmatch(r"bytes=(\d+)-(\d+)", rng)
                a, b = int(m.group(1)), int(m.group(2))
                total = len(data)
                if a >= total:
                    return 416, [], None, None
                b = min(b, total - 1)
                headers.append(("content-range", f"bytes {a}-{b}/{total}"))
                data = data[a : b + 1]
                status = 206
            headers.append(("content-length", str(len(data))))
            if req["is_object"] and self.opened is None:
                self.opened = {"Metadata": md, "ETag": etag}
            return status, headers, (io.BytesIO(data) if op == "GetObject" else None), None
        if op == "PutObject":
            self.objects[key] = (dict(req["metadata"]), body or b"")
            return 200, [("etag", '"%s"' % hashlib.md5(body or b"").hexdigest())], None, None
        if op == "DeleteObject":
            self.objects.pop(key, None)
            return 204, [], None, None
        return 501, [], None, None
