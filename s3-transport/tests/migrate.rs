//! `migrate_object` against moto S3 + KMS (started per test): SDK-written objects from
//! `test-vectors/` uploaded raw, plain and multipart objects, re-encrypted to V3 or re-wrapped,
//! then read back under REQUIRE_ENCRYPT_REQUIRE_DECRYPT; overwrites injected mid-migration;
//! versioned buckets; throttling.

mod common;

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use base64ct::{Base64, Encoding};
use common::*;
use s3_encryption::{AesKey, CommitmentPolicy, FormatVersion, Placement};
use s3_encryption_transport::{
    GetOptions, Keyring, MigrateMode, MigrateOptions, MigrateStatus, PutOptions, S3EncryptionClient,
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
    keyring: Keyring,
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
        "aes" => Keyring::aes(
            AesKey::from_slice(&Base64::decode_vec(v["key"]["key_b64"].as_str().unwrap()).unwrap())
                .unwrap(),
        ),
        "rsa" => Keyring::rsa_pem(v["key"]["private_key_pem"].as_str().unwrap()).unwrap(),
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

fn client(s3: &aws_sdk_s3::Client, moto: &Moto, k: Keyring) -> S3EncryptionClient {
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
async fn to_v3_migrates_every_form_and_a_rerun_skips() {
    let moto = Moto::start("to_v3_migrates_every_form_and_a_rerun_skips");
    let s3 = bucket(&moto, false).await;
    let new = aes_keyring(9);
    let newc = client(&s3, &moto, new.clone());
    let opts = MigrateOptions::new(MigrateMode::ToV3, new.clone());
    let mut cases: Vec<(String, S3EncryptionClient, String)> = Vec::new();
    for (i, name) in SDK_VECTORS.iter().enumerate() {
        let key = format!("sdk/{i}");
        let v = upload_vector(&s3, name, &key).await;
        cases.push((key, old_client(&s3, &moto, &v), v.sha256));
    }
    // Ours: V3 under another AES key in both placements, and an 11 MiB multipart object.
    let ours = client(&s3, &moto, aes_keyring(1));
    for (key, n, placement) in [
        ("ours/v3-meta", 4101usize, Placement::ObjectMetadata),
        ("ours/v3-inst", 17, Placement::InstructionFile),
        ("ours/multipart", 11 * MIB + 5, Placement::ObjectMetadata),
    ] {
        let pt = data(n, n as u64);
        let po = PutOptions {
            placement: Some(placement),
            metadata: vec![("owner".into(), "alice".into())],
            content_type: Some("text/x-migrate".into()),
            ..PutOptions::default()
        };
        ours.put_bytes(B, key, &pt, &po).await.unwrap();
        s3.put_object_tagging()
            .bucket(B)
            .key(key)
            .tagging(
                aws_sdk_s3::types::Tagging::builder()
                    .tag_set(
                        aws_sdk_s3::types::Tag::builder()
                            .key("team")
                            .value("blue")
                            .build()
                            .unwrap(),
                    )
                    .tag_set(
                        aws_sdk_s3::types::Tag::builder()
                            .key("stage")
                            .value("old")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        cases.push((key.to_owned(), ours.clone(), sha(&pt)));
    }
    for (key, old, want) in &cases {
        let form = old.head_object(B, key, &GetOptions::default()).await.ok();
        let out = old.migrate_object(B, key, &opts).await.unwrap();
        assert_eq!(
            out.status,
            MigrateStatus::Migrated,
            "{key}: {out:?} ({form:?})"
        );
        assert!(
            out.new_etag.is_some() && out.new_etag != out.source_etag,
            "{key}: {out:?}"
        );
        // Read back by the new keyring alone, strictly.
        let (pt, got) = newc
            .get_object_bytes(B, key, &GetOptions::default())
            .await
            .unwrap();
        assert_eq!(&sha(&pt), want, "{key}");
        assert_eq!(out.bytes, pt.len() as u64, "{key}");
        assert_eq!(got.info.envelope.format_version, FormatVersion::V3, "{key}");
        assert_eq!(
            got.info.envelope.placement,
            Placement::ObjectMetadata,
            "{key}"
        );
        assert_eq!(
            got.info.user_metadata,
            vec![("owner".to_owned(), "alice".to_owned())],
            "{key}"
        );
        let h = s3.head_object().bucket(B).key(key).send().await.unwrap();
        assert_eq!(h.content_type(), Some("text/x-migrate"), "{key}");
        assert_eq!(
            tags(&s3, key).await,
            vec![
                ("stage".to_owned(), "old".to_owned()),
                ("team".to_owned(), "blue".to_owned())
            ],
            "{key}"
        );
        if out.form.as_ref().unwrap().placement == "instruction-file" {
            assert!(
                out.detail
                    .as_deref()
                    .unwrap_or("")
                    .contains("instruction file"),
                "{out:?}"
            );
        }
        // The old keyring no longer opens the current object.
        assert!(
            old.get_object_bytes(B, key, &GetOptions::default())
                .await
                .is_err(),
            "{key}"
        );
    }
    // A second run changes nothing.
    for (key, _, _) in &cases {
        let before = raw_meta(&s3, key).await;
        let out = newc.migrate_object(B, key, &opts).await.unwrap();
        assert_eq!(out.status, MigrateStatus::Skipped, "{key}: {out:?}");
        assert_eq!(raw_meta(&s3, key).await, before, "{key}");
    }
}

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
async fn v3_ids(s3: &aws_sdk_s3::Client, key: &str) -> (String, String) {
    let (_, m) = raw_meta(s3, key).await;
    let get = |k: &str| {
        m.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    (get("x-amz-i"), get("x-amz-d"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrap_aes_and_kms_in_both_placements() {
    let moto = Moto::start("rewrap_aes_and_kms_in_both_placements");
    let s3 = bucket(&moto, false).await;
    let (k1, k2) = (moto.create_key().await, moto.create_key().await);
    let pairs = [
        (aes_keyring(1), aes_keyring(2)),
        (Keyring::kms(&k1), Keyring::kms(&k2)),
    ];
    for (n, (old_k, new_k)) in pairs.iter().enumerate() {
        let old = client(&s3, &moto, old_k.clone());
        let newc = client(&s3, &moto, new_k.clone());
        let opts = MigrateOptions::new(MigrateMode::Rewrap, new_k.clone());
        for placement in [Placement::ObjectMetadata, Placement::InstructionFile] {
            let key = format!("rewrap/{n}/{placement:?}");
            let pt = data(4101, 3);
            let po = PutOptions {
                placement: Some(placement),
                metadata: vec![("owner".into(), "bob".into())],
                content_type: Some("application/x-test".into()),
                ..PutOptions::default()
            };
            old.put_bytes(B, &key, &pt, &po).await.unwrap();
            let ids = v3_ids(&s3, &key).await;
            let (etag, _) = raw_meta(&s3, &key).await;
            let out = old.migrate_object(B, &key, &opts).await.unwrap();
            assert_eq!(out.status, MigrateStatus::Migrated, "{key}: {out:?}");
            // Same content: the ETag of a single-part object is its MD5, unchanged by the copy.
            assert_eq!(raw_meta(&s3, &key).await.0, etag, "{key}");
            assert_eq!(
                v3_ids(&s3, &key).await,
                ids,
                "{key}: message id / commitment changed"
            );
            let (got, info) = newc
                .get_object_bytes(B, &key, &GetOptions::default())
                .await
                .unwrap();
            assert_eq!(got, pt, "{key}");
            assert_eq!(
                info.info.user_metadata,
                vec![("owner".to_owned(), "bob".to_owned())]
            );
            let h = s3.head_object().bucket(B).key(&key).send().await.unwrap();
            assert_eq!(h.content_type(), Some("application/x-test"), "{key}");
            assert!(
                old.get_object_bytes(B, &key, &GetOptions::default())
                    .await
                    .is_err(),
                "{key}: the old keyring still opens it"
            );
            let again = newc.migrate_object(B, &key, &opts).await.unwrap();
            assert_eq!(again.status, MigrateStatus::Skipped, "{key}: {again:?}");
        }
    }
    // SDK-written V2 (Java) in both placements re-wrapped to a new AES key.
    for (i, name) in [
        "java-v2/ae-aesgcm-meta-4101.json",
        "java-v2/ae-aesgcm-inst-4101.json",
    ]
    .iter()
    .enumerate()
    {
        let key = format!("rewrap/sdk/{i}");
        let v = upload_vector(&s3, name, &key).await;
        let old = old_client(&s3, &moto, &v);
        let opts = MigrateOptions::new(MigrateMode::Rewrap, aes_keyring(7));
        let out = old.migrate_object(B, &key, &opts).await.unwrap();
        assert_eq!(out.status, MigrateStatus::Migrated, "{key}: {out:?}");
        let newc = S3EncryptionClient::builder(s3.clone(), aes_keyring(7))
            .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
            .build()
            .unwrap();
        let (pt, _) = newc
            .get_object_bytes(B, &key, &GetOptions::default())
            .await
            .unwrap();
        assert_eq!(sha(&pt), v.sha256, "{key}");
        assert!(
            old.get_object_bytes(B, &key, &GetOptions::default())
                .await
                .is_err()
        );
    }
    // V1 content cannot be re-wrapped: reported, untouched.
    let v = upload_vector(&s3, "java-legacy/eo-aes-meta-4101.json", "rewrap/v1").await;
    let before = raw_meta(&s3, "rewrap/v1").await;
    let out = old_client(&s3, &moto, &v)
        .migrate_object(
            B,
            "rewrap/v1",
            &MigrateOptions::new(MigrateMode::Rewrap, aes_keyring(7)),
        )
        .await
        .unwrap();
    assert_eq!(out.status, MigrateStatus::Unsupported, "{out:?}");
    assert_eq!(raw_meta(&s3, "rewrap/v1").await, before);
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_overwritten_mid_migration_is_left_to_its_writer() {
    let moto = Moto::start("an_object_overwritten_mid_migration_is_left_to_its_writer");
    let s3 = bucket(&moto, false).await;
    let upstream: std::net::SocketAddr =
        moto.endpoint.trim_start_matches("http://").parse().unwrap();
    let old_k = aes_keyring(1);
    // Each rule overwrites its object (with a plain body) just before the marked request passes:
    // before the read (the tag fetch) and before the write (the PUT).
    let mut rules = Vec::new();
    for (key, marker) in [
        ("chg-read", "/mig/chg-read?tagging".to_owned()),
        ("chg-write", "PUT /mig/chg-write".to_owned()),
    ] {
        let endpoint = moto.endpoint.clone();
        rules.push(Rule {
            markers: vec![marker.into_bytes()],
            occurrences: vec![1],
            action: Action::Call(Box::new(move || {
                let endpoint = endpoint.clone();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Runtime::new().unwrap();
                    rt.block_on(async {
                        let s3 = s3_client(&endpoint);
                        s3.put_object()
                            .bucket(B)
                            .key(key)
                            .body(b"the writer's object".to_vec().into())
                            .send()
                            .await
                            .unwrap();
                    });
                })
                .join()
                .unwrap();
            })),
        });
    }
    let proxy = Proxy::start(upstream, rules).await;
    let via = s3_client(&proxy.endpoint);
    let old = S3EncryptionClient::builder(via, old_k.clone())
        .build()
        .unwrap();
    for key in ["chg-read", "chg-write"] {
        client(&s3, &moto, old_k.clone())
            .put_bytes(B, key, data(4101, 1), &PutOptions::default())
            .await
            .unwrap();
        let out = old
            .migrate_object(
                B,
                key,
                &MigrateOptions::new(MigrateMode::ToV3, aes_keyring(2)),
            )
            .await
            .unwrap();
        assert_eq!(out.status, MigrateStatus::Changed, "{key}: {out:?}");
        let got = s3.get_object().bucket(B).key(key).send().await.unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            b"the writer's object",
            "{key}"
        );
    }
    assert_eq!(proxy.fired.load(std::sync::atomic::Ordering::SeqCst), 2);
}

fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    s3_encryption_transport::local::s3_client_for(&s3_encryption_transport::local::sdk_config_for(
        endpoint,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_down_is_a_retryable_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A store that answers every request with 503 SlowDown.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut c, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
                let head = format!(
                    "HTTP/1.1 503 Slow Down\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = c.write_all(head.as_bytes()).await;
                if !seen.starts_with(b"HEAD") {
                    let _ = c.write_all(body.as_bytes()).await;
                }
                let _ = c.shutdown().await;
            });
        }
    });
    let old = S3EncryptionClient::builder(s3_client(&endpoint), aes_keyring(1))
        .build()
        .unwrap();
    let e = old
        .migrate_object(
            B,
            "k",
            &MigrateOptions::new(MigrateMode::ToV3, aes_keyring(2)),
        )
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    server.abort();
}
