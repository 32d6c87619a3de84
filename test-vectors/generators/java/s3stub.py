#!/usr/bin/env python3
"""A tiny S3 stand-in for driving the AWS SDK for Java 1.x on loopback.

Standard library only. Path-style addressing (http://127.0.0.1:PORT/bucket/key), no authentication
(signatures are ignored). It understands what the Java SDK sends:

* ``Expect: 100-continue`` (answered by http.server because we speak HTTP/1.1),
* ``aws-chunked`` bodies (``x-amz-content-sha256: STREAMING-...`` / ``Content-Encoding: aws-chunked``),
  and plain ``Transfer-Encoding: chunked``,
* PutObject, GetObject / HeadObject (with ``Range: bytes=a-b``, ``bytes=a-`` and ``bytes=-n``),
  DeleteObject, CreateBucket, and multipart upload (create, upload part, complete, abort).

Objects live on disk under --store, one folder per object::

    STORE/objects/<bucket>/<quoted key>/body        the exact bytes stored
    STORE/objects/<bucket>/<quoted key>/meta.json   {"user_metadata": [[header-name-as-received, value], ...],
                                                     "content_type": ...}

``user_metadata`` keeps every ``x-amz-meta-*`` header exactly as the client sent it (name case
included), so a test harness can record what an SDK stored. Like S3, responses send the user metadata
names in lower case.
"""

import argparse
import hashlib
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

META_PREFIX = "x-amz-meta-"
LOCK = threading.Lock()


def obj_dir(store, bucket, key):
    return os.path.join(store, "objects", bucket, urllib.parse.quote(key, safe=""))


def upload_dir(store, upload_id):
    return os.path.join(store, "uploads", upload_id)


