//! Objects written by the real AWS SDKs (the conformance vectors under `test-vectors/`, with AES or
//! RSA keys) uploaded raw through the plain S3 client to the embedded server, then read back
//! through this crate's client: every one must return its recorded plaintext.

mod common;

use base64ct::{Base64, Encoding};
use common::*;
use s3_encryption::{AesKey, CommitmentPolicy};
use s3_encryption_transport::{ClientKeyring, GetOptions};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors");
    let mut out = vec![];
    for dir in ["java-v2", "java-legacy", "ruby", "ss-0.1.3"] {
        let mut v: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        v.sort();
        out.extend(v);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_written_objects_read_back_through_the_client() {
    let local = Local::start().await;
    let (mut passed, mut failed) = (0, 0);
    for path in cases() {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let d = &v["decrypt"];
        // SDK-written, positive, whole-object cases with a raw key (KMS blobs belong to the SDKs'
        // KMS stand-ins).
        if !v["derived_from"].is_null()
            || !d["range"].is_null()
            || v["expect"].get("error").is_some()
        {
            continue;
        }
        let keyring = match v["key"]["kind"].as_str().unwrap() {
            "aes" => ClientKeyring::aes(
                AesKey::from_slice(
                    &Base64::decode_vec(v["key"]["key_b64"].as_str().unwrap()).unwrap(),
                )
                .unwrap(),
            ),
            "rsa" => ClientKeyring::rsa_pem(v["key"]["private_key_pem"].as_str().unwrap()).unwrap(),
            _ => continue,
        };
        let dir = path.parent().unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let key = format!("{}/{name}", dir.file_name().unwrap().to_string_lossy());
        let body = std::fs::read(dir.join(v["object"]["body"].as_str().unwrap())).unwrap();
        let mut put = local
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(&key)
            .body(body.into());
        for (k, val) in v["object"]["metadata"].as_object().unwrap() {
            put = put.metadata(k.to_lowercase(), val.as_str().unwrap());
        }
        put.send().await.unwrap();
        if let Some(i) = v["instruction_file"]["body"].as_str() {
            let ins = std::fs::read(dir.join(i)).unwrap();
            local
                .s3
                .put_object()
                .bucket(BUCKET)
                .key(format!("{key}.instruction"))
                .body(ins.into())
                .send()
                .await
                .unwrap();
        }
        let policy = match d["commitment_policy"].as_str().unwrap() {
            "REQUIRE_ENCRYPT_REQUIRE_DECRYPT" => CommitmentPolicy::RequireEncryptRequireDecrypt,
            "REQUIRE_ENCRYPT_ALLOW_DECRYPT" => CommitmentPolicy::RequireEncryptAllowDecrypt,
            _ => CommitmentPolicy::ForbidEncryptAllowDecrypt,
        };
        let client = local
            .client(keyring)
            .commitment_policy(policy)
            .enable_legacy_wrapping_algorithms(d["legacy_wrapping_algorithms"].as_bool().unwrap())
            .enable_legacy_unauthenticated_modes(
                d["legacy_unauthenticated_modes"].as_bool().unwrap(),
            )
            .build()
            .unwrap();
        match client
            .get_object_bytes(BUCKET, &key, &GetOptions::default())
            .await
        {
            Ok((pt, _))
                if hex::encode(Sha256::digest(&pt))
                    == v["expect"]["plaintext_sha256"].as_str().unwrap() =>
            {
                passed += 1
            }
            Ok((pt, _)) => {
                failed += 1;
                println!("FAIL {key}: wrong plaintext ({} bytes)", pt.len());
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {key}: {e}");
            }
        }
    }
    local.stop().await;
    println!("sdk objects through the client: {passed} passed, {failed} failed");
    assert!(passed > 100, "too few SDK-written objects ran: {passed}");
    assert_eq!(failed, 0);
}
