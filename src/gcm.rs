//! Incremental AES-GCM built from `aes` + `ctr` + `ghash`.
//!
//! RustCrypto's `aes-gcm` is one-shot only; S3 objects are streams. This type keeps a 16-byte
//! GHASH carry so that any split of the input gives the same ciphertext and tag as the one-shot
//! construction (checked against `aes-gcm` in the tests). Only 96-bit nonces are supported: every
//! S3EC format uses them.
//!
//! When the build enables `sse2`, `ssse3` and `pclmulqdq` on x86-64 (for example
//! `RUSTFLAGS="-C target-cpu=native"`; not on `target_os = "none"`, whose soft-float ABI LLVM
//! cannot combine with these vectors), GHASH is the aggregated carry-less implementation in
//! `fast` instead of the `ghash` crate, and CTR runs in batches of 256 blocks through the
//! cipher's multi-block path instead of the `ctr` crate (with `avx512f` + `vaes` also enabled,
//! the `aes` crate's VAES backend). The crate forbids `unsafe`, so the choice is made at
//! compile time, not by runtime detection.

use crate::error::{Error, Result};
use aes::cipher::{
    BlockCipherEncrypt, BlockSizeUser, InnerIvInit, StreamCipher, StreamCipherCoreWrapper,
    StreamCipherSeek, array::Array, consts::U16,
};
use ctr::CtrCore;
use subtle::ConstantTimeEq;

/// The most plaintext one key and nonce may protect: 2^39 − 256 bits = 2^36 − 32 bytes.
pub const GCM_MAX_PLAINTEXT: u64 = (1 << 36) - 32;

/// Bytes processed per CTR/GHASH step, so that data is still in L1 when GHASH reads it.
const STRIDE: usize = 8 * 1024;

// The compile-time choice of GHASH and CTR: `fast` (see the module docs above) or `soft`.
#[cfg(all(
    target_arch = "x86_64",
    not(target_os = "none"),
    target_feature = "sse2",
    target_feature = "pclmulqdq",
    target_feature = "ssse3"
))]
mod fast;
use backend::{Ctr, Hasher, new_ctr};
#[cfg(all(
    target_arch = "x86_64",
    not(target_os = "none"),
    target_feature = "sse2",
    target_feature = "pclmulqdq",
    target_feature = "ssse3"
))]
use fast as backend;
#[cfg(not(all(
    target_arch = "x86_64",
    not(target_os = "none"),
    target_feature = "sse2",
    target_feature = "pclmulqdq",
    target_feature = "ssse3"
)))]
use soft as backend;

/// The `ghash` and `ctr` crates behind the interface of `fast`.
#[cfg(not(all(
    target_arch = "x86_64",
    not(target_os = "none"),
    target_feature = "sse2",
    target_feature = "pclmulqdq",
    target_feature = "ssse3"
)))]
mod soft {
    use aes::cipher::{BlockCipherEncrypt, BlockSizeUser, InnerIvInit, array::Array, consts::U16};
    use ghash::{GHash, universal_hash::UniversalHash};

    pub(super) struct Hasher(GHash);

    impl Hasher {
        pub(super) fn new(h: &[u8; 16]) -> Self {
            Hasher(GHash::new(&Array::from(*h)))
        }
        /// Whole blocks.
        pub(super) fn update(&mut self, data: &[u8]) {
            let (blocks, _) = Array::<u8, U16>::slice_as_chunks(data);
            self.0.update(blocks);
        }
        pub(super) fn update_padded(&mut self, data: &[u8]) {
            self.0.update_padded(data);
        }
        pub(super) fn finalize(&self) -> [u8; 16] {
            self.0.clone().finalize().into()
        }
    }

    pub(super) type Ctr<C> = super::SeekCtr<C>;

    pub(super) fn new_ctr<C>(cipher: C, iv: &Array<u8, U16>) -> Ctr<C>
    where
        C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
    {
        Ctr::<C>::from_core(ctr::CtrCore::inner_iv_init(cipher, iv))
    }
}

/// The `ctr` crate's CTR with GCM's 32-bit big-endian counter (seekable, for [`GcmCtr`]).
type SeekCtr<C> = StreamCipherCoreWrapper<CtrCore<C, ctr::flavors::Ctr32BE>>;

/// Incremental AES-GCM state over block cipher `C`.
pub struct Gcm<C>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    ctr: Ctr<C>,
    ghash: Hasher,
    carry: [u8; 16],
    carry_len: usize,
    tag_mask: [u8; 16],
    aad_len: u64,
    ct_len: u64,
}

