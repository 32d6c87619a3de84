//! A whole-object GCM decrypt whose bulk AEAD the host performs (for example WebCrypto's AES-GCM
//! in a browser, where the core's portable AES runs on WebAssembly without AES instructions):
//! [`Decryptor::host_aead`] for an object in hand, [`crate::object::GetObject::host_aead`] for
//! an in-memory read of the GET machine.

use super::{ContentKey, Decryptor};
use crate::envelope::ContentAlgorithm;
use crate::error::{Error, Result};
use crate::secret::AeadKey;

/// What a host's AES-256-GCM needs to open one object's whole stored body (ciphertext followed
/// by the 16-byte tag): the content key, the 12-byte nonce and the additional authenticated data.
/// The key is zeroized on drop and redacted in `Debug`.
///
/// # Why this is not in [`crate::hazmat`]
///
/// `hazmat` holds everything that releases, or computes on, plaintext that is not yet (or never)
/// authenticated. This hand-off does neither:
/// * nothing is released by handing out the key: the release is the core's answer to the host's
///   verdict ([`HostAead::verdict`], or the GET machine's
///   [`crate::object::GetObject::host_aead_result`], whose
///   [`crate::object::Released::Plaintext`] is the only release), given only after the host says
///   its AEAD verified the tag (an AEAD *open*, such as WebCrypto's `decrypt`, that checks the tag
///   before it returns any plaintext and returns none when it fails), and after the core's own
///   check of the declared plaintext length, in the same order as the in-core decrypt (tag first,
///   then the length), so that each failure is the same error on every engine;
/// * the key is handed out only after everything the core checks before a decrypt: the policy
///   admitted the content algorithm, for V3 the key commitment matched (a wrong key is
///   [`Error::Authentication`] before any ciphertext is touched), and the stored body is long
///   enough to hold a tag (the GET machine also checks that the whole body arrived with exactly
///   the length its checked response headers said);
/// * it gives the host no capability it did not have: the host unwrapped the data key itself (it
///   drives the keyring), and the content key is that data key (V2) or derived from it and the
///   public message id ([`crate::hazmat::derive_v3`], which *is* hazmat because it checks no
///   commitment).
///
/// The host is trusted, as it is for every body byte it hands the core, to report its AEAD's
/// verdict truthfully and to release nothing before the core says so.
#[derive(Clone)]
pub struct HostAead {
    key: AeadKey,
    nonce: [u8; 12],
    aad: [u8; 2],
    aad_len: u8,
    ciphertext_len: u64,
    declared_len: Option<u64>,
}

impl core::fmt::Debug for HostAead {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostAead")
            .field("key", &self.key)
            .field("aad", &self.aad())
            .field("ciphertext_len", &self.ciphertext_len)
            .finish_non_exhaustive()
    }
}

impl HostAead {
    /// The AES-256 content key.
    pub fn key(&self) -> &AeadKey {
        &self.key
    }
    /// The 96-bit nonce (IV).
    pub fn nonce(&self) -> &[u8; 12] {
        &self.nonce
    }
    /// The additional authenticated data (V3: the algorithm suite id `00 73`; V2: none).
    pub fn aad(&self) -> &[u8] {
        &self.aad[..self.aad_len as usize]
    }
    /// The tag length in bytes (16): the last bytes of the stored body.
    pub fn tag_len(&self) -> usize {
        crate::suite::TAG_LEN
    }
    /// The ciphertext length, which is the plaintext length the open yields.
    pub fn ciphertext_len(&self) -> u64 {
        self.ciphertext_len
    }
    /// The host's verdict: `verified` only when its AEAD open checked the tag and succeeded. A
    /// failure is [`Error::Authentication`]; then a declared plaintext length that differs from
    /// the object's is [`Error::LengthMismatch`] (the order of the in-core decrypt). `Ok(n)`: the
    /// host's `n` bytes of output are the object's plaintext, and may be released.
    pub fn verdict(&self, verified: bool) -> Result<u64> {
        if !verified {
            return Err(Error::Authentication);
        }
        if self.declared_len.is_some_and(|d| d != self.ciphertext_len) {
            return Err(Error::LengthMismatch);
        }
        Ok(self.ciphertext_len)
    }
}

impl Decryptor {
    /// For a GCM object whose whole stored body (`stored_len` bytes) the host holds: what the
    /// host's AES-256-GCM needs to open it ([`HostAead`]), instead of [`Decryptor::decrypt_whole`].
    /// Release the host's output only after [`HostAead::verdict`] says so. `None` for legacy CBC
    /// (decrypt it with [`Decryptor::decrypt_whole`]); a body too short for a tag is
    /// [`Error::TruncatedBody`].
    pub fn host_aead(&self, stored_len: u64) -> Result<Option<HostAead>> {
        if self.content == ContentAlgorithm::AesCbc {
            return Ok(None);
        }
        let ciphertext_len = self.max_plaintext_len(stored_len)?;
        let ContentKey::Gcm { key, nonce, aad_v3 } = &self.key else {
            return Ok(None);
        };
        Ok(Some(HostAead {
            key: AeadKey::new_256(*key),
            nonce: *nonce,
            aad: if *aad_v3 { [0x00, 0x73] } else { [0, 0] },
            aad_len: if *aad_v3 { 2 } else { 0 },
            ciphertext_len,
            declared_len: self.declared_len,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(declared_len: Option<u64>) -> HostAead {
        HostAead {
            key: AeadKey::new_256([0xab; 32]),
            nonce: [1; 12],
            aad: [0, 0x73],
            aad_len: 2,
            ciphertext_len: 5,
            declared_len,
        }
    }

    #[test]
    fn host_aead_debug_is_redacted() {
        let s = alloc::format!("{:?}", h(None));
        assert!(s.contains("<redacted>"), "{s}");
        assert!(!s.contains("171") && !s.contains("ab, ab"), "{s}");
    }

    /// The tag first, then the declared length, as the in-core decrypt.
    #[test]
    fn the_verdict_checks_the_tag_then_the_declared_length() {
        assert_eq!(h(None).verdict(true), Ok(5));
        assert_eq!(h(Some(5)).verdict(true), Ok(5));
        assert_eq!(h(Some(6)).verdict(true), Err(Error::LengthMismatch));
        assert_eq!(h(Some(6)).verdict(false), Err(Error::Authentication));
        assert_eq!(h(None).verdict(false), Err(Error::Authentication));
    }
}
