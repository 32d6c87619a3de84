//! `migrate_object` against moto S3 + KMS (started per test): SDK-written objects from
//! `test-vectors/` uploaded raw, plain and multipart objects, re-encrypted to V3 or re-wrapped,
//! then read back under REQUIRE_ENCRYPT_REQUIRE_DECRYPT; overwrites injected mid-migration;
//! versioned buckets; throttling.

#[path = "../common/mod.rs"]
mod common;
mod hostile;
mod rewrap;
mod to_v3;

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use base64ct::{Base64, Encoding};
use common::*;
use s3_encryption::{AesKey, CommitmentPolicy, FormatVersion, Placement};
use s3_encryption_transport::{
    ClientKeyring, GetOptions, MigrateMode, MigrateOptions, MigrateStatus, PutOptions,
    S3EncryptionClient,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;
const B: &str = "mig";

async fn bucket(moto: &Moto, versioned: bool) -> aws_sdk_s3::Client {
    let s3 = moto.s3();
    s3.create_bucket().bucket(B).send().await.unwrap();
    if versioned {
        s3.put_bucket_versioning()
            .bucket(B)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    s3
}

/// An SDK-written vector: its keyring, client settings and expected plaintext digest.
struct Vector {
    keyring: ClientKeyring,
    policy: CommitmentPolicy,
    legacy_wrapping: bool,
    legacy_modes: bool,
    sha256: String,
}

/// Upload `name` (under test-vectors/) raw at `key`, with user metadata, a content type and tags
/// of our own beside the SDK's envelope.
async fn upload_vector(s3: &aws_sdk_s3::Client, name: &str, key: &str) -> Vector {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors");
    let path = root.join(name);
    let dir = path.parent().unwrap();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let body = std::fs::read(dir.join(v["object"]["body"].as_str().unwrap())).unwrap();
    let mut put = s3
        .put_object()
        .bucket(B)
        .key(key)
        .body(body.into())
        .content_type("text/x-migrate")
        .tagging("team=blue&stage=old")
        .metadata("owner", "alice");
    for (k, val) in v["object"]["metadata"].as_object().unwrap() {
        put = put.metadata(k.to_lowercase(), val.as_str().unwrap());
    }
    put.send().await.unwrap();
    if let Some(i) = v["instruction_file"]["body"].as_str() {
        let ins = std::fs::read(dir.join(i)).unwrap();
        s3.put_object()
            .bucket(B)
            .key(format!("{key}.instruction"))
            .body(ins.into())
            .send()
            .await
            .unwrap();
    }
    let d = &v["decrypt"];
    let keyring = match v["key"]["kind"].as_str().unwrap() {
        "aes" => ClientKeyring::aes(
            AesKey::from_slice(&Base64::decode_vec(v["key"]["key_b64"].as_str().unwrap()).unwrap())
                .unwrap(),
        ),
        "rsa" => ClientKeyring::rsa_pem(v["key"]["private_key_pem"].as_str().unwrap()).unwrap(),
        k => panic!("{name}: key kind {k}"),
    };
    Vector {
        keyring,
        policy: match d["commitment_policy"].as_str().unwrap() {
            "REQUIRE_ENCRYPT_REQUIRE_DECRYPT" => CommitmentPolicy::RequireEncryptRequireDecrypt,
            "REQUIRE_ENCRYPT_ALLOW_DECRYPT" => CommitmentPolicy::RequireEncryptAllowDecrypt,
            _ => CommitmentPolicy::ForbidEncryptAllowDecrypt,
        },
        legacy_wrapping: d["legacy_wrapping_algorithms"].as_bool().unwrap(),
        legacy_modes: d["legacy_unauthenticated_modes"].as_bool().unwrap(),
        sha256: v["expect"]["plaintext_sha256"].as_str().unwrap().to_owned(),
    }
}

fn old_client(s3: &aws_sdk_s3::Client, moto: &Moto, v: &Vector) -> S3EncryptionClient {
    S3EncryptionClient::builder(s3.clone(), v.keyring.clone())
        .kms_client(moto.kms())
        .commitment_policy(v.policy)
        .enable_legacy_wrapping_algorithms(v.legacy_wrapping)
        .enable_legacy_unauthenticated_modes(v.legacy_modes)
        .part_size(5 * MIB as u64)
        .build()
        .unwrap()
}

fn client(s3: &aws_sdk_s3::Client, moto: &Moto, k: ClientKeyring) -> S3EncryptionClient {
    S3EncryptionClient::builder(s3.clone(), k)
        .kms_client(moto.kms())
        .part_size(5 * MIB as u64)
        .build()
        .unwrap()
}

async fn tags(s3: &aws_sdk_s3::Client, key: &str) -> Vec<(String, String)> {
    let mut t: Vec<(String, String)> = s3
        .get_object_tagging()
        .bucket(B)
        .key(key)
        .send()
        .await
        .unwrap()
        .tag_set()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    t.sort();
    t
}

async fn raw_meta(s3: &aws_sdk_s3::Client, key: &str) -> (Option<String>, Vec<(String, String)>) {
    let h = s3.head_object().bucket(B).key(key).send().await.unwrap();
    let mut m: Vec<(String, String)> = h
        .metadata()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    m.sort();
    (h.e_tag().map(str::to_owned), m)
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

const SDK_VECTORS: [&str; 7] = [
    "java-legacy/eo-aes-meta-4101.json", // V1, AES-ECB wrap, CBC, metadata
    "java-legacy/eo-aes-inst-17.json",   // V1, instruction file
    "java-legacy/ae-aeswrap-inst-17.json", // V2 AESWrap (legacy wrap), instruction file
    "java-v2/ae-aesgcm-meta-4101.json",  // V2 AES/GCM, metadata
    "java-v2/ae-aesgcm-inst-4101.json",  // V2 AES/GCM, instruction file
    "java-v2/ae-rsaoaep-meta-17.json",   // V2 RSA-OAEP-SHA1, metadata
    "java-v2/strict-aesgcm-meta-multipart-5242897.json", // V2, SDK multipart
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_and_unopenable_objects_are_reported_and_untouched() {
    let moto = Moto::start("plain_and_unopenable_objects_are_reported_and_untouched");
    let s3 = bucket(&moto, false).await;
    s3.put_object()
        .bucket(B)
        .key("plain")
        .body(b"hello".to_vec().into())
        .send()
        .await
        .unwrap();
    client(&s3, &moto, aes_keyring(5))
        .put_bytes(B, "other-key", b"secret", &PutOptions::default())
        .await
        .unwrap();
    let old = client(&s3, &moto, aes_keyring(4));
    for mode in [MigrateMode::ToV3, MigrateMode::Rewrap] {
        for dry_run in [true, false] {
            let mut opts = MigrateOptions::new(mode, aes_keyring(6));
            opts.dry_run = dry_run;
            for (key, want) in [
                ("plain", MigrateStatus::NotEncrypted),
                ("other-key", MigrateStatus::CannotOpen),
            ] {
                let before = raw_meta(&s3, key).await;
                let out = old.migrate_object(B, key, &opts).await.unwrap();
                assert_eq!(out.status, want, "{key} {mode:?}: {out:?}");
                assert_eq!(raw_meta(&s3, key).await, before, "{key}");
            }
        }
    }
    let body = s3.get_object().bucket(B).key("plain").send().await.unwrap();
    assert_eq!(
        body.body.collect().await.unwrap().into_bytes().as_ref(),
        b"hello"
    );
    // A dry run of an object the keys open: WouldMigrate, untouched.
    let mut opts = MigrateOptions::new(MigrateMode::ToV3, aes_keyring(6));
    opts.dry_run = true;
    let before = raw_meta(&s3, "other-key").await;
    let out = client(&s3, &moto, aes_keyring(5))
        .migrate_object(B, "other-key", &opts)
        .await
        .unwrap();
    assert_eq!(out.status, MigrateStatus::WouldMigrate, "{out:?}");
    assert_eq!(raw_meta(&s3, "other-key").await, before);
    // A missing object is an error, not an outcome.
    assert!(
        old.migrate_object(B, "missing", &opts)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// The V3 message id and commitment, wherever they are stored (they stay on the object).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versioned_bucket_keeps_and_reports_the_previous_version() {
    let moto = Moto::start("versioned_bucket_keeps_and_reports_the_previous_version");
    let s3 = bucket(&moto, true).await;
    let v = upload_vector(&s3, "java-v2/ae-aesgcm-meta-4101.json", "ver").await;
    let old = old_client(&s3, &moto, &v);
    let out = old
        .migrate_object(
            B,
            "ver",
            &MigrateOptions::new(MigrateMode::ToV3, aes_keyring(8)),
        )
        .await
        .unwrap();
    assert_eq!(out.status, MigrateStatus::Migrated, "{out:?}");
    let (src, new) = (
        out.source_version.clone().unwrap(),
        out.new_version.clone().unwrap(),
    );
    assert_ne!(src, new);
    let versions = s3
        .list_object_versions()
        .bucket(B)
        .prefix("ver")
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = versions
        .versions()
        .iter()
        .filter_map(|v| v.version_id())
        .collect();
    assert!(
        ids.contains(&src.as_str()) && ids.contains(&new.as_str()),
        "{ids:?}"
    );
    // The previous version still opens with the old keys.
    let gopts = GetOptions {
        version_id: Some(src.clone()),
        ..GetOptions::default()
    };
    let (pt, _) = old.get_object_bytes(B, "ver", &gopts).await.unwrap();
    assert_eq!(sha(&pt), v.sha256);
    // A re-wrap on a versioned bucket: a new version by a copy, the previous one kept.
    let v3 = client(&s3, &moto, aes_keyring(8));
    let out = v3
        .migrate_object(
            B,
            "ver",
            &MigrateOptions::new(MigrateMode::Rewrap, aes_keyring(10)),
        )
        .await
        .unwrap();
    assert_eq!(out.status, MigrateStatus::Migrated, "{out:?}");
    assert_eq!(out.source_version.as_deref(), Some(new.as_str()));
    assert!(out.new_version.is_some() && out.new_version.as_deref() != Some(new.as_str()));
    let gopts = GetOptions {
        version_id: Some(new),
        ..GetOptions::default()
    };
    assert_eq!(
        sha(&v3.get_object_bytes(B, "ver", &gopts).await.unwrap().0),
        v.sha256
    );
}
