//! The envelope: everything S3EC stores beside the body. One type, [`Envelope`], with private
//! fields; [`keys`] names every key once and holds [`keys::FIELDS`], the one table deciding
//! what goes to the object metadata and what to the instruction file; `parse.rs` reads an
//! envelope, `render.rs` writes one, in the fixed storage of `encoding::arena`.
//!
//! The envelope is a leaf of the crate: it knows the format, not the keys or the ciphers. The
//! key wraps (`wrap`) answer [`Envelope::key_request`] and unwrap its data key, content
//! encryption (`encrypt`) builds a new one and re-wraps it ([`Envelope::rewrapped`]), and
//! decryption (`decrypt`) binds a data key to it ([`Envelope::decryptor`]).

use crate::encoding::arena::{Arena, Span};
use crate::error::{Error, Result};
use crate::key_commitment::{self, COMMIT_LEN};
use crate::policy::{CommitmentPolicy, DecryptPolicy, EncryptConfig, WriteSuite};
use crate::secret::DataKey;
use crate::suite::CekName;

pub use crate::encoding::arena::ARENA_CAPACITY;
pub use crate::suite::{ContentAlgorithm, FormatVersion, Placement, WrapAlgorithm};

pub mod keys;
mod parse;
mod render;

/// An encryption context or materials description supplied by the caller: `(key, value)`
/// pairs.
pub type EncryptionContext<'a> = &'a [(&'a str, &'a str)];

/// A parsed (or newly built) S3EC envelope: everything but the body.
///
/// It owns its decoded values in fixed storage ([`ARENA_CAPACITY`] bytes), so it needs no
/// allocator and borrows nothing from the input.
#[derive(Clone)]
pub struct Envelope {
    version: FormatVersion,
    content: ContentAlgorithm,
    cek: CekName,
    wrap: WrapAlgorithm,
    placement: Placement,
    iv: [u8; 16],
    iv_len: u8,
    message_id: [u8; COMMIT_LEN],
    commitment: [u8; COMMIT_LEN],
    edk: Span,
    /// Materials description (V1/V2 `x-amz-matdesc`, V3 `x-amz-m`); for V1/V2 KMS wraps it is
    /// the encryption context.
    matdesc: Option<Span>,
    /// V3 `x-amz-t`.
    context: Option<Span>,
    unencrypted_len: Option<u64>,
    // Rendered text, for metadata output.
    edk_b64: Span,
    iv_b64: Span,
    mid_b64: Span,
    commit_b64: Span,
    len_text: Span,
    arena: Arena,
}

impl core::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Envelope")
            .field("version", &self.version)
            .field("content", &self.content)
            .field("wrap", &self.wrap)
            .field("placement", &self.placement)
            .field("encrypted_data_key_len", &self.edk.len())
            .field("materials_description", &self.materials_description())
            .field("encryption_context", &self.encryption_context())
            .field("unencrypted_content_length", &self.unencrypted_len)
            .finish()
    }
}

// ---------------------------------------------------------------- construction

impl Envelope {
    /// The one constructor: an envelope with no values yet. Parsing fills it from the stored
    /// keys; writing through [`Envelope::for_write`] and the `set_*` steps below.
    fn blank(arena: Arena, version: FormatVersion, placement: Placement) -> Self {
        Envelope {
            version,
            content: ContentAlgorithm::AesGcm,
            cek: CekName::None,
            wrap: WrapAlgorithm::AesGcm,
            placement,
            iv: [0; 16],
            iv_len: 0,
            message_id: [0; COMMIT_LEN],
            commitment: [0; COMMIT_LEN],
            edk: Span::default(),
            matdesc: None,
            context: None,
            unencrypted_len: None,
            edk_b64: Span::default(),
            iv_b64: Span::default(),
            mid_b64: Span::default(),
            commit_b64: Span::default(),
            len_text: Span::default(),
            arena,
        }
    }

    /// A new envelope to write under `config` with `wrap`: then [`Envelope::set_wrapped_key`],
    /// the materials description or KMS context, and [`Envelope::set_v3_nonce`] or
    /// [`Envelope::set_v2_iv`].
    pub(crate) fn for_write(config: &EncryptConfig, wrap: WrapAlgorithm) -> Self {
        let (version, content, cek) = match config.suite() {
            WriteSuite::V2AesGcm => (FormatVersion::V2, ContentAlgorithm::AesGcm, CekName::Gcm),
            WriteSuite::V3AesGcmCommitting => (
                FormatVersion::V3,
                ContentAlgorithm::AesGcmCommitting,
                CekName::Suite115,
            ),
        };
        let mut e = Self::blank(Arena::new(), version, config.placement());
        e.content = content;
        e.cek = cek;
        e.wrap = wrap;
        e
    }

