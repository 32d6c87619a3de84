//! V3 encrypt and decrypt of 64 MiB in 64 KiB chunks against the `aes-gcm` one-shot on the same
//! buffer, in the same run. Criterion measures each (on the backend a default build picks); a
//! final interleaved comparison prints the throughput per GCM backend this CPU has, each forced
//! in turn in this one binary (`internals::force_backend`; the portable one is what default builds
//! ran before the runtime dispatch), with the ratios to the portable backend, to the one-shot,
//! and the streaming tax (64 KiB chunks against one whole-buffer call of our engine).
//!
//! `cargo bench --bench gcm` (add `-- --quick` for a shorter run).

use aes_gcm::aead::{AeadInOut, KeyInit};
use criterion::{Criterion, Throughput};
use s3_encryption::internals::{Backend, Gcm, force_backend};
use s3_encryption::{
    AesKey, DataKey, DecryptPolicy, EncryptConfig, EncryptionMaterials, Encryptor, Envelope,
};
use std::hint::black_box;
use std::time::{Duration, Instant};

const LEN: usize = 64 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

fn master() -> AesKey {
    AesKey::new_256([1; 32])
}

fn new_encryptor() -> Encryptor {
    let m = EncryptionMaterials::aes_gcm_deterministic(
        &EncryptConfig::default(),
        &master(),
        DataKey::new_256([2; 32]),
        &[3; 12],
        &[],
    )
    .unwrap();
    Encryptor::new_deterministic(m, &[4; 28], Some(LEN as u64)).unwrap()
}

fn ours_encrypt(buf: &mut [u8]) -> [u8; 16] {
    let mut e = new_encryptor();
    for c in buf.chunks_mut(CHUNK) {
        e.encrypt_in_place(c).unwrap();
    }
    e.finish().unwrap()
}

fn oneshot_encrypt(buf: &mut [u8]) -> [u8; 16] {
    let (dek, _) = s3_encryption::hazmat::derive_v3(&[2; 32], &[4; 28]);
    let c = aes_gcm::Aes256Gcm::new(&dek.into());
    let t = c
        .encrypt_inout_detached(&[1u8; 12].into(), &[0x00, 0x73], buf.into())
        .unwrap();
    t.into()
}

fn ours_decrypt(meta: &[(String, String)], body: &mut [u8]) {
    // Streaming (delayed authentication) decrypt in 64 KiB chunks: one fused pass.
    let p = DecryptPolicy {
        delayed_authentication: true,
        ..DecryptPolicy::default()
    };
    let env =
        Envelope::parse(meta.iter().map(|(k, v)| (k.as_str(), v.as_str())), None, &p).unwrap();
    let mut s = s3_encryption::hazmat::delayed_authentication(
        env.decryptor(env.unwrap_aes(&master()).unwrap(), &p)
            .unwrap(),
    )
    .unwrap();
    let mut out = vec![0u8; CHUNK + 16];
    for c in body.chunks(CHUNK) {
        let n = s.update(c, &mut out).unwrap();
        black_box(&out[..n]);
    }
    s.finish(&mut []).unwrap();
}

fn ours_decrypt_whole(meta: &[(String, String)], body: &mut [u8]) -> usize {
    // Verify-first over a buffer: authenticate, then decrypt in place (two passes).
    let p = DecryptPolicy::default();
    let env =
        Envelope::parse(meta.iter().map(|(k, v)| (k.as_str(), v.as_str())), None, &p).unwrap();
    env.decryptor(env.unwrap_aes(&master()).unwrap(), &p)
        .unwrap()
        .decrypt_whole_in_place(body)
        .unwrap()
}

fn oneshot_decrypt(body: &mut [u8]) {
    let (dek, _) = s3_encryption::hazmat::derive_v3(&[2; 32], &[4; 28]);
    let c = aes_gcm::Aes256Gcm::new(&dek.into());
    let (ct, tag) = body.split_at_mut(LEN);
    let tag: [u8; 16] = (&*tag).try_into().unwrap();
    c.decrypt_inout_detached(&[1u8; 12].into(), &[0x00, 0x73], ct.into(), &tag.into())
        .unwrap();
}

/// Our engine over the whole buffer in one call: the reference for the streaming tax.
fn engine_encrypt_whole(buf: &mut [u8]) -> [u8; 16] {
    let (dek, _) = s3_encryption::hazmat::derive_v3(&[2; 32], &[4; 28]);
    let mut g = Gcm::new_256(&dek, &[1u8; 12], &[0x00, 0x73]);
    g.encrypt_in_place(buf).unwrap();
    g.tag()
}

