//! Core behaviour: published known answers, round trips in every mode and placement, the buffer
//! contract, and the negative cases (tampered tag, body and metadata, header spoofing, wrong
//! commitment, truncation, wrong keys) that the core can see on its own.
#![cfg_attr(
    not(all(feature = "std", feature = "rsa")),
    allow(unused_imports, dead_code)
)]

// No file-wide feature gate: the tests that need no `std` (AES wraps, V2/V3 round trips in every
// release mode, the buffer contract, the negatives) also run under
// `cargo test -p s3-encryption --no-default-features`; the RSA, `alloc` and threaded ones carry
// their own `cfg`.

mod common;

use base64ct::{Base64, Encoding};
use common::Meta;
use s3_encryption::{
    AesKey, ByteRange, CommitmentPolicy, ContentAlgorithm, DataKey, DecryptPolicy, Decryptor,
    EncryptConfig, EncryptionMaterials, Encryptor, Envelope, Error, FormatVersion, KeyRequest,
    PartPlan, Placement, RangePlan, WrapAlgorithm,
};
use serde_json::Value;
use std::collections::BTreeMap;

fn hexd(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn published(name: &str) -> Value {
    common::json(&format!("published/{name}"))
}

// ------------------------------------------------------------------ known answers

/// The Go S3EC HKDF known answers (aws/amazon-s3-encryption-client-go,
/// v4/internal/key_derivation_test.go; values in test-vectors/published/hkdf-kat.json).
#[test]
fn go_hkdf_known_answers() {
    let kat = published("hkdf-kat.json");
    let cases = kat["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for c in cases {
        let dk: [u8; 32] = hexd(c["data_key_hex"].as_str().unwrap())
            .try_into()
            .unwrap();
        let mid: [u8; 28] = hexd(c["message_id_hex"].as_str().unwrap())
            .try_into()
            .unwrap();
        let (dek, ck) = s3_encryption::hazmat::derive_v3(&dk, &mid);
        assert_eq!(
            hex::encode(dek),
            c["derived_encryption_key_hex"].as_str().unwrap()
        );
        assert_eq!(hex::encode(ck), c["commitment_key_hex"].as_str().unwrap());
    }
}

/// The Amazon SES metadata (published in the .NET S3EC tests): a legacy `kms` envelope with GCM
/// content whose KMS request carries the whole SES context; refused without the legacy flag.
#[test]
#[cfg(feature = "alloc")]
fn ses_metadata() {
    let kat = published("ses-metadata.json");
    let meta: Meta = kat["metadata"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().into()))
        .collect();
    let strict = DecryptPolicy::default()
        .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
    assert_eq!(
        Envelope::parse(meta.clone(), None, &strict).unwrap_err(),
        Error::LegacyModeDisabled
    );
    let legacy = DecryptPolicy {
        legacy_wrapping_algorithms: true,
        ..strict
    };
    let env = Envelope::parse(meta.clone(), None, &legacy).unwrap();
    assert_eq!(env.version(), FormatVersion::V2);
    assert_eq!(env.wrap_algorithm(), WrapAlgorithm::Kms);
    assert_eq!(env.content_algorithm(), ContentAlgorithm::AesGcm);
    assert_eq!(env.unencrypted_content_length(), Some(3946));
    let KeyRequest::Kms(req) = env.key_request(&[]).unwrap() else {
        panic!("not kms")
    };
    let ec: BTreeMap<String, String> = req.encryption_context().into_iter().collect();
    assert!(ec.contains_key("aws:ses:message-id") && ec.contains_key("kms_cmk_id"));
    let key_b64 = meta
        .iter()
        .find(|(k, _)| k == "x-amz-key-v2")
        .unwrap()
        .1
        .clone();
    assert_eq!(req.ciphertext_blob, Base64::decode_vec(&key_b64).unwrap());
    assert_eq!(
        req.ciphertext_blob,
        Base64::decode_vec(kat["kms"]["ciphertext_blob_b64"].as_str().unwrap()).unwrap()
    );
    let want: BTreeMap<String, String> = kat["kms"]["encryption_context"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().into()))
        .collect();
    assert_eq!(ec, want);
    let hint = req.key_id_hint.unwrap().to_string_lossless();
    assert!(hint.starts_with("arn:aws:kms:"));
    // The published plaintext data key binds to the envelope (32 bytes, GCM content).
    let pk = Base64::decode_vec(kat["kms"]["plaintext_b64"].as_str().unwrap()).unwrap();
    let d = env
        .decryptor(DataKey::from_slice(&pk).unwrap(), &legacy)
        .unwrap();
    assert_eq!(d.max_plaintext_len(3946 + 16), Ok(3946));
}

// ------------------------------------------------------------------ helpers

fn aes_master() -> AesKey {
    AesKey::new_256([0x11; 32])
}

#[cfg(feature = "rsa")]
fn rsa_key() -> &'static s3_encryption::rsa::PrivateKey {
    use s3_encryption::rsa::pkcs8::DecodePrivateKey;
    static K: std::sync::OnceLock<s3_encryption::rsa::PrivateKey> = std::sync::OnceLock::new();
    K.get_or_init(|| {
        // An RSA key written by the Ruby SDK generator (test-vectors/ruby), reused here.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors/ruby");
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                if let Some(pem) = v["key"]["private_key_pem"].as_str() {
                    return s3_encryption::rsa::PrivateKey::from_pkcs8_pem(pem)
                        .or_else(|_| {
                            use s3_encryption::rsa::pkcs1::DecodeRsaPrivateKey;
                            s3_encryption::rsa::PrivateKey::from_pkcs1_pem(pem)
                        })
                        .unwrap();
                }
            }
        }
        panic!("no RSA key in test-vectors/ruby")
    })
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Wrap {
    Aes,
    Rsa,
    Kms,
}

/// The wraps this build can write (RSA needs the `rsa` feature).
#[cfg(feature = "rsa")]
const WRAPS: [Wrap; 3] = [Wrap::Aes, Wrap::Rsa, Wrap::Kms];
#[cfg(not(feature = "rsa"))]
const WRAPS: [Wrap; 2] = [Wrap::Aes, Wrap::Kms];

struct Written {
    meta: Meta,
    instruction: Option<Vec<u8>>,
    body: Vec<u8>,
    kms_plain: Option<DataKey>,
}

fn materials(config: &EncryptConfig, wrap: Wrap, dk: [u8; 32]) -> EncryptionMaterials {
    match wrap {
        Wrap::Aes => EncryptionMaterials::aes_gcm_deterministic(
            config,
            &aes_master(),
            DataKey::new_256(dk),
            &[7; 12],
            &[("who", "me")],
        )
        .unwrap(),
        #[cfg(feature = "rsa")]
        Wrap::Rsa => EncryptionMaterials::rsa_oaep(
            config,
            &rsa_key().to_public_key(),
            DataKey::new_256(dk),
            &mut rand::rng(),
            &[],
        )
        .unwrap(),
        #[cfg(not(feature = "rsa"))]
        Wrap::Rsa => unreachable!("RSA wraps need the rsa feature"),
        Wrap::Kms => {
            let req = EncryptionMaterials::kms(config, &[("tenant", "t1")]).unwrap();
            req.into_materials(DataKey::new_256(dk), b"opaque-kms-ciphertext-blob")
                .unwrap()
        }
    }
}

fn encrypt(config: &EncryptConfig, wrap: Wrap, pt: &[u8], chunk: usize) -> Written {
    let dk = [0x42; 32];
    let m = materials(config, wrap, dk);
    let mut enc = Encryptor::new_deterministic(m, &[9; 28], Some(pt.len() as u64)).unwrap();
    let env = enc.envelope();
    let meta: Meta = env.metadata().map(|(k, v)| (k.into(), v.into())).collect();
    let instruction =
        (config.placement() == Placement::InstructionFile).then(|| instruction_file(env));
    let mut body = vec![0xEE; pt.len()];
    let mut at = 0;
    for c in pt.chunks(chunk.max(1)) {
        at += enc.encrypt(c, &mut body[at..]).unwrap();
    }
    body.extend_from_slice(&enc.finish().unwrap());
    Written {
        meta,
        instruction,
        body,
        kms_plain: (wrap == Wrap::Kms).then(|| DataKey::new_256(dk)),
    }
}

