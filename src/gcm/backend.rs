//! The GCM backends behind one interface, chosen once per key: CTR over any length, GHASH over
//! whole blocks, and the fused (on the wide backend, stitched) CTR+GHASH over whole blocks.
//!
//! - `Portable`: the `ctr` and `ghash` crates (every target);
//! - `Clmul`: CTR in batches through the block cipher's multi-block path and GHASH with 128-bit
//!   PCLMULQDQ, sixteen blocks per reduction (x86-64 with SSSE3 + PCLMULQDQ, any AES key size);
//! - `Vaes256`: the stitched 256-bit VAES + VPCLMULQDQ kernel (x86-64 with AVX2, AES-256 keys);
//! - `Vaes512`: its 512-bit form, sixteen blocks per iteration (x86-64 with AVX-512F/BW).
//!
//! On `target_os = "none"` (soft-float ABIs, which LLVM cannot combine with vector registers)
//! and off x86-64, only `Portable` exists; the `aes` and `polyval` crates still detect AES-NI /
//! ARMv8 instructions themselves.

use aes::cipher::{
    BlockCipherEncrypt, BlockSizeUser, InnerIvInit, StreamCipher, array::Array, consts::U16,
};
use ghash::{GHash, universal_hash::UniversalHash};

#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
use super::{clmul, dispatch, vaes};
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
use zeroize::Zeroize;

/// Bytes processed per CTR/GHASH step of the non-stitched backends, so that data is still in L1
/// when GHASH reads it.
const STRIDE: usize = 8 * 1024;

/// The `ctr` crate's CTR with GCM's 32-bit big-endian counter.
pub(super) type SeekCtr<C> =
    aes::cipher::StreamCipherCoreWrapper<ctr::CtrCore<C, ctr::flavors::Ctr32BE>>;

/// A GCM backend, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The `ghash` and `ctr` crates.
    Portable,
    /// 128-bit PCLMULQDQ GHASH and batched CTR (x86-64).
    Clmul,
    /// The stitched 256-bit VAES + VPCLMULQDQ kernel (x86-64 with AVX2).
    Vaes256,
    /// Its 512-bit form (x86-64 with AVX-512F and AVX-512BW).
    Vaes512,
}

impl Backend {
    /// Every backend, slowest first.
    pub const ALL: [Backend; 4] = [
        Backend::Portable,
        Backend::Clmul,
        Backend::Vaes256,
        Backend::Vaes512,
    ];
}

/// A detected backend: the name plus the proof that the CPU has its features.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cpu {
    Portable,
    #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
    Clmul(dispatch::Clmul),
    #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
    Vaes(dispatch::Vaes),
}

/// The backend that `Cpu::detect` is capped at (`hazmat-internals`: benchmarks and fuzzing force
/// each backend in turn); 0 = none.
#[cfg(any(fuzzing, feature = "hazmat-internals"))]
static FORCED: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// Force `Cpu::detect` to `backend` (or back to the best one with `None`). Returns `false`, and
/// changes nothing, when this CPU lacks it.
#[cfg(any(fuzzing, feature = "hazmat-internals"))]
pub fn force_backend(backend: Option<Backend>) -> bool {
    use core::sync::atomic::Ordering::Relaxed;
    match backend {
        None => FORCED.store(0, Relaxed),
        Some(b) => {
            if Cpu::get(b).is_none() {
                return false;
            }
            FORCED.store(b as u8 + 1, Relaxed);
        }
    }
    true
}

/// Whether the x86-64 backends run their kernels as they were before the GHASH-only loop and the
/// prefetching (`hazmat-internals`: a benchmark compares both in one binary).
#[cfg(any(fuzzing, feature = "hazmat-internals"))]
static LEGACY: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Run the x86-64 backends' kernels (`Clmul`'s GHASH, `Vaes256`, `Vaes512`) as they were before
/// the GHASH-only loop and the prefetching (`true`), or as now (`false`, the default), so that a
/// benchmark shows both in one binary.
#[cfg(any(fuzzing, feature = "hazmat-internals"))]
pub fn legacy_kernels(on: bool) {
    LEGACY.store(on, core::sync::atomic::Ordering::Relaxed);
}

/// Whether [`legacy_kernels`] is on: never without `hazmat-internals`.
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
fn legacy() -> bool {
    #[cfg(any(fuzzing, feature = "hazmat-internals"))]
    return LEGACY.load(core::sync::atomic::Ordering::Relaxed);
    #[cfg(not(any(fuzzing, feature = "hazmat-internals")))]
    false
}

impl Cpu {
    /// The fastest backend this CPU has.
    pub(crate) fn detect() -> Cpu {
        #[cfg(any(fuzzing, feature = "hazmat-internals"))]
        {
            let f = FORCED.load(core::sync::atomic::Ordering::Relaxed);
            if let Some(c) = Backend::ALL
                .get(usize::from(f).wrapping_sub(1))
                .and_then(|b| Cpu::get(*b))
            {
                return c;
            }
        }
        Backend::ALL
            .iter()
            .rev()
            .find_map(|b| Cpu::get(*b))
            .unwrap_or(Cpu::Portable)
    }

