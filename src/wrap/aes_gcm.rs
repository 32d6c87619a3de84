//! `AES/GCM` (V3 `02`): the data key sealed with AES-GCM under the master key, the content
//! cipher's name as AAD; stored as `iv(12) ‖ ciphertext(32) ‖ tag(16)`.

use super::{AnyAes, any_aes};
use crate::error::{Error, Result};
use crate::gcm;
use crate::secret::{AesKey, DataKey};

/// AES/GCM wrap: `iv(12) ‖ GCM(master, iv, aad, data key) ‖ tag(16)`.
pub(crate) fn aes_gcm_wrap(
    master: &AesKey,
    iv: &[u8; 12],
    aad: &[u8],
    dk: &DataKey,
    out: &mut [u8; 60],
) -> Result<()> {
    let pt = dk.as_256().map_err(|_| Error::InvalidKey)?;
    out[..12].copy_from_slice(iv);
    let (_, rest) = out.split_at_mut(12);
    with_aes!(master, |c| gcm::seal(c, iv, aad, pt, rest))
}

pub(super) fn aes_gcm_unwrap(master: &AesKey, aad: &[u8], edk: &[u8]) -> Result<DataKey> {
    if edk.len() != 12 + 32 + 16 {
        return Err(Error::Authentication);
    }
    let mut iv = [0u8; 12];
    iv.copy_from_slice(&edk[..12]);
    let mut out = [0u8; 32];
    open(master, &iv, aad, &edk[12..], &mut out)?;
    Ok(DataKey::new_256(out))
}

/// The wrap's AES-GCM open of `ct ‖ tag` under an AES-128/192/256 master key: nothing is written
/// to `out` unless the tag verifies.
pub(crate) fn open(
    master: &AesKey,
    iv: &[u8; 12],
    aad: &[u8],
    ct_tag: &[u8],
    out: &mut [u8],
) -> Result<()> {
    with_aes!(master, |c| gcm::open(c, iv, aad, ct_tag, out))
}
