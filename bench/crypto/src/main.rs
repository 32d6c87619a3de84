//! Throughput of this crate's V3 and V2 content encryption and verify-first decryption, beside the
//! `aes-gcm` and `aws-lc-rs` AES-256-GCM one-shots on the same buffers, in the same run.
//!
//! For each suite (V3, V2) and object size (1 MiB, 64 MiB):
//!
//! * encrypt: ours = `Encryptor::new_deterministic` then `Encryptor::encrypt_in_place` over 4 KiB / 64 KiB /
//!   1 MiB chunks then `Encryptor::finish`; the one-shots encrypt the whole buffer in place
//!   (`encrypt_inout_detached`, `seal_in_place_separate_tag`), key schedule included;
//! * decrypt: ours = `Envelope::decryptor` (binds the data key; V3 derives the DEK and checks the
//!   key commitment) then either `Decryptor::decrypt_whole_in_place` (verify-first over the whole
//!   buffer) or the streaming `Decryptor::verify_first` two-pass API in chunks (pass one
//!   authenticates, pass two decrypts into a second buffer); the one-shots decrypt in place
//!   (`decrypt_inout_detached`, `open_in_place`).
//!
//! Ours runs once per GCM backend this CPU has, forced in turn in the same binary (the portable
//! `ghash` + `ctr` path, 128-bit PCLMULQDQ, the stitched 256-bit VAES kernel and its 512-bit
//! form); the default build picks the last one available at run time. The "before" of the
//! runtime dispatch is the portable column (what a default build ran until then). Each x86-64
//! backend also runs "before" (`internals::legacy_kernels`): its kernels as they were before the
//! GHASH-only loop and the prefetching, so that the "best/before" column compares both in one
//! run of one binary.
//!
//! `S3EC_BENCH_PROBE=1` prints, instead of the tables, where pass one's time goes: pass one alone
//! over a 1 MiB body (in L2) and a 64 MiB one per variant, beside a 64 MiB read and a copy.
//!
//! Before timing, every variant is checked: ours (at every chunk size) and both one-shots must
//! produce the identical ciphertext and tag, and every decryption must return the plaintext.
//!
//! Contenders run interleaved (one of each per round) and the best round is reported, on two
//! clocks: the thread's on-CPU time (`CLOCK_THREAD_CPUTIME_ID`, which leaves out the time spent
//! waiting for a core on a shared machine; one reading costs about 0.5 µs) and the wall clock.
//! `S3EC_BENCH_ROUNDS_SMALL` (default 100, the 1 MiB rounds) and `S3EC_BENCH_ROUNDS_LARGE`
//! (default 15, the 64 MiB rounds) override the round counts.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use rustix::time::{ClockId, clock_gettime};
use s3_encryption::internals::{Backend, Gcm, force_backend, legacy_kernels};
use s3_encryption::{
    AesKey, CommitmentPolicy, DataKey, DecryptPolicy, EncryptConfig, EncryptionMaterials,
    Encryptor, Envelope, Placement,
};
use std::hint::black_box;
use std::time::{Duration, Instant};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const SIZES: [usize; 2] = [MIB, 64 * MIB];
const CHUNKS: [usize; 3] = [4 * KIB, 64 * KIB, MIB];
const V3_AAD: [u8; 2] = [0x00, 0x73];

/// This thread's on-CPU time (`CLOCK_THREAD_CPUTIME_ID`): unlike the wall clock, it does not
/// count the time the thread waits for a core that other processes hold.
fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// One timed interval on both clocks.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
}

impl Sample {
    const MAX: Sample = Sample {
        wall: Duration::MAX,
        cpu: Duration::MAX,
    };
    /// The best of two samples, clock by clock.
    fn min(self, o: Sample) -> Sample {
        Sample {
            wall: self.wall.min(o.wall),
            cpu: self.cpu.min(o.cpu),
        }
    }
}

