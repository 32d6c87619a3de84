"""The HTTP side of a Python server of AWS's harness model (`S3ECTestServer`, restJson1; see
test-server/README.md), shared by the servers in this folder: routing, the client table, the
`Content-Metadata` list header and the model's two error shapes. A server supplies a `Backend`
with the four operations; this module never touches an S3EC.

Errors: raise `Reply` (`client_error`, `generic`, `unsupported`); anything else a backend raises
is answered as a `GenericServerError` (a bug of the server, never a client error).
"""

import argparse
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

NAMESPACE = "software.amazon.encryption.s3"
CLIENT_ERROR = "S3EncryptionClientError"
GENERIC_ERROR = "GenericServerError"


class Reply(Exception):
    """An error answer in one of the model's two shapes."""

    def __init__(self, shape, message, status=500):
        super().__init__(message)
        self.shape = shape
        self.message = message
        self.status = status


def generic(message, status=500):
    return Reply(GENERIC_ERROR, message, status)


def client_error(message):
    return Reply(CLIENT_ERROR, message)


def unsupported(who, message):
    """HTTP 501: the implementation lacks the feature (the runner counts the cell unsupported)."""
    return Reply(GENERIC_ERROR, f"unsupported by {who}: {message}", 501)


def scrub(message, bucket, key):
    """The object key and bucket replaced by `{key}` / `{bucket}`, so that two objects failing
    alike give the same message (the padding-oracle scenario compares messages)."""
    if key:
        message = message.replace(key, "{key}")
    if bucket:
        message = message.replace(bucket, "{bucket}")
    return message


def parse_metadata(value):
    """The Content-Metadata list header: items `[key]:[value]` joined by `,` (quoted items too)."""
    out = {}
    if not value:
        return out
    rest = value.strip()
    while rest:
        if rest.startswith('"'):
            item, i, esc = [], 1, False
            while i < len(rest):
                c = rest[i]
                if esc:
                    item.append(c)
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    break
                else:
                    item.append(c)
                i += 1
            else:
                raise generic("malformed Content-Metadata: unterminated quote", 400)
            text, rest = "".join(item), rest[i + 1 :]
        else:
            cut = len(rest)
            i = rest.find("]")
            while i != -1:
                after = rest[i + 1 :].lstrip()
                if after.startswith(",") and after[1:].lstrip()[:1] in ("[", '"'):
                    cut = i + 1
                    break
                i = rest.find("]", i + 1)
            text, rest = rest[:cut], rest[cut:]
        text = text.strip()
        if text:
            if not (text.startswith("[") and text.endswith("]") and "]:[" in text):
                raise generic(f"malformed Content-Metadata item {text!r}: expected [key]:[value]", 400)
            k, v = text[1:-1].split("]:[", 1)
            out[k] = v
        rest = rest.lstrip()
        if rest.startswith(","):
            rest = rest[1:].lstrip()
        elif rest:
            raise generic("malformed Content-Metadata: expected ',' between items", 400)
    return out


def metadata_list(d):
    return ",".join(f"[{k}]:[{v}]" for k, v in (d or {}).items())


def parse_json(body, what):
    """The JSON object of a request body (`what` names it in the error)."""
    try:
        doc = json.loads(body or b"{}")
    except ValueError as e:
        raise generic(f"invalid JSON: {e}", 400)
    if not isinstance(doc, dict):
        raise generic(f"{what} must be a JSON object", 400)
    return doc


class Clients:
    """The clients made by CreateClient, by id."""

    def __init__(self):
        self.lock = threading.Lock()
        self.clients = {}

    def add(self, client):
        cid = str(uuid.uuid4())
        with self.lock:
            self.clients[cid] = client
        return cid

    def get(self, headers):
        cid = headers.get("ClientID")
        if not cid:
            raise generic("the ClientID header is required", 400)
        with self.lock:
            c = self.clients.get(cid)
        if c is None:
            raise generic(f"no client with ClientID {cid}", 404)
        return c


