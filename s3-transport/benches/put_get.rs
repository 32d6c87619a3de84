//! Put and get one large object (1 GiB by default; `S3EC_BENCH_MIB` overrides) through this crate
//! and through plain aws-sdk-s3, against the same embedded s3s-fs server, in one run. Each
//! transfer runs in its own child process so that its peak RSS (VmHWM) is its own; the server runs
//! in the parent. Prints throughput, the ratio ours / plain, and peak RSS.
//!
//! `cargo bench -p s3-encryption-transport --bench put_get`

use s3_encryption::AesKey;
use s3_encryption_transport::local::{LocalS3, sdk_config_for};
use s3_encryption_transport::{ClientKeyring, GetOptions, PutOptions, S3EncryptionClient};
use std::io::Write;
use std::time::Instant;
use tokio::io::AsyncWriteExt;

const BUCKET: &str = "bench";

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// What a user of plain aws-sdk-s3 writes for a multipart upload: 8 MiB parts read from the file,
/// 4 uploading at once (the same shape as ours).
async fn plain_multipart(s3: &aws_sdk_s3::Client, file: &str) {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    use tokio::io::AsyncReadExt;
    const PART: usize = 8 << 20;
    let id = s3
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("plain")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let mut f = tokio::fs::File::open(file).await.unwrap();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    let mut n = 0;
    loop {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let mut buf = vec![0u8; PART];
        let mut got = 0;
        while got < PART {
            let k = f.read(&mut buf[got..]).await.unwrap();
            if k == 0 {
                break;
            }
            got += k;
        }
        if got == 0 {
            break;
        }
        buf.truncate(got);
        n += 1;
        let req = s3
            .upload_part()
            .bucket(BUCKET)
            .key("plain")
            .upload_id(&id)
            .part_number(n)
            .body(buf.into());
        tasks.spawn(async move {
            let _p = permit;
            let r = req.send().await.unwrap();
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(r.e_tag)
                .build()
        });
        if got < PART {
            break;
        }
    }
    let mut parts = tasks.join_all().await;
    parts.sort_by_key(|p| p.part_number());
    s3.complete_multipart_upload()
        .bucket(BUCKET)
        .key("plain")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

async fn child(mode: &str, endpoint: &str, file: &str, out: &str) -> f64 {
    // `…-put-nock`: both clients with RequestChecksumCalculation::WhenRequired (no CRC32 by
    // default); otherwise the SDK defaults (a CRC32 of every upload).
    let (mode, nock) = match mode.strip_suffix("-nock") {
        Some(m) => (m, true),
        None => (mode, false),
    };
    let mut conf =
        aws_sdk_s3::config::Builder::from(&sdk_config_for(endpoint)).force_path_style(true);
    if nock {
        conf = conf.request_checksum_calculation(
            aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
        );
    }
    let s3 = aws_sdk_s3::Client::from_conf(conf.build());
    let client =
        S3EncryptionClient::builder(s3.clone(), ClientKeyring::aes(AesKey::new_256([7; 32])))
            .build()
            .unwrap();
    let t = Instant::now();
    match mode {
        "plain-put" => {
            let body = aws_sdk_s3::primitives::ByteStream::from_path(file)
                .await
                .unwrap();
            s3.put_object()
                .bucket(BUCKET)
                .key("plain")
                .body(body)
                .send()
                .await
                .unwrap();
        }
        "plain-get" => {
            let mut r = s3
                .get_object()
                .bucket(BUCKET)
                .key("plain")
                .send()
                .await
                .unwrap();
            let mut f = tokio::fs::File::create(out).await.unwrap();
            while let Some(chunk) = r.body.try_next().await.unwrap() {
                f.write_all(&chunk).await.unwrap();
            }
            f.flush().await.unwrap();
        }
        "plain-put-multipart" => plain_multipart(&s3, file).await,
        "ours-put-multipart" => {
            client
                .put_file(BUCKET, "ours", file, &PutOptions::default())
                .await
                .unwrap();
        }
        "ours-put" => {
            let single = S3EncryptionClient::builder(
                s3.clone(),
                ClientKeyring::aes(AesKey::new_256([7; 32])),
            )
            .multipart_threshold(5 * 1024 * 1024 * 1024 - 16)
            .build()
            .unwrap();
            let o = single
                .put_file(BUCKET, "ours", file, &PutOptions::default())
                .await
                .unwrap();
            assert!(!o.multipart);
        }
        "ours-get" => {
            client
                .get_object_to_file(BUCKET, "ours", out, &GetOptions::default())
                .await
                .unwrap();
        }
        _ => panic!("unknown mode {mode}"),
    }
    t.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let secs = rt.block_on(child(
            &args[i + 1],
            &args[i + 2],
            &args[i + 3],
            &args[i + 4],
        ));
        println!("{secs} {}", peak_rss_kib());
        return;
    }
    let mib: u64 = std::env::var("S3EC_BENCH_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let len = mib * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.bin");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut buf = vec![0u8; 1 << 20];
        for _ in 0..mib {
            for b in buf.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
            }
            f.write_all(&buf).unwrap();
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(LocalS3::start(dir.path().join("s3"))).unwrap();
    let endpoint = server.endpoint();
    rt.block_on(async {
        server
            .s3_client()
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap()
    });
    let exe = std::env::current_exe().unwrap();
    let run = |mode: &str| -> (f64, u64) {
        let out = dir.path().join(format!("{mode}.out"));
        let o = std::process::Command::new(&exe)
            .args([
                "--child",
                mode,
                &endpoint,
                input.to_str().unwrap(),
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let s = String::from_utf8_lossy(&o.stdout);
        let mut it = s.split_whitespace();
        let secs: f64 = it.next().unwrap().parse().unwrap();
        let rss: u64 = it.next().unwrap().parse().unwrap();
        if mode.ends_with("get") {
            let same = std::fs::read(&out).unwrap() == std::fs::read(&input).unwrap();
            assert!(same, "{mode}: downloaded bytes differ");
            std::fs::remove_file(&out).unwrap();
        }
        (secs, rss)
    };
    let rounds: usize = std::env::var("S3EC_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    // S3EC_BENCH_OPS=put-multipart,put,put-nock,get (default: all four).
    let ops_env = std::env::var("S3EC_BENCH_OPS").unwrap_or_default();
    let ops: Vec<&str> = ["put-multipart", "put", "put-nock", "get"]
        .into_iter()
        .filter(|o| ops_env.is_empty() || ops_env.split(',').any(|x| x == *o))
        .collect();
    if ops.contains(&"get") {
        // The GETs read what the PUTs wrote.
        run("plain-put");
        run("ours-put");
    }
    let mut best = std::collections::BTreeMap::new();
    for _ in 0..rounds {
        let modes: Vec<String> = ops
            .iter()
            .flat_map(|o| [format!("plain-{o}"), format!("ours-{o}")])
            .collect();
        for mode in modes.iter().map(String::as_str) {
            let (s, r) = run(mode);
            eprintln!("{mode}: {:.0} MB/s", len as f64 / s / 1e6);
            let e = best.entry(mode.to_owned()).or_insert((f64::MAX, 0u64));
            e.0 = e.0.min(s);
            e.1 = e.1.max(r);
        }
    }
    let mbps = |s: f64| len as f64 / s / 1e6;
    println!(
        "{mib} MiB object, embedded s3s-fs on 127.0.0.1, best of {rounds}, plain and ours alternating (server in the parent process)"
    );
    println!(
        "{:<14} {:>14} {:>14} {:>8} {:>16} {:>16}",
        "", "plain MB/s", "ours MB/s", "ratio", "plain peak RSS", "ours peak RSS"
    );
    for op in ops {
        let p = best[format!("plain-{op}").as_str()];
        let o = best[format!("ours-{op}").as_str()];
        println!(
            "{:<14} {:>14.0} {:>14.0} {:>8.2} {:>13} MiB {:>13} MiB",
            op,
            mbps(p.0),
            mbps(o.0),
            p.0 / o.0,
            p.1 / 1024,
            o.1 / 1024
        );
    }
    println!(
        "put-multipart: plain aws-sdk-s3 multipart (8 MiB parts, 4 in flight) vs ours by default (V3, 8 MiB parts encrypted \
         as independent GCM segments on all cores, 4 in flight, out of order)"
    );
    println!(
        "put: plain single PutObject from the file vs ours with multipart_threshold raised (one PutObject, encrypted as it streams); \
         SDK defaults: plain sends a CRC32 computed up front, ours (a body that cannot be replayed) an aws-chunked body with a CRC32 trailer"
    );
    println!(
        "put-nock: the same two with RequestChecksumCalculation::WhenRequired on both clients (no CRC32)"
    );
    println!(
        "get: plain GetObject into a file vs get_object_to_file (over the 64 MiB budget, one GET; on Linux decrypted as it \
         arrives into an unnamed O_TMPFILE file, linked into place once the tag verified; elsewhere ciphertext to the \
         unrenamed file while the tag is checked, then decrypted in place)"
    );
    rt.block_on(server.stop());
}