struct Timer {
    wall: Instant,
    cpu: Duration,
}

impl Timer {
    fn start() -> Self {
        let cpu = thread_cpu();
        Timer {
            wall: Instant::now(),
            cpu,
        }
    }
    /// The time so far, the timer still running.
    fn lap(&self) -> Sample {
        Sample {
            wall: self.wall.elapsed(),
            cpu: thread_cpu().saturating_sub(self.cpu),
        }
    }
    fn stop(self) -> Sample {
        let wall = self.wall.elapsed();
        Sample {
            wall,
            cpu: thread_cpu().saturating_sub(self.cpu),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suite {
    V3,
    V2,
}

/// The keys of one benchmarked object, and what the one-shots need to produce the same bytes.
struct Fixture {
    suite: Suite,
    config: EncryptConfig,
    master: [u8; 32],
    data_key: [u8; 32],
    wrap_iv: [u8; 12],
    random: [u8; 28],
    /// The AES-256-GCM key, nonce and AAD of the content (V3: the derived DEK).
    key: [u8; 32],
    nonce: [u8; 12],
    aad: &'static [u8],
    env: Envelope,
    policy: DecryptPolicy,
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).expect("system random");
    b
}

impl Fixture {
    fn new(suite: Suite, len: usize) -> Self {
        let master = random::<32>();
        let data_key = random::<32>();
        let wrap_iv = random::<12>();
        let random = random::<28>();
        let (key, nonce, aad, policy): (_, _, &'static [u8], _) = match suite {
            Suite::V3 => (
                s3_encryption::hazmat::derive_v3(&data_key, &random).0,
                [1u8; 12],
                &V3_AAD,
                DecryptPolicy::default(),
            ),
            Suite::V2 => {
                let mut iv = [0u8; 12];
                iv.copy_from_slice(&random[..12]);
                (
                    data_key,
                    iv,
                    &[],
                    DecryptPolicy::default()
                        .with_commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt),
                )
            }
        };
        let config = config(suite);
        // The envelope a reader would parse: the metadata our encryptor writes.
        let meta: Vec<(String, String)> = Encryptor::new_deterministic(
            materials(&config, &master, &data_key, &wrap_iv),
            &random,
            Some(len as u64),
        )
        .expect("encryptor")
        .envelope()
        .metadata()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let env = Envelope::parse(
            meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            None,
            &policy,
        )
        .expect("parse our own envelope");
        // The wrapped data key round-trips.
        let unwrapped = env.unwrap_aes(&AesKey::new_256(master)).expect("unwrap");
        assert_eq!(unwrapped.as_bytes(), &data_key[..]);
        Fixture {
            suite,
            config,
            master,
            data_key,
            wrap_iv,
            random,
            key,
            nonce,
            aad,
            env,
            policy,
        }
    }

    /// Built outside the timed region (the data key wrap is per object, not per byte).
    fn materials(&self) -> EncryptionMaterials {
        materials(&self.config, &self.master, &self.data_key, &self.wrap_iv)
    }

    // ------------------------------------------------------------ the contenders

    fn ours_encrypt(&self, buf: &mut [u8], chunk: usize) -> (Sample, [u8; 16]) {
        let m = self.materials();
        let t = Timer::start();
        let mut e = Encryptor::new_deterministic(m, &self.random, Some(buf.len() as u64))
            .expect("encryptor");
        for c in buf.chunks_mut(chunk) {
            e.encrypt_in_place(c).expect("encrypt");
        }
        let tag = e.finish().expect("finish");
        (t.stop(), black_box(tag))
    }

    /// Our GCM engine over the whole buffer in one call: the reference for the streaming tax.
    fn engine_encrypt(&self, buf: &mut [u8]) -> (Sample, [u8; 16]) {
        let t = Timer::start();
        let mut g = Gcm::new_256(&self.key, &self.nonce, self.aad);
        g.encrypt_in_place(buf).expect("encrypt");
        let tag = g.tag();
        (t.stop(), black_box(tag))
    }

    /// Our GCM engine's one fused pass over the whole buffer (decrypt, then check the tag), as
    /// the one-shots do; not verify-first.
    fn engine_decrypt(&self, body: &mut [u8]) -> Sample {
        let (ct, tag) = body.split_at_mut(body.len() - 16);
        let t = Timer::start();
        let mut g = Gcm::new_256(&self.key, &self.nonce, self.aad);
        g.decrypt_in_place(ct).expect("decrypt");
        g.verify(tag).expect("tag");
        t.stop()
    }

    fn aes_gcm_encrypt(&self, buf: &mut [u8]) -> (Sample, [u8; 16]) {
        let t = Timer::start();
        let c = aes_gcm::Aes256Gcm::new(&self.key.into());
        let tag = c
            .encrypt_inout_detached(&self.nonce.into(), self.aad, buf.into())
            .expect("aes-gcm encrypt");
        (t.stop(), black_box(tag.into()))
    }

    fn aws_lc_encrypt(&self, buf: &mut [u8]) -> (Sample, [u8; 16]) {
        let t = Timer::start();
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.key).expect("key"));
        let tag = k
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(self.nonce),
                Aad::from(self.aad),
                buf,
            )
            .expect("aws-lc-rs seal");
        let mut out = [0u8; 16];
        out.copy_from_slice(tag.as_ref());
        (t.stop(), black_box(out))
    }

    /// `body` = ciphertext ‖ tag, decrypted in place; returns the plaintext length.
    fn ours_decrypt_whole(&self, body: &mut [u8]) -> (Sample, usize) {
        let dk = DataKey::new_256(self.data_key);
        let t = Timer::start();
        let n = self
            .env
            .decryptor(dk, &self.policy)
            .expect("decryptor")
            .decrypt_whole_in_place(body)
            .expect("decrypt_whole_in_place");
        (t.stop(), black_box(n))
    }

    /// Verify-first streaming in `chunk`-byte pieces: pass one over `body`, pass two into `out`.
    /// Returns both passes' time, pass one's alone (authentication: GHASH only), and the
    /// plaintext length.
    fn ours_verify_first(
        &self,
        body: &[u8],
        out: &mut [u8],
        chunk: usize,
    ) -> (Sample, Sample, usize) {
        let dk = DataKey::new_256(self.data_key);
        let t = Timer::start();
        let mut pass1 = self
            .env
            .decryptor(dk, &self.policy)
            .expect("decryptor")
            .verify_first()
            .expect("verify_first");
        for c in body.chunks(chunk) {
            pass1.update(c).expect("pass one");
        }
        let mut pass2 = pass1.finish().expect("pass one verifies");
        let one = t.lap();
        let mut n = 0;
        for c in body.chunks(chunk) {
            n += pass2.update(c, &mut out[n..]).expect("pass two");
        }
        n += pass2.finish(&mut out[n..]).expect("pass two verifies");
        (t.stop(), one, black_box(n))
    }

    fn aes_gcm_decrypt(&self, body: &mut [u8]) -> Sample {
        let (ct, tag) = body.split_at_mut(body.len() - 16);
        let tag: [u8; 16] = (&*tag).try_into().expect("tag");
        let t = Timer::start();
        let c = aes_gcm::Aes256Gcm::new(&self.key.into());
        c.decrypt_inout_detached(&self.nonce.into(), self.aad, ct.into(), &tag.into())
            .expect("aes-gcm decrypt");
        t.stop()
    }

    fn aws_lc_decrypt(&self, body: &mut [u8]) -> Sample {
        let t = Timer::start();
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.key).expect("key"));
        let pt = k
            .open_in_place(
                Nonce::assume_unique_for_key(self.nonce),
                Aad::from(self.aad),
                body,
            )
            .expect("aws-lc-rs open");
        black_box(pt.len());
        t.stop()
    }
}

