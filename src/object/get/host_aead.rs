//! An in-memory GCM read whose bulk AEAD the host performs (for example WebCrypto's AES-GCM in a
//! browser, where the core's portable AES runs on WebAssembly without AES instructions).
//!
//! ```text
//! GetNext::ReadBody(id) => {
//!     let body = read_exactly(get.feed(id)?.len);            // the whole stored body
//!     match get.host_aead(id, body.len())? {
//!         Some(aead) => {                                    // an in-memory GCM read
//!             let r = host_aes_gcm_open(aead.key(), aead.nonce(), aead.aad(), &body);
//!             match get.host_aead_result(id, r.is_ok())? {   // the core decides the release
//!                 Released::Plaintext { start, len, offset } => emit(offset, &r?[start..start + len]),
//!                 _ => {}
//!             }
//!         }
//!         None => { get.body(id, &mut body)?; .. }           // every other read: as before
//!     }
//!     get.end_of_body(id)?;
//! }
//! ```
//!
//! # Why this is not in [`crate::hazmat`]
//!
//! `hazmat` holds everything that releases, or computes on, plaintext that is not yet (or never)
//! authenticated. This hand-off does neither:
//! * nothing is released by handing out the key: the only release is the core's
//!   [`Released::Plaintext`] from [`GetObject::host_aead_result`], given only after the host says
//!   its AEAD verified the tag (an AEAD *open*, such as WebCrypto's `decrypt`, that checks the tag
//!   before it returns any plaintext and returns none when it fails), and after the core's own
//!   checks of the declared plaintext length, in the same order as the in-core read (tag first,
//!   then the length), so that each failure is the same error on every engine;
//! * the key is handed out only after everything the core checks before a decrypt: the policy
//!   admitted the content algorithm, for V3 the key commitment matched (a wrong key is
//!   [`Error::Authentication`] before any ciphertext is touched), and the whole stored body
//!   arrived with exactly the length the checked response headers (Content-Length, ETag,
//!   version, caps) said;
//! * it gives the host no capability it did not have: the host unwrapped the data key itself (it
//!   drives the keyring), and the content key is that data key (V2) or derived from it and the
//!   public message id ([`crate::hazmat::derive_v3`], which *is* hazmat because it checks no
//!   commitment).
//!
//! The host is trusted, as it is for every body byte it feeds to [`GetObject::body`], to report
//! its AEAD's verdict truthfully and to release nothing the core did not release.

use super::*;
use crate::decrypt::ContentKey;
use crate::secret::AeadKey;

/// What a host's AES-256-GCM needs to open an object read in memory: the content key, the
/// 12-byte nonce and the additional authenticated data. The input of the open is the whole
/// stored body (ciphertext followed by the 16-byte tag). The key is zeroized on drop and redacted
/// in `Debug`.
#[derive(Clone)]
pub struct HostAead {
    key: AeadKey,
    nonce: [u8; 12],
    aad: [u8; 2],
    aad_len: u8,
    ciphertext_len: u64,
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
}

/// Where a host AEAD stands in a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum HostState {
    /// Not offered (the machine decrypts itself).
    #[default]
    None,
    /// The key is with the host; its verdict is due before the body may end.
    Pending(RequestId),
    /// The host's AEAD verified and the core released the plaintext.
    Released,
}