    /// Store the encrypted data key (and its base64 text).
    pub(crate) fn set_wrapped_key(&mut self, edk: &[u8]) -> Result<()> {
        self.edk = self.arena.push(edk)?;
        self.edk_b64 = crate::encoding::base64::b64_encode_into(&mut self.arena, edk)?;
        Ok(())
    }

    /// Store the materials description of an AES or RSA wrap. Keys must be unique. Java writes
    /// `{}` for V2 and omits an empty `x-amz-m` for V3.
    pub(crate) fn set_materials_description(&mut self, pairs: EncryptionContext<'_>) -> Result<()> {
        check_unique(pairs)?;
        if !(pairs.is_empty() && self.version == FormatVersion::V3) {
            self.matdesc = Some(render::render_map(&mut self.arena, pairs, None)?);
        }
        Ok(())
    }

    /// Store the KMS encryption context: the caller's pairs (unique, none reserved) plus
    /// `aws:x-amz-cek-alg` bound to this envelope's content cipher.
    pub(crate) fn set_kms_context(&mut self, pairs: EncryptionContext<'_>) -> Result<()> {
        if pairs.iter().any(|(k, _)| *k == keys::EC_CEK_ALG) {
            return Err(Error::ReservedEncryptionContextKey);
        }
        check_unique(pairs)?;
        let cek = self.cek.as_str();
        let span = render::render_map(&mut self.arena, pairs, Some((keys::EC_CEK_ALG, cek)))?;
        if self.version == FormatVersion::V3 {
            self.context = Some(span);
        } else {
            self.matdesc = Some(span);
        }
        Ok(())
    }

    /// Store the V3 content nonce: the message id and its key commitment (V3 never stores the
    /// plaintext length).
    pub(crate) fn set_v3_nonce(
        &mut self,
        message_id: &[u8; COMMIT_LEN],
        commitment: &[u8; COMMIT_LEN],
    ) -> Result<()> {
        use crate::encoding::base64::b64_encode_into;
        self.message_id = *message_id;
        self.commitment = *commitment;
        self.mid_b64 = b64_encode_into(&mut self.arena, message_id)?;
        self.commit_b64 = b64_encode_into(&mut self.arena, commitment)?;
        Ok(())
    }

    /// Store the V2 content IV (the first 12 bytes of `random`) and the declared plaintext length.
    pub(crate) fn set_v2_iv(
        &mut self,
        random: &[u8; COMMIT_LEN],
        plaintext_len: Option<u64>,
    ) -> Result<()> {
        self.iv[..12].copy_from_slice(&random[..12]);
        self.iv_len = 12;
        self.iv_b64 = crate::encoding::base64::b64_encode_into(&mut self.arena, &random[..12])?;
        if let Some(l) = plaintext_len {
            self.unencrypted_len = Some(l);
            self.len_text = render::write_u64(&mut self.arena, l)?;
        }
        Ok(())
    }

