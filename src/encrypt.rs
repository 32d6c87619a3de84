//! The encryptor: V3 (default) or V2 envelopes, streaming AES-256-GCM.

use crate::commit;
use crate::error::{Error, Result};
use crate::format::{
    CekName, ContentAlgorithm, Envelope, FormatVersion, Placement, WrapAlgorithm, keys,
};
use crate::gcm::{GCM_MAX_PLAINTEXT, Gcm};
use crate::keys::{AesKey, DataKey};
use crate::keywrap::{self, EncryptionContext};
use crate::policy::{EncryptConfig, WriteSuite};
use crate::text::{self, Arena, Sink, Span};
use zeroize::Zeroize;

/// A data key wrapped for storage, ready to start an [`Encryptor`].
#[derive(Debug)]
pub struct EncryptionMaterials {
    data_key: DataKey,
    env: Envelope,
}

fn render_map(
    a: &mut Arena,
    pairs: EncryptionContext<'_>,
    extra: Option<(&str, &str)>,
) -> Result<Span> {
    let f = |s: &mut Sink<'_>| {
        s.put(b"{");
        let mut first = true;
        for (k, v) in pairs.iter().copied().chain(extra) {
            if !first {
                s.put(b",");
            }
            first = false;
            s.json_str(k);
            s.put(b":");
            s.json_str(v);
        }
        s.put(b"}");
    };
    let mut c = Sink::counter();
    f(&mut c);
    if c.len > a.free() {
        return Err(Error::TooLarge);
    }
    a.fill(c.len, |dst| {
        let mut s = Sink::slice(dst);
        f(&mut s);
        Ok(s.len)
    })
}

fn check_unique(pairs: EncryptionContext<'_>) -> Result<()> {
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(Error::InvalidConfig);
        }
    }
    Ok(())
}

fn new_env(config: &EncryptConfig, wrap: WrapAlgorithm) -> Envelope {
    let (version, content, cek) = match config.suite() {
        WriteSuite::V2AesGcm => (FormatVersion::V2, ContentAlgorithm::AesGcm, CekName::Gcm),
        WriteSuite::V3AesGcmCommitting => (
            FormatVersion::V3,
            ContentAlgorithm::AesGcmCommitting,
            CekName::Suite115,
        ),
    };
    Envelope {
        version,
        content,
        cek,
        wrap,
        placement: config.placement(),
        iv: [0; 16],
        iv_len: 0,
        message_id: [0; 28],
        commitment: [0; 28],
        edk: Span::default(),
        matdesc: None,
        context: None,
        unencrypted_len: None,
        edk_b64: Span::default(),
        iv_b64: Span::default(),
        mid_b64: Span::default(),
        commit_b64: Span::default(),
        len_text: Span::default(),
        arena: Arena::new(),
    }
}

impl EncryptionMaterials {
    fn finish_edk(
        mut env: Envelope,
        edk: &[u8],
        matdesc: EncryptionContext<'_>,
    ) -> Result<Envelope> {
        env.edk = env.arena.push(edk)?;
        env.edk_b64 = text::b64_encode_into(&mut env.arena, edk)?;
        check_unique(matdesc)?;
        // Java writes `{}` for V2 and omits an empty `x-amz-m` for V3.
        if !(matdesc.is_empty() && env.version == FormatVersion::V3) {
            env.matdesc = Some(render_map(&mut env.arena, matdesc, None)?);
        }
        Ok(env)
    }

    /// Wrap `data_key` with an AES master key (`AES/GCM`; V3 code `02`), binding the content
    /// cipher as AAD. `wrap_iv` must be fresh random bytes. `materials_description` is stored
    /// (as `x-amz-matdesc` or `x-amz-m`) to identify the master key.
    pub fn aes_gcm(
        config: &EncryptConfig,
        master: &AesKey,
        data_key: DataKey,
        wrap_iv: &[u8; 12],
        materials_description: EncryptionContext<'_>,
    ) -> Result<Self> {
        if data_key.len() != 32 {
            return Err(Error::InvalidKey);
        }
        let env = new_env(config, WrapAlgorithm::AesGcm);
        let mut edk = [0u8; 60];
        keywrap::aes_gcm_wrap(
            master,
            wrap_iv,
            env.cek.as_str().as_bytes(),
            &data_key,
            &mut edk,
        )?;
        let env = Self::finish_edk(env, &edk, materials_description)?;
        Ok(EncryptionMaterials { data_key, env })
    }

