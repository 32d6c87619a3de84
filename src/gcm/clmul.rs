//! The 128-bit backend: GHASH with carry-less multiplication (PCLMULQDQ), sixteen blocks per
//! reduction, and CTR in batches through the block cipher's own multi-block path (the `aes`
//! crate, which picks AES-NI at run time itself). Selected at run time by `dispatch`; the
//! field arithmetic here is also the 128-bit half of the wide backend (`vaes`).
//!
//! GHASH: blocks are byte-reversed, so that the field element `a` is the integer
//! `Σ a_i·2^(127−i)` (bit-reflected). A carry-less product of two such integers is the reflected
//! 256-bit product times `x`; the hash key powers are therefore stored divided by `x` (`K_j =
//! H^j·x^-1`: the reflected `H^j` shifted left by one bit, modulo the reflected polynomial), and a
//! 256-bit product `T` is reduced to `T·2^-128` modulo `x^128 + x^127 + x^126 + x^121 + 1` (the
//! reflected polynomial) with two carry-less multiplications by `0xC2 << 56` (a Montgomery
//! reduction in two 64-bit steps). Sixteen blocks are multiplied by `K_16 … K_1` (Karatsuba:
//! three carry-less products each, summed unreduced) and reduced once.
//!
//! Every function that uses an intrinsic is a safe `#[target_feature]` function; only
//! `dispatch` calls them from outside, after checking the CPU.
//!
//! CTR: counter blocks `nonce ‖ be32(n)` for up to 256 blocks at a time, encrypted with one
//! `encrypt_blocks_b2b` call (the `aes` crate's parallel backend), then XORed into the data.

use aes::cipher::{BlockCipherEncrypt, BlockSizeUser, array::Array, consts::U16};
use core::arch::x86_64::{
    __m128i, _MM_HINT_T0, _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_prefetch, _mm_set_epi8,
    _mm_set_epi64x, _mm_setzero_si128, _mm_shuffle_epi8, _mm_shuffle_epi32, _mm_slli_si128,
    _mm_srli_si128, _mm_unpackhi_epi64, _mm_xor_si128,
};
use zeroize::Zeroize;

/// Blocks per reduction.
const AGG: usize = 16;

/// Load 16 bytes (LLVM folds the byte inserts into one unaligned load).
#[inline]
#[target_feature(enable = "sse2")]
pub(super) fn load(b: &[u8; 16]) -> __m128i {
    // Plain indexing: a closure or `array::map` is compiled without the target features, and
    // LLVM may leave it out of line in a hot loop.
    macro_rules! set {
        ($($i:literal)*) => { _mm_set_epi8($(b[$i] as i8),*) };
    }
    set!(15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0)
}

/// Store 16 bytes (LLVM merges the two stores into one).
#[inline]
#[target_feature(enable = "sse2")]
pub(super) fn store(v: __m128i) -> [u8; 16] {
    let lo = _mm_cvtsi128_si64(v) as u64;
    let hi = _mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v)) as u64;
    (u128::from(lo) | (u128::from(hi) << 64)).to_le_bytes()
}

#[inline]
#[target_feature(enable = "sse2")]
pub(super) fn xor(a: __m128i, b: __m128i) -> __m128i {
    _mm_xor_si128(a, b)
}

/// Byte reversal of a 128-bit value.
#[inline]
#[target_feature(enable = "sse2,ssse3")]
pub(super) fn bswap(a: __m128i) -> __m128i {
    let idx = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    _mm_shuffle_epi8(a, idx)
}

/// How far ahead the loops that stream through memory prefetch. At 64 MiB (out of L2) on an
/// Intel Xeon with AVX-512, GHASH alone ran at 6.3 GB/s without it and at about the memory-read
/// ceiling (9–10 GB/s) with it; 1 to 8 KiB measured alike.
const PREFETCH: usize = 4096;

/// Prefetch into L1 the `n` bytes (a multiple of 64) `PREFETCH` after `at` of `input`, or of
/// `out` in place; buffer to buffer, also those of `out`, so that their lines are owned before
/// they are written. Nothing with `LEGACY` (the kernels before the prefetching; benchmarks).
///
/// Near the end of the slices the addresses lie past them: a prefetch only hints the cache (it
/// never faults and reads nothing into the program), and when the slices are chunks of a larger
/// buffer it fetches the start of the next chunk.
#[inline]
#[target_feature(enable = "sse")]
pub(super) fn prefetch<const LEGACY: bool>(input: Option<&[u8]>, out: &[u8], at: usize, n: usize) {
    if LEGACY {
        return;
    }
    let src = input.unwrap_or(out);
    for l in 0..n / 64 {
        let ahead = at + PREFETCH + 64 * l;
        _mm_prefetch::<_MM_HINT_T0>(src.as_ptr().wrapping_add(ahead).cast());
        if input.is_some() {
            _mm_prefetch::<_MM_HINT_T0>(out.as_ptr().wrapping_add(ahead).cast());
        }
    }
}

