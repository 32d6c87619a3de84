"""Typed responses (``s3ec.type_defs``), modelled on ``mypy-boto3-s3``'s ``type_defs`` (the keys boto3 returns)
plus the ``S3EC`` entry this package adds. ``total=False``: S3 leaves out what does not apply."""

from __future__ import annotations

import datetime
from typing import Any, Dict, List, Optional, TypedDict

from ._body import StreamingBody


class ResponseMetadataTypeDef(TypedDict, total=False):
    RequestId: str
    HostId: str
    HTTPStatusCode: int
    HTTPHeaders: Dict[str, str]
    RetryAttempts: int


class PutS3ECTypeDef(TypedDict, total=False):
    """What was stored: plaintext and stored lengths, parts, instruction file."""

    plaintext_len: int
    stored_len: int
    parts: int
    multipart: bool
    instruction_file: bool


class PutObjectOutputTypeDef(TypedDict, total=False):
    ETag: str
    Expiration: str
    ChecksumCRC32: str
    ChecksumCRC32C: str
    ChecksumCRC64NVME: str
    ChecksumSHA1: str
    ChecksumSHA256: str
    ChecksumType: str
    ServerSideEncryption: str
    VersionId: str
    SSECustomerAlgorithm: str
    SSECustomerKeyMD5: str
    SSEKMSKeyId: str
    SSEKMSEncryptionContext: str
    BucketKeyEnabled: bool
    Size: int
    RequestCharged: str
    ResponseMetadata: ResponseMetadataTypeDef
    S3EC: PutS3ECTypeDef


class GetS3ECTypeDef(TypedDict):
    """How the plaintext was verified (``InMemory``, ``Storage``, ``DelayedAuthentication``,
    ``UnauthenticatedRange``), the stored length, and the ETag and version that were read."""

    Verification: str
    StoredLength: int
    ETag: Optional[str]
    VersionId: Optional[str]


class _ObjectHeadFields(TypedDict, total=False):
    DeleteMarker: bool
    AcceptRanges: str
    Expiration: str
    Restore: str
    LastModified: datetime.datetime
    ContentLength: int
    ETag: str
    ChecksumCRC32: str
    ChecksumCRC32C: str
    ChecksumCRC64NVME: str
    ChecksumSHA1: str
    ChecksumSHA256: str
    ChecksumType: str
    MissingMeta: int
    VersionId: str
    CacheControl: str
    ContentDisposition: str
    ContentEncoding: str
    ContentLanguage: str
    ContentRange: str
    ContentType: str
    Expires: datetime.datetime
    ExpiresString: str
    WebsiteRedirectLocation: str
    ServerSideEncryption: str
    Metadata: Dict[str, str]
    SSECustomerAlgorithm: str
    SSECustomerKeyMD5: str
    SSEKMSKeyId: str
    BucketKeyEnabled: bool
    StorageClass: str
    RequestCharged: str
    ReplicationStatus: str
    PartsCount: int
    TagCount: int
    ObjectLockMode: str
    ObjectLockRetainUntilDate: datetime.datetime
    ObjectLockLegalHoldStatus: str
    ResponseMetadata: ResponseMetadataTypeDef


class GetObjectOutputTypeDef(_ObjectHeadFields, total=False):
    """``get_object``'s answer: ``Body`` yields verified plaintext; ``ContentLength`` is the
    plaintext length; ``Metadata`` leaves the envelope out."""

    Body: StreamingBody
    S3EC: GetS3ECTypeDef


class HeadObjectOutputTypeDef(_ObjectHeadFields, total=False):
    """``head_object``'s answer; ``S3EC`` describes the envelope (format, suites, wrap,
    placement, plaintext length), with no key used."""

    S3EC: Dict[str, Any]


class DeleteObjectOutputTypeDef(TypedDict, total=False):
    ObjectDeleted: bool
    InstructionFileDeleted: bool


class DeletedObjectTypeDef(TypedDict, total=False):
    Key: str
    VersionId: str
    DeleteMarker: bool
    DeleteMarkerVersionId: str


class ErrorTypeDef(TypedDict, total=False):
    Key: str
    VersionId: str
    Code: str
    Message: str


class DeleteObjectsS3ECTypeDef(TypedDict):
    InstructionFilesDeleted: List[str]


class DeleteObjectsOutputTypeDef(TypedDict, total=False):
    Deleted: List[DeletedObjectTypeDef]
    Errors: List[ErrorTypeDef]
    RequestCharged: str
    ResponseMetadata: ResponseMetadataTypeDef
    S3EC: DeleteObjectsS3ECTypeDef


class CopyObjectResultTypeDef(TypedDict, total=False):
    ETag: str
    LastModified: datetime.datetime
    ChecksumType: str
    ChecksumCRC32: str
    ChecksumCRC32C: str
    ChecksumCRC64NVME: str
    ChecksumSHA1: str
    ChecksumSHA256: str


class CopyS3ECTypeDef(TypedDict):
    Encrypted: bool
    InstructionFileCopied: bool


class CopyObjectOutputTypeDef(TypedDict, total=False):
    CopyObjectResult: CopyObjectResultTypeDef
    Expiration: str
    CopySourceVersionId: str
    VersionId: str
    ServerSideEncryption: str
    SSECustomerAlgorithm: str
    SSECustomerKeyMD5: str
    SSEKMSKeyId: str
    SSEKMSEncryptionContext: str
    BucketKeyEnabled: bool
    RequestCharged: str
    ResponseMetadata: ResponseMetadataTypeDef
    S3EC: CopyS3ECTypeDef


class ReencryptOutputTypeDef(TypedDict):
    FormatVersion: str
