//! The facts every driver needs, from the core: the specification's names of commitment
//! policies and algorithm suites (parsed and displayed), the suite a policy writes, the write
//! configuration from a client's settings, and the S3 operation names. The expected names are
//! the AWS specification's (`s3-encryption/client.md`, the algorithm-suite table), written out
//! here, not taken from the code under test.

use s3_encryption::object::Operation;
use s3_encryption::{
    CommitmentPolicy, ContentAlgorithm, EncryptConfig, Error, Placement, WriteSuite,
};

const POLICIES: [(&str, CommitmentPolicy); 3] = [
    (
        "FORBID_ENCRYPT_ALLOW_DECRYPT",
        CommitmentPolicy::ForbidEncryptAllowDecrypt,
    ),
    (
        "REQUIRE_ENCRYPT_ALLOW_DECRYPT",
        CommitmentPolicy::RequireEncryptAllowDecrypt,
    ),
    (
        "REQUIRE_ENCRYPT_REQUIRE_DECRYPT",
        CommitmentPolicy::RequireEncryptRequireDecrypt,
    ),
];

const SUITES: [(&str, ContentAlgorithm); 3] = [
    ("ALG_AES_256_CBC_IV16_NO_KDF", ContentAlgorithm::AesCbc),
    (
        "ALG_AES_256_GCM_IV12_TAG16_NO_KDF",
        ContentAlgorithm::AesGcm,
    ),
    (
        "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
        ContentAlgorithm::AesGcmCommitting,
    ),
];

#[test]
fn commitment_policies_parse_and_display_by_their_spec_names() {
    for (name, policy) in POLICIES {
        assert_eq!(name.parse::<CommitmentPolicy>(), Ok(policy));
        assert_eq!(policy.spec_name(), name);
        assert_eq!(policy.to_string(), name);
    }
    assert_eq!(CommitmentPolicy::ALL.len(), POLICIES.len());
    for bad in [
        "",
        "require_encrypt_require_decrypt",
        "REQUIRE_ENCRYPT_REQUIRE_DECRYPT ",
        "FORBID_ENCRYPT_FORBID_DECRYPT",
    ] {
        assert_eq!(
            bad.parse::<CommitmentPolicy>(),
            Err(Error::UnknownName("commitment policy")),
            "{bad:?}"
        );
    }
    assert_eq!(
        CommitmentPolicy::default(),
        CommitmentPolicy::RequireEncryptRequireDecrypt
    );
}

#[test]
fn suites_parse_by_their_spec_names_and_the_legacy_one_is_never_written() {
    for (name, suite) in SUITES {
        assert_eq!(name.parse::<ContentAlgorithm>(), Ok(suite));
        assert_eq!(suite.spec_name(), name);
    }
    assert_eq!(
        "ALG_AES_256_GCM_IV12_TAG16_NO_KDF".parse::<WriteSuite>(),
        Ok(WriteSuite::V2AesGcm)
    );
    assert_eq!(
        "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY".parse::<WriteSuite>(),
        Ok(WriteSuite::V3AesGcmCommitting)
    );
    assert_eq!(
        WriteSuite::V3AesGcmCommitting.to_string(),
        "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY"
    );
    assert_eq!(
        "ALG_AES_256_CBC_IV16_NO_KDF".parse::<WriteSuite>(),
        Err(Error::UnsupportedSuite)
    );
    for bad in ["", "V3", "115", "AES/GCM/NoPadding"] {
        assert_eq!(
            bad.parse::<ContentAlgorithm>(),
            Err(Error::UnknownName("encryption algorithm"))
        );
        assert_eq!(
            bad.parse::<WriteSuite>(),
            Err(Error::UnknownName("encryption algorithm"))
        );
    }
}

#[test]
fn the_suite_follows_from_the_policy() {
    assert_eq!(
        CommitmentPolicy::ForbidEncryptAllowDecrypt.write_suite(),
        WriteSuite::V2AesGcm
    );
    assert_eq!(
        CommitmentPolicy::RequireEncryptAllowDecrypt.write_suite(),
        WriteSuite::V3AesGcmCommitting
    );
    assert_eq!(
        CommitmentPolicy::RequireEncryptRequireDecrypt.write_suite(),
        WriteSuite::V3AesGcmCommitting
    );
    for (_, policy) in POLICIES {
        for placement in [Placement::ObjectMetadata, Placement::InstructionFile] {
            let c = EncryptConfig::for_policy(policy, placement);
            assert_eq!(c.suite(), policy.write_suite());
            assert_eq!(c.commitment_policy(), policy);
            assert_eq!(c.placement(), placement);
            // The policy's own suite is always accepted by the checked constructor.
            assert_eq!(EncryptConfig::new(c.suite(), policy, placement), Ok(c));
            assert_eq!(EncryptConfig::from_settings(policy, None, placement), Ok(c));
        }
    }
}

#[test]
fn settings_that_contradict_are_refused() {
    let m = Placement::ObjectMetadata;
    let v2 = Some(ContentAlgorithm::AesGcm);
    let v3 = Some(ContentAlgorithm::AesGcmCommitting);
    let cbc = Some(ContentAlgorithm::AesCbc);
    // client.md: a non-committing suite under REQUIRE_ENCRYPT_*, and a committing one under
    // FORBID_ENCRYPT_ALLOW_DECRYPT, fail at configuration.
    for policy in [
        CommitmentPolicy::RequireEncryptAllowDecrypt,
        CommitmentPolicy::RequireEncryptRequireDecrypt,
    ] {
        assert_eq!(
            EncryptConfig::from_settings(policy, v2, m),
            Err(Error::InvalidConfig)
        );
        assert_eq!(
            EncryptConfig::from_settings(policy, v3, m).map(|c| c.suite()),
            Ok(WriteSuite::V3AesGcmCommitting)
        );
    }
    let forbid = CommitmentPolicy::ForbidEncryptAllowDecrypt;
    assert_eq!(
        EncryptConfig::from_settings(forbid, v3, m),
        Err(Error::InvalidConfig)
    );
    assert_eq!(
        EncryptConfig::from_settings(forbid, v2, m).map(|c| c.suite()),
        Ok(WriteSuite::V2AesGcm)
    );
    // Legacy content is never written, whatever the policy.
    for (_, policy) in POLICIES {
        assert_eq!(
            EncryptConfig::from_settings(policy, cbc, m),
            Err(Error::UnsupportedSuite)
        );
    }
}

#[test]
fn operations_have_their_s3_api_names() {
    let names = [
        (Operation::HeadObject, "HeadObject", "HEAD"),
        (Operation::GetObject, "GetObject", "GET"),
        (Operation::PutObject, "PutObject", "PUT"),
        (
            Operation::CreateMultipartUpload,
            "CreateMultipartUpload",
            "POST",
        ),
        (Operation::UploadPart, "UploadPart", "PUT"),
        (
            Operation::CompleteMultipartUpload,
            "CompleteMultipartUpload",
            "POST",
        ),
        (
            Operation::AbortMultipartUpload,
            "AbortMultipartUpload",
            "DELETE",
        ),
        (Operation::DeleteObject, "DeleteObject", "DELETE"),
        (Operation::CopyObject, "CopyObject", "PUT"),
        (Operation::UploadPartCopy, "UploadPartCopy", "PUT"),
    ];
    for (op, name, method) in names {
        assert_eq!(op.name(), name);
        assert_eq!(op.to_string(), name);
        assert_eq!(op.method(), method);
    }
}
