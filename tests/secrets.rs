//! Secret hygiene: types that hold key material zeroize on drop, and no `Debug` output carries a
//! key byte.
#![cfg(all(feature = "std", feature = "rsa"))]

// `zeroize` is not a dev-dependency; this is the same crate (cipher re-exports it, and the core's
// own `ctr`/`cbc` dependencies turn that re-export on), so its traits are the ones the core uses.
mod common;

use aes_gcm::aes::cipher::zeroize::{Zeroize, ZeroizeOnDrop};
use s3_encryption::{
    AesKey, ByteRange, DataKey, DecryptPolicy, EncryptConfig, EncryptionMaterials, Encryptor,
    Envelope, Placement, RangePlan,
};
use std::marker::PhantomData;

// ------------------------------------------------------------------ zeroize

fn zeroize_on_drop<T: ZeroizeOnDrop>() {}
fn zeroizable<T: Zeroize>() {}

/// Compile-time: the key types implement `Zeroize` and `ZeroizeOnDrop` (removing either breaks
/// the build of this test).
#[test]
fn key_types_are_zeroize_on_drop() {
    zeroize_on_drop::<AesKey>();
    zeroize_on_drop::<DataKey>();
    zeroizable::<AesKey>();
    zeroizable::<DataKey>();
}

/// `zeroize()` clears the whole 32-byte buffer, not only the length: two different keys compare
/// equal (the comparison covers all 32 bytes) once both are zeroized, and no longer equal a copy.
#[test]
fn explicit_zeroize_clears_the_key_bytes() {
    let a_bytes: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let mut a = AesKey::new_256(a_bytes);
    let mut b = AesKey::new_256([0x3c; 32]);
    let mut c = AesKey::from_slice(&a_bytes[..16]).unwrap();
    assert_ne!(a, b);
    let a_copy = a.clone();
    a.zeroize();
    b.zeroize();
    c.zeroize();
    assert!(a.as_bytes().is_empty() && a.len() == 0);
    assert_eq!(a, b, "zeroize left key bytes behind");
    assert_eq!(a, c, "zeroize left key bytes behind");
    assert_ne!(a, a_copy);
    // The clone is independent and intact.
    assert_eq!(a_copy.as_bytes(), &a_bytes);

    let mut d = DataKey::new_256(a_bytes);
    let mut e = DataKey::from_slice(&[0x77; 24]).unwrap();
    d.zeroize();
    e.zeroize();
    assert_eq!(d, e, "zeroize left data-key bytes behind");
    assert!(d.as_bytes().is_empty());
}

/// Whether `T: ZeroizeOnDrop`, answered without a compile error when it is not (autoref
/// specialization: the bounded impl sits one reference deeper, so it wins when it applies).
struct Probe<T>(PhantomData<T>);
trait IsZod {
    fn zod(self) -> bool;
}
impl<T: ZeroizeOnDrop> IsZod for &&Probe<T> {
    fn zod(self) -> bool {
        true
    }
}
trait NotZod {
    fn zod(self) -> bool;
}
impl<T> NotZod for &Probe<T> {
    fn zod(self) -> bool {
        false
    }
}
macro_rules! zod {
    ($t:ty) => {
        (&&Probe::<$t>(PhantomData)).zod()
    };
}

#[test]
fn the_probe_tells_both_answers() {
    assert!(zod!(AesKey));
    assert!(zod!(DataKey));
    assert!(!zod!(String));
    assert!(!zod!(u8));
}

/// Every type that holds key material or an expanded AES key schedule wipes it on drop, and says
/// so with `ZeroizeOnDrop`: the composite ones hold `aes::Aes256` (an expanded key, from which the
/// key follows) inside their CTR/GCM/CBC state, which needs the `aes` crate's `zeroize` feature
/// (found missing by this test).
#[test]
fn every_secret_holder_zeroizes_on_drop() {
    let missing: Vec<&str> = [
        (
            "aes::Aes256 (inside every stream)",
            zod!(aes_gcm::aes::Aes256),
        ),
        ("aes::Aes128", zod!(aes_gcm::aes::Aes128)),
        ("EncryptionMaterials", zod!(EncryptionMaterials)),
        ("Encryptor", zod!(Encryptor)),
        ("Decryptor", zod!(s3_encryption::Decryptor)),
        ("DelayedStream", zod!(s3_encryption::hazmat::DelayedStream)),
        ("VerifyPass", zod!(s3_encryption::VerifyPass)),
        ("ReleasePass", zod!(s3_encryption::ReleasePass)),
        ("RangedStream", zod!(s3_encryption::hazmat::RangedStream)),
        (
            "RecheckedSegments",
            zod!(s3_encryption::hazmat::RecheckedSegments),
        ),
        (
            "UnverifiedSegments",
            zod!(s3_encryption::hazmat::UnverifiedSegments),
        ),
        ("AesKeyring", zod!(s3_encryption::AesKeyring)),
    ]
    .into_iter()
    .filter(|(_, z)| !z)
    .map(|(n, _)| n)
    .collect();
    assert!(missing.is_empty(), "not ZeroizeOnDrop: {missing:?}");
}

