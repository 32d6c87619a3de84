//! Incremental AES-GCM over a backend chosen once per key at run time.
//!
//! RustCrypto's `aes-gcm` is one-shot only; S3 objects are streams. This type keeps a 16-byte
//! GHASH carry so that any split of the input gives the same ciphertext and tag as the one-shot
//! construction (checked against `aes-gcm` in the tests, on every backend the CPU has). Only
//! 96-bit nonces are supported: every S3EC format uses them.
//!
//! The CTR and GHASH work is done by a backend (`backend`): the portable `ghash` + `ctr` crates,
//! 128-bit PCLMULQDQ, or the stitched 256-bit VAES + VPCLMULQDQ kernel for AES-256 keys, picked
//! from the CPU's features when the key is prepared (`dispatch`, the crate's one `unsafe`
//! module). This type only aligns the stream to blocks: bytes before a block boundary and after
//! the last whole block go through CTR and the carry; whole blocks go through the fused path.

use crate::error::{Error, Result};
use aes::cipher::{
    BlockCipherEncrypt, BlockSizeUser, InnerIvInit, StreamCipher, StreamCipherSeek, array::Array,
    consts::U16,
};
use ctr::CtrCore;
use subtle::ConstantTimeEq;

mod backend;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
mod clmul;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
mod dispatch;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
mod vaes;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
mod vaes512;

#[cfg(any(test, fuzzing, feature = "hazmat-internals"))]
pub use backend::Backend;
pub(crate) use backend::{Cpu, Key256};
use backend::{Engine, SeekCtr};
#[cfg(any(fuzzing, feature = "hazmat-internals"))]
pub use backend::{force_backend, legacy_kernels};

/// The most plaintext one key and nonce may protect: 2^39 − 256 bits = 2^36 − 32 bytes.
pub const GCM_MAX_PLAINTEXT: u64 = (1 << 36) - 32;

/// Incremental AES-GCM state over block cipher `C`.
pub struct Gcm<C>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    engine: Engine<C>,
    carry: [u8; 16],
    carry_len: usize,
    tag_mask: [u8; 16],
    aad_len: u64,
    ct_len: u64,
}

/// `nonce ‖ be32(counter)`.
fn counter_block(nonce: &[u8; 12], counter: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..12].copy_from_slice(nonce);
    b[12..].copy_from_slice(&counter.to_be_bytes());
    b
}

/// The first counter of the segment at byte `offset` (GCM's inc32: it wraps within 32 bits).
fn segment_counter(offset: u64) -> u32 {
    2u32.wrapping_add((offset / 16) as u32)
}

impl Gcm<aes::Aes256> {
    /// [`Gcm::new`] for an AES-256 key, on the fastest backend this CPU has.
    pub fn new_256(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8]) -> Self {
        Self::with_key(&Key256::new(key), nonce, aad)
    }

    /// [`Gcm::new`] for an AES-256 key prepared once (the backend is the key's).
    pub(crate) fn with_key(key: &Key256, nonce: &[u8; 12], aad: &[u8]) -> Self {
        let engine = Engine::from_key(key, &counter_block(nonce, 2));
        let tag_mask = key.block(&counter_block(nonce, 1));
        Self::start(engine, tag_mask, aad, 0)
    }

    /// [`Gcm::segment`] for an AES-256 key prepared once.
    pub(crate) fn segment_with_key(key: &Key256, nonce: &[u8; 12], offset: u64) -> Self {
        let engine = Engine::from_key(key, &counter_block(nonce, segment_counter(offset)));
        Self::start(engine, [0; 16], &[], offset)
    }
}