/// `(hi·2^128 + lo)·2^-128` modulo the reflected polynomial.
#[inline]
#[target_feature(enable = "sse2,ssse3,pclmulqdq")]
pub(super) fn reduce(lo: __m128i, hi: __m128i) -> __m128i {
    let c = _mm_set_epi64x(0, 0xC200_0000_0000_0000_u64 as i64);
    let m = _mm_clmulepi64_si128::<0x00>(lo, c);
    let lo = xor(_mm_shuffle_epi32::<0x4E>(lo), m);
    let m = _mm_clmulepi64_si128::<0x00>(lo, c);
    let lo = xor(_mm_shuffle_epi32::<0x4E>(lo), m);
    xor(hi, lo)
}

/// Unreduced sums of 256-bit products.
#[derive(Clone, Copy)]
pub(super) struct Acc {
    pub(super) lo: __m128i,
    pub(super) mid: __m128i,
    pub(super) hi: __m128i,
}

impl Acc {
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn new() -> Self {
        Acc {
            lo: _mm_setzero_si128(),
            mid: _mm_setzero_si128(),
            hi: _mm_setzero_si128(),
        }
    }

    /// Add `x·k` (schoolbook: four products).
    #[inline]
    #[target_feature(enable = "sse2,ssse3,pclmulqdq")]
    pub(super) fn mul_add(&mut self, x: __m128i, k: __m128i) {
        self.lo = xor(self.lo, _mm_clmulepi64_si128::<0x00>(x, k));
        self.hi = xor(self.hi, _mm_clmulepi64_si128::<0x11>(x, k));
        self.mid = xor(
            self.mid,
            xor(
                _mm_clmulepi64_si128::<0x01>(x, k),
                _mm_clmulepi64_si128::<0x10>(x, k),
            ),
        );
    }

    /// Karatsuba: `kx` holds `k.lo ^ k.hi` in its low half; `mid` collects `(x.lo^x.hi)·kx`
    /// and must be corrected by `lo ^ hi` before reducing (`reduce_k`).
    #[inline]
    #[target_feature(enable = "sse2,ssse3,pclmulqdq")]
    fn mul_add_k(&mut self, x: __m128i, k: __m128i, kx: __m128i) {
        self.lo = xor(self.lo, _mm_clmulepi64_si128::<0x00>(x, k));
        self.hi = xor(self.hi, _mm_clmulepi64_si128::<0x11>(x, k));
        let xx = xor(x, _mm_shuffle_epi32::<0x4E>(x));
        self.mid = xor(self.mid, _mm_clmulepi64_si128::<0x00>(xx, kx));
    }

    #[inline]
    #[target_feature(enable = "sse2,ssse3,pclmulqdq")]
    pub(super) fn reduce_k(mut self) -> __m128i {
        self.mid = xor(self.mid, xor(self.lo, self.hi));
        self.reduce()
    }

    #[inline]
    #[target_feature(enable = "sse2,ssse3,pclmulqdq")]
    pub(super) fn reduce(self) -> __m128i {
        reduce(
            xor(self.lo, _mm_slli_si128::<8>(self.mid)),
            xor(self.hi, _mm_srli_si128::<8>(self.mid)),
        )
    }
}

/// The field product of two byte-reversed elements, one of them divided by `x`.
#[inline]
#[target_feature(enable = "sse2,ssse3,pclmulqdq")]
pub(super) fn mul(a: __m128i, b: __m128i) -> __m128i {
    let mut acc = Acc::new();
    acc.mul_add(a, b);
    acc.reduce()
}

/// `K_1 = H·x^-1`, byte-reversed: the reflected `H` shifted left by one bit, the bit shifted out
/// folded back in with the reflected polynomial (bits 127, 126, 121 and 0).
pub(super) fn key_power_one(h: &[u8; 16]) -> [u8; 16] {
    let v = u128::from_be_bytes(*h);
    let mut k1 = v << 1;
    if v >> 127 == 1 {
        k1 ^= (0xC2 << 120) | 1;
    }
    k1.to_le_bytes()
}

