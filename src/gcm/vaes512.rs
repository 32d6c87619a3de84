//! The AVX-512 form of the wide backend: the same stitched AES-256-GCM as `vaes`, on 512-bit
//! vectors (four blocks per register), sixteen blocks per iteration with `K_16 … K_1` and one
//! reduction per iteration, and the same GHASH-only loop (four vectors of `K_16 … K_1`,
//! `y·K_16` off the critical path) and prefetching. It shares `vaes`'s key schedule, key powers,
//! GHASH tail and prefetch.
//!
//! The helpers of the loops are macros, not functions: LLVM did not inline small
//! `#[target_feature]` functions that take or return 512-bit vectors into the loops (and
//! `#[inline(always)]` cannot be combined with `#[target_feature]`).
//!
//! Every function that uses an intrinsic is a safe `#[target_feature]` function; only `dispatch`
//! calls them from outside, after checking the CPU (and that the OS saves the 512-bit state).

use super::clmul::{Acc, load, prefetch, store, xor};
use super::vaes::{Keys, ghash_tail, load2};
use core::arch::x86_64::{
    __m512i, _MM_PERM_BADC, _mm256_extract_epi64, _mm512_add_epi32, _mm512_aesenc_epi128,
    _mm512_aesenclast_epi128, _mm512_broadcast_i32x4, _mm512_castsi256_si512,
    _mm512_castsi512_si128, _mm512_castsi512_si256, _mm512_clmulepi64_epi128,
    _mm512_extracti32x4_epi32, _mm512_extracti64x4_epi64, _mm512_inserti32x4, _mm512_inserti64x4,
    _mm512_set_epi32, _mm512_setzero_si512, _mm512_shuffle_epi8, _mm512_shuffle_epi32,
    _mm512_xor_si512,
};
use zeroize::Zeroize;

/// Blocks per iteration (four 512-bit vectors).
const W: usize = 16;
/// Bytes per iteration.
const G: usize = 16 * W;

/// The 64 bytes `$b` (`&[u8; 64]`) as one vector.
macro_rules! load4 {
    ($b:expr) => {{
        let q = $b.as_chunks::<32>().0;
        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(load2(&q[0])), load2(&q[1]))
    }};
}

/// Store vector `$v` into `$out` (`&mut [u8; 64]`); LLVM merges the stores into one.
macro_rules! store4 {
    ($v:expr, $out:expr) => {{
        let v: __m512i = $v;
        let out: &mut [u8; 64] = $out;
        let lo = _mm512_castsi512_si256(v);
        let hi = _mm512_extracti64x4_epi64::<1>(v);
        out[0..8].copy_from_slice(&_mm256_extract_epi64::<0>(lo).to_le_bytes());
        out[8..16].copy_from_slice(&_mm256_extract_epi64::<1>(lo).to_le_bytes());
        out[16..24].copy_from_slice(&_mm256_extract_epi64::<2>(lo).to_le_bytes());
        out[24..32].copy_from_slice(&_mm256_extract_epi64::<3>(lo).to_le_bytes());
        out[32..40].copy_from_slice(&_mm256_extract_epi64::<0>(hi).to_le_bytes());
        out[40..48].copy_from_slice(&_mm256_extract_epi64::<1>(hi).to_le_bytes());
        out[48..56].copy_from_slice(&_mm256_extract_epi64::<2>(hi).to_le_bytes());
        out[56..64].copy_from_slice(&_mm256_extract_epi64::<3>(hi).to_le_bytes());
    }};
}

/// The sixteen blocks of iteration `$g` of `$buf`.
macro_rules! load_group {
    ($buf:expr, $g:expr) => {{
        let q = $buf.as_chunks::<G>().0[$g].as_chunks::<64>().0;
        [load4!(&q[0]), load4!(&q[1]), load4!(&q[2]), load4!(&q[3])]
    }};
}

/// Store sixteen blocks `$v` as iteration `$g` of `$buf`.
macro_rules! store_group {
    ($buf:expr, $g:expr, $v:expr) => {{
        let v: [__m512i; 4] = $v;
        let q = $buf.as_chunks_mut::<G>().0[$g].as_chunks_mut::<64>().0;
        store4!(v[0], &mut q[0]);
        store4!(v[1], &mut q[1]);
        store4!(v[2], &mut q[2]);
        store4!(v[3], &mut q[3]);
    }};
}

