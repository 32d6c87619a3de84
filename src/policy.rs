//! Commitment policies and the decrypt-side gates, named as in the AWS specification. Depends
//! only on [`crate::suite`].

use crate::error::{Error, Result};
use crate::suite::{ContentAlgorithm, Placement};

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
}
