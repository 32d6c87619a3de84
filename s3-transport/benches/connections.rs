//! GET throughput with concurrent ranged GETs (`Builder::connections`) through a loopback TCP
//! proxy that caps each connection's server→client bytes (a token bucket per connection), in
//! front of the embedded s3s-fs server. One object of `S3EC_BENCH_MIB` MiB (default 256) is put
//! through `S3EncryptionClient` (AES keyring, straight to the server); then, through the proxy,
//! plain aws-sdk-s3 GetObject of the stored ciphertext (one stream), plain aws-sdk-s3 with 1, 2,
//! 4 and 8 concurrent 8 MiB ranged GETs whose bytes are discarded (what the server, the proxy
//! and the client together reach on this machine: the ceiling for ours), and ours
//! (`get_object_to_file`, `get_object_to_writer` into `tokio::io::sink()` with
//! `LargeObjectVerification::TwoPass`) with 1, 2, 4 and 8 connections, a 16 MiB memory budget and
//! 8 MiB parts. Prints MB/s, the ratio to 1 connection and to plain single-stream.
//!
//! Options: `S3EC_BENCH_MIB` (256), `S3EC_BENCH_CAP_MBPS` (50, MB/s per connection; 0 = no cap),
//! `S3EC_BENCH_ROUNDS` (2, best of). The proxy forwards raw bytes, so the Host header (the
//! proxy's address, the client's endpoint) is what was signed, and SigV4 stays valid.
//!
//! `cargo bench -p s3-encryption-transport --bench connections`

use s3_encryption::AesKey;
use s3_encryption_transport::local::{LocalS3, sdk_config_for};
use s3_encryption_transport::{
    ClientKeyring, GetOptions, LargeObjectVerification, PutOptions, S3EncryptionClient,
};
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BUCKET: &str = "bench";
const KEY: &str = "ours";
const MIB: u64 = 1024 * 1024;
const CONNECTIONS: [u16; 4] = [1, 2, 4, 8];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A loopback TCP proxy in front of `upstream`; each accepted connection's server→client
/// direction is paced by its own token bucket of `rate` bytes per second (0: unpaced).
struct CappedProxy {
    endpoint: String,
    task: tokio::task::JoinHandle<()>,
}

impl CappedProxy {
    async fn start(upstream: SocketAddr, rate: f64) -> CappedProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            // Dropping the set (when the task is aborted) aborts every connection.
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    a = listener.accept() => {
                        let Ok((client, _)) = a else { continue };
                        conns.spawn(forward(client, upstream, rate));
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        CappedProxy { endpoint, task }
    }

    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn forward(client: TcpStream, upstream: SocketAddr, rate: f64) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async move {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
        let _ = sw.shutdown().await;
    };
    let down = async move {
        // Token bucket: `rate` bytes/s, a burst of at most one 64 KiB read.
        const CHUNK: usize = 64 * 1024;
        let mut buf = vec![0u8; CHUNK];
        let mut tokens = CHUNK as f64;
        let mut last = Instant::now();
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if rate > 0.0 {
                let now = Instant::now();
                tokens = (tokens + now.duration_since(last).as_secs_f64() * rate).min(CHUNK as f64);
                last = now;
                if tokens < n as f64 {
                    let wait = (n as f64 - tokens) / rate;
                    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                    let now = Instant::now();
                    tokens += now.duration_since(last).as_secs_f64() * rate;
                    last = now;
                }
                tokens -= n as f64;
            }
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = cw.shutdown().await;
    };
    tokio::join!(up, down);
}

/// Read `stored` bytes of the object as 8 MiB ranges, `n` at a time, discarding them.
async fn plain_ranged(s3: &aws_sdk_s3::Client, stored: u64, n: u16) -> u64 {
    let parts = stored.div_ceil(8 * MIB);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (s3, next) = (s3.clone(), next.clone());
        set.spawn(async move {
            let mut got = 0u64;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= parts {
                    return got;
                }
                let (a, b) = (i * 8 * MIB, ((i + 1) * 8 * MIB).min(stored) - 1);
                let mut r = s3
                    .get_object()
                    .bucket(BUCKET)
                    .key(KEY)
                    .range(format!("bytes={a}-{b}"))
                    .send()
                    .await
                    .unwrap();
                while let Some(chunk) = r.body.try_next().await.unwrap() {
                    got += chunk.len() as u64;
                }
            }
        });
    }
    let mut got = 0;
    while let Some(r) = set.join_next().await {
        got += r.unwrap();
    }
    assert_eq!(got, stored);
    got
}

fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&sdk_config_for(endpoint)).force_path_style(true);
    aws_sdk_s3::Client::from_conf(conf.build())
}

fn ours(s3: &aws_sdk_s3::Client, n: u16, v: LargeObjectVerification) -> S3EncryptionClient {
    S3EncryptionClient::builder(s3.clone(), ClientKeyring::aes(AesKey::new_256([7; 32])))
        .memory_budget(16 * MIB)
        .part_size(8 * MIB)
        .connections(n)
        .large_object_verification(v)
        .build()
        .unwrap()
}