    /// [`EncryptionMaterials::aes_gcm`] with a fresh data key and IV from the operating system.
    #[cfg(feature = "getrandom")]
    pub fn aes_gcm_random(
        config: &EncryptConfig,
        master: &AesKey,
        materials_description: EncryptionContext<'_>,
    ) -> Result<Self> {
        let mut iv = [0u8; 12];
        getrandom::fill(&mut iv).map_err(|_| Error::Rng)?;
        Self::aes_gcm(
            config,
            master,
            DataKey::generate()?,
            &iv,
            materials_description,
        )
    }

    /// Wrap `data_key` with an RSA public key (`RSA-OAEP-SHA1`; V3 code `22`): OAEP-SHA-1 of
    /// `len ‖ key ‖ content-cipher id`.
    #[cfg(feature = "rsa")]
    pub fn rsa_oaep<R: rsa::rand_core::TryCryptoRng + ?Sized>(
        config: &EncryptConfig,
        key: &rsa::PublicKey,
        data_key: DataKey,
        rng: &mut R,
        materials_description: EncryptionContext<'_>,
    ) -> Result<Self> {
        if data_key.len() != 32 {
            return Err(Error::InvalidKey);
        }
        let env = new_env(config, WrapAlgorithm::RsaOaepSha1);
        let edk = keywrap::rsa_oaep_wrap(key, &data_key, env.cek.as_str(), rng)?;
        let env = Self::finish_edk(env, &edk, materials_description)?;
        Ok(EncryptionMaterials { data_key, env })
    }

    /// Start a `kms+context` wrap (V3 code `12`): the request carries the encryption context the
    /// caller must pass to KMS `GenerateDataKey` (caller context ∪ `aws:x-amz-cek-alg`). A caller
    /// context using the reserved key is [`Error::ReservedEncryptionContextKey`].
    pub fn kms(
        config: &EncryptConfig,
        caller_context: EncryptionContext<'_>,
    ) -> Result<KmsGenerateDataKeyRequest> {
        if caller_context.iter().any(|(k, _)| *k == keys::EC_CEK_ALG) {
            return Err(Error::ReservedEncryptionContextKey);
        }
        check_unique(caller_context)?;
        let mut env = new_env(config, WrapAlgorithm::KmsContext);
        let cek = env.cek.as_str();
        let span = render_map(
            &mut env.arena,
            caller_context,
            Some((keys::EC_CEK_ALG, cek)),
        )?;
        if env.version == FormatVersion::V3 {
            env.context = Some(span);
        } else {
            env.matdesc = Some(span);
        }
        Ok(KmsGenerateDataKeyRequest { env })
    }

    /// The envelope so far (no content IV or message id yet).
    pub fn envelope(&self) -> &Envelope {
        &self.env
    }
}

/// A KMS `GenerateDataKey` call for the caller to perform (`KeySpec = AES_256`).
#[derive(Debug)]
pub struct KmsGenerateDataKeyRequest {
    env: Envelope,
}

impl KmsGenerateDataKeyRequest {
    /// The key spec to request.
    pub const KEY_SPEC: &'static str = "AES_256";

    /// The encryption context as compact JSON.
    pub fn encryption_context_json(&self) -> &str {
        self.env.encryption_context().unwrap_or("{}")
    }
    /// Call `f` with each `(key, value)` of the encryption context to send.
    pub fn for_each_context_pair(&self, f: impl FnMut(&str, &str)) -> Result<()> {
        keywrap::for_each_pair(self.encryption_context_json(), f)
    }
    /// The encryption context pairs to send.
    #[cfg(feature = "alloc")]
    pub fn encryption_context(
        &self,
    ) -> alloc::vec::Vec<(alloc::string::String, alloc::string::String)> {
        let mut v = alloc::vec::Vec::new();
        text::string_map_entries(self.encryption_context_json().as_bytes(), |k, val| {
            v.push((k.chars().collect(), val.chars().collect()));
            true
        });
        v
    }
    /// Finish with KMS's answer: the `Plaintext` (32 bytes) and `CiphertextBlob`.
    pub fn into_materials(
        self,
        plaintext: DataKey,
        ciphertext_blob: &[u8],
    ) -> Result<EncryptionMaterials> {
        if plaintext.len() != 32 {
            return Err(Error::InvalidKey);
        }
        if ciphertext_blob.is_empty() {
            return Err(Error::InvalidKey);
        }
        let mut env = self.env;
        env.edk = env.arena.push(ciphertext_blob)?;
        env.edk_b64 = text::b64_encode_into(&mut env.arena, ciphertext_blob)?;
        Ok(EncryptionMaterials {
            data_key: plaintext,
            env,
        })
    }
}

