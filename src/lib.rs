#![doc = include_str!("lib.md")]
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "alloc", test))]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod decrypt;
mod encoding;
mod encrypt;
pub mod envelope;
mod error;
mod gcm;
pub mod hazmat;
#[cfg(feature = "std")]
pub mod io;
mod key_commitment;
mod multipart;
pub mod object;
mod parallel;
pub mod policy;
pub mod range;
mod secret;
pub mod suite;
#[cfg(feature = "alloc")]
pub mod verified_range;
pub mod wrap;

pub use decrypt::{Decryptor, HostAead, ReleasePass, VerifyPass};
pub use encrypt::Encryptor;
pub use envelope::{ARENA_CAPACITY, Envelope};
pub use error::{Error, ErrorClass, Result};
pub use gcm::GCM_MAX_PLAINTEXT;
pub use key_commitment::COMMIT_LEN;
pub use multipart::{MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, Part, PartPlan, ciphertext_len};
pub use parallel::{ParallelGcm, PartialGhash, TagAccumulator};
pub use policy::{CommitmentPolicy, DecryptPolicy, EncryptConfig, WriteSuite};
pub use range::{ByteRange, RangeHeader, RangePlan};
pub use secret::{AeadKey, AesKey, DataKey};
pub use suite::{ContentAlgorithm, FormatVersion, Placement, TAG_LEN, WrapAlgorithm};
#[cfg(feature = "alloc")]
pub use verified_range::{ChunkFetch, ChunkTable, ChunkTableBuilder};
#[cfg(feature = "rsa")]
pub use wrap::RsaKeyring;
pub use wrap::{
    AesKeyring, EncryptionContext, EncryptionMaterials, JsonString, KeyRequest, Keyring,
    KmsDecryptRequest, KmsGenerateDataKeyRequest, MultiKeyring,
};

#[cfg(feature = "rsa")]
pub use rsa;

/// Incremental AES-256-GCM, exposed for differential testing and fuzzing only.
#[cfg(any(fuzzing, feature = "hazmat-internals"))]
#[doc(hidden)]
pub mod internals {
    pub use crate::gcm::{Backend, Gcm, force_backend, legacy_kernels};

    /// A [`crate::ParallelGcm`] for an arbitrary AES-256 key, nonce and AAD.
    pub fn parallel_gcm(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8]) -> crate::ParallelGcm {
        crate::ParallelGcm::new(key, nonce, aad)
    }

    /// [`crate::hazmat::UnverifiedSegments`] for an arbitrary AES-256 key, nonce and AAD.
    pub fn unverified_segments(
        key: &[u8; 32],
        nonce: &[u8; 12],
        aad: &[u8],
    ) -> crate::hazmat::UnverifiedSegments {
        crate::hazmat::UnverifiedSegments(crate::ParallelGcm::new(key, nonce, aad))
    }

    /// The `AES/GCM` key wrap's one-shot AES-GCM open of `ct ‖ tag` for an AES-128, -192 or -256
    /// `key` (any other length is [`crate::Error::InvalidKey`]): nothing is written to `out`
    /// unless the tag verifies.
    pub fn aes_gcm_open(
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        ct_tag: &[u8],
        out: &mut [u8],
    ) -> crate::Result<()> {
        crate::wrap::steps::aes_gcm_open(&crate::AesKey::from_slice(key)?, nonce, aad, ct_tag, out)
    }

    /// The legacy `AESWrap` unwrap (RFC 3394) under an AES-128, -192 or -256 `key`.
    pub fn aes_kw_unwrap(key: &[u8], wrapped: &[u8]) -> crate::Result<crate::DataKey> {
        crate::wrap::steps::aes_kw_unwrap(&crate::AesKey::from_slice(key)?, wrapped)
    }

    /// The padding step of the `RSA-OAEP-SHA1` unwrap: OAEP with SHA-1, MGF1-SHA-1, empty label.
    #[cfg(feature = "rsa")]
    pub fn rsa_oaep_sha1_decrypt<R: rand_core::TryCryptoRng + ?Sized>(
        key: &rsa::PrivateKey,
        rng: &mut R,
        ct: &[u8],
    ) -> crate::Result<zeroize::Zeroizing<alloc::vec::Vec<u8>>> {
        crate::wrap::steps::decrypt_oaep_sha1(key, rng, ct)
    }

    /// The padding step of the legacy `RSA/ECB/OAEPWithSHA-256AndMGF1Padding` unwrap: OAEP with
    /// SHA-256 and MGF1-SHA-1 (SunJCE), else MGF1-SHA-256, empty label.
    #[cfg(feature = "rsa")]
    pub fn rsa_oaep_sha256_decrypt<R: rand_core::TryCryptoRng + ?Sized>(
        key: &rsa::PrivateKey,
        rng: &mut R,
        ct: &[u8],
    ) -> crate::Result<zeroize::Zeroizing<alloc::vec::Vec<u8>>> {
        crate::wrap::steps::decrypt_oaep_sha256(key, rng, ct)
    }

    /// The padding step of the legacy V1 RSA unwrap: PKCS#1 v1.5 with implicit rejection.
    #[cfg(feature = "rsa")]
    pub fn rsa_pkcs1v15_decrypt<R: rand_core::TryCryptoRng + ?Sized>(
        key: &rsa::PrivateKey,
        rng: &mut R,
        ct: &[u8],
    ) -> crate::Result<zeroize::Zeroizing<alloc::vec::Vec<u8>>> {
        crate::wrap::steps::decrypt_pkcs1v15(key, rng, ct)
    }
}

/// Composite types wipe their secrets on drop: their key-bearing parts (`aes` key schedules, CTR,
/// GHASH and CBC states with the `zeroize` features, `DataKey`, the envelope arena) are each
/// `ZeroizeOnDrop` or wiped in a `Drop` impl of ours. The marker says so.
mod zod {
    use zeroize::ZeroizeOnDrop;
    impl ZeroizeOnDrop for crate::EncryptionMaterials {}
    impl ZeroizeOnDrop for crate::Encryptor {}
    impl ZeroizeOnDrop for crate::Decryptor {}
    impl ZeroizeOnDrop for crate::hazmat::DelayedStream {}
    impl ZeroizeOnDrop for crate::VerifyPass {}
    impl ZeroizeOnDrop for crate::ReleasePass {}
    impl ZeroizeOnDrop for crate::hazmat::RangedStream {}
    impl ZeroizeOnDrop for crate::hazmat::RecheckedSegments {}
    impl ZeroizeOnDrop for crate::hazmat::UnverifiedSegments {}
    impl ZeroizeOnDrop for crate::AesKeyring {}

    #[allow(dead_code)]
    fn parts_are_zeroize_on_drop() {
        fn z<T: ZeroizeOnDrop>() {}
        z::<aes::Aes128>();
        z::<aes::Aes192>();
        z::<aes::Aes256>();
        // `ghash::GHash` wraps `polyval::Polyval`, which wipes itself on drop with the `zeroize`
        // feature that `ghash/zeroize` turns on (GHash carries no marker of its own).
        z::<ctr::Ctr32BE<aes::Aes256>>();
        z::<cbc::Decryptor<aes::Aes256>>();
        z::<crate::DataKey>();
        z::<crate::ParallelGcm>();
    }
}

/// The README's examples run as doctests too (it tells the whole story, drivers included; the
/// crate documentation above is the core's part of it).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