/// The input of iteration `$g`: `$input`, or `$out` in place.
macro_rules! input_group {
    ($input:expr, $out:expr, $g:expr) => {
        match $input {
            Some(i) => load_group!(i, $g),
            None => load_group!(&*$out, $g),
        }
    };
}

/// Byte reversal within each 128-bit lane.
macro_rules! bswap4 {
    ($a:expr) => {{
        let idx = _mm512_broadcast_i32x4(load(&[
            15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
        ]));
        _mm512_shuffle_epi8($a, idx)
    }};
}

/// GHASH of sixteen raw data blocks `$d` into the running value `$y` (byte-reversed, 128-bit):
/// Karatsuba products with the powers `$p` (halves `$px`) summed, folded and reduced once.
macro_rules! ghash_group {
    ($y:expr, $d:expr, $p:expr, $px:expr) => {{
        let d: [__m512i; 4] = $d;
        let mut lo = _mm512_setzero_si512();
        let mut mid = _mm512_setzero_si512();
        let mut hi = _mm512_setzero_si512();
        for j in 0..4 {
            let mut x = bswap4!(d[j]);
            if j == 0 {
                x = _mm512_xor_si512(x, _mm512_inserti32x4::<0>(_mm512_setzero_si512(), $y));
            }
            let xx = _mm512_xor_si512(x, _mm512_shuffle_epi32::<_MM_PERM_BADC>(x));
            lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128::<0x00>(x, $p[j]));
            hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128::<0x11>(x, $p[j]));
            mid = _mm512_xor_si512(mid, _mm512_clmulepi64_epi128::<0x00>(xx, $px[j]));
        }
        Acc {
            lo: fold(lo),
            mid: fold(mid),
            hi: fold(hi),
        }
        .reduce_k()
    }};
}

/// The XOR of the four 128-bit lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,aes,pclmulqdq,vaes,vpclmulqdq")]
fn fold(v: __m512i) -> core::arch::x86_64::__m128i {
    let a = xor(_mm512_castsi512_si128(v), _mm512_extracti32x4_epi32::<1>(v));
    let b = xor(
        _mm512_extracti32x4_epi32::<2>(v),
        _mm512_extracti32x4_epi32::<3>(v),
    );
    xor(a, b)
}

/// The fourteen AES rounds of the sixteen blocks `$c`, the last one XORing `$d` in.
macro_rules! aes16 {
    ($rk:expr, $c:expr, $d:expr) => {{
        let rk: &[__m512i; 15] = $rk;
        let d: [__m512i; 4] = $d;
        let mut s: [__m512i; 4] = $c;
        for s in &mut s {
            *s = _mm512_xor_si512(*s, rk[0]);
        }
        for k in &rk[1..14] {
            for s in &mut s {
                *s = _mm512_aesenc_epi128(*s, *k);
            }
        }
        for j in 0..4 {
            s[j] = _mm512_aesenclast_epi128(s[j], _mm512_xor_si512(rk[14], d[j]));
        }
        s
    }};
}

/// GCM's counter blocks as kept between iterations: `nonce ‖ le32(counter)` in each lane (a
/// 32-bit add is `inc32`), lane `i` `i` blocks ahead of lane 0.
struct Counters(__m512i);

impl Counters {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn new(nonce: &[u8; 12], ctr: u32) -> Self {
        let mut b = [0u8; 16];
        b[..12].copy_from_slice(nonce);
        b[12..].copy_from_slice(&ctr.to_le_bytes());
        let v = _mm512_broadcast_i32x4(load(&b));
        let lanes = _mm512_set_epi32(3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0);
        Counters(_mm512_add_epi32(v, lanes))
    }
}

/// The next sixteen counter blocks of `$c` in GCM's byte order (`nonce ‖ be32(counter)`).
macro_rules! next16 {
    ($c:expr) => {{
        let be = _mm512_broadcast_i32x4(load(&[
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 14, 13, 12,
        ]));
        let step = _mm512_set_epi32(4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0);
        let c0 = $c.0;
        let c1 = _mm512_add_epi32(c0, step);
        let c2 = _mm512_add_epi32(c1, step);
        let c3 = _mm512_add_epi32(c2, step);
        $c.0 = _mm512_add_epi32(c3, step);
        [
            _mm512_shuffle_epi8(c0, be),
            _mm512_shuffle_epi8(c1, be),
            _mm512_shuffle_epi8(c2, be),
            _mm512_shuffle_epi8(c3, be),
        ]
    }};
}

