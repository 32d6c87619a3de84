//! One GCM stream across many cores: independent segments (CTR seeked to the segment, a partial
//! GHASH), combined into the exact tag. GHASH over concatenated segments combines as
//! `G(A ‖ B) = G(A)·H^|B| ⊕ G(B)`; the field products come from `ghash` itself (a one-block GHASH
//! keyed by `b` of block `a` is `a·b`) and `H^n` by square-and-multiply.
//!
//! Sans-IO like the rest of the crate: segments can be processed on any thread, machine or in any
//! order; only [`ParallelGcm::tag`] needs their partial values, in stream order. With `std`,
//! [`ParallelGcm::encrypt_in_place_threaded`] and friends split a buffer over threads.

use crate::error::{Error, Result};
use crate::gcm::{Cpu, GCM_MAX_PLAINTEXT, Gcm, Key256};
use aes::cipher::{BlockCipherEncrypt, KeyInit, array::Array, consts::U16};
use ghash::{GHash, universal_hash::UniversalHash};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The GHASH of one segment's ciphertext, computed from a zero state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialGhash {
    offset: u64,
    len: u64,
    value: [u8; 16],
}

impl PartialGhash {
    /// Offset of the segment in the body.
    pub fn offset(&self) -> u64 {
        self.offset
    }
    /// Length of the segment.
    pub fn len(&self) -> u64 {
        self.len
    }
    /// Whether the segment is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub(crate) fn from_parts(offset: u64, len: u64, value: [u8; 16]) -> Self {
        PartialGhash { offset, len, value }
    }
    /// The value (secret: GHASH under the object's hash key; never stored or sent).
    pub(crate) fn value(&self) -> &[u8; 16] {
        &self.value
    }
}

/// The running combination of consecutive segments' partial values, for callers that receive
/// them one at a time (in stream order): [`ParallelGcm::accumulator`], [`ParallelGcm::absorb`],
/// [`ParallelGcm::finish_tag`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TagAccumulator {
    acc: [u8; 16],
    at: u64,
    closed: bool,
    /// `H^blocks` for the last segment length seen (most segments have the same length).
    pow_blocks: u64,
    pow: [u8; 16],
}

impl core::fmt::Debug for TagAccumulator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TagAccumulator")
            .field("position", &self.at)
            .finish_non_exhaustive()
    }
}

impl TagAccumulator {
    /// The body offset the next segment must start at.
    pub fn position(&self) -> u64 {
        self.at
    }
}

/// The key material of one GCM stream, shareable across threads, for segment-wise processing.
/// The GCM backend is chosen once, here, for every segment.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ParallelGcm {
    key: Key256,
    nonce: [u8; 12],
    h: [u8; 16],
    tag_mask: [u8; 16],
    aad_hash: [u8; 16],
    aad_len: u64,
}

impl core::fmt::Debug for ParallelGcm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ParallelGcm(<redacted>)")
    }
}

fn mul(a: &[u8; 16], b: &[u8; 16]) -> [u8; 16] {
    let mut g = GHash::new(&Array::from(*b));
    g.update(&[Array::from(*a)]);
    g.finalize().into()
}

