#!/usr/bin/env python3
"""A minimal S3 stand-in for the S3EC vector generators (Python standard library only).

Path-style only (/bucket/key), no authentication, in-memory store. It listens on 127.0.0.1
only, on an ephemeral port that it writes to --port-file once it is ready.

Besides serving PUT/GET/HEAD (with single byte ranges, including suffix ranges such as
``bytes=-16``, which the Ruby SDK uses to fetch a GCM tag), it records every object PUT it
receives into --record-dir: ``<bucket>/<quoted key>.body`` holds the exact body bytes, and
``<bucket>/<quoted key>.headers.json`` holds the request headers exactly as they arrived on the
wire (names in the case the client sent, in order).

There is also one non-S3 route used by the read-back harnesses: ``PUT /__raw__/bucket/key``
stores the body with the ``x-amz-meta-*`` request headers given (same as PutObject, but never
touched by any SDK), so a case's metadata reaches the stand-in byte for byte.
"""

import argparse
import email.utils
import hashlib
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STORE = {}
LOCK = threading.Lock()
RECORD_DIR = None


def record(bucket, key, body, headers):
    if RECORD_DIR is None:
        return
    d = os.path.join(RECORD_DIR, bucket)
    os.makedirs(d, exist_ok=True)
    base = os.path.join(d, urllib.parse.quote(key, safe=""))
    for suffix, data in ((".body", body), (".headers.json", json.dumps({"key": key, "headers": headers}, indent=1).encode())):
        tmp = base + suffix + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, base + suffix)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server_version = "s3ec-s3-stub"

    def log_message(self, fmt, *args):  # keep generator output quiet
        if os.environ.get("S3STUB_VERBOSE"):
            sys.stderr.write("s3stub: " + (fmt % args) + "\n")

    def _split(self):
        path = urllib.parse.urlsplit(self.path).path
        raw = False
        if path.startswith("/__raw__/"):
            raw = True
            path = path[len("/__raw__"):]
        parts = path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        return raw, bucket, key

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(n) if n else b""

    def _send(self, code, body=b"", headers=(), head=False):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head:
            self.wfile.write(body)

    def _error(self, code, s3code, head=False):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                "<Message>%s</Message><RequestId>stub</RequestId></Error>" % (s3code, s3code)).encode()
        self._send(code, b"" if head else body, [("Content-Type", "application/xml")], head=head)

    def do_PUT(self):
        raw, bucket, key = self._split()
        body = self._read_body()
        if not key:  # CreateBucket
            self._send(200, headers=[("Location", "/" + bucket)])
            return
        hdrs = [[k, v] for k, v in self.headers.items()]
        meta = [(k, v) for k, v in hdrs if k.lower().startswith("x-amz-meta-")]
        etag = '"%s"' % hashlib.md5(body).hexdigest()
        ctype = self.headers.get("Content-Type", "binary/octet-stream")
        with LOCK:
            STORE[(bucket, key)] = {"body": body, "meta": meta, "etag": etag, "ctype": ctype,
                                    "mtime": email.utils.formatdate(time.time(), usegmt=True)}
            if not raw:
                record(bucket, key, body, hdrs)
        self._send(200, headers=[("ETag", etag)])

    def _get(self, head):
        _, bucket, key = self._split()
        with LOCK:
            obj = STORE.get((bucket, key))
        if obj is None:
            self._error(404, "NoSuchKey", head=head)
            return
        body = obj["body"]
        headers = [("ETag", obj["etag"]), ("Last-Modified", obj["mtime"]),
                   ("Content-Type", obj["ctype"]), ("Accept-Ranges", "bytes")] + list(obj["meta"])
        rng = self.headers.get("Range")
        if rng:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            n = len(body)
            if not m or (m.group(1) == "" and m.group(2) == ""):
                self._error(416, "InvalidRange", head=head)
                return
            if m.group(1) == "":
                first, last = max(0, n - int(m.group(2))), n - 1
            else:
                first = int(m.group(1))
                last = min(int(m.group(2)), n - 1) if m.group(2) else n - 1
            if first >= n or first > last:
                self._error(416, "InvalidRange", head=head)
                return
            headers.append(("Content-Range", "bytes %d-%d/%d" % (first, last, n)))
            self._send(206, body[first:last + 1], headers, head=head)
            return
        self._send(200, body, headers, head=head)

    def do_GET(self):
        self._get(False)

    def do_HEAD(self):
        self._get(True)

    def do_DELETE(self):
        _, bucket, key = self._split()
        with LOCK:
            STORE.pop((bucket, key), None)
        self._send(204)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients may drop a kept-alive connection (for example after refusing an object);
        # that is not an error worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    global RECORD_DIR
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--record-dir")
    a = ap.parse_args()
    RECORD_DIR = a.record_dir
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, a.port_file)
    parent = os.getppid()

    def watch_parent():  # never outlive the script that started us, even if it was SIGKILLed
        while os.getppid() == parent:
            time.sleep(1)
        srv.shutdown()

    threading.Thread(target=watch_parent, daemon=True).start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
