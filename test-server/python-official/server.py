#!/usr/bin/env python3
"""A server for AWS's official Python S3EC (`amazon-s3-encryption-client-python` 4.0.0) that
speaks the cross-SDK harness model (`S3ECTestServer`, restJson1; see test-server/README.md).

Written for this repository from the model; standard library HTTP server plus the client.

    python server.py [--port N]     # 0 (default): any free port

The first line on standard output is `listening on 127.0.0.1:PORT`. S3 and KMS endpoints,
region and credentials come from the standard AWS environment (AWS_ENDPOINT_URL, ...).

Errors follow the model: `S3EncryptionClientError` for what the S3EC raised, `GenericServerError`
for problems of this server. A feature the official client does not have is answered with
`GenericServerError` and HTTP 501, which the runner reports as "unsupported":
  * AES and RSA key material (the client has only a KMS keyring);
  * writing instruction files (`enableInstructionFilePutObject`): it only reads them;
  * `setBufferSize` (no such option);
  * ranged GETs (the client refuses every Range);
  * ReEncrypt (no instruction-file re-encryption).
"""

import argparse
import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
from s3_encryption.exceptions import S3EncryptionClientError as OfficialClientError
from s3_encryption.exceptions import S3EncryptionClientSecurityError as OfficialSecurityError
from s3_encryption.instruction_file_config import InstructionFileConfig
from s3_encryption.materials.kms_keyring import KmsKeyring
from s3_encryption.materials.materials import AlgorithmSuite, CommitmentPolicy

NAMESPACE = "software.amazon.encryption.s3"
S3EC_ERRORS = (OfficialClientError, OfficialSecurityError)

POLICIES = {
    "REQUIRE_ENCRYPT_REQUIRE_DECRYPT": CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
    "REQUIRE_ENCRYPT_ALLOW_DECRYPT": CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
    "FORBID_ENCRYPT_ALLOW_DECRYPT": CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT,
}
ALGORITHMS = {
    "ALG_AES_256_CBC_IV16_NO_KDF": AlgorithmSuite.ALG_AES_256_CBC_IV16_NO_KDF,
    "ALG_AES_256_GCM_IV12_TAG16_NO_KDF": AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF,
    "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY": AlgorithmSuite.ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
}


class Reply(Exception):
    """An error answer in one of the model's two shapes."""

    def __init__(self, shape, message, status=500):
        super().__init__(message)
        self.shape = shape
        self.message = message
        self.status = status


def generic(message, status=500):
    return Reply("GenericServerError", message, status)


def unsupported(message):
    return Reply("GenericServerError", "unsupported by the official Python S3EC: " + message, 501)


def client_error(e):
    return Reply("S3EncryptionClientError", str(e))


