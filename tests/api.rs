//! The public shape: RNG-drawing constructors, the `Keyring`
//! trait and its keyrings, the `hazmat` gates, the envelope's names and placement table, the
//! display names, and the `io` adapters. Runs without `std` where the API does.

mod common;

use common::{Meta, TestRng, test_fill};
use s3_encryption::envelope::keys::{self, FIELDS, Home};
use s3_encryption::hazmat;
use s3_encryption::{
    AesKey, AesKeyring, ContentAlgorithm, DataKey, DecryptPolicy, Decryptor, EncryptConfig,
    EncryptionMaterials, Encryptor, Envelope, Error, FormatVersion, Keyring, MultiKeyring,
    Placement, WrapAlgorithm,
};

fn master() -> AesKey {
    AesKey::new_256([0x21; 32])
}

fn seal(enc: Encryptor, pt: &[u8]) -> (Meta, Option<Vec<u8>>, Vec<u8>) {
    let env = enc.envelope();
    let meta: Meta = env
        .metadata()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let ins = (env.placement() == Placement::InstructionFile).then(|| {
        let mut b = vec![0u8; env.instruction_file_len()];
        let n = env.write_instruction_file(&mut b).unwrap();
        b.truncate(n);
        b
    });
    let mut enc = enc;
    let mut body = vec![0u8; pt.len()];
    enc.encrypt(pt, &mut body).unwrap();
    body.extend_from_slice(&enc.finish().unwrap());
    (meta, ins, body)
}

#[cfg_attr(not(any(feature = "getrandom", feature = "rsa")), allow(dead_code))]
fn decrypt(
    k: &dyn Keyring,
    meta: &Meta,
    ins: Option<&[u8]>,
    body: &[u8],
) -> Result<Vec<u8>, Error> {
    let p = DecryptPolicy::default();
    let env = Envelope::parse(meta.iter().map(|(k, v)| (k.as_str(), v.as_str())), ins, &p)?;
    let d = env.decryptor(k.decrypt_data_key(&env, &[])?, &p)?;
    let mut out = vec![0u8; body.len()];
    let n = d.decrypt_whole(body, &mut out)?;
    out.truncate(n);
    Ok(out)
}

fn opened(meta: &Meta, body_key: &AesKey, p: &DecryptPolicy) -> Decryptor {
    let env = Envelope::parse(meta.iter().map(|(k, v)| (k.as_str(), v.as_str())), None, p).unwrap();
    env.decryptor(env.unwrap_aes(body_key).unwrap(), p).unwrap()
}

#[test]
fn with_rng_draws_fresh_values_and_deterministic_is_repeatable() {
    let cfg = EncryptConfig::default();
    let mut rng = TestRng(1);
    let a = EncryptionMaterials::aes_gcm_with_rng(&cfg, &master(), &mut rng, &[]).unwrap();
    let b = EncryptionMaterials::aes_gcm_with_rng(&cfg, &master(), &mut rng, &[]).unwrap();
    assert_ne!(a.data_key(), b.data_key(), "a fresh data key per object");
    let ea = Encryptor::with_rng(a, &mut rng, None).unwrap();
    let eb = Encryptor::with_rng(b, &mut rng, None).unwrap();
    assert_ne!(ea.envelope().message_id(), eb.envelope().message_id());
    // The deterministic constructors give the same envelope twice (known-answer tests).
    let det = || {
        let m = EncryptionMaterials::aes_gcm_deterministic(
            &cfg,
            &master(),
            DataKey::new_256([3; 32]),
            &[4; 12],
            &[("k", "v")],
        )
        .unwrap();
        let e = Encryptor::new_deterministic(m, &[5; 28], Some(3)).unwrap();
        e.envelope()
            .metadata()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Meta>()
    };
    assert_eq!(det(), det());
    // An all-zero nonce is refused.
    let m = EncryptionMaterials::aes_gcm_deterministic(
        &cfg,
        &master(),
        DataKey::new_256([3; 32]),
        &[4; 12],
        &[],
    )
    .unwrap();
    assert_eq!(
        Encryptor::new_deterministic(m, &[0; 28], None).unwrap_err(),
        Error::InvalidKey
    );
}

