//! Fixtures the core's test files share: paths into `test-vectors/`, metadata maps, base64 and
//! hex, PEM keys, and a deterministic RNG for the `*_with_rng` constructors.
#![allow(dead_code)] // each test file uses its own subset

use base64ct::{Base64, Encoding};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Object user metadata as `(key, value)` pairs, in the order they were written.
pub type Meta = Vec<(String, String)>;

/// `test-vectors/<rel>` in this repository.
pub fn test_vectors(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("test-vectors")
        .join(rel)
}

/// A JSON file under `test-vectors/`.
pub fn json(rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(test_vectors(rel)).unwrap()).unwrap()
}

/// A flat JSON object of strings as a map (panics on anything else).
pub fn map_of(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// Standard padded base64.
pub fn b64(b: &[u8]) -> String {
    Base64::encode_string(b)
}

/// Decode standard padded base64 (panics on bad input).
pub fn unb64(s: &str) -> Vec<u8> {
    Base64::decode_vec(s).unwrap()
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An RSA private key from PEM (PKCS#8 or PKCS#1).
#[cfg(feature = "rsa")]
pub fn rsa_from_pem(pem: &str) -> s3_encryption::rsa::PrivateKey {
    use s3_encryption::rsa::pkcs1::DecodeRsaPrivateKey;
    use s3_encryption::rsa::pkcs8::DecodePrivateKey;
    s3_encryption::rsa::PrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| s3_encryption::rsa::PrivateKey::from_pkcs1_pem(pem))
        .unwrap()
}

/// A deterministic RNG (a counter through SHA-256) for the `*_with_rng` constructors, so that
/// no-`std` builds can run them; never for real keys.
pub struct TestRng(pub u64);

impl rand_core::TryRng for TestRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        use sha2::Digest;
        for chunk in dst.chunks_mut(32) {
            self.0 += 1;
            let d = sha2::Sha256::digest(self.0.to_le_bytes());
            chunk.copy_from_slice(&d[..chunk.len()]);
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for TestRng {}

/// A [`s3_encryption::wrap::FillRandom`] for keyrings in tests (a fixed, non-zero pattern that
/// changes on every call).
pub fn test_fill(buf: &mut [u8]) -> s3_encryption::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let mut r = TestRng(N.fetch_add(1 << 20, Ordering::Relaxed));
    rand_core::TryRng::try_fill_bytes(&mut r, buf).unwrap();
    Ok(())
}
