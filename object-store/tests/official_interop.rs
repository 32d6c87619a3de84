//! Interop with AWS's Python S3EC 4.0.0 (KMS keyrings only), on moto's S3 and KMS: objects the
//! adapter writes over `AmazonS3`, with KMS through the core trait
//! (`s3_encryption_transport::KmsKeyring`), are read by AWS's client under
//! REQUIRE_ENCRYPT_REQUIRE_DECRYPT; objects AWS's client writes as V3 and V2 are read by the
//! adapter, whole and ranged (authenticated). moto and the Python venv are installed by the
//! helpers when missing: the test fails rather than skips.

#[path = "../../s3-transport/tests/common/mod.rs"]
mod common;

use common::Moto;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use s3_encryption::{CommitmentPolicy, DecryptPolicy};
use s3_encryption_object_store::EncryptedStore;
use s3_encryption_transport::KmsKeyring;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

const BUCKET: &str = "official";

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ (i >> 10) as u8 ^ seed)
        .collect()
}

/// The harness venv's Python (boto3, amazon-s3-encryption-client-python 4.0.0), made by
/// `test-server/setup.sh` when missing (idempotent): the test fails rather than skips.
fn official_python() -> PathBuf {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = std::env::var_os("HARNESS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target/harness-venv"));
    let py = venv.join("bin/python");
    let ready = Command::new(&py)
        .args(["-c", "import s3_encryption"])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let out = Command::new("bash")
            .arg(repo.join("test-server/setup.sh"))
            .env("HARNESS_VENV", &venv)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "test-server/setup.sh: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    py
}

/// `official_kms.py ARGS` (the transport's peer script) against moto: its JSON answer.
fn official(moto: &str, args: &[String]) -> serde_json::Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../s3-transport/tests/peers/official_kms.py");
    let out = Command::new(official_python())
        .arg(script)
        .args(args)
        .env("AWS_ENDPOINT_URL", moto)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "official_kms.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_python_4_reads_what_the_adapter_writes_and_the_other_way_round() {
    let moto = Moto::start("object_store_official_interop");
    let key_id = moto.create_key().await;
    moto.s3()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let s3 = AmazonS3Builder::new()
        .with_endpoint(&moto.endpoint)
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .build()
        .unwrap();
    let keyring = Arc::new(KmsKeyring::new(moto.kms(), key_id.clone()).unwrap());
    // V2 objects of AWS's client are read under a policy that admits them.
    let policy = DecryptPolicy::default()
        .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
    let store = EncryptedStore::builder(s3, keyring).policy(policy).build();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };

    // The adapter writes (V3, KMS through the core trait); AWS's client reads.
    let ours = [("ours/small", data(33, 1)), ("ours/mid", data(200_003, 2))];
    let mut args = vec!["read".to_owned(), key_id.clone(), BUCKET.to_owned()];
    for (k, v) in &ours {
        store
            .put(&Path::from(*k), PutPayload::from(v.clone()))
            .await
            .unwrap();
        args.push(format!("{k}={}", file(&k.replace('/', "_"), v)));
    }
    let answer = official(&moto.endpoint, &args);
    assert_eq!(
        answer["ok"].as_array().map(Vec::len),
        Some(ours.len()),
        "{answer}"
    );

    // AWS's client writes V3 and V2; the adapter reads them whole and ranged.
    for (format, key) in [("v3", "theirs/v3"), ("v2", "theirs/v2")] {
        let pt = data(150_001, 7);
        let args = vec![
            "write".to_owned(),
            key_id.clone(),
            BUCKET.to_owned(),
            format.to_owned(),
            format!("{key}={}", file(&key.replace('/', "_"), &pt)),
        ];
        let answer = official(&moto.endpoint, &args);
        assert_eq!(answer["ok"].as_array().map(Vec::len), Some(1), "{answer}");
        let got = store
            .get(&Path::from(key))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&got[..], &pt[..], "{key}");
        let part = store
            .get_range(&Path::from(key), 70_000..140_000)
            .await
            .unwrap();
        assert_eq!(&part[..], &pt[70_000..140_000], "{key} ranged");
    }
}