#[cfg(feature = "getrandom")]
#[test]
fn headline_constructors_draw_from_the_os() {
    let cfg = EncryptConfig::default();
    let m1 = EncryptionMaterials::aes_gcm(&cfg, &master(), &[]).unwrap();
    let m2 = EncryptionMaterials::aes_gcm(&cfg, &master(), &[]).unwrap();
    assert_ne!(m1.data_key(), m2.data_key());
    let (e1, e2) = (
        Encryptor::new(m1, Some(5)).unwrap(),
        Encryptor::new(m2, Some(5)).unwrap(),
    );
    assert_ne!(e1.envelope().message_id(), e2.envelope().message_id());
    let k = AesKeyring::new(master());
    let (meta, ins, body) = seal(e1, b"hello");
    assert_eq!(decrypt(&k, &meta, ins.as_deref(), &body).unwrap(), b"hello");
}

/// A keyring from outside the crate: what an HSM binding looks like.
struct Hsm {
    inner: AesKeyring,
    calls: std::cell::Cell<u32>,
}

impl Keyring for Hsm {
    fn wrap_data_key(
        &self,
        config: &EncryptConfig,
        data_key: DataKey,
        context: s3_encryption::EncryptionContext<'_>,
    ) -> s3_encryption::Result<EncryptionMaterials> {
        self.calls.set(self.calls.get() + 1);
        self.inner.wrap_data_key(config, data_key, context)
    }
    fn decrypt_data_key(
        &self,
        envelope: &Envelope,
        context: s3_encryption::EncryptionContext<'_>,
    ) -> s3_encryption::Result<DataKey> {
        self.calls.set(self.calls.get() + 1);
        self.inner.decrypt_data_key(envelope, context)
    }
}

#[test]
fn keyrings_round_trip_and_compose() {
    let hsm = Hsm {
        inner: AesKeyring::with_random(master(), test_fill),
        calls: 0.into(),
    };
    let other = AesKeyring::with_random(AesKey::new_256([0x77; 32]), test_fill);
    for placement in [Placement::ObjectMetadata, Placement::InstructionFile] {
        for cfg in [EncryptConfig::v3(placement), EncryptConfig::v2(placement)] {
            let m = hsm
                .encryption_materials(&cfg, &[("who", "hsm")], test_fill)
                .unwrap();
            let e = Encryptor::with_rng(m, &mut TestRng(9), Some(11)).unwrap();
            let (meta, ins, body) = seal(e, b"eleven byte");
            let p = DecryptPolicy::default().with_commitment_policy(
                s3_encryption::CommitmentPolicy::RequireEncryptAllowDecrypt,
            );
            let env = Envelope::parse(
                meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ins.as_deref(),
                &p,
            )
            .unwrap();
            // The wrong key alone: the opaque error; in a multi-keyring the right one wins.
            assert_eq!(
                other.decrypt_data_key(&env, &[]).unwrap_err(),
                Error::Authentication
            );
            let multi = [&other as &dyn Keyring, &hsm];
            let dk = MultiKeyring::new(&multi)
                .decrypt_data_key(&env, &[])
                .unwrap();
            let d = env.decryptor(dk, &p).unwrap();
            let mut out = vec![0u8; body.len()];
            let n = d.decrypt_whole(&body, &mut out).unwrap();
            assert_eq!(&out[..n], b"eleven byte");
            // Only wrong keys: the opaque error; no keyring at all: unsupported.
            let wrong = [&other as &dyn Keyring];
            assert_eq!(
                MultiKeyring::new(&wrong).decrypt_data_key(&env, &[]),
                Err(Error::Authentication)
            );
            assert_eq!(
                MultiKeyring::new(&[]).decrypt_data_key(&env, &[]),
                Err(Error::UnsupportedWrap)
            );
            // A keyring that cannot answer may hold the key: not an authentication failure.
            let down = [&other as &dyn Keyring, &Unreachable];
            assert_eq!(
                MultiKeyring::new(&down).decrypt_data_key(&env, &[]),
                Err(Error::KeyringFailed)
            );
        }
    }
    assert_eq!(hsm.calls.get(), 8);
}

/// An HSM that is down.
struct Unreachable;

impl Keyring for Unreachable {
    fn wrap_data_key(
        &self,
        _: &EncryptConfig,
        _: DataKey,
        _: s3_encryption::EncryptionContext<'_>,
    ) -> s3_encryption::Result<EncryptionMaterials> {
        Err(Error::KeyringFailed)
    }
    fn decrypt_data_key(
        &self,
        _: &Envelope,
        _: s3_encryption::EncryptionContext<'_>,
    ) -> s3_encryption::Result<DataKey> {
        Err(Error::KeyringFailed)
    }
}

