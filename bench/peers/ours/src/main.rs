//! This crate's side of `bench/peers/run.sh`: V2 content encryption (AES-256-GCM, 12-byte IV, no
//! AAD) of one file, through the public API, timed in-process around the crypto calls only.
//!
//! ```text
//! s3ec-bench-peer-ours prepare DIR KEY_HEX IV_HEX MIB   writes DIR/plaintext.bin and DIR/ciphertext.bin
//! s3ec-bench-peer-ours encrypt KEY_HEX IV_HEX FILE      times encrypting FILE (plaintext)
//! s3ec-bench-peer-ours decrypt KEY_HEX IV_HEX FILE      times decrypting FILE (ciphertext ‖ tag)
//! ```
//!
//! `encrypt`/`decrypt` print one line per variant, as every peer driver does:
//! `RESULT <variant> wall=<s>,<s>,<s> cpu=<s>,<s>,<s> <sha256 of the output>` (wall clock and
//! process CPU time of each run). Variants:
//!
//! * `inplace`: encrypt = `Encryptor::new_deterministic` + `Encryptor::encrypt_in_place` over 1 MiB chunks +
//!   `Encryptor::finish`; decrypt = `Envelope::decryptor` + `Decryptor::decrypt_whole_in_place`
//!   (verify-first: GHASH pass, then CTR pass; nothing is released before the tag verifies).
//! * `stream`: encrypt = `Encryptor::encrypt` (buffer to buffer) over 1 MiB chunks; decrypt =
//!   `Decryptor::verify_first` in 1 MiB chunks (pass one authenticates, pass two decrypts into a
//!   second buffer and checks the tag again).
//!
//! The key wrap (`EncryptionMaterials::aes_gcm_deterministic`) and the envelope parse happen before the timer.

use rustix::time::{ClockId, clock_gettime};
use s3_encryption::{
    AesKey, CommitmentPolicy, DataKey, DecryptPolicy, EncryptConfig, EncryptionMaterials,
    Encryptor, Envelope, Placement,
};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::{Duration, Instant};

const CHUNK: usize = 1 << 20;
const RUNS: usize = 3;
const MASTER: [u8; 32] = [0x4D; 32];
const WRAP_IV: [u8; 12] = [0x57; 12];

