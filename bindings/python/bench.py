#!/usr/bin/env python3
"""Benchmark (printed, not a test): this package (``s3ec``) against plain boto3 on the same local
S3 (moto on 127.0.0.1, started here), for the five transfers of issue #22 at 40 and 400 MiB:

* ``put_object``  — ``put_object(Body=bytes)`` (the file is read into memory before the clock starts);
* ``upload_file`` — boto3's managed upload (defaults: multipart above 8 MiB);
* ``get_read``    — ``get_object`` + ``Body.read()``;
* ``get_chunks``  — ``get_object`` + ``Body.iter_chunks(1 MiB)``;
* ``download_file`` — boto3's managed download (defaults: ranged GETs above 8 MiB).

Each transfer runs in its own process: peak RSS is that process's ``ru_maxrss``, the time
excludes interpreter start-up and client creation; best of ``--rounds``. Every client uses its
defaults. Also printed per row: the client's CPU seconds (all its threads) and the server's
(moto's process, from /proc), so that a ratio set by the server can be told apart.

    target/py/test/bin/python bindings/python/bench.py [--sizes 40,400] [--rounds 3]
        [--ops put_object,upload_file,get_read,get_chunks,download_file]
        [--keyring aes|kms] [--tools plain,s3ec[,aws4]] [--aws4-python target/py/aws4/bin/python]

``S3EC_BENCH_MEMORY_BUDGET``, ``S3EC_BENCH_MAX_CONCURRENCY`` and ``S3EC_BENCH_PART_SIZE`` (bytes)
set the s3ec client's options of those names (default: the client's defaults).
``--keyring aes`` (the default) uses a raw AES-256 key, so no KMS round trip is timed;
``kms`` uses moto's KMS (one GenerateDataKey or Decrypt per transfer). ``aws4`` (AWS's
``amazon-s3-encryption-client-python`` 4.0.0, KMS only) is measured with ``--keyring kms``.
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
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20
AES_KEY = bytes(range(32))
OPS = ["put_object", "upload_file", "get_read", "get_chunks", "download_file"]

CHILD = r'''
import json, os, sys, time
import boto3
from botocore.config import Config
endpoint, tool, op, bucket, key, path, keyring, key_id = sys.argv[1:9]
def client(s):
    return boto3.client(s, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
s3 = client("s3")
if tool == "s3ec":
    import s3ec
    kr = s3ec.KmsKeyring(client("kms"), key_id) if keyring == "kms" else s3ec.AesKeyring(bytes(range(32)))
    kw = {k: int(os.environ["S3EC_BENCH_" + k.upper()]) for k in ("memory_budget", "max_concurrency", "part_size")
          if os.environ.get("S3EC_BENCH_" + k.upper())}
    c = s3ec.S3EncryptionClient(s3, kr, **kw)
elif tool == "aws4":
    from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
    from s3_encryption.materials import KmsKeyring
    c = S3EncryptionClient(s3, S3EncryptionClientConfig(keyring=KmsKeyring(kms_client=client("kms"), kms_key_id=key_id)))
else:
    c = s3
size = os.path.getsize(path)
data = None
if op == "put_object":
    with open(path, "rb") as f:
        data = f.read()
cpu0, t0 = time.process_time(), time.perf_counter()
if op == "put_object":
    c.put_object(Bucket=bucket, Key=key, Body=data)
elif op == "upload_file":
    c.upload_file(path, bucket, key)
elif op == "get_read":
    body = c.get_object(Bucket=bucket, Key=key)["Body"]
    n = len(body.read())
    assert n == size, (n, size)
elif op == "get_chunks":
    body = c.get_object(Bucket=bucket, Key=key)["Body"]
    n = 0
    for chunk in body.iter_chunks(1 << 20):
        n += len(chunk)
    assert n == size, (n, size)
elif op == "download_file":
    out = path + ".out"
    c.download_file(bucket, key, out)
    assert os.path.getsize(out) == size
    os.unlink(out)
print(json.dumps({"s": time.perf_counter() - t0, "cpu": time.process_time() - cpu0}))
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


def load_average() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process, from /proc (0 where there is none)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


Row = Tuple[float, float, float, float]  # MB/s (best), peak RSS MiB (max), client CPU s, server CPU s (of the best)


def run_one(py: str, args: List[str], server_pid: int, rounds: int, mib: int) -> Row:
    best: Optional[Tuple[float, float, float]] = None
    rss = 0
    for _ in range(rounds):
        s0 = proc_cpu(server_pid)
        p = subprocess.Popen([py, "-c", CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert p.stdout is not None and p.stderr is not None
        out = p.stdout.read()  # the child writes one short line to each at most
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)  # wait4: the child's own peak RSS
        p.returncode = status
        if status != 0:
            raise RuntimeError(f"{args[1]} {args[2]} {mib} MiB failed: {err.decode()[-3000:]}")
        r = json.loads(out.decode().strip().splitlines()[-1])
        server = proc_cpu(server_pid) - s0
        if best is None or r["s"] < best[0]:
            best = (r["s"], r["cpu"], server)
        rss = max(rss, ru.ru_maxrss)
    assert best is not None
    return mib * MiB / best[0] / 1e6, rss / 1024, best[1], best[2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="40,400", help="MiB, comma-separated")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--keyring", default="aes", choices=["aes", "kms"])
    ap.add_argument("--tools", default="plain,s3ec", help="which of plain, s3ec, aws4")
    ap.add_argument("--aws4-python", default=str(ROOT / "target/py/aws4/bin/python"))
    a = ap.parse_args()
    import boto3
    from botocore.config import Config

    wanted = [o for o in OPS if o in a.ops.split(",")]
    unknown = set(a.ops.split(",")) - set(OPS)
    if unknown:
        raise SystemExit(f"unknown ops: {sorted(unknown)}")
    if any(o.startswith("get") or o == "download_file" for o in wanted) and not {"put_object", "upload_file"} & set(wanted):
        raise SystemExit("--ops must include put_object or upload_file (the reads read what it wrote)")
    tools = [("plain boto3", sys.executable, "plain"), ("s3ec", sys.executable, "s3ec")]
    if "aws4" in a.tools.split(","):
        if a.keyring != "kms":
            raise SystemExit("aws4 needs --keyring kms")
        tools.append(("AWS Python 4.0.0", a.aws4_python, "aws4"))
    tools = [t for t in tools if t[2] in a.tools.split(",")]

    print(f"CPU: {cpu_model()}; load average {load_average()}; Python {platform.python_version()}; "
          f"boto3 {boto3.__version__}; keyring {a.keyring}; best of {a.rounds}", flush=True)
    port = free_port()
    moto_bin = str(Path(sys.executable).with_name("moto_server"))
    moto = subprocess.Popen([moto_bin, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    rows: Dict[Tuple[int, str, str], Row] = {}
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
        key_id = kms.create_key()["KeyMetadata"]["KeyId"] if a.keyring == "kms" else "-"
        with tempfile.TemporaryDirectory() as d:
            for mib in [int(x) for x in a.sizes.split(",")]:
                path = os.path.join(d, f"f{mib}")
                with open(path, "wb") as f:
                    for _ in range(mib):
                        f.write(os.urandom(MiB))
                for label, py, tool in tools:
                    k = f"{tool}-{mib}"
                    for op in wanted:
                        args = [endpoint, tool, op, "bench", k, path, a.keyring, key_id]
                        r = run_one(py, args, moto.pid, a.rounds, mib)
                        rows[(mib, op, tool)] = r
                        print(f"  {mib:4} MiB {op:13} {label:16} {r[0]:8.1f} MB/s  peak RSS {r[1]:5.0f} MiB"
                              f"  cpu client {r[2]:5.2f} s server {r[3]:5.2f} s", flush=True)
                    s3.delete_object(Bucket="bench", Key=k)
                os.unlink(path)
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    print()
    print(f"CPU: {cpu_model()}; load average after the run {load_average()}; moto on 127.0.0.1; "
          f"keyring {a.keyring}; best of {a.rounds}; each transfer in its own process")
    print()
    print("| size | operation | plain boto3 | s3ec | ratio (≥ 0.9) | RSS plain / s3ec (MiB) | RSS + (≤ 32) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for mib in sorted({m for m, _, _ in rows}):
        for op in wanted:
            p, o = rows.get((mib, op, "plain")), rows.get((mib, op, "s3ec"))
            if p is None or o is None:
                continue
            ratio = o[0] / p[0]
            extra = o[1] - p[1]
            print(f"| {mib} MiB | `{op}` | {p[0]:.0f} MB/s | {o[0]:.0f} MB/s | {ratio:.2f}{'' if ratio >= 0.9 else ' ✗'} "
                  f"| {p[1]:.0f} / {o[1]:.0f} | {extra:+.0f}{'' if extra <= 32 else ' ✗'} |")
    if any(t[2] == "aws4" for t in tools):
        print()
        for (mib, op, tool), r in sorted(rows.items()):
            if tool == "aws4":
                print(f"AWS Python 4.0.0 {mib} MiB {op}: {r[0]:.0f} MB/s, peak RSS {r[1]:.0f} MiB")


if __name__ == "__main__":
    main()
