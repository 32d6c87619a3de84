#!/usr/bin/env python3
"""Benchmark (printed, not a test): put/get of 64 MiB and 1 GiB objects against moto on
127.0.0.1, for this package (``s3ec``) beside AWS's ``amazon-s3-encryption-client-python``
4.0.0 and plain boto3, in the same run. Each transfer runs in its own process (peak RSS is that
process's ``ru_maxrss``); times exclude interpreter start-up; best of ``--rounds``.

    target/py/test/bin/python bindings/python/bench.py [--sizes 64,1024] [--rounds 2]
        [--aws4-python target/py/aws4/bin/python]

Both encrypting clients use a KMS keyring (the only kind 4.0.0 has) and write V3.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20

CHILD = r'''
import json, os, sys, time
import boto3
from botocore.config import Config
endpoint, tool, op, bucket, key, path, key_id = sys.argv[1:8]
def client(s):
    return boto3.client(s, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"},
                        max_pool_connections=16))
s3 = client("s3")
if tool == "s3ec":
    import s3ec
    c = s3ec.S3EncryptionClient(s3, s3ec.KmsKeyring(client("kms"), key_id),
                                max_concurrency=int(os.environ.get("S3EC_BENCH_CONCURRENCY", "4")))
elif tool == "aws4":
    from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
    from s3_encryption.materials import KmsKeyring
    c = S3EncryptionClient(s3, S3EncryptionClientConfig(keyring=KmsKeyring(kms_client=client("kms"), kms_key_id=key_id)))
else:
    c = s3
t0 = time.perf_counter()
if op == "put":
    c.upload_file(path, bucket, key)
elif op == "get":
    body = c.get_object(Bucket=bucket, Key=key)["Body"]
    n = 0
    while True:
        b = body.read(8 << 20)
        if not b:
            break
        n += len(b)
    assert n == os.path.getsize(path), (n, os.path.getsize(path))
elif op in ("download", "download1"):
    if op == "download1":
        c.max_concurrency = 1  # one GET into the temporary file (moto re-reads the whole object per range)
    out = path + ".out"
    c.download_file(bucket, key, out)
    assert os.path.getsize(out) == os.path.getsize(path)
    os.unlink(out)
print(json.dumps({"s": time.perf_counter() - t0}))
'''


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} logical CPUs)"
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="64,1024", help="MiB, comma-separated")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--aws4-python", default=str(ROOT / "target/py/aws4/bin/python"))
    ap.add_argument("--tools", default="plain,s3ec,aws4", help="which of plain, s3ec, aws4")
    ap.add_argument("--ops", default="put,get,download,download1")
    a = ap.parse_args()
    import boto3
    from botocore.config import Config

    port = free_port()
    moto_bin = str(Path(sys.executable).with_name("moto_server"))
    moto = subprocess.Popen([moto_bin, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        mk = lambda s: boto3.client(s, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                                    aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
        s3, kms = mk("s3"), mk("kms")
        s3.create_bucket(Bucket="bench")
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        tools = [("plain boto3", sys.executable, "plain"), ("s3ec", sys.executable, "s3ec")]
        if Path(a.aws4_python).exists():
            tools.append(("AWS Python 4.0.0", a.aws4_python, "aws4"))
        tools = [t for t in tools if t[2] in a.tools.split(",")]
        wanted = a.ops.split(",")
        if "put" not in wanted:
            raise SystemExit("--ops must include put (the gets read what it wrote)")
        rows = []
        with tempfile.TemporaryDirectory() as d:
            for mib in [int(x) for x in a.sizes.split(",")]:
                path = os.path.join(d, f"f{mib}")
                with open(path, "wb") as f:
                    for _ in range(mib):
                        f.write(os.urandom(MiB))
                for label, py, tool in tools:
                    ops = ["put", "get"] + (["download", "download1"] if tool == "s3ec" else [])
                    for op in [o for o in ops if o in wanted]:
                        best, rss = None, 0
                        for r in range(a.rounds):
                            k = f"{tool}-{mib}"
                            p = subprocess.Popen([py, "-c", CHILD, endpoint, tool, op, "bench", k, path, key_id],
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                            out = p.stdout.read()
                            err = p.stderr.read()
                            _, status, ru = os.wait4(p.pid, 0)
                            if status != 0:
                                raise RuntimeError(f"{label} {op} {mib} MiB failed: {err.decode()[-3000:]}")
                            s = json.loads(out.decode().strip().splitlines()[-1])["s"]
                            best = s if best is None else min(best, s)
                            rss = max(rss, ru.ru_maxrss)
                        rows.append((mib, op, label, mib * MiB / best / 1e6, rss / 1024))
                        print(f"  {mib} MiB {op:8} {label:18} {mib * MiB / best / 1e6:8.1f} MB/s  peak RSS {rss / 1024:7.0f} MiB", flush=True)
                    s3.delete_object(Bucket="bench", Key=f"{tool}-{mib}")
                os.unlink(path)
        print()
        print(f"CPU: {cpu_model()}; moto on 127.0.0.1; best of {a.rounds}; each transfer in its own process")
        print()
        print("| size | op | plain boto3 MB/s | s3ec MB/s | AWS 4.0.0 MB/s | s3ec / AWS | peak RSS plain / s3ec / AWS (MiB) |")
        print("|---|---|---:|---:|---:|---:|---:|")
        by = {(m, o, l): (v, r) for m, o, l, v, r in rows}
        for mib in sorted({m for m, *_ in rows}):
            for op in ["put", "get", "download", "download1"]:
                p = by.get((mib, op, "plain boto3")) if op != "download" else None
                o = by.get((mib, op, "s3ec"))
                w = by.get((mib, op, "AWS Python 4.0.0"))
                if o is None:
                    continue
                f = lambda x: f"{x[0]:.0f}" if x else "—"
                ratio = f"{o[0] / w[0]:.2f}" if w else "—"
                rss = " / ".join(f"{x[1]:.0f}" if x else "—" for x in (p, o, w))
                name = {"put": "upload_file", "get": "get_object + read", "download": "download_file, 4 ranged GETs in flight (s3ec)",
                        "download1": "download_file, one GET (s3ec)"}[op]
                print(f"| {mib} MiB | {name} | {f(p)} | {f(o)} | {f(w)} | {ratio} | {rss} |")
    finally:
        moto.terminate()
        moto.wait(timeout=10)


if __name__ == "__main__":
    main()
