//! Commitment policies and the decrypt-side gates, named as in the AWS specification. Depends
//! only on [`crate::suite`].

use core::fmt;
use core::str::FromStr;

use crate::error::{Error, Result};
use crate::suite::{CekName, ContentAlgorithm, Placement};

/// The three commitment policies of the S3EC specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CommitmentPolicy {
    /// Write V2 (non-committing); read V2 and V3.
    ForbidEncryptAllowDecrypt,
    /// Write V3; read V2 and V3.
    RequireEncryptAllowDecrypt,
    /// Write V3; read only V3. The default.
    #[default]
    RequireEncryptRequireDecrypt,
}

impl CommitmentPolicy {
    /// Every policy, for drivers that list the names they accept.
    pub const ALL: [CommitmentPolicy; 3] = [
        CommitmentPolicy::ForbidEncryptAllowDecrypt,
        CommitmentPolicy::RequireEncryptAllowDecrypt,
        CommitmentPolicy::RequireEncryptRequireDecrypt,
    ];
    /// The policy's name in the AWS specification (`REQUIRE_ENCRYPT_REQUIRE_DECRYPT`, …), as
    /// S3EC clients take it in their configuration. [`FromStr`] parses it back and
    /// [`Display`](fmt::Display) writes it.
    pub const fn spec_name(self) -> &'static str {
        match self {
            CommitmentPolicy::ForbidEncryptAllowDecrypt => "FORBID_ENCRYPT_ALLOW_DECRYPT",
            CommitmentPolicy::RequireEncryptAllowDecrypt => "REQUIRE_ENCRYPT_ALLOW_DECRYPT",
            CommitmentPolicy::RequireEncryptRequireDecrypt => "REQUIRE_ENCRYPT_REQUIRE_DECRYPT",
        }
    }
    /// The suite this policy writes: V2 under FORBID_ENCRYPT_ALLOW_DECRYPT, V3 otherwise.
    pub const fn write_suite(self) -> WriteSuite {
        match self {
            CommitmentPolicy::ForbidEncryptAllowDecrypt => WriteSuite::V2AesGcm,
            CommitmentPolicy::RequireEncryptAllowDecrypt
            | CommitmentPolicy::RequireEncryptRequireDecrypt => WriteSuite::V3AesGcmCommitting,
        }
    }
}

/// Parses the [spec name](CommitmentPolicy::spec_name); anything else is
/// [`Error::UnknownName`].
impl FromStr for CommitmentPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        CommitmentPolicy::ALL
            .into_iter()
            .find(|p| p.spec_name() == s)
            .ok_or(Error::UnknownName("commitment policy"))
    }
}

impl fmt::Display for CommitmentPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec_name())
    }
}

/// How decryption may proceed. Everything that weakens security is off by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DecryptPolicy {
    /// Which suites may be read.
    pub commitment_policy: CommitmentPolicy,
    /// Allow the legacy key wraps: V1 `x-amz-key` (AES-ECB, RSA PKCS#1 v1.5), `AESWrap`,
    /// `RSA/ECB/OAEPWithSHA-256AndMGF1Padding` and `kms`.
    pub legacy_wrapping_algorithms: bool,
    /// Allow unauthenticated content: AES-CBC objects and ranged reads.
    pub legacy_unauthenticated_modes: bool,
    /// Allow [`crate::hazmat::delayed_authentication`] and [`crate::hazmat::unverified_segments`],
    /// which release plaintext before the tag is checked.
    pub delayed_authentication: bool,
}

impl DecryptPolicy {
    /// The default: REQUIRE_ENCRYPT_REQUIRE_DECRYPT, no legacy, no delayed authentication.
    pub const fn new() -> Self {
        DecryptPolicy {
            commitment_policy: CommitmentPolicy::RequireEncryptRequireDecrypt,
            legacy_wrapping_algorithms: false,
            legacy_unauthenticated_modes: false,
            delayed_authentication: false,
        }
    }
    /// The default with another commitment policy.
    pub const fn with_commitment_policy(mut self, p: CommitmentPolicy) -> Self {
        self.commitment_policy = p;
        self
    }
}

/// The suites this crate writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WriteSuite {
    /// Format V2: AES-256-GCM, random 12-byte IV (suite 0x0072). Needs FORBID_ENCRYPT_ALLOW_DECRYPT.
    V2AesGcm,
    /// Format V3: key-committing AES-256-GCM (suite 0x0073). The default.
    #[default]
    V3AesGcmCommitting,
}

