"""boto3's arguments: which request of an encrypted read or write each one goes to, which are
refused (and why), and the checks of the constructor's arguments."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from . import _native
from .errors import UsageError

MiB = 1 << 20
MIN_PART = 5 * MiB
MAX_PART = 5 * 1024 * MiB
MAX_IN_FLIGHT = 16

SSE_C = {"SSECustomerAlgorithm", "SSECustomerKey", "SSECustomerKeyMD5"}
# Arguments of the write of the object itself (PutObject / CreateMultipartUpload).
CREATE_ARGS = {
    "ACL",
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Expires",
    "GrantFullControl",
    "GrantRead",
    "GrantReadACP",
    "GrantWriteACP",
    "ServerSideEncryption",
    "StorageClass",
    "WebsiteRedirectLocation",
    "SSEKMSKeyId",
    "SSEKMSEncryptionContext",
    "BucketKeyEnabled",
    "Tagging",
    "ObjectLockMode",
    "ObjectLockRetainUntilDate",
    "ObjectLockLegalHoldStatus",
    "ExpectedBucketOwner",
    "RequestPayer",
    "ChecksumAlgorithm",
}
# Conditions on the write that stores the object (PutObject / CompleteMultipartUpload).
CONDITION_ARGS = {"IfMatch", "IfNoneMatch"}
# Each request of a multipart upload also carries these.
PART_ARGS = {"ExpectedBucketOwner", "RequestPayer"} | SSE_C
CHECKSUM_VALUES = {"ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256"}

# Arguments of every GET / HEAD of the object (not of its instruction file).
READ_CONDITIONS = {"IfMatch", "IfNoneMatch", "IfModifiedSince", "IfUnmodifiedSince"}
READ_ARGS = READ_CONDITIONS | SSE_C | {"ExpectedBucketOwner", "RequestPayer", "ChecksumMode"}
RESPONSE_HEADER_ARGS = {
    "ResponseCacheControl",
    "ResponseContentDisposition",
    "ResponseContentEncoding",
    "ResponseContentLanguage",
    "ResponseContentType",
    "ResponseExpires",
}


def split_put_args(kwargs: Dict[str, Any]) -> Tuple[Dict[str, Dict[str, Any]], Optional[str], Optional[str], Optional[int]]:
    """boto3's ``put_object`` arguments → (extra arguments per operation, ContentType,
    ContentMD5, ContentLength). Checksum values and unknown arguments are refused."""
    kwargs = dict(kwargs)
    content_type = kwargs.pop("ContentType", None)
    content_md5 = kwargs.pop("ContentMD5", None)
    content_length = kwargs.pop("ContentLength", None)
    create: Dict[str, Any] = {}
    cond: Dict[str, Any] = {}
    for k, v in kwargs.items():
        if k in CHECKSUM_VALUES:
            raise UsageError(
                f"{k} is a checksum of the plaintext, and S3 stores the ciphertext: pass "
                f"ChecksumAlgorithm={k[len('Checksum'):]!r} to have one computed over the bytes sent"
            )
        if k in CONDITION_ARGS:
            cond[k] = v
        elif k in CREATE_ARGS or k in SSE_C:
            create[k] = v
        else:
            raise TypeError(f"unsupported argument {k!r} for an encrypted write")
    part = {k: v for k, v in create.items() if k in PART_ARGS}
    if "ChecksumAlgorithm" in create:
        part["ChecksumAlgorithm"] = create["ChecksumAlgorithm"]
    extra = {
        "PutObject": {**create, **cond},
        "CreateMultipartUpload": dict(create),
        "UploadPart": part,
        "CompleteMultipartUpload": {**cond, **{k: v for k, v in create.items() if k in PART_ARGS}},
        "AbortMultipartUpload": {k: v for k, v in create.items() if k in ("ExpectedBucketOwner", "RequestPayer")},
    }
    if content_length is not None:
        content_length = int(content_length)
    return extra, content_type, content_md5, content_length


def split_get_args(kwargs: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """boto3's ``get_object`` arguments → extra arguments of the object's GETs and HEADs."""
    for k in kwargs:
        if k == "PartNumber":
            raise UsageError(
                "PartNumber reads one stored part, which is not a unit of the plaintext; "
                "use Range= (with enable_legacy_unauthenticated_modes) instead"
            )
        if k in CHECKSUM_VALUES:
            raise TypeError(f"unsupported argument {k!r}")
        if k not in READ_ARGS and k not in RESPONSE_HEADER_ARGS:
            raise TypeError(f"unsupported argument {k!r} for an encrypted read")
    get = dict(kwargs)
    head = {k: v for k, v in kwargs.items() if k in READ_ARGS and k != "ChecksumMode"}
    return {"GetObject": get, "HeadObject": head}


def split_head_args(kwargs: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """boto3's ``head_object`` arguments → extra arguments of the object's HEAD (and GET)."""
    for k in kwargs:
        if k not in READ_ARGS and k not in RESPONSE_HEADER_ARGS:
            raise TypeError(f"unsupported argument {k!r} for head_object")
    return {"HeadObject": dict(kwargs), "GetObject": {k: v for k, v in kwargs.items() if k in READ_ARGS}}


def check_s3_client(client: Any) -> None:
    """A boto3 S3 client (or something with its calls)."""
    for name in ("get_object", "put_object", "head_object", "delete_object"):
        if not callable(getattr(client, name, None)):
            raise TypeError(f"client must be a boto3 S3 client (no {name}): got {type(client).__name__}")


def check_keyring(keyring: Any) -> None:
    """A native keyring, or an object of one of the two Python keyring protocols."""
    if isinstance(keyring, (_native.AesKeyring, _native.RsaKeyring)):
        return
    protocols = ("wrap_data_key", "unwrap_data_key", "generate_data_key", "decrypt_data_key")
    if not any(callable(getattr(keyring, m, None)) for m in protocols):
        raise TypeError(
            "keyring must be an AesKeyring, RsaKeyring, KmsKeyring or an object with "
            f"wrap_data_key/unwrap_data_key (or generate_data_key/decrypt_data_key): got {type(keyring).__name__}"
        )


def check_sizes(part_size: int, multipart_threshold: int, max_concurrency: int, memory_budget: int) -> None:
    """The sizes the core takes (checked here so that they fail in the constructor)."""
    if not (MIN_PART <= part_size <= MAX_PART) or part_size % 16:
        raise UsageError(f"part_size must be a multiple of 16 between 5 MiB and 5 GiB: got {part_size}")
    if not (0 <= multipart_threshold <= MAX_PART - 16):
        raise UsageError(f"multipart_threshold must be between 0 and 5 GiB - 16: got {multipart_threshold}")
    if not (1 <= max_concurrency <= MAX_IN_FLIGHT):
        raise UsageError(f"max_concurrency must be between 1 and {MAX_IN_FLIGHT}: got {max_concurrency}")
    if memory_budget < 0:
        raise UsageError(f"memory_budget must be >= 0: got {memory_budget}")


def transfer_config(config: Any, part_size: int, threshold: int, concurrency: int) -> Tuple[int, int, int]:
    """boto3's ``TransferConfig`` (``multipart_chunksize``, ``multipart_threshold``,
    ``max_concurrency``, ``use_threads``) over the client's settings: the chunk size rounded down
    to a multiple of 16 and raised to 5 MiB (the core's part rules), the concurrency capped at 16."""
    if config is None:
        return part_size, threshold, concurrency
    cs = getattr(config, "multipart_chunksize", None)
    if cs is not None:
        part_size = min(MAX_PART, max(MIN_PART, int(cs) // 16 * 16))
    th = getattr(config, "multipart_threshold", None)
    if th is not None:
        threshold = min(MAX_PART - 16, max(0, int(th)))
    mc = getattr(config, "max_concurrency", None)
    if mc is not None:
        concurrency = min(MAX_IN_FLIGHT, max(1, int(mc)))
    if getattr(config, "use_threads", True) is False:
        concurrency = 1
    return part_size, threshold, concurrency