/// The round keys in all four lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,aes,pclmulqdq,vaes,vpclmulqdq")]
fn round_keys(keys: &Keys) -> [__m512i; 15] {
    let mut r = [_mm512_setzero_si512(); 15];
    for (r, k) in r.iter_mut().zip(&keys.rk) {
        *r = _mm512_broadcast_i32x4(load(k));
    }
    r
}

/// The powers `K_16 … K_1`, four per vector, and their Karatsuba halves.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,aes,pclmulqdq,vaes,vpclmulqdq")]
fn powers(keys: &Keys) -> ([__m512i; 4], [__m512i; 4]) {
    let q = keys.pw.as_flattened().as_chunks::<64>().0;
    let p = [load4!(&q[0]), load4!(&q[1]), load4!(&q[2]), load4!(&q[3])];
    let mut px = p;
    for k in &mut px {
        *k = _mm512_xor_si512(*k, _mm512_shuffle_epi32::<_MM_PERM_BADC>(*k));
    }
    (p, px)
}

/// CTR over fewer than sixteen whole blocks at the end (`input` or in place).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,aes,pclmulqdq,vaes,vpclmulqdq")]
fn ctr_tail(rk: &[__m512i; 15], c: &mut Counters, input: Option<&[u8]>, out: &mut [u8]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    let mut ks = [0u8; G];
    let z = _mm512_setzero_si512();
    store_group!(ks, 0, aes16!(rk, next16!(c), [z; 4]));
    let src = match input {
        Some(i) => i,
        None => &*out,
    };
    let mut res = [0u8; G];
    for ((r, s), k) in res.iter_mut().zip(src).zip(&ks) {
        *r = s ^ k;
    }
    out.copy_from_slice(&res[..n]);
    ks.zeroize();
    res.zeroize();
}

/// GHASH of whole blocks into `y` (byte-reversed) with the stitched kernels' loop, the running
/// value entering the first block's product: the GHASH-only kernel before [`ghash`] (kept for
/// the benchmarks' before/after).
#[target_feature(enable = "avx512f,avx512bw,aes,pclmulqdq,vaes,vpclmulqdq")]
fn ghash_v1(keys: &Keys, y: &mut [u8; 16], data: &[u8]) {
    let (p, px) = powers(keys);
    let mut v = load(y);
    let groups = data.len() / G;
    for g in 0..groups {
        v = ghash_group!(v, load_group!(data, g), p, px);
    }
    v = ghash_tail(keys, v, &data[G * groups..]);
    *y = store(v);
}

/// GHASH alone of whole blocks into `y` (byte-reversed): sixteen blocks per reduction. The
/// products of the sixteen blocks with `K_16 … K_1` do not depend on the running value and
/// overlap with the previous iteration; only `y·K_16` (four 128-bit products) and the
/// reduction are on the loop-carried path: `y' = reduce(y·K_16 + Σ x_j·K_(16−j))`.
/// With `LEGACY`, [`ghash_v1`] (benchmarks).
#[target_feature(enable = "avx512f,avx512bw,aes,pclmulqdq,vaes,vpclmulqdq")]
pub(super) fn ghash<const LEGACY: bool>(keys: &Keys, y: &mut [u8; 16], data: &[u8]) {
    if LEGACY {
        return ghash_v1(keys, y, data);
    }
    let q = keys.pw.as_flattened().as_chunks::<64>().0;
    let p = [load4!(&q[0]), load4!(&q[1]), load4!(&q[2]), load4!(&q[3])];
    let k16 = load(&keys.pw[0]);
    let mut v = load(y);
    let groups = data.len() / G;
    for g in 0..groups {
        prefetch::<false>(None, data, G * g, G);
        let d = load_group!(data, g);
        let x = [bswap4!(d[0]), bswap4!(d[1]), bswap4!(d[2]), bswap4!(d[3])];
        macro_rules! sum {
            ($f:ident, $imm:literal) => {
                _mm512_xor_si512(
                    _mm512_xor_si512($f::<$imm>(x[0], p[0]), $f::<$imm>(x[1], p[1])),
                    _mm512_xor_si512($f::<$imm>(x[2], p[2]), $f::<$imm>(x[3], p[3])),
                )
            };
        }
        let lo = fold(sum!(_mm512_clmulepi64_epi128, 0x00));
        let hi = fold(sum!(_mm512_clmulepi64_epi128, 0x11));
        let mid = fold(_mm512_xor_si512(
            sum!(_mm512_clmulepi64_epi128, 0x01),
            sum!(_mm512_clmulepi64_epi128, 0x10),
        ));
        let mut acc = Acc { lo, mid, hi };
        acc.mul_add(v, k16);
        v = acc.reduce();
    }
    v = ghash_tail(keys, v, &data[G * groups..]);
    *y = store(v);
}

