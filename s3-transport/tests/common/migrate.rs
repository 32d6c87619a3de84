//! Helpers of the migration tests: the CLI against moto or the embedded server, SDK-written
//! objects from test-vectors/ uploaded raw, and AWS's official Python S3EC 4.0.0.
#![allow(dead_code)]

use base64ct::{Base64, Encoding};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const MOTO_ACCESS: &str = "test";

/// `s3ec` against `endpoint` (path-style; KMS at `kms` when given), credentials in the
/// environment, no profile, no progress bar.
pub fn s3ec_at(
    endpoint: &str,
    kms: Option<&str>,
    access: &str,
    secret: &str,
) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("s3ec").unwrap();
    c.env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", access)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .args([
            "--endpoint",
            endpoint,
            "--path-style",
            "--region",
            "us-east-1",
            "--quiet",
        ]);
    if let Some(k) = kms {
        c.args(["--kms-endpoint", k]);
    }
    c
}

/// The same for a `std::process::Command` (to spawn and kill).
pub fn s3ec_std(endpoint: &str, kms: Option<&str>, access: &str, secret: &str) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("s3ec"));
    c.env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", access)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .args([
            "--endpoint",
            endpoint,
            "--path-style",
            "--region",
            "us-east-1",
            "--quiet",
        ]);
    if let Some(k) = kms {
        c.args(["--kms-endpoint", k]);
    }
    c
}

/// An SDK-written object as uploaded.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub key: String,
    pub sha256: String,
    /// V1 / V2 / V3, from the envelope's keys (metadata or instruction file).
    pub format: &'static str,
    pub instruction_file: bool,
    /// Plaintext bytes.
    pub len: u64,
    /// Stored bytes.
    pub stored: u64,
}

fn vectors_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors")
}

fn format_of(keys: &serde_json::Map<String, Value>) -> &'static str {
    let has = |k: &str| keys.keys().any(|x| x.eq_ignore_ascii_case(k));
    if has("x-amz-3") || has("x-amz-c") {
        "V3"
    } else if has("x-amz-key-v2") {
        "V2"
    } else {
        "V1"
    }
}

/// The positive whole-object vectors of `dirs` whose key is `key` (AES key_b64 or RSA PEM) and
/// that need no encryption context.
pub fn vectors_for(dirs: &[&str], key: &str) -> Vec<(PathBuf, Value)> {
    let mut out = vec![];
    for dir in dirs {
        let mut v: Vec<PathBuf> = std::fs::read_dir(vectors_root().join(dir))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        v.sort();
        for p in v {
            let j: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let d = &j["decrypt"];
            if !j["derived_from"].is_null()
                || !d["range"].is_null()
                || !d["encryption_context"].is_null()
                || j["expect"].get("error").is_some()
            {
                continue;
            }
            let k = j["key"]["key_b64"]
                .as_str()
                .or(j["key"]["private_key_pem"].as_str())
                .unwrap_or("");
            if k == key {
                out.push((p, j));
            }
        }
    }
    out
}

/// The AES key (key_b64) or RSA PEM of one vector.
pub fn vector_key(dir: &str, name: &str) -> String {
    let j: Value = serde_json::from_str(
        &std::fs::read_to_string(vectors_root().join(dir).join(format!("{name}.json"))).unwrap(),
    )
    .unwrap();
    j["key"]["key_b64"]
        .as_str()
        .or(j["key"]["private_key_pem"].as_str())
        .unwrap()
        .to_owned()
}

pub fn aes_key_bytes(b64: &str) -> Vec<u8> {
    Base64::decode_vec(b64).unwrap()
}

