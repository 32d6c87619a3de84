//! `RSA-OAEP-SHA1` (V3 `22`): OAEP with SHA-1 of the pseudo key `len ‖ key ‖ content-cipher id`.

use crate::error::{Error, Result};
use crate::secret::DataKey;
use rsa::rand_core::TryCryptoRng;
use rsa::{Oaep, PrivateKey, PublicKey};
use subtle::ConstantTimeEq;

/// Unwrap: OAEP-SHA1 decrypt (blinded with `rng`), then check the pseudo key against `cek`.
pub(super) fn unwrap<R: TryCryptoRng + ?Sized>(
    key: &PrivateKey,
    rng: &mut R,
    edk: &[u8],
    cek: &[u8],
) -> Result<DataKey> {
    let pt = key
        .decrypt_blinded(rng, Oaep::<sha1::Sha1>::new(), edk)
        .map_err(|_| Error::Authentication)?;
    let pt = zeroize::Zeroizing::new(pt);
    parse_pseudo_key(&pt, cek)
}

/// `len ‖ key ‖ cipher id`, all checked without early exit on the key bytes.
fn parse_pseudo_key(pt: &[u8], cek: &[u8]) -> Result<DataKey> {
    let Some((&len, rest)) = pt.split_first() else {
        return Err(Error::Authentication);
    };
    let len = len as usize;
    if !matches!(len, 16 | 24 | 32) || rest.len() != len + cek.len() {
        return Err(Error::Authentication);
    }
    let (k, suffix) = rest.split_at(len);
    if !bool::from(suffix.ct_eq(cek)) {
        return Err(Error::Authentication);
    }
    DataKey::from_slice(k).map_err(|_| Error::Authentication)
}

/// RSA-OAEP-SHA1 wrap of the pseudo key `len ‖ key ‖ cipher id`.
pub(crate) fn rsa_oaep_wrap<R: TryCryptoRng + ?Sized>(
    key: &PublicKey,
    dk: &DataKey,
    cek: &str,
    rng: &mut R,
) -> Result<alloc::vec::Vec<u8>> {
    let mut pseudo = zeroize::Zeroizing::new(alloc::vec::Vec::with_capacity(1 + 32 + cek.len()));
    pseudo.push(dk.len() as u8);
    pseudo.extend_from_slice(dk.as_bytes());
    pseudo.extend_from_slice(cek.as_bytes());
    key.encrypt(rng, Oaep::<sha1::Sha1>::new(), &pseudo)
        .map_err(|_| Error::InvalidKey)
}