    /// `backend`, if this CPU has it.
    pub(crate) fn get(backend: Backend) -> Option<Cpu> {
        match backend {
            Backend::Portable => Some(Cpu::Portable),
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Backend::Clmul => dispatch::Clmul::detect().map(Cpu::Clmul),
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Backend::Vaes256 => dispatch::Vaes::detect().map(Cpu::Vaes),
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Backend::Vaes512 => dispatch::Vaes::detect512().map(Cpu::Vaes),
            #[cfg(not(all(target_arch = "x86_64", not(target_os = "none"))))]
            _ => None,
        }
    }

    /// Its name.
    #[cfg(test)]
    pub(crate) fn backend(self) -> Backend {
        match self {
            Cpu::Portable => Backend::Portable,
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Cpu::Clmul(_) => Backend::Clmul,
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Cpu::Vaes(t) if t.zmm() => Backend::Vaes512,
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Cpu::Vaes(_) => Backend::Vaes256,
        }
    }
}

/// An AES-256 key prepared for GCM once, with its backend: the `aes` crate's schedule, or the
/// wide kernel's own round keys and key powers. Both wipe themselves on drop.
#[derive(Clone)]
pub(crate) enum Key256 {
    Cipher(aes::Aes256, Cpu),
    #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
    Wide(dispatch::Vaes, vaes::Keys),
}

impl Key256 {
    /// `key` on the fastest backend.
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self::with_cpu(key, Cpu::detect())
    }

    /// `key` on the backend `cpu`.
    pub(crate) fn with_cpu(key: &[u8; 32], cpu: Cpu) -> Self {
        match cpu {
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Cpu::Vaes(t) => Key256::Wide(t, t.keys(key)),
            _ => Key256::Cipher(aes::cipher::KeyInit::new(&(*key).into()), cpu),
        }
    }

    /// `E(K, block)`.
    pub(crate) fn block(&self, b: &[u8; 16]) -> [u8; 16] {
        match self {
            Key256::Cipher(c, _) => {
                let mut a = Array::from(*b);
                c.encrypt_block(&mut a);
                a.into()
            }
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Key256::Wide(t, k) => t.block(k, b),
        }
    }
}

impl zeroize::Zeroize for Key256 {
    /// Replace the schedule by the one of the all-zero key (the old one wipes itself on drop).
    fn zeroize(&mut self) {
        *self = Key256::Cipher(aes::cipher::KeyInit::new(&[0u8; 32].into()), Cpu::Portable);
    }
}

/// The CTR and GHASH state of one GCM computation. Held inline: the crate does not allocate.
#[allow(clippy::large_enum_variant)]
pub(super) enum Engine<C>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    Portable {
        ctr: SeekCtr<C>,
        ghash: GHash,
    },
    #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
    Clmul {
        cpu: dispatch::Clmul,
        ctr: clmul::Ctr32<C>,
        ghash: clmul::Ghash,
    },
    #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
    Wide(Wide),
}

/// The wide backend's running state; the keystream left over and the GHASH value are wiped on
/// drop (the keys wipe themselves).
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
pub(super) struct Wide {
    cpu: dispatch::Vaes,
    keys: vaes::Keys,
    nonce: [u8; 12],
    /// Counter of the next keystream block.
    ctr: u32,
    /// Keystream of the last partial block; its first `ks_used` bytes are spent.
    ks: [u8; 16],
    ks_used: usize,
    /// The GHASH value, byte-reversed.
    y: [u8; 16],
}

#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
impl Drop for Wide {
    fn drop(&mut self) {
        self.ks.zeroize();
        self.y.zeroize();
    }
}

#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
impl Wide {
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

    fn ctr(&mut self, input: Option<&[u8]>, out: &mut [u8]) {
        let n = out.len();
        let take = (16 - self.ks_used).min(n);
        self.spend(input.map(|i| &i[..take]), &mut out[..take]);
        let whole = take + (n - take) / 16 * 16;
        if whole > take {
            let (k, n, c) = (&self.keys, &self.nonce, &mut self.ctr);
            let (i, o) = (input.map(|i| &i[take..whole]), &mut out[take..whole]);
            if legacy() {
                self.cpu.ctr::<true>(k, n, c, i, o);
            } else {
                self.cpu.ctr::<false>(k, n, c, i, o);
            }
        }
        if whole < n {
            let mut b = [0u8; 16];
            b[..12].copy_from_slice(&self.nonce);
            b[12..].copy_from_slice(&self.ctr.to_be_bytes());
            self.ks = self.cpu.block(&self.keys, &b);
            self.ctr = self.ctr.wrapping_add(1);
            self.ks_used = 0;
            self.spend(input.map(|i| &i[whole..]), &mut out[whole..]);
        }
    }
}