class Backend:
    """What a server implements. `headers` is the request's header map (case-insensitive)."""

    def create_client(self, config):
        """`config`: the S3ECConfig object. Returns the client object to keep."""
        raise NotImplementedError

    def put_object(self, client, headers, bucket, key, body):
        """Returns nothing; raises Reply on failure."""
        raise NotImplementedError

    def get_object(self, client, headers, bucket, key):
        """Returns (plaintext bytes, user metadata dict)."""
        raise NotImplementedError

    def reencrypt(self, client, headers, bucket, key, key_material):
        """`key_material`: the new KeyMaterial object. Returns nothing."""
        raise NotImplementedError


def make_handler(backend):
    clients = Clients()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: no request log (and never key material)
            pass

        def _body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _send(self, status, body, headers):
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, doc):
            self._send(200, json.dumps(doc).encode(), {"Content-Type": "application/json"})

        def _error(self, r):
            body = json.dumps({"__type": f"{NAMESPACE}#{r.shape}", "message": r.message}).encode()
            self._send(r.status, body, {"Content-Type": "application/json", "X-Amzn-Errortype": r.shape})

        def _route(self):
            path = self.path.split("?", 1)[0]
            return [unquote(s) for s in path.strip("/").split("/")]

        def _dispatch(self, fn):
            try:
                fn()
            except Reply as r:
                self._error(r)
            except Exception as e:  # a bug of this server, never a client error
                self._error(generic(f"{type(e).__name__}: {e}"))

        def do_POST(self):
            def run():
                seg, body = self._route(), self._body()
                if seg == ["client"]:
                    config = parse_json(body, "the CreateClient body").get("config")
                    if config is None:
                        config = {}
                    if not isinstance(config, dict):
                        raise generic("config must be an object", 400)
                    return self._json({"clientId": clients.add(backend.create_client(config))})
                if len(seg) == 4 and seg[0] == "object" and seg[3] == "reencrypt":
                    client = clients.get(self.headers)
                    km = parse_json(body, "the body (a KeyMaterial)")
                    if not isinstance(km, dict):
                        raise generic("the body must be a KeyMaterial object", 400)
                    backend.reencrypt(client, self.headers, seg[1], seg[2], km)
                    out = {"bucket": seg[1], "key": seg[2]}
                    if self.headers.get("InstructionFileSuffix"):
                        out["instructionFileSuffix"] = self.headers["InstructionFileSuffix"]
                    return self._json(out)
                raise generic(f"no operation for POST {self.path}", 404)

            self._dispatch(run)

        def do_PUT(self):
            def run():
                seg, body = self._route(), self._body()
                if len(seg) != 3 or seg[0] != "object":
                    raise generic(f"no operation for PUT {self.path}", 404)
                client = clients.get(self.headers)
                backend.put_object(client, self.headers, seg[1], seg[2], body)
                md = parse_metadata(self.headers.get("Content-Metadata", ""))
                self._json({"bucket": seg[1], "key": seg[2], "metadata": [metadata_list({k: v}) for k, v in md.items()]})

            self._dispatch(run)

        def do_GET(self):
            def run():
                seg = self._route()
                if len(seg) != 3 or seg[0] != "object":
                    raise generic(f"no operation for GET {self.path}", 404)
                client = clients.get(self.headers)
                plaintext, user_metadata = backend.get_object(client, self.headers, seg[1], seg[2])
                headers = {"Content-Type": "application/octet-stream"}
                listed = metadata_list(user_metadata)
                try:
                    listed.encode("latin-1")
                    headers["Content-Metadata"] = listed
                except UnicodeEncodeError:
                    pass
                self._send(200, plaintext, headers)

            self._dispatch(run)

    return Handler


def serve(backend, description):
    """Parse `--port`, listen on 127.0.0.1, print `listening on 127.0.0.1:PORT`, serve until
    interrupted (SIGINT) or terminated."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(backend))
    server.daemon_threads = True
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
