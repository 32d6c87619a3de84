"""Amazon S3 client-side encryption (S3EC V1/V2/V3) for boto3, on the Rust ``s3-encryption`` core.

>>> import boto3, s3ec
>>> client = s3ec.S3EncryptionClient(boto3.client("s3"), s3ec.AesKeyring(key))   # doctest: +SKIP
>>> client.put_object(Bucket="b", Key="k", Body=b"secret")                       # doctest: +SKIP
>>> client.get_object(Bucket="b", Key="k")["Body"].read()                        # doctest: +SKIP
b'secret'
"""

from ._native import AesKeyring, RsaKeyring
from .errors import (
    AuthenticationError,
    FormatError,
    NoSuchBucketError,
    NoSuchKeyError,
    NotEncryptedError,
    ObjectChangedError,
    PolicyError,
    S3ECError,
    S3EncryptionError,
    StorageError,
    UnsupportedKeyError,
    UsageError,
    KeyringError,
    InternalError,
)
from ._native import __version__ as _native_version
from ._client import CommitmentPolicy, Placement, S3EncryptionClient, StreamingBody
from .keyrings import (
    Keyring,
    KmsDiscoveryKeyring,
    KmsKeyring,
    UnwrapRequest,
    WrapRequest,
    WrapResult,
    WrappingKeyring,
)
from .migrate import migrate_object, migrate_prefix
from .compat import S3EncryptionSyncClient

__version__ = _native_version

__all__ = [
    "S3EncryptionClient",
    "S3EncryptionSyncClient",
    "CommitmentPolicy",
    "Placement",
    "StreamingBody",
    "AesKeyring",
    "RsaKeyring",
    "KmsKeyring",
    "KmsDiscoveryKeyring",
    "Keyring",
    "WrappingKeyring",
    "WrapRequest",
    "WrapResult",
    "UnwrapRequest",
    "migrate_object",
    "migrate_prefix",
    "S3ECError",
    "S3EncryptionError",
    "AuthenticationError",
    "PolicyError",
    "FormatError",
    "NotEncryptedError",
    "StorageError",
    "NoSuchKeyError",
    "NoSuchBucketError",
    "ObjectChangedError",
    "UsageError",
    "UnsupportedKeyError",
    "KeyringError",
    "InternalError",
]
