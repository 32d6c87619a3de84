//! Throughput of the bucket migration runner ([`bulk::run`], what `s3ec migrate` calls) against
//! the embedded S3 server (s3s-fs on a temporary folder): V2 objects (AES key, as the Java V2
//! client writes them) re-encrypted as V3 under the same key, each read back and verified.
//!
//! * 10,000 small objects of 1–16 KiB, 32 at a time;
//! * 4 objects of 1 GiB (multipart), 4 at a time.
//!
//! `S3EC_BENCH_QUICK=1` runs 1,000 small objects and 4 × 64 MiB; `S3EC_BENCH_SMALL=N` sets the
//! small-object count. Prints the CPU model with the table. MB are 10^6 plaintext bytes; the
//! elapsed time is the runner's (listing excluded). The latency column is the mean time one object
//! was in flight (concurrency × elapsed / objects, as the runner keeps `concurrency` objects out);
//! a row of 200 small objects one at a time shows it without any queueing. The last column is
//! this process's CPU time (client and embedded server together, all threads) per object.
//!
//! `cargo bench -p s3-encryption-transport --bench migrate`

use s3_encryption::{AesKey, CommitmentPolicy};
use s3_encryption_transport::bulk::{self, RecordStatus, RunOptions};
use s3_encryption_transport::local::LocalS3;
use s3_encryption_transport::{
    ClientKeyring, MigrateMode, MigrateOptions, MigrateStatus, PutOptions, S3EncryptionClient,
};
use std::io::Write;
use std::time::Instant;

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

/// This process's CPU time so far (user + system, all threads), in seconds (Linux; 0 elsewhere).
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which ends with the last ')'): utime is the 12th, stime
            // the 13th, in clock ticks (100 per second on Linux).
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(ticks as f64 / 100.0)
        })
        .unwrap_or(0.0)
}

/// Deterministic pseudo-random bytes.
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

fn keyring() -> ClientKeyring {
    ClientKeyring::aes(AesKey::new_256([0x42; 32]))
}

struct Row {
    case: String,
    objects: u64,
    bytes: u64,
    secs: f64,
    cpu: f64,
    concurrency: usize,
}

async fn run_case(c: &S3EncryptionClient, prefix: &str, concurrency: usize, case: String) -> Row {
    let targets = bulk::list_targets(c, BUCKET, prefix).await.unwrap();
    let n = targets.len() as u64;
    let opts = RunOptions {
        concurrency,
        ..RunOptions::default()
    };
    let t0 = Instant::now();
    let c0 = cpu_secs();
    let s = bulk::run(
        c,
        targets,
        MigrateOptions::new(MigrateMode::ToV3, keyring()),
        &opts,
    )
    .await
    .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs() - c0;
    let migrated = s.count(RecordStatus::Done(MigrateStatus::Migrated));
    assert_eq!(
        migrated,
        n,
        "{}: not every object migrated: {}",
        case,
        s.to_text()
    );
    Row {
        case,
        objects: n,
        bytes: s.bytes(),
        secs,
        cpu,
        concurrency,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let quick = std::env::var_os("S3EC_BENCH_QUICK").is_some_and(|v| v != "0");
    let (small_n, big_mib) = if quick { (1_000, 64) } else { (10_000, 1024) };
    let small_n: usize = std::env::var("S3EC_BENCH_SMALL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(small_n);
    const ONE_AT_A_TIME: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let server = LocalS3::start(dir.path().join("s3")).await.unwrap();
    let s3 = server.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let v2 = S3EncryptionClient::builder(s3.clone(), keyring())
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build()
        .unwrap();
    // As `s3ec migrate` reads: V2 and V3 allowed, V3 written.
    let c = S3EncryptionClient::builder(s3, keyring())
        .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
        .build()
        .unwrap();
    let mut rows = Vec::new();

    // Small objects: written as V2 (not timed), then migrated.
    eprintln!("writing {small_n} small V2 objects…");
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..small_n + ONE_AT_A_TIME {
        let len = 1024 + (i * 7919) % (15 * 1024 + 1);
        let key = if i < small_n {
            format!("small/{i:05}")
        } else {
            format!("one/{i:05}")
        };
        let (c, p) = (v2.clone(), sem.clone().acquire_owned().await.unwrap());
        set.spawn(async move {
            let _p = p;
            c.put_bytes(BUCKET, &key, &data(len, i as u64), &PutOptions::default())
                .await
                .unwrap();
        });
    }
    set.join_all().await;
    eprintln!("migrating…");
    rows.push(
        run_case(
            &c,
            "small/",
            32,
            format!("{small_n} × 1–16 KiB, concurrency 32"),
        )
        .await,
    );
    rows.push(
        run_case(
            &c,
            "one/",
            1,
            format!("{ONE_AT_A_TIME} × 1–16 KiB, one at a time"),
        )
        .await,
    );

    // Large objects: one source file, uploaded 4 times as V2 (multipart), then migrated.
    eprintln!("writing 4 × {big_mib} MiB V2 objects…");
    let src = dir.path().join("big.bin");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&src).unwrap());
        for i in 0..big_mib {
            f.write_all(&data(1 << 20, i as u64)).unwrap();
        }
        f.flush().unwrap();
    }
    for i in 0..4 {
        v2.put_file(BUCKET, &format!("big/{i}"), &src, &PutOptions::default())
            .await
            .unwrap();
    }
    std::fs::remove_file(&src).unwrap();
    eprintln!("migrating…");
    rows.push(run_case(&c, "big/", 4, format!("4 × {big_mib} MiB, concurrency 4")).await);

    println!();
    println!(
        "s3ec migrate runner (bulk::run, V2 → V3, read-back verified) against the embedded S3{}",
        if quick { " [S3EC_BENCH_QUICK]" } else { "" }
    );
    println!(
        "CPU: {} ({} threads)",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<40} {:>9} {:>12} {:>9} {:>10} {:>9} {:>14} {:>14}",
        "case", "objects", "MB", "s", "objects/s", "MB/s", "ms per object", "CPU ms/object"
    );
    for r in &rows {
        println!(
            "{:<40} {:>9} {:>12.1} {:>9.2} {:>10.3} {:>9.1} {:>14.2} {:>14.2}",
            r.case,
            r.objects,
            r.bytes as f64 / 1e6,
            r.secs,
            r.objects as f64 / r.secs,
            r.bytes as f64 / 1e6 / r.secs,
            r.secs * 1e3 * r.concurrency as f64 / r.objects as f64,
            r.cpu * 1e3 / r.objects as f64
        );
    }
    server.stop().await;
}
