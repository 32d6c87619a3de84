//! The wide backend: AES-256-GCM on 256-bit vectors (AVX2 with VAES and VPCLMULQDQ), two blocks
//! per register, eight blocks per iteration.
//!
//! Stitched: each iteration runs the fourteen AES rounds of eight counter blocks and, in the same
//! loop body, the GHASH of eight ciphertext blocks (when encrypting, the ones produced by the
//! previous iteration; when decrypting, the ones being decrypted), so that the AES and the
//! carry-less multiply units work at the same time. GHASH multiplies the eight blocks by
//! `K_8 … K_1` (the key powers of `clmul`, in the same byte-reversed representation), sums the
//! Karatsuba products unreduced and reduces once per iteration. The keystream XOR is folded into
//! the last round: `aesenclast(s, k ^ d) = aesenclast(s, k) ^ d`.
//!
//! GHASH alone (pass one of verify-first) has its own loop, [`ghash`]: sixteen blocks per
//! reduction, with the running value's product `y·K_16` split off the sixteen data products, so
//! that only four 128-bit products and the reduction are on the loop-carried path. Every loop
//! that streams through memory prefetches ahead (`clmul::prefetch`): out of L2 the hardware
//! prefetcher alone held GHASH to about a third of its in-cache speed.
//!
//! The AES-256 key schedule is our own (`aeskeygenassist`). Every function that uses an
//! intrinsic is a safe `#[target_feature]` function; only `dispatch` calls them from outside,
//! after checking the CPU.

use super::clmul::{self, Acc, bswap, load, prefetch, store, xor};
use core::arch::x86_64::{
    __m128i, __m256i, _mm_aesenc_si128, _mm_aesenclast_si128, _mm_aeskeygenassist_si128,
    _mm_setzero_si128, _mm_shuffle_epi32, _mm_slli_si128, _mm256_add_epi32, _mm256_aesenc_epi128,
    _mm256_aesenclast_epi128, _mm256_broadcastsi128_si256, _mm256_castsi256_si128,
    _mm256_clmulepi64_epi128, _mm256_extract_epi64, _mm256_extracti128_si256, _mm256_set_epi8,
    _mm256_set_epi32, _mm256_set_m128i, _mm256_setzero_si256, _mm256_shuffle_epi8,
    _mm256_shuffle_epi32, _mm256_xor_si256,
};
use zeroize::Zeroize;

/// Blocks per iteration (four 256-bit vectors).
const W: usize = 8;
/// Key powers kept: enough for the 512-bit kernel (`vaes512`), sixteen blocks per iteration.
pub(super) const POWERS: usize = 16;
/// Bytes per iteration.
const G: usize = 16 * W;

/// The AES-256 round keys and the GHASH key powers of one key, zeroized on drop.
#[derive(Clone)]
pub(crate) struct Keys {
    pub(super) rk: [[u8; 16]; 15],
    /// `pw[i]` holds `K_(16−i)`: the last `n` are the powers for `n` blocks, in block order.
    pub(super) pw: [[u8; 16]; POWERS],
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.rk.zeroize();
        self.pw.zeroize();
    }
}

/// Load 32 bytes (LLVM folds the byte inserts into one unaligned load).
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn load2(b: &[u8; 32]) -> __m256i {
    // Plain indexing: a closure or `array::map` is compiled without the target features, and
    // LLVM may leave it out of line in the hot loop.
    macro_rules! set {
        ($($i:literal)*) => { _mm256_set_epi8($(b[$i] as i8),*) };
    }
    set!(31 30 29 28 27 26 25 24 23 22 21 20 19 18 17 16 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0)
}

