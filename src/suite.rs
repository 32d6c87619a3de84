//! The algorithm vocabulary of the formats: versions, content suites, key wraps, placements.
//! It depends on nothing else in the crate; [`crate::policy`] and [`crate::envelope`] build on it.

use core::fmt;
use core::str::FromStr;

use crate::error::Error;

/// Bytes of the AES-GCM tag appended to V2 and V3 bodies (`x-amz-tag-len` is its bit count, 128).
pub const TAG_LEN: usize = 16;
/// The tag length as `x-amz-tag-len` stores it.
pub(crate) const TAG_LEN_BITS: &str = "128";

/// S3EC format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormatVersion {
    /// `x-amz-key`: AES-CBC content, AES-ECB or RSA PKCS#1 v1.5 key wraps. Read only.
    V1,
    /// `x-amz-key-v2`: AES-GCM (or legacy CBC) content, named wraps.
    V2,
    /// `x-amz-3`: key-committing AES-GCM, suite 115.
    V3,
}

/// Content encryption algorithm (algorithm suite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentAlgorithm {
    /// 0x0070: AES-CBC with PKCS#7 padding, 16-byte IV. Legacy, decrypt only, unauthenticated.
    AesCbc,
    /// 0x0072: AES-256-GCM, 12-byte random IV, no AAD (format V2).
    AesGcm,
    /// 0x0073: AES-256-GCM with HKDF-SHA-512 key derivation and a 28-byte key commitment (V3).
    AesGcmCommitting,
}

impl ContentAlgorithm {
    /// The suite id from the AWS algorithm-suite table.
    pub const fn suite_id(self) -> u16 {
        match self {
            ContentAlgorithm::AesCbc => 0x0070,
            ContentAlgorithm::AesGcm => 0x0072,
            ContentAlgorithm::AesGcmCommitting => 0x0073,
        }
    }
    /// Whether the suite commits to its key.
    pub const fn is_committing(self) -> bool {
        matches!(self, ContentAlgorithm::AesGcmCommitting)
    }
    /// Tag bytes appended to the ciphertext.
    pub const fn tag_len(self) -> u64 {
        match self {
            ContentAlgorithm::AesCbc => 0,
            _ => 16,
        }
    }
    /// The suite's name in the AWS specification, as S3EC clients take it in their
    /// configuration (`encryptionAlgorithm`): `ALG_AES_256_CBC_IV16_NO_KDF`,
    /// `ALG_AES_256_GCM_IV12_TAG16_NO_KDF` or `ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY`.
    pub const fn spec_name(self) -> &'static str {
        match self {
            ContentAlgorithm::AesCbc => "ALG_AES_256_CBC_IV16_NO_KDF",
            ContentAlgorithm::AesGcm => "ALG_AES_256_GCM_IV12_TAG16_NO_KDF",
            ContentAlgorithm::AesGcmCommitting => "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
        }
    }
    /// Every suite, for drivers that list the names they accept.
    pub const ALL: [ContentAlgorithm; 3] = [
        ContentAlgorithm::AesCbc,
        ContentAlgorithm::AesGcm,
        ContentAlgorithm::AesGcmCommitting,
    ];
}

/// Parses the [spec name](ContentAlgorithm::spec_name); anything else is
/// [`Error::UnknownName`]. (A legacy suite parses: whether it may be written is
/// [`crate::WriteSuite`]'s question.)
impl FromStr for ContentAlgorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        ContentAlgorithm::ALL
            .into_iter()
            .find(|a| a.spec_name() == s)
            .ok_or(Error::UnknownName("encryption algorithm"))
    }
}

/// The exact content-cipher name stored on the object; wraps bind to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CekName {
    /// V1 objects carry no name.
    None,
    CbcPkcs5,
    CbcPkcs7,
    Gcm,
    Suite115,
}

impl CekName {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            CekName::None => "",
            CekName::CbcPkcs5 => "AES/CBC/PKCS5Padding",
            CekName::CbcPkcs7 => "AES/CBC/PKCS7Padding",
            CekName::Gcm => "AES/GCM/NoPadding",
            CekName::Suite115 => "115",
        }
    }
}

