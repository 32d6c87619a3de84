"""Migrate objects to V3 with the core's migration protocol (the one ``s3ec migrate`` runs).

:func:`migrate_object` hands one object to the Rust core's migration machine
(``s3_encryption::object::migrate``), with boto3 doing the requests it asks for:

1. **Describe** the object (HEAD and instruction file). A plain object is ``not-encrypted``; a
   V3 object the new keyring opens is ``skipped`` (so a rerun is safe); one the old keyring and
   read policy cannot open is ``cannot-open``; with ``DryRun`` the rest is ``would-migrate``.
2. **Read** it pinned to the version and ETag the HEAD saw, verified (its tags too).
3. **Write** it back in place as V3 (metadata placement, user metadata, content type and tags
   kept), conditional on that ETag (``If-Match`` on the PutObject or the
   CompleteMultipartUpload). If another writer changed the object in the meantime, S3 refuses
   and the verdict is ``changed``: the other writer's object is left as it is.
4. **Read back** the new object (pinned to the version and ETag the write returned, strictly V3)
   and compare its length and SHA-256 with what was read, before ``migrated`` is reported.

Nothing is deleted: on a versioned bucket the old version stays (``source_version``); an
instruction file the new object no longer needs is left in place (``detail`` names it).

:func:`migrate_prefix` runs it over every object under a prefix and returns a report with the
fields of ``s3ec migrate --report``.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Union

from botocore.exceptions import BotoCoreError, ClientError

from . import _native
from ._client import S3EncryptionClient
from ._core import CommitmentPolicy, _policy_value
from .errors import StorageError, UsageError
from ._transport import Boto3Transport

MiB = 1 << 20

#: Every verdict, as ``s3ec migrate`` names it.
STATUSES = (
    "migrated",
    "skipped",
    "not-encrypted",
    "cannot-open",
    "changed",
    "would-migrate",
    "unsupported",
    "failed-temporary",
    "failed",
)
#: Verdicts that make a run unsuccessful (``s3ec migrate`` exits non-zero).
PROBLEMS = frozenset({"changed", "cannot-open", "unsupported", "failed-temporary", "failed"})

_RETRYABLE_STATUS = {0, 429, 500, 502, 503, 504}


def _boto3(client: Any) -> Any:
    return client.client if isinstance(client, S3EncryptionClient) else client


def migrate_object(
    client: Any,
    keyring: Any,
    *,
    Bucket: str,
    Key: str,
    NewKeyring: Any = None,
    EncryptionContext: Optional[Mapping[str, str]] = None,
    NewEncryptionContext: Optional[Mapping[str, str]] = None,
    DryRun: bool = False,
    Verify: bool = True,
    legacy: bool = True,
    commitment_policy: Union[str, CommitmentPolicy] = CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
    instruction_file_suffix: str = ".instruction",
    memory_budget: int = 64 * MiB,
    part_size: int = 8 * MiB,
    multipart_threshold: int = 8 * MiB,
    max_concurrency: int = 4,
    temp_dir: Optional[str] = None,
) -> Dict[str, Any]:
    """Migrate ``Bucket/Key`` to V3 in place (see the module documentation).

    ``client`` is a boto3 S3 client (or an :class:`S3EncryptionClient`, whose boto3 client is
    used). ``keyring`` opens the old object under ``commitment_policy`` (V2 and V3) and, with
    ``legacy``, the legacy formats (V1, legacy wraps, AES-CBC); ``NewKeyring`` (default: the
    same) writes the new one and must be able to read it back. ``EncryptionContext`` is the old
    object's expected KMS context (default: the stored one is accepted),
    ``NewEncryptionContext`` the new one's. Objects above ``memory_budget`` pass through a
    temporary file in ``temp_dir``.

    Returns the object's report entry: ``key``, ``status`` (``migrated``, ``skipped``,
    ``not-encrypted``, ``cannot-open``, ``changed``, ``would-migrate``, ``unsupported``),
    ``form`` (``format``, ``content``, ``wrap``, ``placement``, ``size`` before the migration),
    ``source_etag``, ``source_version``, ``new_etag``, ``new_version``, ``bytes`` (plaintext
    bytes re-encrypted) and ``detail``. Transport failures (S3 errors other than a failed
    condition, network) raise.
    """
    new_keyring = NewKeyring if NewKeyring is not None else keyring
    fd, scratch = tempfile.mkstemp(prefix=".s3ec-migrate-", dir=temp_dir)
    os.close(fd)
    opts: Dict[str, Any] = {
        "commitment_policy": _policy_value(commitment_policy),
        "enable_legacy_wrapping_algorithms": bool(legacy),
        "enable_legacy_unauthenticated_modes": bool(legacy),
        "instruction_file_suffix": instruction_file_suffix,
        "storage_path": scratch,
        "memory_budget": int(memory_budget),
        "encryption_context": dict(EncryptionContext) if EncryptionContext is not None else None,
        "new_encryption_context": dict(NewEncryptionContext) if NewEncryptionContext is not None else None,
        "part_size": int(part_size),
        "multipart_threshold": int(multipart_threshold),
        "parts_in_flight": max(1, int(max_concurrency)),
        "dry_run": bool(DryRun),
        "verify": bool(Verify),
    }
    try:
        with Boto3Transport(_boto3(client), max_workers=max(4, int(max_concurrency) + 2)) as t:
            return dict(_native.migrate_object(t, keyring, new_keyring, Bucket, Key, opts))
    finally:
        try:
            os.unlink(scratch)
        except OSError:
            pass


def list_keys(
    client: Any,
    Bucket: str,
    Prefix: str = "",
    instruction_file_suffix: str = ".instruction",
    page_size: Optional[int] = None,
) -> List[str]:
    """The keys under ``Prefix`` (the ``list_objects_v2`` paginator, ``page_size`` keys a page),
    without the instruction files that sit beside their objects (``KEY`` + suffix when ``KEY``
    is listed too)."""
    keys: List[str] = []
    config = {"PageSize": int(page_size)} if page_size else {}
    pages = _boto3(client).get_paginator("list_objects_v2").paginate(
        Bucket=Bucket, Prefix=Prefix, PaginationConfig=config
    )
    for page in pages:
        keys.extend(o["Key"] for o in page.get("Contents") or [])
    return without_instruction_files(keys, instruction_file_suffix)


def without_instruction_files(keys: Iterable[str], suffix: str) -> List[str]:
    """``keys`` without the instruction files of objects that are also in ``keys``."""
    keys = list(keys)
    if not suffix:
        return keys
    names = set(keys)
    return [k for k in keys if not (k.endswith(suffix) and k[: -len(suffix)] in names)]


def _size_class(size: int) -> str:
    if size < MiB:
        return "<1MiB"
    if size < 100 * MiB:
        return "<100MiB"
    if size < 5 * 1024 * MiB:
        return "<5GiB"
    return ">=5GiB"


_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "SlowDown",
    "TooManyRequestsException",
    "KMSInternalException",
    "DependencyTimeoutException",
}


def is_transient(e: BaseException) -> bool:
    """Whether another attempt may succeed: a network failure, throttling or a 5xx (from S3
    through the machines, or from a keyring's KMS call)."""
    if isinstance(e, BotoCoreError):
        return True
    if isinstance(e, StorageError):
        return int(getattr(e, "status", -1) or 0) in _RETRYABLE_STATUS
    if isinstance(e, ClientError):
        r = e.response or {}
        status = int(r.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return status >= 500 or status == 429 or r.get("Error", {}).get("Code") in _THROTTLING
    return False


def _short(e: BaseException) -> str:
    s = f"{type(e).__name__}: {e}".split("\n", 1)[0]
    return s if len(s) <= 200 else s[:200] + "…"


def _one(bucket: str, key: str, attempts_max: int, backoff_s: float, run: Callable[[], Dict[str, Any]]) -> Dict[str, Any]:
    attempts = 0
    while True:
        attempts += 1
        try:
            out = run()
        except UsageError:
            raise
        except Exception as e:  # recorded per object; a rerun retries it
            if is_transient(e) and attempts < attempts_max:
                time.sleep(backoff_s * (2 ** (attempts - 1)))
                continue
            out = {
                "key": key,
                "status": "failed-temporary" if is_transient(e) else "failed",
                "form": None,
                "source_etag": None,
                "source_version": None,
                "new_etag": None,
                "new_version": None,
                "bytes": 0,
                "detail": _short(e),
            }
        rec = {"bucket": bucket, "listed_version": None, **out, "attempts": attempts}
        return rec


def _tally(t: Dict[str, Dict[str, int]], name: str, size: int) -> None:
    e = t.setdefault(name, {"objects": 0, "bytes": 0})
    e["objects"] += 1
    e["bytes"] += size


def summarize(records: List[Dict[str, Any]], *, dry_run: bool, elapsed_s: float) -> Dict[str, Any]:
    """A report of per-object records, with the fields of ``s3ec migrate --report``, plus
    ``failures`` (key, status and reason of every problem)."""
    totals: Dict[str, Dict[str, int]] = {}
    inv: Dict[str, Dict[str, Dict[str, int]]] = {k: {} for k in ("format", "wrap", "placement", "size_class", "form")}
    for r in records:
        _tally(totals, r["status"], r["bytes"])
        f = r.get("form")
        if f:
            size = f["size"]
            _tally(inv["format"], f["format"], size)
            _tally(inv["wrap"], f["wrap"], size)
            _tally(inv["placement"], f["placement"], size)
            _tally(inv["size_class"], _size_class(size), size)
            _tally(inv["form"], f"{f['format']} / {f['content']} / {f['wrap']} / {f['placement']}", size)
    total_bytes = sum(r["bytes"] for r in records)
    el = max(elapsed_s, 1e-9)
    return {
        "mode": "to-v3",
        "dry_run": dry_run,
        "objects_total": len(records),
        "totals": dict(sorted(totals.items())),
        "problems": sum(1 for r in records if r["status"] in PROBLEMS),
        "bytes": total_bytes,
        "elapsed_s": elapsed_s,
        "objects_per_s": len(records) / el,
        "mb_per_s": total_bytes / 1e6 / el,
        "inventory": {k: dict(sorted(v.items())) for k, v in inv.items()},
        "objects": records,
        "failures": [
            {"bucket": r["bucket"], "key": r["key"], "status": r["status"], "detail": r["detail"]}
            for r in records
            if r["status"] in PROBLEMS
        ],
    }


def migrate_prefix(
    client: Any,
    keyring: Any,
    *,
    Bucket: str,
    Prefix: str = "",
    Progress: Optional[Callable[[Dict[str, Any], int, int], None]] = None,
    concurrency: int = 4,
    max_attempts: int = 3,
    backoff_s: float = 0.2,
    page_size: Optional[int] = None,
    **kwargs: Any,
) -> Dict[str, Any]:
    """Migrate every object under ``Bucket/Prefix`` to V3 and return the report.

    The objects are listed with the ``list_objects_v2`` paginator of ``client`` (a boto3 client,
    or an :class:`S3EncryptionClient`'s; ``page_size`` keys a page, default S3's 1000),
    instruction files beside their objects left out, and
    migrated ``concurrency`` at a time with :func:`migrate_object` (``kwargs`` are its options:
    ``NewKeyring``, ``DryRun``, ``legacy``, ...). A failure that another attempt may fix
    (throttling, 5xx, network) is retried up to ``max_attempts`` times, then recorded as
    ``failed-temporary``; other exceptions as ``failed``; a changed object is not retried
    (a rerun does). ``Progress(record, done, total)`` is called once per finished object.

    The report (:func:`summarize`): ``mode``, ``dry_run``, ``objects_total``, ``totals`` (per
    verdict: ``objects`` and ``bytes``), ``problems``, ``bytes``, ``elapsed_s``,
    ``objects_per_s``, ``mb_per_s``, ``inventory`` (counts and bytes by format, wrap, placement,
    size class and whole form), ``objects`` (one record per object: bucket, key, status, form,
    listed_version, source/new ETag and version, bytes, attempts, detail) and ``failures``.
    """
    unknown = set(kwargs) - _OBJECT_OPTIONS
    if unknown:
        raise TypeError(f"migrate_prefix() got unexpected keyword arguments {sorted(unknown)!r}")
    suffix = kwargs.get("instruction_file_suffix", ".instruction")
    t0 = time.monotonic()
    keys = list_keys(client, Bucket, Prefix, suffix, page_size)
    total = len(keys)
    records: List[Optional[Dict[str, Any]]] = [None] * total

    def job(key: str) -> Dict[str, Any]:
        return _one(
            Bucket,
            key,
            max(1, int(max_attempts)),
            backoff_s,
            lambda: migrate_object(client, keyring, Bucket=Bucket, Key=key, **kwargs),
        )

    done = 0
    with ThreadPoolExecutor(max_workers=max(1, int(concurrency)), thread_name_prefix="s3ec-migrate") as pool:
        futures = {pool.submit(job, k): i for i, k in enumerate(keys)}
        for f in as_completed(futures):
            rec = f.result()
            records[futures[f]] = rec
            done += 1
            if Progress is not None:
                Progress(rec, done, total)
    return summarize(
        [r for r in records if r is not None],
        dry_run=bool(kwargs.get("DryRun", False)),
        elapsed_s=time.monotonic() - t0,
    )


# The options migrate_prefix passes on to migrate_object.
_OBJECT_OPTIONS = frozenset(
    n for n, p in inspect.signature(migrate_object).parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
) - {"Bucket", "Key"}