/// Store 32 bytes (LLVM merges the four stores into one).
#[inline]
#[target_feature(enable = "avx2")]
fn store2(v: __m256i, out: &mut [u8; 32]) {
    out[0..8].copy_from_slice(&_mm256_extract_epi64::<0>(v).to_le_bytes());
    out[8..16].copy_from_slice(&_mm256_extract_epi64::<1>(v).to_le_bytes());
    out[16..24].copy_from_slice(&_mm256_extract_epi64::<2>(v).to_le_bytes());
    out[24..32].copy_from_slice(&_mm256_extract_epi64::<3>(v).to_le_bytes());
}

/// The eight blocks of iteration `$g` of `$buf`. A macro, like `store_group!`: LLVM does not
/// always inline a small `#[target_feature]` function into the loop (and `#[inline(always)]`
/// cannot be combined with one), and a call there costs a `vzeroupper` and a round trip through
/// memory.
macro_rules! load_group {
    ($buf:expr, $g:expr) => {{
        let q = $buf.as_chunks::<G>().0[$g].as_chunks::<32>().0;
        [load2(&q[0]), load2(&q[1]), load2(&q[2]), load2(&q[3])]
    }};
}

/// Store eight blocks `$v` as iteration `$g` of `$buf`.
macro_rules! store_group {
    ($buf:expr, $g:expr, $v:expr) => {{
        let v: [__m256i; 4] = $v;
        let q = $buf.as_chunks_mut::<G>().0[$g].as_chunks_mut::<32>().0;
        store2(v[0], &mut q[0]);
        store2(v[1], &mut q[1]);
        store2(v[2], &mut q[2]);
        store2(v[3], &mut q[3]);
    }};
}

#[inline]
#[target_feature(enable = "avx2")]
fn xor2(a: __m256i, b: __m256i) -> __m256i {
    _mm256_xor_si256(a, b)
}

/// One AES-256 key-schedule step: `a` with its words chained, plus the broadcast word `t`.
#[inline]
#[target_feature(enable = "sse2")]
fn chain(a: __m128i, t: __m128i) -> __m128i {
    let a = xor(a, _mm_slli_si128::<4>(a));
    let a = xor(a, _mm_slli_si128::<4>(a));
    let a = xor(a, _mm_slli_si128::<4>(a));
    xor(a, t)
}

/// The next two round keys after `a`, `b` (round constant `R`).
#[inline]
#[target_feature(enable = "sse2,aes")]
fn next_pair<const R: i32>(a: __m128i, b: __m128i) -> (__m128i, __m128i) {
    let c = chain(
        a,
        _mm_shuffle_epi32::<0xFF>(_mm_aeskeygenassist_si128::<R>(b)),
    );
    let d = chain(
        b,
        _mm_shuffle_epi32::<0xAA>(_mm_aeskeygenassist_si128::<0>(c)),
    );
    (c, d)
}

/// The 15 AES-256 round keys.
#[target_feature(enable = "sse2,aes")]
fn schedule(key: &[u8; 32]) -> [__m128i; 15] {
    let (k0, k1) = key.split_at(16);
    let mut rk = [_mm_setzero_si128(); 15];
    let mut a = [0u8; 16];
    a.copy_from_slice(k0);
    rk[0] = load(&a);
    a.copy_from_slice(k1);
    rk[1] = load(&a);
    a.zeroize();
    (rk[2], rk[3]) = next_pair::<0x01>(rk[0], rk[1]);
    (rk[4], rk[5]) = next_pair::<0x02>(rk[2], rk[3]);
    (rk[6], rk[7]) = next_pair::<0x04>(rk[4], rk[5]);
    (rk[8], rk[9]) = next_pair::<0x08>(rk[6], rk[7]);
    (rk[10], rk[11]) = next_pair::<0x10>(rk[8], rk[9]);
    (rk[12], rk[13]) = next_pair::<0x20>(rk[10], rk[11]);
    (rk[14], _) = next_pair::<0x40>(rk[12], rk[13]);
    rk
}

