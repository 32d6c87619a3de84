#!/usr/bin/env python3
"""Cross-implementation S3EC scenario runner for servers that speak AWS's harness model
(`S3ECTestServer`: CreateClient, PutObject, GetObject, ReEncrypt; restJson1).

    runner.py --moto-server PATH/moto_server \
        --server 'rust=target/debug/s3ec --path-style test-server --port 0' \
        --server 'python-official=python test-server/python-official/server.py'
    runner.py --moto-server PATH/moto_server --servers-file test-server/servers.txt [--only-server NAME]

Each server is a command line that listens on 127.0.0.1 and prints `listening on 127.0.0.1:PORT`
as its first line of output (or `NAME=http://127.0.0.1:PORT` for one that is already running).
The runner starts moto (S3 + KMS) on a free loopback port, starts every server with the standard
AWS environment pointing at it (AWS_ENDPOINT_URL, dummy credentials, us-east-1), runs the
scenarios, and stops everything it started, also on failure or interrupt.

Outcomes come from the S3EC specification and the model, never from what one implementation
does: a positive cell must return exactly the plaintext; a negative cell must fail with the
model's `S3EncryptionClientError` (a `GenericServerError` is a harness problem and fails the
cell) and return no plaintext. A server answers `GenericServerError` with HTTP 501 for a feature
its implementation does not have; such a cell is reported "unsupported", never passed.

The last line of output is `N passed, N failed`; the exit status is non-zero when anything failed.
"""

import argparse
import base64
import http.client
import json
import os
import random
import select
import shlex
import signal
import socket
import string
import subprocess
import sys
import time
import traceback
import urllib.parse

import boto3
from botocore.config import Config
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

BUCKET = "s3ec-harness"
REGION = "us-east-1"
CLIENT_ERROR = "S3EncryptionClientError"
GENERIC_ERROR = "GenericServerError"

RRD = "REQUIRE_ENCRYPT_REQUIRE_DECRYPT"
RAD = "REQUIRE_ENCRYPT_ALLOW_DECRYPT"
FAD = "FORBID_ENCRYPT_ALLOW_DECRYPT"
KC = "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY"
GCM = "ALG_AES_256_GCM_IV12_TAG16_NO_KDF"
CBC = "ALG_AES_256_CBC_IV16_NO_KDF"
MIB = 1024 * 1024
VERBOSE = bool(os.environ.get("HARNESS_VERBOSE"))


# ---------------------------------------------------------------- processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process in its own process group; stop() ends it (TERM, then KILL)."""

    def __init__(self, name, argv, env):
        self.name = name
        self.proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def read_line(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                c = os.read(fd, 1)
                if not c:
                    break
                if c == b"\n":
                    return buf.decode(errors="replace")
                buf += c
            elif self.proc.poll() is not None:
                break
        raise RuntimeError(f"{self.name} did not start (output so far: {buf.decode(errors='replace')!r})")

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, 9)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()


def drain(proc):
    """Keep a server's later output (logs) from filling its pipe."""
    import threading

    def run():
        try:
            while proc.proc.stdout.read(65536):
                pass
        except (ValueError, OSError):
            pass

    threading.Thread(target=run, daemon=True).start()


# ---------------------------------------------------------------- the model's client


class ModelError(Exception):
    def __init__(self, shape, status, message):
        super().__init__(f"{shape} (HTTP {status}): {message}")
        self.shape = shape
        self.status = status
        self.message = message


class Unsupported(Exception):
    pass


class Server:
    def __init__(self, name, host, port, proc=None):
        self.name = name
        self.host = host
        self.port = port
        self.proc = proc

    def _call(self, method, path, headers=None, body=b""):
        c = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            if r.status >= 300:
                shape = (r.getheader("X-Amzn-Errortype") or "").split(":")[0]
                message = data.decode(errors="replace")
                try:
                    doc = json.loads(data)
                    shape = shape or doc.get("__type", "").split("#")[-1]
                    message = doc.get("message", message)
                except ValueError:
                    pass
                if shape == GENERIC_ERROR and r.status == 501:
                    raise Unsupported(message)
                raise ModelError(shape or "unknown", r.status, message)
            return r, data
        finally:
            c.close()

    @staticmethod
    def _path(bucket, key, tail=""):
        q = urllib.parse.quote
        return f"/object/{q(bucket, safe='')}/{q(key, safe='')}{tail}"

    def create_client(self, config):
        _, data = self._call("POST", "/client", {"Content-Type": "application/json"}, json.dumps({"config": config}).encode())
        return json.loads(data)["clientId"]

    def put(self, cid, key, body, md=None):
        h = {"ClientID": cid, "Content-Type": "application/octet-stream"}
        if md:
            h["Content-Metadata"] = metadata_header(md)
        self._call("PUT", self._path(BUCKET, key), h, body)

    def get(self, cid, key, rng=None, suffix=None, md=None):
        h = {"ClientID": cid}
        if rng:
            h["Range"] = rng
        if suffix:
            h["InstructionFileSuffix"] = suffix
        if md:
            h["Content-Metadata"] = metadata_header(md)
        _, data = self._call("GET", self._path(BUCKET, key), h)
        return data

    def reencrypt(self, cid, key, key_material, suffix=None, enforce=None):
        h = {"ClientID": cid, "Content-Type": "application/json"}
        if suffix:
            h["InstructionFileSuffix"] = suffix
        if enforce is not None:
            h["EnforceRotation"] = "true" if enforce else "false"
        _, data = self._call("POST", self._path(BUCKET, key, "/reencrypt"), h, json.dumps(key_material).encode())
        return json.loads(data)


def metadata_header(md):
    return ",".join(f"[{k}]:[{v}]" for k, v in md.items())


# ---------------------------------------------------------------- results


class Results:
    def __init__(self):
        self.rows = []

    def add(self, scenario, writer, reader, config, status, note=""):
        self.rows.append((scenario, writer, reader, config, status, note))
        line = f"{status:<11} {scenario} | {writer} -> {reader} | {config}"
        if note and (status != "pass" or VERBOSE):
            line += f" | {note}"
        print(line, flush=True)

    def run(self, scenario, writer, reader, config, fn):
        try:
            note = fn()
            self.add(scenario, writer, reader, config, "pass", note or "")
        except Unsupported as e:
            self.add(scenario, writer, reader, config, "unsupported", short(str(e)))
        except Failed as e:
            self.add(scenario, writer, reader, config, "FAIL", short(str(e)))
        except Exception as e:  # a harness problem, or a server that misbehaves
            self.add(scenario, writer, reader, config, "FAIL", short(f"{type(e).__name__}: {e}"))
            if os.environ.get("HARNESS_DEBUG"):
                traceback.print_exc()

    def summary(self):
        passed = sum(1 for r in self.rows if r[4] == "pass")
        failed = sum(1 for r in self.rows if r[4] == "FAIL")
        unsupported = sum(1 for r in self.rows if r[4] == "unsupported")
        return passed, failed, unsupported


class Failed(Exception):
    pass


def short(s, n=300):
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 3] + "..."


def expect_plaintext(got, want):
    if got != want:
        raise Failed(f"wrong plaintext: {len(got)} bytes, expected {len(want)}")