fn config(suite: Suite) -> EncryptConfig {
    match suite {
        Suite::V3 => EncryptConfig::default(),
        Suite::V2 => EncryptConfig::v2(Placement::ObjectMetadata),
    }
}

/// The public way in: wrap the data key under an AES master key (`AES/GCM`).
fn materials(
    config: &EncryptConfig,
    master: &[u8; 32],
    data_key: &[u8; 32],
    wrap_iv: &[u8; 12],
) -> EncryptionMaterials {
    EncryptionMaterials::aes_gcm_deterministic(
        config,
        &AesKey::new_256(*master),
        DataKey::new_256(*data_key),
        wrap_iv,
        &[],
    )
    .expect("materials")
}

fn plaintext(len: usize) -> Vec<u8> {
    // xorshift64: cheap, not constant, reproducible.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn chunk_name(c: usize) -> String {
    if c >= MIB {
        format!("{} MiB", c / MIB)
    } else {
        format!("{} KiB", c / KIB)
    }
}

/// Check that ours, at every chunk size, and both one-shots write the same ciphertext and tag,
/// and that every decryption path returns the plaintext. Returns ciphertext ‖ tag.
fn check_identical(f: &Fixture, pt: &[u8]) -> Vec<u8> {
    let mut reference = pt.to_vec();
    let (_, tag) = f.aes_gcm_encrypt(&mut reference);
    reference.extend_from_slice(&tag);

    let mut buf = pt.to_vec();
    let (_, tag) = f.aws_lc_encrypt(&mut buf);
    buf.extend_from_slice(&tag);
    assert!(
        buf == reference,
        "{:?}: aws-lc-rs differs from aes-gcm",
        f.suite
    );

    for b in variants() {
        b.set();
        for &c in &CHUNKS {
            let mut buf = pt.to_vec();
            let (_, tag) = f.ours_encrypt(&mut buf, c);
            buf.extend_from_slice(&tag);
            assert!(
                buf == reference,
                "{:?}: ours ({} chunks, {b:?}) differs from the one-shots",
                f.suite,
                chunk_name(c)
            );
        }

        let mut body = reference.clone();
        let (_, n) = f.ours_decrypt_whole(&mut body);
        assert!(n == pt.len() && body[..n] == *pt, "decrypt_whole_in_place");
        let mut out = vec![0u8; reference.len()];
        for &c in &CHUNKS {
            out.fill(0);
            let (_, _, n) = f.ours_verify_first(&reference, &mut out, c);
            assert!(
                n == pt.len() && out[..n] == *pt,
                "verify_first {}",
                chunk_name(c)
            );
        }
    }
    let mut body = reference.clone();
    body.copy_from_slice(&reference);
    f.aes_gcm_decrypt(&mut body);
    assert!(body[..pt.len()] == *pt, "aes-gcm decrypt");
    body.copy_from_slice(&reference);
    f.aws_lc_decrypt(&mut body);
    assert!(body[..pt.len()] == *pt, "aws-lc-rs decrypt");
    reference
}