/// Streaming encryptor. Drive it: [`Encryptor::new`] → send [`Encryptor::envelope`]'s metadata
/// (and instruction file) → [`Encryptor::encrypt`] any number of times → [`Encryptor::finish`]
/// and append the 16-byte tag after the ciphertext.
pub struct Encryptor {
    gcm: Gcm<aes::Aes256>,
    parallel: crate::parallel::ParallelGcm,
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

fn write_u64(a: &mut Arena, mut v: u64) -> Result<Span> {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    a.push(&buf[i..])
}

impl Encryptor {
    /// Start encrypting. `random` must be 28 fresh random bytes: the V3 message id, or (first 12)
    /// the V2 IV; all-zero is rejected. `plaintext_len`, if known, is enforced at `finish` and, for
    /// V2, stored as `x-amz-unencrypted-content-length` (V3 never stores it).
    pub fn new(
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
        let EncryptionMaterials { data_key, mut env } = materials;
        let dk = data_key.as_256().map_err(|_| Error::InvalidKey)?;
        let gcm = match env.version {
            FormatVersion::V3 => {
                let (mut dek, ck) = commit::derive_v3(dk, random);
                env.message_id = *random;
                env.commitment = ck;
                env.mid_b64 = text::b64_encode_into(&mut env.arena, random)?;
                env.commit_b64 = text::b64_encode_into(&mut env.arena, &ck)?;
                let g = Gcm::new_256(&dek, &[1u8; 12], &[0x00, 0x73]);
                let p = crate::parallel::ParallelGcm::new(&dek, &[1u8; 12], &[0x00, 0x73]);
                dek.zeroize();
                (g, p)
            }
            _ => {
                let mut iv = [0u8; 12];
                iv.copy_from_slice(&random[..12]);
                env.iv[..12].copy_from_slice(&iv);
                env.iv_len = 12;
                env.iv_b64 = text::b64_encode_into(&mut env.arena, &iv)?;
                if let Some(l) = plaintext_len {
                    env.unencrypted_len = Some(l);
                    env.len_text = write_u64(&mut env.arena, l)?;
                }
                (
                    Gcm::new_256(dk, &iv, &[]),
                    crate::parallel::ParallelGcm::new(dk, &iv, &[]),
                )
            }
        };
        let (gcm, parallel) = gcm;
        Ok(Encryptor {
            gcm,
            parallel,
            env,
            declared_len: plaintext_len,
        })
    }

