"""Keyrings: who wraps and unwraps data keys.

``AesKeyring`` and ``RsaKeyring`` are native (the key never leaves Rust once given). A keyring of
your own (an HSM, a Vault transit key, a hardware token) is a Python object with the
:class:`WrappingKeyring` protocol (``wrap_data_key`` / ``unwrap_data_key``, the protocol every
driver of this project takes: ``KEYRINGS.md``). KMS keyrings are Python objects with the
KMS-shaped :class:`Keyring` protocol (``generate_data_key`` / ``decrypt_data_key``).
"""

from __future__ import annotations

from typing import Any, Dict, Literal, Optional, Protocol, Sequence, Tuple, TypedDict

from ._native import AesKeyring, RsaKeyring
from .errors import AuthenticationError, PolicyError, UnsupportedKeyError, UsageError

__all__ = [
    "AesKeyring",
    "RsaKeyring",
    "KmsKeyring",
    "KmsDiscoveryKeyring",
    "Keyring",
    "WrappingKeyring",
    "WrapRequest",
    "WrapResult",
    "UnwrapRequest",
    "UnsupportedKeyError",
]

#: The wraps a keyring of your own may answer with (the two the specification writes with a
#: local master key, so that every S3EC client holding the key reads the object).
KeyWrap = Literal["AES/GCM", "RSA-OAEP-SHA1"]


class WrapRequest(TypedDict):
    """What ``wrap_data_key`` is asked."""

    #: The fresh 256-bit data key.
    data_key: bytes
    #: What the wrap binds to: ``"115"`` for V3 objects, ``"AES/GCM/NoPadding"`` for V2 ones.
    content_cipher: str
    #: The materials description the object stores (the keyring's ``materials_description``).
    materials_description: Dict[str, str]


class _WrapResult(TypedDict):
    wrap: KeyWrap
    encrypted_data_key: bytes


class WrapResult(_WrapResult, total=False):
    """What ``wrap_data_key`` returns. ``encrypted_data_key`` for ``AES/GCM``:
    ``iv(12) + AES-GCM(key, iv, aad=content_cipher, data_key) + tag(16)`` (60 bytes); for
    ``RSA-OAEP-SHA1``: RSA-OAEP (SHA-1, MGF1-SHA-1, empty label) of
    ``b"\\x20" + data_key + content_cipher``. ``materials_description``, when given, replaces the
    request's on the stored object (name your key there)."""

    materials_description: Dict[str, str]


class UnwrapRequest(TypedDict):
    """What ``unwrap_data_key`` is asked: the stored envelope's fields."""

    wrap: KeyWrap
    content_cipher: str
    encrypted_data_key: bytes
    #: The stored materials description (``{}`` when none).
    materials_description: Dict[str, str]


class WrappingKeyring(Protocol):
    """A keyring of your own: the protocol of ``KEYRINGS.md``, recognised by its methods.

    The package draws each object's data key and asks ``wrap_data_key`` to wrap it; on reads it
    hands ``unwrap_data_key`` the stored wrap and takes the data key back, then checks it (the V3
    key commitment, then the tag) before anything is released. ``unwrap_data_key`` raises
    :class:`UnsupportedKeyError` for an envelope whose key it does not hold ("not my key": the
    read raises ``UnsupportedKeyError``); any other exception it raises becomes the one opaque
    :class:`AuthenticationError`. Exceptions of ``wrap_data_key`` reach the caller as they are.
    An optional ``materials_description`` attribute (dict) is what writes store by default.
    """

    def wrap_data_key(self, request: WrapRequest) -> WrapResult: ...

    def unwrap_data_key(self, request: UnwrapRequest) -> bytes: ...