fn hex_bytes<const N: usize>(s: &str) -> [u8; N] {
    assert_eq!(s.len(), 2 * N, "expected {N} hex bytes");
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The V2 encryptor for `key`/`iv`: the 28 "random" bytes start with the IV.
fn encryptor(key: &[u8; 32], iv: &[u8; 12], len: usize) -> Encryptor {
    Encryptor::new_deterministic(materials(key), &random28(iv), Some(len as u64))
        .expect("encryptor")
}

fn materials(key: &[u8; 32]) -> EncryptionMaterials {
    EncryptionMaterials::aes_gcm_deterministic(
        &EncryptConfig::v2(Placement::ObjectMetadata),
        &AesKey::new_256(MASTER),
        DataKey::new_256(*key),
        &WRAP_IV,
        &[],
    )
    .expect("materials")
}

fn random28(iv: &[u8; 12]) -> [u8; 28] {
    let mut r = [0x5Au8; 28];
    r[..12].copy_from_slice(iv);
    r
}

fn policy() -> DecryptPolicy {
    DecryptPolicy::default().with_commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
}

fn envelope(key: &[u8; 32], iv: &[u8; 12], len: usize) -> Envelope {
    let meta: Vec<(String, String)> = encryptor(key, iv, len)
        .envelope()
        .metadata()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Envelope::parse(
        meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        None,
        &policy(),
    )
    .expect("parse")
}

fn plaintext(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
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

/// CPU time of the whole process (all threads), as every peer driver reads it.
fn process_cpu() -> Duration {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// One timed interval: wall clock and process CPU time.
struct Timer(Instant, Duration);

impl Timer {
    fn start() -> Self {
        let cpu = process_cpu();
        Timer(Instant::now(), cpu)
    }
    fn stop(self) -> (Duration, Duration) {
        let wall = self.0.elapsed();
        (wall, process_cpu().saturating_sub(self.1))
    }
}

fn report(variant: &str, times: &[(Duration, Duration)], out: &[u8]) {
    let list = |f: fn(&(Duration, Duration)) -> Duration| -> String {
        let v: Vec<String> = times
            .iter()
            .map(|t| format!("{:.6}", f(t).as_secs_f64()))
            .collect();
        v.join(",")
    };
    println!(
        "RESULT {variant} wall={} cpu={} {}",
        list(|t| t.0),
        list(|t| t.1),
        hex(&Sha256::digest(out))
    );
}

fn encrypt(key: &[u8; 32], iv: &[u8; 12], input: &[u8]) {
    let len = input.len();
    let mut inplace = Vec::new();
    let mut stream = Vec::new();
    let mut buf = vec![0u8; len + 16];
    let mut out = vec![0xA5u8; len + 16]; // written (faulted in) before the timer
    for _ in 0..RUNS {
        // In place: the buffer holds the plaintext before the timer starts.
        buf[..len].copy_from_slice(input);
        let m = materials(key);
        let t = Timer::start();
        let mut e =
            Encryptor::new_deterministic(m, &random28(iv), Some(len as u64)).expect("encryptor");
        for c in buf[..len].chunks_mut(CHUNK) {
            e.encrypt_in_place(c).expect("encrypt");
        }
        let tag = e.finish().expect("finish");
        inplace.push(t.stop());
        buf[len..].copy_from_slice(&tag);

        // Buffer to buffer.
        let m = materials(key);
        let t = Timer::start();
        let mut e =
            Encryptor::new_deterministic(m, &random28(iv), Some(len as u64)).expect("encryptor");
        let mut at = 0;
        for c in input.chunks(CHUNK) {
            at += e.encrypt(c, &mut out[at..]).expect("encrypt");
        }
        let tag = e.finish().expect("finish");
        stream.push(t.stop());
        out[at..].copy_from_slice(&tag);
    }
    report("inplace", &inplace, &buf);
    report("stream", &stream, &out);
}

fn decrypt(key: &[u8; 32], iv: &[u8; 12], input: &[u8]) {
    let len = input.len() - 16;
    let env = envelope(key, iv, len);
    let p = policy();
    let mut inplace = Vec::new();
    let mut stream = Vec::new();
    let mut buf = vec![0u8; input.len()];
    let mut out = vec![0xA5u8; input.len()]; // written (faulted in) before the timer
    let mut n_inplace = 0;
    let mut n_stream = 0;
    for _ in 0..RUNS {
        buf.copy_from_slice(input);
        let dk = DataKey::new_256(*key);
        let t = Timer::start();
        n_inplace = env
            .decryptor(dk, &p)
            .expect("decryptor")
            .decrypt_whole_in_place(&mut buf)
            .expect("decrypt");
        inplace.push(t.stop());

        let dk = DataKey::new_256(*key);
        let t = Timer::start();
        let mut pass1 = env
            .decryptor(dk, &p)
            .expect("decryptor")
            .verify_first()
            .expect("verify_first");
        for c in input.chunks(CHUNK) {
            pass1.update(c).expect("pass one");
        }
        let mut pass2 = pass1.finish().expect("tag");
        let mut n = 0;
        for c in input.chunks(CHUNK) {
            n += pass2.update(c, &mut out[n..]).expect("pass two");
        }
        n += pass2.finish(&mut out[n..]).expect("tag");
        stream.push(t.stop());
        n_stream = black_box(n);
    }
    assert_eq!((n_inplace, n_stream), (len, len));
    report("inplace", &inplace, &buf[..len]);
    report("stream", &stream, &out[..len]);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: s3ec-bench-peer-ours prepare DIR KEY_HEX IV_HEX MIB | \
                 encrypt|decrypt KEY_HEX IV_HEX FILE";
    match args.get(1).map(String::as_str) {
        Some("prepare") if args.len() == 6 => {
            let (dir, key, iv) = (&args[2], hex_bytes(&args[3]), hex_bytes(&args[4]));
            let len = args[5].parse::<usize>().expect("MiB") << 20;
            let pt = plaintext(len);
            let mut ct = pt.clone();
            let mut e = encryptor(&key, &iv, len);
            e.encrypt_in_place(&mut ct).expect("encrypt");
            ct.extend_from_slice(&e.finish().expect("finish"));
            std::fs::write(format!("{dir}/plaintext.bin"), &pt).expect("write plaintext");
            std::fs::write(format!("{dir}/ciphertext.bin"), &ct).expect("write ciphertext");
        }
        Some(dir @ ("encrypt" | "decrypt")) if args.len() == 5 => {
            let (key, iv) = (hex_bytes(&args[2]), hex_bytes(&args[3]));
            let input = std::fs::read(&args[4]).expect("read input");
            if dir == "encrypt" {
                encrypt(&key, &iv, &input);
            } else {
                decrypt(&key, &iv, &input);
            }
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
