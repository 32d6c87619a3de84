//! Legacy V1 `x-amz-key` under an AES master key: AES-ECB with PKCS#7 padding (JCE `"AES"`).

use super::pkcs7::unpad_pkcs7;
use super::{AnyAes, any_aes};
use crate::error::{Error, Result};
use crate::secret::{AesKey, DataKey};
use aes::cipher::{BlockCipherDecrypt, array::Array};

/// Legacy V1: AES-ECB with PKCS#7 padding under the master key (JCE `"AES"`).
pub(super) fn aes_ecb_unwrap(master: &AesKey, edk: &[u8]) -> Result<DataKey> {
    if edk.is_empty() || !edk.len().is_multiple_of(16) || edk.len() > 48 {
        return Err(Error::Authentication);
    }
    let mut buf = [0u8; 48];
    let n = edk.len();
    buf[..n].copy_from_slice(edk);
    fn dec<C: BlockCipherDecrypt<BlockSize = aes::cipher::consts::U16>>(c: C, b: &mut [u8]) {
        for chunk in b.chunks_exact_mut(16) {
            if let Ok(blk) = <&mut Array<u8, aes::cipher::consts::U16>>::try_from(chunk) {
                c.decrypt_block(blk);
            }
        }
    }
    with_aes!(master, |c| dec(c, &mut buf[..n]));
    let r = unpad_pkcs7(&buf[..n]);
    let res = match r {
        Some(len) => DataKey::from_slice(&buf[..len]).map_err(|_| Error::Authentication),
        None => Err(Error::Authentication),
    };
    zeroize::Zeroize::zeroize(&mut buf);
    res
}