class Keyring(Protocol):
    """The KMS-shaped keyring protocol (what :class:`KmsKeyring` implements; for another KMS).
    For an HSM or any key that wraps locally, :class:`WrappingKeyring` is the simpler one.

    ``decrypt_data_key(request)`` gets a dict: ``kind`` (``"kms"``, ``"aes"``, ``"rsa"`` or
    ``"aes_or_rsa"``), ``wrap`` (the wrapping algorithm, e.g. ``"KmsContext"``, ``"AesGcm"``,
    ``"V1Legacy"``), ``encrypted_data_key`` (bytes), ``content_cipher``, ``format_version``,
    ``materials_description``, and for ``kind == "kms"`` also ``ciphertext_blob``,
    ``encryption_context`` (dict, to send verbatim) and ``key_id_hint``. It returns the data key
    (16, 24 or 32 bytes); any failure should raise (``AuthenticationError`` for "this key does not
    open it"). For a V3 object the core then checks the key commitment before anything else.

    ``generate_data_key(encryption_context)`` (writes) returns ``(plaintext_key, wrapped_key)``
    for a fresh 32-byte key bound to that context; the object records the ``kms+context`` wrap.

    ``encrypt_data_key(data_key, encryption_context)`` (instruction-file rotation only) wraps an
    existing key.
    """

    def decrypt_data_key(self, request: Dict[str, Any]) -> bytes: ...

    def generate_data_key(self, encryption_context: Dict[str, str]) -> Tuple[bytes, bytes]: ...


_KMS_AUTH_CODES = {
    "InvalidCiphertextException",
    "IncorrectKeyException",
    "AccessDeniedException",
    "NotFoundException",
    "KMSInvalidStateException",
    "DisabledException",
}


def _client_error_code(e: BaseException) -> Optional[str]:
    r = getattr(e, "response", None)
    if isinstance(r, dict):
        code = r.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


class KmsKeyring:
    """A KMS key: ``GenerateDataKey`` on writes (the ``kms+context`` wrap, encryption context
    bound), ``Decrypt`` with ``KeyId`` on reads. ``kms_client`` is a boto3 KMS client."""

    def __init__(self, kms_client: Any, key_id: str, *, grant_tokens: Optional[Sequence[str]] = None) -> None:
        if not key_id:
            raise UsageError("KmsKeyring needs a key id (use KmsDiscoveryKeyring to read with any key)")
        self.kms = kms_client
        self.key_id = key_id
        self.grant_tokens = list(grant_tokens or [])

    def __repr__(self) -> str:
        return f"KmsKeyring({self.key_id!r})"

    def _args(self) -> Dict[str, Any]:
        return {"GrantTokens": self.grant_tokens} if self.grant_tokens else {}

    def generate_data_key(self, encryption_context: Dict[str, str]) -> Tuple[bytes, bytes]:
        r = self.kms.generate_data_key(
            KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=encryption_context, **self._args()
        )
        return bytes(r["Plaintext"]), bytes(r["CiphertextBlob"])

    def encrypt_data_key(self, data_key: bytes, encryption_context: Dict[str, str]) -> bytes:
        r = self.kms.encrypt(
            KeyId=self.key_id, Plaintext=data_key, EncryptionContext=encryption_context, **self._args()
        )
        return bytes(r["CiphertextBlob"])

    def _decrypt_key_id(self) -> Optional[str]:
        return self.key_id

    def decrypt_data_key(self, request: Dict[str, Any]) -> bytes:
        if request.get("kind") != "kms":
            raise AuthenticationError("a KMS keyring cannot unwrap a %s key" % request.get("wrap"))
        args: Dict[str, Any] = {
            "CiphertextBlob": request["ciphertext_blob"],
            "EncryptionContext": request["encryption_context"],
        }
        key_id = self._decrypt_key_id()
        if key_id is not None:
            args["KeyId"] = key_id
        args.update(self._args())
        try:
            r = self.kms.decrypt(**args)
        except Exception as e:  # botocore ClientError
            if _client_error_code(e) in _KMS_AUTH_CODES:
                raise AuthenticationError("KMS refused to decrypt the data key") from None
            raise
        return bytes(r["Plaintext"])


class KmsDiscoveryKeyring(KmsKeyring):
    """Reads objects wrapped under any KMS key the caller may use (``Decrypt`` without
    ``KeyId``); cannot write."""

    def __init__(self, kms_client: Any, *, grant_tokens: Optional[Sequence[str]] = None) -> None:
        self.kms = kms_client
        self.key_id = ""
        self.grant_tokens = list(grant_tokens or [])

    def __repr__(self) -> str:
        return "KmsDiscoveryKeyring()"

    def _decrypt_key_id(self) -> Optional[str]:
        return None

    def generate_data_key(self, encryption_context: Dict[str, str]) -> Tuple[bytes, bytes]:
        raise PolicyError("a discovery keyring cannot encrypt: give KmsKeyring a key id")

    def encrypt_data_key(self, data_key: bytes, encryption_context: Dict[str, str]) -> bytes:
        raise PolicyError("a discovery keyring cannot encrypt: give KmsKeyring a key id")
