//! The per-object operation timed through the S3 Batch Operations handler
//! ([`s3ec_lambda::Handler::handle`]), one task per invocation as S3 Batch Operations sends them,
//! one invocation after another (one Lambda instance), against the embedded S3 server: V2 objects
//! (AES key file) re-encrypted as V3 and read back. Prints latency per task (mean, p50, p99),
//! tasks/s for one instance, and MB/s on larger objects, with the CPU model.
//!
//! Sizes: 1,000 objects of 1–16 KiB and 4 × 256 MiB; `S3EC_BENCH_QUICK=1`: 200 and 4 × 32 MiB.
//!
//! `cargo bench -p s3ec-lambda --bench handler`

use s3_encryption_transport::local::{LocalS3, sdk_config_for};
use s3_encryption_transport::s3_encryption::{AesKey, CommitmentPolicy};
use s3_encryption_transport::{ClientKeyring, PutOptions, S3EncryptionClient, aws_sdk_kms};
use s3ec_lambda::{Env, Handler, S3BatchJobEvent};
use std::time::{Duration, Instant};

const BUCKET: &str = "bench";

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn event(i: usize, key: &str) -> S3BatchJobEvent {
    serde_json::from_value(serde_json::json!({
        "invocationSchemaVersion": "2.0",
        "invocationId": format!("inv-{i}"),
        "job": { "id": "bench", "userArguments": { "operation": "to-v3" } },
        "tasks": [{ "taskId": format!("t-{i}"), "s3Bucket": BUCKET, "s3Key": key, "s3VersionId": null }]
    }))
    .unwrap()
}

/// Invoke once per key, in order; the latencies.
async fn invoke_each(h: &Handler, keys: &[String]) -> Vec<Duration> {
    let mut lat = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        let t0 = Instant::now();
        let r = h.handle(event(i, k)).await;
        lat.push(t0.elapsed());
        let code = r.results[0].result_code.as_deref();
        assert_eq!(
            code,
            Some("Succeeded"),
            "{k}: {:?}",
            r.results[0].result_string
        );
    }
    lat
}

fn row(case: &str, lat: &mut [Duration], bytes: u64) {
    lat.sort();
    let total: f64 = lat.iter().map(Duration::as_secs_f64).sum();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let p = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    println!(
        "{:<28} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.1} {:>8.1}",
        case,
        lat.len(),
        total * 1e3 / lat.len() as f64,
        ms(p(0.5)),
        ms(p(0.99)),
        lat.len() as f64 / total,
        bytes as f64 / 1e6 / total
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let quick = std::env::var_os("S3EC_BENCH_QUICK").is_some_and(|v| v != "0");
    let (small_n, big_mib) = if quick { (200, 32) } else { (1_000, 256) };
    let dir = tempfile::tempdir().unwrap();
    let server = LocalS3::start(dir.path().join("s3")).await.unwrap();
    let s3 = server.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let key = AesKey::new_256([0x42; 32]);
    let key_file = dir.path().join("aes.key");
    // As hex text: 32 raw bytes that all happen to be hex digits (0x42 is 'B') would read as a
    // 16-byte key written in hex, as `s3ec` reads key files too.
    std::fs::write(&key_file, hex::encode([0x42u8; 32])).unwrap();
    let v2 = S3EncryptionClient::builder(s3.clone(), ClientKeyring::aes(key))
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build()
        .unwrap();
    let mut small = Vec::new();
    let mut small_bytes = 0u64;
    for i in 0..small_n {
        let len = 1024 + (i * 7919) % (15 * 1024 + 1);
        let k = format!("small/{i:05}");
        v2.put_bytes(BUCKET, &k, &data(len, i as u64), &PutOptions::default())
            .await
            .unwrap();
        small.push(k);
        small_bytes += len as u64;
    }
    let mut big = Vec::new();
    for i in 0..4 {
        let k = format!("big/{i}");
        v2.put_bytes(BUCKET, &k, &data(big_mib << 20, i), &PutOptions::default())
            .await
            .unwrap();
        big.push(k);
    }
    let mut env = Env::default();
    env.0.insert(
        "S3EC_KEY_FILE".into(),
        key_file.to_string_lossy().into_owned(),
    );
    let kms = aws_sdk_kms::Client::new(&sdk_config_for(&server.endpoint()));
    let h = Handler::new(s3, kms, env);
    let mut lat_small = invoke_each(&h, &small).await;
    let mut lat_big = invoke_each(&h, &big).await;

    println!();
    println!(
        "s3ec-lambda Handler::handle, one task per invocation, one instance, V2 → V3 verified, embedded S3{}",
        if quick { " [S3EC_BENCH_QUICK]" } else { "" }
    );
    println!(
        "CPU: {} ({} threads)",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<28} {:>6} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "case", "tasks", "mean ms", "p50 ms", "p99 ms", "tasks/s", "MB/s"
    );
    row("1–16 KiB", &mut lat_small, small_bytes);
    row(
        &format!("{big_mib} MiB"),
        &mut lat_big,
        4 * ((big_mib as u64) << 20),
    );
    server.stop().await;
}
