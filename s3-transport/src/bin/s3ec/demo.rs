//! `s3ec demo`: the whole story on an embedded S3 server.

use crate::args::Global;
use crate::{CliResult, Failure};

#[cfg(not(feature = "embedded-s3"))]
pub async fn run(_g: &Global, _size: u64, _dir: Option<std::path::PathBuf>) -> CliResult<()> {
    Err(Failure::usage(
        "the demo needs s3ec built with the embedded-s3 feature",
        None,
    ))
}

#[cfg(feature = "embedded-s3")]
pub use imp::run;

#[cfg(feature = "embedded-s3")]
mod imp {
    use super::*;
    use crate::out;
    use s3_encryption::{AesKey, ByteRange, Placement};
    use s3_encryption_transport::local::LocalS3;
    use s3_encryption_transport::{
        ClientKeyring, GetOptions, PutOptions, S3EncryptionClient, Verification,
    };
    use sha2::{Digest, Sha256};
    use std::io::Write;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Instant;

    const MIB: u64 = 1024 * 1024;

    fn step(n: u32, what: &str, text: &str) {
        println!("{n}. {what:<9} {text}");
    }

    fn rate(bytes: u64, secs: f64) -> String {
        format!(
            "{:.2} s, {:.0} MiB/s",
            secs,
            bytes as f64 / MIB as f64 / secs.max(1e-9)
        )
    }