impl WriteSuite {
    /// The content algorithm of this suite.
    pub const fn content(self) -> ContentAlgorithm {
        match self {
            WriteSuite::V2AesGcm => ContentAlgorithm::AesGcm,
            WriteSuite::V3AesGcmCommitting => ContentAlgorithm::AesGcmCommitting,
        }
    }
    /// The suite that writes `content`: a legacy suite (AES-CBC) is never written, and is
    /// [`Error::UnsupportedSuite`].
    pub const fn for_content(content: ContentAlgorithm) -> Result<Self> {
        match content {
            ContentAlgorithm::AesGcm => Ok(WriteSuite::V2AesGcm),
            ContentAlgorithm::AesGcmCommitting => Ok(WriteSuite::V3AesGcmCommitting),
            ContentAlgorithm::AesCbc => Err(Error::UnsupportedSuite),
        }
    }
    /// The suite's name in the AWS specification ([`ContentAlgorithm::spec_name`]).
    pub const fn spec_name(self) -> &'static str {
        self.content().spec_name()
    }
    /// The content-cipher identifier that key wraps bind to for this suite:
    /// `AES/GCM/NoPadding` (V2) or `115` (V3).
    pub const fn content_cipher_id(self) -> &'static str {
        match self {
            WriteSuite::V2AesGcm => CekName::Gcm.as_str(),
            WriteSuite::V3AesGcmCommitting => CekName::Suite115.as_str(),
        }
    }
}

/// Parses a [spec name](ContentAlgorithm::spec_name): an unknown name is
/// [`Error::UnknownName`], the legacy AES-CBC suite [`Error::UnsupportedSuite`].
impl FromStr for WriteSuite {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        WriteSuite::for_content(s.parse()?)
    }
}

impl fmt::Display for WriteSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec_name())
    }
}

/// Write configuration: suite, commitment policy and placement, checked for consistency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncryptConfig {
    suite: WriteSuite,
    policy: CommitmentPolicy,
    placement: Placement,
}

impl Default for EncryptConfig {
    /// V3, REQUIRE_ENCRYPT_REQUIRE_DECRYPT, metadata placement.
    fn default() -> Self {
        EncryptConfig {
            suite: WriteSuite::V3AesGcmCommitting,
            policy: CommitmentPolicy::RequireEncryptRequireDecrypt,
            placement: Placement::ObjectMetadata,
        }
    }
}

impl EncryptConfig {
    /// A configuration; a suite that the policy forbids is [`Error::InvalidConfig`]
    /// (V2 under REQUIRE_ENCRYPT_*, V3 under FORBID_ENCRYPT_ALLOW_DECRYPT).
    pub const fn new(
        suite: WriteSuite,
        policy: CommitmentPolicy,
        placement: Placement,
    ) -> Result<Self> {
        let ok = matches!(
            (suite, policy),
            (
                WriteSuite::V2AesGcm,
                CommitmentPolicy::ForbidEncryptAllowDecrypt
            ) | (
                WriteSuite::V3AesGcmCommitting,
                CommitmentPolicy::RequireEncryptAllowDecrypt
            ) | (
                WriteSuite::V3AesGcmCommitting,
                CommitmentPolicy::RequireEncryptRequireDecrypt
            )
        );
        if !ok {
            return Err(Error::InvalidConfig);
        }
        Ok(EncryptConfig {
            suite,
            policy,
            placement,
        })
    }
    /// The configuration of `policy`, writing the suite that follows from it
    /// ([`CommitmentPolicy::write_suite`]).
    pub const fn for_policy(policy: CommitmentPolicy, placement: Placement) -> Self {
        EncryptConfig {
            suite: policy.write_suite(),
            policy,
            placement,
        }
    }
    /// The configuration an S3EC client's settings describe: the commitment policy, and the
    /// encryption algorithm when one is configured (else the policy's suite). A legacy
    /// algorithm is [`Error::UnsupportedSuite`]; one the policy forbids [`Error::InvalidConfig`].
    pub const fn from_settings(
        policy: CommitmentPolicy,
        algorithm: Option<ContentAlgorithm>,
        placement: Placement,
    ) -> Result<Self> {
        match algorithm {
            None => Ok(Self::for_policy(policy, placement)),
            Some(a) => match WriteSuite::for_content(a) {
                Ok(suite) => Self::new(suite, policy, placement),
                Err(e) => Err(e),
            },
        }
    }
    /// The V2 configuration (FORBID_ENCRYPT_ALLOW_DECRYPT).
    pub const fn v2(placement: Placement) -> Self {
        EncryptConfig {
            suite: WriteSuite::V2AesGcm,
            policy: CommitmentPolicy::ForbidEncryptAllowDecrypt,
            placement,
        }
    }
    /// The V3 configuration (REQUIRE_ENCRYPT_REQUIRE_DECRYPT).
    pub const fn v3(placement: Placement) -> Self {
        EncryptConfig {
            suite: WriteSuite::V3AesGcmCommitting,
            policy: CommitmentPolicy::RequireEncryptRequireDecrypt,
            placement,
        }
    }
    /// The suite written.
    pub const fn suite(&self) -> WriteSuite {
        self.suite
    }
    /// The commitment policy.
    pub const fn commitment_policy(&self) -> CommitmentPolicy {
        self.policy
    }
    /// The placement.
    pub const fn placement(&self) -> Placement {
        self.placement
    }
    /// The content-cipher identifier that key wraps bind to ([`WriteSuite::content_cipher_id`]).
    pub const fn content_cipher_id(&self) -> &'static str {
        self.suite.content_cipher_id()
    }
}
