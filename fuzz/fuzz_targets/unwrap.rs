//! Key unwrap of arbitrary bytes: AES/GCM (V2 and V3), AESWrap, V1 AES-ECB, RSA-OAEP-SHA1 (V2 and
//! V3), RSA-OAEP-SHA256 and V1 RSA PKCS#1 v1.5, under fixed keys.
//!
//! Input: `[wrap, mode, key size, payload…]`. Mode 0: the payload is the encrypted data key.
//! Otherwise the payload edits a real wrapped key (XOR at positions, then truncate or extend).
//!
//! Properties: unwrapping never panics and every failure is the one opaque
//! `Error::Authentication`; for the authenticated wraps (everything but the legacy AES-ECB and
//! PKCS#1 v1.5, which have no integrity), a success returns the real data key and only for the
//! real wrapped key.
#![no_main]

use base64ct::{Base64, Encoding};
use fuzz_support::*;
use libfuzzer_sys::fuzz_target;
use s3_encryption::rsa::{Oaep, traits::PublicKeyParts};
use s3_encryption::{AesKey, DataKey, EncryptConfig, Envelope, Error, Placement};
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Aes,
    Rsa,
}

struct Wrap {
    /// Metadata without the encrypted data key.
    meta: Vec<(&'static str, String)>,
    /// The key under which the wrapped key lives.
    edk_key: &'static str,
    real_edk: Vec<u8>,
    real_dk: Vec<u8>,
    kind: Kind,
    authenticated: bool,
    aes: Option<AesKey>,
}

fn meta_of(meta: &Meta, drop: &str) -> Vec<(&'static str, String)> {
    meta.iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(drop))
        .map(|(k, v)| {
            (
                &*Box::leak(k.to_ascii_lowercase().into_boxed_str()),
                v.clone(),
            )
        })
        .collect()
}

fn edk_of(meta: &Meta, key: &str) -> Vec<u8> {
    let v = meta
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
        .expect("edk");
    Base64::decode_vec(v).expect("base64")
}

fn wraps() -> &'static [Wrap] {
    static W: OnceLock<Vec<Wrap>> = OnceLock::new();
    W.get_or_init(|| {
        let mut v = vec![];
        // Ours: AES/GCM V3 and V2, RSA-OAEP-SHA1 V3 and V2.
        for (config, key) in [
            (EncryptConfig::v3(Placement::ObjectMetadata), "x-amz-3"),
            (EncryptConfig::v2(Placement::ObjectMetadata), "x-amz-key-v2"),
        ] {
            let w = write_aes(&config, b"x", false);
            v.push(Wrap {
                meta: meta_of(&w.meta, key),
                edk_key: key,
                real_edk: edk_of(&w.meta, key),
                real_dk: DATA_KEY.to_vec(),
                kind: Kind::Aes,
                authenticated: true,
                aes: Some(master()),
            });
            let m = s3_encryption::EncryptionMaterials::rsa_oaep(
                &config,
                &rsa_key().to_public_key(),
                DataKey::new_256(DATA_KEY),
                &mut Rng(1),
                &[],
            )
            .expect("rsa materials");
            let enc =
                s3_encryption::Encryptor::new_deterministic(m, &[5; 28], None).expect("encryptor");
            let meta: Meta = enc
                .envelope()
                .metadata()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            v.push(Wrap {
                meta: meta_of(&meta, key),
                edk_key: key,
                real_edk: edk_of(&meta, key),
                real_dk: DATA_KEY.to_vec(),
                kind: Kind::Rsa,
                authenticated: true,
                aes: None,
            });
        }
        // Legacy RSA/ECB/OAEPWithSHA-256AndMGF1Padding (SunJCE: MGF1-SHA-1) of the raw key.
        let pk = rsa_key().to_public_key();
        let edk = pk
            .encrypt(
                &mut Rng(2),
                Oaep::<sha2::Sha256, sha1::Sha1>::new_with_mgf_hash(),
                &DATA_KEY,
            )
            .expect("oaep-256");
        assert_eq!(edk.len(), pk.size());
        v.push(Wrap {
            meta: vec![
                ("x-amz-iv", "AAECAwQFBgcICQoL".into()),
                ("x-amz-cek-alg", "AES/GCM/NoPadding".into()),
                (
                    "x-amz-wrap-alg",
                    "RSA/ECB/OAEPWithSHA-256AndMGF1Padding".into(),
                ),
                ("x-amz-matdesc", "{}".into()),
            ],
            edk_key: "x-amz-key-v2",
            real_edk: edk,
            real_dk: DATA_KEY.to_vec(),
            kind: Kind::Rsa,
            authenticated: true,
            aes: None,
        });
        // SDK objects: AESWrap (Java), V1 AES-ECB (Ruby), V1 RSA PKCS#1 v1.5 (Ruby).
        for (vec, key, kind, authenticated) in [
            (java_aeswrap_4101(), "x-amz-key-v2", Kind::Aes, true),
            (ruby_v1_aes(), "x-amz-key", Kind::Aes, false),
            (ruby_v1_rsa(), "x-amz-key", Kind::Rsa, false),
        ] {
            let aes = (kind == Kind::Aes).then(|| vector_aes_key(vec));
            let env = Envelope::parse(
                vec.meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                None,
                &open_policy(),
            )
            .expect("vector parses");
            let dk = match &aes {
                Some(a) => env.unwrap_aes(a),
                None => env.unwrap_rsa_os_rng(rsa_key()),
            }
            .expect("vector unwraps");
            v.push(Wrap {
                meta: meta_of(&vec.meta, key),
                edk_key: key,
                real_edk: edk_of(&vec.meta, key),
                real_dk: dk.as_bytes().to_vec(),
                kind,
                authenticated,
                aes,
            });
        }
        v
    })
}