/// One way to run ours: a GCM backend, forced, with its current kernels or (`legacy`, x86-64
/// backends) the ones it had before the GHASH-only loop and the prefetching
/// (`internals::legacy_kernels`): the before/after in one binary.
#[derive(Clone, Copy, Debug)]
struct Variant {
    backend: Backend,
    legacy: bool,
}

impl Variant {
    fn set(self) {
        force(self.backend);
        legacy_kernels(self.legacy);
    }
    fn name(self) -> String {
        if self.legacy {
            format!("{:?} before", self.backend)
        } else {
            format!("{:?}", self.backend)
        }
    }
}

/// The backends this CPU has, slowest first, each x86-64 one first as it was before.
fn variants() -> Vec<Variant> {
    let mut v = Vec::new();
    for backend in backends() {
        if backend != Backend::Portable {
            v.push(Variant {
                backend,
                legacy: true,
            });
        }
        v.push(Variant {
            backend,
            legacy: false,
        });
    }
    v
}

/// The GCM backends this CPU has, slowest first.
fn backends() -> Vec<Backend> {
    Backend::ALL
        .into_iter()
        .filter(|b| force_backend(Some(*b)))
        .collect()
}

fn force(b: Backend) {
    assert!(force_backend(Some(b)), "{b:?} was available a moment ago");
}