// ------------------------------------------------------------------ Debug

/// A recognisable key: no two of its bytes equal, so that any 3-byte window is distinctive.
fn secret(seed: u8) -> [u8; 32] {
    core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(seed))
}

/// Every rendering of any 3 consecutive bytes of `key` that a `Debug` might print: hex (both
/// cases, with and without separators), decimal lists, and base64 of the whole key.
fn needles(key: &[u8]) -> Vec<String> {
    let mut v = vec![];
    for w in key.windows(3) {
        v.push(format!("{:02x}{:02x}{:02x}", w[0], w[1], w[2]));
        v.push(format!("{:02X}{:02X}{:02X}", w[0], w[1], w[2]));
        v.push(format!("{:02x} {:02x} {:02x}", w[0], w[1], w[2]));
        v.push(format!("{:02x}, {:02x}, {:02x}", w[0], w[1], w[2]));
        v.push(format!("{}, {}, {}", w[0], w[1], w[2]));
        v.push(format!("{},\n    {},\n    {}", w[0], w[1], w[2]));
        v.push(format!("0x{:02x}, 0x{:02x}", w[0], w[1]));
    }
    use base64ct::{Base64, Encoding};
    v.push(Base64::encode_string(key)[..12].to_owned());
    v
}

/// The first rendering of a secret found in `debug`.
fn leak(debug: &str, secrets: &[&[u8]]) -> Option<String> {
    secrets
        .iter()
        .flat_map(|s| needles(s))
        .find(|n| debug.contains(n.as_str()))
}

fn assert_redacted(what: &str, debug: &str, secrets: &[&[u8]]) {
    if let Some(n) = leak(debug, secrets) {
        panic!("{what}: Debug output contains key bytes ({n:?}):\n{debug}");
    }
}

/// `Debug` of `$v` shows none of the secrets `$s`, yet is not empty: it names the type (or, for
/// a key, says it is redacted), so a `Debug` that prints nothing fails too.
macro_rules! check {
    ($what:expr, $v:expr, $($s:expr),+) => {{
        let v = &$v;
        let short = format!("{v:?}");
        assert!(short.len() > 4 && short.is_ascii(), "{}: Debug is {short:?}", $what);
        assert_redacted($what, &format!("{v:?}"), &[$(&$s[..]),+]);
        assert_redacted($what, &format!("{v:#?}"), &[$(&$s[..]),+]);
    }};
}

