"""Keyrings: who wraps and unwraps data keys.

``AesKeyring`` and ``RsaKeyring`` are native (the key never leaves Rust once given). KMS keyrings
and any keyring you write yourself are Python objects with the :class:`Keyring` protocol: the core
machine emits the key request, your object answers it (a KMS call, an HSM, ...).
"""

from __future__ import annotations

import sys
from typing import Any, Dict, Optional, Sequence, Tuple

from ._native import AesKeyring, AuthenticationError, PolicyError, RsaKeyring, UsageError

if sys.version_info >= (3, 8):
    from typing import Protocol
else:  # pragma: no cover
    Protocol = object

__all__ = [
    "AesKeyring",
    "RsaKeyring",
    "KmsKeyring",
    "KmsDiscoveryKeyring",
    "Keyring",
]


class Keyring(Protocol):
    """The keyring protocol a Python class implements (e.g. for an HSM or another KMS).

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
        return r.get("Error", {}).get("Code")
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
