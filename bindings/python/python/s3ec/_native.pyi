"""Type stubs of the native module ``s3ec._native`` (PyO3)."""

from typing import Any, Dict, Mapping, Optional, Tuple, Union

__version__: str

class AesKeyring:
    """A raw AES master key (16, 24 or 32 bytes)."""

    def __init__(self, key: bytes, materials_description: Optional[Mapping[str, str]] = None) -> None: ...
    @property
    def bits(self) -> int: ...

class RsaKeyring:
    """An RSA key pair (PEM, PKCS#8 or PKCS#1); either half may be omitted."""

    def __init__(
        self,
        private_pem: Optional[Union[str, bytes]] = None,
        public_pem: Optional[Union[str, bytes]] = None,
        materials_description: Optional[Mapping[str, str]] = None,
    ) -> None: ...

def get_object(transport: Any, keyring: Any, bucket: str, key: str, options: Dict[str, Any]) -> Dict[str, Any]: ...
def put_object(
    transport: Any, keyring: Any, bucket: str, key: str, reader: Any, options: Dict[str, Any]
) -> Dict[str, Any]: ...
def describe_object(
    transport: Any, bucket: str, key: str, version_id: Optional[str] = None, suffix: str = ".instruction"
) -> Dict[str, Any]: ...
def delete_object(transport: Any, bucket: str, key: str, suffix: str = ".instruction") -> Tuple[bool, bool]: ...
def reencrypt_instruction_file(
    transport: Any, keyring: Any, new_keyring: Any, bucket: str, key: str, options: Dict[str, Any]
) -> str: ...
def migrate_object(
    transport: Any, keyring: Any, new_keyring: Any, bucket: str, key: str, options: Dict[str, Any]
) -> Dict[str, Any]: ...
def is_envelope_key(name: str) -> bool: ...
def check_write_settings(options: Dict[str, Any]) -> str: ...
def default_instruction_suffix() -> str: ...