/// Key-wrapping algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WrapAlgorithm {
    /// `AES/GCM` (V3 `02`): AES-GCM under the master key, AAD = content-cipher id, 60-byte EDK.
    AesGcm,
    /// `RSA-OAEP-SHA1` (V3 `22`): OAEP of `len ‖ key ‖ content-cipher id`.
    RsaOaepSha1,
    /// `kms+context` (V3 `12`): KMS with the encryption context bound to the content cipher.
    KmsContext,
    /// Legacy V1 `x-amz-key`: AES-ECB/PKCS#7 under an AES master key, or RSA PKCS#1 v1.5.
    V1Legacy,
    /// Legacy `AESWrap` (RFC 3394).
    AesWrap,
    /// Legacy `RSA/ECB/OAEPWithSHA-256AndMGF1Padding` of the raw key.
    RsaOaepSha256,
    /// Legacy `kms`: the materials description is the KMS encryption context.
    Kms,
}

impl WrapAlgorithm {
    /// The V2 `x-amz-wrap-alg` name (empty for V1).
    pub const fn v2_name(self) -> &'static str {
        match self {
            WrapAlgorithm::AesGcm => "AES/GCM",
            WrapAlgorithm::RsaOaepSha1 => "RSA-OAEP-SHA1",
            WrapAlgorithm::KmsContext => "kms+context",
            WrapAlgorithm::V1Legacy => "",
            WrapAlgorithm::AesWrap => "AESWrap",
            WrapAlgorithm::RsaOaepSha256 => "RSA/ECB/OAEPWithSHA-256AndMGF1Padding",
            WrapAlgorithm::Kms => "kms",
        }
    }
    /// The V3 `x-amz-w` code, for the three wraps V3 allows.
    pub const fn v3_code(self) -> Option<&'static str> {
        match self {
            WrapAlgorithm::AesGcm => Some("02"),
            WrapAlgorithm::KmsContext => Some("12"),
            WrapAlgorithm::RsaOaepSha1 => Some("22"),
            _ => None,
        }
    }
    /// Whether only `legacy_wrapping_algorithms` lets this wrap be read.
    pub const fn is_legacy(self) -> bool {
        matches!(
            self,
            WrapAlgorithm::V1Legacy
                | WrapAlgorithm::AesWrap
                | WrapAlgorithm::RsaOaepSha256
                | WrapAlgorithm::Kms
        )
    }
    /// Whether the data key comes from KMS.
    pub const fn is_kms(self) -> bool {
        matches!(self, WrapAlgorithm::Kms | WrapAlgorithm::KmsContext)
    }
}

/// Where the key material of the envelope lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Placement {
    /// Everything in the object's user metadata (the default).
    #[default]
    ObjectMetadata,
    /// Key material in a separate instruction-file object (`<key>.instruction`).
    InstructionFile,
}

impl FormatVersion {
    /// The display name: `V1`, `V2` or `V3`.
    pub const fn name(self) -> &'static str {
        match self {
            FormatVersion::V1 => "V1",
            FormatVersion::V2 => "V2",
            FormatVersion::V3 => "V3",
        }
    }
}

impl WrapAlgorithm {
    /// The display name: the stored V2 name (`AES/GCM`, `kms+context`, …), and for the V1 wrap
    /// `x-amz-key (V1 legacy)`, since V1 stores no name.
    pub const fn name(self) -> &'static str {
        match self {
            WrapAlgorithm::V1Legacy => "x-amz-key (V1 legacy)",
            other => other.v2_name(),
        }
    }
}

impl ContentAlgorithm {
    /// The display name, for people (the stored names are per format: see
    /// [`crate::Envelope::content_cipher_id`]).
    pub const fn name(self) -> &'static str {
        match self {
            ContentAlgorithm::AesCbc => "AES-CBC/PKCS7 (legacy, unauthenticated)",
            ContentAlgorithm::AesGcm => "AES-256-GCM",
            ContentAlgorithm::AesGcmCommitting => "AES-256-GCM, HKDF-SHA-512, key commitment",
        }
    }
}

impl Placement {
    /// The display name: `object metadata` or `instruction file`.
    pub const fn name(self) -> &'static str {
        match self {
            Placement::ObjectMetadata => "object metadata",
            Placement::InstructionFile => "instruction file",
        }
    }
}

macro_rules! display_by_name {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    )*};
}
display_by_name!(FormatVersion, ContentAlgorithm, WrapAlgorithm, Placement);
