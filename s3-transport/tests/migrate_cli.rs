//! `s3ec migrate` end to end against moto (S3 + KMS): SDK-written V1/V2/V3 objects in both
//! placements, plain objects and a multipart object migrated to V3 and read back by this crate
//! under REQUIRE_ENCRYPT_REQUIRE_DECRYPT and (the KMS ones) by AWS's Python S3EC 4.0.0; the dry-run
//! inventory and the report; a rewrap after which the old keys open nothing; an object overwritten
//! during the run; a run killed with SIGKILL and resumed.

#![cfg(feature = "embedded-s3")]

mod common;
#[path = "common/migrate.rs"]
mod support;

use common::{Action, Moto, Proxy, Rule, aes_keyring, data};
use s3_encryption::{AesKey, CommitmentPolicy, Placement};
use s3_encryption_transport::{ClientKeyring, GetOptions, PutOptions, S3EncryptionClient};
use serde_json::Value;
use std::collections::BTreeMap;
use support::*;

const B: &str = "mig";

fn cli(m: &Moto) -> assert_cmd::Command {
    s3ec_at(&m.endpoint, Some(&m.endpoint), MOTO_ACCESS, MOTO_ACCESS)
}

async fn bucket(m: &Moto, versioned: bool) -> aws_sdk_s3::Client {
    let s3 = m.s3();
    s3.create_bucket().bucket(B).send().await.unwrap();
    if versioned {
        s3.put_bucket_versioning()
            .bucket(B)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    s3
}

/// A strict reader: REQUIRE_ENCRYPT_REQUIRE_DECRYPT, no legacy.
fn strict(m: &Moto, k: ClientKeyring) -> S3EncryptionClient {
    S3EncryptionClient::builder(m.s3(), k)
        .kms_client(m.kms())
        .commitment_policy(CommitmentPolicy::RequireEncryptRequireDecrypt)
        .build()
        .unwrap()
}

async fn read_sha(c: &S3EncryptionClient, key: &str) -> Result<String, String> {
    c.get_object_bytes(B, key, &GetOptions::default())
        .await
        .map(|(p, _)| sha256(&p))
        .map_err(|e| e.to_string())
}

fn statuses(r: &Value) -> BTreeMap<String, String> {
    r["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["key"].as_str().unwrap().to_owned(),
                o["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_written_bucket_migrates_to_v3_and_reads_back_strictly() {
    let m = Moto::start("migrate-mixed");
    let s3 = bucket(&m, false).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // Java V2 client (AES-GCM wrap, V2 metadata and instruction files, a multipart object) and its
    // legacy modes (AESWrap, AES-CBC content): one AES key.
    let java_key = vector_key("java-v2", "strict-aesgcm-meta-0");
    let java = upload(
        &s3,
        B,
        "java/",
        &vectors_for(&["java-v2", "java-legacy"], &java_key),
    )
    .await;
    std::fs::write(d.join("java.key"), aes_key_bytes(&java_key)).unwrap();
    // Ruby V1 and V2 with RSA, both placements.
    let rsa_pem = vector_key("ruby", "v2-rsa-meta-0000017");
    let ruby = upload(&s3, B, "rsa/", &vectors_for(&["ruby"], &rsa_pem)).await;
    std::fs::write(d.join("rsa.pem"), &rsa_pem).unwrap();
    // Plain objects.
    for k in ["java/plain.txt", "kms/plain.bin"] {
        s3.put_object()
            .bucket(B)
            .key(k)
            .body(b"plain".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    // KMS: V2 and V3 objects written by AWS's Python S3EC 4.0.0.
    let kms_key = m.create_key().await;
    let mut kms_objects = BTreeMap::new();
    for (i, (fmt, len)) in [
        ("v2", 0),
        ("v2", 17),
        ("v2", 70_000),
        ("v3", 1),
        ("v3", 4101),
    ]
    .into_iter()
    .enumerate()
    {
        let p = d.join(format!("kms-{i}"));
        std::fs::write(&p, data(len, i as u64 + 7)).unwrap();
        let key = format!("kms/{fmt}-{i}");
        let r = official(
            &m.endpoint,
            &[
                "write".into(),
                kms_key.clone(),
                B.into(),
                fmt.into(),
                format!("{key}={}", p.display()),
            ],
        );
        assert_eq!(r["failed"], serde_json::json!({}), "{r}");
        kms_objects.insert(key, p);
    }
    assert!(
        java.len() > 40 && ruby.len() > 20,
        "{} {}",
        java.len(),
        ruby.len()
    );
    assert!(
        java.iter().any(|u| u.len > 5 * 1024 * 1024),
        "no multipart object"
    );
    assert!(java.iter().any(|u| u.instruction_file) && java.iter().any(|u| !u.instruction_file));
    for f in ["V1", "V2"] {
        assert!(ruby.iter().any(|u| u.format == f), "no ruby {f}");
    }

    // Dry run: the inventory of java/, and nothing written.
    let etags_before = etags(&s3).await;
    let dry = d.join("dry.json");
    let o = cli(&m)
        .args([
            "migrate",
            "s3://mig/java/",
            "--to",
            "v3",
            "--legacy",
            "--dry-run",
            "--aes-key",
        ])
        .arg(d.join("java.key"))
        .arg("--report")
        .arg(&dry)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = report(&dry);
    assert_eq!(r["dry_run"], true);
    assert_eq!(
        total(&r, "would-migrate"),
        java.len() as u64,
        "{}",
        r["totals"]
    );
    assert_eq!(total(&r, "not-encrypted"), 1);
    assert_eq!(r["objects_total"], java.len() as u64 + 1);
    for f in ["V1", "V2"] {
        let n = java.iter().filter(|u| u.format == f).count() as u64;
        let b: u64 = java
            .iter()
            .filter(|u| u.format == f)
            .map(|u| u.stored)
            .sum();
        let inv = &r["inventory"]["format"][f];
        assert_eq!(
            inv["objects"].as_u64().unwrap_or(0),
            n,
            "{f}: {}",
            r["inventory"]
        );
        assert_eq!(inv["bytes"].as_u64().unwrap_or(0), b, "{f}: stored bytes");
    }
    let placed = |p: &str| {
        r["inventory"]["placement"][p]["objects"]
            .as_u64()
            .unwrap_or(0)
    };
    assert_eq!(
        placed("instruction-file"),
        java.iter().filter(|u| u.instruction_file).count() as u64
    );
    assert_eq!(
        r["inventory"]["size_class"]["<100MiB"]["objects"]
            .as_u64()
            .unwrap_or(0),
        java.iter().filter(|u| u.stored >= 1 << 20).count() as u64,
        "{}",
        r["inventory"]["size_class"]
    );
    // The inventory, printed for the record (cargo test -- --nocapture).
    println!(
        "dry run of s3://mig/java/:\n{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("by format:"));
    assert_eq!(etags(&s3).await, etags_before, "a dry run wrote");
    // Without --legacy the legacy objects are reported as not openable.
    let o = cli(&m)
        .args([
            "migrate",
            "s3://mig/java/",
            "--to",
            "v3",
            "--dry-run",
            "--aes-key",
        ])
        .arg(d.join("java.key"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("cannot open"));

    // The runs.
    let rep = d.join("java.json");
    cli(&m)
        .args([
            "migrate",
            "s3://mig/java/",
            "--to",
            "v3",
            "--legacy",
            "--concurrency",
            "4",
            "--aes-key",
        ])
        .arg(d.join("java.key"))
        .arg("--report")
        .arg(&rep)
        .assert()
        .success();
    let r = report(&rep);
    println!("report totals of s3://mig/java/: {}", r["totals"]);
    assert_eq!(total(&r, "migrated"), java.len() as u64, "{}", r["totals"]);
    assert_eq!(total(&r, "not-encrypted"), 1);
    assert_eq!(r["problems"], 0);
    for o in r["objects"].as_array().unwrap() {
        if o["status"] == "migrated" {
            assert!(
                o["new_etag"].is_string() && o["source_etag"].is_string(),
                "{o}"
            );
            assert!(o["form"]["format"].is_string(), "{o}");
        }
    }
    assert!(r["objects_per_s"].as_f64().unwrap() > 0.0 && r["elapsed_s"].as_f64().unwrap() > 0.0);
    let text = std::fs::read_to_string(&rep).unwrap();
    assert!(!text.contains(&java_key), "the report holds the key");
    cli(&m)
        .args([
            "migrate",
            "s3://mig/rsa/",
            "--to",
            "v3",
            "--legacy",
            "--rsa-key",
        ])
        .arg(d.join("rsa.pem"))
        .assert()
        .success();
    let rep = d.join("kms.json");
    cli(&m)
        .args([
            "migrate",
            "s3://mig/kms/",
            "--to",
            "v3",
            "--kms-key-id",
            &kms_key,
            "--report",
        ])
        .arg(&rep)
        .assert()
        .success();
    let st = statuses(&report(&rep));
    assert_eq!(st["kms/v2-0"], "migrated");
    assert_eq!(
        st["kms/v3-3"], "skipped",
        "a V3 object under the same key is in the target form"
    );
    assert_eq!(st["kms/plain.bin"], "not-encrypted");

    // Read back: this crate, strictly.
    let aes = strict(
        &m,
        ClientKeyring::aes(AesKey::from_slice(&aes_key_bytes(&java_key)).unwrap()),
    );
    let rsa = strict(&m, ClientKeyring::rsa_pem(&rsa_pem).unwrap());
    for (c, objs) in [(&aes, &java), (&rsa, &ruby)] {
        for u in objs {
            assert_eq!(
                read_sha(c, &u.key).await.as_deref(),
                Ok(u.sha256.as_str()),
                "{}",
                u.key
            );
            let h = c
                .head_object(B, &u.key, &GetOptions::default())
                .await
                .unwrap();
            assert_eq!(h.envelope.format_version.name(), "V3", "{}", u.key);
        }
    }
    let kms = strict(&m, ClientKeyring::kms(kms_key.clone()));
    for (k, p) in &kms_objects {
        let want = sha256(&std::fs::read(p).unwrap());
        assert_eq!(read_sha(&kms, k).await, Ok(want), "{k}");
    }
    // And AWS's Python S3EC 4.0.0 (REQUIRE_ENCRYPT_REQUIRE_DECRYPT) reads the KMS objects.
    let mut args = vec!["read".to_owned(), kms_key.clone(), B.to_owned()];
    args.extend(
        kms_objects
            .iter()
            .map(|(k, p)| format!("{k}={}", p.display())),
    );
    let r = official(&m.endpoint, &args);
    assert_eq!(r["failed"], serde_json::json!({}), "{r}");
    assert_eq!(r["ok"].as_array().unwrap().len(), kms_objects.len());

    // A rerun writes nothing: everything is in the target form.
    let before = etags(&s3).await;
    let rep = d.join("again.json");
    cli(&m)
        .args(["migrate", "s3://mig/java/", "--to", "v3", "--aes-key"])
        .arg(d.join("java.key"))
        .arg("--report")
        .arg(&rep)
        .assert()
        .success();
    assert_eq!(total(&report(&rep), "skipped"), java.len() as u64);
    assert_eq!(etags(&s3).await, before);
}

/// ETag of every object in the bucket.
async fn etags(s3: &aws_sdk_s3::Client) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut token = None;
    loop {
        let r = s3
            .list_objects_v2()
            .bucket(B)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        for o in r.contents() {
            out.insert(
                o.key().unwrap().to_owned(),
                o.e_tag().unwrap_or("").to_owned(),
            );
        }
        token = r.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrap_leaves_the_old_keys_unable_to_open_anything() {
    let m = Moto::start("migrate-rewrap");
    let s3 = bucket(&m, false).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("old.key"), [1u8; 32]).unwrap();
    std::fs::write(d.join("new.key"), [2u8; 32]).unwrap();
    let old = S3EncryptionClient::builder(s3.clone(), aes_keyring(1))
        .build()
        .unwrap();
    let old_if = S3EncryptionClient::builder(s3.clone(), aes_keyring(1))
        .placement(Placement::InstructionFile)
        .build()
        .unwrap();
    let mut want = BTreeMap::new();
    for i in 0..6u64 {
        let key = format!("r/{i}");
        let body = data(100 + i as usize * 1000, i);
        let c = if i % 2 == 0 { &old } else { &old_if };
        c.put_bytes(B, &key, &body, &PutOptions::default())
            .await
            .unwrap();
        want.insert(key, sha256(&body));
    }
    let rep = d.join("rewrap.json");
    cli(&m)
        .args(["migrate", "s3://mig/r/", "--rewrap", "--aes-key"])
        .arg(d.join("old.key"))
        .arg("--new-key")
        .arg(d.join("new.key"))
        .arg("--report")
        .arg(&rep)
        .assert()
        .success();
    let r = report(&rep);
    assert_eq!(total(&r, "migrated"), 6, "{}", r["totals"]);
    let new = strict(&m, aes_keyring(2));
    let old = strict(&m, aes_keyring(1));
    for (k, sha) in &want {
        assert_eq!(read_sha(&new, k).await.as_ref(), Ok(sha), "{k}");
        assert!(
            read_sha(&old, k).await.is_err(),
            "{k}: the old key still opens it"
        );
    }
    // KMS → KMS.
    let (k1, k2) = (m.create_key().await, m.create_key().await);
    let kc = strict(&m, ClientKeyring::kms(k1.clone()));
    kc.put_bytes(B, "k/one", b"kms secret", &PutOptions::default())
        .await
        .unwrap();
    cli(&m)
        .args([
            "migrate",
            "s3://mig/k/",
            "--rewrap",
            "--kms-key-id",
            &k1,
            "--new-kms-key-id",
            &k2,
        ])
        .assert()
        .success();
    let (pt, _) = strict(&m, ClientKeyring::kms(k2))
        .get_object_bytes(B, "k/one", &GetOptions::default())
        .await
        .unwrap();
    assert_eq!(pt, b"kms secret");
    assert!(
        kc.get_object_bytes(B, "k/one", &GetOptions::default())
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_overwritten_during_the_run_is_left_as_written_and_reported() {
    let m = Moto::start("migrate-overwrite");
    let s3 = bucket(&m, false).await;
    let v2 = S3EncryptionClient::builder(s3.clone(), aes_keyring(3))
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build()
        .unwrap();
    for k in ["victim", "other-1", "other-2"] {
        v2.put_bytes(B, k, &data(3000, 1), &PutOptions::default())
            .await
            .unwrap();
    }
    // When the migration's write of the victim passes the proxy, another writer replaces it first.
    let upstream: std::net::SocketAddr = m.endpoint.trim_start_matches("http://").parse().unwrap();
    // The hook blocks a worker of this runtime (the proxy's), so the writer runs on a runtime and
    // a connection pool of its own: none of its tasks can wait behind the blocked worker.
    let writer_conf = m.sdk_config();
    let proxy = Proxy::start(
        upstream,
        vec![Rule {
            markers: vec![b"PUT /mig/victim?".to_vec(), b"PUT /mig/victim ".to_vec()],
            occurrences: vec![1],
            action: Action::Call(Box::new(move || {
                let conf = writer_conf.clone();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        let w = s3_encryption_transport::local::s3_client_for(&conf);
                        w.put_object()
                            .bucket(B)
                            .key("victim")
                            .body(b"the writer's".to_vec().into())
                            .send()
                            .await
                            .unwrap();
                    })
                })
                .join()
                .unwrap();
            })),
        }],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k"), [3u8; 32]).unwrap();
    let rep = dir.path().join("r.json");
    let o = s3ec_at(&proxy.endpoint, Some(&m.endpoint), MOTO_ACCESS, MOTO_ACCESS)
        .args(["migrate", "s3://mig", "--to", "v3", "--aes-key"])
        .arg(dir.path().join("k"))
        .arg("--report")
        .arg(&rep)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("not migrated"));
    assert!(
        proxy.fired.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the hook never ran"
    );
    let st = statuses(&report(&rep));
    assert_eq!(st["victim"], "changed", "{st:?}");
    assert_eq!(
        (st["other-1"].as_str(), st["other-2"].as_str()),
        ("migrated", "migrated")
    );
    let got = s3
        .get_object()
        .bucket(B)
        .key("victim")
        .send()
        .await
        .unwrap();
    assert!(
        got.metadata().is_none_or(|md| md.is_empty()),
        "the writer's object was touched"
    );
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"the writer's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_midway_resumes_and_migrates_each_object_exactly_once() {
    let m = Moto::start("migrate-resume");
    let s3 = bucket(&m, true).await;
    let v2 = S3EncryptionClient::builder(s3.clone(), aes_keyring(4))
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build()
        .unwrap();
    const N: usize = 200;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..N {
        let c = v2.clone();
        set.spawn(async move {
            c.put_bytes(
                B,
                &format!("o/{i:03}"),
                &data(512 + i, i as u64),
                &PutOptions::default(),
            )
            .await
            .unwrap();
        });
    }
    set.join_all().await;
    let dir = tempfile::tempdir().unwrap();
    let (key, journal) = (dir.path().join("k"), dir.path().join("journal"));
    std::fs::write(&key, [4u8; 32]).unwrap();
    let run = || {
        let mut c = s3ec_std(&m.endpoint, None, MOTO_ACCESS, MOTO_ACCESS);
        c.args([
            "migrate",
            "s3://mig/o/",
            "--to",
            "v3",
            "--concurrency",
            "4",
            "--aes-key",
        ])
        .arg(&key)
        .arg("--journal")
        .arg(&journal)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        c
    };
    let mut child = run().spawn().unwrap();
    let t0 = std::time::Instant::now();
    loop {
        let lines = std::fs::read_to_string(&journal)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 20 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(t0.elapsed().as_secs() < 120, "no progress");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let first = std::fs::read_to_string(&journal).unwrap();
    let first_lines = first.lines().count();
    assert!(first_lines < N, "the run finished before it was killed");
    let st = run().status().unwrap();
    assert!(st.success(), "the resumed run failed: {st}");
    // Every key finished per the journal, each once after the kill point.
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut done = BTreeMap::<String, Vec<String>>::new();
    for l in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(l) else {
            continue;
        };
        done.entry(v["key"].as_str().unwrap().to_owned())
            .or_default()
            .push(v["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(done.len(), N, "journal keys");
    // Exactly two versions per key: the original and one migrated copy.
    let mut versions = BTreeMap::<String, usize>::new();
    let mut marker: (Option<String>, Option<String>) = (None, None);
    loop {
        let r = s3
            .list_object_versions()
            .bucket(B)
            .prefix("o/")
            .set_key_marker(marker.0.take())
            .set_version_id_marker(marker.1.take())
            .send()
            .await
            .unwrap();
        for v in r.versions() {
            *versions.entry(v.key().unwrap().to_owned()).or_default() += 1;
        }
        if r.is_truncated() != Some(true) {
            break;
        }
        marker = (
            r.next_key_marker().map(str::to_owned),
            r.next_version_id_marker().map(str::to_owned),
        );
    }
    assert_eq!(versions.len(), N);
    let bad: Vec<_> = versions.iter().filter(|(_, n)| **n != 2).collect();
    assert!(bad.is_empty(), "keys without exactly 2 versions: {bad:?}");
    let strict = strict(&m, aes_keyring(4));
    for i in (0..N).step_by(17) {
        let (pt, _) = strict
            .get_object_bytes(B, &format!("o/{i:03}"), &GetOptions::default())
            .await
            .unwrap();
        assert_eq!(pt, data(512 + i, i as u64));
    }
}