impl GetObject<'_> {
    /// For the whole stored body of `id` (`len` bytes, which the host holds), when this read is
    /// an in-memory GCM read: the core checks the piece as [`GetObject::body`] does, records it,
    /// and hands out what the host's AEAD needs instead of decrypting ([`HostAead`]). Then call
    /// [`GetObject::host_aead_result`], before [`GetObject::end_of_body`]. `None` (and nothing
    /// recorded) for every other read — storage, two passes, parallel, ranged, delayed, legacy
    /// CBC, an instruction file —: feed the body to [`GetObject::body`] as usual.
    pub fn host_aead(&mut self, id: RequestId, len: usize) -> Result<Option<HostAead>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.host_aead_inner(id, len);
        r.map_err(|e| self.fail(e))
    }

    fn host_aead_inner(&mut self, id: RequestId, len: usize) -> Result<Option<HostAead>> {
        let i = self.slot(id)?;
        let s = self.slots[i].ok_or(Error::ApiMisuse(
            "GetObject::host_aead: not valid in this state",
        ))?;
        let body = matches!(s.kind, Kind::Open { .. } | Kind::Body);
        let gcm = self.content().is_ok_and(|c| c != ContentAlgorithm::AesCbc);
        if !body || self.plan != Plan::InMemory || !gcm || self.phase != Phase::Body {
            return Ok(None);
        }
        if self.host != HostState::None {
            return Err(Error::ApiMisuse(
                "GetObject::host_aead: not valid in this state",
            ));
        }
        let dec = self
            .decryptor
            .as_ref()
            .ok_or(Error::Internal("no decryptor for an in-memory read"))?;
        let (key, nonce, aad_v3) = match dec.key() {
            ContentKey::Gcm { key, nonce, aad_v3 } => (*key, *nonce, *aad_v3),
            ContentKey::Cbc { .. } => return Ok(None),
        };
        let key = AeadKey::new_256(key);
        // The same checks as a body piece; an in-memory read takes its whole body at once.
        let Some((_, s, _)) = self.accept_piece(id, len)? else {
            return Ok(None);
        };
        if s.remaining() != 0 {
            return Err(Error::ApiMisuse(
                "GetObject::host_aead: not valid in this state",
            ));
        }
        let ciphertext_len = self.ct_len()?;
        self.host = HostState::Pending(id);
        Ok(Some(HostAead {
            key,
            nonce,
            aad: if aad_v3 { [0x00, 0x73] } else { [0, 0] },
            aad_len: if aad_v3 { 2 } else { 0 },
            ciphertext_len,
        }))
    }

    /// The host's verdict on the body of `id` after [`GetObject::host_aead`]: `verified` only when
    /// its AEAD open checked the tag and succeeded. A failure is [`Error::Authentication`]; a
    /// declared plaintext length that differs from the object's is [`Error::LengthMismatch`] (as
    /// the in-core read, after the tag). On success: [`Released::Plaintext`] over the host's
    /// output (`start` 0, the whole plaintext, offset 0) — release nothing before this says so.
    pub fn host_aead_result(&mut self, id: RequestId, verified: bool) -> Result<Released> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.host_aead_result_inner(id, verified);
        r.map_err(|e| self.fail(e))
    }

    fn host_aead_result_inner(&mut self, id: RequestId, verified: bool) -> Result<Released> {
        if self.host != HostState::Pending(id) {
            return Err(Error::ApiMisuse(
                "GetObject::host_aead_result: not valid in this state",
            ));
        }
        if !verified {
            return Err(Error::Authentication);
        }
        let n = self.ct_len()?;
        if self.declared_len.is_some_and(|d| d != n) {
            return Err(Error::LengthMismatch);
        }
        let len = usize::try_from(n).map_err(|_| Error::TooLarge)?;
        self.host = HostState::Released;
        self.released = n;
        Ok(Released::Plaintext {
            start: 0,
            len,
            offset: 0,
        })
    }

    /// Whether the body of `id` waits for the host's verdict ([`GetObject::end_of_body`] refuses
    /// to end it before).
    pub(super) fn host_pending(&self, id: RequestId) -> bool {
        self.host == HostState::Pending(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_aead_debug_is_redacted() {
        let h = HostAead {
            key: AeadKey::new_256([0xab; 32]),
            nonce: [1; 12],
            aad: [0, 0x73],
            aad_len: 2,
            ciphertext_len: 5,
        };
        let s = alloc::format!("{h:?}");
        assert!(s.contains("<redacted>"), "{s}");
        assert!(!s.contains("171") && !s.contains("ab, ab"), "{s}");
        assert_eq!(h.aad(), &[0, 0x73]);
        assert_eq!(h.tag_len(), 16);
    }
}