/// One AES-256 block with the 128-bit instructions.
#[inline]
#[target_feature(enable = "sse2,aes")]
fn encrypt1(rk: &[__m128i; 15], b: __m128i) -> __m128i {
    let mut s = xor(b, rk[0]);
    for k in &rk[1..14] {
        s = _mm_aesenc_si128(s, *k);
    }
    _mm_aesenclast_si128(s, rk[14])
}

impl Keys {
    /// The round keys and the key powers of `H = E(K, 0^128)`.
    #[target_feature(enable = "avx2,aes,pclmulqdq,vaes,vpclmulqdq")]
    pub(super) fn new(key: &[u8; 32]) -> Self {
        let rk = schedule(key);
        let mut h = store(encrypt1(&rk, _mm_setzero_si128()));
        let k1 = load(&clmul::key_power_one(&h));
        h.zeroize();
        let mut pw = [[0u8; 16]; POWERS];
        let mut k = k1;
        for j in 1..=POWERS {
            pw[POWERS - j] = store(k);
            k = clmul::mul(k, k1);
        }
        Keys {
            rk: {
                let mut r = [[0u8; 16]; 15];
                for (r, k) in r.iter_mut().zip(rk) {
                    *r = store(k);
                }
                r
            },
            pw,
        }
    }

    /// `E(K, block)`.
    #[target_feature(enable = "avx2,aes,pclmulqdq,vaes,vpclmulqdq")]
    pub(super) fn block(&self, b: &[u8; 16]) -> [u8; 16] {
        let mut rk = [_mm_setzero_si128(); 15];
        for (r, k) in rk.iter_mut().zip(&self.rk) {
            *r = load(k);
        }
        store(encrypt1(&rk, load(b)))
    }

    /// The round keys, each in both lanes.
    #[inline]
    #[target_feature(enable = "avx2,aes,pclmulqdq,vaes,vpclmulqdq")]
    fn round_keys(&self) -> [__m256i; 15] {
        let mut r = [_mm256_setzero_si256(); 15];
        for (r, k) in r.iter_mut().zip(&self.rk) {
            *r = _mm256_broadcastsi128_si256(load(k));
        }
        r
    }

    /// The powers `K_8 … K_1` two per vector, and their Karatsuba halves (`lo ^ hi`, low half).
    #[inline]
    #[target_feature(enable = "avx2,aes,pclmulqdq,vaes,vpclmulqdq")]
    fn powers(&self) -> ([__m256i; 4], [__m256i; 4]) {
        let q = self.pw[POWERS - W..].as_flattened().as_chunks::<32>().0;
        let p = [load2(&q[0]), load2(&q[1]), load2(&q[2]), load2(&q[3])];
        let mut px = p;
        for k in &mut px {
            *k = xor2(*k, _mm256_shuffle_epi32::<0x4E>(*k));
        }
        (p, px)
    }
}

/// Byte reversal within each 128-bit lane.
#[inline]
#[target_feature(enable = "avx2")]
fn bswap2(a: __m256i) -> __m256i {
    let idx = _mm256_set_epi8(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
        12, 13, 14, 15,
    );
    _mm256_shuffle_epi8(a, idx)
}

/// GHASH of eight raw data blocks `d` into the running value `y` (byte-reversed): one reduction.
#[inline]
#[target_feature(enable = "avx2,aes,pclmulqdq,vaes,vpclmulqdq")]
fn ghash_group(y: __m128i, d: [__m256i; 4], p: &[__m256i; 4], px: &[__m256i; 4]) -> __m128i {
    let mut lo = _mm256_setzero_si256();
    let mut mid = _mm256_setzero_si256();
    let mut hi = _mm256_setzero_si256();
    for j in 0..4 {
        let mut x = bswap2(d[j]);
        if j == 0 {
            x = xor2(x, _mm256_set_m128i(_mm_setzero_si128(), y));
        }
        lo = xor2(lo, _mm256_clmulepi64_epi128::<0x00>(x, p[j]));
        hi = xor2(hi, _mm256_clmulepi64_epi128::<0x11>(x, p[j]));
        let xx = xor2(x, _mm256_shuffle_epi32::<0x4E>(x));
        mid = xor2(mid, _mm256_clmulepi64_epi128::<0x00>(xx, px[j]));
    }
    Acc {
        lo: xor(
            _mm256_castsi256_si128(lo),
            _mm256_extracti128_si256::<1>(lo),
        ),
        mid: xor(
            _mm256_castsi256_si128(mid),
            _mm256_extracti128_si256::<1>(mid),
        ),
        hi: xor(
            _mm256_castsi256_si128(hi),
            _mm256_extracti128_si256::<1>(hi),
        ),
    }
    .reduce_k()
}

