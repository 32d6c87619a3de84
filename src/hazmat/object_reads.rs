//! The GET machine's unauthenticated reads ([`crate::object::GetObject`]): delayed
//! authentication and ranged reads. Only the constructors here make such a read, and the machine
//! releases their bytes through the functions here.

use crate::decrypt::{CbcInPlace, Decryptor};
use crate::error::{Error, Result};
use crate::gcm::Gcm;
use crate::range::ByteRange;

use super::RangedStream;

/// A GET that releases plaintext that is not (yet) authenticated: give it as
/// [`crate::object::ReadMode::Unauthenticated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnauthenticatedRead(pub(crate) ReadKind);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadKind {
    Delayed,
    Range(ByteRange),
}

/// The spec's delayed authentication: the whole object is released as it arrives, before the tag
/// is checked, and an error at the end means that everything released must be discarded. The
/// read needs [`crate::DecryptPolicy::delayed_authentication`].
pub const fn delayed_authentication_read() -> UnauthenticatedRead {
    UnauthenticatedRead(ReadKind::Delayed)
}

/// A ranged read, never authenticated (V3 objects still have their key commitment checked). The
/// read needs [`crate::DecryptPolicy::legacy_unauthenticated_modes`].
pub const fn ranged_read(range: ByteRange) -> UnauthenticatedRead {
    UnauthenticatedRead(ReadKind::Range(range))
}

impl UnauthenticatedRead {
    /// The range, for a ranged read.
    pub fn range(&self) -> Option<ByteRange> {
        match self.0 {
            ReadKind::Range(r) => Some(r),
            ReadKind::Delayed => None,
        }
    }

    /// Whether `policy` allows this read.
    pub(crate) fn allowed(&self, policy: &crate::DecryptPolicy) -> bool {
        match self.0 {
            ReadKind::Delayed => policy.delayed_authentication,
            ReadKind::Range(_) => policy.legacy_unauthenticated_modes,
        }
    }
}

/// Delayed authentication in place: each piece is decrypted as it comes, the tag kept for the end.
#[allow(clippy::large_enum_variant)] // no allocator: the engine lives inline
pub(crate) enum DelayedRelease {
    Gcm(Gcm<aes::Aes256>),
    Cbc(CbcInPlace),
}

impl DelayedRelease {
    pub(crate) fn new(dec: &Decryptor) -> Result<Self> {
        Ok(match dec.gcm_engine() {
            Ok(g) => DelayedRelease::Gcm(g),
            Err(_) => DelayedRelease::Cbc(dec.cbc_in_place()?),
        })
    }

    /// Decrypt `piece` (stored bytes from offset `at`; the ciphertext ends at `ct_len`) in place:
    /// returns how many plaintext bytes it now starts with. GCM tag bytes go to `tag`.
    pub(crate) fn release(
        &mut self,
        at: u64,
        ct_len: u64,
        piece: &mut [u8],
        tag: &mut [u8; 16],
    ) -> Result<usize> {
        match self {
            DelayedRelease::Gcm(g) => {
                let n = (ct_len.saturating_sub(at) as usize).min(piece.len());
                g.decrypt_in_place(&mut piece[..n])?;
                let rest = &piece[n..];
                if !rest.is_empty() {
                    let k = (at + n as u64 - ct_len) as usize;
                    tag[k..k + rest.len()].copy_from_slice(rest);
                }
                Ok(n)
            }
            DelayedRelease::Cbc(c) => c.decrypt(piece, at + piece.len() as u64 == ct_len),
        }
    }

    /// The end: the GCM tag must verify (CBC was checked as its last block was released).
    pub(crate) fn finish(self, tag: &[u8; 16]) -> Result<()> {
        match self {
            DelayedRelease::Gcm(g) => g.verify(tag),
            DelayedRelease::Cbc(_) => Ok(()),
        }
    }
}

/// A ranged read in place: decrypt the fetched `piece` and move the asked-for plaintext to its
/// start; returns its length. The output never outruns the input, so the write cursor stays
/// behind the read cursor.
pub(crate) fn release_range(stream: &mut RangedStream, piece: &mut [u8]) -> Result<usize> {
    let mut scratch = [0u8; 4096];
    let mut written = 0usize;
    let mut read = 0usize;
    while read < piece.len() {
        let n = (piece.len() - read).min(scratch.len());
        let k = stream.update(&piece[read..read + n], &mut scratch[..n])?;
        read += n;
        if written + k > read {
            zeroize::Zeroize::zeroize(&mut scratch);
            return Err(Error::Internal(
                "the ranged stream released more than it read",
            ));
        }
        piece[written..written + k].copy_from_slice(&scratch[..k]);
        written += k;
    }
    zeroize::Zeroize::zeroize(&mut scratch);
    Ok(written)
}
