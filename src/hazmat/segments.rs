//! Segment decryption before the combined tag is checked.

use crate::error::{Error, Result};
use crate::parallel::{ParallelGcm, PartialGhash};
use subtle::ConstantTimeEq;

/// GCM segments decrypted before the combined tag is checked ([`super::unverified_segments`]).
#[derive(Debug, Clone)]
pub struct UnverifiedSegments(pub(crate) ParallelGcm);

impl UnverifiedSegments {
    /// Authenticate one ciphertext segment (no decryption): its partial GHASH.
    pub fn authenticate_segment(&self, offset: u64, ct: &[u8]) -> Result<PartialGhash> {
        self.0.authenticate_segment(offset, ct)
    }

    /// Decrypt one segment in place, without authenticating it. `offset` (its position in the
    /// body) must be a multiple of 16.
    pub fn decrypt_segment_unauthenticated(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.0.decrypt_segment_unauthenticated(offset, buf)
    }

    /// Authenticate and decrypt one segment in place in one fused pass: the segment's partial
    /// GHASH (of the ciphertext). The plaintext is not verified until [`UnverifiedSegments::verify`]
    /// over all segments succeeds.
    pub fn decrypt_segment(&self, offset: u64, buf: &mut [u8]) -> Result<PartialGhash> {
        self.0.decrypt_segment_rechecked(offset, buf)
    }

    /// Check the stored tag against the segments' combined partial values, in constant time.
    /// On error, discard every segment decrypted.
    #[must_use = "an error here means the decrypted segments must be discarded"]
    pub fn verify(&self, partials: &[PartialGhash], tag: &[u8]) -> Result<()> {
        self.0.verify(partials, tag)
    }
}

/// Pass two, segment-wise, over a body pass one verified ([`super::rechecked_segments`]).
#[derive(Clone)]
pub struct RecheckedSegments {
    pub(super) gcm: ParallelGcm,
    pub(super) tag: [u8; 16],
    pub(super) len: u64,
}

impl core::fmt::Debug for RecheckedSegments {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecheckedSegments")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl RecheckedSegments {
    /// The ciphertext length pass one verified (the body without its tag).
    pub fn verified_len(&self) -> u64 {
        self.len
    }

    /// Authenticate and decrypt one segment in place in one fused pass, returning its partial
    /// GHASH. `offset` must be a multiple of 16; every segment but the last a multiple of 16 long.
    pub fn decrypt_segment_rechecked(&self, offset: u64, buf: &mut [u8]) -> Result<PartialGhash> {
        self.gcm.decrypt_segment_rechecked(offset, buf)
    }

    /// The re-check: the segments cover the verified length, their combined tag is the one pass
    /// one verified, and `stored_tag` (the tag as read again) is too. On error, discard every
    /// segment decrypted.
    #[must_use = "an error here means the decrypted segments must be discarded"]
    pub fn verify(&self, partials: &[PartialGhash], stored_tag: &[u8]) -> Result<()> {
        let covered: u64 = partials.iter().map(|p| p.len()).sum();
        let combined = self.gcm.tag(partials)?;
        let same = combined.ct_eq(&self.tag)
            & subtle::Choice::from((stored_tag.len() == 16) as u8)
            & stored_tag
                .get(..16)
                .map_or(subtle::Choice::from(0), |t| t.ct_eq(&self.tag[..]));
        if covered == self.len && bool::from(same) {
            Ok(())
        } else {
            Err(Error::Authentication)
        }
    }
}