/// The instruction-file JSON through the allocator-free API (`write_instruction_file`).
fn instruction_file(env: &Envelope) -> Vec<u8> {
    let mut buf = vec![0u8; env.instruction_file_len()];
    let n = env.write_instruction_file(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn data_key(w: &Written, env: &Envelope) -> Result<DataKey, Error> {
    match env.key_request(&[("tenant", "t1")])? {
        KeyRequest::Kms(req) => {
            assert_eq!(req.ciphertext_blob, b"opaque-kms-ciphertext-blob");
            Ok(w.kms_plain.clone().unwrap())
        }
        KeyRequest::Aes { .. } => env.unwrap_aes(&aes_master()),
        #[cfg(feature = "rsa")]
        KeyRequest::Rsa { .. } => env.unwrap_rsa_os_rng(rsa_key()),
        _ => unreachable!(),
    }
}

fn open(w: &Written, policy: &DecryptPolicy) -> Result<Decryptor, Error> {
    let env = Envelope::parse(w.meta.clone(), w.instruction.as_deref(), policy)?;
    let dk = data_key(w, &env)?;
    env.decryptor(dk, policy)
}

fn verify_first(d: Decryptor, body: &[u8], chunk: usize) -> Result<Vec<u8>, Error> {
    let mut p1 = d.verify_first()?;
    for c in body.chunks(chunk.max(1)) {
        p1.update(c)?;
    }
    let mut p2 = p1.finish()?;
    let mut out = vec![0xCC; body.len()];
    let mut n = 0;
    for c in body.chunks(chunk.max(1)) {
        n += p2.update(c, &mut out[n..])?;
    }
    n += p2.finish(&mut out[n..])?;
    out.truncate(n);
    Ok(out)
}

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

// ------------------------------------------------------------------ round trips

#[test]
fn round_trip_every_mode_wrap_and_placement() {
    let sizes = [0usize, 1, 15, 16, 17, 255, 4095, 4101];
    for (config, policy) in [
        (EncryptConfig::default(), DecryptPolicy::default()),
        (
            EncryptConfig::v3(Placement::InstructionFile),
            DecryptPolicy::default()
                .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt),
        ),
        (
            EncryptConfig::v2(Placement::ObjectMetadata),
            DecryptPolicy::default()
                .with_commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt),
        ),
        (
            EncryptConfig::v2(Placement::InstructionFile),
            DecryptPolicy::default()
                .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt),
        ),
    ] {
        for wrap in WRAPS {
            for &n in &sizes {
                let pt = plaintext(n);
                for chunk in [1usize, 16, 17, 4096] {
                    let w = encrypt(&config, wrap, &pt, chunk);
                    let ctx = format!("{config:?} {wrap:?} n={n} chunk={chunk}");
                    // Whole object.
                    let mut out = vec![0u8; w.body.len()];
                    let k = open(&w, &policy)
                        .unwrap()
                        .decrypt_whole(&w.body, &mut out)
                        .expect(&ctx);
                    assert_eq!(&out[..k], &pt[..], "{ctx}");
                    // In place.
                    let mut b = w.body.clone();
                    let k = open(&w, &policy)
                        .unwrap()
                        .decrypt_whole_in_place(&mut b)
                        .expect(&ctx);
                    assert_eq!(&b[..k], &pt[..], "{ctx}");
                    // Verify-first, other chunking.
                    assert_eq!(
                        verify_first(open(&w, &policy).unwrap(), &w.body, chunk + 3).expect(&ctx),
                        pt,
                        "{ctx}"
                    );
                    // Delayed authentication needs its flag.
                    let d = open(&w, &policy).unwrap();
                    assert_eq!(
                        s3_encryption::hazmat::delayed_authentication(d).unwrap_err(),
                        Error::LegacyModeDisabled
                    );
                    let p = DecryptPolicy {
                        delayed_authentication: true,
                        ..policy
                    };
                    let mut s =
                        s3_encryption::hazmat::delayed_authentication(open(&w, &p).unwrap())
                            .unwrap();
                    let mut out = vec![0u8; w.body.len()];
                    let mut k = 0;
                    for c in w.body.chunks(chunk) {
                        k += s.update(c, &mut out[k..]).unwrap();
                    }
                    k += s.finish(&mut out[k..]).unwrap();
                    assert_eq!(&out[..k], &pt[..], "{ctx}");
                }
            }
        }
    }
}

#[test]
fn v3_metadata_has_exactly_the_v3_keys() {
    let w = encrypt(&EncryptConfig::default(), Wrap::Kms, b"x", 1);
    let keys: Vec<&str> = w.meta.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "x-amz-c", "x-amz-3", "x-amz-w", "x-amz-t", "x-amz-d", "x-amz-i"
        ]
    );
    let w = encrypt(
        &EncryptConfig::v3(Placement::InstructionFile),
        Wrap::Aes,
        b"x",
        1,
    );
    let keys: Vec<&str> = w.meta.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["x-amz-c", "x-amz-d", "x-amz-i"]);
    let ins: BTreeMap<String, String> =
        serde_json::from_slice(w.instruction.as_ref().unwrap()).unwrap();
    assert_eq!(
        ins.keys().collect::<Vec<_>>(),
        ["x-amz-3", "x-amz-m", "x-amz-w"]
    );
    let w = encrypt(
        &EncryptConfig::v2(Placement::ObjectMetadata),
        Wrap::Kms,
        b"xyz",
        1,
    );
    let m: BTreeMap<_, _> = w.meta.iter().cloned().collect();
    assert_eq!(m["x-amz-wrap-alg"], "kms+context");
    assert_eq!(m["x-amz-cek-alg"], "AES/GCM/NoPadding");
    assert_eq!(m["x-amz-tag-len"], "128");
    assert_eq!(m["x-amz-unencrypted-content-length"], "3");
    let ec: BTreeMap<String, String> = serde_json::from_str(&m["x-amz-matdesc"]).unwrap();
    assert_eq!(ec["aws:x-amz-cek-alg"], "AES/GCM/NoPadding");
    assert_eq!(ec["tenant"], "t1");
}

#[test]
fn multipart_plan_and_stream_equal_single_put() {
    let plan = PartPlan::new(11 * 1024 * 1024 + 5, 5 * 1024 * 1024 + 7).unwrap();
    assert_eq!(plan.part_size() % 16, 0);
    assert!(plan.part_size() >= 5 * 1024 * 1024);
    let parts: Vec<_> = plan.parts().collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(
        parts.iter().map(|p| p.plaintext_len).sum::<u64>(),
        11 * 1024 * 1024 + 5
    );
    assert_eq!(parts[2].upload_len, parts[2].plaintext_len + 16);
    let pt = plaintext(11 * 1024 * 1024 + 5);
    let single = encrypt(&EncryptConfig::default(), Wrap::Aes, &pt, pt.len());
    let m = materials(&EncryptConfig::default(), Wrap::Aes, [0x42; 32]);
    let mut enc = Encryptor::new_deterministic(m, &[9; 28], None).unwrap();
    let mut uploaded = Vec::new();
    for p in &parts {
        let s = p.plaintext_offset as usize;
        let mut buf = pt[s..s + p.plaintext_len as usize].to_vec();
        enc.encrypt_in_place(&mut buf).unwrap();
        uploaded.extend_from_slice(&buf);
    }
    uploaded.extend_from_slice(&enc.finish().unwrap());
    assert_eq!(uploaded, single.body);
    // A huge object grows the part size to stay within 10,000 parts.
    let big = PartPlan::new(60 * 1024 * 1024 * 1024, 5 * 1024 * 1024).unwrap();
    assert!(big.len() <= 10_000);
    assert_eq!(big.part_size() % 16, 0);
    assert_eq!(
        PartPlan::new(0, 0)
            .unwrap()
            .parts()
            .next()
            .unwrap()
            .upload_len,
        16
    );
}

