//! The S3 Batch Operations handler ([`Handler::handle`]) invoked with events shaped as the AWS
//! documentation shows them (invocation schema 1.0: `s3BucketArn`, job arguments from the
//! function's environment; 2.0: `s3Bucket` and `job.userArguments`), against the embedded S3
//! server (schema 1.0, AES key file) and moto S3 + KMS (schema 2.0), each started and stopped
//! here. Every result code is checked against what the bucket holds afterwards: `Succeeded`
//! (migrated, then skipped on a rerun; a re-wrap), `PermanentFailure` (not encrypted, a key that
//! cannot open it, changed during the migration, missing, bad job arguments), `TemporaryFailure`
//! (a stand-in answering every PUT with 503 SlowDown).

#[path = "../../s3-transport/tests/common/mod.rs"]
mod common;

use common::hostile::{Case, Hostile};
use common::{Action, BUCKET, Local, Moto, Proxy, Rule, data};
use s3_encryption::{AesKey, CommitmentPolicy};
use s3_encryption_transport::local::{s3_client_for, sdk_config_for};
use s3_encryption_transport::{ClientKeyring, GetOptions, PutOptions, S3EncryptionClient};
use s3ec_lambda::{Env, Handler, S3BatchJobEvent, S3BatchJobResponse};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn env(pairs: &[(&str, &str)]) -> Env {
    Env(pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect())
}

fn event(v: Value) -> S3BatchJobEvent {
    serde_json::from_value(v).expect("a real-shaped event parses")
}

/// taskId → (resultCode, resultString), after checking the echoed fields and the string limits.
fn results(
    resp: &S3BatchJobResponse,
    invocation: &str,
    schema: &str,
    secrets: &[&str],
) -> BTreeMap<String, (String, String)> {
    let v = serde_json::to_value(resp).unwrap();
    assert_eq!(v["invocationId"], invocation, "{v}");
    assert_eq!(v["invocationSchemaVersion"], schema, "{v}");
    assert_eq!(v["treatMissingKeysAs"], "PermanentFailure", "{v}");
    let mut out = BTreeMap::new();
    for r in v["results"].as_array().unwrap() {
        let code = r["resultCode"].as_str().unwrap().to_owned();
        let text = r["resultString"].as_str().unwrap().to_owned();
        assert!(
            ["Succeeded", "TemporaryFailure", "PermanentFailure"].contains(&code.as_str()),
            "{r}"
        );
        assert!(
            !text.is_empty() && text.len() <= 256,
            "result string {text:?}"
        );
        for s in secrets {
            assert!(
                !text.contains(s),
                "a result string holds key material: {text:?}"
            );
        }
        out.insert(r["taskId"].as_str().unwrap().to_owned(), (code, text));
    }
    out
}

async fn format_of(c: &S3EncryptionClient, bucket: &str, key: &str) -> &'static str {
    c.head_object(bucket, key, &GetOptions::default())
        .await
        .unwrap()
        .envelope
        .format_version
        .name()
}

