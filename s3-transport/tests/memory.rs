//! Peak memory of PUT and GET of a large object (a benchmark that prints its numbers and checks
//! the bound). Its own test binary, so nothing else runs in the process while it measures.
//! `S3EC_MEMORY_TEST_MIB` sets the object size (default 256).

#![cfg(feature = "embedded-s3")]

mod common;

use common::*;
use s3_encryption_transport::{GetOptions, PutOptions, Verification};
use sha2::{Digest, Sha256};
use std::time::Instant;

fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Reset the peak-RSS counter (Linux); returns false where unsupported.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Generates `len` pseudo-random bytes on the fly (never held in memory) and hashes them.
struct Gen {
    left: u64,
    x: u64,
    hash: Sha256,
}

impl tokio::io::AsyncRead for Gen {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.left).min(1 << 16) as usize;
        let mut tmp = vec![0u8; n];
        for c in tmp.chunks_mut(8) {
            self.x ^= self.x << 13;
            self.x ^= self.x >> 7;
            self.x ^= self.x << 17;
            let b = self.x.to_le_bytes();
            c.copy_from_slice(&b[..c.len()]);
        }
        self.hash.update(&tmp);
        buf.put_slice(&tmp);
        self.left -= n as u64;
        std::task::Poll::Ready(Ok(()))
    }
}

/// Hashes what is written.
struct HashSink(Sha256, u64);

impl tokio::io::AsyncWrite for HashSink {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.update(buf);
        self.1 += buf.len() as u64;
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peak_memory_is_bounded_by_the_part_budget() {
    let mib: u64 = std::env::var("S3EC_MEMORY_TEST_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let size = mib * MIB as u64;
    let part = 8 * MIB as u64;
    let in_flight = 4usize;
    let budget = 64 * MIB as u64;
    let local = Local::start().await;
    let client = local
        .client(aes_keyring(1))
        .part_size(part)
        .parts_in_flight(in_flight)
        .memory_budget(budget)
        .build()
        .unwrap();
    let bound = part * (in_flight as u64 + 1);

    for (label, declared) in [("known length", Some(size)), ("unknown length", None)] {
        let base = status_kib("VmRSS:");
        let can_reset = reset_peak();
        let mut gen_ = Gen {
            left: size,
            x: 0x1234_5678_9abc_def1,
            hash: Sha256::new(),
        };
        let t = Instant::now();
        let put = client
            .put_object(BUCKET, "big", &mut gen_, declared, &PutOptions::default())
            .await
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let want = gen_.hash.finalize();
        let peak = status_kib("VmHWM:");
        let growth = peak.saturating_sub(base) * 1024;
        println!(
            "PUT {mib} MiB ({label}, {} parts of {} MiB, {in_flight} in flight): {:.0} MiB/s; RSS before {} MiB, peak {} MiB, growth {} MiB (bound part × (in flight + 1) = {} MiB)",
            put.parts,
            part / MIB as u64,
            mib as f64 / secs,
            base / 1024,
            peak / 1024,
            growth / MIB as u64,
            bound / MIB as u64
        );
        assert_eq!(put.plaintext_len, size);
        if can_reset {
            // Slack for the runtime, the embedded server's buffers and allocator fragmentation.
            assert!(
                growth < bound + 24 * MIB as u64,
                "PUT peak grew by {growth} bytes"
            );
        }

        let base = status_kib("VmRSS:");
        let can_reset = reset_peak();
        let mut sink = HashSink(Sha256::new(), 0);
        let t = Instant::now();
        let got = client
            .get_object_to_writer(BUCKET, "big", &mut sink, &GetOptions::default())
            .await
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let peak = status_kib("VmHWM:");
        let growth = peak.saturating_sub(base) * 1024;
        println!(
            "GET {mib} MiB ({:?}): {:.0} MiB/s; RSS before {} MiB, peak {} MiB, growth {} MiB",
            got.verification,
            mib as f64 / secs,
            base / 1024,
            peak / 1024,
            growth / MIB as u64
        );
        assert_eq!(got.verification, Verification::TwoPass);
        assert_eq!(sink.1, size);
        assert_eq!(sink.0.finalize(), want, "plaintext differs");
        if can_reset {
            assert!(growth < 24 * MIB as u64, "GET peak grew by {growth} bytes");
        }
    }
    // Into a file (one GET; on Linux decrypted as it arrives into an unnamed file, elsewhere in
    // place): writes queued behind the download within a bounded budget, whatever the object size.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.out");
    let base = status_kib("VmRSS:");
    let can_reset = reset_peak();
    let t = Instant::now();
    let got = client
        .get_object_to_file(BUCKET, "big", &out, &GetOptions::default())
        .await
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    let growth = peak.saturating_sub(base) * 1024;
    println!(
        "GET {mib} MiB to a file ({:?}): {:.0} MiB/s; RSS before {} MiB, peak {} MiB, growth {} MiB",
        got.verification,
        mib as f64 / secs,
        base / 1024,
        peak / 1024,
        growth / MIB as u64
    );
    let one_pass = if cfg!(target_os = "linux") {
        Verification::UnnamedFile
    } else {
        Verification::InPlace
    };
    assert_eq!(got.verification, one_pass);
    assert_eq!(std::fs::metadata(&out).unwrap().len(), size);
    if can_reset {
        assert!(
            growth < 40 * MIB as u64,
            "GET to a file grew by {growth} bytes"
        );
    }
    local.stop().await;
}
