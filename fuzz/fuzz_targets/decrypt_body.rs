//! Decryption of an arbitrary body under a fixed key and a valid envelope, split at arbitrary
//! points, in every release mode.
//!
//! Input: `[object, flags, n, n split lengths…, payload…]`. With flag bit 0 the payload is a list
//! of edits to the object's real body (`pos_hi pos_lo xor`, then a truncate/extend count),
//! otherwise the payload is the body itself.
//!
//! Properties: nothing panics; every mode gives the same answer (the same plaintext or the same
//! error); a failing whole-object decryption leaves no plaintext in the caller's buffer; verify-
//! first releases nothing before pass one succeeded, and pass two over a different body fails;
//! for GCM objects only the real body decrypts, to the real plaintext.
#![no_main]

use fuzz_support::*;
use libfuzzer_sys::fuzz_target;
use s3_encryption::{ContentAlgorithm, Decryptor, EncryptConfig, Error, Placement};
use std::sync::OnceLock;

struct Fixture {
    dec: Decryptor,
    body: Vec<u8>,
    plaintext: Vec<u8>,
}

fn fixtures() -> &'static [Fixture] {
    static F: OnceLock<Vec<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let mut v = vec![];
        for (config, declared, n) in [
            (EncryptConfig::default(), false, 40),
            (EncryptConfig::v2(Placement::ObjectMetadata), true, 33),
            (EncryptConfig::v3(Placement::InstructionFile), false, 0),
        ] {
            let w = write_aes(&config, &plaintext(n), declared);
            let dec = decryptor_for(&w.meta, w.instruction.as_deref(), &KeySource::Aes(master()));
            v.push(Fixture {
                dec,
                body: w.body,
                plaintext: w.plaintext,
            });
        }
        for (vec, key) in [
            (ruby_v1_aes(), KeySource::Aes(vector_aes_key(ruby_v1_aes()))),
            (
                python_v3_kms(),
                KeySource::Plain(vector_kms_key(python_v3_kms())),
            ),
        ] {
            let dec = decryptor_for(&vec.meta, vec.instruction.as_deref(), &key);
            let plaintext = whole(&dec, &vec.body);
            v.push(Fixture {
                dec,
                body: vec.body.clone(),
                plaintext,
            });
        }
        v
    })
}

fn edited(real: &[u8], edits: &[u8]) -> Vec<u8> {
    let mut b = real.to_vec();
    let mut it = edits.chunks_exact(3);
    for e in &mut it {
        if b.is_empty() {
            break;
        }
        let pos = u16::from_be_bytes([e[0], e[1]]) as usize % b.len();
        b[pos] ^= e[2];
    }
    if let Some(&t) = it.remainder().first() {
        let n = (t & 0x1f) as usize;
        if t & 0x80 == 0 {
            b.truncate(b.len().saturating_sub(n));
        } else {
            b.extend((0..n).map(|i| t.wrapping_add(i as u8)));
        }
    }
    b
}

type Outcome = Result<Vec<u8>, Error>;

fn decrypt_whole(d: &Decryptor, body: &[u8]) -> Outcome {
    let mut out = vec![0xA5u8; body.len() + 16];
    match d.clone().decrypt_whole(body, &mut out) {
        Ok(n) => {
            out.truncate(n);
            Ok(out)
        }
        Err(e) => {
            assert!(
                out.iter().all(|&b| b == 0xA5 || b == 0),
                "decrypt_whole left bytes in the buffer after {e:?}"
            );
            Err(e)
        }
    }
}

fn decrypt_in_place(d: &Decryptor, body: &[u8]) -> Outcome {
    let mut buf = body.to_vec();
    match d.clone().decrypt_whole_in_place(&mut buf) {
        Ok(n) => {
            buf.truncate(n);
            Ok(buf)
        }
        Err(e) => {
            assert!(
                buf == body || buf.iter().all(|&b| b == 0),
                "decrypt_whole_in_place left plaintext behind after {e:?}"
            );
            Err(e)
        }
    }
}

fn feed(
    body: &[u8],
    splits: &[usize],
    mut f: impl FnMut(&[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut at = 0;
    for &s in splits {
        f(&body[at..at + s])?;
        at += s;
    }
    Ok(())
}

fn delayed(d: &Decryptor, body: &[u8], splits: &[usize]) -> Outcome {
    let mut s = s3_encryption::hazmat::delayed_authentication(d.clone())?;
    let mut out = vec![0u8; body.len() + 32];
    let mut n = 0;
    feed(body, splits, |c| {
        let want = s.output_len(c.len());
        let w = s.update(c, &mut out[n..])?;
        assert_eq!(w, want, "update wrote output_len bytes");
        n += w;
        Ok(())
    })?;
    assert!(s.finish_output_len() <= 15);
    n += s.finish(&mut out[n..])?;
    out.truncate(n);
    Ok(out)
}

fn verify_first(d: &Decryptor, body: &[u8], splits: &[usize], pass2_body: &[u8]) -> Outcome {
    let mut p1 = d.clone().verify_first()?;
    feed(body, splits, |c| p1.update(c))?;
    // Pass one releases nothing: it has no output parameter at all. Only its success opens pass two.
    let mut p2 = p1.finish()?;
    let mut out = vec![0u8; pass2_body.len() + 32];
    let mut n = 0;
    let splits2 = chunks_of(&[7, 16, 1, 0], pass2_body.len());
    feed(pass2_body, &splits2, |c| {
        n += p2.update(c, &mut out[n..])?;
        Ok(())
    })?;
    n += p2.finish(&mut out[n..])?;
    out.truncate(n);
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let fx = &fixtures()[data[0] as usize % fixtures().len()];
    let flags = data[1];
    let nsplit = (data[2] as usize % 8).min(data.len() - 3);
    let lens = &data[3..3 + nsplit];
    let payload = &data[3 + nsplit..];
    let body = if flags & 1 == 1 {
        edited(&fx.body, payload)
    } else {
        payload.to_vec()
    };
    let splits = chunks_of(lens, body.len());
    let gcm = fx.dec.content_algorithm() != ContentAlgorithm::AesCbc;

    let w = decrypt_whole(&fx.dec, &body);
    let ip = decrypt_in_place(&fx.dec, &body);
    let dl = delayed(&fx.dec, &body, &splits);
    let vf = verify_first(&fx.dec, &body, &splits, &body);
    assert_eq!(w, ip, "whole vs in place");
    assert_eq!(w, dl, "whole vs delayed authentication");
    assert_eq!(w, vf, "whole vs verify-first");
    if gcm {
        match &w {
            Ok(pt) => {
                assert_eq!(
                    body, fx.body,
                    "a GCM body other than the real one decrypted"
                );
                assert_eq!(pt, &fx.plaintext);
            }
            Err(e) => assert!(
                matches!(e, Error::Authentication | Error::TruncatedBody),
                "GCM failure {e:?}"
            ),
        }
    } else if body == fx.body {
        assert_eq!(w.as_ref().ok(), Some(&fx.plaintext));
    }
    // Pass two over other bytes than pass one verified never succeeds (GCM).
    if gcm && w.is_ok() && flags & 2 == 2 {
        let other = edited(&body, &payload[..payload.len().min(3)]);
        let other = if other == body {
            let mut o = body.clone();
            o.push(flags);
            o
        } else {
            other
        };
        let r = verify_first(&fx.dec, &body, &splits, &other);
        assert!(
            matches!(r, Err(Error::Authentication | Error::LengthMismatch)),
            "pass two over a different body gave {r:?}"
        );
    }
});