struct Row {
    suite: Suite,
    op: &'static str,
    len: usize,
    mode: &'static str,
    chunk: String,
    /// Ours, one per variant of `variants()`.
    ours: Vec<Sample>,
    aes_gcm: Sample,
    aws_lc: Sample,
}

fn rounds_for(len: usize) -> usize {
    let (var, default) = if len <= MIB {
        ("S3EC_BENCH_ROUNDS_SMALL", 100)
    } else {
        ("S3EC_BENCH_ROUNDS_LARGE", 15)
    };
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(default)
}

fn bench(suite: Suite, len: usize, rows: &mut Vec<Row>) {
    let f = Fixture::new(suite, len);
    let pt = plaintext(len);
    let reference = check_identical(&f, &pt);
    let rounds = rounds_for(len);

    let bs = variants();
    let nb = bs.len();
    // Encrypt: chunked ours ×3 per backend, the two one-shots; interleaved, best of `rounds`.
    let mut buf = pt.clone();
    let mut enc_ours = [(); 3].map(|_| vec![Sample::MAX; nb]);
    let mut enc_engine = vec![Sample::MAX; nb];
    let mut dec_engine = vec![Sample::MAX; nb];
    let (mut enc_aes, mut enc_lc) = (Sample::MAX, Sample::MAX);
    // Decrypt: whole-buffer, streaming ×3 per backend, the two one-shots.
    let mut body = reference.clone();
    let mut out = vec![0u8; reference.len()];
    let mut dec_whole = vec![Sample::MAX; nb];
    let mut dec_stream = [(); 3].map(|_| vec![Sample::MAX; nb]);
    let mut dec_pass1 = [(); 3].map(|_| vec![Sample::MAX; nb]);
    let (mut dec_aes, mut dec_lc) = (Sample::MAX, Sample::MAX);

    for _ in 0..rounds {
        for (k, &b) in bs.iter().enumerate() {
            b.set();
            for (i, &c) in CHUNKS.iter().enumerate() {
                enc_ours[i][k] = enc_ours[i][k].min(f.ours_encrypt(&mut buf, c).0);
            }
            enc_engine[k] = enc_engine[k].min(f.engine_encrypt(&mut buf).0);
        }
        enc_aes = enc_aes.min(f.aes_gcm_encrypt(&mut buf).0);
        enc_lc = enc_lc.min(f.aws_lc_encrypt(&mut buf).0);

        for (k, &b) in bs.iter().enumerate() {
            b.set();
            body.copy_from_slice(&reference);
            dec_whole[k] = dec_whole[k].min(f.ours_decrypt_whole(&mut body).0);
            body.copy_from_slice(&reference);
            dec_engine[k] = dec_engine[k].min(f.engine_decrypt(&mut body));
            for (i, &c) in CHUNKS.iter().enumerate() {
                let (both, one, _) = f.ours_verify_first(&reference, &mut out, c);
                dec_stream[i][k] = dec_stream[i][k].min(both);
                dec_pass1[i][k] = dec_pass1[i][k].min(one);
            }
        }
        body.copy_from_slice(&reference);
        dec_aes = dec_aes.min(f.aes_gcm_decrypt(&mut body));
        body.copy_from_slice(&reference);
        dec_lc = dec_lc.min(f.aws_lc_decrypt(&mut body));
    }

    for (i, &c) in CHUNKS.iter().enumerate() {
        rows.push(Row {
            suite,
            op: "encrypt",
            len,
            mode: "Encryptor::encrypt_in_place",
            chunk: chunk_name(c),
            ours: enc_ours[i].clone(),
            aes_gcm: enc_aes,
            aws_lc: enc_lc,
        });
    }
    rows.push(Row {
        suite,
        op: "encrypt",
        len,
        mode: "engine, one call (streaming-tax reference)",
        chunk: "whole".into(),
        ours: enc_engine,
        aes_gcm: enc_aes,
        aws_lc: enc_lc,
    });
    rows.push(Row {
        suite,
        op: "decrypt",
        len,
        mode: "engine, one fused pass, then the tag",
        chunk: "whole".into(),
        ours: dec_engine,
        aes_gcm: dec_aes,
        aws_lc: dec_lc,
    });
    rows.push(Row {
        suite,
        op: "decrypt",
        len,
        mode: "decrypt_whole_in_place (verify-first, 2 passes)",
        chunk: "whole".into(),
        ours: dec_whole.clone(),
        aes_gcm: dec_aes,
        aws_lc: dec_lc,
    });
    for (i, &c) in CHUNKS.iter().enumerate() {
        rows.push(Row {
            suite,
            op: "decrypt",
            len,
            mode: "verify_first (2 passes)",
            chunk: chunk_name(c),
            ours: dec_stream[i].clone(),
            aes_gcm: dec_aes,
            aws_lc: dec_lc,
        });
    }
    for (i, &c) in CHUNKS.iter().enumerate() {
        rows.push(Row {
            suite,
            op: "decrypt",
            len,
            mode: "verify_first, pass one alone (authenticate: GHASH only)",
            chunk: chunk_name(c),
            ours: dec_pass1[i].clone(),
            aes_gcm: dec_aes,
            aws_lc: dec_lc,
        });
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Pass one alone (authentication), `chunk`-byte pieces.
fn pass_one(f: &Fixture, body: &[u8], chunk: usize) -> Sample {
    let dk = DataKey::new_256(f.data_key);
    let t = Timer::start();
    let mut p = f
        .env
        .decryptor(dk, &f.policy)
        .expect("decryptor")
        .verify_first()
        .expect("verify_first");
    for c in body.chunks(chunk) {
        p.update(c).expect("pass one");
    }
    black_box(p.finish().expect("pass one verifies"));
    t.stop()
}

/// `S3EC_BENCH_PROBE=1`: where pass one's time goes. Pass one alone over a 1 MiB body (in L2)
/// and a 64 MiB one, per backend, beside the memory-read ceiling (a 64-bit XOR fold of the
/// same 64 MiB) and a 64 MiB copy.
fn probe() {
    let rounds = rounds_for(64 * MIB);
    let mbps = |len: usize, d: Duration| len as f64 / d.as_secs_f64() / 1e6;
    for &len in &SIZES {
        let f = Fixture::new(Suite::V3, len);
        let body = check_identical(&f, &plaintext(len));
        let reps = (64 * MIB / len).max(1);
        for b in variants() {
            b.set();
            let mut best = Sample::MAX;
            for _ in 0..rounds * reps {
                best = best.min(pass_one(&f, &body, 64 * KIB));
            }
            println!(
                "pass one, {} body, 64 KiB chunks, {}: {:.0} MB/s (on-CPU)",
                chunk_name(len),
                b.name(),
                mbps(len, best.cpu)
            );
        }
        if len == 64 * MIB {
            let mut best = Sample::MAX;
            let mut best_copy = Sample::MAX;
            let mut out = vec![0u8; body.len()];
            for _ in 0..rounds {
                let t = Timer::start();
                let (w, _) = body.as_chunks::<8>();
                let mut acc = [0u64; 8];
                for c in w.chunks_exact(8) {
                    for (a, x) in acc.iter_mut().zip(c) {
                        *a ^= u64::from_le_bytes(*x);
                    }
                }
                black_box(acc);
                best = best.min(t.stop());
                let t = Timer::start();
                out.copy_from_slice(&body);
                black_box(&out);
                best_copy = best_copy.min(t.stop());
            }
            println!("64 MiB read (XOR fold): {:.0} MB/s", mbps(len, best.cpu));
            println!("64 MiB copy: {:.0} MB/s", mbps(len, best_copy.cpu));
        }
    }
    force_backend(None);
    legacy_kernels(false);
}

fn main() {
    if std::env::var("S3EC_BENCH_PROBE").is_ok_and(|v| v == "1") {
        probe();
        return;
    }
    let mut rows = Vec::new();
    // S3EC_BENCH_QUICK=1: V3 at 64 MiB only.
    let quick = std::env::var("S3EC_BENCH_QUICK").is_ok_and(|v| v == "1");
    for &len in &SIZES {
        for suite in [Suite::V3, Suite::V2] {
            if quick && (suite != Suite::V3 || len != 64 * MIB) {
                continue;
            }
            eprintln!("benchmarking {suite:?} {} ...", chunk_name(len));
            bench(suite, len, &mut rows);
        }
    }
    let mbps = |len: usize, d: Duration| len as f64 / d.as_secs_f64() / 1e6;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "AES-256-GCM content crypto, one thread; {} ({cores} logical CPUs). Best of {} rounds \
         (1 MiB) / {} rounds (64 MiB), contenders interleaved. MB/s = 10^6 plaintext bytes per \
         second; ratio = our throughput / theirs (> 1: ours is faster). Ciphertext and tag were \
         checked identical across all three before timing.",
        cpu_model(),
        rounds_for(MIB),
        rounds_for(64 * MIB)
    );
    type Clock = fn(&Sample) -> Duration;
    let tables: [(&str, Clock); 2] = [
        (
            "On-CPU time of the benchmarking thread (CLOCK_THREAD_CPUTIME_ID): excludes the time \
             the thread waited for a core held by other processes",
            |s| s.cpu,
        ),
        ("Wall clock (Instant)", |s| s.wall),
    ];
    for (title, clock) in tables {
        println!();
        println!("{title}:");
        println!();
        let bs = variants();
        let names: Vec<String> = bs
            .iter()
            .map(|b| format!("ours {} MB/s", b.name()))
            .collect();
        println!(
            "| suite | op | size | ours (API) | chunk | {} | aes-gcm MB/s | aws-lc-rs MB/s | best/before | best/portable | best/aes-gcm | best/aws-lc-rs |",
            names.join(" | ")
        );
        println!(
            "|---|---|---|---|---|{}---:|---:|---:|---:|---:|---:|",
            "---:|".repeat(bs.len())
        );
        // The best backend's own "before" column, if it has one.
        let before = bs
            .len()
            .checked_sub(2)
            .filter(|&i| bs[i].legacy && bs[i].backend == bs[bs.len() - 1].backend);
        for r in &rows {
            let ours: Vec<f64> = r.ours.iter().map(|s| mbps(r.len, clock(s))).collect();
            let (a, l) = (
                mbps(r.len, clock(&r.aes_gcm)),
                mbps(r.len, clock(&r.aws_lc)),
            );
            let best = ours.last().copied().unwrap_or(0.0);
            let cols: Vec<String> = ours.iter().map(|o| format!("{o:.0}")).collect();
            let vs_before = before.map_or("–".into(), |i| format!("{:.2}", best / ours[i]));
            println!(
                "| {:?} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {vs_before} | {:.2} | {:.2} | {:.2} |",
                r.suite,
                r.op,
                chunk_name(r.len),
                r.mode,
                r.chunk,
                cols.join(" | "),
                a,
                l,
                best / ours[0],
                best / a,
                best / l
            );
        }
    }
    force_backend(None);
    legacy_kernels(false);
}
