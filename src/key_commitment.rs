//! V3 (suite 0x0073) key derivation and key commitment: HKDF-SHA-512 with the message id as salt.

use hkdf::Hkdf;
use sha2::Sha512;
use zeroize::Zeroize;

/// Length of the V3 message id (`x-amz-i`) and of the key commitment (`x-amz-d`).
pub const COMMIT_LEN: usize = 28;

/// The derived content key (DEK) and the commitment value for a data key and a message id.
///
/// `PRK = HMAC-SHA-512(message_id, data_key)`, `DEK = HKDF-Expand(PRK, 0x00 0x73 ‖ "DERIVEKEY", 32)`,
/// `commitment = HKDF-Expand(PRK, 0x00 0x73 ‖ "COMMITKEY", 28)` (the AWS S3EC specification,
/// `key-derivation.md`).
pub fn derive_v3(
    data_key: &[u8; 32],
    message_id: &[u8; COMMIT_LEN],
) -> ([u8; 32], [u8; COMMIT_LEN]) {
    let hk = Hkdf::<Sha512>::new(Some(message_id), data_key);
    let mut dek = [0u8; 32];
    let mut ck = [0u8; COMMIT_LEN];
    // Lengths ≤ 64 never fail.
    hk.expand(b"\x00\x73DERIVEKEY", &mut dek).unwrap_or(());
    hk.expand(b"\x00\x73COMMITKEY", &mut ck).unwrap_or(());
    (dek, ck)
}

/// Only the commitment value (the DEK is wiped).
pub(crate) fn commitment_v3(
    data_key: &[u8; 32],
    message_id: &[u8; COMMIT_LEN],
) -> [u8; COMMIT_LEN] {
    let (mut dek, ck) = derive_v3(data_key, message_id);
    dek.zeroize();
    ck
}
