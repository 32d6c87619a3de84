//! CPU-feature detection and the calls into the `#[target_feature]` kernels: the crate's only
//! `unsafe` code.
//!
//! The kernels (`clmul`, `vaes`) are safe functions compiled for features the baseline x86-64
//! target lacks. Calling one is sound exactly when the CPU running the code has those features
//! (and, for the 256-bit registers, the OS saves their state). A token type proves it: its field
//! is private, so the only way to get one is the detection below, run once per key. Every
//! `unsafe` block is a single kernel call with a `// SAFETY:` line naming the features checked
//! (and, without `std`, the `xgetbv` read once `cpuid` says the OS enabled it).
//!
//! Detection: `is_x86_feature_detected!` with `std` (it checks the OS state too); without `std`,
//! `cpuid` and, for AVX, `xgetbv`. Building with `--cfg s3ec_gcm_force_portable` detects nothing,
//! so that the portable path can be tested on any CPU.
#![allow(unsafe_code)]

use super::{clmul, vaes, vaes512};

/// Proof that this CPU has SSE2, SSSE3 and PCLMULQDQ (the `clmul` backend).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clmul(());

/// Proof that this CPU has AVX2, AES-NI, PCLMULQDQ, VAES and VPCLMULQDQ, and that the OS saves
/// the 256-bit registers (the `vaes` backend; it implies [`Clmul`]); with `zmm`, also AVX-512F
/// and AVX-512BW with the 512-bit state saved (the `vaes512` kernels).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Vaes {
    zmm: bool,
}

#[cfg(all(feature = "std", not(s3ec_gcm_force_portable)))]
fn has_clmul() -> bool {
    std::is_x86_feature_detected!("sse2")
        && std::is_x86_feature_detected!("ssse3")
        && std::is_x86_feature_detected!("pclmulqdq")
}

#[cfg(all(feature = "std", not(s3ec_gcm_force_portable)))]
fn has_vaes512() -> bool {
    has_vaes()
        && std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
}

#[cfg(all(feature = "std", not(s3ec_gcm_force_portable)))]
fn has_vaes() -> bool {
    has_clmul()
        && std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("aes")
        && std::is_x86_feature_detected!("vaes")
        && std::is_x86_feature_detected!("vpclmulqdq")
}

/// `cpuid` bits without `std`, read once and cached (`cpuid` traps to the hypervisor in VMs).
#[cfg(all(not(feature = "std"), not(s3ec_gcm_force_portable)))]
mod cpuid {
    use core::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv};
    use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

    /// Bit 7: read; bits 0, 1, 2: `clmul`, `vaes`, `vaes512`.
    static CACHE: AtomicU8 = AtomicU8::new(0);

    fn cached() -> u8 {
        let c = CACHE.load(Relaxed);
        if c != 0 {
            return c;
        }
        let c = 0x80 | u8::from(clmul()) | (u8::from(vaes()) << 1) | (u8::from(vaes512()) << 2);
        CACHE.store(c, Relaxed);
        c
    }

    pub(super) fn has_clmul() -> bool {
        cached() & 1 != 0
    }
    pub(super) fn has_vaes() -> bool {
        cached() & 2 != 0
    }
    pub(super) fn has_vaes512() -> bool {
        cached() & 4 != 0
    }

    /// Leaf 1 ECX: SSSE3 (9), PCLMULQDQ (1); SSE2 is part of x86-64.
    fn clmul() -> bool {
        let c = __cpuid(1).ecx;
        c & (1 << 9) != 0 && c & (1 << 1) != 0
    }

    /// Leaf 1 ECX: AES (25), OSXSAVE (27), AVX (28); XCR0: SSE and AVX state (bits 1, 2);
    /// leaf 7 EBX: AVX2 (5); leaf 7 ECX: VAES (9), VPCLMULQDQ (10).
    fn vaes() -> bool {
        let l1 = __cpuid(1).ecx;
        if !clmul() || l1 & (1 << 25) == 0 || l1 & (1 << 27) == 0 || l1 & (1 << 28) == 0 {
            return false;
        }
        // SAFETY: OSXSAVE (leaf 1 ECX bit 27) was checked just above: XGETBV is enabled.
        if unsafe { _xgetbv(0) } & 0b110 != 0b110 || __cpuid(0).eax < 7 {
            return false;
        }
        let l7 = __cpuid_count(7, 0);
        l7.ebx & (1 << 5) != 0 && l7.ecx & (1 << 9) != 0 && l7.ecx & (1 << 10) != 0
    }

    /// `vaes`, plus leaf 7 EBX: AVX-512F (16), AVX-512BW (30); XCR0: opmask and ZMM state
    /// (bits 5, 6, 7).
    fn vaes512() -> bool {
        if !vaes() {
            return false;
        }
        // SAFETY: `vaes` checked OSXSAVE (leaf 1 ECX bit 27): XGETBV is enabled.
        if unsafe { _xgetbv(0) } & 0b1110_0110 != 0b1110_0110 {
            return false;
        }
        let l7 = __cpuid_count(7, 0);
        l7.ebx & (1 << 16) != 0 && l7.ebx & (1 << 30) != 0
    }
}
#[cfg(all(not(feature = "std"), not(s3ec_gcm_force_portable)))]
use cpuid::{has_clmul, has_vaes, has_vaes512};

#[cfg(s3ec_gcm_force_portable)]
fn has_clmul() -> bool {
    false
}
#[cfg(s3ec_gcm_force_portable)]
fn has_vaes() -> bool {
    false
}
#[cfg(s3ec_gcm_force_portable)]
fn has_vaes512() -> bool {
    false
}