/// GHASH of fewer than sixteen whole blocks (`K_n … K_1`).
#[inline]
#[target_feature(enable = "avx2,aes,pclmulqdq,vaes,vpclmulqdq")]
pub(super) fn ghash_tail(keys: &Keys, y: __m128i, data: &[u8]) -> __m128i {
    let blocks = data.as_chunks::<16>().0;
    if blocks.is_empty() {
        return y;
    }
    let mut acc = Acc::new();
    for (i, (b, k)) in blocks
        .iter()
        .zip(&keys.pw[POWERS - blocks.len()..])
        .enumerate()
    {
        let mut x = bswap(load(b));
        if i == 0 {
            x = xor(x, y);
        }
        acc.mul_add(x, load(k));
    }
    acc.reduce()
}

/// GHASH of whole blocks into `y` (byte-reversed) with the stitched kernels' loop, eight blocks
/// per reduction, the running value entering the first block's product: the GHASH-only kernel
/// before [`ghash`] (kept for the benchmarks' before/after).
#[target_feature(enable = "avx2,aes,pclmulqdq,vaes,vpclmulqdq")]
fn ghash_v1(keys: &Keys, y: &mut [u8; 16], data: &[u8]) {
    let (p, px) = keys.powers();
    let mut v = load(y);
    let groups = data.len() / G;
    for g in 0..groups {
        v = ghash_group(v, load_group!(data, g), &p, &px);
    }
    v = ghash_tail(keys, v, &data[G * groups..]);
    *y = store(v);
}

/// Bytes per iteration of the GHASH-only loop (sixteen blocks, eight vectors).
const G16: usize = 256;

/// GHASH alone of whole blocks into `y` (byte-reversed): sixteen blocks per reduction. The
/// products of the sixteen blocks with `K_16 … K_1` do not depend on the running value, so they
/// overlap with the previous iteration; only `y·K_16` and the reduction are on the
/// loop-carried path: `y' = reduce(y·K_16 + Σ x_j·K_(16−j))`.
/// With `LEGACY`, [`ghash_v1`] (benchmarks).
#[target_feature(enable = "avx2,aes,pclmulqdq,vaes,vpclmulqdq")]
pub(super) fn ghash<const LEGACY: bool>(keys: &Keys, y: &mut [u8; 16], data: &[u8]) {
    if LEGACY {
        return ghash_v1(keys, y, data);
    }
    let q = keys.pw.as_flattened().as_chunks::<32>().0;
    let k16 = load(&keys.pw[0]);
    let mut v = load(y);
    let (groups, _) = data.as_chunks::<G16>();
    for (g, grp) in groups.iter().enumerate() {
        prefetch::<false>(None, data, G16 * g, G16);
        let d = grp.as_chunks::<32>().0;
        let (mut lo, mut mid, mut hi) = (
            _mm256_setzero_si256(),
            _mm256_setzero_si256(),
            _mm256_setzero_si256(),
        );
        for j in 0..8 {
            let x = bswap2(load2(&d[j]));
            let k = load2(&q[j]);
            lo = xor2(lo, _mm256_clmulepi64_epi128::<0x00>(x, k));
            hi = xor2(hi, _mm256_clmulepi64_epi128::<0x11>(x, k));
            mid = xor2(
                mid,
                xor2(
                    _mm256_clmulepi64_epi128::<0x01>(x, k),
                    _mm256_clmulepi64_epi128::<0x10>(x, k),
                ),
            );
        }
        let mut acc = Acc {
            lo: fold2(lo),
            mid: fold2(mid),
            hi: fold2(hi),
        };
        acc.mul_add(v, k16);
        v = acc.reduce();
    }
    v = ghash_tail(keys, v, &data[G16 * groups.len()..]);
    *y = store(v);
}

