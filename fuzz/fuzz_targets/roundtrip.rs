//! Round trip under arbitrary splits: V2 and V3, metadata and instruction-file placement,
//! AES/GCM and KMS wraps, arbitrary materials descriptions and encryption contexts.
//!
//! Properties: what we encrypt (in any chunking, in place or not, with or without a declared
//! length) parses back from its rendered metadata and instruction file, asks for the key it was
//! wrapped with (KMS: the same blob and context), unwraps to the same data key, and decrypts in
//! every mode and any other chunking to the same plaintext; the ciphertext does not depend on the
//! chunking.
#![no_main]

use fuzz_support::*;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use s3_encryption::{
    DataKey, EncryptConfig, EncryptionMaterials, Encryptor, Envelope, Error, KeyRequest, Placement,
};

fn pairs(u: &mut Unstructured<'_>) -> Result<Vec<(String, String)>> {
    let n = u.int_in_range(0..=3)?;
    let mut v: Vec<(String, String)> = vec![];
    for _ in 0..n {
        let k = string(u, 24)?;
        let val = string(u, 40)?;
        if k == "aws:x-amz-cek-alg" || k == "kms_cmk_id" || v.iter().any(|(k2, _)| *k2 == k) {
            continue;
        }
        v.push((k, val));
    }
    Ok(v)
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let v3: bool = u.arbitrary()?;
    let instr: bool = u.arbitrary()?;
    let placement = if instr {
        Placement::InstructionFile
    } else {
        Placement::ObjectMetadata
    };
    let config = if v3 {
        EncryptConfig::v3(placement)
    } else {
        EncryptConfig::v2(placement)
    };
    // 23..=31: KMS, else AES/GCM. (RSA-OAEP wraps are left to the `unwrap` target and the
    // tests: an RSA private-key operation under coverage instrumentation costs ~50 ms.)
    let wrap = u.int_in_range(0u8..=31)?;
    let dk: [u8; 32] = u.arbitrary()?;
    let mut random: [u8; 28] = u.arbitrary()?;
    if random.iter().all(|&b| b == 0) {
        random[0] = 1;
    }
    let ctx = pairs(u)?;
    let ctx_ref: Vec<(&str, &str)> = ctx.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let declared: bool = u.arbitrary()?;
    let in_place: bool = u.arbitrary()?;
    let blob: Vec<u8> = {
        let n = u.int_in_range(1..=64)?;
        let mut b = u.bytes(n.min(u.len()))?.to_vec();
        if b.is_empty() {
            b.push(0);
        }
        b
    };
    let plain: Vec<u8> = {
        // At most 3/4 of what is left, so that the chunkings still have bytes to read.
        let n = u.int_in_range(0..=4096)?;
        u.bytes(n.min(u.len() * 3 / 4))?.to_vec()
    };

    let materials = match wrap {
        23..=31 => match EncryptionMaterials::kms(&config, &ctx_ref) {
            Ok(req) => {
                // The request's context is the caller's plus the binding to the content cipher.
                let sent = req.encryption_context();
                assert_eq!(sent.len(), ctx.len() + 1);
                for (k, v) in &ctx {
                    assert!(
                        sent.iter().any(|(k2, v2)| k2 == k && v2 == v),
                        "{k:?} not sent"
                    );
                }
                req.into_materials(DataKey::new_256(dk), &blob)
            }
            Err(e) => Err(e),
        },
        _ => EncryptionMaterials::aes_gcm_deterministic(
            &config,
            &master(),
            DataKey::new_256(dk),
            &[9; 12],
            &ctx_ref,
        ),
    };
    let materials = match materials {
        Ok(m) => m,
        // Too large for the fixed capacity.
        Err(Error::TooLarge) => return Ok(()),
        Err(e) => panic!("materials: {e:?}"),
    };
    let mut enc =
        Encryptor::new_deterministic(materials, &random, declared.then_some(plain.len() as u64))
            .expect("encryptor");
    let env = enc.envelope();
    let meta: Meta = env
        .metadata()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let ins = instr.then(|| env.instruction_file().into_bytes());

    // Encrypt in fuzz-chosen pieces.
    let mut body = vec![0u8; plain.len()];
    let mut at = 0;
    for s in splits(u, plain.len()) {
        if in_place {
            body[at..at + s].copy_from_slice(&plain[at..at + s]);
            enc.encrypt_in_place(&mut body[at..at + s])
                .expect("encrypt");
        } else {
            let n = enc
                .encrypt(&plain[at..at + s], &mut body[at..])
                .expect("encrypt");
            assert_eq!(n, s);
        }
        at += s;
    }
    assert_eq!(enc.processed(), plain.len() as u64);
    body.extend_from_slice(&enc.finish().expect("finish"));

    // Parse back, unwrap, decrypt.
    let policy = open_policy();
    let env = Envelope::parse(
        meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ins.as_deref(),
        &policy,
    )
    .expect("our own envelope parses");
    if !declared || v3 {
        // V3 never stores a length; V2 stores what was declared.
        assert_eq!(env.unencrypted_content_length(), None);
    } else {
        assert_eq!(env.unencrypted_content_length(), Some(plain.len() as u64));
    }
    let got_dk = match env.key_request(&ctx_ref).expect("own context matches") {
        KeyRequest::Kms(req) => {
            assert_eq!(req.ciphertext_blob, &blob[..]);
            let mut back = req.encryption_context();
            back.retain(|(k, _)| k != "aws:x-amz-cek-alg");
            assert_eq!(back, ctx);
            DataKey::new_256(dk)
        }
        KeyRequest::Aes { .. } => env.unwrap_aes(&master()).expect("unwrap"),
        other => panic!("unexpected key request {other:?}"),
    };
    assert_eq!(got_dk, DataKey::new_256(dk));
    let dec = env.decryptor(got_dk, &policy).expect("commitment verifies");
    assert_eq!(whole(&dec, &body), plain);

    let sp = splits(u, body.len());
    let mut p1 = dec.clone().verify_first().expect("verify-first");
    let mut at = 0;
    for &s in &sp {
        p1.update(&body[at..at + s]).expect("pass one");
        at += s;
    }
    let mut p2 = p1.finish().expect("pass one verifies");
    let mut out = vec![0u8; body.len()];
    let (mut n, mut at) = (0, 0);
    for s in splits(u, body.len()) {
        n += p2
            .update(&body[at..at + s], &mut out[n..])
            .expect("pass two");
        at += s;
    }
    n += p2.finish(&mut out[n..]).expect("pass two verifies");
    assert_eq!(&out[..n], &plain[..]);

    // The same plaintext in one piece gives the same body (the chunking is invisible).
    let materials = EncryptionMaterials::aes_gcm_deterministic(
        &config,
        &master(),
        DataKey::new_256(dk),
        &[9; 12],
        &[],
    )
    .expect("materials");
    let mut one = Encryptor::new_deterministic(materials, &random, None).expect("encryptor");
    let mut b2 = vec![0u8; plain.len()];
    one.encrypt(&plain, &mut b2).expect("encrypt");
    b2.extend_from_slice(&one.finish().expect("finish"));
    assert_eq!(b2, body, "ciphertext depends on the chunking");
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