def expect_client_error(fn, what="the operation"):
    """The call must fail with S3EncryptionClientError (and so release nothing)."""
    try:
        out = fn()
    except ModelError as e:
        if e.shape == CLIENT_ERROR:
            return e.message
        raise Failed(f"{what} failed with {e.shape}, expected {CLIENT_ERROR}: {e.message}")
    n = len(out) if isinstance(out, (bytes, bytearray)) else 0
    raise Failed(f"{what} succeeded (released {n} bytes); it must fail with {CLIENT_ERROR}")


# ---------------------------------------------------------------- fixtures


class World:
    """moto's S3 and KMS as seen by the runner, plus the key material of the run."""

    def __init__(self, endpoint):
        cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2})
        creds = {"aws_access_key_id": "harness", "aws_secret_access_key": "harness", "region_name": REGION}
        self.s3 = boto3.client("s3", endpoint_url=endpoint, config=cfg, **creds)
        self.kms = boto3.client("kms", endpoint_url=endpoint, **creds)
        self.s3.create_bucket(Bucket=BUCKET)
        self.kms_arn = self.kms.create_key(Description="s3ec harness")["KeyMetadata"]["Arn"]
        self.aes1 = os.urandom(32)
        self.aes2 = os.urandom(32)
        self.rsa1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rsa2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.n = 0

    def key(self, label):
        self.n += 1
        return f"{label}-{self.n:05d}"

    def km(self, kind, desc=None):
        if kind == "kms":
            return {"kmsKeyId": self.kms_arn}
        if kind in ("aes", "aes1"):
            m = {"aesKey": b64(self.aes1)}
        elif kind == "aes2":
            m = {"aesKey": b64(self.aes2)}
        elif kind in ("rsa", "rsa1"):
            m = {"rsaKey": b64(der(self.rsa1))}
        elif kind == "rsa2":
            m = {"rsaKey": b64(der(self.rsa2))}
        else:
            raise ValueError(kind)
        if desc:
            m["materialsDescription"] = desc
        return m

    # raw object access (boto3, no encryption)
    def raw(self, key):
        r = self.s3.get_object(Bucket=BUCKET, Key=key)
        return r["Body"].read(), dict(r["Metadata"])

    def raw_put(self, key, body, metadata):
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=metadata)

    def exists(self, key):
        try:
            self.s3.head_object(Bucket=BUCKET, Key=key)
            return True
        except self.s3.exceptions.ClientError:
            return False

    def instruction(self, key, suffix=".instruction"):
        body, _ = self.raw(key + suffix)
        return json.loads(body)

    def delete(self, key):
        self.s3.delete_object(Bucket=BUCKET, Key=key)


def b64(b):
    return base64.b64encode(b).decode()


def der(k):
    return k.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())


def stored_algorithm(world, key):
    """The content algorithm recorded for an object (metadata, else its instruction file)."""
    _, md = world.raw(key)
    for m in (md, None):
        if m is None:
            try:
                m = world.instruction(key)
            except Exception:
                return "none"
        if "x-amz-c" in m:
            return KC
        alg = m.get("x-amz-cek-alg", "")
        if "GCM" in alg:
            return GCM
        if "CBC" in alg:
            return CBC
        if "x-amz-key" in m:
            return CBC
    return "none"


# ---------------------------------------------------------------- scenarios


def cfg(kind, world, policy=None, alg=None, instruction=False, desc=None, **flags):
    c = {"keyMaterial": world.km(kind, desc)}
    if policy:
        c["commitmentPolicy"] = policy
    if alg:
        c["encryptionAlgorithm"] = alg
    if instruction:
        c["instructionFileConfig"] = {"enableInstructionFilePutObject": True}
    c.update(flags)
    return c


FORMATS = {
    # name: (policy, algorithm written, the algorithm expected in storage, reader policy/alg)
    "V3": (RRD, KC, KC, (RRD, KC)),
    "V3-require-allow": (RAD, KC, KC, (RAD, KC)),
    "V2": (FAD, GCM, GCM, (FAD, GCM)),
}


def round_trips(world, servers, res):
    sizes = [0, 1, 15, 16, 17, 1000, 70001]
    for keyring in ("kms", "kms+context", "aes", "rsa"):
        kind = "kms" if keyring.startswith("kms") else keyring
        context = {"purpose": "harness", "team": "s3ec"} if keyring == "kms+context" else None
        for fmt, (policy, alg, stored, (rpolicy, ralg)) in FORMATS.items():
            for placement in ("metadata", "instruction-file"):
                inst = placement == "instruction-file"
                conf = f"{keyring} {fmt} {placement}"
                for w in servers:
                    for r in servers:

                        def cell(w=w, r=r, inst=inst, kind=kind, context=context, policy=policy, alg=alg, stored=stored, rpolicy=rpolicy, ralg=ralg):
                            wid = w.create_client(cfg(kind, world, policy, alg, inst))
                            rid = r.create_client(cfg(kind, world, rpolicy, ralg))
                            for n in sizes:
                                key = world.key(f"rt-{w.name}")
                                pt = os.urandom(n)
                                w.put(wid, key, pt, context)
                                got_alg = stored_algorithm(world, key)
                                if got_alg != stored:
                                    raise Failed(f"{w.name} stored {got_alg}, expected {stored}")
                                if inst and not world.exists(key + ".instruction"):
                                    raise Failed(f"{w.name} wrote no instruction file")
                                expect_plaintext(r.get(rid, key, md=context), pt)

                        res.run("round-trip", w.name, r.name, conf, cell)
    # A large object (multipart for writers that split above 8 MiB), KMS V3 and V2.
    for fmt in ("V3", "V2"):
        policy, alg, stored, (rpolicy, ralg) = FORMATS[fmt]
        for w in servers:
            for r in servers:

                def big(w=w, r=r, policy=policy, alg=alg, rpolicy=rpolicy, ralg=ralg):
                    wid = w.create_client(cfg("kms", world, policy, alg))
                    rid = r.create_client(cfg("kms", world, rpolicy, ralg))
                    key = world.key(f"big-{w.name}")
                    pt = os.urandom(9 * MIB + 123)
                    w.put(wid, key, pt)
                    expect_plaintext(r.get(rid, key), pt)

                res.run("round-trip", w.name, r.name, f"kms {fmt} 9 MiB", big)


def decrypt_policy(world, servers, res):
    """V2 objects: readable under the ALLOW policies, refused under REQUIRE_ENCRYPT_REQUIRE_DECRYPT."""
    for w in servers:
        for r in servers:

            def cell(w=w, r=r):
                wid = w.create_client(cfg("kms", world, FAD, GCM))
                key = world.key(f"pol-{w.name}")
                pt = b"a V2 object, not key-committing"
                w.put(wid, key, pt)
                ok = r.create_client(cfg("kms", world, RAD, KC))
                expect_plaintext(r.get(ok, key), pt)
                strict = r.create_client(cfg("kms", world, RRD, KC))
                expect_client_error(lambda: r.get(strict, key), "a REQUIRE_ENCRYPT_REQUIRE_DECRYPT read of a V2 object")

            res.run("decrypt-policy", w.name, r.name, "kms V2 read under RAD (ok) and RRD (refused)", cell)