/// GHASH state: the key powers and the running value (both byte-reversed), zeroized on drop.
pub(crate) struct Ghash {
    /// `powers[i]` holds `K_(16−i)`.
    powers: [[u8; 16]; AGG],
    y: [u8; 16],
}

impl Drop for Ghash {
    fn drop(&mut self) {
        self.powers.zeroize();
        self.y.zeroize();
    }
}

impl Ghash {
    /// A GHASH keyed by `h = E(K, 0^128)`.
    #[target_feature(enable = "sse2,ssse3,pclmulqdq")]
    pub(super) fn new(h: &[u8; 16]) -> Self {
        let k1 = load(&key_power_one(h));
        let mut powers = [[0u8; 16]; AGG];
        let mut k = k1;
        for j in 1..=AGG {
            powers[AGG - j] = store(k);
            k = mul(k, k1);
        }
        Ghash { powers, y: [0; 16] }
    }

    /// Absorb whole blocks (`data.len()` a multiple of 16); `LEGACY`: without the prefetching
    /// (benchmarks).
    #[target_feature(enable = "sse2,ssse3,pclmulqdq")]
    pub(super) fn update<const LEGACY: bool>(&mut self, data: &[u8]) {
        let (blocks, rest) = data.as_chunks::<16>();
        debug_assert!(rest.is_empty());
        let mut k = [_mm_setzero_si128(); AGG];
        let mut kx = [_mm_setzero_si128(); AGG];
        for i in 0..AGG {
            k[i] = load(&self.powers[i]);
            kx[i] = xor(k[i], _mm_shuffle_epi32::<0x4E>(k[i]));
        }
        let mut y = load(&self.y);
        let mut groups = blocks.chunks_exact(AGG);
        for (i, g) in (&mut groups).enumerate() {
            prefetch::<LEGACY>(None, data, 16 * AGG * i, 16 * AGG);
            let mut acc = Acc::new();
            for (i, ((b, k), kx)) in g.iter().zip(&k).zip(&kx).enumerate() {
                let mut x = bswap(load(b));
                if i == 0 {
                    x = xor(x, y);
                }
                acc.mul_add_k(x, *k, *kx);
            }
            y = acc.reduce_k();
        }
        let g = groups.remainder();
        if !g.is_empty() {
            // Fewer than 16 blocks: the last powers, `K_n … K_1`.
            let mut acc = Acc::new();
            for (i, (b, k)) in g.iter().zip(&k[AGG - g.len()..]).enumerate() {
                let mut x = bswap(load(b));
                if i == 0 {
                    x = xor(x, y);
                }
                acc.mul_add(x, *k);
            }
            y = acc.reduce();
        }
        self.y = store(y);
    }

    /// The GHASH value.
    pub(super) fn finalize(&self) -> [u8; 16] {
        let mut y = self.y;
        y.reverse();
        y
    }
}

/// Counter blocks per `encrypt_blocks_b2b` call.
const BATCH: usize = 256;

/// CTR with a 32-bit big-endian counter in the last four bytes (GCM's `inc32`), over any block
/// cipher, continuing partial blocks across calls. The unused keystream is zeroized on drop.
pub(crate) struct Ctr32<C> {
    cipher: C,
    nonce: [u8; 12],
    /// Counter of the next keystream block.
    ctr: u32,
    /// Keystream of the last partial block; its first `ks_used` bytes are spent.
    ks: [u8; 16],
    ks_used: usize,
}

impl<C> Drop for Ctr32<C> {
    fn drop(&mut self) {
        self.ks.zeroize();
    }
}

