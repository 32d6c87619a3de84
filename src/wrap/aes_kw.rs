//! Legacy `AESWrap`: RFC 3394 key wrap under the master key.

use crate::error::{Error, Result};
use crate::secret::{AesKey, DataKey};
use aes::cipher::KeyInit;

pub(crate) fn aes_kw_unwrap(master: &AesKey, edk: &[u8]) -> Result<DataKey> {
    if edk.len() != 40 && edk.len() != 32 && edk.len() != 24 {
        return Err(Error::Authentication);
    }
    let mut out = [0u8; 32];
    let n = edk.len() - 8;
    let k = master.as_bytes();
    let r = match k.len() {
        16 => aes_kw::KwAes128::new_from_slice(k)
            .map_err(|_| Error::InvalidKey)?
            .unwrap_key(edk, &mut out)
            .map(|s| s.len()),
        24 => aes_kw::KwAes192::new_from_slice(k)
            .map_err(|_| Error::InvalidKey)?
            .unwrap_key(edk, &mut out)
            .map(|s| s.len()),
        _ => aes_kw::KwAes256::new_from_slice(k)
            .map_err(|_| Error::InvalidKey)?
            .unwrap_key(edk, &mut out)
            .map(|s| s.len()),
    };
    let res = match r {
        Ok(len) if len == n => DataKey::from_slice(&out[..len]).map_err(|_| Error::Authentication),
        _ => Err(Error::Authentication),
    };
    zeroize::Zeroize::zeroize(&mut out);
    res
}