impl<C> Gcm<C>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    /// Start a GCM computation with a 96-bit nonce and the whole additional data.
    pub fn new(cipher: C, nonce: &[u8; 12], aad: &[u8]) -> Self {
        let mut h = Array::<u8, U16>::default();
        cipher.encrypt_block(&mut h);
        let mut j0 = Array::<u8, U16>::default();
        j0[..12].copy_from_slice(nonce);
        j0[15] = 1;
        let mut mask = j0;
        cipher.encrypt_block(&mut mask);
        let mut ctr_iv = j0;
        ctr_iv[15] = 2;
        let ctr = new_ctr(cipher, &ctr_iv);
        let mut ghash = Hasher::new(&h.into());
        ghash.update_padded(aad);
        let mut tag_mask = [0u8; 16];
        tag_mask.copy_from_slice(&mask);
        zeroize::Zeroize::zeroize(&mut h[..]);
        Gcm {
            ctr,
            ghash,
            carry: [0; 16],
            carry_len: 0,
            tag_mask,
            aad_len: aad.len() as u64,
            ct_len: 0,
        }
    }

    /// One segment of a GCM body that starts at byte `offset` (a multiple of 16, checked by the
    /// caller): CTR from the segment's counter `nonce ‖ be32(2 + offset/16)`, GHASH from zero
    /// with no additional data. [`Gcm::partial`] then gives the segment's partial GHASH value.
    pub(crate) fn segment(cipher: C, nonce: &[u8; 12], offset: u64) -> Self {
        let mut h = Array::<u8, U16>::default();
        cipher.encrypt_block(&mut h);
        let mut iv = Array::<u8, U16>::default();
        iv[..12].copy_from_slice(nonce);
        // GCM's inc32: the counter wraps within 32 bits.
        let counter = 2u32.wrapping_add((offset / 16) as u32);
        iv[12..].copy_from_slice(&counter.to_be_bytes());
        let ctr = new_ctr(cipher, &iv);
        let ghash = Hasher::new(&h.into());
        zeroize::Zeroize::zeroize(&mut h[..]);
        Gcm {
            ctr,
            ghash,
            carry: [0; 16],
            carry_len: 0,
            tag_mask: [0; 16],
            aad_len: 0,
            ct_len: offset,
        }
    }

    /// The GHASH of the ciphertext absorbed since [`Gcm::segment`], its last partial block
    /// zero-padded (no length block, no mask).
    pub(crate) fn partial(mut self) -> [u8; 16] {
        if self.carry_len > 0 {
            self.ghash.update_padded(&self.carry[..self.carry_len]);
            self.carry_len = 0;
        }
        self.ghash.finalize()
    }

    /// Bytes of ciphertext processed so far.
    pub fn processed(&self) -> u64 {
        self.ct_len
    }

    fn reserve(&mut self, n: usize) -> Result<()> {
        let total = self
            .ct_len
            .checked_add(n as u64)
            .ok_or(Error::MessageTooLong)?;
        if total > GCM_MAX_PLAINTEXT {
            return Err(Error::MessageTooLong);
        }
        Ok(())
    }

    /// Feed ciphertext to GHASH only.
    fn absorb(&mut self, mut data: &[u8]) {
        self.ct_len += data.len() as u64;
        if self.carry_len > 0 {
            let take = (16 - self.carry_len).min(data.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&data[..take]);
            self.carry_len += take;
            data = &data[take..];
            if self.carry_len < 16 {
                return;
            }
            self.ghash.update(&self.carry);
            self.carry_len = 0;
        }
        let whole = data.len() / 16 * 16;
        let (blocks, rest) = data.split_at(whole);
        if !blocks.is_empty() {
            self.ghash.update(blocks);
        }
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carry_len = rest.len();
    }

    /// Encrypt `input` into `output` (same length).
    pub fn encrypt_b2b(&mut self, input: &[u8], output: &mut [u8]) -> Result<()> {
        debug_assert_eq!(input.len(), output.len());
        self.reserve(input.len())?;
        for (i, o) in input.chunks(STRIDE).zip(output.chunks_mut(STRIDE)) {
            self.ctr
                .try_apply_keystream_b2b(i, o)
                .map_err(|_| Error::MessageTooLong)?;
            self.absorb(o);
        }
        Ok(())
    }

    /// Encrypt in place.
    pub fn encrypt_in_place(&mut self, buf: &mut [u8]) -> Result<()> {
        self.reserve(buf.len())?;
        for c in buf.chunks_mut(STRIDE) {
            self.ctr.apply_keystream(c);
            self.absorb(c);
        }
        Ok(())
    }

    /// Decrypt `input` into `output` (same length), authenticating the ciphertext.
    pub fn decrypt_b2b(&mut self, input: &[u8], output: &mut [u8]) -> Result<()> {
        self.reserve(input.len())?;
        for (i, o) in input.chunks(STRIDE).zip(output.chunks_mut(STRIDE)) {
            self.absorb(i);
            self.ctr
                .try_apply_keystream_b2b(i, o)
                .map_err(|_| Error::MessageTooLong)?;
        }
        Ok(())
    }

    /// Decrypt in place.
    pub fn decrypt_in_place(&mut self, buf: &mut [u8]) -> Result<()> {
        self.reserve(buf.len())?;
        for c in buf.chunks_mut(STRIDE) {
            self.absorb(c);
            self.ctr.apply_keystream(c);
        }
        Ok(())
    }

    /// Authenticate ciphertext without decrypting it (pass one of verify-first).
    pub(crate) fn authenticate_only(&mut self, ct: &[u8]) -> Result<()> {
        self.reserve(ct.len())?;
        self.absorb(ct);
        Ok(())
    }

    /// Apply the CTR keystream only (pass two of verify-first, after the tag was verified).
    pub(crate) fn keystream_only(&mut self, input: &[u8], output: &mut [u8]) {
        let _ = self.ctr.try_apply_keystream_b2b(input, output);
    }

    /// Apply the CTR keystream only, in place.
    pub(crate) fn keystream_in_place(&mut self, buf: &mut [u8]) {
        self.ctr.apply_keystream(buf);
    }

    /// The tag over everything absorbed so far.
    pub fn tag(mut self) -> [u8; 16] {
        if self.carry_len > 0 {
            self.ghash.update_padded(&self.carry[..self.carry_len]);
        }
        let mut lens = Array::<u8, U16>::default();
        lens[..8].copy_from_slice(&(self.aad_len * 8).to_be_bytes());
        lens[8..].copy_from_slice(&(self.ct_len * 8).to_be_bytes());
        self.ghash.update(&lens);
        let s = self.ghash.finalize();
        let mut tag = [0u8; 16];
        for i in 0..16 {
            tag[i] = s[i] ^ self.tag_mask[i];
        }
        tag
    }

    /// Compare the tag with `expected` in constant time.
    pub fn verify(self, expected: &[u8]) -> Result<()> {
        let tag = self.tag();
        if expected.len() == 16 && bool::from(tag.ct_eq(expected)) {
            Ok(())
        } else {
            Err(Error::Authentication)
        }
    }
}