#[cfg(feature = "rsa")]
#[test]
fn rsa_keyring_round_trip() {
    let v = common::json("ruby/v1-rsa-meta-0000017.json");
    let sk = common::rsa_from_pem(v["key"]["private_key_pem"].as_str().unwrap());
    let k = s3_encryption::RsaKeyring::with_random(None, Some(sk.clone()), test_fill);
    let public = s3_encryption::RsaKeyring::with_random(Some(sk.to_public_key()), None, test_fill);
    let m = public
        .encryption_materials(&EncryptConfig::default(), &[], test_fill)
        .unwrap();
    let (meta, ins, body) = seal(
        Encryptor::with_rng(m, &mut TestRng(3), None).unwrap(),
        b"rsa",
    );
    assert_eq!(decrypt(&k, &meta, ins.as_deref(), &body).unwrap(), b"rsa");
    // A public-only keyring holds no key for reading.
    assert_eq!(
        decrypt(&public, &meta, ins.as_deref(), &body),
        Err(Error::UnsupportedWrap)
    );
    // What each keyring holds (the full one derives its public half), and Debug output that
    // names the type and redacts the private key.
    assert!(k.has_private_key());
    assert!(!public.has_private_key());
    assert_eq!(k.public_key(), Some(&sk.to_public_key()));
    assert_eq!(public.public_key(), Some(&sk.to_public_key()));
    let shown = format!("{k:?}");
    assert!(
        shown.starts_with("RsaKeyring") && shown.contains("<redacted>"),
        "{shown}"
    );
    let both: [&dyn Keyring; 2] = [&k, &public];
    assert!(format!("{:?}", MultiKeyring::new(&both)).starts_with("MultiKeyring"));
}

#[test]
fn hazmat_entries_are_gated() {
    let m = EncryptionMaterials::aes_gcm_deterministic(
        &EncryptConfig::default(),
        &master(),
        DataKey::new_256([1; 32]),
        &[2; 12],
        &[],
    )
    .unwrap();
    let (meta, _, body) = seal(
        Encryptor::new_deterministic(m, &[3; 28], None).unwrap(),
        b"0123456789abcdef0123",
    );
    let strict = DecryptPolicy::default();
    let d = opened(&meta, &master(), &strict);
    assert_eq!(
        hazmat::delayed_authentication(d.clone()).unwrap_err(),
        Error::LegacyModeDisabled
    );
    assert_eq!(
        hazmat::unverified_segments(&d).unwrap_err(),
        Error::LegacyModeDisabled
    );
    let plan = s3_encryption::RangePlan::new(
        s3_encryption::ByteRange::Inclusive(2, 5),
        body.len() as u64,
        ContentAlgorithm::AesGcmCommitting,
    )
    .unwrap();
    assert_eq!(
        hazmat::ranged(d.clone(), &plan).unwrap_err(),
        Error::LegacyModeDisabled
    );
    // With the flags, each works.
    let open = DecryptPolicy {
        delayed_authentication: true,
        legacy_unauthenticated_modes: true,
        ..strict
    };
    let d = opened(&meta, &master(), &open);
    let mut s = hazmat::delayed_authentication(d.clone()).unwrap();
    let mut out = vec![0u8; body.len()];
    let n = s.update(&body, &mut out).unwrap();
    assert_eq!(s.finish(&mut out[n..]), Ok(0));
    assert_eq!(&out[..n], b"0123456789abcdef0123");
    let u = hazmat::unverified_segments(&d).unwrap();
    let mut ct = body[..20].to_vec();
    let p = u.decrypt_segment(0, &mut ct).unwrap();
    assert_eq!(&ct, b"0123456789abcdef0123");
    assert_eq!(u.verify(&[p], &body[20..]), Ok(()));
    let mut r = hazmat::ranged(d.clone(), &plan).unwrap();
    let fetched = &body[plan.fetch_first as usize..=plan.fetch_last as usize];
    let mut out = vec![0u8; fetched.len()];
    let n = r.update(fetched, &mut out).unwrap();
    assert_eq!(&out[..n], b"2345");
    // The re-checking pass takes pass one's proof, and refuses other bytes.
    let mut p1 = d.verify_first().unwrap();
    p1.update(&body).unwrap();
    let p2 = p1.finish().unwrap();
    let rs = hazmat::rechecked_segments(&p2).unwrap();
    assert_eq!(rs.verified_len(), 20);
    let mut ct = body[..20].to_vec();
    ct[3] ^= 1;
    let p = rs.decrypt_segment_rechecked(0, &mut ct).unwrap();
    assert_eq!(rs.verify(&[p], &body[20..]), Err(Error::Authentication));
}