fn engine_decrypt_whole(body: &mut [u8]) {
    let (dek, _) = s3_encryption::hazmat::derive_v3(&[2; 32], &[4; 28]);
    let mut g = Gcm::new_256(&dek, &[1u8; 12], &[0x00, 0x73]);
    let (ct, tag) = body.split_at_mut(LEN);
    g.decrypt_in_place(ct).unwrap();
    g.verify(tag).unwrap();
}

fn time(f: &mut dyn FnMut()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn main() {
    let mut crit = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    let mut buf = vec![0x5Au8; LEN];
    let meta: Vec<(String, String)> = new_encryptor()
        .envelope()
        .metadata()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let mut body = vec![0x5Au8; LEN];
    let tag = ours_encrypt(&mut body);
    body.extend_from_slice(&tag);
    {
        // Same output as the one-shot.
        let mut one = vec![0x5Au8; LEN];
        let t = oneshot_encrypt(&mut one);
        assert!(one == body[..LEN] && t == tag, "ours differs from aes-gcm");
    }
    let mut g = crit.benchmark_group("v3-64MiB");
    g.throughput(Throughput::Bytes(LEN as u64));
    g.bench_function("encrypt/ours-64KiB-chunks", |b| {
        b.iter(|| black_box(ours_encrypt(&mut buf)))
    });
    g.bench_function("encrypt/aes-gcm-one-shot", |b| {
        b.iter(|| black_box(oneshot_encrypt(&mut buf)))
    });
    g.bench_function("decrypt/ours-streaming-64KiB", |b| {
        b.iter(|| ours_decrypt(&meta, &mut body))
    });
    g.bench_function("decrypt/aes-gcm-one-shot", |b| {
        b.iter_batched_ref(
            || body.clone(),
            |x| oneshot_decrypt(x),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();

    // Interleaved comparison per backend: best of 7 each, alternating, same buffers.
    let gbps = |d: Duration| LEN as f64 / d.as_secs_f64() / 1e9;
    let backends: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|b| force_backend(Some(*b)))
        .collect();
    let n = backends.len();
    // Per backend: encrypt chunked, encrypt whole (engine), decrypt streaming, decrypt whole
    // (engine), verify-first in place.
    let mut best = vec![[Duration::MAX; 5]; n];
    let mut one = [Duration::MAX; 2];
    let mut scratch = body.clone();
    for _ in 0..7 {
        for (k, b) in backends.iter().enumerate() {
            force_backend(Some(*b));
            let t = &mut best[k];
            t[0] = t[0].min(time(&mut || {
                black_box(ours_encrypt(&mut buf));
            }));
            t[1] = t[1].min(time(&mut || {
                black_box(engine_encrypt_whole(&mut buf));
            }));
            t[2] = t[2].min(time(&mut || ours_decrypt(&meta, &mut body)));
            scratch.copy_from_slice(&body);
            t[3] = t[3].min(time(&mut || engine_decrypt_whole(&mut scratch)));
            scratch.copy_from_slice(&body);
            t[4] = t[4].min(time(&mut || {
                black_box(ours_decrypt_whole(&meta, &mut scratch));
            }));
        }
        one[0] = one[0].min(time(&mut || {
            black_box(oneshot_encrypt(&mut buf));
        }));
        scratch.copy_from_slice(&body);
        one[1] = one[1].min(time(&mut || oneshot_decrypt(&mut scratch)));
    }
    force_backend(None);
    println!("V3 AES-256-GCM, 64 MiB, one thread, best of 7 (GB/s), each backend forced in turn:");
    println!(
        "| backend | encrypt 64 KiB chunks | encrypt whole (engine) | streaming tax | decrypt streaming 64 KiB | decrypt whole (engine) | verify-first in place (2 passes) | encrypt / portable | encrypt / aes-gcm |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (k, b) in backends.iter().enumerate() {
        let t = &best[k];
        println!(
            "| {b:?} | {:.2} | {:.2} | {:+.1}% | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            gbps(t[0]),
            gbps(t[1]),
            (t[0].as_secs_f64() / t[1].as_secs_f64() - 1.0) * 100.0,
            gbps(t[2]),
            gbps(t[3]),
            gbps(t[4]),
            best[0][0].as_secs_f64() / t[0].as_secs_f64(),
            one[0].as_secs_f64() / t[0].as_secs_f64(),
        );
    }
    println!(
        "| aes-gcm one-shot | {:.2} | | | | {:.2} | | | |",
        gbps(one[0]),
        gbps(one[1])
    );
}