impl<C> core::fmt::Debug for Gcm<C>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Gcm")
            .field("processed", &self.ct_len)
            .finish_non_exhaustive()
    }
}

impl<C> Drop for Gcm<C>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.carry);
        zeroize::Zeroize::zeroize(&mut self.tag_mask);
    }
}

/// AES-CTR positioned at a byte offset of a GCM body (counter `nonce ‖ be32(2 + offset/16)`),
/// for ranged reads.
pub(crate) struct GcmCtr {
    ctr: SeekCtr<aes::Aes256>,
}

impl GcmCtr {
    pub fn new(cipher: aes::Aes256, nonce: &[u8; 12], offset: u64) -> Result<Self> {
        let mut iv = Array::<u8, U16>::default();
        iv[..12].copy_from_slice(nonce);
        iv[15] = 2;
        let mut ctr = SeekCtr::<aes::Aes256>::from_core(CtrCore::inner_iv_init(cipher, &iv));
        ctr.try_seek(offset).map_err(|_| Error::InvalidRange)?;
        Ok(GcmCtr { ctr })
    }
    pub(crate) fn apply(&mut self, input: &[u8], output: &mut [u8]) -> Result<()> {
        self.ctr
            .try_apply_keystream_b2b(input, output)
            .map_err(|_| Error::InvalidRange)
    }
}

/// One-shot GCM seal into `out` = ciphertext ‖ tag (for key wraps).
pub(crate) fn seal<C>(
    cipher: C,
    nonce: &[u8; 12],
    aad: &[u8],
    pt: &[u8],
    out: &mut [u8],
) -> Result<()>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    if out.len() != pt.len() + 16 {
        return Err(Error::BufferTooSmall {
            required: pt.len() + 16,
        });
    }
    let mut g = Gcm::new(cipher, nonce, aad);
    let (c, t) = out.split_at_mut(pt.len());
    g.encrypt_b2b(pt, c)?;
    t.copy_from_slice(&g.tag());
    Ok(())
}

