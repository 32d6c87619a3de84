//! GHASH with carry-less multiplication (PCLMULQDQ), sixteen blocks per reduction, and CTR in
//! batches through the block cipher's own multi-block path; selected at compile time.
//!
//! Compiled only when the build enables `sse2`, `ssse3` and `pclmulqdq` (for example
//! `RUSTFLAGS="-C target-cpu=native"`). The crate forbids `unsafe`, and a `#[target_feature]`
//! function cannot be called safely from code without the attribute even when the feature is
//! enabled for the whole build, so the intrinsics come from `safe_arch`, whose wrappers exist
//! exactly when the build enables their features. With `avx512f` + `vaes` enabled as well, the
//! `aes` crate picks its 512-bit VAES backend at compile time, which the CTR batches below use.
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
//! CTR: counter blocks `nonce ‖ be32(n)` for up to 256 blocks at a time, encrypted with one
//! `encrypt_blocks_b2b` call (the `aes` crate's parallel backend), then XORed into the data.

use aes::cipher::{BlockCipherEncrypt, BlockSizeUser, array::Array, consts::U16};
use safe_arch::{
    byte_shl_imm_u128_m128i, byte_shr_imm_u128_m128i, m128i, mul_i64_carryless_m128i,
    shuffle_ai_f32_all_m128i, shuffle_av_i8z_all_m128i,
};
use zeroize::Zeroize;

/// Blocks per reduction.
const AGG: usize = 16;

#[inline(always)]
fn xor(a: m128i, b: m128i) -> m128i {
    safe_arch::bitxor_m128i(a, b)
}