    /// [`Encryptor::new`] with the random bytes from the operating system.
    #[cfg(feature = "getrandom")]
    pub fn new_random(materials: EncryptionMaterials, plaintext_len: Option<u64>) -> Result<Self> {
        let mut r = [0u8; 28];
        getrandom::fill(&mut r).map_err(|_| Error::Rng)?;
        Self::new(materials, &r, plaintext_len)
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
    /// [`crate::ParallelGcm::encrypt_segment`] on any threads, then combine their partial values
    /// with [`crate::ParallelGcm::tag`]. The output is byte-identical to sequential encryption.
    /// Only before any data was encrypted.
    pub fn into_parallel(self) -> Result<crate::parallel::ParallelGcm> {
        if self.gcm.processed() != 0 {
            return Err(Error::InvalidState);
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

/// Encrypted body length for a plaintext of `plaintext_len` bytes (V2 and V3: plus the tag).
pub const fn ciphertext_len(plaintext_len: u64) -> u64 {
    plaintext_len + 16
}

/// One part of a multipart upload plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// S3 part number, from 1.
    pub number: u32,
    /// Offset of the part's plaintext in the object.
    pub plaintext_offset: u64,
    /// Plaintext bytes in this part.
    pub plaintext_len: u64,
    /// Bytes uploaded for this part (the last part carries the 16-byte tag).
    pub upload_len: u64,
}

/// A multipart upload plan: non-final parts are multiples of 16 bytes and at least 5 MiB, at most
/// 10,000 parts, each at most 5 GiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    plaintext_len: u64,
    part_size: u64,
    parts: u32,
}

/// S3's minimum size of a non-final part.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's maximum part size.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's maximum number of parts.
pub const MAX_PARTS: u64 = 10_000;

impl PartPlan {
    /// Plan parts of about `preferred` bytes (rounded down to a multiple of 16, raised to 5 MiB,
    /// and grown when 10,000 parts would not hold the object).
    pub fn new(plaintext_len: u64, preferred: u64) -> Result<Self> {
        if plaintext_len > GCM_MAX_PLAINTEXT {
            return Err(Error::MessageTooLong);
        }
        let mut size = (preferred.clamp(MIN_PART_SIZE, MAX_PART_SIZE)) / 16 * 16;
        let min_for_count = plaintext_len.div_ceil(MAX_PARTS).div_ceil(16) * 16;
        if size < min_for_count {
            size = min_for_count;
        }
        if size > MAX_PART_SIZE {
            return Err(Error::TooLarge);
        }
        let parts = if plaintext_len == 0 {
            1
        } else {
            plaintext_len.div_ceil(size)
        };
        // The last part also carries the tag; S3's 5 GiB limit applies to it too.
        let last = plaintext_len - (parts - 1) * size + 16;
        if last > MAX_PART_SIZE {
            return Err(Error::TooLarge);
        }
        Ok(PartPlan {
            plaintext_len,
            part_size: size,
            parts: parts as u32,
        })
    }
    /// Number of parts.
    pub fn len(&self) -> u32 {
        self.parts
    }
    /// Always false: an empty object is one (empty, tag-only) part.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// The size of every non-final part.
    pub fn part_size(&self) -> u64 {
        self.part_size
    }
    /// The parts, in order.
    pub fn parts(&self) -> impl Iterator<Item = Part> + '_ {
        (0..self.parts).map(move |i| {
            let off = i as u64 * self.part_size;
            let len = if i + 1 == self.parts {
                self.plaintext_len - off
            } else {
                self.part_size
            };
            let upload = if i + 1 == self.parts { len + 16 } else { len };
            Part {
                number: i + 1,
                plaintext_offset: off,
                plaintext_len: len,
                upload_len: upload,
            }
        })
    }
}

impl Placement {
    /// The instruction-file object key for `object_key` with the default suffix.
    #[cfg(feature = "alloc")]
    pub fn instruction_file_key(object_key: &str) -> alloc::string::String {
        alloc::format!("{object_key}{}", keys::INSTRUCTION_SUFFIX)
    }
}

impl EncryptionMaterials {
    /// The data key these materials wrap.
    pub fn data_key(&self) -> &DataKey {
        &self.data_key
    }
}

impl Envelope {
    /// Re-wrap this object's data key under new key material (key rotation without touching the
    /// object): `materials` must wrap the same data key (unwrapped from this envelope) for the same
    /// suite. For V3 the data key is checked against the stored key commitment, so the result still
    /// verifies. The result has instruction-file placement; store
    /// [`Envelope::write_instruction_file`] as the new instruction file.
    pub fn rewrapped(&self, materials: EncryptionMaterials) -> Result<Envelope> {
        let EncryptionMaterials { data_key, env: new } = materials;
        if new.content != self.content || new.version != self.version {
            return Err(Error::InvalidConfig);
        }
        if self.version == FormatVersion::V3 {
            let ck = commit::commitment_v3(data_key.as_256()?, &self.message_id);
            if !bool::from(subtle::ConstantTimeEq::ct_eq(&ck[..], &self.commitment[..])) {
                return Err(Error::Authentication);
            }
        }
        let mut out = self.clone();
        let mut a = Arena::new();
        let copy = |a: &mut Arena, from: &Envelope, s: Option<Span>| -> Result<Option<Span>> {
            s.map(|s| a.push(from.arena.get(s))).transpose()
        };
        out.edk = a.push(new.arena.get(new.edk))?;
        out.edk_b64 = a.push(new.arena.get(new.edk_b64))?;
        out.matdesc = copy(&mut a, &new, new.matdesc)?;
        out.context = copy(&mut a, &new, new.context)?;
        out.iv_b64 = a.push(self.arena.get(self.iv_b64))?;
        out.mid_b64 = a.push(self.arena.get(self.mid_b64))?;
        out.commit_b64 = a.push(self.arena.get(self.commit_b64))?;
        out.len_text = a.push(self.arena.get(self.len_text))?;
        out.wrap = new.wrap;
        out.cek = new.cek;
        out.arena = a;
        out.placement = Placement::InstructionFile;
        Ok(out)
    }
}