def flip(b, i):
    b = bytearray(b)
    b[i] ^= 0x01
    return bytes(b)


def b64_flip(s):
    raw = bytearray(base64.b64decode(s))
    raw[len(raw) // 2] ^= 0x80
    return b64(bytes(raw))


def tampering(world, servers, res):
    cases = [
        ("kms", "V3"),
        ("kms", "V2"),
        ("aes", "V3"),
        ("rsa", "V2"),
    ]
    for kind, fmt in cases:
        policy, alg, _, (rpolicy, ralg) = FORMATS[fmt]
        for w in servers:
            made = {}

            def make(w=w, kind=kind, policy=policy, alg=alg):
                if "key" not in made:
                    wid = w.create_client(cfg(kind, world, policy, alg))
                    key = world.key(f"tamper-{w.name}")
                    made["pt"] = os.urandom(4099)
                    w.put(wid, key, made["pt"])
                    made["key"] = key
                return made["key"], made["pt"]

            mutations = [
                ("ciphertext byte flipped", lambda body, md: (flip(body, 100), md)),
                ("tag byte flipped", lambda body, md: (flip(body, len(body) - 1), md)),
                ("body truncated by one byte", lambda body, md: (body[:-1], md)),
            ]
            if fmt.startswith("V3"):
                mutations += [
                    ("commitment x-amz-d altered", lambda body, md: (body, {**md, "x-amz-d": b64_flip(md["x-amz-d"])})),
                    ("message id x-amz-i altered", lambda body, md: (body, {**md, "x-amz-i": b64_flip(md["x-amz-i"])})),
                ]
            else:
                mutations += [("IV x-amz-iv altered", lambda body, md: (body, {**md, "x-amz-iv": b64_flip(md["x-amz-iv"])}))]
                if kind == "kms":
                    # A downgrade to CBC: the KMS context binds aws:x-amz-cek-alg, so even a reader
                    # with every legacy mode on must refuse.
                    mutations += [("x-amz-cek-alg downgraded to AES/CBC/PKCS5Padding, reader with both legacy flags", lambda body, md: (body, {**md, "x-amz-cek-alg": "AES/CBC/PKCS5Padding"}))]
            for r in servers:
                for label, mutate in mutations:

                    def cell(r=r, mutate=mutate, kind=kind, rpolicy=rpolicy, ralg=ralg, label=label):
                        key, pt = make()
                        flags = {}
                        if "legacy flags" in label:
                            flags = {"enableLegacyUnauthenticatedModes": True, "enableLegacyWrappingAlgorithms": True}
                        rid = r.create_client(cfg(kind, world, rpolicy, ralg, **flags))
                        expect_plaintext(r.get(rid, key), pt)  # the original reads
                        body, md = world.raw(key)
                        body, md = mutate(body, md)
                        bad = world.key(f"tampered-{w.name}")
                        world.raw_put(bad, body, md)
                        expect_client_error(lambda: r.get(rid, bad), "a read of a tampered object")

                    res.run("tampered", w.name, r.name, f"{kind} {fmt}: {label}", cell)


def v3_spoofing(world, servers, res):
    for w in servers:
        for r in servers:

            def cell(w=w, r=r):
                wid = w.create_client(cfg("kms", world, FAD, GCM))
                key = world.key(f"spoof-{w.name}")
                pt = b"V2 object to be spoofed as V3"
                w.put(wid, key, pt)
                body, md = world.raw(key)
                spoofed = world.key(f"spoofed-{w.name}")
                world.raw_put(spoofed, body, {**md, "x-amz-c": "115", "x-amz-w": "12"})
                allow = r.create_client(cfg("kms", world, FAD, GCM))
                expect_plaintext(r.get(allow, key), pt)
                strict = r.create_client(cfg("kms", world, RRD))
                expect_client_error(lambda: r.get(strict, spoofed), "a read of a V2 object with injected x-amz-c/x-amz-w")

            res.run("v3-header-spoofing", w.name, r.name, "kms V2 + x-amz-c=115, x-amz-w=12 under RRD", cell)


def instruction_files(world, servers, res):
    v3_keys = ("x-amz-c", "x-amz-d", "x-amz-i")
    for kind in ("kms", "aes", "rsa"):
        for fmt in ("V3", "V2"):
            policy, alg, _, (rpolicy, ralg) = FORMATS[fmt]
            for w in servers:
                made = {}

                def make(w=w, kind=kind, policy=policy, alg=alg):
                    if not made:
                        wid = w.create_client(cfg(kind, world, policy, alg, instruction=True))
                        for tag in ("a", "b"):
                            key = world.key(f"inst-{w.name}-{tag}")
                            pt = os.urandom(333)
                            w.put(wid, key, pt)
                            made[tag] = (key, pt)
                    return made

                def copy(src, body=None, md=None, inst=None, drop_inst=False):
                    b0, m0 = world.raw(src)
                    i0 = world.raw(src + ".instruction")[0]
                    dst = world.key(f"inst-copy-{w.name}")
                    world.raw_put(dst, b0 if body is None else body, m0 if md is None else md)
                    if not drop_inst:
                        world.raw_put(dst + ".instruction", i0 if inst is None else inst, {})
                    return dst

                def custom_suffix(m, suffix=".custom-suffix"):
                    dst = copy(m["a"][0], drop_inst=True)
                    world.raw_put(dst + suffix, world.raw(m["a"][0] + ".instruction")[0], {})
                    return dst, suffix

                def absent_suffix(m):
                    return copy(m["a"][0]), ".no-such-suffix"

                scen = []
                scen.append(("good copy (object + instruction file) decrypts", True, lambda m: copy(m["a"][0])))
                scen.append(("instruction file only at a custom suffix, read with InstructionFileSuffix", True, custom_suffix))
                scen.append(("InstructionFileSuffix naming no instruction file", False, absent_suffix))
                scen.append(("instruction file missing", False, lambda m: copy(m["a"][0], drop_inst=True)))
                scen.append(("instruction file malformed: {\"invalid\": \"json\"}", False, lambda m: copy(m["a"][0], inst=b'{"invalid": "json"}')))
                scen.append(("instruction file malformed: not JSON", False, lambda m: copy(m["a"][0], inst=b"{not json")))
                scen.append(("instruction file of another object (duplicated)", False, lambda m: copy(m["a"][0], inst=world.raw(m["b"][0] + ".instruction")[0])))
                if fmt == "V2":

                    def renamed(m):
                        j = world.instruction(m["a"][0])
                        j["x-amz-key-v2-tampered"] = j.pop("x-amz-key-v2")
                        return copy(m["a"][0], inst=json.dumps(j).encode())

                    scen.append(("V2 instruction file: x-amz-key-v2 renamed", False, renamed))
                else:

                    def dup_commit(m):
                        _, md = world.raw(m["a"][0])
                        j = world.instruction(m["a"][0])
                        j.update({k: md[k] for k in v3_keys})
                        return copy(m["a"][0], inst=json.dumps(j).encode())

                    def moved_commit(m):
                        _, md = world.raw(m["a"][0])
                        j = world.instruction(m["a"][0])
                        j.update({k: md[k] for k in v3_keys})
                        rest = {k: v for k, v in md.items() if k not in v3_keys}
                        return copy(m["a"][0], md=rest, inst=json.dumps(j).encode())

                    scen.append(("commitment duplicated into the instruction file", False, dup_commit))
                    scen.append(("commitment moved to the instruction file", False, moved_commit))
                for r in servers:
                    policies = [(rpolicy, ralg)] if fmt == "V2" else [(RRD, KC), (FAD, GCM)]
                    for label, positive, build in scen:
                        for pol, palg in policies:

                            def cell(r=r, build=build, positive=positive, kind=kind, pol=pol, palg=palg):
                                m = make()
                                rid = r.create_client(cfg(kind, world, pol, palg))
                                key = build(m)
                                key, suffix = key if isinstance(key, tuple) else (key, None)
                                if positive:
                                    expect_plaintext(r.get(rid, key, suffix=suffix), m["a"][1])
                                else:
                                    expect_client_error(lambda: r.get(rid, key, suffix=suffix), "a read through a bad instruction file")

                            res.run("instruction-file", w.name, r.name, f"{kind} {fmt} read under {pol}: {label}", cell)
                    # Swapped: the instruction files of two objects exchanged; both must fail.

                    def swapped(r=r, kind=kind, rpolicy=rpolicy, ralg=ralg):
                        m = make()
                        ia = world.raw(m["a"][0] + ".instruction")[0]
                        ib = world.raw(m["b"][0] + ".instruction")[0]
                        a = copy(m["a"][0], inst=ib)
                        b = copy(m["b"][0], inst=ia)
                        rid = r.create_client(cfg(kind, world, rpolicy, ralg))
                        expect_client_error(lambda: r.get(rid, a), "a read with a swapped instruction file")
                        expect_client_error(lambda: r.get(rid, b), "a read with a swapped instruction file")

                    res.run("instruction-file", w.name, r.name, f"{kind} {fmt}: instruction files of two objects swapped", swapped)


def bleichenbacher(world, servers, res):
    """V1 RSA objects whose x-amz-key has invalid vs valid PKCS#1 v1.5 padding must fail alike
    (AWS's BleichenbacherOracleTests: the error messages are compared)."""
    cases = [("GCM-FAD", FAD, GCM), ("KC-RAD", RAD, KC), ("KC-RRD", RRD, KC)]
    pub = world.rsa1.public_key()
    for label, policy, alg in cases:
        for where in ("metadata", "instruction-file"):
            # Legacy off (AWS's scenario: refused before any unwrap), legacy wrapping on, and both
            # legacy flags on, where the RSA unwrap runs: the 22-byte body ("secret" + a GCM tag)
            # is no CBC ciphertext whatever key comes out, so both objects must fail, alike.
            for legacy in ("off", "wrapping", "wrapping+unauthenticated"):
                for s in servers:

                    def cell(s=s, policy=policy, alg=alg, where=where, legacy=legacy):
                        flags = {}
                        if legacy != "off":
                            flags["enableLegacyWrappingAlgorithms"] = True
                        if legacy == "wrapping+unauthenticated":
                            flags["enableLegacyUnauthenticatedModes"] = True
                        cid = s.create_client(cfg("rsa", world, policy, alg, **flags))
                        orig = world.key(f"bb-orig-{s.name}")
                        s.put(cid, orig, b"secret")
                        body, _ = world.raw(orig)
                        iv = b64(bytes(16))
                        msgs = []
                        # AWS's zero-filled ciphertext, a random one below the modulus (bad
                        # padding under implicit rejection), and a valid PKCS#1 v1.5 ciphertext.
                        random_c = b"\x00" + os.urandom(255)
                        for wrapped in (bytes(256), random_c, pub.encrypt(bytes(32), rsa_padding.PKCS1v15())):
                            v1 = {"x-amz-key": b64(wrapped), "x-amz-iv": iv, "x-amz-matdesc": "{}"}
                            key = world.key(f"bb-{s.name}")
                            if where == "metadata":
                                world.raw_put(key, body, v1)
                            else:
                                world.raw_put(key, body, {})
                                world.raw_put(key + ".instruction", json.dumps(v1).encode(), {})
                            msgs.append(expect_client_error(lambda: s.get(cid, key), "a read of a V1 RSA object"))
                        if len(set(msgs)) != 1:
                            raise Failed(f"the errors differ (an oracle): zero-filled {msgs[0]!r}, random {msgs[1]!r}, valid padding {msgs[2]!r}")
                        return f"both: {msgs[0]}"

                    conf = f"rsa V1 x-amz-key invalid vs valid PKCS#1 padding, {where}, {label}, legacy {legacy}"
                    res.run("rsa-padding-oracle", s.name, s.name, conf, cell)


def creation_policy(world, servers, res):
    """Configurations that must be refused at client creation or at encrypt time."""
    cases = [
        ("RAD + non-committing GCM", {"commitmentPolicy": RAD, "encryptionAlgorithm": GCM}),
        ("RRD + non-committing GCM", {"commitmentPolicy": RRD, "encryptionAlgorithm": GCM}),
        ("default policy + non-committing GCM", {"encryptionAlgorithm": GCM}),
        ("FAD + committing GCM", {"commitmentPolicy": FAD, "encryptionAlgorithm": KC}),
        ("FAD + legacy CBC", {"commitmentPolicy": FAD, "encryptionAlgorithm": CBC}),
        ("RAD + legacy CBC", {"commitmentPolicy": RAD, "encryptionAlgorithm": CBC}),
        ("RRD + legacy CBC", {"commitmentPolicy": RRD, "encryptionAlgorithm": CBC}),
        ("buffer size with delayed authentication", {"enableDelayedAuthenticationMode": True, "setBufferSize": 65536}),
    ]
    for label, extra in cases:
        for s in servers:

            def cell(s=s, extra=extra):
                conf = {"keyMaterial": world.km("kms"), **extra}
                key = world.key(f"refused-{s.name}")

                def attempt():
                    cid = s.create_client(conf)
                    s.put(cid, key, b"must not be stored")

                expect_client_error(attempt, "creating the client and encrypting")
                if world.exists(key) or world.exists(key + ".instruction"):
                    raise Failed("the refused PutObject left an object in S3")

            res.run("refused-config", s.name, "-", label, cell)


# Faults a CreateClient body can have, each with the answer the model and the S3EC call for:
# "400" (GenericServerError, malformed), "501" (GenericServerError, unsupported) or "client"
# (S3EncryptionClientError, refused by the S3EC).
CONFIG_FAULTS = [
    ("400", "flag not a boolean", lambda c, r: c.update({r.choice(BOOL_MEMBERS): r.choice(["true", 1, [], {}])})),
    ("400", "string member not a string", lambda c, r: c.update({r.choice(["commitmentPolicy", "encryptionAlgorithm"]): r.choice([7, True, [], {}])})),
    ("400", "unknown commitmentPolicy", lambda c, r: c.update(commitmentPolicy=r.choice(["NONE", "require_encrypt", RRD + " "]))),
    ("400", "unknown encryptionAlgorithm", lambda c, r: c.update(encryptionAlgorithm=r.choice(["AES", "AES/GCM/NoPadding", "ALG_AES_256_CTR"]))),
    ("400", "setBufferSize not a non-negative integer", lambda c, r: c.update(setBufferSize=r.choice([-1, 1.5, "65536", True]))),
    ("400", "instructionFileConfig not an object", lambda c, r: c.update(instructionFileConfig=r.choice([True, "x", [1]]))),
    ("400", "instructionFileConfig flag not a boolean", lambda c, r: member_object(c, "instructionFileConfig").update({r.choice(["enableInstructionFilePutObject", "disableInstructionFile"]): "yes"})),
    ("400", "keyMaterial missing or not an object", lambda c, r: c.update(keyMaterial=r.choice([None, "k", [], 3])) if r.random() < 0.8 else c.pop("keyMaterial")),
    ("400", "two keys", lambda c, r: member_object(c, "keyMaterial").update(kmsKeyId="alias/other", aesKey=b64(bytes(32)))),
    ("400", "no key", lambda c, r: c.update(keyMaterial={"materialsDescription": {"a": "b"}})),
    ("400", "key blob not base64", lambda c, r: c.update(keyMaterial={r.choice(["aesKey", "rsaKey"]): "not base64!"})),
    ("400", "materialsDescription value not a string", lambda c, r: member_object(c, "keyMaterial").update(materialsDescription={"a": r.choice([1, None, [], {}])})),
    ("client", "AES key of a bad length", lambda c, r: c.update(keyMaterial={"aesKey": b64(bytes(r.choice([0, 5, 31, 33])))})),
    ("client", "RSA key not a key", lambda c, r: c.update(keyMaterial={"rsaKey": b64(os.urandom(r.choice([1, 64, 300])))})),
    ("client", "legacy algorithm for writing", lambda c, r: c.update(encryptionAlgorithm=CBC, commitmentPolicy=r.choice([FAD, RAD, RRD]))),
    ("client", "algorithm the policy forbids", lambda c, r: c.update(*r.choice([[{"encryptionAlgorithm": GCM, "commitmentPolicy": r.choice([RAD, RRD])}], [{"encryptionAlgorithm": KC, "commitmentPolicy": FAD}]]))),
    ("client", "buffer size with delayed authentication", lambda c, r: c.update(enableDelayedAuthenticationMode=True, setBufferSize=r.choice([0, 65536, 64 * MIB]))),
    ("501", "a separate instruction-file client", lambda c, r: member_object(c, "instructionFileConfig").update(clientId="other")),
]
def member_object(c, name):
    """c[name], made an object if it is not one (a later fault replaces an earlier one there)."""
    if not isinstance(c.get(name), dict):
        c[name] = {}
    return c[name]


BOOL_MEMBERS = ["enableLegacyWrappingAlgorithms", "enableLegacyUnauthenticatedModes", "enableDelayedAuthenticationMode"]


def random_config(world, r):
    """A valid S3ECConfig, varied: any key, any consistent policy and algorithm, placement,
    flags, buffer size, members set to null (read as absent) and members the model does not name."""
    c = {"keyMaterial": world.km(r.choice(["kms", "aes", "rsa"]), r.choice([None, {"purpose": "agreement"}]))}
    policy, alg = r.choice([(None, None), (RRD, None), (RRD, KC), (RAD, KC), (FAD, None), (FAD, GCM)])
    if policy:
        c["commitmentPolicy"] = policy
    if alg:
        c["encryptionAlgorithm"] = alg
    if r.random() < 0.3:
        # Writing instruction files and turning them off contradict each other: one of the two.
        put = r.random() < 0.5
        c["instructionFileConfig"] = {"enableInstructionFilePutObject": put, "disableInstructionFile": not put and r.random() < 0.5}
    for m in BOOL_MEMBERS[:2]:
        if r.random() < 0.3:
            c[m] = r.random() < 0.5
    if r.random() < 0.3:
        c["setBufferSize"] = r.choice([0, 1, 65536, 10 * MIB, 2**40])
    elif r.random() < 0.2:
        c["enableDelayedAuthenticationMode"] = True
    for m in ["commitmentPolicy", "encryptionAlgorithm", "setBufferSize", "instructionFileConfig"] + BOOL_MEMBERS:
        if m not in c and r.random() < 0.1:
            c[m] = None
    if r.random() < 0.2:
        c["someFutureMember"] = {"x": [1, None]}
    return c


def config_outcome(server, body):
    try:
        server._call("POST", "/client", {"Content-Type": "application/json"}, body)
        return "ok"
    except Unsupported:
        return "501"
    except ModelError as e:
        if os.environ.get("HARNESS_DEBUG"):
            print(f"{server.name}: {e.shape} {e.status} {e.message[:200]}", file=sys.stderr)
        if e.shape == CLIENT_ERROR:
            return "client"
        return str(e.status) if e.shape == GENERIC_ERROR else f"{e.shape} {e.status}"


def config_agreement(world, servers, res):
    """A differential test of the servers' CreateClient parsing (their JSON configurations):
    valid configurations with zero, one or several faults. With no fault every server accepts;
    with one, every server gives the fault's answer; with several, every server refuses. AWS's
    official client is left out: its server's answers are its own (see refused-config)."""
    r = random.Random(20261208)
    cases = []
    for i in range(600):
        c = random_config(world, r)
        faults = r.choice([[], [], [r.choice(CONFIG_FAULTS)], r.sample(CONFIG_FAULTS, r.choice([2, 3]))])
        for _, _, apply in faults:
            apply(c, r)
        body = json.dumps({"config": c}).encode()
        if len(faults) == 1:
            want = {faults[0][0]}
        elif faults:
            want = {"400", "501", "client"}
        else:
            want = {"ok"}
        cases.append((body, want, ", ".join(f[1] for f in faults) or "no fault"))
    for body in (b"{", b"[]", b'{"config": 7}', b'{"config": null}', b"\xff"):
        cases.append((body, {"400"}, "not a CreateClient document"))
    for s in servers:
        if s.name == "python-official":
            continue

        def cell(s=s):
            bad = []
            for body, want, label in cases:
                got = config_outcome(s, body)
                if got not in want:
                    bad.append(f"{label}: {got}, expected {'/'.join(sorted(want))}: {short(body.decode(errors='replace'), 160)}")
            if bad:
                if os.environ.get("HARNESS_DEBUG"):
                    print("\n".join(bad), file=sys.stderr)
                raise Failed(f"{len(bad)} of {len(cases)} configurations answered wrongly; " + " | ".join(bad[:4]))
            return f"{len(cases)} configurations"

        res.run("config-agreement", s.name, "-", f"{len(cases)} CreateClient bodies", cell)


def ranged_gets(world, servers, res):
    small = 1000
    large = 8 * MIB + 100  # crosses the 8 MiB part boundary of multipart writers
    ranges_small = ["bytes=0-0", "bytes=0-15", "bytes=15-16", "bytes=10-40", "bytes=16-31", "bytes=990-999", "bytes=995-2000", "bytes=-5", "bytes=500-"]
    ranges_large = [f"bytes={8 * MIB - 20}-{8 * MIB + 20}", f"bytes={8 * MIB - 1}-{8 * MIB}", f"bytes={8 * MIB}-", f"bytes={8 * MIB - 16}-{8 * MIB + 15}", "bytes=-17"]

    def expected(pt, rng):
        a, b = rng[len("bytes="):].split("-")
        n = len(pt)
        if a == "":
            return pt[max(0, n - int(b)):]
        a = int(a)
        b = n - 1 if b == "" else min(int(b), n - 1)
        return pt[a : b + 1]

    for fmt in ("V3", "V2"):
        policy, alg, _, (rpolicy, ralg) = FORMATS[fmt]
        for w in servers:
            objs = {}

            def make(w=w, policy=policy, alg=alg):
                if not objs:
                    wid = w.create_client(cfg("kms", world, policy, alg))
                    for n in (small, large):
                        key = world.key(f"range-{w.name}")
                        pt = os.urandom(n)
                        w.put(wid, key, pt)
                        objs[n] = (key, pt)
                return objs

            for r in servers:

                def cell(r=r, rpolicy=rpolicy, ralg=ralg):
                    o = make()
                    rid = r.create_client(cfg("kms", world, rpolicy, ralg, enableLegacyUnauthenticatedModes=True))
                    for n, rngs in ((small, ranges_small), (large, ranges_large)):
                        key, pt = o[n]
                        for rng in rngs:
                            got = r.get(rid, key, rng=rng)
                            if got != expected(pt, rng):
                                raise Failed(f"{rng} of {n} bytes: got {len(got)} bytes, not the plaintext slice")

                res.run("ranged-get", w.name, r.name, f"kms {fmt}: block and part boundaries, suffix and open ranges", cell)

                def gated(r=r, rpolicy=rpolicy, ralg=ralg):
                    o = make()
                    rid = r.create_client(cfg("kms", world, rpolicy, ralg))
                    expect_client_error(lambda: r.get(rid, o[small][0], rng="bytes=0-15"), "a ranged read without legacy unauthenticated modes")

                res.run("ranged-get", w.name, r.name, f"kms {fmt}: refused without enableLegacyUnauthenticatedModes", gated)
                if fmt == "V3":

                    def bad_commit(r=r):
                        o = make()
                        body, md = world.raw(o[small][0])
                        bad = world.key(f"range-bad-{w.name}")
                        world.raw_put(bad, body, {**md, "x-amz-d": b64_flip(md["x-amz-d"])})
                        rid = r.create_client(cfg("kms", world, RRD, KC, enableLegacyUnauthenticatedModes=True))
                        expect_client_error(lambda: r.get(rid, bad, rng="bytes=0-15"), "a ranged read of an object with a wrong commitment")

                    res.run("ranged-get", w.name, r.name, "kms V3: refused when x-amz-d is altered", bad_commit)


def reencrypt(world, servers, res):
    d1, d2 = {"rotation": "1"}, {"rotation": "2"}
    v3, v2 = (None, None), (FAD, GCM)
    paths = [
        # (label, from kind, from desc, to kind, to desc, suffix given to ReEncrypt, suffix to read with, policy)
        ("AES => AES, default suffix", "aes1", d1, "aes2", d2, None, None, v3),
        ("RSA => RSA, default suffix", "rsa1", d1, "rsa2", d2, None, None, v3),
        ("AES => RSA, custom suffix", "aes1", d1, "rsa1", d2, "instruction-rsa", ".instruction-rsa", v3),
        ("RSA => AES, default suffix", "rsa1", d1, "aes1", d2, None, None, v3),
        ("AES => AES, V2 object (FAD clients)", "aes1", d1, "aes2", d2, None, None, v2),
    ]
    for label, fk, fd, tk, td, suffix, read_suffix, (pol, alg) in paths:
        for w in servers:
            for r in servers:

                def cell(w=w, r=r, fk=fk, fd=fd, tk=tk, td=td, suffix=suffix, read_suffix=read_suffix, pol=pol, alg=alg):
                    wid = w.create_client(cfg(fk, world, pol, alg, instruction=True, desc=fd))
                    key = world.key(f"reenc-{w.name}")
                    pt = os.urandom(777)
                    w.put(wid, key, pt)
                    w.reencrypt(wid, key, world.km(tk, td), suffix=suffix, enforce=True)
                    rid = r.create_client(cfg(tk, world, pol, alg, desc=td))
                    expect_plaintext(r.get(rid, key, suffix=read_suffix), pt)
                    old = r.create_client(cfg(fk, world, pol, alg, desc=fd))
                    if read_suffix:  # the default instruction file is untouched
                        expect_plaintext(r.get(old, key), pt)
                    else:  # replaced: the old key no longer opens it
                        expect_client_error(lambda: r.get(old, key), "a read with the rotated-out key")

                res.run("re-encrypt", w.name, r.name, label, cell)
    for s in servers:

        def same_key(s=s):
            sid = s.create_client(cfg("aes1", world, instruction=True, desc=d1))
            key = world.key(f"reenc-same-{s.name}")
            s.put(sid, key, b"rotation must change the key")
            before = world.raw(key + ".instruction")[0]
            expect_client_error(lambda: s.reencrypt(sid, key, world.km("aes1", d2), enforce=True), "ReEncrypt to the same key with EnforceRotation")
            if world.raw(key + ".instruction")[0] != before:
                raise Failed("the refused ReEncrypt changed the instruction file")

        res.run("re-encrypt", s.name, s.name, "EnforceRotation with the same key material is refused", same_key)

        def metadata_object(s=s):
            sid = s.create_client(cfg("aes1", world, desc=d1))
            key = world.key(f"reenc-md-{s.name}")
            s.put(sid, key, b"envelope in the metadata")
            expect_client_error(lambda: s.reencrypt(sid, key, world.km("aes2", d2)), "ReEncrypt of an object without an instruction file")

        res.run("re-encrypt", s.name, s.name, "an object keeping its envelope in metadata is refused", metadata_object)


def cbc_legacy(world, servers, res):
    """Legacy CBC objects, built here from the V1/legacy format (the AWS S3EC specification, `data-format/`): `kms` + AES-CBC, and
    V1 (AES-ECB-wrapped data key) + AES-CBC. Readable only with both legacy flags and an ALLOW
    decrypt policy."""

    def cbc_encrypt(key, iv, pt):
        p = padding.PKCS7(128).padder()
        data = p.update(pt) + p.finalize()
        e = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return e.update(data) + e.finalize()

    pt = b"legacy CBC content, " * 50
    kms_key = world.key("cbc-kms")
    ctx = {"kms_cmk_id": world.kms_arn}
    dk = world.kms.generate_data_key(KeyId=world.kms_arn, KeySpec="AES_256", EncryptionContext=ctx)
    iv = os.urandom(16)
    world.raw_put(
        kms_key,
        cbc_encrypt(dk["Plaintext"], iv, pt),
        {
            "x-amz-key-v2": b64(dk["CiphertextBlob"]),
            "x-amz-iv": b64(iv),
            "x-amz-matdesc": json.dumps(ctx),
            "x-amz-wrap-alg": "kms",
            "x-amz-cek-alg": "AES/CBC/PKCS5Padding",
            "x-amz-unencrypted-content-length": str(len(pt)),
        },
    )
    v1_key = world.key("cbc-v1-aes")
    data_key = os.urandom(32)
    p = padding.PKCS7(128).padder()
    e = Cipher(algorithms.AES(world.aes1), modes.ECB()).encryptor()
    wrapped = e.update(p.update(data_key) + p.finalize()) + e.finalize()
    iv1 = os.urandom(16)
    world.raw_put(
        v1_key,
        cbc_encrypt(data_key, iv1, pt),
        {"x-amz-key": b64(wrapped), "x-amz-iv": b64(iv1), "x-amz-matdesc": "{}", "x-amz-unencrypted-content-length": str(len(pt))},
    )
    both = {"enableLegacyUnauthenticatedModes": True, "enableLegacyWrappingAlgorithms": True}
    cases = [
        ("FAD + both legacy flags decrypts", FAD, GCM, both, True),
        ("RAD + both legacy flags decrypts", RAD, KC, both, True),
        ("RRD + both legacy flags is refused", RRD, KC, both, False),
        ("FAD without legacy flags is refused", FAD, GCM, {}, False),
        ("FAD with legacy wrapping only is refused", FAD, GCM, {"enableLegacyWrappingAlgorithms": True}, False),
    ]
    range_sets = [
        ("ranged reads across CBC blocks", ["bytes=0-15", "bytes=0-0", "bytes=10-40", "bytes=16-31", "bytes=17-47", "bytes=983-999", "bytes=990-2000", "bytes=500-"]),
        ("suffix ranges bytes=-5, bytes=-17 (x-amz-unencrypted-content-length is stored)", ["bytes=-5", "bytes=-17"]),
    ]

    def slice_of(rng):
        a, b = rng[len("bytes="):].split("-")
        if a == "":
            return pt[len(pt) - int(b):]
        return pt[int(a) : (len(pt) if b == "" else min(int(b), len(pt) - 1) + 1)]

    for obj, kind, okey in (("kms + AES-CBC", "kms", kms_key), ("V1 AES-ECB key + AES-CBC", "aes1", v1_key)):
        for label, rngs in range_sets:
            for r in servers:

                def ranged(r=r, kind=kind, okey=okey, rngs=rngs):
                    rid = r.create_client(cfg(kind, world, FAD, GCM, **both))
                    for rng in rngs:
                        got = r.get(rid, okey, rng=rng)
                        if got != slice_of(rng):
                            raise Failed(f"{rng}: got {len(got)} bytes, not the plaintext slice")

                res.run("cbc-legacy", "runner", r.name, f"{obj}: {label} (FAD + both legacy flags)", ranged)
    for obj, kind, okey in (("kms + AES-CBC", "kms", kms_key), ("V1 AES-ECB key + AES-CBC", "aes1", v1_key)):
        for label, pol, alg, flags, positive in cases:
            for r in servers:

                def cell(r=r, kind=kind, okey=okey, pol=pol, alg=alg, flags=flags, positive=positive):
                    rid = r.create_client(cfg(kind, world, pol, alg, **flags))
                    if positive:
                        expect_plaintext(r.get(rid, okey), pt)
                    else:
                        expect_client_error(lambda: r.get(rid, okey), "a read of a legacy CBC object")

                res.run("cbc-legacy", "runner", r.name, f"{obj}: {label}", cell)


def wrong_keys(world, servers, res):
    """The right format read with the wrong key or the wrong encryption context must fail."""
    ctx = {"purpose": "harness"}
    cases = [
        ("aes V3 read with another AES key", "aes1", "aes2", None, None),
        ("rsa V3 read with another RSA key", "rsa1", "rsa2", None, None),
        ("kms V3 with a context, read with another context", "kms", "kms", ctx, {"purpose": "other"}),
        ("kms V3 with a context, read with an extra pair", "kms", "kms", ctx, {**ctx, "extra": "pair"}),
    ]
    for label, wk, rk, wctx, rctx in cases:
        for w in servers:
            for r in servers:

                def cell(w=w, r=r, wk=wk, rk=rk, wctx=wctx, rctx=rctx):
                    wid = w.create_client(cfg(wk, world))
                    key = world.key(f"wrongkey-{w.name}")
                    w.put(wid, key, b"only for the right key", wctx)
                    rid = r.create_client(cfg(rk, world))
                    expect_client_error(lambda: r.get(rid, key, md=rctx), "a read with the wrong key or context")

                res.run("wrong-key", w.name, r.name, label, cell)


def delayed_authentication(world, servers, res):
    """Delayed authentication may release before the tag is checked, but a server answers only
    with the whole body: a good object reads, a tampered one must fail and release nothing."""
    for fmt in ("V3", "V2"):
        policy, alg, _, (rpolicy, ralg) = FORMATS[fmt]
        for w in servers:
            for r in servers:

                def cell(w=w, r=r, policy=policy, alg=alg, rpolicy=rpolicy, ralg=ralg):
                    wid = w.create_client(cfg("kms", world, policy, alg))
                    key = world.key(f"delayed-{w.name}")
                    pt = os.urandom(200_000)
                    w.put(wid, key, pt)
                    rid = r.create_client(cfg("kms", world, rpolicy, ralg, enableDelayedAuthenticationMode=True))
                    expect_plaintext(r.get(rid, key), pt)
                    body, md = world.raw(key)
                    bad = world.key(f"delayed-bad-{w.name}")
                    world.raw_put(bad, flip(body, len(body) - 1), md)
                    expect_client_error(lambda: r.get(rid, bad), "a delayed-authentication read of a tampered object")

                res.run("delayed-auth", w.name, r.name, f"kms {fmt}: good object reads, tag flipped fails", cell)


def disabled_instruction_files(world, servers, res):
    """instructionFileConfig.disableInstructionFile: an object that needs its instruction file
    must fail; one with its envelope in metadata still reads."""
    for w in servers:
        for r in servers:

            def cell(w=w, r=r):
                wid = w.create_client(cfg("kms", world, instruction=True))
                key = world.key(f"noinst-{w.name}")
                w.put(wid, key, b"needs its instruction file")
                mid = w.create_client(cfg("kms", world))
                mkey = world.key(f"noinst-md-{w.name}")
                w.put(mid, mkey, b"envelope in metadata")
                conf = cfg("kms", world)
                conf["instructionFileConfig"] = {"disableInstructionFile": True}
                rid = r.create_client(conf)
                expect_plaintext(r.get(rid, mkey), b"envelope in metadata")
                expect_client_error(lambda: r.get(rid, key), "a read that needs a disabled instruction file")

            res.run("disabled-instruction-file", w.name, r.name, "kms V3", cell)


def materials_descriptions(world, servers, res):
    """Raw keyrings: the materials description from CreateClient, or per PutObject through
    Content-Metadata (the model's C++ convention), is stored with the object (x-amz-m in V3,
    x-amz-matdesc in V2) and the object still reads."""
    for kind in ("aes", "rsa"):
        for fmt in ("V3", "V2"):
            policy, alg, _, (rpolicy, ralg) = FORMATS[fmt]
            for per_op in (False, True):
                for w in servers:
                    for r in servers:

                        def cell(w=w, r=r, kind=kind, policy=policy, alg=alg, rpolicy=rpolicy, ralg=ralg, per_op=per_op, fmt=fmt):
                            want = {"owner": "harness", "per-op": "yes" if per_op else "no"}
                            wid = w.create_client(cfg(kind, world, policy, alg, desc=None if per_op else want))
                            key = world.key(f"matdesc-{w.name}")
                            w.put(wid, key, b"described", want if per_op else None)
                            _, md = world.raw(key)
                            stored = json.loads(md.get("x-amz-m" if fmt == "V3" else "x-amz-matdesc", "{}"))
                            if stored != want:
                                raise Failed(f"stored materials description {stored}, expected {want}")
                            rid = r.create_client(cfg(kind, world, rpolicy, ralg, desc=want))
                            expect_plaintext(r.get(rid, key), b"described")

                        how = "per PutObject (Content-Metadata)" if per_op else "at CreateClient"
                        res.run("materials-description", w.name, r.name, f"{kind} {fmt}, {how}", cell)


SCENARIOS = {
    "round-trip": round_trips,
    "decrypt-policy": decrypt_policy,
    "tampered": tampering,
    "v3-header-spoofing": v3_spoofing,
    "instruction-file": instruction_files,
    "rsa-padding-oracle": bleichenbacher,
    "refused-config": creation_policy,
    "config-agreement": config_agreement,
    "ranged-get": ranged_gets,
    "re-encrypt": reencrypt,
    "cbc-legacy": cbc_legacy,
    "wrong-key": wrong_keys,
    "delayed-auth": delayed_authentication,
    "disabled-instruction-file": disabled_instruction_files,
    "materials-description": materials_descriptions,
}


# ---------------------------------------------------------------- main


def wait_http(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/moto-api/")
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto did not start")


def read_servers_file(path):
    """`NAME=COMMAND` lines (blank lines and `#` comments skipped), with `$VAR` / `${VAR}`
    replaced from the environment; a variable that is not set is an error, never an empty
    string."""
    specs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, eq, command = line.partition("=")
            if not eq or not name.strip() or not command.strip():
                raise ValueError(f"{path}:{n}: expected NAME=COMMAND")
            try:
                command = string.Template(command.strip()).substitute(os.environ)
            except KeyError as e:
                raise ValueError(f"{path}:{n}: the variable {e.args[0]} is not set")
            except ValueError as e:
                raise ValueError(f"{path}:{n}: {e}")
            specs.append(f"{name.strip()}={command}")
    return specs


def main():
    ap = argparse.ArgumentParser(description="Run the S3EC harness scenarios against model servers.")
    ap.add_argument("--server", action="append", default=[], help="NAME=COMMAND or NAME=http://127.0.0.1:PORT")
    ap.add_argument("--servers-file", help="a file of NAME=COMMAND lines (test-server/servers.txt): every server in it")
    ap.add_argument("--only-server", action="append", default=[], help="of the servers given, start only these names")
    ap.add_argument("--moto-server", default="moto_server", help="the moto_server executable")
    ap.add_argument("--only", action="append", default=[], help="run only these scenarios (%s)" % ", ".join(SCENARIOS))
    args = ap.parse_args()
    specs = list(args.server)
    if args.servers_file:
        try:
            specs += read_servers_file(args.servers_file)
        except (OSError, ValueError) as e:
            ap.error(str(e))
    names = [s.partition("=")[0] for s in specs]
    if len(set(names)) != len(names):
        ap.error(f"a server name is given twice: {', '.join(names)}")
    unknown = sorted(set(args.only_server) - set(names))
    if unknown:
        ap.error(f"--only-server names no server given: {', '.join(unknown)}")
    if args.only_server:
        specs = [s for s in specs if s.partition("=")[0] in args.only_server]
    if not specs:
        ap.error("give at least one --server or --servers-file")
    # A TERM (a CI timeout) unwinds like ^C, so that everything started here is stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = []
    res = Results()
    code = 1
    try:
        port = free_port()
        moto = Process("moto", [args.moto_server, "-H", "127.0.0.1", "-p", str(port)], os.environ.copy())
        started.append(moto)
        drain(moto)
        wait_http(port)
        endpoint = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        env.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="harness",
            AWS_SECRET_ACCESS_KEY="harness",
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
            NO_PROXY="127.0.0.1,localhost",
        )
        servers = []
        for spec in specs:
            name, _, what = spec.partition("=")
            if what.startswith("http://"):
                u = urllib.parse.urlparse(what)
                servers.append(Server(name, u.hostname, u.port))
                continue
            p = Process(name, shlex.split(what), env)
            started.append(p)
            line = p.read_line(60)
            if not line.startswith("listening on "):
                raise RuntimeError(f"{name}: unexpected first line {line!r}")
            host, _, sport = line[len("listening on "):].strip().rpartition(":")
            drain(p)
            servers.append(Server(name, host, int(sport), p))
        world = World(endpoint)
        print(f"servers: {', '.join(s.name for s in servers)}; moto on {endpoint}", flush=True)
        for name, fn in SCENARIOS.items():
            if args.only and name not in args.only:
                continue
            t0 = time.monotonic()
            fn(world, servers, res)
            print(f"--- {name}: {time.monotonic() - t0:.1f} s", flush=True)
        code = 0
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    except Exception as e:
        print(f"harness error: {type(e).__name__}: {e}", flush=True)
        traceback.print_exc()
    finally:
        for p in reversed(started):
            p.stop()
    print_matrix(res)
    passed, failed, unsupported = res.summary()
    if code != 0:
        failed += 1  # the run itself did not complete
    print(f"{unsupported} unsupported")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or code else 0


def print_matrix(res):
    """writer × reader per scenario: pass/fail/unsupported counts, then every non-pass cell."""
    print()
    print("matrix (scenario: writer -> reader: pass / FAIL / unsupported)")
    groups = {}
    for scen, w, r, _, status, _ in res.rows:
        g = groups.setdefault((scen, w, r), {"pass": 0, "FAIL": 0, "unsupported": 0})
        g[status] += 1
    width = max((len(f"{s}: {w} -> {r}") for s, w, r in groups), default=10)
    for (s, w, r), g in groups.items():
        print(f"  {f'{s}: {w} -> {r}':<{width}}  {g['pass']:>3} / {g['FAIL']:>3} / {g['unsupported']:>3}")
    failed = [row for row in res.rows if row[4] == "FAIL"]
    if failed:
        print()
        print("failed cells:")
        for scen, w, r, conf, status, note in failed:
            print(f"  FAIL {scen} | {w} -> {r} | {conf} | {note}")
    reasons = {}
    for scen, w, r, conf, status, note in res.rows:
        if status == "unsupported":
            reasons.setdefault(note, set()).add(scen)
    if reasons:
        print()
        print("unsupported cells, by the reason the server gave:")
        for note, scens in sorted(reasons.items()):
            n = sum(1 for row in res.rows if row[4] == "unsupported" and row[5] == note)
            print(f"  {n:>4} x {note} [{', '.join(sorted(scens))}]")
    print()


if __name__ == "__main__":
    sys.exit(main())