/// The Debug output of every public type on the encrypt and decrypt paths, built with known keys,
/// shows none of the master key, the data key or the derived V3 content key.
#[test]
fn debug_output_has_no_key_bytes() {
    let mk = secret(11);
    let dk = secret(101);
    let mid = [0x5au8; 28];
    let (dek, _) = s3_encryption::hazmat::derive_v3(&dk, &mid);
    // The detector itself finds keys printed as arrays, in hex, pretty-printed or in base64.
    for printed in [
        format!("{mk:?}"),
        format!("{mk:#?}"),
        format!("{mk:02x?}"),
        mk.iter().map(|b| format!("{b:02X}")).collect::<String>(),
        {
            use base64ct::{Base64, Encoding};
            Base64::encode_string(&mk)
        },
    ] {
        assert!(
            leak(&printed, &[&mk]).is_some(),
            "the detector missed {printed}"
        );
    }
    let master = AesKey::new_256(mk);
    check!("AesKey", master, mk);
    check!(
        "AesKey 128",
        AesKey::from_slice(&mk[..16]).unwrap(),
        mk[..16]
    );
    check!("DataKey", DataKey::new_256(dk), dk);
    check!(
        "DataKey 192",
        DataKey::from_slice(&dk[..24]).unwrap(),
        dk[..24]
    );

    for config in [
        EncryptConfig::default(),
        EncryptConfig::v2(Placement::ObjectMetadata),
        EncryptConfig::v3(Placement::InstructionFile),
    ] {
        let m = EncryptionMaterials::aes_gcm_deterministic(
            &config,
            &master,
            DataKey::new_256(dk),
            &[3; 12],
            &[],
        )
        .unwrap();
        check!("EncryptionMaterials", m, mk, dk, dek);
        check!("EncryptionMaterials::data_key", m.data_key(), dk);
        let mut enc = Encryptor::new_deterministic(m, &mid, Some(40)).unwrap();
        check!("Encryptor (fresh)", enc, mk, dk, dek);
        let pt = [0u8; 40];
        let mut body = vec![0u8; 40];
        enc.encrypt(&pt[..17], &mut body).unwrap();
        check!("Encryptor (mid-stream)", enc, mk, dk, dek);
        enc.encrypt(&pt[17..], &mut body[17..]).unwrap();
        let meta: Vec<(String, String)> = enc
            .envelope()
            .metadata()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let ins = (config.placement() == Placement::InstructionFile)
            .then(|| enc.envelope().instruction_file().into_bytes());
        body.extend_from_slice(&enc.finish().unwrap());

        let p = DecryptPolicy {
            legacy_unauthenticated_modes: true,
            delayed_authentication: true,
            ..DecryptPolicy::new()
                .with_commitment_policy(s3_encryption::CommitmentPolicy::RequireEncryptAllowDecrypt)
        };
        let env = Envelope::parse(meta, ins.as_deref(), &p).unwrap();
        check!("Envelope", env, mk, dk, dek);
        check!("KeyRequest", env.key_request(&[]).unwrap(), mk, dk, dek);
        let key = env.unwrap_aes(&master).unwrap();
        check!("unwrapped DataKey", key, dk);
        let dec = env.decryptor(key, &p).unwrap();
        check!("Decryptor", dec, mk, dk, dek);
        let mut vp = dec.clone().verify_first().unwrap();
        vp.update(&body[..9]).unwrap();
        check!("VerifyPass", vp, mk, dk, dek);
        vp.update(&body[9..]).unwrap();
        let mut rp = vp.finish().unwrap();
        let mut out = vec![0u8; body.len()];
        rp.update(&body[..20], &mut out).unwrap();
        check!("ReleasePass", rp, mk, dk, dek);
        if let Ok(r) = s3_encryption::hazmat::rechecked_segments(&rp) {
            check!("RecheckedSegments", r, mk, dk, dek);
        }
        if let Ok(u) = s3_encryption::hazmat::unverified_segments(&dec) {
            check!("UnverifiedSegments", u, mk, dk, dek);
        }
        check!(
            "AesKeyring",
            s3_encryption::AesKeyring::new(master.clone()),
            mk
        );
        let mut st = s3_encryption::hazmat::delayed_authentication(dec.clone()).unwrap();
        st.update(&body[..25], &mut out).unwrap();
        check!("DelayedStream", st, mk, dk, dek);
        let plan = RangePlan::new(
            ByteRange::Inclusive(3, 30),
            body.len() as u64,
            env.content_algorithm(),
        )
        .unwrap();
        let mut rs = s3_encryption::hazmat::ranged(dec, &plan).unwrap();
        let f = &body[plan.fetch_first as usize..=plan.fetch_last as usize];
        rs.update(&f[..5], &mut out).unwrap();
        check!("RangedStream", rs, mk, dk, dek);
    }

    // KMS: the request and the materials built from KMS's answer.
    let req = EncryptionMaterials::kms(&EncryptConfig::default(), &[("tenant", "t")]).unwrap();
    check!("KmsGenerateDataKeyRequest", req, dk);
    let m = req.into_materials(DataKey::new_256(dk), b"blob").unwrap();
    check!("EncryptionMaterials (kms)", m, dk);

    // RSA: a data key unwrapped with an RSA private key.
    let rsa_pem_json = common::json("ruby/v1-rsa-meta-0000017.json");
    let sk = common::rsa_from_pem(rsa_pem_json["key"]["private_key_pem"].as_str().unwrap());
    let m = EncryptionMaterials::rsa_oaep(
        &EncryptConfig::default(),
        &sk.to_public_key(),
        DataKey::new_256(dk),
        &mut rand::rng(),
        &[],
    )
    .unwrap();
    check!("EncryptionMaterials (rsa)", m, dk);
    let enc = Encryptor::new_deterministic(m, &mid, None).unwrap();
    let meta: Vec<(String, String)> = enc
        .envelope()
        .metadata()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let env = Envelope::parse(meta, None, &DecryptPolicy::default()).unwrap();
    let key = env.unwrap_rsa_os_rng(&sk).unwrap();
    assert_eq!(key.as_bytes(), &dk);
    check!("DataKey (rsa)", key, dk);
}
