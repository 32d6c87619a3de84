//! Shared fixtures and helpers for the fuzz targets: fixed keys, objects written by our encryptor
//! and by the SDKs (embedded from `test-vectors/` at compile time), and ways to turn fuzz bytes
//! into chunkings.
#![forbid(unsafe_code)]

use base64ct::{Base64, Encoding};
use libfuzzer_sys::arbitrary::{Result as AResult, Unstructured};
use s3_encryption::rsa::pkcs8::DecodePrivateKey;
use s3_encryption::{
    AesKey, CommitmentPolicy, DataKey, DecryptPolicy, Decryptor, EncryptConfig,
    EncryptionMaterials, Encryptor, Envelope, Placement,
};
use std::sync::OnceLock;

/// Metadata as owned pairs.
pub type Meta = Vec<(String, String)>;

/// The AES master key every fixture written by our encryptor uses.
pub fn master() -> AesKey {
    AesKey::new_256([0x4d; 32])
}

/// The data key every fixture written by our encryptor wraps.
pub const DATA_KEY: [u8; 32] = [0x2a; 32];

/// A policy with every gate open (the targets check behaviour, not the gates).
pub fn open_policy() -> DecryptPolicy {
    DecryptPolicy {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        legacy_wrapping_algorithms: true,
        legacy_unauthenticated_modes: true,
        delayed_authentication: true,
    }
}

/// Split `n` bytes into chunk lengths chosen by the fuzzer (each ≥ 1, summing to `n`).
pub fn splits(u: &mut Unstructured<'_>, n: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut left = n;
    while left > 0 {
        if u.is_empty() {
            // Out of fuzz bytes: the rest in one piece (not a million one-byte pieces).
            v.push(left);
            break;
        }
        let t = match u.int_in_range(0u8..=3).unwrap_or(3) {
            0 => 1,
            1 => u.int_in_range(1usize..=17).unwrap_or(16),
            2 => u.int_in_range(1usize..=4096).unwrap_or(4096),
            _ => left,
        }
        .min(left);
        v.push(t);
        left -= t;
    }
    v
}

/// Split lengths taken from a small header of the input: each header byte is one chunk length
/// (0 means "the rest"); the last chunk takes what remains.
pub fn chunks_of(lens: &[u8], n: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut left = n;
    for &l in lens {
        if left == 0 {
            break;
        }
        let t = if l == 0 { left } else { (l as usize).min(left) };
        v.push(t);
        left -= t;
    }
    if left > 0 {
        v.push(left);
    }
    v
}

/// An object written by our own encryptor.
pub struct Written {
    pub meta: Meta,
    pub instruction: Option<Vec<u8>>,
    pub body: Vec<u8>,
    pub plaintext: Vec<u8>,
}

/// Encrypt `pt` with the fixed master and data key (AES/GCM wrap).
pub fn write_aes(config: &EncryptConfig, pt: &[u8], declared: bool) -> Written {
    let m = EncryptionMaterials::aes_gcm_deterministic(
        config,
        &master(),
        DataKey::new_256(DATA_KEY),
        &[7; 12],
        &[("fuzz", "fixture")],
    )
    .expect("materials");
    // A message id (V3) / IV (V2) per plaintext length: fixtures that share the data key must not
    // share a nonce, or one fixture's body is a genuine ciphertext under another's key.
    let mut random = [0x33u8; 28];
    random[..8].copy_from_slice(&(pt.len() as u64 + 1).to_le_bytes());
    let mut enc = Encryptor::new_deterministic(m, &random, declared.then_some(pt.len() as u64))
        .expect("encryptor");
    let env = enc.envelope();
    let meta: Meta = env
        .metadata()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let instruction = (env.placement() == Placement::InstructionFile)
        .then(|| env.instruction_file().into_bytes());
    let mut body = vec![0u8; pt.len()];
    enc.encrypt(pt, &mut body).expect("encrypt");
    body.extend_from_slice(&enc.finish().expect("finish"));
    Written {
        meta,
        instruction,
        body,
        plaintext: pt.to_vec(),
    }
}

/// A deterministic plaintext of `n` bytes.
pub fn plaintext(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u32).wrapping_mul(2654435761).to_be_bytes()[0])
        .collect()
}

// ------------------------------------------------------------------ SDK vectors

/// A vector from `test-vectors/`, decoded.
pub struct Vector {
    pub meta: Meta,
    pub instruction: Option<Vec<u8>>,
    pub body: Vec<u8>,
    pub key: serde_json::Value,
}

/// Parse a vector's JSON (schema `s3ec-vector/1`) with its body and instruction file.
pub fn vector(json: &str, body: &[u8], instruction: Option<&[u8]>) -> Vector {
    let v: serde_json::Value = serde_json::from_str(json).expect("vector JSON");
    let meta = v["object"]["metadata"]
        .as_object()
        .expect("metadata")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_owned()))
        .collect();
    Vector {
        meta,
        instruction: instruction.map(<[u8]>::to_vec),
        body: body.to_vec(),
        key: v["key"].clone(),
    }
}