fn xor(a: &mut [u8; 16], b: &[u8; 16]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

impl ParallelGcm {
    pub(crate) fn new(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8]) -> Self {
        Self::with_cpu(key, nonce, aad, Cpu::detect())
    }

    /// [`ParallelGcm::new`] on the backend `cpu`.
    pub(crate) fn with_cpu(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], cpu: Cpu) -> Self {
        let cipher = aes::Aes256::new(&(*key).into());
        let mut h = Array::<u8, U16>::default();
        cipher.encrypt_block(&mut h);
        let mut j0 = Array::<u8, U16>::default();
        j0[..12].copy_from_slice(nonce);
        j0[15] = 1;
        cipher.encrypt_block(&mut j0);
        let mut g = GHash::new(&h);
        g.update_padded(aad);
        let aad_hash: [u8; 16] = g.finalize().into();
        ParallelGcm {
            key: Key256::with_cpu(key, cpu),
            nonce: *nonce,
            h: h.into(),
            tag_mask: j0.into(),
            aad_hash,
            aad_len: aad.len() as u64,
        }
    }

    fn check(offset: u64, len: usize) -> Result<()> {
        if !offset.is_multiple_of(16) {
            return Err(Error::InvalidRange);
        }
        let end = offset
            .checked_add(len as u64)
            .ok_or(Error::MessageTooLong)?;
        if end > GCM_MAX_PLAINTEXT {
            return Err(Error::MessageTooLong);
        }
        Ok(())
    }

    /// The sequential engine started at the segment at `offset` (a multiple of 16).
    pub(crate) fn segment_engine(&self, offset: u64) -> Gcm<aes::Aes256> {
        self.segment(offset)
    }

    /// The sequential engine started at the segment at `offset` (checked by the caller).
    fn segment(&self, offset: u64) -> Gcm<aes::Aes256> {
        Gcm::segment_with_key(&self.key, &self.nonce, offset)
    }

    fn partial(&self, offset: u64, ct: &[u8]) -> Result<PartialGhash> {
        let mut g = self.segment(offset);
        g.authenticate_only(ct)?;
        Ok(PartialGhash {
            offset,
            len: ct.len() as u64,
            value: g.partial(),
        })
    }

    /// Encrypt one segment in place. `offset` (its position in the body) must be a multiple of 16;
    /// every segment but the last must have a length that is a multiple of 16.
    pub fn encrypt_segment(&self, offset: u64, buf: &mut [u8]) -> Result<PartialGhash> {
        Self::check(offset, buf.len())?;
        // The sequential engine (fused CTR/GHASH strides) started at the segment's counter.
        let mut g = self.segment(offset);
        g.encrypt_in_place(buf)?;
        Ok(PartialGhash {
            offset,
            len: buf.len() as u64,
            value: g.partial(),
        })
    }

    /// Authenticate one ciphertext segment (no decryption): the partial GHASH.
    pub fn authenticate_segment(&self, offset: u64, ct: &[u8]) -> Result<PartialGhash> {
        Self::check(offset, ct.len())?;
        self.partial(offset, ct)
    }

    /// Decrypt one segment in place, without authenticating it (pair with
    /// [`ParallelGcm::authenticate_segment`] and [`ParallelGcm::verify`] first, as verify-first does).
    pub(crate) fn decrypt_segment_unauthenticated(
        &self,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<()> {
        Self::check(offset, buf.len())?;
        self.segment(offset).keystream_in_place(buf);
        Ok(())
    }

    /// Authenticate and decrypt one segment in place in a single fused pass: returns the
    /// segment's partial GHASH value (of the ciphertext). The plaintext left in `buf` is **not
    /// verified** until [`ParallelGcm::verify`] over all segments succeeds; a caller that already
    /// verified the object once (as pass one of verify-first) uses this to re-check while it
    /// decrypts, and must discard `buf` if that check fails.
    pub(crate) fn decrypt_segment_rechecked(
        &self,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<PartialGhash> {
        Self::check(offset, buf.len())?;
        let mut g = self.segment(offset);
        g.decrypt_in_place(buf)?;
        Ok(PartialGhash {
            offset,
            len: buf.len() as u64,
            value: g.partial(),
        })
    }

    /// Combine the partial values of consecutive segments covering the whole body, in order,
    /// into the tag. Gaps, overlaps, or a non-final segment whose length is not a multiple of 16
    /// are [`Error::InvalidRange`].
    pub fn tag(&self, partials: &[PartialGhash]) -> Result<[u8; 16]> {
        self.tag_iter(partials.iter().copied())
    }

    /// [`ParallelGcm::tag`] over partial values given one by one, in order.
    pub fn tag_iter(&self, partials: impl IntoIterator<Item = PartialGhash>) -> Result<[u8; 16]> {
        let mut acc = self.accumulator();
        for p in partials {
            self.absorb(&mut acc, &p)?;
        }
        Ok(self.finish_tag(acc))
    }

    /// An empty accumulator at body offset 0.
    pub fn accumulator(&self) -> TagAccumulator {
        TagAccumulator {
            acc: self.aad_hash,
            at: 0,
            closed: false,
            pow_blocks: 0,
            pow: [0; 16],
        }
    }

    /// Add the next segment's partial value: it must start where the previous one ended, and
    /// follow only segments whose lengths are multiples of 16 ([`Error::InvalidRange`]).
    pub fn absorb(&self, acc: &mut TagAccumulator, p: &PartialGhash) -> Result<()> {
        if p.offset != acc.at || acc.closed {
            return Err(Error::InvalidRange);
        }
        let blocks = p.len.div_ceil(16);
        if acc.pow_blocks != blocks || blocks == 0 {
            acc.pow = self.h_pow(blocks);
            acc.pow_blocks = blocks;
        }
        acc.acc = mul(&acc.acc, &acc.pow);
        xor(&mut acc.acc, &p.value);
        acc.at += p.len;
        acc.closed = !p.len.is_multiple_of(16);
        Ok(())
    }

    /// The tag over every segment absorbed.
    pub fn finish_tag(&self, acc: TagAccumulator) -> [u8; 16] {
        let mut a = acc.acc;
        let mut lens = [0u8; 16];
        lens[..8].copy_from_slice(&(self.aad_len * 8).to_be_bytes());
        lens[8..].copy_from_slice(&(acc.at * 8).to_be_bytes());
        xor(&mut a, &lens);
        let mut t = mul(&a, &self.h);
        xor(&mut t, &self.tag_mask);
        t
    }

    /// Check a stored tag against the combined partial values, in constant time.
    pub fn verify(&self, partials: &[PartialGhash], tag: &[u8]) -> Result<()> {
        self.verify_iter(partials.iter().copied(), tag)
    }

    /// [`ParallelGcm::verify`] over partial values given one by one, in order.
    pub fn verify_iter(
        &self,
        partials: impl IntoIterator<Item = PartialGhash>,
        tag: &[u8],
    ) -> Result<()> {
        let t = self.tag_iter(partials)?;
        if tag.len() == 16 && bool::from(t.ct_eq(tag)) {
            Ok(())
        } else {
            Err(Error::Authentication)
        }
    }

    /// `H^n` by square-and-multiply.
    fn h_pow(&self, mut n: u64) -> [u8; 16] {
        // The multiplicative identity of GF(2^128) in GHASH's bit order is 0x80 00 … 00.
        let mut result = [0u8; 16];
        result[0] = 0x80;
        let mut base = self.h;
        while n > 0 {
            if n & 1 == 1 {
                result = mul(&result, &base);
            }
            base = mul(&base, &base);
            n >>= 1;
        }
        result
    }
}

#[cfg(feature = "std")]
impl ParallelGcm {
    fn split(len: usize, threads: usize) -> usize {
        let threads = threads.max(1);
        (len.div_ceil(threads)).div_ceil(16).max(1) * 16
    }

    /// Encrypt a whole body in place on `threads` threads; returns the tag.
    pub fn encrypt_in_place_threaded(&self, buf: &mut [u8], threads: usize) -> Result<[u8; 16]> {
        let seg = Self::split(buf.len(), threads);
        let partials = std::thread::scope(|s| {
            let handles: std::vec::Vec<_> = buf
                .chunks_mut(seg)
                .enumerate()
                .map(|(i, c)| s.spawn(move || self.encrypt_segment((i * seg) as u64, c)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| Error::Internal("a worker thread panicked"))?
                })
                .collect::<Result<std::vec::Vec<_>>>()
        })?;
        if partials.is_empty() {
            return self.tag(&[]);
        }
        self.tag(&partials)
    }

    /// Verify-first decryption of a whole body (ciphertext ‖ tag) in place on `threads` threads:
    /// every segment is authenticated and the tag checked before any byte is decrypted. Returns the
    /// plaintext length; on failure the buffer still holds the ciphertext.
    pub fn decrypt_in_place_threaded(&self, body: &mut [u8], threads: usize) -> Result<usize> {
        let n = body.len().checked_sub(16).ok_or(Error::TruncatedBody)?;
        let (ct, tag) = body.split_at_mut(n);
        let seg = Self::split(n, threads);
        let partials = std::thread::scope(|s| {
            let handles: std::vec::Vec<_> = ct
                .chunks(seg)
                .enumerate()
                .map(|(i, c)| s.spawn(move || self.authenticate_segment((i * seg) as u64, c)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| Error::Internal("a worker thread panicked"))?
                })
                .collect::<Result<std::vec::Vec<_>>>()
        })?;
        self.verify(&partials, tag)?;
        std::thread::scope(|s| {
            let handles: std::vec::Vec<_> = ct
                .chunks_mut(seg)
                .enumerate()
                .map(|(i, c)| {
                    s.spawn(move || self.decrypt_segment_unauthenticated((i * seg) as u64, c))
                })
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join()
                    .map_err(|_| Error::Internal("a worker thread panicked"))?
            })
        })?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::AeadInOut;
    use rand::{Rng, RngExt, SeedableRng, rngs::StdRng};

    /// On every backend this CPU has: segments of random 16-aligned sizes, encrypted in a random
    /// order, equal the `aes-gcm` one-shot (ciphertext and combined tag); authenticating and
    /// decrypting them segment by segment gives the tag and the plaintext back; a flipped tag
    /// bit is refused.
    #[test]
    fn segments_against_aes_gcm_on_every_backend() {
        for cpu in crate::gcm::tests::backends() {
            let mut rng = StdRng::seed_from_u64(0x5eed_0005);
            for case in 0..crate::gcm::tests::cases(300) {
                let mut key = [0u8; 32];
                rng.fill_bytes(&mut key);
                let mut nonce = [0u8; 12];
                rng.fill_bytes(&mut nonce);
                let aad = alloc::vec![case as u8; case % 33];
                let n = rng.random_range(0..=6000);
                let mut pt = alloc::vec![0u8; n];
                rng.fill_bytes(&mut pt);
                let mut want = pt.clone();
                let tag = aes_gcm::Aes256Gcm::new(&key.into())
                    .encrypt_inout_detached(&nonce.into(), &aad, (&mut want[..]).into())
                    .unwrap();
                let pg = ParallelGcm::with_cpu(&key, &nonce, &aad, cpu);
                let mut cuts = alloc::vec![0usize];
                while *cuts.last().unwrap() < n {
                    let next = cuts.last().unwrap() + 16 * rng.random_range(1..=80usize);
                    cuts.push(next.min(n));
                }
                let mut order: alloc::vec::Vec<usize> = (0..cuts.len() - 1).collect();
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.random_range(0..=i));
                }
                let mut ct = pt.clone();
                let mut parts = alloc::vec![None; order.len()];
                for &i in &order {
                    let (a, b) = (cuts[i], cuts[i + 1]);
                    parts[i] = Some(pg.encrypt_segment(a as u64, &mut ct[a..b]).unwrap());
                }
                let parts: alloc::vec::Vec<_> = parts.into_iter().map(Option::unwrap).collect();
                assert_eq!(ct, want, "case {case}, {:?}", cpu.backend());
                assert_eq!(pg.tag(&parts).unwrap()[..], tag[..], "case {case}");
                let auth: alloc::vec::Vec<_> = cuts
                    .windows(2)
                    .map(|w| {
                        pg.authenticate_segment(w[0] as u64, &ct[w[0]..w[1]])
                            .unwrap()
                    })
                    .collect();
                assert_eq!(pg.verify(&auth, &tag), Ok(()), "case {case}");
                let mut bad = [0u8; 16];
                bad.copy_from_slice(&tag);
                bad[case % 16] ^= 1 << (case % 8);
                assert_eq!(pg.verify(&auth, &bad), Err(Error::Authentication));
                let mut back = ct.clone();
                for w in cuts.windows(2) {
                    if case % 2 == 0 {
                        pg.decrypt_segment_unauthenticated(w[0] as u64, &mut back[w[0]..w[1]])
                            .unwrap();
                    } else {
                        let p = pg
                            .decrypt_segment_rechecked(w[0] as u64, &mut back[w[0]..w[1]])
                            .unwrap();
                        assert_eq!(
                            p,
                            auth[auth.iter().position(|a| a.offset == p.offset).unwrap()]
                        );
                    }
                }
                assert_eq!(back, pt, "case {case}, {:?}", cpu.backend());
            }
        }
    }
}
