//! Materials wrapped outside this crate (an HSM, a Vault transit key, a keyring program):
//! `EncryptionMaterials::externally_wrapped` takes the blob the key store returned. Known answer:
//! the wrapped key of an object the AWS SDK for Java wrote, handed in as a key store would hand
//! it, reproduces that object byte for byte (metadata and body) under the same IV.

mod common;

use common::{json, map_of, test_vectors, unb64};
use s3_encryption::{
    AesKey, CommitmentPolicy, DataKey, DecryptPolicy, EncryptConfig, EncryptionMaterials,
    Encryptor, Envelope, Error, Placement, WrapAlgorithm, WriteSuite,
};

const VECTOR: &str = "java-v2/strict-aesgcm-matdesc-meta-17.json";

#[test]
fn an_sdk_object_is_reproduced_from_its_externally_wrapped_key() {
    let v = json(VECTOR);
    let meta = map_of(&v["object"]["metadata"]);
    let body = std::fs::read(test_vectors(&format!(
        "java-v2/{}",
        v["object"]["body"].as_str().unwrap()
    )))
    .unwrap();
    let master = AesKey::from_slice(&unb64(v["key"]["key_b64"].as_str().unwrap())).unwrap();
    let policy =
        DecryptPolicy::new().with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
    let env = Envelope::parse(
        meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        None,
        &policy,
    )
    .unwrap();
    // What the key store holds: the data key, and the blob it wrapped it into.
    let data_key = env.unwrap_aes(&master).unwrap();
    let plaintext = {
        let dec = env.decryptor(data_key.clone(), &policy).unwrap();
        let mut out = vec![0u8; body.len()];
        let n = dec.decrypt_whole(&body, &mut out).unwrap();
        out.truncate(n);
        out
    };
    let config = EncryptConfig::v2(Placement::ObjectMetadata);
    assert_eq!(config.content_cipher_id(), "AES/GCM/NoPadding");
    assert_eq!(
        EncryptConfig::v3(Placement::ObjectMetadata).content_cipher_id(),
        "115"
    );
    let materials = EncryptionMaterials::externally_wrapped(
        &config,
        data_key,
        WrapAlgorithm::AesGcm,
        env.encrypted_data_key(),
        &[("owner", "s3ec"), ("purpose", "test")],
    )
    .unwrap();
    let mut random = [0x5au8; 28];
    random[..12].copy_from_slice(env.iv().unwrap());
    let mut enc =
        Encryptor::new_deterministic(materials, &random, Some(plaintext.len() as u64)).unwrap();
    let ours: std::collections::BTreeMap<String, String> = enc
        .envelope()
        .metadata()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(ours, meta, "the SDK's metadata, entry for entry");
    let mut out = plaintext.clone();
    enc.encrypt_in_place(&mut out).unwrap();
    out.extend_from_slice(&enc.finish().unwrap());
    assert!(out == body, "the SDK's body, byte for byte");
}

#[test]
fn only_the_wraps_this_crate_writes_are_taken() {
    let dk = || DataKey::from_slice(&[7u8; 32]).unwrap();
    let v3 = EncryptConfig::default();
    for wrap in [
        WrapAlgorithm::KmsContext,
        WrapAlgorithm::Kms,
        WrapAlgorithm::AesWrap,
        WrapAlgorithm::RsaOaepSha256,
        WrapAlgorithm::V1Legacy,
    ] {
        assert_eq!(
            EncryptionMaterials::externally_wrapped(&v3, dk(), wrap, &[1; 60], &[]).unwrap_err(),
            Error::UnsupportedWrap,
            "{wrap:?}"
        );
    }
    let bad = |wrap, blob: &[u8], key: DataKey| {
        EncryptionMaterials::externally_wrapped(&v3, key, wrap, blob, &[]).unwrap_err()
    };
    assert_eq!(
        bad(WrapAlgorithm::AesGcm, &[1; 59], dk()),
        Error::InvalidKey
    );
    assert_eq!(
        bad(WrapAlgorithm::RsaOaepSha1, &[], dk()),
        Error::InvalidKey
    );
    let short = DataKey::from_slice(&[7u8; 16]).unwrap();
    assert_eq!(
        bad(WrapAlgorithm::AesGcm, &[1; 60], short),
        Error::InvalidKey
    );
    // A V3 envelope of an external RSA wrap names its wrap and keeps the description.
    let m = EncryptionMaterials::externally_wrapped(
        &v3,
        dk(),
        WrapAlgorithm::RsaOaepSha1,
        &[9; 256],
        &[("hsm", "slot-3")],
    )
    .unwrap();
    assert_eq!(m.envelope().wrap_algorithm(), WrapAlgorithm::RsaOaepSha1);
    assert_eq!(m.envelope().encrypted_data_key(), &[9; 256][..]);
    assert_eq!(
        m.envelope().materials_description(),
        Some(r#"{"hsm":"slot-3"}"#)
    );
    assert_eq!(v3.suite(), WriteSuite::V3AesGcmCommitting);
}