/// CTR over whole blocks from counter `*ctr` (advanced), from `input` or in place.
#[target_feature(enable = "avx512f,avx512bw,aes,pclmulqdq,vaes,vpclmulqdq")]
pub(super) fn ctr<const LEGACY: bool>(
    keys: &Keys,
    nonce: &[u8; 12],
    ctr: &mut u32,
    input: Option<&[u8]>,
    out: &mut [u8],
) {
    let rk = round_keys(keys);
    let mut c = Counters::new(nonce, *ctr);
    let groups = out.len() / G;
    for g in 0..groups {
        prefetch::<LEGACY>(input, out, G * g, G);
        let d = input_group!(input, out, g);
        store_group!(out, g, aes16!(&rk, next16!(c), d));
    }
    let at = G * groups;
    ctr_tail(&rk, &mut c, input.map(|i| &i[at..]), &mut out[at..]);
    *ctr = ctr.wrapping_add((out.len() / 16) as u32);
}

/// Encrypt whole blocks and GHASH the ciphertext into `y`, stitched (the GHASH of each
/// iteration's ciphertext runs beside the AES of the next).
#[target_feature(enable = "avx512f,avx512bw,aes,pclmulqdq,vaes,vpclmulqdq")]
pub(super) fn seal<const LEGACY: bool>(
    keys: &Keys,
    nonce: &[u8; 12],
    ctr: &mut u32,
    y: &mut [u8; 16],
    input: Option<&[u8]>,
    out: &mut [u8],
) {
    let rk = round_keys(keys);
    let (p, px) = powers(keys);
    let mut v = load(y);
    let mut c = Counters::new(nonce, *ctr);
    let groups = out.len() / G;
    for g in 0..groups {
        prefetch::<LEGACY>(input, out, G * g, G);
        let d = input_group!(input, out, g);
        // The GHASH runs two iterations behind, on ciphertext read back from L1: its inputs are
        // ready when it is issued, so it does not wait in the scheduler behind the AES rounds
        // of the previous iteration.
        if g >= 2 {
            v = ghash_group!(v, load_group!(&*out, g - 2), p, px);
        }
        let o = aes16!(&rk, next16!(c), d);
        store_group!(out, g, o);
    }
    for g in groups.saturating_sub(2)..groups {
        v = ghash_group!(v, load_group!(&*out, g), p, px);
    }
    let at = G * groups;
    ctr_tail(&rk, &mut c, input.map(|i| &i[at..]), &mut out[at..]);
    v = ghash_tail(keys, v, &out[at..]);
    *y = store(v);
    *ctr = ctr.wrapping_add((out.len() / 16) as u32);
}

/// GHASH whole ciphertext blocks into `y` and decrypt them, stitched.
#[target_feature(enable = "avx512f,avx512bw,aes,pclmulqdq,vaes,vpclmulqdq")]
pub(super) fn open<const LEGACY: bool>(
    keys: &Keys,
    nonce: &[u8; 12],
    ctr: &mut u32,
    y: &mut [u8; 16],
    input: Option<&[u8]>,
    out: &mut [u8],
) {
    let rk = round_keys(keys);
    let (p, px) = powers(keys);
    let mut v = load(y);
    let mut c = Counters::new(nonce, *ctr);
    let groups = out.len() / G;
    for g in 0..groups {
        prefetch::<LEGACY>(input, out, G * g, G);
        let d = input_group!(input, out, g);
        let o = aes16!(&rk, next16!(c), d);
        v = ghash_group!(v, d, p, px);
        store_group!(out, g, o);
    }
    let at = G * groups;
    let tail = match input {
        Some(i) => &i[at..],
        None => &out[at..],
    };
    v = ghash_tail(keys, v, tail);
    ctr_tail(&rk, &mut c, input.map(|i| &i[at..]), &mut out[at..]);
    *y = store(v);
    *ctr = ctr.wrapping_add((out.len() / 16) as u32);
}
