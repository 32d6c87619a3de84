//! `s3ec migrate` against the embedded S3 server, for what users of SDK-written buckets ran into:
//! the materials description kept, configuration errors found before the first object, a dry run
//! that reports what it would do, Ctrl-C that leaves a report and a resumable journal, several
//! old keys in one run, a retry hint only where a rerun helps, and superseded instruction files
//! removed on request.

#![cfg(feature = "embedded-s3")]

mod common;
#[path = "common/migrate.rs"]
mod support;

use common::hostile::{Case, Hostile};
use common::{BUCKET, Local, aes_keyring, data};
use s3_encryption::CommitmentPolicy;
use s3_encryption_transport::local::{LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY};
use s3_encryption_transport::{ClientKeyring, GetOptions, PutOptions, S3EncryptionClient};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use support::*;

fn cli(local: &Local) -> assert_cmd::Command {
    s3ec_at(&local.endpoint(), None, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY)
}

/// V2 objects (AES-GCM, metadata) under `[seed; 32]`, each `1000 + i` bytes.
async fn v2_objects(local: &Local, seed: u8, keys: &[String]) {
    let v2 = local
        .client(aes_keyring(seed))
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build()
        .unwrap();
    let mut set = tokio::task::JoinSet::new();
    for (i, k) in keys.iter().enumerate() {
        let (c, k) = (v2.clone(), k.clone());
        set.spawn(async move {
            c.put_bytes(
                BUCKET,
                &k,
                &data(1000 + i, i as u64),
                &PutOptions::default(),
            )
            .await
            .unwrap();
        });
    }
    set.join_all().await;
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:03}")).collect()
}

fn key_file(dir: &Path, name: &str, seed: u8) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, [seed; 32]).unwrap();
    p
}

async fn format(c: &S3EncryptionClient, key: &str) -> &'static str {
    c.head_object(BUCKET, key, &GetOptions::default())
        .await
        .unwrap()
        .envelope
        .format_version
        .name()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Raw metadata of `key`, as stored.