impl<C> Engine<C>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    /// CTR from counter block `iv`, GHASH keyed by `h`, over `cipher` (the wide backend needs
    /// the raw key: `cpu` = `Vaes` runs the 128-bit one here).
    pub(super) fn new(cipher: C, cpu: Cpu, h: &[u8; 16], iv: &[u8; 16]) -> Self {
        match cpu {
            Cpu::Portable => Engine::Portable {
                ctr: SeekCtr::<C>::from_core(ctr::CtrCore::inner_iv_init(
                    cipher,
                    &Array::from(*iv),
                )),
                ghash: GHash::new(&Array::from(*h)),
            },
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Cpu::Clmul(t) => Self::clmul(t, cipher, h, iv),
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Cpu::Vaes(t) => Self::clmul(t.clmul(), cipher, h, iv),
        }
    }

    #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
    fn clmul(cpu: dispatch::Clmul, cipher: C, h: &[u8; 16], iv: &[u8; 16]) -> Self {
        Engine::Clmul {
            cpu,
            ctr: clmul::Ctr32::new(cipher, iv),
            ghash: cpu.ghash(h),
        }
    }

    /// GHASH of whole blocks.
    pub(super) fn ghash(&mut self, data: &[u8]) {
        match self {
            Engine::Portable { ghash, .. } => {
                let (blocks, _) = Array::<u8, U16>::slice_as_chunks(data);
                ghash.update(blocks);
            }
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Engine::Clmul { cpu, ghash, .. } if legacy() => cpu.update::<true>(ghash, data),
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Engine::Clmul { cpu, ghash, .. } => cpu.update::<false>(ghash, data),
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Engine::Wide(w) if legacy() => w.cpu.ghash::<true>(&w.keys, &mut w.y, data),
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Engine::Wide(w) => w.cpu.ghash::<false>(&w.keys, &mut w.y, data),
        }
    }

    /// The GHASH value so far.
    pub(super) fn ghash_value(&self) -> [u8; 16] {
        match self {
            Engine::Portable { ghash, .. } => ghash.clone().finalize().into(),
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Engine::Clmul { ghash, .. } => ghash.finalize(),
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Engine::Wide(w) => {
                let mut y = w.y;
                y.reverse();
                y
            }
        }
    }

    /// The keystream over any length, from `input` or in place (`None`).
    pub(super) fn ctr(&mut self, input: Option<&[u8]>, out: &mut [u8]) {
        match (self, input) {
            (Engine::Portable { ctr, .. }, Some(i)) => {
                let _ = ctr.try_apply_keystream_b2b(i, out);
            }
            (Engine::Portable { ctr, .. }, None) => ctr.apply_keystream(out),
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            (Engine::Clmul { ctr, .. }, Some(i)) => {
                let _ = ctr.try_apply_keystream_b2b(i, out);
            }
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            (Engine::Clmul { ctr, .. }, None) => ctr.apply_keystream(out),
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            (Engine::Wide(w), i) => w.ctr(i, out),
        }
    }

    /// Encrypt (`seal`) or decrypt whole blocks at a block boundary, GHASHing the ciphertext.
    pub(super) fn fused(&mut self, seal: bool, input: Option<&[u8]>, out: &mut [u8]) {
        #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
        if let Engine::Wide(w) = self {
            let Wide {
                cpu,
                keys,
                nonce,
                ctr,
                y,
                ..
            } = w;
            if legacy() {
                cpu.crypt::<true>(seal, keys, nonce, ctr, y, input, out);
            } else {
                cpu.crypt::<false>(seal, keys, nonce, ctr, y, input, out);
            }
            return;
        }
        let mut at = 0;
        while at < out.len() {
            let end = (at + STRIDE).min(out.len());
            let i = input.map(|i| &i[at..end]);
            let o = &mut out[at..end];
            if seal {
                self.ctr(i, o);
                self.ghash(o);
            } else {
                self.ghash(i.unwrap_or(&*o));
                self.ctr(i, o);
            }
            at = end;
        }
    }
}

impl Engine<aes::Aes256> {
    /// The wide backend for an AES-256 key prepared by [`Key256`], else the 128-bit or portable
    /// one over its `aes` schedule.
    pub(super) fn from_key(key: &Key256, iv: &[u8; 16]) -> Self {
        match key {
            Key256::Cipher(c, cpu) => {
                let mut h = key.block(&[0; 16]);
                let e = Engine::new(c.clone(), *cpu, &h, iv);
                zeroize::Zeroize::zeroize(&mut h);
                e
            }
            #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
            Key256::Wide(t, k) => {
                let mut nonce = [0u8; 12];
                nonce.copy_from_slice(&iv[..12]);
                Engine::Wide(Wide {
                    cpu: *t,
                    keys: k.clone(),
                    nonce,
                    ctr: u32::from_be_bytes([iv[12], iv[13], iv[14], iv[15]]),
                    ks: [0; 16],
                    ks_used: 16,
                    y: [0; 16],
                })
            }
        }
    }
}
