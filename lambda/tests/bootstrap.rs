//! The `bootstrap` binary under a stand-in for the Lambda Runtime API on loopback: a small
//! HTTP/1.1 server that hands out one S3 Batch Operations event on
//! `GET /2018-06-01/runtime/invocation/next` (with the `Lambda-Runtime-*` headers), captures the
//! `POST /2018-06-01/runtime/invocation/{id}/response` (or `/error`), and holds every later `next`
//! open, as Lambda does between invocations. The function reaches moto (S3 + KMS) through
//! `AWS_ENDPOINT_URL`; the test checks the response JSON and the object, then kills the process.
//!
//! The binary is the one cargo built for this test, or, when `S3EC_LAMBDA_BOOTSTRAP` names a file,
//! that file: CI sets it to the static `x86_64-unknown-linux-musl` build of
//! `lambda/build-bootstrap.sh`, the binary users deploy, and the test then also checks that the
//! file is a static x86_64 ELF (no program interpreter) and that the process it ran is that file.
//! A variable naming no file fails the test.

#[path = "../../s3-transport/tests/common/mod.rs"]
mod common;

use common::{Moto, data};
use s3_encryption::CommitmentPolicy;
use s3_encryption_transport::{ClientKeyring, GetOptions, PutOptions, S3EncryptionClient};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

/// One request: method, path, body.
async fn read_request(c: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, String, Vec<u8>)> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let mut first = lines.next()?.split(' ');
            let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
            let len: usize = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            assert!(len < 1 << 20, "a response body of {len} bytes");
            while buf.len() < end + 4 + len {
                let mut chunk = [0u8; 8192];
                let n = c.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[end + 4..end + 4 + len].to_vec();
            buf.drain(..end + 4 + len);
            return Some((method, path, body));
        }
        let mut chunk = [0u8; 8192];
        let n = c.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The stand-in: serves `event` once, sends every POST (path, body) to `posts`.