/// A deterministic RNG (OAEP seeds for the fixtures only).
struct Rng(u64);

impl s3_encryption::rsa::rand_core::TryRng for Rng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Ok(self.0 >> 11)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for c in dst.chunks_mut(8) {
            let x = self.try_next_u64()?.to_le_bytes();
            c.copy_from_slice(&x[..c.len()]);
        }
        Ok(())
    }
}

impl s3_encryption::rsa::rand_core::TryCryptoRng for Rng {}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let w = &wraps()[data[0] as usize % wraps().len()];
    let mode = data[1];
    let payload = &data[3..];
    let edk = if mode.is_multiple_of(4) {
        payload.to_vec()
    } else {
        let mut e = w.real_edk.clone();
        let mut it = payload.chunks_exact(2);
        for p in &mut it {
            let i = p[0] as usize % e.len();
            e[i] ^= p[1];
        }
        if let Some(&t) = it.remainder().first() {
            if t & 0x80 == 0 {
                e.truncate(e.len().saturating_sub((t & 0x3f) as usize));
            } else {
                e.extend(std::iter::repeat_n(t, (t & 0x3f) as usize));
            }
        }
        e
    };
    if edk.is_empty() {
        return;
    }
    let mut meta = w.meta.clone();
    meta.push((w.edk_key, Base64::encode_string(&edk)));
    let env = match Envelope::parse_unchecked(meta.iter().map(|(k, v)| (*k, v.as_str())), None) {
        Ok(e) => e,
        Err(e) => {
            assert_eq!(e, Error::TooLarge, "a base64 EDK was refused for {e:?}");
            return;
        }
    };
    assert_eq!(env.encrypted_data_key(), &edk[..]);
    let r = match w.kind {
        Kind::Aes => {
            // The fixture's key, or another size of key: AES keys may be 128, 192 or 256 bits.
            let k = match data[2] % 4 {
                0 => AesKey::from_slice(&[0x4d; 16]).expect("16"),
                1 => AesKey::from_slice(&[0x4d; 24]).expect("24"),
                _ => w.aes.clone().expect("aes"),
            };
            env.unwrap_aes(&k)
        }
        Kind::Rsa => env.unwrap_rsa_os_rng(rsa_key()),
    };
    match r {
        Ok(dk) => {
            assert!(matches!(dk.len(), 16 | 24 | 32));
            if w.authenticated {
                assert_eq!(edk, w.real_edk, "an altered wrapped key unwrapped");
                assert_eq!(dk.as_bytes(), &w.real_dk[..]);
            }
        }
        Err(e) => assert_eq!(e, Error::Authentication, "unwrap failure is not opaque"),
    }
});