fn main() {
    let mib: u64 = env_or("S3EC_BENCH_MIB", 256);
    let cap: f64 = env_or("S3EC_BENCH_CAP_MBPS", 50.0);
    let rounds: usize = env_or("S3EC_BENCH_ROUNDS", 2);
    let len = mib * MIB;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.bin");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut buf = vec![0u8; MIB as usize];
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
    rt.block_on(async {
        let server = LocalS3::start(dir.path().join("s3")).await.unwrap();
        let direct = server.s3_client();
        direct.create_bucket().bucket(BUCKET).send().await.unwrap();
        // The PUT goes straight to the server (not through the proxy): default client.
        S3EncryptionClient::builder(direct.clone(), ClientKeyring::aes(AesKey::new_256([7; 32])))
            .build()
            .unwrap()
            .put_file(BUCKET, KEY, &input, &PutOptions::default())
            .await
            .unwrap();
        let proxy = CappedProxy::start(server.addr(), cap * 1e6).await;
        let s3 = s3_client(&proxy.endpoint);
        let expected = std::fs::read(&input).unwrap();
        let out = dir.path().join("out.bin");

        // Best seconds per (path, connections); connections 0 is plain single-stream.
        let mut best = std::collections::BTreeMap::<(&str, u16), (f64, u64)>::new();
        let mut record = |path: &'static str, n: u16, secs: f64, bytes: u64, fetched: u64| {
            eprintln!(
                "{path:<8} {n} conn: {:.1} MB/s ({bytes} bytes in {secs:.2} s, {fetched} fetched)",
                bytes as f64 / secs / 1e6
            );
            let e = best.entry((path, n)).or_insert((f64::MAX, 0));
            if secs < e.0 {
                *e = (secs, fetched);
            }
        };
        let mut stored = 0u64;
        for round in 0..rounds {
            // Plain aws-sdk-s3: one GetObject of the stored ciphertext, read to the end.
            let t = Instant::now();
            let mut r = s3.get_object().bucket(BUCKET).key(KEY).send().await.unwrap();
            let mut got = 0u64;
            while let Some(chunk) = r.body.try_next().await.unwrap() {
                got += chunk.len() as u64;
            }
            stored = got;
            record("plain", 0, t.elapsed().as_secs_f64(), got, got);
            for n in CONNECTIONS {
                // Plain aws-sdk-s3, n concurrent ranged GETs of 8 MiB parts, bytes discarded: the
                // ceiling this setup (server, proxy and client on one machine) gives n connections.
                let t = Instant::now();
                let got = plain_ranged(&s3, stored, n).await;
                record("ranged", n, t.elapsed().as_secs_f64(), got, got);
                // One pass into the file (n ranged GETs), then decrypted in place.
                let c = ours(&s3, n, LargeObjectVerification::default());
                let t = Instant::now();
                let o = c
                    .get_object_to_file(BUCKET, KEY, &out, &GetOptions::default())
                    .await
                    .unwrap();
                record("file", n, t.elapsed().as_secs_f64(), o.released, o.fetched);
                assert_eq!(o.released, len);
                if round == 0 {
                    let same = std::fs::read(&out).unwrap() == expected;
                    assert!(same, "get_object_to_file with {n} connections: bytes differ");
                }
                std::fs::remove_file(&out).unwrap();

                // Two passes: authenticate, then a second GET (If-Match) that decrypts.
                let c = ours(&s3, n, LargeObjectVerification::TwoPass);
                let t = Instant::now();
                let o = c
                    .get_object_to_writer(
                        BUCKET,
                        KEY,
                        &mut tokio::io::sink(),
                        &GetOptions::default(),
                    )
                    .await
                    .unwrap();
                record("writer", n, t.elapsed().as_secs_f64(), o.released, o.fetched);
                assert_eq!(o.released, len);
            }
        }
        proxy.stop().await;
        server.stop().await;

        let mbps = |path: &str, n: u16| {
            let bytes = if path == "plain" || path == "ranged" {
                stored
            } else {
                len
            };
            bytes as f64 / best[&(path, n)].0 / 1e6
        };
        let plain = mbps("plain", 0);
        let cap_s = if cap > 0.0 {
            format!("{cap} MB/s per connection (server→client token bucket)")
        } else {
            "no cap".to_owned()
        };
        println!(
            "{mib} MiB object (V3, 8 MiB parts), embedded s3s-fs behind a loopback proxy capped at {cap_s}, \
             16 MiB memory budget, best of {rounds}"
        );
        println!(
            "| path | connections | MB/s | × 1 connection | × plain single-stream | stored bytes fetched |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        println!(
            "| plain aws-sdk-s3 GetObject (ciphertext) | 1 | {plain:.1} | 1.00 | 1.00 | {stored} |"
        );
        let one = mbps("ranged", 1);
        for n in CONNECTIONS {
            let m = mbps("ranged", n);
            println!(
                "| plain aws-sdk-s3, concurrent 8 MiB ranged GETs, bytes discarded (this setup's ceiling) | {n} | {m:.1} | {:.2} | {:.2} | {stored} |",
                m / one,
                m / plain
            );
        }
        for (path, name) in [
            ("file", "`get_object_to_file` (one pass, then in place)"),
            ("writer", "`get_object_to_writer` TwoPass (two passes)"),
        ] {
            let one = mbps(path, 1);
            for n in CONNECTIONS {
                let m = mbps(path, n);
                println!(
                    "| {name} | {n} | {m:.1} | {:.2} | {:.2} | {} |",
                    m / one,
                    m / plain,
                    best[&(path, n)].1
                );
            }
        }
        println!(
            "MB/s: plaintext bytes per wall second for ours (the writer path downloads the object twice), \
             ciphertext bytes for plain."
        );
    });
}