async fn runtime_api(event: Value, posts: mpsc::UnboundedSender<(String, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    tokio::spawn(async move {
        loop {
            let Ok((mut c, _)) = listener.accept().await else {
                continue;
            };
            let (event, posts, served) = (event.clone(), posts.clone(), served.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some((method, path, body)) = read_request(&mut c, &mut buf).await {
                    let reply = if method == "GET" && path == "/2018-06-01/runtime/invocation/next"
                    {
                        if served.swap(true, std::sync::atomic::Ordering::SeqCst) {
                            // Between invocations Lambda holds `next` until there is work.
                            std::future::pending::<()>().await;
                        }
                        let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
                            + Duration::from_secs(300);
                        let body = event.to_string();
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                             Lambda-Runtime-Aws-Request-Id: {REQUEST_ID}\r\n\
                             Lambda-Runtime-Deadline-Ms: {}\r\n\
                             Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:s3ec-migrate\r\n\
                             Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\
                             Content-Length: {}\r\n\r\n{body}",
                            deadline.as_millis(),
                            body.len()
                        )
                    } else if method == "POST" {
                        let _ = posts.send((path, body));
                        "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n".to_owned()
                    } else {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned()
                    };
                    if c.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// The binary under test: the file `S3EC_LAMBDA_BOOTSTRAP` names (a static musl build; it must
/// exist), else the `bootstrap` cargo built for this test. The flag says which.
fn bootstrap_binary() -> (PathBuf, bool) {
    match std::env::var_os("S3EC_LAMBDA_BOOTSTRAP") {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "S3EC_LAMBDA_BOOTSTRAP={:?} names no file: run `bash lambda/build-bootstrap.sh`",
                p
            );
            (p.canonicalize().unwrap(), true)
        }
        None => (PathBuf::from(env!("CARGO_BIN_EXE_bootstrap")), false),
    }
}

/// The ELF program header types of an x86_64 (ELFCLASS64, little-endian, `EM_X86_64`)
/// executable, or why the file is not one.
fn elf64_x86_64_program_headers(bin: &Path) -> Result<Vec<u32>, String> {
    let f = std::fs::read(bin).map_err(|e| e.to_string())?;
    let u16_at = |o: usize| f.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        f.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let u64_at = |o: usize| {
        f.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    if f.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    if u16_at(0x12) != Some(62) {
        return Err(format!("e_machine {:?}, not x86_64 (62)", u16_at(0x12)));
    }
    let short = || "truncated ELF header".to_owned();
    let phoff = usize::try_from(u64_at(0x20).ok_or_else(short)?).map_err(|e| e.to_string())?;
    let phentsize = usize::from(u16_at(0x36).ok_or_else(short)?);
    let phnum = usize::from(u16_at(0x38).ok_or_else(short)?);
    (0..phnum)
        .map(|i| {
            u32_at(phoff + i * phentsize).ok_or_else(|| format!("program header {i} truncated"))
        })
        .collect()
}

/// Kills the function process when the test ends, however it ends.
struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_loop_answers_a_batch_event_through_the_runtime_api() {
    let (bin, deployable) = bootstrap_binary();
    eprintln!(
        "bootstrap under test: {} ({})",
        bin.display(),
        if deployable {
            "S3EC_LAMBDA_BOOTSTRAP"
        } else {
            "built by cargo for this test"
        }
    );
    if deployable {
        // What Lambda's provided.al2023 (x86_64) runs: no program interpreter (PT_INTERP, 3)
        // means the kernel starts it directly and no system library (nor glibc version) is used.
        let headers =
            elf64_x86_64_program_headers(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        assert!(
            !headers.contains(&3),
            "{} asks for a program interpreter: not a static binary",
            bin.display()
        );
        assert!(
            headers.contains(&1),
            "{}: no PT_LOAD segment",
            bin.display()
        );
    }
    let m = Moto::start("lambda-bootstrap");
    let s3 = m.s3();
    s3.create_bucket().bucket("mig").send().await.unwrap();
    let key = m.create_key().await;
    let v2 = S3EncryptionClient::builder(s3.clone(), ClientKeyring::kms(&key))
        .kms_client(m.kms())
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build()
        .unwrap();
    v2.put_bytes(
        "mig",
        "docs/report.pdf",
        &data(20_000, 5),
        &PutOptions::default(),
    )
    .await
    .unwrap();
    let event = json!({
        "invocationSchemaVersion": "2.0",
        "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
        "job": { "id": "f3cc4f60-61f6-4a2b-8a21-d07600c373ce",
                 "userArguments": { "operation": "to-v3", "kmsKeyId": key } },
        "tasks": [
            { "taskId": "dGFza2lkZ29lc2hlcmUK", "s3Bucket": "mig",
              "s3Key": "docs/report.pdf", "s3VersionId": null },
            { "taskId": "bWlzc2luZwo", "s3Bucket": "mig",
              "s3Key": "docs/missing", "s3VersionId": null }
        ]
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let api = runtime_api(event, tx).await;
    let child = std::process::Command::new(&bin)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "s3ec-migrate")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/s3ec-migrate")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/12/01/[$LATEST]0123456789abcdef",
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &m.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("S3EC_S3_PATH_STYLE", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn bootstrap");
    let mut child = Killed(child);
    // The process is that very file (not, say, a cargo-built namesake found some other way).
    assert_eq!(
        std::fs::read_link(format!("/proc/{}/exe", child.0.id())).unwrap(),
        bin.canonicalize().unwrap(),
        "the process runs another file than the one under test"
    );
    let (path, body) = tokio::time::timeout(Duration::from_secs(90), rx.recv())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no POST from bootstrap within 90 s (exited: {:?})",
                child.0.try_wait()
            )
        })
        .unwrap();
    assert_eq!(
        path,
        format!("/2018-06-01/runtime/invocation/{REQUEST_ID}/response"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let r: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(r["invocationSchemaVersion"], "2.0", "{r}");
    assert_eq!(
        r["invocationId"],
        "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo"
    );
    assert_eq!(r["treatMissingKeysAs"], "PermanentFailure");
    let res = r["results"].as_array().unwrap();
    assert_eq!(res.len(), 2, "{r}");
    assert_eq!(res[0]["taskId"], "dGFza2lkZ29lc2hlcmUK");
    assert_eq!(res[0]["resultCode"], "Succeeded", "{r}");
    assert_eq!(res[1]["taskId"], "bWlzc2luZwo");
    assert_eq!(res[1]["resultCode"], "PermanentFailure", "{r}");
    // The loop went back for the next invocation and is waiting on it: still running.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "bootstrap exited after one invocation"
    );
    drop(child);
    // The object is V3 now: a strict reader opens it.
    let strict = S3EncryptionClient::builder(s3, ClientKeyring::kms(&key))
        .kms_client(m.kms())
        .commitment_policy(CommitmentPolicy::RequireEncryptRequireDecrypt)
        .build()
        .unwrap();
    let (pt, _) = strict
        .get_object_bytes("mig", "docs/report.pdf", &GetOptions::default())
        .await
        .unwrap();
    assert_eq!(pt, data(20_000, 5));
}
