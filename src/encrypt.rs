//! The encryptor: V3 (default) or V2 envelopes, streaming AES-256-GCM.
//!
//! Randomness: the headline constructors draw the data key, the wrap IV and the 28-byte content
//! nonce (V3 message id, or V2 IV) from the operating system (feature `getrandom`); the
//! `*_with_rng` ones from a caller's [`rand_core::TryCryptoRng`] (no allocator, no `getrandom`);
//! the `*_deterministic` ones take the values, for known-answer tests only.

use crate::envelope::{Envelope, FormatVersion};
use crate::error::{Error, Result};
use crate::gcm::{GCM_MAX_PLAINTEXT, Gcm};
use crate::key_commitment;
use crate::parallel::ParallelGcm;
use crate::wrap::{EncryptionMaterials, draw};
use rand_core::TryCryptoRng;
use zeroize::Zeroize;

/// Streaming encryptor. Drive it: [`Encryptor::new`] → send [`Encryptor::envelope`]'s metadata
/// (and instruction file) → [`Encryptor::encrypt`] any number of times → [`Encryptor::finish`]
/// and append the 16-byte tag after the ciphertext.
pub struct Encryptor {
    gcm: Gcm<aes::Aes256>,
    parallel: ParallelGcm,
    env: Envelope,
    declared_len: Option<u64>,
}

impl core::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Encryptor")
            .field("envelope", &self.env)
            .field("processed", &self.gcm.processed())
            .field("declared_len", &self.declared_len)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// Start encrypting, the 28-byte content nonce (V3 message id, or V2 IV) drawn from the
    /// operating system. `plaintext_len`, if known, is enforced at `finish` and, for V2, stored as
    /// `x-amz-unencrypted-content-length` (V3 never stores it).
    #[cfg(feature = "getrandom")]
    pub fn new(materials: EncryptionMaterials, plaintext_len: Option<u64>) -> Result<Self> {
        Self::with_rng(materials, &mut getrandom::SysRng, plaintext_len)
    }

    /// [`Encryptor::new`] with the nonce drawn from `rng` (no allocator, no `getrandom`).
    pub fn with_rng<R: TryCryptoRng + ?Sized>(
        materials: EncryptionMaterials,
        rng: &mut R,
        plaintext_len: Option<u64>,
    ) -> Result<Self> {
        let mut random = draw::<R, 28>(rng)?;
        let r = Self::new_deterministic(materials, &random, plaintext_len);
        random.zeroize();
        r
    }

    /// [`Encryptor::new`] with a given 28-byte nonce (the V3 message id, or its first 12 bytes
    /// the V2 IV; all-zero is refused): for known-answer tests. Reusing a value with the same
    /// data key breaks confidentiality and integrity.
    pub fn new_deterministic(
        materials: EncryptionMaterials,
        random: &[u8; 28],
        plaintext_len: Option<u64>,
    ) -> Result<Self> {
        if random.iter().all(|&b| b == 0) {
            return Err(Error::InvalidKey);
        }
        if plaintext_len.is_some_and(|l| l > GCM_MAX_PLAINTEXT) {
            return Err(Error::MessageTooLong);
        }
        let (data_key, mut env) = materials.into_parts();
        let dk = data_key.as_256().map_err(|_| Error::InvalidKey)?;
        let (gcm, parallel) = match env.version() {
            FormatVersion::V3 => {
                let (mut dek, ck) = key_commitment::derive_v3(dk, random);
                env.set_v3_nonce(random, &ck)?;
                let g = Gcm::new_256(&dek, &[1u8; 12], &[0x00, 0x73]);
                let p = ParallelGcm::new(&dek, &[1u8; 12], &[0x00, 0x73]);
                dek.zeroize();
                (g, p)
            }
            _ => {
                let mut iv = [0u8; 12];
                iv.copy_from_slice(&random[..12]);
                env.set_v2_iv(random, plaintext_len)?;
                (Gcm::new_256(dk, &iv, &[]), ParallelGcm::new(dk, &iv, &[]))
            }
        };
        Ok(Encryptor {
            gcm,
            parallel,
            env,
            declared_len: plaintext_len,
        })
    }

    /// The envelope to store: its [`Envelope::metadata`] goes on PutObject /
    /// CreateMultipartUpload, and with instruction-file placement
    /// [`Envelope::write_instruction_file`] is the instruction file's body.
    pub fn envelope(&self) -> &Envelope {
        &self.env
    }

    fn check(&self, n: usize) -> Result<()> {
        let total = self
            .gcm
            .processed()
            .checked_add(n as u64)
            .ok_or(Error::MessageTooLong)?;
        if let Some(d) = self.declared_len
            && total > d
        {
            return Err(Error::LengthMismatch);
        }
        if total > GCM_MAX_PLAINTEXT {
            return Err(Error::MessageTooLong);
        }
        Ok(())
    }

    /// Encrypt `input` into `output[..input.len()]`, returning `input.len()`.
    pub fn encrypt(&mut self, input: &[u8], output: &mut [u8]) -> Result<usize> {
        if output.len() < input.len() {
            return Err(Error::BufferTooSmall {
                required: input.len(),
            });
        }
        self.check(input.len())?;
        self.gcm.encrypt_b2b(input, &mut output[..input.len()])?;
        Ok(input.len())
    }

    /// Encrypt in place.
    pub fn encrypt_in_place(&mut self, buf: &mut [u8]) -> Result<()> {
        self.check(buf.len())?;
        self.gcm.encrypt_in_place(buf)
    }

    /// Switch to segment-wise (parallel) encryption of the same stream: encrypt segments with
    /// [`ParallelGcm::encrypt_segment`] on any threads, then combine their partial values
    /// with [`ParallelGcm::tag`]. The output is byte-identical to sequential encryption.
    /// Only before any data was encrypted.
    pub fn into_parallel(self) -> Result<ParallelGcm> {
        if self.gcm.processed() != 0 {
            return Err(Error::ApiMisuse(
                "Encryptor::into_parallel: after data was encrypted",
            ));
        }
        Ok(self.parallel.clone())
    }

    /// Plaintext bytes encrypted so far.
    pub fn processed(&self) -> u64 {
        self.gcm.processed()
    }

    /// Finish: the 16-byte tag to append after the last ciphertext byte (in multipart uploads,
    /// at the end of the last part). A declared length that was not reached is
    /// [`Error::LengthMismatch`].
    #[must_use = "the tag must be appended to the ciphertext"]
    pub fn finish(self) -> Result<[u8; 16]> {
        if let Some(d) = self.declared_len
            && self.gcm.processed() != d
        {
            return Err(Error::LengthMismatch);
        }
        Ok(self.gcm.tag())
    }
}