/// Upload the vectors raw under `prefix` (their instruction files beside them). A vector larger
/// than 5 MiB goes up as a two-part multipart upload of its stored bytes.
pub async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    vectors: &[(PathBuf, Value)],
) -> Vec<Uploaded> {
    let mut out = vec![];
    for (path, v) in vectors {
        let dir = path.parent().unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let key = format!(
            "{prefix}{}-{name}",
            dir.file_name().unwrap().to_string_lossy()
        );
        let body = std::fs::read(dir.join(v["object"]["body"].as_str().unwrap())).unwrap();
        let meta = v["object"]["metadata"].as_object().unwrap();
        let stored = body.len() as u64;
        let mut format = format_of(meta);
        if body.len() > 5 * 1024 * 1024 {
            let mut c = s3.create_multipart_upload().bucket(bucket).key(&key);
            for (k, val) in meta {
                c = c.metadata(k.to_lowercase(), val.as_str().unwrap());
            }
            let id = c.send().await.unwrap().upload_id().unwrap().to_owned();
            let mut parts = aws_sdk_s3::types::CompletedMultipartUpload::builder();
            for (i, chunk) in body.chunks(5 * 1024 * 1024).enumerate() {
                let n = i as i32 + 1;
                let r = s3
                    .upload_part()
                    .bucket(bucket)
                    .key(&key)
                    .upload_id(&id)
                    .part_number(n)
                    .body(chunk.to_vec().into())
                    .send()
                    .await
                    .unwrap();
                parts = parts.parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(n)
                        .e_tag(r.e_tag().unwrap())
                        .build(),
                );
            }
            s3.complete_multipart_upload()
                .bucket(bucket)
                .key(&key)
                .upload_id(&id)
                .multipart_upload(parts.build())
                .send()
                .await
                .unwrap();
        } else {
            let mut put = s3.put_object().bucket(bucket).key(&key).body(body.into());
            for (k, val) in meta {
                put = put.metadata(k.to_lowercase(), val.as_str().unwrap());
            }
            put.send().await.unwrap();
        }
        let mut instruction_file = false;
        if let Some(i) = v["instruction_file"]["body"].as_str() {
            let ins = std::fs::read(dir.join(i)).unwrap();
            let j: Value = serde_json::from_slice(&ins).unwrap();
            format = format_of(j.as_object().unwrap());
            instruction_file = true;
            s3.put_object()
                .bucket(bucket)
                .key(format!("{key}.instruction"))
                .body(ins.into())
                .send()
                .await
                .unwrap();
        }
        out.push(Uploaded {
            key,
            sha256: v["expect"]["plaintext_sha256"].as_str().unwrap().to_owned(),
            format,
            instruction_file,
            len: v["expect"]["plaintext_len"].as_u64().unwrap(),
            stored,
        });
    }
    out
}

pub fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The Python of the harness venv (boto3, moto 5.2.5, amazon-s3-encryption-client-python 4.0.0):
/// $HARNESS_VENV or <repo>/target/harness-venv, made by test-server/setup.sh (run here, once, under
/// a lock; idempotent). Panics when it cannot be made: the test fails rather than skips.
pub fn official_python() -> PathBuf {
    static FOUND: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let venv = std::env::var_os("HARNESS_VENV")
                .map(PathBuf::from)
                .unwrap_or_else(|| repo.join("target/harness-venv"));
            std::fs::create_dir_all(venv.parent().unwrap()).map_err(|e| e.to_string())?;
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(venv.with_extension("lock"))
                .map_err(|e| e.to_string())?;
            lock.lock().map_err(|e| e.to_string())?;
            let out = Command::new("bash")
                .arg(repo.join("test-server/setup.sh"))
                .env("HARNESS_VENV", &venv)
                .current_dir(&repo)
                .output()
                .map_err(|e| e.to_string())?;
            let _ = lock.unlock();
            let py = venv.join("bin/python");
            if !out.status.success() || !py.exists() {
                return Err(format!(
                    "test-server/setup.sh could not make {} ({}): {}{}",
                    venv.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(py)
        })
        .clone()
        .unwrap_or_else(|e| panic!("AWS's Python S3EC 4.0.0 is needed and missing: {e}"))
}

/// Run tests/peers/official_kms.py against moto; its JSON answer.
pub fn official(moto: &str, args: &[String]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/official_kms.py");
    let out = Command::new(official_python())
        .arg(script)
        .args(args)
        .env("AWS_ENDPOINT_URL", moto)
        .env("AWS_ACCESS_KEY_ID", MOTO_ACCESS)
        .env("AWS_SECRET_ACCESS_KEY", MOTO_ACCESS)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "official_kms.py {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "official_kms.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A migration report (JSON) from disk.
pub fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `totals.<status>.objects` of a report (0 when absent).
pub fn total(r: &Value, status: &str) -> u64 {
    r["totals"][status]["objects"].as_u64().unwrap_or(0)
}