impl<C> Gcm<C>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    /// Start a GCM computation with a 96-bit nonce and the whole additional data, on the fastest
    /// backend this CPU has for a generic block cipher (the wide one needs the raw key:
    /// [`Gcm::new_256`]).
    pub fn new(cipher: C, nonce: &[u8; 12], aad: &[u8]) -> Self {
        Self::new_with(cipher, Cpu::detect(), nonce, aad)
    }

    fn new_with(cipher: C, cpu: Cpu, nonce: &[u8; 12], aad: &[u8]) -> Self {
        let mut h = Array::<u8, U16>::default();
        cipher.encrypt_block(&mut h);
        let mut mask = Array::from(counter_block(nonce, 1));
        cipher.encrypt_block(&mut mask);
        let engine = Engine::new(cipher, cpu, &h.into(), &counter_block(nonce, 2));
        zeroize::Zeroize::zeroize(&mut h[..]);
        let g = Self::start(engine, mask.into(), aad, 0);
        zeroize::Zeroize::zeroize(&mut mask[..]);
        g
    }

    fn start(mut engine: Engine<C>, tag_mask: [u8; 16], aad: &[u8], offset: u64) -> Self {
        let whole = aad.len() / 16 * 16;
        engine.ghash(&aad[..whole]);
        if whole < aad.len() {
            let mut last = [0u8; 16];
            last[..aad.len() - whole].copy_from_slice(&aad[whole..]);
            engine.ghash(&last);
        }
        Gcm {
            engine,
            carry: [0; 16],
            carry_len: 0,
            tag_mask,
            aad_len: aad.len() as u64,
            ct_len: offset,
        }
    }

    /// One segment of a GCM body that starts at byte `offset` (a multiple of 16, checked by the
    /// caller): CTR from the segment's counter `nonce ‖ be32(2 + offset/16)`, GHASH from zero
    /// with no additional data. [`Gcm::partial`] then gives the segment's partial GHASH value.
    #[allow(dead_code)]
    pub(crate) fn segment(cipher: C, nonce: &[u8; 12], offset: u64) -> Self {
        let mut h = Array::<u8, U16>::default();
        cipher.encrypt_block(&mut h);
        let iv = counter_block(nonce, segment_counter(offset));
        let engine = Engine::new(cipher, Cpu::detect(), &h.into(), &iv);
        zeroize::Zeroize::zeroize(&mut h[..]);
        Self::start(engine, [0; 16], &[], offset)
    }

    /// Absorb the partial block held in the carry, zero-padded.
    fn flush_carry(&mut self) {
        if self.carry_len > 0 {
            self.carry[self.carry_len..].fill(0);
            let c = self.carry;
            self.engine.ghash(&c);
            self.carry_len = 0;
        }
    }

    /// The GHASH of the ciphertext absorbed since [`Gcm::segment`], its last partial block
    /// zero-padded (no length block, no mask).
    pub(crate) fn partial(mut self) -> [u8; 16] {
        self.flush_carry();
        self.engine.ghash_value()
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
            let c = self.carry;
            self.engine.ghash(&c);
            self.carry_len = 0;
        }
        let whole = data.len() / 16 * 16;
        let (blocks, rest) = data.split_at(whole);
        if !blocks.is_empty() {
            self.engine.ghash(blocks);
        }
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carry_len = rest.len();
    }

    /// CTR and GHASH byte by byte through the carry (off block boundaries).
    fn crypt_unaligned(&mut self, seal: bool, input: Option<&[u8]>, out: &mut [u8]) {
        if out.is_empty() {
            return;
        }
        if seal {
            self.engine.ctr(input, out);
            self.absorb(out);
        } else {
            self.absorb(input.unwrap_or(&*out));
            self.engine.ctr(input, out);
        }
    }

    /// Encrypt (`seal`) or decrypt `out` (from `input`, or in place): the bytes up to the next
    /// block boundary and after the last whole block through the carry, whole blocks fused.
    fn crypt(&mut self, seal: bool, input: Option<&[u8]>, out: &mut [u8]) -> Result<()> {
        self.reserve(out.len())?;
        let head = if self.carry_len > 0 {
            (16 - self.carry_len).min(out.len())
        } else {
            0
        };
        let body = (out.len() - head) / 16 * 16;
        let (o_head, rest) = out.split_at_mut(head);
        let (o_body, o_tail) = rest.split_at_mut(body);
        let part = |a: usize, b: usize| input.map(|i| &i[a..b]);
        self.crypt_unaligned(seal, part(0, head), o_head);
        if body > 0 {
            self.engine.fused(seal, part(head, head + body), o_body);
            self.ct_len += body as u64;
        }
        let n = head + body + o_tail.len();
        self.crypt_unaligned(seal, part(head + body, n), o_tail);
        Ok(())
    }

    /// Encrypt `input` into `output` (same length).
    pub fn encrypt_b2b(&mut self, input: &[u8], output: &mut [u8]) -> Result<()> {
        if input.len() != output.len() {
            return Err(Error::BufferTooSmall {
                required: input.len(),
            });
        }
        self.crypt(true, Some(input), output)
    }

    /// Encrypt in place.
    pub fn encrypt_in_place(&mut self, buf: &mut [u8]) -> Result<()> {
        self.crypt(true, None, buf)
    }

    /// Decrypt `input` into `output` (same length), authenticating the ciphertext.
    pub fn decrypt_b2b(&mut self, input: &[u8], output: &mut [u8]) -> Result<()> {
        if input.len() != output.len() {
            return Err(Error::BufferTooSmall {
                required: input.len(),
            });
        }
        self.crypt(false, Some(input), output)
    }

    /// Decrypt in place.
    pub fn decrypt_in_place(&mut self, buf: &mut [u8]) -> Result<()> {
        self.crypt(false, None, buf)
    }

    /// Authenticate ciphertext without decrypting it (pass one of verify-first).
    pub(crate) fn authenticate_only(&mut self, ct: &[u8]) -> Result<()> {
        self.reserve(ct.len())?;
        self.absorb(ct);
        Ok(())
    }

    /// Apply the CTR keystream only (pass two of verify-first, after the tag was verified).
    pub(crate) fn keystream_only(&mut self, input: &[u8], output: &mut [u8]) {
        let n = input.len().min(output.len());
        self.engine.ctr(Some(&input[..n]), &mut output[..n]);
    }

    /// Apply the CTR keystream only, in place.
    pub(crate) fn keystream_in_place(&mut self, buf: &mut [u8]) {
        self.engine.ctr(None, buf);
    }

    /// The tag over everything absorbed so far.
    pub fn tag(mut self) -> [u8; 16] {
        self.flush_carry();
        let mut lens = [0u8; 16];
        lens[..8].copy_from_slice(&(self.aad_len * 8).to_be_bytes());
        lens[8..].copy_from_slice(&(self.ct_len * 8).to_be_bytes());
        self.engine.ghash(&lens);
        let s = self.engine.ghash_value();
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
pub(crate) mod tests {
    use super::*;
    extern crate std;
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

    /// The backends this CPU has; a printed note for each one it lacks.
    pub(crate) fn backends() -> alloc::vec::Vec<Cpu> {
        Backend::ALL
            .iter()
            .filter_map(|b| {
                let c = Cpu::get(*b);
                if c.is_none() {
                    std::println!(
                        "note: the {b:?} GCM backend is not available here (CPU, or --cfg s3ec_gcm_force_portable); not tested"
                    );
                }
                c
            })
            .collect()
    }

    /// The incremental GCM equals the one-shot `aes-gcm` on 10,000 random cases, on every backend
    /// this CPU has: key, nonce, AAD, lengths up to 5000, random split points, garbage-prefilled
    /// output buffers; encryption and decryption (in place and buffer to buffer), and tag
    /// rejection after a flipped bit.
    #[test]
    fn differential_against_aes_gcm() {
        for cpu in backends() {
            differential(cpu);
        }
    }

    /// `n`, or a handful under Miri (which interprets every AES round).
    pub(crate) fn cases(n: usize) -> usize {
        if cfg!(miri) { n.min(6) } else { n }
    }

    fn differential(cpu: Cpu) {
        let mut rng = StdRng::seed_from_u64(0x5eed_0001);
        for case in 0..cases(10_000) {
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
                _ => rng.random_range(0..=5000),
            };
            let mut pt = alloc::vec![0u8; n];
            rng.fill_bytes(&mut pt);

            let oracle = aes_gcm::Aes256Gcm::new(&key.into());
            let mut expect = pt.clone();
            let tag = oracle
                .encrypt_inout_detached(&nonce.into(), &aad, (&mut expect[..]).into())
                .unwrap();

            let k = Key256::with_cpu(&key, cpu);
            let mut out = alloc::vec![0xA5u8; n];
            let mut g = Gcm::with_key(&k, &nonce, &aad);
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
            let b = cpu.backend();
            assert_eq!(out, expect, "ciphertext, case {case}, {b:?}");
            assert_eq!(&g.tag()[..], &tag[..], "tag, case {case}, {b:?}");

            let mut back = alloc::vec![0x5Au8; n];
            let mut d = Gcm::with_key(&k, &nonce, &aad);
            let mut at = 0;
            for s in splits(&mut rng, n) {
                if case % 3 == 0 {
                    back[at..at + s].copy_from_slice(&expect[at..at + s]);
                    d.decrypt_in_place(&mut back[at..at + s]).unwrap();
                } else {
                    d.decrypt_b2b(&expect[at..at + s], &mut back[at..at + s])
                        .unwrap();
                }
                at += s;
            }
            assert_eq!(back, pt, "plaintext, case {case}, {b:?}");
            let mut bad = [0u8; 16];
            bad.copy_from_slice(&tag);
            if case % 4 == 0 {
                bad[rng.random_range(0..16)] ^= 1 << rng.random_range(0..8);
                assert_eq!(d.verify(&bad), Err(Error::Authentication));
            } else {
                assert_eq!(d.verify(&bad), Ok(()), "verify, case {case}, {b:?}");
            }

            // Verify-first: authenticate, then the keystream alone (in place and b2b).
            if case % 7 == 0 {
                let mut a = Gcm::with_key(&k, &nonce, &aad);
                let mut at = 0;
                for s in splits(&mut rng, n) {
                    a.authenticate_only(&expect[at..at + s]).unwrap();
                    at += s;
                }
                assert_eq!(a.verify(&tag), Ok(()), "verify-first, case {case}, {b:?}");
                let mut r = Gcm::with_key(&k, &nonce, &aad);
                let mut back = alloc::vec![0x33u8; n];
                let mut at = 0;
                for s in splits(&mut rng, n) {
                    if s % 2 == 0 {
                        r.keystream_only(&expect[at..at + s], &mut back[at..at + s]);
                    } else {
                        back[at..at + s].copy_from_slice(&expect[at..at + s]);
                        r.keystream_in_place(&mut back[at..at + s]);
                    }
                    at += s;
                }
                assert_eq!(back, pt, "keystream, case {case}, {b:?}");
            }
        }
    }

    /// The generic-cipher path (AES-128, as the key wrap uses) on every backend.
    #[test]
    fn aes128_against_aes_gcm() {
        for cpu in backends() {
            let mut rng = StdRng::seed_from_u64(0x5eed_0004);
            for case in 0..cases(500) {
                let mut key = [0u8; 16];
                rng.fill_bytes(&mut key);
                let nonce = [case as u8; 12];
                let aad = alloc::vec![7u8; case % 40];
                let n = rng.random_range(0..=3000);
                let mut pt = alloc::vec![0u8; n];
                rng.fill_bytes(&mut pt);
                let oracle = aes_gcm::Aes128Gcm::new(&key.into());
                let mut expect = pt.clone();
                let tag = oracle
                    .encrypt_inout_detached(&nonce.into(), &aad, (&mut expect[..]).into())
                    .unwrap();
                let mut g = Gcm::new_with(aes::Aes128::new(&key.into()), cpu, &nonce, &aad);
                let mut out = pt.clone();
                let mut at = 0;
                for s in splits(&mut rng, n) {
                    g.encrypt_in_place(&mut out[at..at + s]).unwrap();
                    at += s;
                }
                assert_eq!(out, expect, "case {case}, {:?}", cpu.backend());
                assert_eq!(&g.tag()[..], &tag[..], "case {case}, {:?}", cpu.backend());
            }
        }
    }

    /// GHASH alone (any whole-block split) equals the `ghash` crate on every backend.
    #[test]
    fn ghash_matches_ghash_crate() {
        use ghash::{GHash, universal_hash::UniversalHash};
        for cpu in backends() {
            let mut rng = StdRng::seed_from_u64(0x5eed_0002);
            let mut lens: alloc::vec::Vec<usize> = (0..=300).collect();
            lens.extend([
                1024,
                2048,
                4095,
                4096,
                4097,
                8192 + 48,
                65536 + 5,
                65536 * 3,
            ]);
            for _ in 0..100 {
                lens.push(rng.random_range(0..=20_000));
            }
            if cfg!(miri) {
                lens = alloc::vec![0, 1, 15, 16, 17, 33, 300];
            }
            for n in lens {
                let mut key = [0u8; 32];
                rng.fill_bytes(&mut key);
                let k = Key256::with_cpu(&key, cpu);
                let h = k.block(&[0; 16]);
                let mut data = alloc::vec![0u8; n];
                rng.fill_bytes(&mut data);
                let mut o = GHash::new(&h.into());
                o.update_padded(&data);
                let want: [u8; 16] = o.finalize().into();
                let mut g = Gcm::segment_with_key(&k, &[0; 12], 0);
                let mut at = 0;
                while at < n {
                    // Every third length in one call (the GHASH-only loops' many iterations).
                    let t = if n % 3 == 0 {
                        n
                    } else {
                        16 * rng.random_range(1..=40usize)
                    };
                    let t = t.min(n - at);
                    g.authenticate_only(&data[at..at + t]).unwrap();
                    at += t;
                }
                assert_eq!(g.partial(), want, "length {n}, {:?}", cpu.backend());
            }
        }
    }

    #[test]
    fn length_limit_is_an_error() {
        let mut g = Gcm::new_256(&[0u8; 32], &[0u8; 12], &[]);
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