/// Schema 1.0: the job's arguments come from the environment; the key is an AES key file (hex).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_1_0_events_migrate_with_an_aes_key_file_and_answer_each_code() {
    let local = Local::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key_hex = hex::encode([7u8; 32]);
    let key_file = dir.path().join("aes.hex");
    std::fs::write(&key_file, &key_hex).unwrap();
    let writer = |seed: u8| {
        local
            .client(ClientKeyring::aes(AesKey::new_256([seed; 32])))
            .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
            .build()
            .unwrap()
    };
    writer(7)
        .put_bytes(
            BUCKET,
            "photos/a.jpg",
            &data(5000, 1),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    // S3 Batch Operations passes keys URL-encoded, as the manifest holds them.
    writer(7)
        .put_bytes(
            BUCKET,
            "photos/summer 2024/été+1.jpg",
            &data(700, 3),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    writer(8)
        .put_bytes(
            BUCKET,
            "photos/other-key",
            &data(100, 2),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    local
        .s3
        .put_object()
        .bucket(BUCKET)
        .key("photos/plain.txt")
        .body(b"plain".to_vec().into())
        .send()
        .await
        .unwrap();
    let kms = aws_sdk_kms::Client::new(&sdk_config_for(&local.endpoint()));
    let h = Handler::new(
        local.s3.clone(),
        kms.clone(),
        env(&[
            ("S3EC_OPERATION", "to-v3"),
            ("S3EC_KEY_FILE", key_file.to_str().unwrap()),
        ]),
    );
    let arn = format!("arn:aws:s3:::{BUCKET}");
    let ev = || {
        event(json!({
            "invocationSchemaVersion": "1.0",
            "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
            "job": { "id": "f3cc4f60-61f6-4a2b-8a21-d07600c373ce" },
            "tasks": [
                { "taskId": "t-a", "s3Key": "photos/a.jpg", "s3VersionId": null, "s3BucketArn": arn },
                { "taskId": "t-encoded", "s3Key": "photos/summer+2024/%C3%A9t%C3%A9%2B1.jpg", "s3VersionId": null, "s3BucketArn": arn },
                { "taskId": "t-bad-escape", "s3Key": "photos/100%", "s3VersionId": null, "s3BucketArn": arn },
                { "taskId": "t-other", "s3Key": "photos/other-key", "s3VersionId": null, "s3BucketArn": arn },
                { "taskId": "t-plain", "s3Key": "photos/plain.txt", "s3VersionId": null, "s3BucketArn": arn },
                { "taskId": "t-missing", "s3Key": "photos/missing", "s3VersionId": null, "s3BucketArn": arn },
                { "taskId": "t-badarn", "s3Key": "photos/a.jpg", "s3VersionId": null,
                  "s3BucketArn": "arn:aws:iam::123456789012:role/not-a-bucket" }
            ]
        }))
    };
    let secrets = [key_hex.as_str()];
    let inv = "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo";
    let r = results(&h.handle(ev()).await, inv, "1.0", &secrets);
    assert_eq!(r.len(), 7);
    assert_eq!(r["t-a"].0, "Succeeded", "{r:?}");
    assert!(r["t-a"].1.starts_with("migrated (was V2"), "{r:?}");
    assert_eq!(r["t-encoded"].0, "Succeeded", "{r:?}");
    assert!(r["t-encoded"].1.starts_with("migrated (was V2"), "{r:?}");
    assert_eq!(
        r["t-bad-escape"],
        (
            "PermanentFailure".into(),
            "the key is not URL-encoded UTF-8".into()
        )
    );
    assert_eq!(r["t-other"].0, "PermanentFailure", "{r:?}");
    assert!(r["t-other"].1.contains("cannot open"), "{r:?}");
    assert_eq!(
        r["t-plain"],
        ("PermanentFailure".into(), "not encrypted".into())
    );
    assert_eq!(r["t-missing"].0, "PermanentFailure", "{r:?}");
    assert_eq!(
        r["t-badarn"],
        ("PermanentFailure".into(), "no bucket in the task".into())
    );
    // The bucket agrees: a is V3 (a strict reader opens it), the others are as they were.
    let strict = local
        .client(ClientKeyring::aes(AesKey::new_256([7u8; 32])))
        .commitment_policy(CommitmentPolicy::RequireEncryptRequireDecrypt)
        .build()
        .unwrap();
    let (pt, _) = strict
        .get_object_bytes(BUCKET, "photos/a.jpg", &GetOptions::default())
        .await
        .unwrap();
    assert_eq!(pt, data(5000, 1));
    let (pt, _) = strict
        .get_object_bytes(
            BUCKET,
            "photos/summer 2024/été+1.jpg",
            &GetOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(pt, data(700, 3));
    assert_eq!(
        format_of(&writer(8), BUCKET, "photos/other-key").await,
        "V2"
    );
    // S3 retries nothing that succeeded, but a rerun of the job is safe: a is skipped.
    let r = results(&h.handle(ev()).await, inv, "1.0", &secrets);
    assert_eq!(r["t-a"].0, "Succeeded", "a rerun answers Succeeded: {r:?}");
    assert!(
        r["t-a"].1.starts_with("already in the target form"),
        "{r:?}"
    );
    // Without an operation (schema 1.0 has no userArguments) every task fails permanently.
    let bare = Handler::new(
        local.s3.clone(),
        kms,
        env(&[("S3EC_KEY_FILE", key_file.to_str().unwrap())]),
    );
    let r = results(&bare.handle(ev()).await, inv, "1.0", &secrets);
    assert!(
        r.values()
            .all(|(c, s)| c == "PermanentFailure" && s.starts_with("bad job arguments")),
        "{r:?}"
    );
    local.stop().await;
}

/// The workspace's `s3ec-fake-hsm` (a keyring program holding an AES key), built if missing.
fn fake_hsm() -> std::path::PathBuf {
    let dir = std::env::current_exe().unwrap();
    let dir = dir.parent().unwrap().parent().unwrap();
    let exe = dir.join("s3ec-fake-hsm");
    if !exe.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "-p",
                "s3-encryption-transport",
                "--bin",
                "s3ec-fake-hsm",
            ])
            .status()
            .unwrap();
        assert!(status.success(), "cargo build of s3ec-fake-hsm failed");
    }
    assert!(exe.exists(), "no {}", exe.display());
    exe
}

