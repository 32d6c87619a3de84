//! Key wraps: one file per wrap, each unwrapping (and, for the wraps this crate writes, wrapping)
//! inside the core, plus the request types for KMS, which the caller performs, and the
//! [`Keyring`] extension point.
//!
//! | file | wrap | writes |
//! |---|---|---|
//! | `aes_gcm.rs` | `AES/GCM` (V3 `02`) | yes |
//! | `aes_ecb.rs` | legacy V1 `x-amz-key` under an AES key (AES-ECB/PKCS#7) | no |
//! | `aes_kw.rs` | legacy `AESWrap` (RFC 3394) | no |
//! | `rsa_oaep.rs` | `RSA-OAEP-SHA1` (V3 `22`) | yes |
//! | `rsa_legacy.rs` | legacy `RSA/ECB/OAEPWithSHA-256AndMGF1Padding`, V1 RSA PKCS#1 v1.5 | no |
//! | `kms.rs` | `kms+context` (V3 `12`) and legacy `kms`: requests, context matching | yes |
//! | `pkcs7.rs` | the PKCS#7 unpadding both CBC paths share | — |
//! | `keyring.rs` | [`Keyring`], [`AesKeyring`], [`RsaKeyring`], [`MultiKeyring`] | — |

use crate::envelope::{Envelope, FormatVersion, WrapAlgorithm};
use crate::error::{Error, Result};
use crate::secret::{AesKey, DataKey};
use aes::cipher::KeyInit;

pub use crate::envelope::EncryptionContext;

enum AnyAes {
    A128(aes::Aes128),
    A192(aes::Aes192),
    A256(aes::Aes256),
}

fn any_aes(key: &AesKey) -> Result<AnyAes> {
    let k = key.as_bytes();
    Ok(match k.len() {
        16 => AnyAes::A128(aes::Aes128::new_from_slice(k).map_err(|_| Error::InvalidKey)?),
        24 => AnyAes::A192(aes::Aes192::new_from_slice(k).map_err(|_| Error::InvalidKey)?),
        32 => AnyAes::A256(aes::Aes256::new_from_slice(k).map_err(|_| Error::InvalidKey)?),
        _ => return Err(Error::InvalidKey),
    })
}

/// Run `$body` with `$c` bound to the AES cipher of the right size for `$key`.
macro_rules! with_aes {
    ($key:expr, |$c:ident| $body:expr) => {
        match any_aes($key)? {
            AnyAes::A128($c) => $body,
            AnyAes::A192($c) => $body,
            AnyAes::A256($c) => $body,
        }
    };
}

mod aes_ecb;
mod aes_gcm;
mod aes_kw;
mod keyring;
mod kms;
mod materials;
mod pkcs7;
#[cfg(feature = "rsa")]
mod rsa_legacy;
#[cfg(feature = "rsa")]
mod rsa_oaep;

pub(crate) use aes_gcm::aes_gcm_wrap;
#[cfg(feature = "rsa")]
pub use keyring::RsaKeyring;
#[cfg(feature = "getrandom")]
pub use keyring::os_random;
pub use keyring::{AesKeyring, FillRandom, Keyring, MultiKeyring, RngFromFill};
pub use kms::{JsonString, KmsDecryptRequest, KmsGenerateDataKeyRequest};
pub use materials::EncryptionMaterials;
pub(crate) use materials::draw;
pub(crate) use pkcs7::unpad_pkcs7;
#[cfg(feature = "rsa")]
pub(crate) use rsa_oaep::rsa_oaep_wrap;

/// The wraps' cipher steps, for `crate::internals` (Wycheproof and fuzzing).
#[cfg(any(fuzzing, feature = "hazmat-internals"))]
pub(crate) mod steps {
    pub(crate) use super::aes_gcm::open as aes_gcm_open;
    pub(crate) use super::aes_kw::aes_kw_unwrap;
    #[cfg(feature = "rsa")]
    pub(crate) use super::rsa_legacy::{decrypt_oaep_sha256, decrypt_pkcs1v15};
    #[cfg(feature = "rsa")]
    pub(crate) use super::rsa_oaep::decrypt as decrypt_oaep_sha1;
}

/// Which kind of key the caller must supply to unwrap this envelope's data key.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyRequest<'e> {
    /// Call KMS `Decrypt` with this request, then pass the plaintext to
    /// [`Envelope::decryptor`].
    Kms(KmsDecryptRequest<'e>),
    /// Unwrap locally with an AES master key: [`Envelope::unwrap_aes`].
    Aes {
        /// The wrap in use.
        wrap: WrapAlgorithm,
    },
    /// Unwrap locally with an RSA private key: `Envelope::unwrap_rsa` (feature `rsa`).
    Rsa {
        /// The wrap in use.
        wrap: WrapAlgorithm,
    },
    /// A V1 `x-amz-key`: AES-ECB under an AES master key, or RSA PKCS#1 v1.5 under an RSA key;
    /// the format does not say which. Use the key you hold.
    AesOrRsa,
}