#[test]
fn ranged_reads_equal_slices() {
    let pt = plaintext(1000);
    let p = DecryptPolicy {
        legacy_unauthenticated_modes: true,
        ..DecryptPolicy::default()
            .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
    };
    for config in [
        EncryptConfig::default(),
        EncryptConfig::v2(Placement::ObjectMetadata),
    ] {
        let w = encrypt(&config, Wrap::Aes, &pt, 100);
        for (range, expect) in [
            (ByteRange::Inclusive(0, 0), 0..1),
            (ByteRange::Inclusive(5, 40), 5..41),
            (ByteRange::Inclusive(16, 31), 16..32),
            (ByteRange::Inclusive(990, 5000), 990..1000),
            (ByteRange::From(999), 999..1000),
            (ByteRange::Suffix(33), 967..1000),
            (ByteRange::Suffix(5000), 0..1000),
        ] {
            let env = Envelope::parse(w.meta.clone(), None, &p).unwrap();
            let plan = RangePlan::new(range, w.body.len() as u64, env.content_algorithm()).unwrap();
            let fetched = &w.body[plan.fetch_first as usize..=plan.fetch_last as usize];
            let mut r = s3_encryption::hazmat::ranged(
                env.decryptor(env.unwrap_aes(&aes_master()).unwrap(), &p)
                    .unwrap(),
                &plan,
            )
            .unwrap();
            let mut out = vec![0u8; fetched.len()];
            let mut n = 0;
            for c in fetched.chunks(7) {
                n += r.update(c, &mut out[n..]).unwrap();
            }
            r.finish().unwrap();
            assert_eq!(&out[..n], &pt[expect], "{range:?}");
        }
        let env = Envelope::parse(w.meta.clone(), None, &p).unwrap();
        assert_eq!(
            RangePlan::new(
                ByteRange::From(1000),
                w.body.len() as u64,
                env.content_algorithm()
            ),
            Err(Error::InvalidRange)
        );
        // Without the flag: refused.
        let strict = DecryptPolicy {
            legacy_unauthenticated_modes: false,
            ..p
        };
        let plan = RangePlan::new(
            ByteRange::Inclusive(0, 1),
            w.body.len() as u64,
            env.content_algorithm(),
        )
        .unwrap();
        let d = env
            .decryptor(env.unwrap_aes(&aes_master()).unwrap(), &strict)
            .unwrap();
        assert_eq!(
            s3_encryption::hazmat::ranged(d, &plan).unwrap_err(),
            Error::LegacyModeDisabled
        );
    }
    assert_eq!(
        ByteRange::parse("bytes=3-9"),
        Ok(ByteRange::Inclusive(3, 9))
    );
    assert_eq!(ByteRange::parse("bytes=3-"), Ok(ByteRange::From(3)));
    assert_eq!(ByteRange::parse("bytes=-9"), Ok(ByteRange::Suffix(9)));
    for bad in [
        "bytes=9-3",
        "bytes=",
        "bytes=a-b",
        "3-9",
        "bytes=1-2,4-5",
        "bytes=-",
    ] {
        assert_eq!(ByteRange::parse(bad), Err(Error::InvalidRange), "{bad}");
    }
}

#[test]
fn rewrap_keeps_v3_commitment() {
    let pt = plaintext(100);
    let w = encrypt(
        &EncryptConfig::v3(Placement::InstructionFile),
        Wrap::Aes,
        &pt,
        10,
    );
    let p = DecryptPolicy::default();
    let env = Envelope::parse(w.meta.clone(), w.instruction.as_deref(), &p).unwrap();
    let dk = env.unwrap_aes(&aes_master()).unwrap();
    let new_master = AesKey::new_256([0x77; 32]);
    let m = EncryptionMaterials::aes_gcm_deterministic(
        &EncryptConfig::v3(Placement::InstructionFile),
        &new_master,
        dk,
        &[1; 12],
        &[("gen", "2")],
    )
    .unwrap();
    let rotated = env.rewrapped(m).unwrap();
    let ins = instruction_file(&rotated);
    let env2 = Envelope::parse(w.meta.clone(), Some(&ins), &p).unwrap();
    assert_eq!(
        env2.unwrap_aes(&aes_master()).unwrap_err(),
        Error::Authentication
    );
    let d = env2
        .decryptor(env2.unwrap_aes(&new_master).unwrap(), &p)
        .unwrap();
    assert_eq!(verify_first(d, &w.body, 9).unwrap(), pt);
    // A different data key cannot be rewrapped onto a V3 object.
    let m = EncryptionMaterials::aes_gcm_deterministic(
        &EncryptConfig::v3(Placement::InstructionFile),
        &new_master,
        DataKey::new_256([1; 32]),
        &[1; 12],
        &[],
    )
    .unwrap();
    assert_eq!(env.rewrapped(m).unwrap_err(), Error::Authentication);
}

/// The metadata of a V2 `AESWrap` object whose content cipher is AES-CBC (Java v1's
/// EncryptionOnly mode), made from a V2 GCM object's: a 16-byte IV and no tag length.
fn v2_cbc_meta(gcm: &Meta) -> Meta {
    let cbc = with(gcm, "x-amz-cek-alg", Some("AES/CBC/PKCS5Padding"));
    let cbc = with(&cbc, "x-amz-wrap-alg", Some("AESWrap"));
    let cbc = with(&cbc, "x-amz-iv", Some("AAAAAAAAAAAAAAAAAAAAAA=="));
    with(&cbc, "x-amz-tag-len", None)
}

/// A V1 envelope's metadata (`x-amz-key`, a 16-byte IV, an empty description), never unwrapped.
fn v1_meta() -> Meta {
    vec![
        ("x-amz-key".into(), Base64::encode_string(&[7; 48])),
        ("x-amz-iv".into(), Base64::encode_string(&[1; 16])),
        ("x-amz-matdesc".into(), "{}".into()),
    ]
}

/// The envelope builder's edges: duplicate description keys, the empty description per version,
/// the KMS re-encrypt swap, entry comparison and a re-wrap across content ciphers.
#[test]
fn envelope_builder_edges() {
    let dk = || DataKey::new_256([0x42; 32]);
    let v2 = EncryptConfig::v2(Placement::ObjectMetadata);
    let v3 = EncryptConfig::default();
    // Keys of a materials description or encryption context are unique.
    for cfg in [&v2, &v3] {
        let dup = [("a", "1"), ("a", "2")];
        let aes =
            EncryptionMaterials::aes_gcm_deterministic(cfg, &aes_master(), dk(), &[7; 12], &dup);
        assert_eq!(aes.unwrap_err(), Error::InvalidConfig);
        let kms = EncryptionMaterials::kms(cfg, &dup).and_then(|r| r.into_materials(dk(), b"blob"));
        assert_eq!(kms.unwrap_err(), Error::InvalidConfig);
    }
    // An empty materials description: V2 stores `{}` (as Java does), V3 leaves `x-amz-m` out.
    let keys_of = |cfg: &EncryptConfig| -> BTreeMap<String, String> {
        let m = EncryptionMaterials::aes_gcm_deterministic(cfg, &aes_master(), dk(), &[7; 12], &[])
            .unwrap();
        let enc = Encryptor::new_deterministic(m, &[9; 28], Some(1)).unwrap();
        enc.envelope()
            .metadata()
            .map(|(k, v)| (k.into(), v.into()))
            .collect()
    };
    assert_eq!(
        keys_of(&v2).get("x-amz-matdesc").map(String::as_str),
        Some("{}")
    );
    assert!(!keys_of(&v3).contains_key("x-amz-m"));

    // Debug names the fields, never the wrapped key's bytes.
    let p = DecryptPolicy::default();
    let w = encrypt(&v3, Wrap::Kms, b"x", 1);
    let env = Envelope::parse(w.meta.clone(), None, &p).unwrap();
    let dbg = format!("{env:?}");
    assert!(
        dbg.starts_with("Envelope") && dbg.contains("encrypted_data_key_len"),
        "{dbg}"
    );
    assert!(!dbg.contains("opaque-kms"), "{dbg}");

    // A KMS ReEncrypt swaps only the wrapped key; other wraps and an empty blob are refused.
    let re = env.with_reencrypted_key(b"another-blob").unwrap();
    assert_eq!(re.encrypted_data_key(), b"another-blob");
    assert_eq!(re.key_commitment(), env.key_commitment());
    assert_eq!(
        env.with_reencrypted_key(b"").unwrap_err(),
        Error::InvalidKey
    );
    let aes = Envelope::parse(encrypt(&v3, Wrap::Aes, b"x", 1).meta, None, &p).unwrap();
    assert_eq!(
        aes.with_reencrypted_key(b"blob").unwrap_err(),
        Error::UnsupportedWrap
    );

    // Entries compare whole: the same envelope in either placement, not a changed key or version.
    assert!(env.same_entries(&env.clone().with_placement(Placement::InstructionFile)));
    assert!(!env.same_entries(&re));
    let v2_env = Envelope::parse_unchecked(encrypt(&v2, Wrap::Kms, b"x", 1).meta, None).unwrap();
    assert!(!env.same_entries(&v2_env) && !v2_env.same_entries(&env));

    // A V2 object whose content cipher is CBC (Java v1's EncryptionOnly mode) cannot be re-wrapped
    // with GCM materials: the new envelope would name the wrong content cipher.
    let w = encrypt(&v2, Wrap::Aes, b"x", 1);
    let cbc = v2_cbc_meta(&w.meta);
    let cbc_meta = cbc.clone();
    let old = Envelope::parse_unchecked(cbc, None).unwrap();
    assert_eq!(old.version(), FormatVersion::V2);
    let m = EncryptionMaterials::aes_gcm_deterministic(&v2, &aes_master(), dk(), &[7; 12], &[])
        .unwrap();
    assert_eq!(old.rewrapped(m).unwrap_err(), Error::InvalidConfig);
    // Its plaintext length is only the declared one; a GCM body's is the body less the tag.
    assert_eq!(old.plaintext_len(16), Some(1));
    let undeclared = Envelope::parse_unchecked(
        with(&cbc_meta, "x-amz-unencrypted-content-length", None),
        None,
    );
    assert_eq!(undeclared.unwrap().plaintext_len(16), None);
    assert_eq!(
        (env.plaintext_len(17), env.plaintext_len(15)),
        (Some(1), None)
    );
    #[cfg(feature = "alloc")]
    assert_eq!(Placement::instruction_file_key("a/b"), "a/b.instruction");
}