/// A key behind a keyring program (`S3EC_KEYRING_PROGRAM`, as an HSM plugs in): the handler
/// unwraps and wraps through it, and the object it writes opens with the program's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyring_program_is_a_key_source() {
    let local = Local::start().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hsm.log");
    let key = AesKey::new_256([9u8; 32]);
    local
        .client(ClientKeyring::aes(key.clone()))
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build()
        .unwrap()
        .put_bytes(BUCKET, "hsm/a", &data(3000, 4), &PutOptions::default())
        .await
        .unwrap();
    let program = format!(
        "env FAKE_HSM_KEY={} {} --log {}",
        hex::encode([9u8; 32]),
        fake_hsm().display(),
        log.display()
    );
    let kms = aws_sdk_kms::Client::new(&sdk_config_for(&local.endpoint()));
    let h = Handler::new(
        local.s3.clone(),
        kms.clone(),
        env(&[
            ("S3EC_OPERATION", "to-v3"),
            ("S3EC_KEYRING_PROGRAM", program.as_str()),
        ]),
    );
    let arn = format!("arn:aws:s3:::{BUCKET}");
    let inv = "aHNtLWpvYg";
    let ev = || {
        event(json!({
            "invocationSchemaVersion": "1.0",
            "invocationId": inv,
            "job": { "id": "0d6a4b2e-3f54-4b3c-9a52-1a4c0f0f3a11" },
            "tasks": [{ "taskId": "t", "s3Key": "hsm/a", "s3VersionId": null, "s3BucketArn": arn }]
        }))
    };
    let r = results(&h.handle(ev()).await, inv, "1.0", &[]);
    assert_eq!(r["t"].0, "Succeeded", "{r:?}");
    assert!(r["t"].1.starts_with("migrated (was V2"), "{r:?}");
    let strict = local
        .client(ClientKeyring::aes(key))
        .commitment_policy(CommitmentPolicy::RequireEncryptRequireDecrypt)
        .build()
        .unwrap();
    let (pt, _) = strict
        .get_object_bytes(BUCKET, "hsm/a", &GetOptions::default())
        .await
        .unwrap();
    assert_eq!(pt, data(3000, 4));
    let log = std::fs::read_to_string(&log).unwrap();
    let ops: Vec<&str> = log.lines().collect();
    assert!(ops.contains(&"unwrap") && ops.contains(&"wrap"), "{log}");
    // A program that is not there fails every task with the reason, not a panic.
    let broken = Handler::new(
        local.s3.clone(),
        kms,
        env(&[
            ("S3EC_OPERATION", "to-v3"),
            ("S3EC_KEYRING_PROGRAM", "/nonexistent/keyring-program"),
        ]),
    );
    let r = results(&broken.handle(ev()).await, inv, "1.0", &[]);
    assert_eq!(r["t"].0, "PermanentFailure", "{r:?}");
    assert!(r["t"].1.contains("keyring program"), "{r:?}");
    local.stop().await;
}

fn ev2(inv: &str, args: Value, keys: &[(&str, &str)]) -> S3BatchJobEvent {
    let tasks: Vec<Value> = keys
        .iter()
        .map(|(id, k)| json!({ "taskId": id, "s3Bucket": "mig", "s3Key": k, "s3VersionId": null }))
        .collect();
    event(json!({
        "invocationSchemaVersion": "2.0",
        "invocationId": inv,
        "job": { "id": "ea7a9a1e-0a46-4f2c-8d37-4b1d6c1f3a2e", "userArguments": args },
        "tasks": tasks
    }))
}