impl<C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>> Ctr32<C> {
    /// Start at the counter block `iv` (`nonce ‖ be32(counter)`).
    pub(crate) fn new(cipher: C, iv: &[u8; 16]) -> Self {
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&iv[..12]);
        Ctr32 {
            cipher,
            nonce,
            ctr: u32::from_be_bytes([iv[12], iv[13], iv[14], iv[15]]),
            ks: [0; 16],
            ks_used: 16,
        }
    }

    /// Apply the keystream in place.
    pub(crate) fn apply_keystream(&mut self, buf: &mut [u8]) {
        self.apply(None, buf);
    }

    /// Apply the keystream from `input` into `output` (same length). Never fails: the GCM length
    /// limit is checked by the caller; the signature matches the `ctr` crate's.
    pub(crate) fn try_apply_keystream_b2b(
        &mut self,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), core::convert::Infallible> {
        debug_assert_eq!(input.len(), output.len());
        self.apply(Some(input), output);
        Ok(())
    }

    /// XOR the saved keystream of the partial block (`out.len() ≤ 16 − ks_used`).
    fn spend(&mut self, input: Option<&[u8]>, out: &mut [u8]) {
        let ks = &self.ks[self.ks_used..self.ks_used + out.len()];
        match input {
            Some(i) => out
                .iter_mut()
                .zip(i)
                .zip(ks)
                .for_each(|((o, i), k)| *o = i ^ k),
            None => out.iter_mut().zip(ks).for_each(|(o, k)| *o ^= k),
        }
        self.ks_used += out.len();
    }

    /// The keystream from `input` into `out`, or in place (`None`).
    fn apply(&mut self, input: Option<&[u8]>, out: &mut [u8]) {
        let n = out.len();
        let take = (16 - self.ks_used).min(n);
        self.spend(input.map(|i| &i[..take]), &mut out[..take]);
        let mut at = take;
        if at == n {
            return;
        }
        let mut ctrs = [Array::<u8, U16>::default(); BATCH];
        // The nonce in the top 96 bits; each counter block is written whole (16-byte stores: a
        // 4-byte store per block vectorises into a scatter, slow on some CPUs).
        let mut prefix = [0u8; 16];
        prefix[..12].copy_from_slice(&self.nonce);
        let prefix = u128::from_be_bytes(prefix);
        let mut ks = [Array::<u8, U16>::default(); BATCH];
        let mut used = 1;
        while n - at >= 16 {
            let nb = ((n - at) / 16).min(BATCH);
            used = used.max(nb);
            for (i, c) in ctrs[..nb].iter_mut().enumerate() {
                let block = prefix | u128::from(self.ctr.wrapping_add(i as u32));
                c.copy_from_slice(&block.to_be_bytes());
            }
            let _ = self.cipher.encrypt_blocks_b2b(&ctrs[..nb], &mut ks[..nb]);
            let k = Array::slice_as_flattened(&ks[..nb]);
            let o = &mut out[at..at + 16 * nb];
            match input {
                Some(i) => o
                    .iter_mut()
                    .zip(&i[at..])
                    .zip(k)
                    .for_each(|((o, i), k)| *o = i ^ k),
                None => o.iter_mut().zip(k).for_each(|(o, k)| *o ^= k),
            }
            self.ctr = self.ctr.wrapping_add(nb as u32);
            at += 16 * nb;
        }
        if at < n {
            ctrs[0].copy_from_slice(&(prefix | u128::from(self.ctr)).to_be_bytes());
            self.cipher.encrypt_block_b2b(&ctrs[0], &mut ks[0]);
            self.ks.copy_from_slice(&ks[0]);
            self.ctr = self.ctr.wrapping_add(1);
            self.ks_used = 0;
            self.spend(input.map(|i| &i[at..]), &mut out[at..]);
        }
        Array::slice_as_flattened_mut(&mut ks[..used]).zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngExt, SeedableRng, rngs::StdRng};

    /// CTR equals the `ctr` crate (`Ctr32BE`) over random split points, in place and b2b, from
    /// counters near the 32-bit wrap.
    #[test]
    fn ctr_matches_ctr_crate() {
        use aes::cipher::{KeyInit, KeyIvInit, StreamCipher};
        let mut rng = StdRng::seed_from_u64(0x5eed_0003);
        for case in 0..crate::gcm::tests::cases(300) {
            let mut key = [0u8; 32];
            rng.fill_bytes(&mut key);
            let mut iv = [0u8; 16];
            rng.fill_bytes(&mut iv);
            if case % 3 == 0 {
                iv[12..].copy_from_slice(&(u32::MAX - rng.random_range(0..300u32)).to_be_bytes());
            }
            let n = rng.random_range(0..=9000);
            let mut want = alloc::vec![0u8; n];
            rng.fill_bytes(&mut want);
            let input = want.clone();
            ctr::Ctr32BE::<aes::Aes256>::new(&key.into(), &iv.into()).apply_keystream(&mut want);
            let mut got = alloc::vec![0xA5u8; n];
            let mut c = Ctr32::new(aes::Aes256::new(&key.into()), &iv);
            let mut at = 0;
            while at < n {
                let t = match rng.random_range(0..3) {
                    0 => rng.random_range(1..=17),
                    _ => rng.random_range(1..=n - at),
                }
                .min(n - at);
                if case % 2 == 0 {
                    c.try_apply_keystream_b2b(&input[at..at + t], &mut got[at..at + t])
                        .unwrap();
                } else {
                    got[at..at + t].copy_from_slice(&input[at..at + t]);
                    c.apply_keystream(&mut got[at..at + t]);
                }
                at += t;
            }
            assert_eq!(got, want, "case {case}");
        }
    }
}
