//! One GCM stream on many cores: V3 encrypt and verify-first decrypt of one object (1 GiB by
//! default; `S3EC_BENCH_MIB` overrides) on 1 thread (the streaming `Encryptor`) and on N threads
//! (`ParallelGcm`), best of 3 after a warm-up, printing GB/s and the speed-up.
//!
//! `cargo bench --bench parallel`

use s3_encryption::{
    AesKey, DataKey, DecryptPolicy, EncryptConfig, EncryptionMaterials, Encryptor, Envelope,
};
use std::time::{Duration, Instant};

fn encryptor(len: u64) -> Encryptor {
    let m = EncryptionMaterials::aes_gcm_deterministic(
        &EncryptConfig::default(),
        &AesKey::new_256([1; 32]),
        DataKey::new_256([2; 32]),
        &[3; 12],
        &[],
    )
    .unwrap();
    Encryptor::new_deterministic(m, &[4; 28], Some(len)).unwrap()
}

fn best(f: &mut dyn FnMut()) -> Duration {
    f(); // warm-up: page faults, frequency
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn main() {
    let mib: usize = std::env::var("S3EC_BENCH_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let len = mib * 1024 * 1024;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut buf = vec![0x3Cu8; len];
    let meta: Vec<(String, String)> = encryptor(len as u64)
        .envelope()
        .metadata()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let gbps = |d: Duration| len as f64 / d.as_secs_f64() / 1e9;

    let mut tag = [0u8; 16];
    let fill = best(&mut || buf.fill(0x3C));
    let single = best(&mut || {
        buf.fill(0x3C);
        let mut e = encryptor(len as u64);
        for c in buf.chunks_mut(1 << 20) {
            e.encrypt_in_place(c).unwrap();
        }
        tag = e.finish().unwrap();
    })
    .saturating_sub(fill);
    // `buf` now holds ciphertext from an odd number of passes: restore a known plaintext.
    buf.fill(0x3C);
    let mut reference = buf.clone();
    let mut e = encryptor(len as u64);
    e.encrypt_in_place(&mut reference).unwrap();
    let ref_tag = e.finish().unwrap();
    assert_eq!(tag, ref_tag);
    reference.extend_from_slice(&ref_tag);

    println!(
        "V3 AES-256-GCM, one {mib} MiB object, {cores} cores available, best of 3 after a warm-up"
    );
    println!("{:<34} {:>8} {:>9}", "mode", "GB/s", "speed-up");
    println!(
        "{:<34} {:>8.2} {:>9}",
        "encrypt, streaming, 1 thread",
        gbps(single),
        "1.00x"
    );
    let mut threads: Vec<usize> = vec![1, 2, 4, 8, 16, cores];
    threads.retain(|&t| t <= cores.max(2));
    threads.sort();
    threads.dedup();
    for &t in &threads {
        let d = best(&mut || {
            buf.fill(0x3C);
            let p = encryptor(len as u64).into_parallel().unwrap();
            let tg = p.encrypt_in_place_threaded(&mut buf, t).unwrap();
            assert_eq!(tg, ref_tag);
        });
        // best() includes the refill; subtract it.
        let d = d.saturating_sub(fill);
        println!(
            "{:<34} {:>8.2} {:>8.2}x",
            format!("encrypt, ParallelGcm, {t} threads"),
            gbps(d),
            single.as_secs_f64() / d.as_secs_f64()
        );
    }
    // Verify-first decrypt: one thread (two passes) and N threads.
    let p = DecryptPolicy::default();
    let env =
        Envelope::parse(meta.iter().map(|(k, v)| (k.as_str(), v.as_str())), None, &p).unwrap();
    let dec = env
        .decryptor(env.unwrap_aes(&AesKey::new_256([1; 32])).unwrap(), &p)
        .unwrap();
    let mut body = reference.clone();
    let copy = best(&mut || body.copy_from_slice(&reference));
    let d1 = best(&mut || {
        body.copy_from_slice(&reference);
        dec.clone().decrypt_whole_in_place(&mut body).unwrap();
    })
    .saturating_sub(copy);
    println!(
        "{:<34} {:>8.2} {:>9}",
        "decrypt verify-first, 1 thread",
        gbps(d1),
        "1.00x"
    );
    let par = dec.parallel().unwrap();
    for &t in &threads {
        let d = best(&mut || {
            body.copy_from_slice(&reference);
            par.decrypt_in_place_threaded(&mut body, t).unwrap();
        })
        .saturating_sub(copy);
        println!(
            "{:<34} {:>8.2} {:>8.2}x",
            format!("decrypt verify-first, {t} threads"),
            gbps(d),
            d1.as_secs_f64() / d.as_secs_f64()
        );
    }
    assert!(body[..len].iter().all(|&b| b == 0x3C));
}