    /// This envelope with the wrapped key and wrap of `new` (made for `data_key`), in
    /// instruction-file placement: [`Envelope::rewrapped`].
    pub(crate) fn rewrapped_as(&self, data_key: &DataKey, new: &Envelope) -> Result<Envelope> {
        if new.content != self.content || new.version != self.version {
            return Err(Error::InvalidConfig);
        }
        if self.version == FormatVersion::V3 {
            let ck = key_commitment::commitment_v3(data_key.as_256()?, &self.message_id);
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
        out.matdesc = copy(&mut a, new, new.matdesc)?;
        out.context = copy(&mut a, new, new.context)?;
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

    /// The same envelope with its encrypted data key replaced by `blob`, a KMS `ReEncrypt` of the
    /// stored one (KMS→KMS re-wrap: the data key never reaches the client). Only for the
    /// `kms+context` wrap; the encryption context, message id, IV and V3 commitment are unchanged.
    /// Nothing here can check that `blob` holds the same data key: unwrap it and open the object
    /// ([`Envelope::decryptor`], which checks the V3 commitment) before relying on it.
    pub fn with_reencrypted_key(&self, blob: &[u8]) -> Result<Envelope> {
        if self.wrap != WrapAlgorithm::KmsContext {
            return Err(Error::UnsupportedWrap);
        }
        if blob.is_empty() {
            return Err(Error::InvalidKey);
        }
        let mut out = self.clone();
        out.set_wrapped_key(blob)?;
        Ok(out)
    }

    /// Whether two envelopes store exactly the same entries (compared in object-metadata
    /// placement: every key, whichever object it lives in).
    pub fn same_entries(&self, other: &Envelope) -> bool {
        let a = self.clone().with_placement(Placement::ObjectMetadata);
        let b = other.clone().with_placement(Placement::ObjectMetadata);
        a.version == b.version && a.metadata().eq(b.metadata())
    }

    /// The same envelope with another placement (for writing, or re-encrypting an instruction file).
    pub fn with_placement(mut self, placement: Placement) -> Self {
        self.placement = placement;
        self
    }
}

fn check_unique(pairs: EncryptionContext<'_>) -> Result<()> {
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(Error::InvalidConfig);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- policy, key, decryptor

impl Envelope {
    /// Apply the policy's gates: the commitment policy, legacy wrapping algorithms and legacy
    /// unauthenticated modes. [`Envelope::parse`] calls this.
    pub fn check_policy(&self, policy: &DecryptPolicy) -> Result<()> {
        if policy.commitment_policy == CommitmentPolicy::RequireEncryptRequireDecrypt
            && !self.content.is_committing()
        {
            return Err(Error::PolicyRejected);
        }
        if self.wrap.is_legacy() && !policy.legacy_wrapping_algorithms {
            return Err(Error::LegacyModeDisabled);
        }
        if self.content == ContentAlgorithm::AesCbc && !policy.legacy_unauthenticated_modes {
            return Err(Error::LegacyModeDisabled);
        }
        Ok(())
    }

    /// The format version.
    pub fn version(&self) -> FormatVersion {
        self.version
    }
    /// The content algorithm.
    pub fn content_algorithm(&self) -> ContentAlgorithm {
        self.content
    }
    /// The key-wrapping algorithm.
    pub fn wrap_algorithm(&self) -> WrapAlgorithm {
        self.wrap
    }
    /// Where the key material was (or will be) stored.
    pub fn placement(&self) -> Placement {
        self.placement
    }
    /// The encrypted data key.
    pub fn encrypted_data_key(&self) -> &[u8] {
        self.arena.get(self.edk)
    }
    /// The materials description JSON for AES/RSA wraps (`x-amz-matdesc`, `x-amz-m`), `None` for
    /// KMS wraps.
    pub fn materials_description(&self) -> Option<&str> {
        if self.wrap.is_kms() {
            return None;
        }
        Some(self.matdesc.map(|s| self.arena.str(s)).unwrap_or("{}"))
    }
    /// The stored KMS encryption context JSON (`x-amz-matdesc` for V2 `kms`/`kms+context`,
    /// `x-amz-t` for V3), `None` for non-KMS wraps.
    pub fn encryption_context(&self) -> Option<&str> {
        if !self.wrap.is_kms() {
            return None;
        }
        let s = if self.version == FormatVersion::V3 {
            self.context
        } else {
            self.matdesc
        };
        Some(s.map(|s| self.arena.str(s)).unwrap_or("{}"))
    }
    /// The declared plaintext length (`x-amz-unencrypted-content-length`), if any.
    pub fn unencrypted_content_length(&self) -> Option<u64> {
        self.unencrypted_len
    }
    /// The V3 message id.
    pub fn message_id(&self) -> Option<&[u8; COMMIT_LEN]> {
        (self.version == FormatVersion::V3).then_some(&self.message_id)
    }
    /// The V3 key commitment.
    pub fn key_commitment(&self) -> Option<&[u8; COMMIT_LEN]> {
        (self.version == FormatVersion::V3).then_some(&self.commitment)
    }
    /// The content IV (V1/V2).
    pub fn iv(&self) -> Option<&[u8]> {
        (self.version != FormatVersion::V3).then(|| &self.iv[..self.iv_len as usize])
    }
    /// The content-cipher identifier that wraps bind to (`AES/GCM/NoPadding`, `115`, …).
    pub fn content_cipher_id(&self) -> &'static str {
        self.cek.as_str()
    }
    /// Plaintext length for a stored body of `body_len` bytes, when it can be derived without
    /// decrypting (GCM formats; CBC only from the declared length).
    pub fn plaintext_len(&self, body_len: u64) -> Option<u64> {
        match self.content {
            ContentAlgorithm::AesCbc => self.unencrypted_len,
            _ => body_len.checked_sub(16),
        }
    }
}

impl Placement {
    /// The instruction-file object key for `object_key` with the default suffix
    /// ([`keys::INSTRUCTION_SUFFIX`]).
    #[cfg(feature = "alloc")]
    pub fn instruction_file_key(object_key: &str) -> alloc::string::String {
        alloc::format!("{object_key}{}", keys::INSTRUCTION_SUFFIX)
    }
}