/// Byte reversal of a 128-bit value.
#[inline(always)]
fn bswap(a: m128i) -> m128i {
    let idx = m128i::from([15u8, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    shuffle_av_i8z_all_m128i(a, idx)
}

/// `(hi·2^128 + lo)·2^-128` modulo the reflected polynomial.
#[inline(always)]
fn reduce(lo: m128i, hi: m128i) -> m128i {
    let c = m128i::from([0xC200_0000_0000_0000_u64 as i64, 0]);
    let m = mul_i64_carryless_m128i::<0x00>(lo, c);
    let lo = xor(shuffle_ai_f32_all_m128i::<0x4E>(lo), m);
    let m = mul_i64_carryless_m128i::<0x00>(lo, c);
    let lo = xor(shuffle_ai_f32_all_m128i::<0x4E>(lo), m);
    xor(hi, lo)
}

/// Unreduced sums of 256-bit products.
#[derive(Clone, Copy)]
struct Acc {
    lo: m128i,
    mid: m128i,
    hi: m128i,
}

impl Acc {
    #[inline(always)]
    fn new() -> Self {
        Acc {
            lo: m128i::default(),
            mid: m128i::default(),
            hi: m128i::default(),
        }
    }

    #[inline(always)]
    fn mul_add(&mut self, x: m128i, k: m128i) {
        self.lo = xor(self.lo, mul_i64_carryless_m128i::<0x00>(x, k));
        self.hi = xor(self.hi, mul_i64_carryless_m128i::<0x11>(x, k));
        self.mid = xor(
            self.mid,
            xor(
                mul_i64_carryless_m128i::<0x01>(x, k),
                mul_i64_carryless_m128i::<0x10>(x, k),
            ),
        );
    }

    /// Karatsuba: `kx` holds `k.lo ^ k.hi` in its low half; `mid` collects `(x.lo^x.hi)·kx`
    /// and must be corrected by `lo ^ hi` before reducing (`reduce_k`).
    #[inline(always)]
    fn mul_add_k(&mut self, x: m128i, k: m128i, kx: m128i) {
        self.lo = xor(self.lo, mul_i64_carryless_m128i::<0x00>(x, k));
        self.hi = xor(self.hi, mul_i64_carryless_m128i::<0x11>(x, k));
        let xx = xor(x, shuffle_ai_f32_all_m128i::<0x4E>(x));
        self.mid = xor(self.mid, mul_i64_carryless_m128i::<0x00>(xx, kx));
    }

    #[inline(always)]
    fn reduce_k(mut self) -> m128i {
        self.mid = xor(self.mid, xor(self.lo, self.hi));
        self.reduce()
    }

    #[inline(always)]
    fn reduce(self) -> m128i {
        reduce(
            xor(self.lo, byte_shl_imm_u128_m128i::<8>(self.mid)),
            xor(self.hi, byte_shr_imm_u128_m128i::<8>(self.mid)),
        )
    }
}

fn mul(a: m128i, b: m128i) -> m128i {
    let mut acc = Acc::new();
    acc.mul_add(a, b);
    acc.reduce()
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
    pub(crate) fn new(h: &[u8; 16]) -> Self {
        // Reflected H divided by x: a one-bit left shift, the bit shifted out folded back in
        // with the reflected polynomial (bits 127, 126, 121 and 0).
        let v = u128::from_le_bytes(<[u8; 16]>::from(bswap(m128i::from(*h))));
        let mut k1 = v << 1;
        if v >> 127 == 1 {
            k1 ^= (0xC2 << 120) | 1;
        }
        let k1 = m128i::from(k1.to_le_bytes());
        let mut powers = [[0u8; 16]; AGG];
        let mut k = k1;
        for j in 1..=AGG {
            powers[AGG - j] = k.into();
            k = mul(k, k1);
        }
        Ghash { powers, y: [0; 16] }
    }

    /// Absorb whole blocks (`data.len()` a multiple of 16).
    pub(crate) fn update(&mut self, data: &[u8]) {
        let (blocks, rest) = data.as_chunks::<16>();
        debug_assert!(rest.is_empty());
        let k: [m128i; AGG] = self.powers.map(m128i::from);
        let kx: [m128i; AGG] = k.map(|k| xor(k, shuffle_ai_f32_all_m128i::<0x4E>(k)));
        let mut y = m128i::from(self.y);
        let mut groups = blocks.chunks_exact(AGG);
        for g in &mut groups {
            let mut acc = Acc::new();
            for (i, ((b, k), kx)) in g.iter().zip(&k).zip(&kx).enumerate() {
                let mut x = bswap(m128i::from(*b));
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
                let mut x = bswap(m128i::from(*b));
                if i == 0 {
                    x = xor(x, y);
                }
                acc.mul_add(x, *k);
            }
            y = acc.reduce();
        }
        self.y = y.into();
    }

    /// Absorb `data`, the last partial block zero-padded.
    pub(crate) fn update_padded(&mut self, data: &[u8]) {
        let whole = data.len() / 16 * 16;
        self.update(&data[..whole]);
        if whole < data.len() {
            let mut last = [0u8; 16];
            last[..data.len() - whole].copy_from_slice(&data[whole..]);
            self.update(&last);
            last.zeroize();
        }
    }

    /// The GHASH value.
    pub(crate) fn finalize(&self) -> [u8; 16] {
        bswap(m128i::from(self.y)).into()
    }
}

/// The names `gcm.rs` uses for either backend.
pub(super) type Hasher = Ghash;
/// See [`Hasher`].
pub(super) type Ctr<C> = Ctr32<C>;

/// CTR from the counter block `iv`.
pub(super) fn new_ctr<C>(cipher: C, iv: &Array<u8, U16>) -> Ctr<C>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    Ctr32::new(cipher, &(*iv).into())
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
    use ghash::{GHash, universal_hash::UniversalHash};
    use rand::{Rng, RngExt, SeedableRng, rngs::StdRng};

    /// CTR equals the `ctr` crate (`Ctr32BE`) over random split points, in place and b2b, from
    /// counters near the 32-bit wrap.
    #[test]
    fn ctr_matches_ctr_crate() {
        use aes::cipher::{KeyInit, KeyIvInit, StreamCipher};
        let mut rng = StdRng::seed_from_u64(0x5eed_0003);
        for case in 0..300 {
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

    fn oracle(h: &[u8; 16], data: &[u8]) -> [u8; 16] {
        let mut g = GHash::new(&(*h).into());
        g.update_padded(data);
        g.finalize().into()
    }

    /// Equal to the `ghash` crate for every length 0..=300, multi-KiB lengths, and whole-block
    /// updates split at random points (so that groups start anywhere).
    #[test]
    fn ghash_matches_ghash_crate() {
        let mut rng = StdRng::seed_from_u64(0x5eed_0002);
        let mut lens: alloc::vec::Vec<usize> = (0..=300).collect();
        lens.extend([1024, 2048, 4095, 4096, 4097, 8192 + 48, 65536 + 5]);
        for _ in 0..200 {
            lens.push(rng.random_range(0..=20_000));
        }
        for n in lens {
            let mut h = [0u8; 16];
            rng.fill_bytes(&mut h);
            if n % 7 == 0 {
                h = [0xFF; 16];
            }
            let mut data = alloc::vec![0u8; n];
            rng.fill_bytes(&mut data);
            let want = oracle(&h, &data);
            let mut g = Ghash::new(&h);
            g.update_padded(&data);
            assert_eq!(g.finalize(), want, "one call, length {n}");
            let whole = n / 16;
            let mut g = Ghash::new(&h);
            let mut at = 0;
            while at < whole {
                let t = rng.random_range(1..=(whole - at).min(40));
                g.update(&data[16 * at..16 * (at + t)]);
                at += t;
            }
            g.update_padded(&data[16 * whole..]);
            assert_eq!(g.finalize(), want, "split, length {n}");
        }
    }
}