/// The envelope parser's edges (mutation run of src/envelope/parse.rs): V3 object-side keys
/// beside other formats' keys, instruction-file keys that are long, non-ASCII or numbers, and
/// lengths with a sign.
#[test]
fn envelope_parse_edges() {
    let pt = plaintext(20);
    let p = DecryptPolicy::default();
    let allow = DecryptPolicy::default()
        .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
    let v3i = encrypt(
        &EncryptConfig::v3(Placement::InstructionFile),
        Wrap::Aes,
        &pt,
        20,
    );
    let ins = v3i.instruction.as_deref().unwrap();
    assert!(Envelope::parse(v3i.meta.clone(), Some(ins), &p).is_ok());
    // The object-side V3 keys with a V2 key, or with V3 key material, beside them in the metadata.
    for (k, v) in [
        ("x-amz-iv", "AAAAAAAAAAAAAAAA"),
        ("x-amz-w", "02"),
        ("x-amz-m", "{}"),
    ] {
        let mut m = v3i.meta.clone();
        m.push((k.into(), v.into()));
        let got = Envelope::parse(m, Some(ins), &p).map(|_| ());
        assert_eq!(got, Err(Error::AmbiguousFormat), "{k}");
    }
    // Instruction-file keys: a long ASCII key and a non-ASCII one are not ours (`ŭ` is U+016D,
    // whose low byte is `m`), whatever their values.
    let mut doc: BTreeMap<String, Value> = serde_json::from_slice(ins).unwrap();
    doc.insert("x".repeat(64), Value::from("y"));
    doc.insert("x-amz-\u{16d}".into(), Value::from("not json"));
    let ok = serde_json::to_vec(&doc).unwrap();
    let env = Envelope::parse(v3i.meta.clone(), Some(&ok), &p).unwrap();
    assert_eq!(env.materials_description(), Some(r#"{"who":"me"}"#));
    // Numbers are kept only for the two numeric keys.
    let mut doc: BTreeMap<String, Value> = serde_json::from_slice(ins).unwrap();
    doc.insert("x-amz-w".into(), Value::from(2));
    let bad = serde_json::to_vec(&doc).unwrap();
    assert_eq!(
        Envelope::parse(v3i.meta.clone(), Some(&bad), &p).map(|_| ()),
        Err(Error::InvalidMetadata("x-amz-w"))
    );
    let v2i = encrypt(
        &EncryptConfig::v2(Placement::InstructionFile),
        Wrap::Aes,
        &pt,
        20,
    );
    let mut doc: BTreeMap<String, Value> =
        serde_json::from_slice(v2i.instruction.as_deref().unwrap()).unwrap();
    doc.insert("x-amz-unencrypted-content-length".into(), Value::from(20));
    doc.insert("x-amz-tag-len".into(), Value::from(128));
    let numbers = serde_json::to_vec(&doc).unwrap();
    let env = Envelope::parse(
        with(&v2i.meta, "x-amz-unencrypted-content-length", None),
        Some(&numbers),
        &allow,
    )
    .unwrap();
    assert_eq!(env.unencrypted_content_length(), Some(20));
    // A declared length is digits only: Rust's integer parser would take a sign.
    let v2 = encrypt(
        &EncryptConfig::v2(Placement::ObjectMetadata),
        Wrap::Aes,
        &pt,
        20,
    );
    for t in ["+20", "-0", " 2 0", ""] {
        let m = with(&v2.meta, "x-amz-unencrypted-content-length", Some(t));
        let got = Envelope::parse(m, None, &allow).map(|e| e.unencrypted_content_length());
        if t.is_empty() {
            assert_eq!(got, Ok(None), "{t:?}");
        } else {
            assert_eq!(
                got,
                Err(Error::InvalidMetadata("x-amz-unencrypted-content-length")),
                "{t:?}"
            );
        }
    }
    // A V1 object names no algorithms; where it does, they must be V1's.
    let v1 = v1_meta();
    let v1_parse = |m: Meta| Envelope::parse_unchecked(m, None).map(|e| e.version());
    assert_eq!(v1_parse(v1.clone()), Ok(FormatVersion::V1));
    for cek in ["AES/CBC/PKCS5Padding", "AES/CBC/PKCS7Padding"] {
        assert_eq!(
            v1_parse(with(&v1, "x-amz-cek-alg", Some(cek))),
            Ok(FormatVersion::V1)
        );
    }
    let gcm = with(&v1, "x-amz-cek-alg", Some("AES/GCM/NoPadding"));
    assert_eq!(v1_parse(gcm), Err(Error::AmbiguousFormat));
    let wrap = with(&v1, "x-amz-wrap-alg", Some("AESWrap"));
    assert_eq!(v1_parse(wrap), Err(Error::AmbiguousFormat));
    // A wrapped key of up to 1536 bytes (2048 base64 characters).
    for (n, ok) in [(1536, true), (1537, false)] {
        let big = with(&v1, "x-amz-key", Some(&Base64::encode_string(&vec![7; n])));
        let got = Envelope::parse_unchecked(big, None).map(|e| e.encrypted_data_key().len());
        assert_eq!(got, if ok { Ok(n) } else { Err(Error::TooLarge) }, "{n}");
    }
    // A V3 KMS envelope has no materials description, an AES one no encryption context.
    let kms = encrypt(&EncryptConfig::default(), Wrap::Kms, &pt, 20);
    let aes = encrypt(&EncryptConfig::default(), Wrap::Aes, &pt, 20);
    for (w, k) in [(&kms, "x-amz-m"), (&aes, "x-amz-t")] {
        let mut m = w.meta.clone();
        m.push((k.into(), "{}".into()));
        assert_eq!(
            Envelope::parse(m, None, &p).map(|_| ()),
            Err(Error::AmbiguousFormat),
            "{k}"
        );
    }
}

/// What an envelope renders, key by key, for each version (mutation run of
/// src/envelope/render.rs): no key of another version, no empty value, the tag length only for
/// GCM, and the plaintext length only when one was declared.
#[test]
fn envelope_renders_exactly_its_keys() {
    let keys = |env: &Envelope| env.metadata().map(|(k, _)| k).collect::<Vec<_>>();
    let v2 = EncryptConfig::v2(Placement::ObjectMetadata);
    let m = materials(&v2, Wrap::Aes, [0x42; 32]);
    let enc = Encryptor::new_deterministic(m, &[9; 28], None).unwrap();
    let v2_keys = [
        "x-amz-key-v2",
        "x-amz-iv",
        "x-amz-matdesc",
        "x-amz-wrap-alg",
        "x-amz-cek-alg",
        "x-amz-tag-len",
    ];
    assert_eq!(keys(enc.envelope()), v2_keys);
    let w = encrypt(&v2, Wrap::Aes, b"x", 1);
    let env = Envelope::parse_unchecked(w.meta.clone(), None).unwrap();
    let mut with_len = v2_keys.to_vec();
    with_len.push("x-amz-unencrypted-content-length");
    assert_eq!(keys(&env), with_len);
    // A V2 object with CBC content (Java v1's EncryptionOnly mode), rendered again: no tag length.
    let env = Envelope::parse_unchecked(v2_cbc_meta(&w.meta), None).unwrap();
    assert!(!keys(&env).contains(&"x-amz-tag-len"), "{:?}", keys(&env));
    // A V1 object, rendered again: V1's three keys.
    let v1 = v1_meta();
    let env = Envelope::parse_unchecked(v1.clone(), None).unwrap();
    let got: Meta = env.metadata().map(|(k, v)| (k.into(), v.into())).collect();
    assert_eq!(got, v1);
    // A materials description may fill the envelope's storage to the last byte: what is left
    // after the AES-GCM wrapped key (60 bytes) and its base64 (80), less the `{"k":""}` around
    // the value. One byte more is refused.
    let fits = s3_encryption::ARENA_CAPACITY - 60 - 80 - 8;
    for (n, ok) in [(fits, true), (fits + 1, false)] {
        let v = "v".repeat(n);
        let m = EncryptionMaterials::aes_gcm_deterministic(
            &EncryptConfig::default(),
            &aes_master(),
            DataKey::new_256([1; 32]),
            &[7; 12],
            &[("k", v.as_str())],
        );
        assert_eq!(
            m.map(|_| ()),
            if ok { Ok(()) } else { Err(Error::TooLarge) },
            "{n}"
        );
    }
}

/// Hazmat segments before the tag (`hazmat::unverified_segments`): each segment, decrypted alone
/// or fused with its GHASH, is the plaintext's slice; the partials from the ciphertext and from
/// the fused pass agree; `verify` passes only for the stored tag over every segment.
#[test]
fn unverified_segments_decrypt_and_verify() {
    let pt = plaintext(3 * 4096 + 100);
    let w = encrypt(&EncryptConfig::default(), Wrap::Aes, &pt, 4096);
    let p = DecryptPolicy {
        delayed_authentication: true,
        ..DecryptPolicy::default()
    };
    let d = open(&w, &DecryptPolicy::default()).unwrap();
    assert_eq!(
        s3_encryption::hazmat::unverified_segments(&d).unwrap_err(),
        Error::LegacyModeDisabled
    );
    let us = s3_encryption::hazmat::unverified_segments(&open(&w, &p).unwrap()).unwrap();
    let (ct, tag) = w.body.split_at(pt.len());
    let mut partials = vec![];
    for (i, seg) in ct.chunks(4096).enumerate() {
        let at = i * 4096;
        let mut alone = seg.to_vec();
        us.decrypt_segment_unauthenticated(at as u64, &mut alone)
            .unwrap();
        assert!(alone == pt[at..at + seg.len()], "segment {i}");
        let mut fused = seg.to_vec();
        let partial = us.decrypt_segment(at as u64, &mut fused).unwrap();
        assert!(fused == alone, "segment {i} fused");
        assert_eq!(partial, us.authenticate_segment(at as u64, seg).unwrap());
        partials.push(partial);
    }
    assert_eq!(us.verify(&partials, tag), Ok(()));
    let mut bad = tag.to_vec();
    bad[15] ^= 1;
    assert_eq!(us.verify(&partials, &bad), Err(Error::Authentication));
    assert!(
        us.verify(&partials[1..], tag).is_err(),
        "a segment left out"
    );
}

// ------------------------------------------------------------------ buffer contract

#[test]
fn buffer_contract() {
    let pt = plaintext(100);
    let m = materials(&EncryptConfig::default(), Wrap::Aes, [0x42; 32]);
    let mut enc = Encryptor::new_deterministic(m, &[9; 28], None).unwrap();
    let mut out = vec![0xAB; 100];
    assert_eq!(
        enc.encrypt(&pt[..50], &mut out[..49]),
        Err(Error::BufferTooSmall { required: 50 })
    );
    assert!(out.iter().all(|&b| b == 0xAB));
    assert_eq!(enc.processed(), 0);
    assert_eq!(enc.encrypt(&pt[..50], &mut out[..50]), Ok(50));
    assert_eq!(enc.encrypt(&pt[50..], &mut out[50..]), Ok(50));
    let mut body = out.clone();
    body.extend_from_slice(&enc.finish().unwrap());
    let reference = encrypt(&EncryptConfig::default(), Wrap::Aes, &pt, 100);
    assert_eq!(body, reference.body);

    // Instruction file: exact and one too small.
    let w = encrypt(
        &EncryptConfig::v3(Placement::InstructionFile),
        Wrap::Aes,
        &pt,
        100,
    );
    let env = Envelope::parse(
        w.meta.clone(),
        w.instruction.as_deref(),
        &DecryptPolicy::default(),
    )
    .unwrap();
    let n = env.instruction_file_len();
    let mut buf = vec![0u8; n - 1];
    assert_eq!(
        env.write_instruction_file(&mut buf),
        Err(Error::BufferTooSmall { required: n })
    );
    assert!(buf.iter().all(|&b| b == 0));
    let mut buf = vec![0u8; n];
    assert_eq!(env.write_instruction_file(&mut buf), Ok(n));

    // Whole-object decrypt: exact and one too small.
    let p = DecryptPolicy::default();
    let d = open(&reference, &p).unwrap();
    let mut small = vec![0x11; 99];
    assert_eq!(
        d.clone().decrypt_whole(&reference.body, &mut small),
        Err(Error::BufferTooSmall { required: 100 })
    );
    assert!(small.iter().all(|&b| b == 0x11));
    let mut exact = vec![0u8; 100];
    assert_eq!(d.decrypt_whole(&reference.body, &mut exact), Ok(100));

    // Streams: a too-small call changes neither state nor output.
    let dp = DecryptPolicy {
        delayed_authentication: true,
        ..p
    };
    let mut s =
        s3_encryption::hazmat::delayed_authentication(open(&reference, &dp).unwrap()).unwrap();
    let first = &reference.body[..40];
    let need = s.output_len(first.len());
    assert_eq!(need, 24);
    let mut o = vec![0x22; need - 1];
    assert_eq!(
        s.update(first, &mut o),
        Err(Error::BufferTooSmall { required: need })
    );
    assert!(o.iter().all(|&b| b == 0x22));
    let mut all = [0u8; 116];
    let mut k = s.update(first, &mut all[..need]).unwrap();
    k += s.update(&reference.body[40..], &mut all[k..]).unwrap();
    k += s.finish(&mut all[k..]).unwrap();
    assert_eq!(&all[..k], &pt[..]);
}

// ------------------------------------------------------------------ negatives

fn with(meta: &Meta, key: &str, value: Option<&str>) -> Meta {
    let mut m: Meta = meta.iter().filter(|(k, _)| k != key).cloned().collect();
    if let Some(v) = value {
        m.push((key.into(), v.into()));
    }
    m
}

#[test]
fn tampering_is_one_opaque_error() {
    let pt = plaintext(64);
    let p = DecryptPolicy::default();
    let w = encrypt(&EncryptConfig::default(), Wrap::Aes, &pt, 64);
    // Tag, body, every byte position class.
    for i in [0usize, 15, 16, 63, 64, 79] {
        let mut b = w.body.clone();
        b[i] ^= 0x01;
        let mut out = vec![0x33; b.len()];
        assert_eq!(
            open(&w, &p).unwrap().decrypt_whole(&b, &mut out),
            Err(Error::Authentication),
            "byte {i}"
        );
        assert!(out.iter().all(|&x| x == 0x33), "nothing released");
        assert_eq!(
            verify_first(open(&w, &p).unwrap(), &b, 5),
            Err(Error::Authentication)
        );
    }
    // Commitment, message id, EDK.
    let m: BTreeMap<_, _> = w.meta.iter().cloned().collect();
    let flip = |v: &str| {
        let mut b = Base64::decode_vec(v).unwrap();
        b[3] ^= 0x80;
        Base64::encode_string(&b)
    };
    for key in ["x-amz-d", "x-amz-i", "x-amz-3"] {
        let bad = Written {
            meta: with(&w.meta, key, Some(&flip(&m[key]))),
            ..clone_w(&w)
        };
        assert_eq!(open(&bad, &p).unwrap_err(), Error::Authentication, "{key}");
    }
    // Wrong master key.
    let env = Envelope::parse(w.meta.clone(), None, &p).unwrap();
    assert_eq!(
        env.unwrap_aes(&AesKey::new_256([0x12; 32])).unwrap_err(),
        Error::Authentication
    );
    assert_eq!(
        env.unwrap_aes(&AesKey::from_slice(&[0x11; 16]).unwrap())
            .unwrap_err(),
        Error::Authentication
    );
    // Truncated and extended bodies.
    for cut in 1..=16 {
        let b = &w.body[..w.body.len() - cut];
        assert_eq!(
            verify_first(open(&w, &p).unwrap(), b, 7)
                .unwrap_err()
                .class(),
            s3_encryption::ErrorClass::Authentication
        );
        let mut ext = w.body.clone();
        ext.extend(std::iter::repeat_n(0u8, cut));
        assert_eq!(
            verify_first(open(&w, &p).unwrap(), &ext, 7),
            Err(Error::Authentication)
        );
    }
    assert_eq!(
        open(&w, &p)
            .unwrap()
            .decrypt_whole(&w.body[..15], &mut [0u8; 16]),
        Err(Error::TruncatedBody)
    );
}

fn clone_w(w: &Written) -> Written {
    Written {
        meta: w.meta.clone(),
        instruction: w.instruction.clone(),
        body: w.body.clone(),
        kms_plain: w.kms_plain.clone(),
    }
}

#[test]
#[cfg(feature = "rsa")]
fn rsa_failures_are_identical() {
    let pt = plaintext(10);
    let p = DecryptPolicy::default();
    let w = encrypt(&EncryptConfig::default(), Wrap::Rsa, &pt, 10);
    let m: BTreeMap<_, _> = w.meta.iter().cloned().collect();
    let edk = Base64::decode_vec(&m["x-amz-3"]).unwrap();
    let mut errors = vec![];
    for i in [0usize, 1, 100, edk.len() - 1] {
        let mut e = edk.clone();
        e[i] ^= 0x40;
        let meta = with(&w.meta, "x-amz-3", Some(&Base64::encode_string(&e)));
        let env = Envelope::parse(meta, None, &p).unwrap();
        errors.push(env.unwrap_rsa_os_rng(rsa_key()).unwrap_err());
    }
    // Too short, too long, zero.
    for e in [
        vec![1u8; 10],
        vec![0xFFu8; edk.len() + 1],
        vec![0u8; edk.len()],
    ] {
        let meta = with(&w.meta, "x-amz-3", Some(&Base64::encode_string(&e)));
        let env = Envelope::parse(meta, None, &p).unwrap();
        errors.push(env.unwrap_rsa_os_rng(rsa_key()).unwrap_err());
    }
    // A V2 pseudo key presented as V3 (suffix mismatch).
    let w2 = encrypt(
        &EncryptConfig::v2(Placement::ObjectMetadata),
        Wrap::Rsa,
        &pt,
        10,
    );
    let m2: BTreeMap<_, _> = w2.meta.iter().cloned().collect();
    let meta = with(&w.meta, "x-amz-3", Some(&m2["x-amz-key-v2"]));
    let env = Envelope::parse(meta, None, &p).unwrap();
    errors.push(env.unwrap_rsa_os_rng(rsa_key()).unwrap_err());
    assert!(
        errors.iter().all(|e| *e == Error::Authentication),
        "{errors:?}"
    );
}

#[test]
fn format_negatives() {
    let pt = plaintext(20);
    let p = DecryptPolicy::default();
    let allow = DecryptPolicy::default()
        .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
    let v3 = encrypt(&EncryptConfig::default(), Wrap::Aes, &pt, 20);
    let v2 = encrypt(
        &EncryptConfig::v2(Placement::ObjectMetadata),
        Wrap::Aes,
        &pt,
        20,
    );
    let v3i = encrypt(
        &EncryptConfig::v3(Placement::InstructionFile),
        Wrap::Aes,
        &pt,
        20,
    );
    let parse = |m: &Meta, i: Option<&[u8]>, p: &DecryptPolicy| {
        Envelope::parse(m.clone(), i, p).map(|_| ())
    };

    // V2 under REQUIRE_DECRYPT.
    assert_eq!(parse(&v2.meta, None, &p), Err(Error::PolicyRejected));
    assert_eq!(parse(&v2.meta, None, &allow), Ok(()));
    // V3 header spoofing onto V2.
    let mut spoof = v2.meta.clone();
    spoof.push(("x-amz-c".into(), "115".into()));
    spoof.push(("x-amz-w".into(), "12".into()));
    for pol in [
        p,
        allow,
        DecryptPolicy::default()
            .with_commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt),
    ] {
        assert_eq!(parse(&spoof, None, &pol), Err(Error::AmbiguousFormat));
    }
    // Mixed exclusive keys.
    let m2: BTreeMap<_, _> = v2.meta.iter().cloned().collect();
    let mut mixed = v3.meta.clone();
    mixed.push(("x-amz-key-v2".into(), m2["x-amz-key-v2"].clone()));
    assert_eq!(parse(&mixed, None, &allow), Err(Error::AmbiguousFormat));
    let mut mixed = v2.meta.clone();
    mixed.push(("x-amz-key".into(), m2["x-amz-key-v2"].clone()));
    assert_eq!(parse(&mixed, None, &allow), Err(Error::AmbiguousFormat));
    // Repeated key in another case.
    let mut rep = v2.meta.clone();
    rep.push(("X-Amz-Iv".into(), m2["x-amz-iv"].clone()));
    assert_eq!(parse(&rep, None, &allow), Err(Error::AmbiguousFormat));
    // Tag length 96, and a non-number.
    for t in ["96", "abc", "128 bits"] {
        assert_eq!(
            parse(&with(&v2.meta, "x-amz-tag-len", Some(t)), None, &allow),
            Err(Error::InvalidMetadata("x-amz-tag-len"))
        );
    }
    // Missing pieces.
    assert_eq!(
        parse(&with(&v2.meta, "x-amz-iv", None), None, &allow),
        Err(Error::MissingMetadata("x-amz-iv"))
    );
    assert_eq!(
        parse(&with(&v3.meta, "x-amz-d", None), None, &p),
        Err(Error::MissingMetadata("x-amz-d"))
    );
    assert_eq!(
        parse(
            &with(&v2.meta, "x-amz-cek-alg", Some("AES/CTR/NoPadding")),
            None,
            &allow
        ),
        Err(Error::UnsupportedSuite)
    );
    assert_eq!(
        parse(&with(&v3.meta, "x-amz-c", Some("114")), None, &p),
        Err(Error::UnsupportedSuite)
    );
    assert_eq!(
        parse(&with(&v3.meta, "x-amz-w", Some("01")), None, &p),
        Err(Error::UnsupportedWrap)
    );
    assert_eq!(
        parse(
            &with(&v2.meta, "x-amz-wrap-alg", Some("AES/ECB")),
            None,
            &allow
        ),
        Err(Error::UnsupportedWrap)
    );
    assert_eq!(
        parse(
            &with(&v2.meta, "x-amz-iv", Some("not base64!")),
            None,
            &allow
        ),
        Err(Error::InvalidMetadata("x-amz-iv"))
    );
    assert_eq!(
        parse(&with(&v3.meta, "x-amz-i", Some("AAAA")), None, &p),
        Err(Error::InvalidMetadata("x-amz-i"))
    );
    assert_eq!(
        parse(&with(&v3.meta, "x-amz-m", Some("{\"a\":1}")), None, &p),
        Err(Error::InvalidMetadata("x-amz-m"))
    );
    // No envelope at all.
    let plain: Meta = vec![("content-type".into(), "text/plain".into())];
    assert_eq!(parse(&plain, None, &p), Err(Error::InstructionFileRequired));
    assert_eq!(parse(&plain, Some(b"{}"), &p), Err(Error::NotEncrypted));
    assert!(Envelope::needs_instruction_file(plain.clone()).unwrap());
    assert!(!Envelope::needs_instruction_file(v3.meta.clone()).unwrap());
    assert!(Envelope::needs_instruction_file(v3i.meta.clone()).unwrap());
    // V3 instruction file: fine, then with c/d/i inside it.
    assert_eq!(parse(&v3i.meta, v3i.instruction.as_deref(), &p), Ok(()));
    let mut ins: BTreeMap<String, String> =
        serde_json::from_slice(v3i.instruction.as_ref().unwrap()).unwrap();
    for k in ["x-amz-c", "x-amz-d", "x-amz-i"] {
        let mut bad = ins.clone();
        bad.insert(
            k.into(),
            v3i.meta.iter().find(|(mk, _)| mk == k).unwrap().1.clone(),
        );
        let j = serde_json::to_vec(&bad).unwrap();
        assert_eq!(
            parse(&v3i.meta, Some(&j), &p),
            Err(Error::ForbiddenInstructionFileKey),
            "{k}"
        );
    }
    // Instruction file: tag-len as a number is accepted; bad JSON rejected.
    let mut v2i = encrypt(
        &EncryptConfig::v2(Placement::InstructionFile),
        Wrap::Aes,
        &pt,
        20,
    );
    let text = String::from_utf8(v2i.instruction.clone().unwrap())
        .unwrap()
        .replace("\"128\"", "128");
    assert_eq!(parse(&v2i.meta, Some(text.as_bytes()), &allow), Ok(()));
    v2i.instruction = Some(text.replace("128", "96").into_bytes());
    assert_eq!(
        parse(&v2i.meta, v2i.instruction.as_deref(), &allow),
        Err(Error::InvalidMetadata("x-amz-tag-len"))
    );
    assert!(parse(&v2i.meta, Some(b"{\"x-amz-key-v2\":"), &allow).is_err());
    ins.insert("x-amz-w".into(), "22".into());
    // Swapped wrap code: RSA unwrap is refused for an AES key.
    let j = serde_json::to_vec(&ins).unwrap();
    let env = Envelope::parse(v3i.meta.clone(), Some(&j), &p).unwrap();
    assert_eq!(
        env.unwrap_aes(&aes_master()).unwrap_err(),
        Error::UnsupportedWrap
    );
    // Keys in canonical case and with the x-amz-meta- prefix are read.
    let canon: Meta = v3
        .meta
        .iter()
        .map(|(k, v)| (format!("X-Amz-Meta-{}", k.to_uppercase()), v.clone()))
        .collect();
    assert_eq!(parse(&canon, None, &p), Ok(()));
}

#[test]
fn encryption_context_rules() {
    let cfg = EncryptConfig::default();
    // The GenerateDataKey request's context: the caller's pairs and the content cipher, walked
    // without an allocator.
    let req = EncryptionMaterials::kms(&cfg, &[("tenant", "t1")]).unwrap();
    let mut sent = vec![];
    req.for_each_context_pair(|k, v| sent.push((k.to_owned(), v.to_owned())))
        .unwrap();
    let want = [("tenant", "t1"), ("aws:x-amz-cek-alg", "115")];
    assert_eq!(sent, want.map(|(k, v)| (k.to_owned(), v.to_owned())));
    assert_eq!(
        EncryptionMaterials::kms(&cfg, &[("aws:x-amz-cek-alg", "115")]).unwrap_err(),
        Error::ReservedEncryptionContextKey
    );
    let pt = plaintext(5);
    let w = encrypt(&cfg, Wrap::Kms, &pt, 5);
    let p = DecryptPolicy::default();
    let env = Envelope::parse(w.meta.clone(), None, &p).unwrap();
    assert_eq!(
        env.key_request(&[]).unwrap_err(),
        Error::EncryptionContextMismatch
    );
    assert_eq!(
        env.key_request(&[("tenant", "t2")]).unwrap_err(),
        Error::EncryptionContextMismatch
    );
    assert_eq!(
        env.key_request(&[("tenant", "t1"), ("x", "y")])
            .unwrap_err(),
        Error::EncryptionContextMismatch
    );
    assert_eq!(
        env.key_request(&[("aws:x-amz-cek-alg", "115")])
            .unwrap_err(),
        Error::ReservedEncryptionContextKey
    );
    assert!(env.key_request(&[("tenant", "t1")]).is_ok());
    // Content-cipher downgrade inside the stored context.
    let m: BTreeMap<_, _> = w.meta.iter().cloned().collect();
    let bad = m["x-amz-t"].replace("\"115\"", "\"AES/GCM/NoPadding\"");
    let env = Envelope::parse(with(&w.meta, "x-amz-t", Some(&bad)), None, &p).unwrap();
    assert_eq!(
        env.key_request(&[("tenant", "t1")]).unwrap_err(),
        Error::Authentication
    );
}

#[test]
fn configuration_and_lengths() {
    use s3_encryption::WriteSuite::*;
    assert_eq!(
        EncryptConfig::new(
            V2AesGcm,
            CommitmentPolicy::RequireEncryptRequireDecrypt,
            Placement::ObjectMetadata
        ),
        Err(Error::InvalidConfig)
    );
    assert_eq!(
        EncryptConfig::new(
            V2AesGcm,
            CommitmentPolicy::RequireEncryptAllowDecrypt,
            Placement::ObjectMetadata
        ),
        Err(Error::InvalidConfig)
    );
    assert_eq!(
        EncryptConfig::new(
            V3AesGcmCommitting,
            CommitmentPolicy::ForbidEncryptAllowDecrypt,
            Placement::ObjectMetadata
        ),
        Err(Error::InvalidConfig)
    );
    assert!(
        EncryptConfig::new(
            V3AesGcmCommitting,
            CommitmentPolicy::RequireEncryptAllowDecrypt,
            Placement::ObjectMetadata
        )
        .is_ok()
    );
    let m = materials(&EncryptConfig::default(), Wrap::Aes, [1; 32]);
    assert_eq!(
        Encryptor::new_deterministic(m, &[0; 28], None).unwrap_err(),
        Error::InvalidKey
    );
    let m = materials(&EncryptConfig::default(), Wrap::Aes, [1; 32]);
    assert_eq!(
        Encryptor::new_deterministic(m, &[1; 28], Some(s3_encryption::GCM_MAX_PLAINTEXT + 1))
            .unwrap_err(),
        Error::MessageTooLong
    );
    // A declared length is enforced both ways.
    let m = materials(&EncryptConfig::default(), Wrap::Aes, [1; 32]);
    let mut e = Encryptor::new_deterministic(m, &[1; 28], Some(3)).unwrap();
    assert_eq!(e.encrypt(b"abcd", &mut [0; 4]), Err(Error::LengthMismatch));
    assert_eq!(e.encrypt(b"ab", &mut [0; 2]), Ok(2));
    assert_eq!(e.finish().unwrap_err(), Error::LengthMismatch);
    // A V2 object whose declared plaintext length lies.
    let pt = plaintext(20);
    let w = encrypt(
        &EncryptConfig::v2(Placement::ObjectMetadata),
        Wrap::Aes,
        &pt,
        20,
    );
    let allow = DecryptPolicy::default()
        .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
    let lie = Written {
        meta: with(&w.meta, "x-amz-unencrypted-content-length", Some("21")),
        ..clone_w(&w)
    };
    let mut out = vec![0u8; 40];
    assert_eq!(
        open(&lie, &allow).unwrap().decrypt_whole(&w.body, &mut out),
        Err(Error::LengthMismatch)
    );
    assert_eq!(
        verify_first(open(&lie, &allow).unwrap(), &w.body, 3),
        Err(Error::LengthMismatch)
    );
}

#[test]
fn rfc2047_values_are_decoded() {
    // A materials description with non-ASCII text, as S3 returns it (RFC 2047 of the UTF-8 bytes
    // taken as Latin-1 characters).
    let pt = plaintext(5);
    let cfg = EncryptConfig::v2(Placement::ObjectMetadata);
    let m = EncryptionMaterials::aes_gcm_deterministic(
        &cfg,
        &aes_master(),
        DataKey::new_256([3; 32]),
        &[4; 12],
        &[("name", "Zoë")],
    )
    .unwrap();
    let mut e = Encryptor::new_deterministic(m, &[5; 28], None).unwrap();
    let meta: Meta = e
        .envelope()
        .metadata()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let mut body = pt.clone();
    e.encrypt_in_place(&mut body).unwrap();
    body.extend_from_slice(&e.finish().unwrap());
    let md = meta
        .iter()
        .find(|(k, _)| k == "x-amz-matdesc")
        .unwrap()
        .1
        .clone();
    let double: String = md.bytes().map(|b| b as char).collect();
    let encoded = format!("=?UTF-8?B?{}?=", Base64::encode_string(double.as_bytes()));
    let allow = DecryptPolicy::default()
        .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
    let env = Envelope::parse(with(&meta, "x-amz-matdesc", Some(&encoded)), None, &allow).unwrap();
    assert_eq!(env.materials_description(), Some(md.as_str()));
    let d = env
        .decryptor(env.unwrap_aes(&aes_master()).unwrap(), &allow)
        .unwrap();
    assert_eq!(verify_first(d, &body, 4).unwrap(), pt);
}

#[test]
fn debug_output_is_redacted() {
    let k = AesKey::new_256([0xAB; 32]);
    let d = DataKey::new_256([0xCD; 32]);
    for s in [format!("{k:?}"), format!("{d:?}")] {
        assert!(
            s.contains("redacted") && !s.to_lowercase().contains("abab") && !s.contains("171"),
            "{s}"
        );
    }
}

/// The Go S3EC v4 published objects: V2 kms+context and V3 `12` decrypt to their plaintexts; the
/// wrong-commitment object fails at key binding, before any decryption mode exists; the `kms` +
/// CBC/GCM objects need the legacy flags.
#[test]
fn go_published_objects() {
    use sha2::{Digest, Sha256};
    let load = |name: &str| -> (Meta, Vec<u8>, DataKey, Value) {
        let v = published(name);
        let meta: Meta = v["object"]["metadata"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, x)| (k.clone(), x.as_str().unwrap().into()))
            .collect();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors/published");
        let body = std::fs::read(dir.join(v["object"]["body"].as_str().unwrap())).unwrap();
        let dk = DataKey::from_slice(
            &Base64::decode_vec(v["key"]["plaintext_b64"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        (meta, body, dk, v)
    };
    let allow = DecryptPolicy::default()
        .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
    for (name, policy) in [
        ("go-v2-kms-context.json", allow),
        ("go-v3-kms-context.json", DecryptPolicy::default()),
        (
            "go-kms-cbc.json",
            DecryptPolicy {
                legacy_wrapping_algorithms: true,
                legacy_unauthenticated_modes: true,
                ..allow
            },
        ),
        (
            "go-kms-gcm.json",
            DecryptPolicy {
                legacy_wrapping_algorithms: true,
                ..allow
            },
        ),
    ] {
        let (meta, body, dk, v) = load(name);
        let env = Envelope::parse(meta.clone(), None, &policy).unwrap();
        let pt = verify_first(env.decryptor(dk, &policy).unwrap(), &body, 5).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&pt)),
            v["expect"]["plaintext_sha256"].as_str().unwrap(),
            "{name}"
        );
        if name.starts_with("go-kms") {
            let strict = DecryptPolicy {
                legacy_wrapping_algorithms: false,
                legacy_unauthenticated_modes: false,
                ..allow
            };
            assert_eq!(
                Envelope::parse(meta, None, &strict).unwrap_err(),
                Error::LegacyModeDisabled,
                "{name}"
            );
        }
    }
    let (meta, _, dk, _) = load("go-v3-incorrect-commitment.json");
    let env = Envelope::parse(meta, None, &DecryptPolicy::default()).unwrap();
    assert_eq!(
        env.decryptor(dk, &DecryptPolicy::default()).unwrap_err(),
        Error::Authentication
    );
    let (meta, _, _, _) = load("go-v3-invalid-commitment.json");
    assert_eq!(
        Envelope::parse(meta, None, &DecryptPolicy::default()).unwrap_err(),
        Error::InvalidMetadata("x-amz-d")
    );
}