macro_rules! tv {
    ($p:literal) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/", $p)
    };
}

/// Ruby V1: AES-ECB wrapped key (AES-256 master), AES-CBC content, 17 bytes, metadata.
pub fn ruby_v1_aes() -> &'static Vector {
    static V: OnceLock<Vector> = OnceLock::new();
    V.get_or_init(|| {
        vector(
            include_str!(tv!("ruby/v1-aes-meta-0000017.json")),
            include_bytes!(tv!("ruby/v1-aes-meta-0000017.body")),
            None,
        )
    })
}

/// Ruby V1: AES-CBC content, 4101 bytes (ranged reads over many blocks).
pub fn ruby_v1_aes_4101() -> &'static Vector {
    static V: OnceLock<Vector> = OnceLock::new();
    V.get_or_init(|| {
        vector(
            include_str!(tv!("ruby/v1-aes-meta-0004101.json")),
            include_bytes!(tv!("ruby/v1-aes-meta-0004101.body")),
            None,
        )
    })
}

/// Ruby V1: RSA PKCS#1 v1.5 wrapped key, AES-CBC content, 17 bytes.
pub fn ruby_v1_rsa() -> &'static Vector {
    static V: OnceLock<Vector> = OnceLock::new();
    V.get_or_init(|| {
        vector(
            include_str!(tv!("ruby/v1-rsa-meta-0000017.json")),
            include_bytes!(tv!("ruby/v1-rsa-meta-0000017.body")),
            None,
        )
    })
}

/// Java 1.12 V2 AuthenticatedEncryption: AESWrap key, AES-GCM content, 4101 bytes.
pub fn java_aeswrap_4101() -> &'static Vector {
    static V: OnceLock<Vector> = OnceLock::new();
    V.get_or_init(|| {
        vector(
            include_str!(tv!("java-legacy/ae-aeswrap-meta-4101.json")),
            include_bytes!(tv!("java-legacy/ae-aeswrap-meta-4101.body")),
            None,
        )
    })
}

/// Python V3 KMS (kms+context), 17 bytes; the vector records KMS's plaintext data key.
pub fn python_v3_kms() -> &'static Vector {
    static V: OnceLock<Vector> = OnceLock::new();
    V.get_or_init(|| {
        vector(
            include_str!(tv!("python/v3-kms-17.json")),
            include_bytes!(tv!("python/v3-kms-17.body")),
            None,
        )
    })
}

/// The vector's AES master key.
pub fn vector_aes_key(v: &Vector) -> AesKey {
    let k = Base64::decode_vec(v.key["key_b64"].as_str().expect("key_b64")).expect("base64");
    AesKey::from_slice(&k).expect("aes key")
}

/// The RSA private key of the Ruby vectors.
pub fn rsa_key() -> &'static s3_encryption::rsa::PrivateKey {
    static K: OnceLock<s3_encryption::rsa::PrivateKey> = OnceLock::new();
    K.get_or_init(|| {
        let pem = ruby_v1_rsa().key["private_key_pem"].as_str().expect("pem");
        s3_encryption::rsa::PrivateKey::from_pkcs8_pem(pem).expect("pkcs8")
    })
}

/// Parse (gates open) and bind the key of a vector or fixture.
pub fn decryptor_for(meta: &Meta, instruction: Option<&[u8]>, key: &KeySource) -> Decryptor {
    let p = open_policy();
    let env = Envelope::parse(
        meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        instruction,
        &p,
    )
    .expect("fixture parses");
    let dk = match key {
        KeySource::Aes(k) => env.unwrap_aes(k).expect("unwrap"),
        KeySource::Rsa => env.unwrap_rsa_os_rng(rsa_key()).expect("unwrap"),
        KeySource::Plain(dk) => dk.clone(),
    };
    env.decryptor(dk, &p).expect("decryptor")
}

/// Where a fixture's data key comes from.
pub enum KeySource {
    Aes(AesKey),
    Rsa,
    Plain(DataKey),
}

/// The recorded KMS plaintext data key of a KMS vector.
pub fn vector_kms_key(v: &Vector) -> DataKey {
    let k = Base64::decode_vec(v.key["plaintext_b64"].as_str().expect("plaintext_b64"))
        .expect("base64");
    DataKey::from_slice(&k).expect("data key")
}

/// Decrypt a whole body (the reference for ranged reads and for the streaming modes).
pub fn whole(d: &Decryptor, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; body.len()];
    let n = d
        .clone()
        .decrypt_whole(body, &mut out)
        .expect("fixture decrypts");
    out.truncate(n);
    out
}

/// An arbitrary string of at most `max` bytes.
pub fn string(u: &mut Unstructured<'_>, max: usize) -> AResult<String> {
    let n = u.int_in_range(0..=max)?;
    let b = u.bytes(n.min(u.len()))?;
    Ok(String::from_utf8_lossy(b).into_owned())
}
