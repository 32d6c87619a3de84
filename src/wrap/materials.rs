//! Encryption materials: a fresh data key and the envelope that stores it wrapped, made for one
//! write (AES-GCM or RSA-OAEP here, KMS through [`crate::KmsGenerateDataKeyRequest`], any
//! [`crate::Keyring`]); and the re-wrap of an existing object's data key for rotation.

use crate::envelope::{Envelope, WrapAlgorithm};
use crate::error::{Error, Result};
use crate::policy::EncryptConfig;
use crate::secret::{AesKey, DataKey};
use crate::wrap::{self, EncryptionContext};
use rand_core::TryCryptoRng;
use zeroize::Zeroize;

/// A data key wrapped for storage, ready to start an [`Encryptor`](crate::Encryptor).
#[derive(Debug)]
pub struct EncryptionMaterials {
    data_key: DataKey,
    env: Envelope,
}

/// Fill `buf` from `rng`; an all-zero draw is refused (a broken RNG, not chance).
pub(crate) fn draw<R: TryCryptoRng + ?Sized, const N: usize>(rng: &mut R) -> Result<[u8; N]> {
    let mut b = [0u8; N];
    rng.try_fill_bytes(&mut b).map_err(|_| Error::Rng)?;
    if b.iter().all(|&x| x == 0) {
        return Err(Error::Rng);
    }
    Ok(b)
}

impl EncryptionMaterials {
    pub(crate) fn from_parts(data_key: DataKey, env: Envelope) -> Self {
        EncryptionMaterials { data_key, env }
    }

    pub(crate) fn into_parts(self) -> (DataKey, Envelope) {
        (self.data_key, self.env)
    }

    /// A fresh data key wrapped with an AES master key (`AES/GCM`; V3 code `02`), the data key
    /// and the wrap IV drawn from the operating system. `materials_description` is stored (as
    /// `x-amz-matdesc` or `x-amz-m`) to identify the master key.
    #[cfg(feature = "getrandom")]
    pub fn aes_gcm(
        config: &EncryptConfig,
        master: &AesKey,
        materials_description: EncryptionContext<'_>,
    ) -> Result<Self> {
        Self::aes_gcm_with_rng(
            config,
            master,
            &mut getrandom::SysRng,
            materials_description,
        )
    }

    /// [`EncryptionMaterials::aes_gcm`] with the data key and wrap IV drawn from `rng`.
    pub fn aes_gcm_with_rng<R: TryCryptoRng + ?Sized>(
        config: &EncryptConfig,
        master: &AesKey,
        rng: &mut R,
        materials_description: EncryptionContext<'_>,
    ) -> Result<Self> {
        let mut dk = draw::<R, 32>(rng)?;
        let data_key = DataKey::new_256(dk);
        dk.zeroize();
        Self::aes_gcm_wrapping(config, master, data_key, rng, materials_description)
    }

    /// Wrap a given data key with an AES master key, the wrap IV drawn from `rng`: for
    /// re-wrapping an object's data key ([`Envelope::rewrapped`]).
    pub fn aes_gcm_wrapping<R: TryCryptoRng + ?Sized>(
        config: &EncryptConfig,
        master: &AesKey,
        data_key: DataKey,
        rng: &mut R,
        materials_description: EncryptionContext<'_>,
    ) -> Result<Self> {
        let iv = draw::<R, 12>(rng)?;
        Self::aes_gcm_deterministic(config, master, data_key, &iv, materials_description)
    }

    /// [`EncryptionMaterials::aes_gcm`] with a given data key and wrap IV: for known-answer
    /// tests. Reusing a wrap IV under one master key breaks the wrap's confidentiality and
    /// integrity.
    pub fn aes_gcm_deterministic(
        config: &EncryptConfig,
        master: &AesKey,
        data_key: DataKey,
        wrap_iv: &[u8; 12],
        materials_description: EncryptionContext<'_>,
    ) -> Result<Self> {
        if data_key.len() != 32 {
            return Err(Error::InvalidKey);
        }
        let mut env = Envelope::for_write(config, WrapAlgorithm::AesGcm);
        let mut edk = [0u8; 60];
        let aad = env.content_cipher_id().as_bytes();
        wrap::aes_gcm_wrap(master, wrap_iv, aad, &data_key, &mut edk)?;
        env.set_wrapped_key(&edk)?;
        env.set_materials_description(materials_description)?;
        Ok(EncryptionMaterials { data_key, env })
    }

