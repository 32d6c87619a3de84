//! Ranged reads equal the slice of the full decryption, for arbitrary ranges (`a-b`, `a-`, `-n`,
//! also through `ByteRange::parse`), objects (V2 and V3 GCM of any length written by us, an SDK's
//! AESWrap/GCM object, an SDK's CBC object) and chunkings of the fetched bytes.
//!
//! Properties: planning never panics; a range that starts past the end is `InvalidRange`; the
//! fetch stays inside the object; the bytes returned are exactly the requested slice of the
//! plaintext (clamped to its end); feeding more than was planned is refused, fewer is
//! `TruncatedBody`.
#![no_main]

use fuzz_support::*;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use s3_encryption::{ByteRange, Decryptor, EncryptConfig, Error, Placement, RangePlan};
use std::sync::OnceLock;

struct Obj {
    dec: Decryptor,
    body: Vec<u8>,
    plaintext: Vec<u8>,
}

fn sdk_objects() -> &'static [Obj] {
    static O: OnceLock<Vec<Obj>> = OnceLock::new();
    O.get_or_init(|| {
        [java_aeswrap_4101(), ruby_v1_aes_4101()]
            .into_iter()
            .map(|v| {
                let dec = decryptor_for(&v.meta, None, &KeySource::Aes(vector_aes_key(v)));
                let plaintext = whole(&dec, &v.body);
                Obj {
                    dec,
                    body: v.body.clone(),
                    plaintext,
                }
            })
            .collect()
    })
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let which = u.int_in_range(0u8..=3)?;
    let own;
    let obj: &Obj = match which {
        0 | 1 => {
            let n = u.int_in_range(0..=3000)?;
            let config = if which == 0 {
                EncryptConfig::v3(Placement::ObjectMetadata)
            } else {
                EncryptConfig::v2(Placement::ObjectMetadata)
            };
            let w = write_aes(&config, &plaintext(n), false);
            let dec = decryptor_for(&w.meta, None, &KeySource::Aes(master()));
            own = Obj {
                dec,
                body: w.body,
                plaintext: w.plaintext,
            };
            &own
        }
        _ => &sdk_objects()[(which - 2) as usize],
    };
    let content = obj.dec.content_algorithm();
    let object_len = obj.body.len() as u64;
    let span = object_len + 40;
    let range = match u.int_in_range(0u8..=3)? {
        0 => {
            let a = u.int_in_range(0..=span)?;
            let b = u.int_in_range(a..=span + 40)?;
            ByteRange::Inclusive(a, b)
        }
        1 => ByteRange::From(u.int_in_range(0..=span)?),
        2 => ByteRange::Suffix(u.int_in_range(0..=span)?),
        _ => {
            let s = string(u, 40)?;
            match ByteRange::parse(&s) {
                Ok(r) => r,
                Err(e) => {
                    assert_eq!(e, Error::InvalidRange);
                    return Ok(());
                }
            }
        }
    };
    let plan = match RangePlan::new(range, object_len, content) {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(e, Error::InvalidRange);
            return Ok(());
        }
    };
    assert!(plan.fetch_first <= plan.fetch_last && plan.fetch_last < object_len);
    assert!(plan.first >= plan.fetch_first);
    let fetched = &obj.body[plan.fetch_first as usize..=plan.fetch_last as usize];
    assert_eq!(fetched.len() as u64, plan.fetch_len());
    assert_eq!(
        plan.fetch_header().to_string(),
        format!("bytes={}-{}", plan.fetch_first, plan.fetch_last)
    );

    // The requested slice of the plaintext.
    let pt = &obj.plaintext;
    let end = pt.len() as u64;
    let (a, b) = match range {
        ByteRange::Inclusive(a, b) => (a, b.saturating_add(1)),
        ByteRange::From(a) => (a, u64::MAX),
        ByteRange::Suffix(n) => (end.saturating_sub(n), end),
    };
    let (a, b) = (a.min(end) as usize, b.min(end) as usize);
    let want = &pt[a..b.max(a)];

    let mut r = s3_encryption::hazmat::ranged(obj.dec.clone(), &plan).expect("ranged");
    let mut out = vec![0u8; fetched.len()];
    let (mut n, mut at) = (0, 0);
    for s in splits(u, fetched.len()) {
        n += r
            .update(&fetched[at..at + s], &mut out[n..])
            .expect("update");
        at += s;
    }
    // More bytes than planned are refused.
    let mut extra = [0u8; 1];
    assert!(r.update(&[0], &mut extra).is_err());
    assert_eq!(r.finish(), Ok(n as u64));
    // (CBC suffix ranges are refused by `RangePlan::new`, which cannot know the plaintext length.)
    assert_eq!(
        &out[..n],
        want,
        "ranged read differs from the slice, plan {plan:?}"
    );

    // Fewer bytes than planned: TruncatedBody.
    if fetched.len() > 1 {
        let mut r = s3_encryption::hazmat::ranged(obj.dec.clone(), &plan).expect("ranged");
        let mut out = vec![0u8; fetched.len()];
        let cut = u.int_in_range(1..=fetched.len() - 1)?;
        match r.update(&fetched[..cut], &mut out) {
            Ok(_) => assert_eq!(r.finish(), Err(Error::TruncatedBody)),
            Err(e) => assert_eq!(e, Error::Authentication, "only CBC padding can fail"),
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