async fn moto_bucket(m: &Moto) -> aws_sdk_s3::Client {
    let s3 = m.s3();
    s3.create_bucket().bucket("mig").send().await.unwrap();
    s3
}

fn kms_client(
    m: &Moto,
    s3: aws_sdk_s3::Client,
    key: &str,
    policy: CommitmentPolicy,
) -> S3EncryptionClient {
    S3EncryptionClient::builder(s3, ClientKeyring::kms(key))
        .kms_client(m.kms())
        .commitment_policy(policy)
        .build()
        .unwrap()
}

/// Schema 2.0 against moto S3 + KMS: `userArguments` select the operation and the KMS keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_2_0_events_to_v3_and_rewrap_with_kms_keys_from_user_arguments() {
    let m = Moto::start("lambda-schema-2");
    let s3 = moto_bucket(&m).await;
    let (k1, k2) = (m.create_key().await, m.create_key().await);
    let v2 = kms_client(
        &m,
        s3.clone(),
        &k1,
        CommitmentPolicy::ForbidEncryptAllowDecrypt,
    );
    for (i, k) in ["a", "b"].into_iter().enumerate() {
        v2.put_bytes("mig", k, &data(3000 + i, i as u64), &PutOptions::default())
            .await
            .unwrap();
    }
    kms_client(
        &m,
        s3.clone(),
        &k2,
        CommitmentPolicy::ForbidEncryptAllowDecrypt,
    )
    .put_bytes("mig", "under-k2", &data(10, 9), &PutOptions::default())
    .await
    .unwrap();
    s3.put_object()
        .bucket("mig")
        .key("plain")
        .body(b"plain".to_vec().into())
        .send()
        .await
        .unwrap();
    let h = Handler::new(s3.clone(), m.kms(), Env::default());
    let tasks = [("1", "a"), ("2", "b"), ("3", "under-k2"), ("4", "plain")];
    let to_v3 = json!({ "operation": "to-v3", "kmsKeyId": k1 });
    let r = results(
        &h.handle(ev2("inv-1", to_v3.clone(), &tasks)).await,
        "inv-1",
        "2.0",
        &[],
    );
    assert_eq!(r["1"].0, "Succeeded", "{r:?}");
    assert_eq!(r["2"].0, "Succeeded", "{r:?}");
    assert!(
        r["1"].1.starts_with("migrated (was V2 kms+context)"),
        "{r:?}"
    );
    assert_eq!(r["3"].0, "PermanentFailure", "{r:?}");
    assert_eq!(r["4"], ("PermanentFailure".into(), "not encrypted".into()));
    let strict_k1 = kms_client(
        &m,
        s3.clone(),
        &k1,
        CommitmentPolicy::RequireEncryptRequireDecrypt,
    );
    for (i, k) in ["a", "b"].into_iter().enumerate() {
        assert_eq!(format_of(&strict_k1, "mig", k).await, "V3");
        let (pt, _) = strict_k1
            .get_object_bytes("mig", k, &GetOptions::default())
            .await
            .unwrap();
        assert_eq!(pt, data(3000 + i, i as u64));
    }
    // A rerun (S3 retrying, or a second job): skipped, still Succeeded.
    let r = results(
        &h.handle(ev2("inv-2", to_v3, &tasks[..1])).await,
        "inv-2",
        "2.0",
        &[],
    );
    assert_eq!(r["1"].0, "Succeeded");
    assert!(r["1"].1.starts_with("already in the target form"), "{r:?}");
    // Re-wrap a under k2 (KMS ReEncrypt): k2 opens it, k1 no longer does.
    let rewrap = json!({ "operation": "rewrap", "kmsKeyId": k1, "newKmsKeyId": k2 });
    let r = results(
        &h.handle(ev2("inv-3", rewrap, &tasks[..1])).await,
        "inv-3",
        "2.0",
        &[],
    );
    assert_eq!(r["1"].0, "Succeeded", "{r:?}");
    assert!(r["1"].1.starts_with("migrated"), "{r:?}");
    let strict_k2 = kms_client(
        &m,
        s3.clone(),
        &k2,
        CommitmentPolicy::RequireEncryptRequireDecrypt,
    );
    let (pt, _) = strict_k2
        .get_object_bytes("mig", "a", &GetOptions::default())
        .await
        .unwrap();
    assert_eq!(pt, data(3000, 0));
    assert!(
        strict_k1
            .get_object_bytes("mig", "a", &GetOptions::default())
            .await
            .is_err(),
        "the old key still opens the re-wrapped object"
    );
    // Bad userArguments: every task answers PermanentFailure, nothing is touched.
    let bad = json!({ "operation": "shred", "kmsKeyId": k1 });
    let r = results(
        &h.handle(ev2("inv-4", bad, &tasks[1..2])).await,
        "inv-4",
        "2.0",
        &[],
    );
    assert_eq!(r["2"].0, "PermanentFailure");
    assert!(r["2"].1.contains("unknown operation"), "{r:?}");
}

