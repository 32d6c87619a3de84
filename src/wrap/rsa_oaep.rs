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
    let pt = decrypt(key, rng, edk)?;
    parse_pseudo_key(&pt, cek)
}

/// The unwrap's padding step: RSA-OAEP with SHA-1, MGF1-SHA-1 and the empty label (blinded with
/// `rng`). Every failure is [`Error::Authentication`].
pub(crate) fn decrypt<R: TryCryptoRng + ?Sized>(
    key: &PrivateKey,
    rng: &mut R,
    edk: &[u8],
) -> Result<zeroize::Zeroizing<alloc::vec::Vec<u8>>> {
    let y_is_zero = leading_octet_is_zero(key, rng, edk);
    let pt = key
        .decrypt_blinded(rng, Oaep::<sha1::Sha1>::new(), edk)
        .map(zeroize::Zeroizing::new)
        .map_err(|_| Error::Authentication)?;
    if bool::from(y_is_zero) {
        Ok(pt)
    } else {
        Err(Error::Authentication)
    }
}

/// RFC 8017 §7.1.2 step 3.g: the first octet Y of the encoded message must be zero, and rsa 0.10.0's
/// OAEP decoding never looks at it (Wycheproof `rsa_oaep_*` "First byte is 1"; see
/// supply-chain/README.md). So the OAEP unwraps check it themselves on the raw RSA result
/// (blinded, like the decryption): Y = 0 exactly when that integer is below 2^(8(k−1)). The
/// answer is combined with the padding check only after both ran, into the one opaque error. It is
/// no oracle: a mauled ciphertext (Manger's attack) fails the label-hash check except with
/// negligible probability, so only an encoding built on purpose from a chosen message has a wrong
/// Y and nothing else wrong. The early returns depend on public facts only (length, c ≥ n).
pub(super) fn leading_octet_is_zero<R: TryCryptoRng + ?Sized>(
    key: &PrivateKey,
    rng: &mut R,
    edk: &[u8],
) -> subtle::Choice {
    use rsa::traits::PublicKeyParts;
    let k = key.size();
    if edk.len() != k {
        return subtle::Choice::from(0);
    }
    let Ok(c) = rsa::BoxedUint::from_be_slice(edk, key.n_bits_precision()) else {
        return subtle::Choice::from(0);
    };
    let Ok(m) = rsa::hazmat::rsa_decrypt_and_check(key, Some(rng), &c) else {
        return subtle::Choice::from(0);
    };
    let m = zeroize::Zeroizing::new(m);
    let em = zeroize::Zeroizing::new(m.to_be_bytes());
    // `em` holds the limb-aligned width; the octets above the last k are zero (m < n).
    match em.len().checked_sub(k) {
        Some(lead) => em[lead].ct_eq(&0),
        None => subtle::Choice::from(0),
    }
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