    fn peak_rss_mib() -> Option<u64> {
        let s = std::fs::read_to_string("/proc/self/status").ok()?;
        let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
        l.split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|k| k / 1024)
    }

    fn io(what: &str) -> impl Fn(std::io::Error) -> Failure + '_ {
        move |e| Failure::io(what, e)
    }

    pub async fn run(g: &Global, size_mib: u64, dir: Option<PathBuf>) -> CliResult<()> {
        if size_mib == 0 {
            return Err(Failure::usage("--size must be at least 1 (MiB)", None));
        }
        let tmp = tempfile::tempdir().map_err(io("cannot make a temporary folder"))?;
        let root = dir.unwrap_or_else(|| tmp.path().join("s3"));
        let server = LocalS3::start(&root).await?;
        let r = story(g, &server, tmp.path(), size_mib).await;
        server.stop().await;
        r
    }

    async fn story(
        g: &Global,
        server: &LocalS3,
        work: &std::path::Path,
        size_mib: u64,
    ) -> CliResult<()> {
        let size = size_mib * MIB;
        let s3 = server.s3_client();
        let bucket = "demo";
        let key = "big.bin";
        let url = format!("s3://{bucket}/{key}");
        println!(
            "s3ec demo: client-side encryption against an S3 server embedded in this process (s3s-fs at {}, data in {}); no AWS account involved.",
            server.endpoint(),
            server.root().display()
        );
        let _ = s3.create_bucket().bucket(bucket).send().await;

        // 1. A key.
        let key_path = work.join("demo.key");
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(|_| Failure::other("no randomness available"))?;
        std::fs::write(&key_path, k).map_err(io("cannot write the key"))?;
        let aes = AesKey::new_256(k);
        k.fill(0);
        step(
            1,
            "keygen",
            &format!(
                "AES-256 master key in {} (as `s3ec keygen --aes FILE` makes)",
                key_path.display()
            ),
        );

        // 2. Plaintext and upload.
        let src = work.join("plaintext.bin");
        let want = {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(&src).map_err(io("cannot write the plaintext"))?,
            );
            let mut h = Sha256::new();
            let mut x: u64 = 0x005e_ed0f_5ec0_de11;
            let mut buf = vec![0u8; MIB as usize];
            for _ in 0..size_mib {
                for c in buf.chunks_mut(8) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    c.copy_from_slice(&x.to_le_bytes());
                }
                h.update(&buf);
                f.write_all(&buf)
                    .map_err(io("cannot write the plaintext"))?;
            }
            f.flush().map_err(io("cannot write the plaintext"))?;
            h.finalize()
        };
        let client = S3EncryptionClient::builder(
            s3.clone(),
            ClientKeyring::aes(aes.clone()).with_context([("purpose", "s3ec demo")]),
        )
        .part_size(8 * MIB)
        .parts_in_flight(4)
        .memory_budget(64 * MIB)
        .enable_legacy_unauthenticated_modes(true)
        .build()?;
        let pb = out::bar(g, Some(size), "upload");
        let p = pb.clone();
        let t = Instant::now();
        let put = client
            .put_file(
                bucket,
                key,
                &src,
                &PutOptions {
                    progress: Some(Arc::new(move |n| p.inc(n))),
                    ..Default::default()
                },
            )
            .await?;
        let put_secs = t.elapsed().as_secs_f64();
        pb.finish_and_clear();
        step(
            2,
            "put",
            &format!(
                "{url}: {size_mib} MiB encrypted on the fly (V3, key-committing AES-256-GCM) in {} parts of 8 MiB on all cores (independent GCM segments, one tag), 4 uploading at once: {}",
                put.parts,
                rate(size, put_secs)
            ),
        );

        // 3. Inspect.
        let info = client
            .head_object(bucket, key, &GetOptions::default())
            .await?;
        step(
            3,
            "inspect",
            &format!("{url} (no key needed, no key material shown):"),
        );
        for (k, v) in out::envelope_lines(&info.envelope, Some(info.stored_len), info.plaintext_len)
        {
            println!("     {k:<22} {v}");
        }

        // 4. A range.
        let (a, b) = (size / 3 + 5, size / 3 + 5 + 99);
        let mut part = Vec::new();
        let got = client
            .get_object_range_hazmat(
                bucket,
                key,
                ByteRange::Inclusive(a, b),
                &mut part,
                &GetOptions::default(),
            )
            .await?;
        let original = {
            use std::io::{Read, Seek, SeekFrom};
            let mut f = std::fs::File::open(&src).map_err(io("cannot read the plaintext"))?;
            f.seek(SeekFrom::Start(a))
                .map_err(io("cannot read the plaintext"))?;
            let mut v = vec![0u8; (b - a + 1) as usize];
            f.read_exact(&mut v)
                .map_err(io("cannot read the plaintext"))?;
            v
        };
        step(
            4,
            "range",
            &format!(
                "bytes={a}-{b}: {} bytes, fetched {} stored bytes (one block of slack each side); {} the original (ranged reads are unauthenticated: an opt-in)",
                part.len(),
                got.fetched,
                if part == original {
                    "matches"
                } else {
                    "DOES NOT MATCH"
                }
            ),
        );
        if part != original {
            return Err(Failure::usage(
                "the ranged read does not match the original",
                None,
            ));
        }

        // 5. Whole object, verified before release.
        let pb = out::bar(g, Some(size), "download");
        let p = pb.clone();
        let copy = src.with_extension("copy");
        let t = Instant::now();
        let got = client
            .get_object_to_file(
                bucket,
                key,
                &copy,
                &GetOptions {
                    progress: Some(Arc::new(move |n| p.inc(n))),
                    ..Default::default()
                },
            )
            .await?;
        let get_secs = t.elapsed().as_secs_f64();
        pb.finish_and_clear();
        let how = match got.verification {
            Verification::TwoPass => {
                "verified by a first pass, then released by a second GET pinned to the ETag"
            }
            Verification::InMemory => "verified in memory before release",
            Verification::SpillFile => "verified through a spill file before release",
            Verification::InPlace => {
                "in one GET: the ciphertext went to a hidden file while the tag was checked, then was decrypted in place and renamed into place"
            }
            Verification::UnnamedFile => {
                "in one GET and one pass: decrypted into an unnamed file while the tag was checked, linked into place once it verified"
            }
            _ => "released",
        };
        step(
            5,
            "get",
            &format!(
                "{size_mib} MiB read back whole, {how}: {}",
                rate(size, get_secs)
            ),
        );

        // 6. Verify.
        let (mut hasher, mut read_back) = (Sha256::new(), 0u64);
        {
            use std::io::Read;
            let mut f = std::fs::File::open(&copy).map_err(io("cannot read the copy"))?;
            let mut buf = vec![0u8; MIB as usize];
            loop {
                let n = f.read(&mut buf).map_err(io("cannot read the copy"))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                read_back += n as u64;
            }
        }
        let _ = std::fs::remove_file(&copy);
        let have = hasher.finalize();
        let ok = have == want && read_back == size;
        step(
            6,
            "verify",
            &format!(
                "SHA-256 of the original and the read-back copy {}: {}",
                if ok { "match" } else { "DIFFER" },
                hex::encode(have)
            ),
        );
        if !ok {
            return Err(Failure::usage(
                "the read-back copy differs from the original",
                None,
            ));
        }

        // 7. Tamper with a small object: nothing is released.
        client
            .put_bytes(
                bucket,
                "small.txt",
                b"attack at dawn",
                &PutOptions {
                    placement: Some(Placement::ObjectMetadata),
                    ..Default::default()
                },
            )
            .await?;
        let o = s3
            .get_object()
            .bucket(bucket)
            .key("small.txt")
            .send()
            .await
            .map_err(|e| s3_encryption_transport::Error::from_s3("GetObject", e))?;
        let meta = o.metadata().cloned();
        let mut body = o
            .body
            .collect()
            .await
            .map_err(|e| Failure::other(e.to_string()))?
            .into_bytes()
            .to_vec();
        body[3] ^= 0x20;
        s3.put_object()
            .bucket(bucket)
            .key("small.txt")
            .set_metadata(meta)
            .body(body.into())
            .send()
            .await
            .map_err(|e| s3_encryption_transport::Error::from_s3("PutObject", e))?;
        let mut leak = Vec::new();
        let e = client
            .get_object_to_writer(bucket, "small.txt", &mut leak, &GetOptions::default())
            .await
            .err();
        step(
            7,
            "tamper",
            &format!(
                "one ciphertext bit flipped in s3://{bucket}/small.txt: get fails ({}), {} bytes released",
                e.map(|e| e.to_string())
                    .unwrap_or_else(|| "NOT DETECTED".into()),
                leak.len()
            ),
        );

        // 8. A plain object.
        s3.put_object()
            .bucket(bucket)
            .key("plain.txt")
            .body(b"not secret".to_vec().into())
            .send()
            .await
            .map_err(|e| s3_encryption_transport::Error::from_s3("PutObject", e))?;
        let e = client
            .get_object_bytes(bucket, "plain.txt", &GetOptions::default())
            .await
            .err();
        step(
            8,
            "plain",
            &format!(
                "s3://{bucket}/plain.txt was stored without encryption: {}",
                e.map(|e| e.to_string())
                    .unwrap_or_else(|| "NOT DETECTED".into())
            ),
        );
        if let Some(m) = peak_rss_mib() {
            println!(
                "peak memory (whole process, embedded server included): {m} MiB for a {size_mib} MiB object; parts use at most 8 MiB x (4 in flight + 1)"
            );
        }
        println!(
            "throughput: put {:.0} MiB/s, get {:.0} MiB/s (both against the embedded s3s-fs on this machine; `cargo bench -p s3-encryption-transport --bench put_get` compares plain aws-sdk-s3)",
            size as f64 / MIB as f64 / put_secs,
            size as f64 / MIB as f64 / get_secs
        );
        Ok(())
    }
}