/// The XOR of the two 128-bit lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn fold2(v: __m256i) -> __m128i {
    xor(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v))
}

/// GCM's counter blocks as they are kept between iterations: `nonce ‖ le32(counter)` in each lane
/// (so that a 32-bit add is `inc32`), lane 1 one block ahead of lane 0.
#[derive(Clone, Copy)]
struct Counters(__m256i);

impl Counters {
    #[inline]
    #[target_feature(enable = "avx2")]
    fn new(nonce: &[u8; 12], ctr: u32) -> Self {
        let mut b = [0u8; 16];
        b[..12].copy_from_slice(nonce);
        b[12..].copy_from_slice(&ctr.to_le_bytes());
        let v = _mm256_broadcastsi128_si256(load(&b));
        Counters(_mm256_add_epi32(
            v,
            _mm256_set_epi32(1, 0, 0, 0, 0, 0, 0, 0),
        ))
    }

    /// The next eight counter blocks in GCM's byte order (`nonce ‖ be32(counter)`).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn next8(&mut self) -> [__m256i; 4] {
        let be = _mm256_set_epi8(
            12, 13, 14, 15, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 12, 13, 14, 15, 11, 10, 9, 8, 7,
            6, 5, 4, 3, 2, 1, 0,
        );
        let c = self.0;
        let step = _mm256_set_epi32(2, 0, 0, 0, 2, 0, 0, 0);
        let c1 = _mm256_add_epi32(c, step);
        let c2 = _mm256_add_epi32(c1, step);
        let c3 = _mm256_add_epi32(c2, step);
        self.0 = _mm256_add_epi32(c3, step);
        [
            _mm256_shuffle_epi8(c, be),
            _mm256_shuffle_epi8(c1, be),
            _mm256_shuffle_epi8(c2, be),
            _mm256_shuffle_epi8(c3, be),
        ]
    }
}

/// The fourteen AES rounds of eight counter blocks, the last one XORing `d` in.
#[inline]
#[target_feature(enable = "avx2,aes,pclmulqdq,vaes,vpclmulqdq")]
fn aes8(rk: &[__m256i; 15], c: [__m256i; 4], d: [__m256i; 4]) -> [__m256i; 4] {
    let mut s = c;
    for j in 0..4 {
        s[j] = xor2(c[j], rk[0]);
    }
    for k in &rk[1..14] {
        for s in &mut s {
            *s = _mm256_aesenc_epi128(*s, *k);
        }
    }
    for j in 0..4 {
        s[j] = _mm256_aesenclast_epi128(s[j], xor2(rk[14], d[j]));
    }
    s
}

/// CTR over fewer than eight whole blocks at the end of `buf` (`input` or in place).
#[inline]
#[target_feature(enable = "avx2,aes,pclmulqdq,vaes,vpclmulqdq")]
fn ctr_tail(rk: &[__m256i; 15], c: &mut Counters, input: Option<&[u8]>, out: &mut [u8]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    let mut ks = [0u8; G];
    let z = _mm256_setzero_si256();
    store_group!(ks, 0, aes8(rk, c.next8(), [z; 4]));
    let src = input.unwrap_or(&*out);
    let mut res = [0u8; G];
    for ((r, s), k) in res.iter_mut().zip(src).zip(&ks) {
        *r = s ^ k;
    }
    out.copy_from_slice(&res[..n]);
    ks.zeroize();
    res.zeroize();
}

