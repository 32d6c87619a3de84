//! Secret key types: zeroized on drop, redacted in `Debug`.

use crate::error::{Error, Result};
use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

macro_rules! secret_key {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name {
            bytes: [u8; 32],
            len: u8,
        }

        impl $name {
            /// Wrap key bytes; the length must be 16, 24 or 32.
            pub fn from_slice(key: &[u8]) -> Result<Self> {
                if !matches!(key.len(), 16 | 24 | 32) {
                    return Err(Error::InvalidKey);
                }
                let mut bytes = [0u8; 32];
                bytes[..key.len()].copy_from_slice(key);
                Ok(Self { bytes, len: key.len() as u8 })
            }
            /// A 256-bit key.
            pub fn new_256(key: [u8; 32]) -> Self {
                Self { bytes: key, len: 32 }
            }
            /// The key bytes. Handle with care.
            pub fn as_bytes(&self) -> &[u8] {
                &self.bytes[..self.len as usize]
            }
            /// The key length in bytes (16, 24 or 32).
            #[allow(clippy::len_without_is_empty)]
            pub fn len(&self) -> usize {
                self.len as usize
            }
            /// A fresh random 256-bit key from the operating system.
            #[cfg(feature = "getrandom")]
            pub fn generate() -> Result<Self> {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes).map_err(|_| Error::Rng)?;
                Ok(Self { bytes, len: 32 })
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(AES-{}, <redacted>)"), self.len as usize * 8)
            }
        }

        impl PartialEq for $name {
            /// Constant-time comparison.
            fn eq(&self, other: &Self) -> bool {
                use subtle::ConstantTimeEq;
                self.len == other.len && bool::from(self.bytes.ct_eq(&other.bytes))
            }
        }
        impl Eq for $name {}
    };
}

secret_key!(
    /// A master (wrapping) AES key of 128, 192 or 256 bits, as the AES keyrings of the AWS SDKs use.
    AesKey
);
secret_key!(
    /// A data key: the per-object key that the envelope wraps. V2 and V3 use 256-bit data keys;
    /// legacy V1 objects may have 128- or 192-bit ones.
    DataKey
);

impl DataKey {
    pub(crate) fn as_256(&self) -> Result<&[u8; 32]> {
        if self.len != 32 {
            return Err(Error::Authentication);
        }
        Ok(&self.bytes)
    }
}

/// The content-encryption key of one object (for V3 the key derived from the data key and
/// checked against the key commitment), handed to a host's AEAD in a [`crate::HostAead`].
/// Zeroized on drop, redacted in `Debug`; only the core makes one.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AeadKey {
    bytes: [u8; 32],
}

impl AeadKey {
    pub(crate) fn new_256(bytes: [u8; 32]) -> Self {
        AeadKey { bytes }
    }
    /// The 32 key bytes (AES-256). Handle with care: give them only to an AEAD that checks the tag
    /// before it returns any plaintext.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AeadKey(AES-256, <redacted>)")
    }
}