def from_exception(e):
    """S3EC exceptions are client errors, unless the S3EC only wrapped an S3/network failure of
    the harness (the official client wraps every exception of put_object and get_object)."""
    if isinstance(e, S3EC_ERRORS):
        cause = e.__cause__
        if isinstance(cause, ClientError):
            code = cause.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                return generic(str(e))
        if isinstance(cause, BotoCoreError) and not isinstance(cause, S3EC_ERRORS):
            return generic(str(e))
        return client_error(e)
    return generic(f"{type(e).__name__}: {e}")


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


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.clients = {}

    def get(self, headers):
        cid = headers.get("ClientID")
        if not cid:
            raise generic("the ClientID header is required", 400)
        with self.lock:
            c = self.clients.get(cid)
        if c is None:
            raise generic(f"no client with ClientID {cid}", 404)
        return c

    def create(self, body):
        try:
            doc = json.loads(body or b"{}")
        except ValueError as e:
            raise generic(f"invalid JSON: {e}", 400)
        config = doc.get("config") or {}
        if not isinstance(config, dict):
            raise generic("config must be an object", 400)
        km = config.get("keyMaterial") or {}
        given = [k for k in ("aesKey", "rsaKey", "kmsKeyId") if km.get(k) is not None]
        if len(given) != 1:
            raise generic("keyMaterial must hold exactly one of aesKey, rsaKey, kmsKeyId", 400)
        if given[0] != "kmsKeyId":
            raise unsupported(f"{given[0]} (the client has only a KMS keyring)")
        if config.get("setBufferSize") is not None:
            raise unsupported("setBufferSize")
        ifc = config.get("instructionFileConfig") or {}
        if ifc.get("enableInstructionFilePutObject"):
            raise unsupported("writing instruction files (enableInstructionFilePutObject)")
        if ifc.get("clientId"):
            raise unsupported("instructionFileConfig.clientId")
        kwargs = {}
        alg = config.get("encryptionAlgorithm")
        if alg is not None:
            if alg not in ALGORITHMS:
                raise generic(f"unknown encryptionAlgorithm {alg}", 400)
            kwargs["encryption_algorithm"] = ALGORITHMS[alg]
        pol = config.get("commitmentPolicy")
        if pol is not None:
            if pol not in POLICIES:
                raise generic(f"unknown commitmentPolicy {pol}", 400)
            kwargs["commitment_policy"] = POLICIES[pol]
        try:
            keyring = KmsKeyring(
                boto3.client("kms"),
                kms_key_id=km["kmsKeyId"],
                enable_legacy_wrapping_algorithms=bool(config.get("enableLegacyWrappingAlgorithms")),
            )
            cfg = S3EncryptionClientConfig(
                keyring=keyring,
                enable_legacy_unauthenticated_modes=bool(config.get("enableLegacyUnauthenticatedModes")),
                enable_delayed_authentication=bool(config.get("enableDelayedAuthenticationMode")),
                instruction_file_config=InstructionFileConfig(
                    disable_get_object=bool(ifc.get("disableInstructionFile"))
                ),
                **kwargs,
            )
            # One boto3 S3 client per S3EC client: the S3EC registers event handlers on it.
            s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
            client = S3EncryptionClient(s3, cfg)
        except S3EC_ERRORS as e:
            raise client_error(e)
        cid = str(uuid.uuid4())
        with self.lock:
            self.clients[cid] = client
        return {"clientId": cid}


STATE = State()


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
                return self._json(STATE.create(body))
            if len(seg) == 4 and seg[0] == "object" and seg[3] == "reencrypt":
                STATE.get(self.headers)
                raise unsupported("ReEncrypt (no instruction-file re-encryption)")
            raise generic(f"no operation for POST {self.path}", 404)

        self._dispatch(run)

    def do_PUT(self):
        def run():
            seg, body = self._route(), self._body()
            if len(seg) != 3 or seg[0] != "object":
                raise generic(f"no operation for PUT {self.path}", 404)
            client = STATE.get(self.headers)
            md = parse_metadata(self.headers.get("Content-Metadata", ""))
            try:
                kwargs = {"Bucket": seg[1], "Key": seg[2], "Body": body}
                if md:
                    kwargs["EncryptionContext"] = md
                client.put_object(**kwargs)
            except Exception as e:
                raise from_exception(e)
            self._json({"bucket": seg[1], "key": seg[2], "metadata": [metadata_list({k: v}) for k, v in md.items()]})

        self._dispatch(run)

    def do_GET(self):
        def run():
            seg = self._route()
            if len(seg) != 3 or seg[0] != "object":
                raise generic(f"no operation for GET {self.path}", 404)
            client = STATE.get(self.headers)
            if self.headers.get("Range"):
                raise unsupported("ranged GETs")
            md = parse_metadata(self.headers.get("Content-Metadata", ""))
            kwargs = {"Bucket": seg[1], "Key": seg[2]}
            if md:
                kwargs["EncryptionContext"] = md
            suffix = self.headers.get("InstructionFileSuffix")
            if suffix:
                kwargs["InstructionFileSuffix"] = suffix
            try:
                r = client.get_object(**kwargs)
                plaintext = r["Body"].read()
            except Exception as e:
                raise from_exception(e)
            headers = {"Content-Type": "application/octet-stream"}
            listed = metadata_list(r.get("Metadata"))
            try:
                listed.encode("latin-1")
                headers["Content-Metadata"] = listed
            except UnicodeEncodeError:
                pass
            self._send(200, plaintext, headers)

        self._dispatch(run)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