/// One-shot GCM open of `ct ‖ tag` into `out` (for key unwraps). Writes nothing unless the tag
/// verifies.
pub(crate) fn open<C>(
    cipher: C,
    nonce: &[u8; 12],
    aad: &[u8],
    ct_tag: &[u8],
    out: &mut [u8],
) -> Result<()>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16> + Clone,
{
    if ct_tag.len() < 16 || out.len() != ct_tag.len() - 16 {
        return Err(Error::Authentication);
    }
    let (c, t) = ct_tag.split_at(ct_tag.len() - 16);
    let mut g = Gcm::new(cipher.clone(), nonce, aad);
    g.authenticate_only(c)?;
    g.verify(t)?;
    let mut g = Gcm::new(cipher, nonce, aad);
    g.keystream_only(c, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::{AeadInOut, KeyInit as _};
    use rand::{Rng, RngExt, SeedableRng, rngs::StdRng};

    fn splits(rng: &mut StdRng, n: usize) -> alloc::vec::Vec<usize> {
        let mut v = alloc::vec::Vec::new();
        let mut left = n;
        while left > 0 {
            let t = match rng.random_range(0..4) {
                0 => 1,
                1 => rng.random_range(1..=17),
                _ => rng.random_range(1..=left),
            }
            .min(left);
            v.push(t);
            left -= t;
        }
        v
    }

    /// The incremental GCM equals the one-shot `aes-gcm` on 10,000 random cases: key, nonce, AAD,
    /// lengths up to 4 KiB, random split points, garbage-prefilled output buffers; encryption and
    /// decryption, and tag rejection after a flipped bit.
    #[test]
    fn differential_against_aes_gcm() {
        let mut rng = StdRng::seed_from_u64(0x5eed_0001);
        for case in 0..10_000 {
            let mut key = [0u8; 32];
            rng.fill_bytes(&mut key);
            let mut nonce = [0u8; 12];
            rng.fill_bytes(&mut nonce);
            let aad_len = if case % 3 == 0 {
                0
            } else {
                rng.random_range(0..=64)
            };
            let mut aad = alloc::vec![0u8; aad_len];
            rng.fill_bytes(&mut aad);
            let n = match case % 5 {
                0 => rng.random_range(0..=48),
                _ => rng.random_range(0..=4096),
            };
            let mut pt = alloc::vec![0u8; n];
            rng.fill_bytes(&mut pt);

            let oracle = aes_gcm::Aes256Gcm::new(&key.into());
            let mut expect = pt.clone();
            let tag = oracle
                .encrypt_inout_detached(&nonce.into(), &aad, (&mut expect[..]).into())
                .unwrap();

            let mut out = alloc::vec![0xA5u8; n];
            let mut g = Gcm::new(aes::Aes256::new(&key.into()), &nonce, &aad);
            let mut at = 0;
            for s in splits(&mut rng, n) {
                if case % 2 == 0 {
                    g.encrypt_b2b(&pt[at..at + s], &mut out[at..at + s])
                        .unwrap();
                } else {
                    out[at..at + s].copy_from_slice(&pt[at..at + s]);
                    g.encrypt_in_place(&mut out[at..at + s]).unwrap();
                }
                at += s;
            }
            assert_eq!(out, expect, "ciphertext, case {case}");
            assert_eq!(&g.tag()[..], &tag[..], "tag, case {case}");

            let mut back = alloc::vec![0x5Au8; n];
            let mut d = Gcm::new(aes::Aes256::new(&key.into()), &nonce, &aad);
            let mut at = 0;
            for s in splits(&mut rng, n) {
                d.decrypt_b2b(&expect[at..at + s], &mut back[at..at + s])
                    .unwrap();
                at += s;
            }
            assert_eq!(back, pt, "plaintext, case {case}");
            let mut bad = [0u8; 16];
            bad.copy_from_slice(&tag);
            if case % 4 == 0 {
                bad[rng.random_range(0..16)] ^= 1 << rng.random_range(0..8);
                assert_eq!(d.verify(&bad), Err(Error::Authentication));
            } else {
                assert_eq!(d.verify(&bad), Ok(()));
            }
        }
    }

    #[test]
    fn length_limit_is_an_error() {
        let mut g = Gcm::new(aes::Aes256::new(&[0u8; 32].into()), &[0u8; 12], &[]);
        // Pretend most of the budget is used.
        g.ct_len = GCM_MAX_PLAINTEXT - 4;
        let mut buf = [0u8; 8];
        assert_eq!(g.encrypt_in_place(&mut buf[..4]), Ok(()));
        assert_eq!(
            g.encrypt_in_place(&mut buf[..1]),
            Err(Error::MessageTooLong)
        );
        assert_eq!(g.processed(), GCM_MAX_PLAINTEXT);
    }
}