impl Clmul {
    /// The token, if this CPU has the features.
    pub(crate) fn detect() -> Option<Self> {
        has_clmul().then_some(Clmul(()))
    }

    /// A GHASH keyed by `h`.
    pub(crate) fn ghash(self, h: &[u8; 16]) -> clmul::Ghash {
        // SAFETY: `self` proves SSE2, SSSE3 and PCLMULQDQ.
        unsafe { clmul::Ghash::new(h) }
    }

    /// Absorb whole blocks (`LEGACY`: without the prefetching, for the benchmarks).
    pub(crate) fn update<const LEGACY: bool>(self, g: &mut clmul::Ghash, data: &[u8]) {
        // SAFETY: `self` proves SSE2, SSSE3 and PCLMULQDQ.
        unsafe { g.update::<LEGACY>(data) }
    }
}

impl Vaes {
    /// The token for the 256-bit kernels, if this CPU has the features.
    pub(crate) fn detect() -> Option<Self> {
        has_vaes().then_some(Vaes { zmm: false })
    }

    /// The token for the 512-bit kernels, if this CPU has the features.
    pub(crate) fn detect512() -> Option<Self> {
        has_vaes512().then_some(Vaes { zmm: true })
    }

    /// Whether the token is for the 512-bit kernels.
    #[cfg(test)]
    pub(crate) fn zmm(self) -> bool {
        self.zmm
    }

    /// The 128-bit backend's token: its features are a subset.
    pub(crate) fn clmul(self) -> Clmul {
        Clmul(())
    }

    /// The AES-256 round keys and GHASH key powers of `key`.
    pub(crate) fn keys(self, key: &[u8; 32]) -> vaes::Keys {
        // SAFETY: `self` proves AVX2, AES-NI, PCLMULQDQ, VAES, VPCLMULQDQ and the AVX OS state.
        unsafe { vaes::Keys::new(key) }
    }

    /// `E(K, block)`.
    pub(crate) fn block(self, keys: &vaes::Keys, b: &[u8; 16]) -> [u8; 16] {
        // SAFETY: `self` proves AVX2, AES-NI, PCLMULQDQ, VAES, VPCLMULQDQ and the AVX OS state.
        unsafe { keys.block(b) }
    }

    /// GHASH of whole blocks into `y` (`LEGACY`: the kernel before the GHASH-only loop, for
    /// the benchmarks).
    pub(crate) fn ghash<const LEGACY: bool>(
        self,
        keys: &vaes::Keys,
        y: &mut [u8; 16],
        data: &[u8],
    ) {
        if self.zmm {
            // SAFETY: `self.zmm` proves AVX-512F, AVX-512BW, VAES, VPCLMULQDQ, AES-NI, PCLMULQDQ and the
            // AVX-512 OS state.
            unsafe { vaes512::ghash::<LEGACY>(keys, y, data) }
        } else {
            // SAFETY: `self` proves AVX2, AES-NI, PCLMULQDQ, VAES, VPCLMULQDQ and the AVX OS state.
            unsafe { vaes::ghash::<LEGACY>(keys, y, data) }
        }
    }

    /// CTR over whole blocks (`LEGACY`: without the prefetching, for the benchmarks).
    pub(crate) fn ctr<const LEGACY: bool>(
        self,
        keys: &vaes::Keys,
        nonce: &[u8; 12],
        ctr: &mut u32,
        input: Option<&[u8]>,
        out: &mut [u8],
    ) {
        if self.zmm {
            // SAFETY: `self.zmm` proves AVX-512F, AVX-512BW, VAES, VPCLMULQDQ, AES-NI, PCLMULQDQ and the
            // AVX-512 OS state.
            unsafe { vaes512::ctr::<LEGACY>(keys, nonce, ctr, input, out) }
        } else {
            // SAFETY: `self` proves AVX2, AES-NI, PCLMULQDQ, VAES, VPCLMULQDQ and the AVX OS state.
            unsafe { vaes::ctr::<LEGACY>(keys, nonce, ctr, input, out) }
        }
    }

    /// Stitched encryption of whole blocks (`seal`) or decryption (`!seal`) with GHASH
    /// (`LEGACY`: without the prefetching, for the benchmarks).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn crypt<const LEGACY: bool>(
        self,
        seal: bool,
        keys: &vaes::Keys,
        nonce: &[u8; 12],
        ctr: &mut u32,
        y: &mut [u8; 16],
        input: Option<&[u8]>,
        out: &mut [u8],
    ) {
        match (seal, self.zmm) {
            (true, true) => {
                // SAFETY: `self.zmm` proves AVX-512F, AVX-512BW, VAES, VPCLMULQDQ, AES-NI, PCLMULQDQ and the
                // AVX-512 OS state.
                unsafe { vaes512::seal::<LEGACY>(keys, nonce, ctr, y, input, out) }
            }
            (false, true) => {
                // SAFETY: `self.zmm` proves AVX-512F, AVX-512BW, VAES, VPCLMULQDQ, AES-NI, PCLMULQDQ and the
                // AVX-512 OS state.
                unsafe { vaes512::open::<LEGACY>(keys, nonce, ctr, y, input, out) }
            }
            (true, false) => {
                // SAFETY: `self` proves AVX2, AES-NI, PCLMULQDQ, VAES, VPCLMULQDQ and the AVX OS state.
                unsafe { vaes::seal::<LEGACY>(keys, nonce, ctr, y, input, out) }
            }
            (false, false) => {
                // SAFETY: `self` proves AVX2, AES-NI, PCLMULQDQ, VAES, VPCLMULQDQ and the AVX OS state.
                unsafe { vaes::open::<LEGACY>(keys, nonce, ctr, y, input, out) }
            }
        }
    }
}