/// Segment-wise GCM is byte-identical to the sequential encryptor, on random inputs and splits.
#[test]
fn parallel_segments_equal_sequential() {
    use rand::{RngExt, SeedableRng, rngs::StdRng};
    let mut rng = StdRng::seed_from_u64(77);
    for case in 0..300 {
        let n = match case % 3 {
            0 => rng.random_range(0..64),
            _ => rng.random_range(0..20_000),
        };
        let pt: Vec<u8> = (0..n).map(|_| rng.random()).collect();
        let config = if case % 2 == 0 {
            EncryptConfig::default()
        } else {
            EncryptConfig::v2(Placement::ObjectMetadata)
        };
        let seq = encrypt(&config, Wrap::Aes, &pt, 4096);
        let m = materials(&config, Wrap::Aes, [0x42; 32]);
        let par = Encryptor::new_deterministic(m, &[9; 28], Some(n as u64))
            .unwrap()
            .into_parallel()
            .unwrap();
        // Random segment boundaries (multiples of 16), processed in reverse order.
        let mut cuts = vec![0usize];
        while *cuts.last().unwrap() < n {
            let step = 16 * rng.random_range(1..64);
            cuts.push((cuts.last().unwrap() + step).min(n));
        }
        let mut body = pt.clone();
        let mut partials = vec![];
        for w in cuts.windows(2).rev() {
            partials.push(
                par.encrypt_segment(w[0] as u64, &mut body[w[0]..w[1]])
                    .unwrap(),
            );
        }
        partials.reverse();
        let tag = par.tag(&partials).unwrap();
        body.extend_from_slice(&tag);
        assert_eq!(body, seq.body, "case {case}");
        // Parallel verify-first decrypt, and the threaded helpers.
        let p = DecryptPolicy::default()
            .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
        let dec = open(&seq, &p).unwrap();
        let d = dec.parallel().unwrap();
        #[cfg(feature = "std")]
        {
            let mut b = seq.body.clone();
            assert_eq!(d.decrypt_in_place_threaded(&mut b, 3), Ok(n));
            assert_eq!(&b[..n], &pt[..]);
            let mut b = pt.clone();
            assert_eq!(d.encrypt_in_place_threaded(&mut b, 2).unwrap(), tag);
        }
        // Fused authenticate-and-decrypt per segment (the re-checking pass): the same partial
        // values as authenticating alone, and the plaintext.
        // It is hazmat: it takes the proof that pass one verified (a `ReleasePass`), and the
        // unverified variant needs the delayed-authentication flag.
        assert_eq!(
            s3_encryption::hazmat::unverified_segments(&dec).unwrap_err(),
            Error::LegacyModeDisabled
        );
        let mut pass1 = dec.clone().verify_first().unwrap();
        pass1.update(&seq.body).unwrap();
        let pass2 = pass1.finish().unwrap();
        let r = s3_encryption::hazmat::rechecked_segments(&pass2).unwrap();
        let mut b = seq.body[..n].to_vec();
        let mut rechecked = vec![];
        for w in cuts.windows(2) {
            let s = w[0] as u64;
            let auth = d.authenticate_segment(s, &seq.body[w[0]..w[1]]).unwrap();
            let p = r.decrypt_segment_rechecked(s, &mut b[w[0]..w[1]]).unwrap();
            assert_eq!(p, auth);
            rechecked.push(p);
        }
        assert_eq!(b, pt);
        assert_eq!(d.verify(&rechecked, &tag), Ok(()));
        assert_eq!(r.verify(&rechecked, &tag), Ok(()));
        let mut other = tag;
        other[0] ^= 1;
        assert_eq!(r.verify(&rechecked, &other), Err(Error::Authentication));
        #[cfg(feature = "std")]
        if n > 0 {
            let mut bad = seq.body.clone();
            bad[rng.random_range(0..n)] ^= 4;
            let before = bad.clone();
            assert_eq!(
                d.decrypt_in_place_threaded(&mut bad, 2),
                Err(Error::Authentication)
            );
            assert_eq!(bad, before, "nothing decrypted before verification");
        }
        // Misordered or gapped partials are refused.
        if partials.len() > 1 {
            let mut sw = partials.clone();
            sw.swap(0, 1);
            assert_eq!(par.tag(&sw), Err(Error::InvalidRange));
            assert_eq!(par.tag(&partials[1..]), Err(Error::InvalidRange));
        }
    }
}