/// An object another writer replaces while its migration is under way: PermanentFailure, and the
/// writer's object is left as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_changed_during_the_task_is_a_permanent_failure_and_left_as_written() {
    let m = Moto::start("lambda-changed");
    let s3 = moto_bucket(&m).await;
    let k1 = m.create_key().await;
    kms_client(
        &m,
        s3.clone(),
        &k1,
        CommitmentPolicy::ForbidEncryptAllowDecrypt,
    )
    .put_bytes("mig", "victim", &data(2000, 3), &PutOptions::default())
    .await
    .unwrap();
    // The hook blocks a worker of this runtime (the proxy's): the writer runs on its own.
    let conf = m.sdk_config();
    let upstream = m.endpoint.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(
        upstream,
        vec![Rule {
            markers: vec![b"PUT /mig/victim?".to_vec(), b"PUT /mig/victim ".to_vec()],
            occurrences: vec![1],
            action: Action::Call(Box::new(move || {
                let conf = conf.clone();
                std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(async {
                            s3_client_for(&conf)
                                .put_object()
                                .bucket("mig")
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
    let h = Handler::new(
        s3_client_for(&sdk_config_for(&proxy.endpoint)),
        m.kms(),
        Env::default(),
    );
    let args = json!({ "operation": "to-v3", "kmsKeyId": k1 });
    let r = results(
        &h.handle(ev2("inv", args, &[("v", "victim")])).await,
        "inv",
        "2.0",
        &[],
    );
    assert!(
        proxy.fired.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the hook never ran"
    );
    assert_eq!(r["v"].0, "PermanentFailure", "{r:?}");
    assert!(
        r["v"].1.starts_with("changed during the migration"),
        "{r:?}"
    );
    let got = s3
        .get_object()
        .bucket("mig")
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

/// Throttling: every PUT answered 503 SlowDown (past the SDK's own retries) is a
/// TemporaryFailure, which S3 Batch Operations retries; the object is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_a_temporary_failure_and_leaves_the_object_as_it_was() {
    let m = Moto::start("lambda-throttled");
    let s3 = moto_bucket(&m).await;
    let k1 = m.create_key().await;
    let v2 = kms_client(
        &m,
        s3.clone(),
        &k1,
        CommitmentPolicy::ForbidEncryptAllowDecrypt,
    );
    v2.put_bytes("mig", "t", &data(1500, 4), &PutOptions::default())
        .await
        .unwrap();
    let upstream = m.endpoint.trim_start_matches("http://").parse().unwrap();
    let hostile = Hostile::start(
        upstream,
        s3.clone(),
        Case::SlowDown {
            method: "PUT".into(),
            times: 1000,
        },
    )
    .await;
    let h = Handler::new(
        s3_client_for(&sdk_config_for(&hostile.endpoint)),
        m.kms(),
        Env::default(),
    );
    let args = json!({ "operation": "to-v3", "kmsKeyId": k1 });
    let r = results(
        &h.handle(ev2("inv", args, &[("t", "t")])).await,
        "inv",
        "2.0",
        &[],
    );
    assert_eq!(r["t"].0, "TemporaryFailure", "{r:?}");
    assert!(
        hostile
            .stats
            .rewritten
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 1
    );
    assert_eq!(format_of(&v2, "mig", "t").await, "V2");
    let (pt, _) = v2
        .get_object_bytes("mig", "t", &GetOptions::default())
        .await
        .unwrap();
    assert_eq!(pt, data(1500, 4));
    hostile.stop();
}