/// [`Envelope::key_request`].
pub(crate) fn key_request<'e>(
    env: &'e Envelope,
    caller_context: Option<EncryptionContext<'_>>,
) -> Result<KeyRequest<'e>> {
    let wrap = env.wrap_algorithm();
    Ok(match wrap {
        WrapAlgorithm::Kms | WrapAlgorithm::KmsContext => {
            KeyRequest::Kms(kms::decrypt_request(env, caller_context)?)
        }
        WrapAlgorithm::AesGcm | WrapAlgorithm::AesWrap => KeyRequest::Aes { wrap },
        WrapAlgorithm::RsaOaepSha1 | WrapAlgorithm::RsaOaepSha256 => KeyRequest::Rsa { wrap },
        WrapAlgorithm::V1Legacy => KeyRequest::AesOrRsa,
    })
}

/// [`Envelope::unwrap_aes`].
pub(crate) fn unwrap_aes(env: &Envelope, master: &AesKey) -> Result<crate::DataKey> {
    let edk = env.encrypted_data_key();
    match env.wrap_algorithm() {
        WrapAlgorithm::AesGcm => {
            // The wrap binds the content cipher named on the object (Java v3 uses the constant
            // "AES/GCM/NoPadding": the same bytes for every GCM object). A relabelled
            // `x-amz-cek-alg` therefore fails to unwrap.
            let aad = if env.version() == FormatVersion::V3 {
                crate::suite::CekName::Suite115.as_str()
            } else {
                env.content_cipher_id()
            };
            aes_gcm::aes_gcm_unwrap(master, aad.as_bytes(), edk)
        }
        WrapAlgorithm::AesWrap => aes_kw::aes_kw_unwrap(master, edk),
        WrapAlgorithm::V1Legacy => aes_ecb::aes_ecb_unwrap(master, edk),
        _ => Err(Error::UnsupportedWrap),
    }
}

/// [`Envelope::unwrap_rsa`].
#[cfg(feature = "rsa")]
pub(crate) fn unwrap_rsa<R: rand_core::TryCryptoRng + ?Sized>(
    env: &Envelope,
    key: &rsa::PrivateKey,
    rng: &mut R,
) -> Result<crate::DataKey> {
    let edk = env.encrypted_data_key();
    match env.wrap_algorithm() {
        WrapAlgorithm::RsaOaepSha1 => {
            rsa_oaep::unwrap(key, rng, edk, env.content_cipher_id().as_bytes())
        }
        WrapAlgorithm::RsaOaepSha256 => rsa_legacy::unwrap_oaep_sha256(key, rng, edk),
        WrapAlgorithm::V1Legacy => rsa_legacy::unwrap_pkcs1v15(key, rng, edk),
        _ => Err(Error::UnsupportedWrap),
    }
}

/// The envelope's key requests and local unwraps: what it takes to recover an object's data key.
impl Envelope {
    /// What key the caller must supply. For KMS wraps the caller's encryption context (what the
    /// writer's caller passed; empty if none) is checked against the stored one first, and the
    /// stored binding to the content cipher (`aws:x-amz-cek-alg`) is verified.
    pub fn key_request<'e>(
        &'e self,
        caller_context: EncryptionContext<'_>,
    ) -> Result<KeyRequest<'e>> {
        key_request(self, Some(caller_context))
    }

    /// [`Envelope::key_request`] for a caller that expects no particular encryption context
    /// (KMS discovery): the stored context is sent to KMS as it is (the binding of the content
    /// cipher, `aws:x-amz-cek-alg`, is still verified).
    pub fn key_request_accepting_stored_context(&self) -> Result<KeyRequest<'_>> {
        key_request(self, None)
    }

    /// Unwrap the data key with an AES master key (`AES/GCM`, legacy `AESWrap`, legacy V1 AES-ECB).
    /// Every failure is [`Error::Authentication`]; a wrap that does not take an AES key is
    /// [`Error::UnsupportedWrap`].
    pub fn unwrap_aes(&self, master: &AesKey) -> Result<DataKey> {
        unwrap_aes(self, master)
    }

    /// Unwrap the data key with an RSA private key (`RSA-OAEP-SHA1`, legacy
    /// `RSA/ECB/OAEPWithSHA-256AndMGF1Padding`, legacy V1 PKCS#1 v1.5). `rng` blinds the
    /// private-key operation. Every failure is [`Error::Authentication`].
    #[cfg(feature = "rsa")]
    pub fn unwrap_rsa<R: rand_core::TryCryptoRng + ?Sized>(
        &self,
        key: &rsa::PrivateKey,
        rng: &mut R,
    ) -> Result<DataKey> {
        unwrap_rsa(self, key, rng)
    }

    /// [`Envelope::unwrap_rsa`] with the operating system's RNG for blinding.
    #[cfg(all(feature = "rsa", feature = "getrandom"))]
    pub fn unwrap_rsa_os_rng(&self, key: &rsa::PrivateKey) -> Result<DataKey> {
        self.unwrap_rsa(key, &mut getrandom::SysRng)
    }
}
