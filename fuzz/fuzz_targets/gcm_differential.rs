//! The incremental AES-GCM (`s3_encryption::internals::Gcm`) equals the one-shot `aes-gcm` 0.11.1
//! for arbitrary key (128 or 256 bits), 96-bit IV, AAD, data and splits, encrypting and decrypting,
//! in place and buffer to buffer; a tag with any one bit changed is refused. For 256-bit keys,
//! `ParallelGcm` over arbitrary 16-aligned segments processed in arbitrary order gives the same
//! ciphertext and tag, and its fused re-checking decrypt gives the plaintext and verifies.
//! Every input runs on every GCM backend this CPU has (`internals::force_backend`), AES-256 both
//! through the raw-key constructor (the wide kernel) and through a generic cipher.
#![no_main]

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::cipher::{BlockCipherEncrypt, BlockSizeUser, consts::U16};
use fuzz_support::splits;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use s3_encryption::Error;
use s3_encryption::internals::{Backend, Gcm, force_backend};

fn incremental<C>(
    u: &mut Unstructured<'_>,
    make: impl Fn() -> Gcm<C>,
    pt: &[u8],
    ct: &[u8],
    tag: &[u8],
) -> Result<()>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    // Encrypt.
    let in_place: bool = u.arbitrary()?;
    let mut out = vec![0xA5u8; pt.len()];
    let mut g = make();
    let mut at = 0;
    for s in splits(u, pt.len()) {
        if in_place {
            out[at..at + s].copy_from_slice(&pt[at..at + s]);
            g.encrypt_in_place(&mut out[at..at + s]).expect("encrypt");
        } else {
            g.encrypt_b2b(&pt[at..at + s], &mut out[at..at + s])
                .expect("encrypt");
        }
        at += s;
    }
    assert_eq!(g.processed(), pt.len() as u64);
    assert_eq!(out, ct, "ciphertext differs from aes-gcm");
    assert_eq!(&g.tag()[..], tag, "tag differs from aes-gcm");

    // Decrypt.
    let in_place: bool = u.arbitrary()?;
    let mut back = vec![0x5Au8; ct.len()];
    let mut d = make();
    let mut at = 0;
    for s in splits(u, ct.len()) {
        if in_place {
            back[at..at + s].copy_from_slice(&ct[at..at + s]);
            d.decrypt_in_place(&mut back[at..at + s]).expect("decrypt");
        } else {
            d.decrypt_b2b(&ct[at..at + s], &mut back[at..at + s])
                .expect("decrypt");
        }
        at += s;
    }
    assert_eq!(back, pt, "decryption differs");
    let flip: Option<(u8, u8)> = u.arbitrary()?;
    let mut t = tag.to_vec();
    match flip {
        Some((i, bit)) => {
            t[i as usize % 16] ^= 1 << (bit % 8);
            assert_eq!(d.verify(&t), Err(Error::Authentication));
        }
        None => assert_eq!(d.verify(&t), Ok(())),
    }
    // A tag of the wrong length is refused, never a panic.
    let short: u8 = u.arbitrary()?;
    let d2 = make();
    let n = short as usize % 16;
    if n > 0 || !pt.is_empty() {
        assert_eq!(d2.verify(&tag[..n]), Err(Error::Authentication));
    }
    Ok(())
}

fn segments(
    u: &mut Unstructured<'_>,
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    pt: &[u8],
    ct: &[u8],
    tag: &[u8],
) -> Result<()> {
    let pg = s3_encryption::internals::parallel_gcm(key, nonce, aad);
    let unverified = s3_encryption::internals::unverified_segments(key, nonce, aad);
    // Cut points on 16-byte boundaries; segments processed in an arbitrary order.
    let mut cuts = vec![0usize];
    while *cuts.last().expect("one") < pt.len() {
        let blocks = u.int_in_range(1..=40usize)?;
        cuts.push((cuts.last().expect("one") + 16 * blocks).min(pt.len()));
    }
    let mut order: Vec<usize> = (0..cuts.len() - 1).collect();
    for i in (1..order.len()).rev() {
        let j = u.int_in_range(0..=i)?;
        order.swap(i, j);
    }
    let mut out = pt.to_vec();
    let mut partials = vec![None; order.len()];
    for &i in &order {
        let (a, b) = (cuts[i], cuts[i + 1]);
        partials[i] = Some(
            pg.encrypt_segment(a as u64, &mut out[a..b])
                .expect("segment"),
        );
    }
    let partials: Vec<_> = partials
        .into_iter()
        .map(|p| p.expect("every segment"))
        .collect();
    assert_eq!(out, ct, "segment-wise ciphertext differs from aes-gcm");
    assert_eq!(
        &pg.tag(&partials).expect("tag")[..],
        tag,
        "combined tag differs"
    );
    let mut back = ct.to_vec();
    let mut rechecked = vec![];
    for w in cuts.windows(2) {
        rechecked.push(
            unverified
                .decrypt_segment(w[0] as u64, &mut back[w[0]..w[1]])
                .expect("decrypt"),
        );
    }
    assert_eq!(back, pt, "segment-wise decryption differs");
    assert_eq!(rechecked, partials);
    assert_eq!(pg.verify(&rechecked, tag), Ok(()));
    Ok(())
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let wide: bool = u.arbitrary()?;
    let nonce: [u8; 12] = u.arbitrary()?;
    let aad_len = u.int_in_range(0..=80)?;
    let aad = u.bytes(aad_len.min(u.len()))?.to_vec();
    let key: [u8; 32] = u.arbitrary()?;
    let pt_len = u.int_in_range(0..=8192)?;
    let pt = u.bytes(pt_len.min(u.len() * 3 / 4))?.to_vec();

    let mut ct = pt.clone();
    if wide {
        let oracle = aes_gcm::Aes256Gcm::new(&key.into());
        let tag = oracle
            .encrypt_inout_detached(&nonce.into(), &aad, (&mut ct[..]).into())
            .expect("aes-gcm");
        incremental(
            u,
            || Gcm::new_256(&key, &nonce, &aad),
            &pt,
            &ct,
            &tag,
        )?;
        incremental(
            u,
            || Gcm::new(aes_gcm::aes::Aes256::new(&key.into()), &nonce, &aad),
            &pt,
            &ct,
            &tag,
        )?;
        segments(u, &key, &nonce, &aad, &pt, &ct, &tag)
    } else {
        let k16: [u8; 16] = key[..16].try_into().expect("16");
        let oracle = aes_gcm::Aes128Gcm::new(&k16.into());
        let tag = oracle
            .encrypt_inout_detached(&nonce.into(), &aad, (&mut ct[..]).into())
            .expect("aes-gcm");
        incremental(
            u,
            || Gcm::new(aes_gcm::aes::Aes128::new(&k16.into()), &nonce, &aad),
            &pt,
            &ct,
            &tag,
        )
    }
}

fuzz_target!(|data: &[u8]| {
    for b in Backend::ALL {
        if force_backend(Some(b)) {
            let _ = run(&mut Unstructured::new(data));
        }
    }
});