#[test]
fn names_and_table() {
    // Every key once, in the table, with its home.
    assert_eq!(keys::ALL.len(), FIELDS.len());
    for (i, n) in keys::ALL.iter().enumerate() {
        assert_eq!(keys::ALL.iter().filter(|m| *m == n).count(), 1);
        assert_eq!(
            keys::index_of(&format!("X-Amz-Meta-{}", n.to_uppercase())),
            Some(i)
        );
    }
    let object_only: Vec<_> = FIELDS
        .iter()
        .filter(|f| f.2 == Home::ObjectOnly)
        .map(|f| f.0)
        .collect();
    assert_eq!(object_only, ["x-amz-c", "x-amz-d", "x-amz-i"]);
    assert!(keys::is_envelope_key(
        "x-amz-meta-x-amz-unencrypted-content-length"
    ));
    assert!(!keys::is_envelope_key("x-amz-meta-owner"));
    assert_eq!(keys::INSTRUCTION_SUFFIX, ".instruction");
    assert_eq!(keys::INSTRUCTION_FILE_MARKER, "x-amz-crypto-instr-file");
    assert_eq!(s3_encryption::TAG_LEN, 16);
    // Display names.
    assert_eq!(FormatVersion::V3.to_string(), "V3");
    assert_eq!(WrapAlgorithm::KmsContext.to_string(), "kms+context");
    assert_eq!(WrapAlgorithm::V1Legacy.name(), "x-amz-key (V1 legacy)");
    assert_eq!(Placement::InstructionFile.to_string(), "instruction file");
    assert_eq!(ContentAlgorithm::AesGcm.name(), "AES-256-GCM");
}

#[test]
fn metadata_and_instruction_file_split_by_the_table() {
    for placement in [Placement::ObjectMetadata, Placement::InstructionFile] {
        let m = EncryptionMaterials::aes_gcm_deterministic(
            &EncryptConfig::v3(placement),
            &master(),
            DataKey::new_256([1; 32]),
            &[2; 12],
            &[("a", "b")],
        )
        .unwrap();
        let (meta, ins, _) = seal(
            Encryptor::new_deterministic(m, &[3; 28], None).unwrap(),
            b"",
        );
        for (k, _) in &meta {
            let i = keys::index_of(k).unwrap();
            assert!(placement == Placement::ObjectMetadata || FIELDS[i].2 != Home::KeyMaterial);
        }
        if let Some(ins) = ins {
            let v: serde_json::Value = serde_json::from_slice(&ins).unwrap();
            let names: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
            assert_eq!(names, ["x-amz-3", "x-amz-m", "x-amz-w"]);
            for n in names {
                assert_eq!(FIELDS[keys::index_of(&n).unwrap()].2, Home::KeyMaterial);
            }
        }
    }
}