def write_atomic(path, data):
    tmp = path + ".tmp-" + uuid.uuid4().hex
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "s3stub/1"

    # ---- plumbing -------------------------------------------------------------------------
    def log_message(self, fmt, *args):
        if self.server.log_file:
            with LOCK, open(self.server.log_file, "a") as f:
                f.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))

    def log_request(self, code="-", size="-"):
        if not self.server.log_file:
            return
        interesting = ("Range", "Expect", "Content-Encoding", "Transfer-Encoding", "x-amz-content-sha256",
                       "x-amz-decoded-content-length", "Content-Length")
        extra = " ".join("%s=%s" % (h, self.headers[h]) for h in interesting if self.headers.get(h) is not None)
        self.log_message('"%s" %s %s', self.requestline, str(code), extra)

    def parse_target(self):
        u = urllib.parse.urlsplit(self.path)
        parts = u.path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0]) if parts and parts[0] else ""
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        return bucket, key, query

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            raw = bytearray()
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                raw += self.rfile.read(size)
                self.rfile.readline()
            raw = bytes(raw)
        else:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
        sha = self.headers.get("x-amz-content-sha256") or ""
        ce = (self.headers.get("Content-Encoding") or "").lower()
        if sha.startswith("STREAMING-") or "aws-chunked" in ce:
            raw = self.decode_aws_chunked(raw)
            declared = self.headers.get("x-amz-decoded-content-length")
            if declared is not None and int(declared) != len(raw):
                raise ValueError("aws-chunked length mismatch: %s != %d" % (declared, len(raw)))
        return raw

    @staticmethod
    def decode_aws_chunked(raw):
        out = bytearray()
        pos = 0
        while True:
            eol = raw.index(b"\r\n", pos)
            header = raw[pos:eol]
            size = int(header.split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                break
            out += raw[pos:pos + size]
            pos += size
            if raw[pos:pos + 2] != b"\r\n":
                raise ValueError("bad aws-chunked framing")
            pos += 2
        return bytes(out)

    def send(self, status, body=b"", headers=None, content_type="application/xml"):
        self.send_response(status)
        self.send_header("x-amz-request-id", uuid.uuid4().hex[:16].upper())
        self.send_header("Date", formatdate(usegmt=True))
        if content_type is not None and "Content-Type" not in (headers or {}):
            self.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message, resource=""):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message>"
                "<Resource>%s</Resource><RequestId>0</RequestId></Error>"
                % (code, escape(message), escape(resource))).encode()
        if self.command == "HEAD":
            self.send(status, b"", {"Content-Length": "0"})
        else:
            self.send(status, body)

    def guarded(self, fn):
        try:
            fn()
        except Exception as e:  # report, keep serving
            sys.stderr.write("s3stub: %s %s failed: %r\n" % (self.command, self.path, e))
            try:
                self.error(500, "InternalError", repr(e))
            except Exception:
                pass

    # ---- verbs ----------------------------------------------------------------------------
    def do_PUT(self):
        self.guarded(self._put)

    def do_POST(self):
        self.guarded(self._post)

    def do_GET(self):
        self.guarded(self._get)

    def do_HEAD(self):
        self.guarded(self._get)

    def do_DELETE(self):
        self.guarded(self._delete)

    def user_metadata(self):
        return [[k, v] for k, v in self.headers.items() if k.lower().startswith(META_PREFIX)]

    def _put(self):
        bucket, key, q = self.parse_target()
        body = self.read_body()
        store = self.server.store
        if not key:  # CreateBucket
            os.makedirs(os.path.join(store, "objects", bucket), exist_ok=True)
            self.send(200, b"", {"Location": "/" + bucket})
            return
        if "uploadId" in q and "partNumber" in q:
            d = upload_dir(store, q["uploadId"][0])
            if not os.path.isdir(d):
                self.error(404, "NoSuchUpload", "no such upload", self.path)
                return
            n = int(q["partNumber"][0])
            write_atomic(os.path.join(d, "part-%05d" % n), body)
            self.send(200, b"", {"ETag": '"%s"' % hashlib.md5(body).hexdigest()})
            return
        if self.headers.get("x-amz-copy-source"):
            self.error(501, "NotImplemented", "CopyObject is not supported", self.path)
            return
        self.store_object(bucket, key, body, self.user_metadata(),
                          self.headers.get("Content-Type") or "binary/octet-stream",
                          '"%s"' % hashlib.md5(body).hexdigest())
        self.send(200, b"", {"ETag": '"%s"' % hashlib.md5(body).hexdigest()})

    def store_object(self, bucket, key, body, meta, content_type, etag):
        d = obj_dir(self.server.store, bucket, key)
        os.makedirs(d, exist_ok=True)
        with LOCK:
            write_atomic(os.path.join(d, "body"), body)
            write_atomic(os.path.join(d, "meta.json"), json.dumps(
                {"bucket": bucket, "key": key, "user_metadata": meta,
                 "content_type": content_type, "etag": etag}, indent=1).encode())

    def _post(self):
        bucket, key, q = self.parse_target()
        body = self.read_body()
        store = self.server.store
        if "uploads" in q:
            upload_id = uuid.uuid4().hex
            d = upload_dir(store, upload_id)
            os.makedirs(d)
            with open(os.path.join(d, "init.json"), "w") as f:
                json.dump({"bucket": bucket, "key": key, "user_metadata": self.user_metadata(),
                           "content_type": self.headers.get("Content-Type") or "binary/octet-stream"}, f)
            xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult>"
                   "<Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>"
                   % (escape(bucket), escape(key), upload_id)).encode()
            self.send(200, xml)
            return
        if "uploadId" in q:
            upload_id = q["uploadId"][0]
            d = upload_dir(store, upload_id)
            if not os.path.isdir(d):
                self.error(404, "NoSuchUpload", "no such upload", self.path)
                return
            with open(os.path.join(d, "init.json")) as f:
                init = json.load(f)
            numbers = [int(x) for x in re.findall(rb"<PartNumber>\s*(\d+)\s*</PartNumber>", body)]
            data = bytearray()
            md5s = b""
            for n in numbers:
                with open(os.path.join(d, "part-%05d" % n), "rb") as f:
                    part = f.read()
                data += part
                md5s += hashlib.md5(part).digest()
            etag = '"%s-%d"' % (hashlib.md5(md5s).hexdigest(), len(numbers))
            self.store_object(bucket, key, bytes(data), init["user_metadata"], init["content_type"], etag)
            for name in os.listdir(d):
                os.remove(os.path.join(d, name))
            os.rmdir(d)
            xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult>"
                   "<Location>http://127.0.0.1/%s/%s</Location><Bucket>%s</Bucket><Key>%s</Key>"
                   "<ETag>%s</ETag></CompleteMultipartUploadResult>"
                   % (escape(bucket), escape(key), escape(bucket), escape(key), escape(etag))).encode()
            self.send(200, xml)
            return
        self.error(501, "NotImplemented", "unsupported POST", self.path)

    def _delete(self):
        bucket, key, q = self.parse_target()
        self.read_body()
        if "uploadId" in q:
            d = upload_dir(self.server.store, q["uploadId"][0])
            if os.path.isdir(d):
                for name in os.listdir(d):
                    os.remove(os.path.join(d, name))
                os.rmdir(d)
            self.send(204, b"", content_type=None)
            return
        d = obj_dir(self.server.store, bucket, key)
        if key and os.path.isdir(d):
            for name in os.listdir(d):
                os.remove(os.path.join(d, name))
            os.rmdir(d)
        self.send(204, b"", content_type=None)

    def _get(self):
        bucket, key, q = self.parse_target()
        if not key:
            self.error(501, "NotImplemented", "bucket-level GET is not supported", self.path)
            return
        d = obj_dir(self.server.store, bucket, key)
        try:
            with LOCK:
                with open(os.path.join(d, "meta.json")) as f:
                    meta = json.load(f)
                with open(os.path.join(d, "body"), "rb") as f:
                    body = f.read()
        except FileNotFoundError:
            self.error(404, "NoSuchKey", "The specified key does not exist.", "/%s/%s" % (bucket, key))
            return
        total = len(body)
        headers = {
            "ETag": meta["etag"],
            "Last-Modified": formatdate(os.path.getmtime(os.path.join(d, "body")), usegmt=True),
            "Accept-Ranges": "bytes",
            "Content-Type": meta["content_type"],
        }
        for k, v in meta["user_metadata"]:
            headers[k.lower()] = v
        status = 200
        rng = self.headers.get("Range")
        if rng:
            m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", rng)
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    first = int(m.group(1))
                    last = int(m.group(2)) if m.group(2) else total - 1
                else:
                    n = int(m.group(2))
                    first, last = max(0, total - n), total - 1
                if first >= total or (m.group(2) and m.group(1) and last < first):
                    if first >= total:
                        body416 = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidRange</Code>"
                                   "<Message>The requested range is not satisfiable</Message>"
                                   "<RangeRequested>%s</RangeRequested><ActualObjectSize>%d</ActualObjectSize>"
                                   "</Error>" % (escape(rng), total)).encode()
                        self.send(416, body416 if self.command != "HEAD" else b"",
                                  {"Content-Range": "bytes */%d" % total})
                        return
                else:
                    last = min(last, total - 1)
                    body = body[first:last + 1]
                    headers["Content-Range"] = "bytes %d-%d/%d" % (first, last, total)
                    status = 206
        headers["Content-Length"] = str(len(body))
        self.send(status, body, headers, content_type=None)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients (the Java SDK among them) abort connections they no longer need; that is not an error.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log-file")
    args = ap.parse_args()
    os.makedirs(os.path.join(args.store, "objects"), exist_ok=True)
    os.makedirs(os.path.join(args.store, "uploads"), exist_ok=True)
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.store = args.store
    srv.log_file = args.log_file
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, args.port_file)
    # Exit if the script that started us dies without stopping us (e.g. SIGKILL).
    parent = os.getppid()

    def watchdog():
        while True:
            time.sleep(1)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