async fn raw_meta(local: &Local, key: &str) -> BTreeMap<String, String> {
    let h = local
        .s3
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    h.metadata()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ruby_materials_description_survives_migrate_to_v3() {
    let local = Local::start().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/ruby");
    let path = root.join("v2-aes-matdesc-meta-0004101.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let up = upload(&local.s3, BUCKET, "m/", &[(path, v.clone())]).await;
    let key = up[0].key.clone();
    let label: BTreeMap<String, String> =
        serde_json::from_str(&raw_meta(&local, &key).await["x-amz-matdesc"]).unwrap();
    assert_eq!(label["purpose"], "s3ec-vectors");
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("k");
    std::fs::write(&k, aes_key_bytes(v["key"]["key_b64"].as_str().unwrap())).unwrap();
    let o = cli(&local)
        .args(["migrate", "s3://test/m/", "--to", "v3", "--aes-key"])
        .arg(&k)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let meta = raw_meta(&local, &key).await;
    assert_eq!(meta.get("x-amz-c").map(String::as_str), Some("115"));
    let carried: BTreeMap<String, String> = serde_json::from_str(&meta["x-amz-m"]).unwrap();
    assert_eq!(carried, label, "x-amz-matdesc became x-amz-m");
    assert!(!meta.contains_key("x-amz-matdesc"));
    // And this crate reads it back under the same key, to the SDK's plaintext.
    let c = local
        .client(ClientKeyring::aes(
            s3_encryption::AesKey::from_slice(&std::fs::read(&k).unwrap()).unwrap(),
        ))
        .build()
        .unwrap();
    let (pt, info) = c
        .get_object_bytes(BUCKET, &key, &GetOptions::default())
        .await
        .unwrap();
    assert_eq!(sha256(&pt), up[0].sha256);
    let md: BTreeMap<String, String> =
        serde_json::from_str(info.info.envelope.materials_description.as_deref().unwrap()).unwrap();
    assert_eq!(md, label);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_new_key_is_one_usage_error_before_any_object_also_in_a_dry_run() {
    use s3_encryption::rsa::pkcs8::{EncodePublicKey, LineEnding};
    let local = Local::start().await;
    let keys = names("p/", 3);
    v2_objects(&local, 5, &keys).await;
    let dir = tempfile::tempdir().unwrap();
    let k = key_file(dir.path(), "k", 5);
    let public = common::rsa_key()
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    std::fs::write(dir.path().join("pub.pem"), public).unwrap();
    for dry in [false, true] {
        let mut c = cli(&local);
        c.args(["migrate", "s3://test/p/", "--to", "v3", "--aes-key"])
            .arg(&k)
            .arg("--new-key")
            .arg(dir.path().join("pub.pem"));
        if dry {
            c.arg("--dry-run");
        }
        let o = c.output().unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "dry={dry}: {err}");
        assert_eq!(err.matches("cannot decrypt").count(), 1, "{err}");
        assert!(
            o.stdout.is_empty(),
            "no per-object report: {}",
            text(&o.stdout)
        );
    }
    let c = local.client(aes_keyring(5)).build().unwrap();
    for k in &keys {
        assert_eq!(format(&c, k).await, "V2");
    }
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_what_it_would_migrate_and_how_many_bytes() {
    let local = Local::start().await;
    let keys = names("d/", 4);
    v2_objects(&local, 5, &keys).await;
    // One object under another key: the given key cannot open it.
    v2_objects(&local, 6, &["d/other".to_owned()]).await;
    let dir = tempfile::tempdir().unwrap();
    let k = key_file(dir.path(), "k", 5);
    let rep = dir.path().join("r.json");
    let o = cli(&local)
        .args([
            "migrate",
            "s3://test/d/",
            "--to",
            "v3",
            "--dry-run",
            "--aes-key",
        ])
        .arg(&k)
        .arg("--report")
        .arg(&rep)
        .output()
        .unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let want: usize = (0..4).map(|i| 1000 + i).sum();
    let head = out.lines().next().unwrap();
    assert!(
        head.starts_with("dry run, nothing written: 5 objects examined"),
        "{head}"
    );
    assert!(
        head.contains(&format!("4 would be migrated ({want} bytes)")),
        "{head}"
    );
    assert!(!head.contains("MB/s"), "{head}");
    assert!(!err.contains("changed during the run"), "{err}");
    assert!(
        err.contains("could not be migrated with the given keys"),
        "{err}"
    );
    let r = report(&rep);
    assert_eq!(r["bytes"], want as u64, "{r}");
    assert!(r["mb_per_s"].is_null());
    assert_eq!(total(&r, "would-migrate"), 4);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_finishes_the_objects_in_flight_reports_and_the_rerun_resumes() {
    let local = Local::start().await;
    const N: usize = 300;
    let keys = names("s/", N);
    v2_objects(&local, 4, &keys).await;
    let dir = tempfile::tempdir().unwrap();
    let k = key_file(dir.path(), "k", 4);
    let (journal, rep) = (dir.path().join("journal"), dir.path().join("r.json"));
    let run = || {
        let mut c = s3ec_std(&local.endpoint(), None, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY);
        c.args([
            "migrate",
            "s3://test/s/",
            "--to",
            "v3",
            "--concurrency",
            "2",
            "--aes-key",
        ])
        .arg(&k)
        .arg("--journal")
        .arg(&journal)
        .arg("--report")
        .arg(&rep)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        c
    };
    let child = run().spawn().unwrap();
    let t0 = std::time::Instant::now();
    loop {
        let lines = std::fs::read_to_string(&journal)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 10 {
            break;
        }
        assert!(t0.elapsed().as_secs() < 120, "no progress");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let st = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let o = child.wait_with_output().unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(130), "{out}{err}");
    assert!(
        out.starts_with("migration: "),
        "the summary is printed: {out}"
    );
    assert!(out.contains("interrupted"), "{out}");
    assert!(err.contains("interrupted"), "{err}");
    // The journal: every line whole, each key once, exactly the objects the report lists.
    let first = std::fs::read_to_string(&journal).unwrap();
    let mut seen = BTreeSet::new();
    for l in first.lines() {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert_eq!(v["status"], "migrated", "{l}");
        assert!(seen.insert(v["key"].as_str().unwrap().to_owned()), "{l}");
    }
    assert!(first.ends_with('\n'));
    let r = report(&rep);
    assert_eq!(r["interrupted"], true);
    assert_eq!(r["objects_total"].as_u64().unwrap() as usize, seen.len());
    assert!(seen.len() < N, "interrupted before the end");
    assert_eq!(
        r["not_started"].as_u64().unwrap() as usize,
        N - seen.len(),
        "{}",
        r["not_started"]
    );
    // The rerun resumes: it skips what the journal lists and migrates the rest.
    let o = run().output().unwrap();
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let r = report(&rep);
    assert_eq!(
        r["resumed_from_journal"].as_u64().unwrap() as usize,
        seen.len()
    );
    assert_eq!(total(&r, "migrated") as usize, N - seen.len());
    let c = local.client(aes_keyring(4)).build().unwrap();
    for i in (0..N).step_by(23) {
        assert_eq!(format(&c, &keys[i]).await, "V3", "{}", keys[i]);
    }
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_under_two_old_keys_migrate_in_one_run() {
    let local = Local::start().await;
    let (a, b) = (names("x/a", 3), names("x/b", 3));
    v2_objects(&local, 5, &a).await;
    v2_objects(&local, 6, &b).await;
    let dir = tempfile::tempdir().unwrap();
    let (ka, kb, kn) = (
        key_file(dir.path(), "a", 5),
        key_file(dir.path(), "b", 6),
        key_file(dir.path(), "n", 7),
    );
    // Two old keys and no new one: which would write is ambiguous.
    let o = cli(&local)
        .args(["migrate", "s3://test/x/", "--to", "v3", "--aes-key"])
        .arg(&ka)
        .arg("--aes-key")
        .arg(&kb)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let rep = dir.path().join("r.json");
    let o = cli(&local)
        .args(["migrate", "s3://test/x/", "--to", "v3", "--aes-key"])
        .arg(&ka)
        .arg("--aes-key")
        .arg(&kb)
        .arg("--new-key")
        .arg(&kn)
        .arg("--report")
        .arg(&rep)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(total(&report(&rep), "migrated"), 6);
    let c = local.client(aes_keyring(7)).build().unwrap();
    for (i, k) in a.iter().chain(&b).enumerate() {
        let (pt, info) = c
            .get_object_bytes(BUCKET, k, &GetOptions::default())
            .await
            .unwrap();
        assert_eq!(pt, data(1000 + i % 3, (i % 3) as u64), "{k}");
        assert_eq!(info.info.envelope.format_version.name(), "V3");
    }
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_hint_appears_only_for_failures_a_rerun_can_fix() {
    let local = Local::start().await;
    v2_objects(&local, 5, &names("h/", 2)).await;
    v2_objects(&local, 6, &["h/other".to_owned()]).await;
    let dir = tempfile::tempdir().unwrap();
    let k = key_file(dir.path(), "k", 5);
    // An object the key cannot open: a rerun fails the same way, so no retry hint.
    let o = cli(&local)
        .args(["migrate", "s3://test/h/", "--to", "v3", "--aes-key"])
        .arg(&k)
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("1 not openable with the given keys"), "{err}");
    assert!(!err.contains("rerun"), "{err}");
    // A throttled write past the attempts allowed: a rerun may succeed, so the hint says so.
    v2_objects(&local, 5, &["t/0".to_owned()]).await;
    let hostile = Hostile::start(
        local.server.as_ref().unwrap().addr(),
        local.s3.clone(),
        Case::SlowDown {
            method: "PUT".into(),
            times: 4,
        },
    )
    .await;
    let o = s3ec_at(&hostile.endpoint, None, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY)
        .args([
            "migrate",
            "s3://test/t/",
            "--to",
            "v3",
            "--max-attempts",
            "1",
            "--aes-key",
        ])
        .arg(&k)
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("a rerun retries the 1 objects that failed temporarily"),
        "{err}"
    );
    hostile.stop();
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superseded_instruction_files_are_removed_only_on_request() {
    let local = Local::start().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/ruby");
    let path = root.join("v2-aes-instr-0004101.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let kept = upload(&local.s3, BUCKET, "keep/", &[(path.clone(), v.clone())]).await;
    let gone = upload(&local.s3, BUCKET, "rm/", &[(path, v.clone())]).await;
    assert!(kept[0].instruction_file && gone[0].instruction_file);
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("k");
    std::fs::write(&k, aes_key_bytes(v["key"]["key_b64"].as_str().unwrap())).unwrap();
    let exists = |key: String| {
        let s3 = local.s3.clone();
        async move {
            s3.head_object()
                .bucket(BUCKET)
                .key(key)
                .send()
                .await
                .is_ok()
        }
    };
    // Default: migrated, the old instruction file left (and said so).
    let rep = dir.path().join("keep.json");
    let o = cli(&local)
        .args(["migrate", "s3://test/keep/", "--to", "v3", "--aes-key"])
        .arg(&k)
        .arg("--report")
        .arg(&rep)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(exists(format!("{}.instruction", kept[0].key)).await);
    let r = report(&rep);
    assert_eq!(r["instruction_files_removed"], 0);
    assert!(
        r["objects"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("left in place")
    );
    // Opted in: removed after the verification, in the report, the summary and the journal.
    let (rep, journal) = (dir.path().join("rm.json"), dir.path().join("journal"));
    let o = cli(&local)
        .args(["migrate", "s3://test/rm/", "--to", "v3", "--aes-key"])
        .arg(&k)
        .args(["--remove-instruction-files", "--report"])
        .arg(&rep)
        .arg("--journal")
        .arg(&journal)
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    assert!(!exists(format!("{}.instruction", gone[0].key)).await);
    assert!(
        out.contains("superseded instruction files removed: 1"),
        "{out}"
    );
    let r = report(&rep);
    assert_eq!(r["instruction_files_removed"], 1);
    assert_eq!(r["objects"][0]["instruction_file_removed"], true);
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&journal).unwrap().trim()).unwrap();
    assert_eq!(line["instruction_file_removed"], true);
    // The new object needs nothing else.
    let c = local
        .client(ClientKeyring::aes(
            s3_encryption::AesKey::from_slice(&std::fs::read(&k).unwrap()).unwrap(),
        ))
        .build()
        .unwrap();
    let (pt, _) = c
        .get_object_bytes(BUCKET, &gone[0].key, &GetOptions::default())
        .await
        .unwrap();
    assert_eq!(sha256(&pt), gone[0].sha256);
    local.stop().await;
}