    /// Wrap `data_key` with an RSA public key (`RSA-OAEP-SHA1`; V3 code `22`): OAEP-SHA-1 of
    /// `len ‖ key ‖ content-cipher id`, the OAEP seed from `rng`.
    #[cfg(feature = "rsa")]
    pub fn rsa_oaep<R: TryCryptoRng + ?Sized>(
        config: &EncryptConfig,
        key: &rsa::PublicKey,
        data_key: DataKey,
        rng: &mut R,
        materials_description: EncryptionContext<'_>,
    ) -> Result<Self> {
        if data_key.len() != 32 {
            return Err(Error::InvalidKey);
        }
        let mut env = Envelope::for_write(config, WrapAlgorithm::RsaOaepSha1);
        let edk = wrap::rsa_oaep_wrap(key, &data_key, env.content_cipher_id(), rng)?;
        env.set_wrapped_key(&edk)?;
        env.set_materials_description(materials_description)?;
        Ok(EncryptionMaterials { data_key, env })
    }

    /// Materials for `data_key` wrapped outside this crate: by an HSM, a Vault transit key, a
    /// keyring program or any other key store that holds the master key. `encrypted_data_key`
    /// is what the store returned for `wrap`, bound to `config`'s content cipher as the wrap
    /// requires ([`EncryptConfig::content_cipher_id`]):
    /// - `AES/GCM` (V3 `02`): `iv(12) ‖ AES-GCM(master, iv, aad = content cipher id, data key)`
    ///   with its 16-byte tag: 60 bytes;
    /// - `RSA-OAEP-SHA1` (V3 `22`): RSA-OAEP (SHA-1, MGF1-SHA-1, empty label) of
    ///   `len(data key) as one byte ‖ data key ‖ content cipher id`.
    ///
    /// `materials_description` is stored beside it. Only these two wraps are accepted here
    /// (KMS goes through [`EncryptionMaterials::kms`]; legacy wraps are never written):
    /// anything else is [`Error::UnsupportedWrap`]. A data key that is not 256 bits, an empty
    /// blob or an `AES/GCM` blob of another length is [`Error::InvalidKey`]. Nothing here can
    /// check that the blob holds `data_key`: read it back through the store (unwrap, then open
    /// the object) before relying on it, as the rotation machine does.
    pub fn externally_wrapped(
        config: &EncryptConfig,
        data_key: DataKey,
        wrap: WrapAlgorithm,
        encrypted_data_key: &[u8],
        materials_description: EncryptionContext<'_>,
    ) -> Result<Self> {
        if data_key.len() != 32 || encrypted_data_key.is_empty() {
            return Err(Error::InvalidKey);
        }
        match wrap {
            WrapAlgorithm::AesGcm if encrypted_data_key.len() != 60 => {
                return Err(Error::InvalidKey);
            }
            WrapAlgorithm::AesGcm | WrapAlgorithm::RsaOaepSha1 => {}
            _ => return Err(Error::UnsupportedWrap),
        }
        let mut env = Envelope::for_write(config, wrap);
        env.set_wrapped_key(encrypted_data_key)?;
        env.set_materials_description(materials_description)?;
        Ok(EncryptionMaterials { data_key, env })
    }

    /// The envelope so far (no content IV or message id yet).
    pub fn envelope(&self) -> &Envelope {
        &self.env
    }

    /// The data key these materials wrap.
    pub fn data_key(&self) -> &DataKey {
        &self.data_key
    }
}

/// Key rotation without touching the object starts from its envelope and new materials.
impl Envelope {
    /// Re-wrap this object's data key under new key material (key rotation without touching the
    /// object): `materials` must wrap the same data key (unwrapped from this envelope) for the same
    /// suite. For V3 the data key is checked against the stored key commitment, so the result still
    /// verifies. The result has instruction-file placement; store
    /// [`Envelope::write_instruction_file`] as the new instruction file.
    pub fn rewrapped(&self, materials: EncryptionMaterials) -> Result<Envelope> {
        let (data_key, new) = materials.into_parts();
        self.rewrapped_as(&data_key, &new)
    }
}
