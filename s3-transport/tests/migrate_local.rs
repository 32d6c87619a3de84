//! `s3ec migrate` against the embedded S3 server: manifest input (an S3 Batch Operations CSV), and
//! throttling (a stand-in answering 503 SlowDown) that slows the run down without failing it.

#![cfg(feature = "embedded-s3")]

mod common;
#[path = "common/migrate.rs"]
mod support;

use common::hostile::{Case, Hostile};
use common::{BUCKET, Local, aes_keyring, data};
use s3_encryption::CommitmentPolicy;
use s3_encryption_transport::local::{LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY};
use s3_encryption_transport::{GetOptions, PutOptions, S3EncryptionClient};
use support::*;

async fn v2_objects(local: &Local, keys: &[&str]) {
    let v2 = local
        .client(aes_keyring(5))
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build()
        .unwrap();
    for (i, k) in keys.iter().enumerate() {
        v2.put_bytes(BUCKET, k, &data(1000 + i, i as u64), &PutOptions::default())
            .await
            .unwrap();
    }
}

async fn format(c: &S3EncryptionClient, key: &str) -> &'static str {
    c.head_object(BUCKET, key, &GetOptions::default())
        .await
        .unwrap()
        .envelope
        .format_version
        .name()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_manifest_migrates_exactly_the_objects_it_names() {
    let local = Local::start().await;
    let keys = ["a b/one", "a b/two", "plus+sign", "not-listed", "x/é"];
    v2_objects(&local, &keys).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("k"), [5u8; 32]).unwrap();
    // As S3 Batch Operations takes it: bucket,key[,version], keys URL-encoded.
    std::fs::write(
        d.join("manifest.csv"),
        format!("{BUCKET},a%20b/one\n{BUCKET},plus%2Bsign,\n\"{BUCKET}\",\"x/%C3%A9\"\n"),
    )
    .unwrap();
    let rep = d.join("r.json");
    let o = s3ec_at(&local.endpoint(), None, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY)
        .args(["migrate", "--to", "v3", "--aes-key"])
        .arg(d.join("k"))
        .arg("--manifest")
        .arg(d.join("manifest.csv"))
        .arg("--report")
        .arg(&rep)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let r = report(&rep);
    assert_eq!(r["objects_total"], 3, "{r}");
    assert_eq!(total(&r, "migrated"), 3);
    let c = local
        .client(aes_keyring(5))
        .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
        .build()
        .unwrap();
    for (k, want) in [
        ("a b/one", "V3"),
        ("plus+sign", "V3"),
        ("x/é", "V3"),
        ("a b/two", "V2"),
        ("not-listed", "V2"),
    ] {
        assert_eq!(format(&c, k).await, want, "{k}");
    }
    // A manifest naming another bucket than the URL is refused before anything runs.
    let o = s3ec_at(&local.endpoint(), None, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY)
        .args(["migrate", "s3://other", "--to", "v3", "--aes-key"])
        .arg(d.join("k"))
        .arg("--manifest")
        .arg(d.join("manifest.csv"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(format(&c, "a b/two").await, "V2");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_writes_back_off_and_the_run_still_migrates_everything() {
    let local = Local::start().await;
    let keys: Vec<String> = (0..10).map(|i| format!("t/{i}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    v2_objects(&local, &refs).await;
    // Each object's first 4 PUTs are answered 503 SlowDown: more than the SDK's own 3 attempts,
    // so the runner's backoff has to retry each one.
    let hostile = Hostile::start(
        local.server.as_ref().unwrap().addr(),
        local.s3.clone(),
        Case::SlowDown {
            method: "PUT".into(),
            times: 4,
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k"), [5u8; 32]).unwrap();
    let rep = dir.path().join("r.json");
    let o = s3ec_at(&hostile.endpoint, None, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY)
        .args([
            "migrate",
            "s3://test/t/",
            "--to",
            "v3",
            "--concurrency",
            "10",
            "--aes-key",
        ])
        .arg(dir.path().join("k"))
        .arg("--report")
        .arg(&rep)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let r = report(&rep);
    assert_eq!(total(&r, "migrated"), 10, "{}", r["totals"]);
    let retried = r["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["attempts"].as_u64().unwrap() > 1)
        .count();
    assert_eq!(retried, 10, "every object needed the runner's retry");
    assert!(
        hostile
            .stats
            .rewritten
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 40
    );
    let c = local.client(aes_keyring(5)).build().unwrap();
    for (i, k) in keys.iter().enumerate() {
        let (pt, _) = c
            .get_object_bytes(BUCKET, k, &GetOptions::default())
            .await
            .unwrap();
        assert_eq!(pt, data(1000 + i, i as u64));
    }
    hostile.stop();
    local.stop().await;
}
