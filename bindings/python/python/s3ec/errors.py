"""The errors of ``s3ec``, shaped as boto3 users catch them.

* Every error of the package is an :class:`S3ECError` (``.code`` names the core's error).
* Errors of the encryption itself share :class:`S3EncryptionError`: :class:`AuthenticationError`,
  :class:`PolicyError`, :class:`FormatError` (:class:`NotEncryptedError`,
  :class:`UnsupportedKeyError`) and :class:`UsageError` (also a ``ValueError``).
* Storage errors are botocore ``ClientError`` subclasses (:class:`StorageError`,
  :class:`NoSuchKeyError`, :class:`NoSuchBucketError`, :class:`ObjectChangedError`), with the usual
  ``response`` dict: ``e.response["Error"]["Code"]`` is S3's code (``NoSuchKey``,
  ``NoSuchBucket``, ``PreconditionFailed``, ...) and
  ``e.response["ResponseMetadata"]["HTTPStatusCode"]`` the HTTP status. Raised by a client, they
  are also instances of that client's modeled class (``s3.exceptions.NoSuchKey``).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple, Type, cast

from botocore.exceptions import ClientError

__all__ = [
    "S3ECError",
    "S3EncryptionError",
    "AuthenticationError",
    "PolicyError",
    "FormatError",
    "NotEncryptedError",
    "UnsupportedKeyError",
    "UsageError",
    "KeyringError",
    "InternalError",
    "StorageError",
    "NoSuchKeyError",
    "NoSuchBucketError",
    "ObjectChangedError",
]


class S3ECError(Exception):
    """Every error of this package. ``code`` names the core's error (e.g. ``Authentication``)."""

    code: str = ""


class S3EncryptionError(S3ECError):
    """The base of every encryption error (authentication, policy, format, usage)."""


class AuthenticationError(S3EncryptionError):
    """A tag, key commitment, key unwrap, padding or KMS failure (deliberately opaque)."""

    code = "Authentication"


class PolicyError(S3EncryptionError):
    """Refused by configuration: commitment policy, a legacy gate, or an encryption context."""


class FormatError(S3EncryptionError):
    """The envelope is missing, malformed, ambiguous or names an unknown value."""


class NotEncryptedError(FormatError):
    """The object is not an S3EC object (no envelope in its metadata or instruction file)."""

    code = "NotEncrypted"


class UnsupportedKeyError(FormatError):
    """The keyring does not hold the key the envelope names, or not for its wrap (``code``
    ``UnsupportedWrap``). A keyring of your own raises it from ``unwrap_data_key`` for "not my
    key"."""

    code = "UnsupportedWrap"


class UsageError(S3EncryptionError, ValueError):
    """A caller error: a bad key, argument, length, range, configuration or state."""

    code = "Usage"


class KeyringError(S3EncryptionError):
    """A keyring (an HSM, a key service, a keyring of your own) could not answer: not a wrong
    key (that is :class:`AuthenticationError`); a retry may succeed."""

    code = "KeyringFailed"


class InternalError(S3ECError):
    """A bug in this package or the core it drives (an invariant failed, or a machine was driven
    out of order): please report it, with the message."""

    code = "Internal"


class StorageError(S3ECError, ClientError):
    """S3 answered an error status, or something other than what was asked: a botocore
    ``ClientError`` with its ``response`` dict. ``status`` is the HTTP status (None when S3 sent
    none, e.g. a body that differs from what it announced)."""

    def __init__(
        self,
        message: str = "",
        *,
        code: str = "RequestFailed",
        status: Optional[int] = None,
        response: Optional[Mapping[str, Any]] = None,
        operation_name: str = "S3EC",
    ) -> None:
        if response is None:
            meta: Dict[str, Any] = {"HTTPStatusCode": status} if status is not None else {}
            response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": meta}
        ClientError.__init__(self, dict(response), operation_name)  # type: ignore[arg-type]
        self.code = code
        if status is None:
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        self.status: Optional[int] = status
        if message and not response.get("Error", {}).get("Message"):
            self.args = (message,)

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild, (type(self), dict(self.response), self.operation_name, self.code, self.status))


def _rebuild(cls: Type[StorageError], response: Dict[str, Any], op: str, code: str, status: Optional[int]) -> StorageError:
    e = cls.__new__(cls)
    StorageError.__init__(e, code=code, status=status, response=response, operation_name=op)
    return e


class NoSuchKeyError(StorageError):
    """The object does not exist (S3's ``NoSuchKey``, or a 404 to a HEAD)."""


class NoSuchBucketError(NoSuchKeyError):
    """The bucket does not exist (S3's ``NoSuchBucket``). A :class:`NoSuchKeyError` too, as the
    object does not exist either; tell them apart by class or by ``response["Error"]["Code"]``."""


class ObjectChangedError(StorageError):
    """The object changed during the operation (ETag, version, length, or bytes between passes),
    or a condition (``IfMatch``, ``IfUnmodifiedSince``, ...) failed (``PreconditionFailed``)."""


_CLASSES: Dict[str, Type[S3ECError]] = {
    c.__name__: c
    for c in (
        S3ECError,
        S3EncryptionError,
        AuthenticationError,
        PolicyError,
        FormatError,
        NotEncryptedError,
        UnsupportedKeyError,
        UsageError,
        KeyringError,
        InternalError,
        StorageError,
        NoSuchKeyError,
        NoSuchBucketError,
        ObjectChangedError,
    )
}


def _from_core(class_name: str, code: str, message: str, status: Optional[int]) -> S3ECError:
    """Called by the native module: an instance of ``class_name`` for the core's error ``code``."""
    cls = _CLASSES.get(class_name, UsageError)
    if issubclass(cls, StorageError):
        return cls(message, code=code, status=status)
    e: S3ECError = cls(message)
    e.code = code
    return e


# S3 error codes and the class that stands for them.
_BY_S3_CODE: Dict[str, Type[StorageError]] = {
    "NoSuchKey": NoSuchKeyError,
    "404": NoSuchKeyError,
    "NotFound": NoSuchKeyError,
    "NoSuchBucket": NoSuchBucketError,
    "PreconditionFailed": ObjectChangedError,
    "412": ObjectChangedError,
}

_MIXED: Dict[Tuple[type, type], type] = {}


def storage_error(
    response: Mapping[str, Any], operation_name: str, client: Any = None, core: Optional[S3ECError] = None
) -> StorageError:
    """A :class:`StorageError` for boto3's error ``response``; with ``client``, also an instance of
    the client's modeled class for the code (``client.exceptions.NoSuchKey``)."""
    code = str(response.get("Error", {}).get("Code", ""))
    cls: Type[StorageError] = _BY_S3_CODE.get(code, StorageError)
    if core is not None and isinstance(core, StorageError) and issubclass(type(core), cls) and cls is StorageError:
        cls = type(core)
    modeled: Optional[type] = None
    if client is not None:
        try:
            modeled = client.exceptions.from_code(code)
        except Exception:  # not a boto3 client
            modeled = None
        if modeled is ClientError or not (isinstance(modeled, type) and issubclass(modeled, ClientError)):
            modeled = None
    if modeled is not None:
        pair = (cls, modeled)
        mixed = _MIXED.get(pair)
        if mixed is None:
            mixed = type(modeled.__name__, (cls, modeled), {"__module__": __name__})
            _MIXED[pair] = mixed
        cls = cast(Type[StorageError], mixed)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    e: StorageError = cls.__new__(cls)
    StorageError.__init__(
        e,
        code=core.code if core is not None else "RequestFailed",
        status=int(status) if status is not None else None,
        response=response,
        operation_name=operation_name,
    )
    return e
