#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "alloc", test))]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod commit;
mod decrypt;
mod encrypt;
mod error;
pub mod format;
mod gcm;
mod keys;
mod keywrap;
mod parallel;
mod policy;
mod text;

pub use commit::{COMMIT_LEN, derive_v3};
pub use decrypt::{
    ByteRange, Decryptor, RangeHeader, RangePlan, RangedStream, ReleasePass, Stream, VerifyPass,
};
pub use encrypt::{
    EncryptionMaterials, Encryptor, KmsGenerateDataKeyRequest, MAX_PART_SIZE, MAX_PARTS,
    MIN_PART_SIZE, Part, PartPlan, ciphertext_len,
};
pub use error::{Error, ErrorClass, Result};
pub use format::{ContentAlgorithm, Envelope, FormatVersion, Placement, WrapAlgorithm};
pub use gcm::GCM_MAX_PLAINTEXT;
pub use keys::{AesKey, DataKey};
pub use keywrap::{EncryptionContext, JsonString, KeyRequest, KmsDecryptRequest};
pub use parallel::{ParallelGcm, PartialGhash};
pub use policy::{CommitmentPolicy, DecryptPolicy, EncryptConfig, WriteSuite};
pub use text::ARENA_CAPACITY;

#[cfg(feature = "rsa")]
pub use rsa;

/// Incremental AES-256-GCM, exposed for differential testing and fuzzing only.
#[cfg(any(fuzzing, feature = "hazmat-internals"))]
#[doc(hidden)]
pub mod internals {
    pub use crate::gcm::{Backend, Gcm, force_backend};

    /// A [`crate::ParallelGcm`] for an arbitrary AES-256 key, nonce and AAD.
    pub fn parallel_gcm(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8]) -> crate::ParallelGcm {
        crate::ParallelGcm::new(key, nonce, aad)
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
    impl ZeroizeOnDrop for crate::Stream {}
    impl ZeroizeOnDrop for crate::VerifyPass {}
    impl ZeroizeOnDrop for crate::ReleasePass {}
    impl ZeroizeOnDrop for crate::RangedStream {}

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