#[cfg(feature = "std")]
#[test]
fn io_adapters() {
    use s3_encryption::io::{EncryptingWriter, VerifiedReader, decrypt_to_vec, encrypt_to_vec};
    use std::io::{Cursor, Read, Write};
    let pt: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let materials = || {
        EncryptionMaterials::aes_gcm_deterministic(
            &EncryptConfig::default(),
            &master(),
            DataKey::new_256([1; 32]),
            &[2; 12],
            &[],
        )
        .unwrap()
    };
    let enc = Encryptor::new_deterministic(materials(), &[3; 28], Some(pt.len() as u64)).unwrap();
    let meta: Meta = enc
        .envelope()
        .metadata()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let mut w = EncryptingWriter::new(enc, Vec::new());
    for chunk in pt.chunks(7777) {
        w.write_all(chunk).unwrap();
    }
    let body = w.finish().unwrap();
    let whole = encrypt_to_vec(
        Encryptor::new_deterministic(materials(), &[3; 28], None).unwrap(),
        &pt,
    )
    .unwrap();
    assert_eq!(body, whole, "writer and whole-buffer encrypt agree");
    let p = DecryptPolicy::default();
    assert_eq!(
        decrypt_to_vec(opened(&meta, &master(), &p), &body).unwrap(),
        pt
    );
    let mut r = VerifiedReader::new(opened(&meta, &master(), &p), Cursor::new(&body)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(out, pt);
    // A tampered body fails in pass one: nothing is released.
    let mut bad = body.clone();
    bad[100] ^= 1;
    let e = VerifiedReader::new(opened(&meta, &master(), &p), Cursor::new(&bad)).unwrap_err();
    assert_eq!(
        e.get_ref().and_then(|e| e.downcast_ref::<Error>()),
        Some(&Error::Authentication)
    );
    // A declared length not reached: finish refuses.
    let enc = Encryptor::new_deterministic(materials(), &[3; 28], Some(10)).unwrap();
    let mut w = EncryptingWriter::new(enc, Vec::new());
    w.write_all(b"short").unwrap();
    assert!(w.finish().is_err());
}

/// The fetch windows of ranged reads, from the rule of the S3EC specification (`decryption.md`,
/// ranged gets): from the start of the block *before* the one holding the first byte, to the end
/// of the block *after* the one holding the last, clamped to the stored body. Expected values
/// worked out by hand from that rule, for a GCM object of 1000 plaintext bytes (1016 stored).
#[test]
fn range_plans_fetch_the_spec_windows() {
    use s3_encryption::{ByteRange, RangePlan};
    let gcm = ContentAlgorithm::AesGcmCommitting;
    // (range, first, len, fetch_first, fetch_last)
    for (range, first, len, ff, fl) in [
        (ByteRange::Inclusive(0, 0), 0, 1, 0, 31),
        (ByteRange::Inclusive(5, 5), 5, 1, 0, 31),
        (ByteRange::Inclusive(16, 31), 16, 16, 0, 47),
        (ByteRange::Inclusive(40, 47), 40, 8, 16, 63),
        (ByteRange::Inclusive(100, 200), 100, 101, 80, 223),
        (ByteRange::Inclusive(990, 5000), 990, 10, 960, 1015),
        (ByteRange::From(999), 999, 1, 976, 1015),
        (ByteRange::Suffix(33), 967, 33, 944, 1015),
        (ByteRange::Suffix(5000), 0, 1000, 0, 1015),
    ] {
        let plan = RangePlan::new(range, 1016, gcm).unwrap();
        assert_eq!(
            (plan.first, plan.len, plan.fetch_first, plan.fetch_last),
            (first, len, ff, fl),
            "{range:?}"
        );
        assert_eq!(plan.fetch_len(), fl - ff + 1, "{range:?}");
        assert_eq!(
            plan.fetch_header().to_string(),
            format!("bytes={ff}-{fl}"),
            "{range:?}"
        );
    }
    // Nothing to return: a start at or past the end, an empty suffix, an inverted range, an
    // object with no plaintext, a body shorter than the tag.
    for (range, object_len) in [
        (ByteRange::From(1000), 1016),
        (ByteRange::Inclusive(1000, 1000), 1016),
        (ByteRange::Suffix(0), 1016),
        (ByteRange::Inclusive(5, 3), 1016),
        (ByteRange::Inclusive(0, 0), 16),
        (ByteRange::Inclusive(0, 0), 10),
    ] {
        assert_eq!(
            RangePlan::new(range, object_len, gcm),
            Err(Error::InvalidRange),
            "{range:?} of {object_len}"
        );
    }
}

/// `ByteRange::parse` at its edges: numbers of at most 20 digits, surrounding blanks, one-byte
/// ranges.
#[test]
fn byte_range_parse_edges() {
    use s3_encryption::ByteRange;
    assert_eq!(
        ByteRange::parse("bytes=7-7"),
        Ok(ByteRange::Inclusive(7, 7))
    );
    assert_eq!(
        ByteRange::parse(" bytes= 1 - 2 "),
        Ok(ByteRange::Inclusive(1, 2))
    );
    assert_eq!(
        ByteRange::parse("bytes=000000000000000000001-"),
        Err(Error::InvalidRange)
    );
    assert_eq!(
        ByteRange::parse("bytes=00000000000000000001-"),
        Ok(ByteRange::From(1))
    );
    assert_eq!(
        ByteRange::parse("bytes=-18446744073709551615"),
        Ok(ByteRange::Suffix(u64::MAX))
    );
    for bad in [
        "bytes=-18446744073709551616",
        "bytes=+1-2",
        "bytes=1-2x",
        "bytes=1",
    ] {
        assert_eq!(ByteRange::parse(bad), Err(Error::InvalidRange), "{bad}");
    }
}

/// CBC ranges are planned against the declared plaintext length
/// (`x-amz-unencrypted-content-length`), which must fit the padded body: at most 16 bytes
/// shorter, and shorter. A Ruby V1 object of 4101 plaintext bytes (4112 stored).
#[test]
fn cbc_range_plans_check_the_declared_length() {
    use s3_encryption::{ByteRange, RangePlan};
    let vector = common::json("ruby/v1-aes-meta-0004101.json");
    let meta = common::map_of(&vector["object"]["metadata"]);
    let policy = DecryptPolicy {
        legacy_wrapping_algorithms: true,
        legacy_unauthenticated_modes: true,
        ..DecryptPolicy::default()
            .with_commitment_policy(s3_encryption::CommitmentPolicy::RequireEncryptAllowDecrypt)
    };
    let with_declared = |declared: Option<&str>| {
        let m = meta
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("x-amz-unencrypted-content-length"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(declared.map(|d| ("x-amz-unencrypted-content-length", d)));
        Envelope::parse(m, None, &policy).unwrap()
    };
    let env = with_declared(Some("4101"));
    assert_eq!(env.content_algorithm(), ContentAlgorithm::AesCbc);
    let plan = RangePlan::for_envelope(ByteRange::Suffix(20), 4112, &env).unwrap();
    assert_eq!(
        (plan.first, plan.len, plan.fetch_first, plan.fetch_last),
        (4081, 20, 4064, 4111)
    );
    // 16 bytes of padding (a plaintext that is a multiple of 16) is the most there can be.
    let env = with_declared(Some("4096"));
    let plan = RangePlan::for_envelope(ByteRange::Suffix(1), 4112, &env).unwrap();
    assert_eq!((plan.first, plan.len), (4095, 1));
    for declared in ["4095", "4112", "5000"] {
        let env = with_declared(Some(declared));
        assert_eq!(
            RangePlan::for_envelope(ByteRange::Inclusive(0, 0), 4112, &env),
            Err(Error::LengthMismatch),
            "{declared}"
        );
    }
    // Without a declared length, a CBC suffix cannot be placed; a range from the start can.
    let env = with_declared(None);
    assert_eq!(
        RangePlan::for_envelope(ByteRange::Suffix(20), 4112, &env),
        Err(Error::InvalidRange)
    );
    let plan = RangePlan::for_envelope(ByteRange::Inclusive(0, 9), 4112, &env).unwrap();
    assert_eq!(
        (plan.first, plan.len, plan.fetch_first, plan.fetch_last),
        (0, 10, 0, 31)
    );
}

/// `RngFromFill` hands out exactly what its fill function gives: `next_u32` / `next_u64` are the
/// first 4 / 8 bytes, little-endian (rand_core's convention), and a failing fill is the error.
#[test]
fn rng_from_fill_passes_the_fill_through() {
    use rand_core::TryRng;
    use s3_encryption::wrap::RngFromFill;
    fn counting(buf: &mut [u8]) -> s3_encryption::Result<()> {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = i as u8 + 1;
        }
        Ok(())
    }
    fn failing(_: &mut [u8]) -> s3_encryption::Result<()> {
        Err(Error::Rng)
    }
    let mut r = RngFromFill(counting);
    assert_eq!(r.try_next_u32(), Ok(0x0403_0201));
    assert_eq!(r.try_next_u64(), Ok(0x0807_0605_0403_0201));
    let mut b = [0u8; 5];
    r.try_fill_bytes(&mut b).unwrap();
    assert_eq!(b, [1, 2, 3, 4, 5]);
    let mut r = RngFromFill(failing);
    assert_eq!(r.try_next_u32(), Err(Error::Rng));
    assert_eq!(r.try_next_u64(), Err(Error::Rng));
    assert_eq!(r.try_fill_bytes(&mut b), Err(Error::Rng));
}

/// A delayed-authentication stream's output sizes are enough: buffers of exactly
/// `output_len` / `finish_output_len` bytes take a whole CBC object (a Ruby V1 object of 4101
/// plaintext bytes, whose last 5 come out of `finish`), and its SHA-256 is the producer's.
#[test]
fn delayed_stream_sizes_fit_a_cbc_object() {
    use sha2::{Digest, Sha256};
    let v = common::json("ruby/v1-aes-meta-0004101.json");
    let meta = common::map_of(&v["object"]["metadata"]);
    let body = std::fs::read(common::test_vectors("ruby/v1-aes-meta-0004101.body")).unwrap();
    let key = AesKey::from_slice(&common::unb64(v["key"]["key_b64"].as_str().unwrap())).unwrap();
    let policy = DecryptPolicy {
        legacy_wrapping_algorithms: true,
        legacy_unauthenticated_modes: true,
        ..DecryptPolicy::default()
            .with_commitment_policy(s3_encryption::CommitmentPolicy::RequireEncryptAllowDecrypt)
    };
    let env = Envelope::parse(
        meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        None,
        &policy,
    )
    .unwrap();
    let d = env
        .decryptor(env.unwrap_aes(&key).unwrap(), &policy)
        .unwrap();
    let mut s = hazmat::delayed_authentication(d).unwrap();
    let mut pt = vec![];
    for chunk in body.chunks(1000) {
        let mut out = vec![0u8; s.output_len(chunk.len())];
        let n = s.update(chunk, &mut out).unwrap();
        pt.extend_from_slice(&out[..n]);
    }
    let mut last = vec![0u8; s.finish_output_len()];
    let n = s.finish(&mut last).unwrap();
    pt.extend_from_slice(&last[..n]);
    assert_eq!(pt.len(), 4101);
    assert_eq!(
        common::hex(&Sha256::digest(&pt)),
        v["expect"]["plaintext_sha256"].as_str().unwrap()
    );
}

/// The unauthenticated GET reads say which range they read, if any.
#[test]
fn unauthenticated_reads_carry_their_range() {
    use s3_encryption::ByteRange;
    let r = ByteRange::Inclusive(3, 9);
    assert_eq!(hazmat::ranged_read(r).range(), Some(r));
    assert_eq!(hazmat::delayed_authentication_read().range(), None);
}

/// A stored JSON string handed to the caller (the `kms_cmk_id` a Ruby V1 `kms` object recorded)
/// decodes to the writer's text, compares by value, and a buffer too small for it is
/// `Error::TooLarge`.
#[test]
fn kms_key_id_hint_decodes_to_the_writers_text() {
    let v = common::json("ruby/v1-kms-meta-0004101.json");
    let meta = common::map_of(&v["object"]["metadata"]);
    let matdesc: serde_json::Value = serde_json::from_str(&meta["X-Amz-Matdesc"]).unwrap();
    let arn = matdesc["kms_cmk_id"].as_str().unwrap();
    let policy = DecryptPolicy {
        legacy_wrapping_algorithms: true,
        legacy_unauthenticated_modes: true,
        ..DecryptPolicy::default()
            .with_commitment_policy(s3_encryption::CommitmentPolicy::RequireEncryptAllowDecrypt)
    };
    let env = Envelope::parse(
        meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        None,
        &policy,
    )
    .unwrap();
    let s3_encryption::KeyRequest::Kms(req) = env.key_request(&[]).unwrap() else {
        panic!("not kms")
    };
    let hint = req.key_id_hint.unwrap();
    let mut buf = [0u8; 128];
    assert_eq!(hint.decode(&mut buf), Ok(arn));
    assert_eq!(hint.decode(&mut buf[..arn.len() - 1]), Err(Error::TooLarge));
    assert_eq!(hint.decode(&mut buf[..arn.len()]), Ok(arn));
    assert!(hint.eq_str(arn));
    assert!(!hint.eq_str(&arn[1..]));
    #[cfg(feature = "alloc")]
    assert_eq!(hint.to_string_lossless(), arn);
    // The allocation-free walk over the context (here the materials description) sees its one
    // pair.
    let mut pairs = 0;
    req.for_each_context_pair(|k, v| {
        assert_eq!((k, v), ("kms_cmk_id", arn));
        pairs += 1;
    })
    .unwrap();
    assert_eq!(pairs, 1);
}