/// CTR over whole blocks from counter `*ctr` (advanced), from `input` or in place.
#[target_feature(enable = "avx2,aes,pclmulqdq,vaes,vpclmulqdq")]
pub(super) fn ctr<const LEGACY: bool>(
    keys: &Keys,
    nonce: &[u8; 12],
    ctr: &mut u32,
    input: Option<&[u8]>,
    out: &mut [u8],
) {
    let rk = keys.round_keys();
    let mut c = Counters::new(nonce, *ctr);
    let groups = out.len() / G;
    for g in 0..groups {
        prefetch::<LEGACY>(input, out, G * g, G);
        let d = load_group!(
            match input {
                Some(i) => i,
                None => &*out,
            },
            g
        );
        store_group!(out, g, aes8(&rk, c.next8(), d));
    }
    let at = G * groups;
    ctr_tail(&rk, &mut c, input.map(|i| &i[at..]), &mut out[at..]);
    *ctr = ctr.wrapping_add((out.len() / 16) as u32);
}

/// Encrypt whole blocks and GHASH the ciphertext into `y`, stitched.
#[target_feature(enable = "avx2,aes,pclmulqdq,vaes,vpclmulqdq")]
pub(super) fn seal<const LEGACY: bool>(
    keys: &Keys,
    nonce: &[u8; 12],
    ctr: &mut u32,
    y: &mut [u8; 16],
    input: Option<&[u8]>,
    out: &mut [u8],
) {
    let rk = keys.round_keys();
    let (p, px) = keys.powers();
    let mut v = load(y);
    let mut c = Counters::new(nonce, *ctr);
    let groups = out.len() / G;
    for g in 0..groups {
        prefetch::<LEGACY>(input, out, G * g, G);
        let d = load_group!(
            match input {
                Some(i) => i,
                None => &*out,
            },
            g
        );
        // The GHASH runs two iterations behind, on ciphertext read back from L1: its inputs are
        // ready when it is issued, so it does not wait in the scheduler behind the AES rounds
        // of the previous iteration.
        if g >= 2 {
            v = ghash_group(v, load_group!(&*out, g - 2), &p, &px);
        }
        let o = aes8(&rk, c.next8(), d);
        store_group!(out, g, o);
    }
    for g in groups.saturating_sub(2)..groups {
        v = ghash_group(v, load_group!(&*out, g), &p, &px);
    }
    let at = G * groups;
    ctr_tail(&rk, &mut c, input.map(|i| &i[at..]), &mut out[at..]);
    v = ghash_tail(keys, v, &out[at..]);
    *y = store(v);
    *ctr = ctr.wrapping_add((out.len() / 16) as u32);
}

/// GHASH whole ciphertext blocks into `y` and decrypt them, stitched.
#[target_feature(enable = "avx2,aes,pclmulqdq,vaes,vpclmulqdq")]
pub(super) fn open<const LEGACY: bool>(
    keys: &Keys,
    nonce: &[u8; 12],
    ctr: &mut u32,
    y: &mut [u8; 16],
    input: Option<&[u8]>,
    out: &mut [u8],
) {
    let rk = keys.round_keys();
    let (p, px) = keys.powers();
    let mut v = load(y);
    let mut c = Counters::new(nonce, *ctr);
    let groups = out.len() / G;
    for g in 0..groups {
        prefetch::<LEGACY>(input, out, G * g, G);
        let d = load_group!(
            match input {
                Some(i) => i,
                None => &*out,
            },
            g
        );
        let o = aes8(&rk, c.next8(), d);
        v = ghash_group(v, d, &p, &px);
        store_group!(out, g, o);
    }
    let at = G * groups;
    v = ghash_tail(keys, v, &input.unwrap_or(&*out)[at..]);
    ctr_tail(&rk, &mut c, input.map(|i| &i[at..]), &mut out[at..]);
    *y = store(v);
    *ctr = ctr.wrapping_add((out.len() / 16) as u32);
}
