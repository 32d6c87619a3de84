//! Legacy RSA wraps of the raw data key, read only: `RSA/ECB/OAEPWithSHA-256AndMGF1Padding` and
//! the V1 `x-amz-key` under an RSA key (PKCS#1 v1.5).

use crate::error::{Error, Result};
use crate::secret::DataKey;
use rsa::rand_core::TryCryptoRng;
use rsa::{Oaep, Pkcs1v15Encrypt, PrivateKey};

/// OAEP with SHA-256. SunJCE uses MGF1-SHA-1 with OAEP-SHA-256; try it first, then MGF1-SHA-256.
pub(super) fn unwrap_oaep_sha256<R: TryCryptoRng + ?Sized>(
    key: &PrivateKey,
    rng: &mut R,
    edk: &[u8],
) -> Result<DataKey> {
    let r = decrypt_oaep_sha256(key, rng, edk)?;
    DataKey::from_slice(&r).map_err(|_| Error::Authentication)
}

/// The padding step of [`unwrap_oaep_sha256`]: OAEP-SHA-256 with MGF1-SHA-1, else MGF1-SHA-256.
pub(crate) fn decrypt_oaep_sha256<R: TryCryptoRng + ?Sized>(
    key: &PrivateKey,
    rng: &mut R,
    edk: &[u8],
) -> Result<zeroize::Zeroizing<alloc::vec::Vec<u8>>> {
    let y_is_zero = super::rsa_oaep::leading_octet_is_zero(key, rng, edk);
    let pt = key
        .decrypt_blinded(
            rng,
            Oaep::<sha2::Sha256, sha1::Sha1>::new_with_mgf_hash(),
            edk,
        )
        .or_else(|_| key.decrypt_blinded(rng, Oaep::<sha2::Sha256>::new(), edk))
        .map(zeroize::Zeroizing::new)
        .map_err(|_| Error::Authentication)?;
    if bool::from(y_is_zero) {
        Ok(pt)
    } else {
        Err(Error::Authentication)
    }
}

/// PKCS#1 v1.5. rsa 0.10 uses implicit rejection: bad padding yields a deterministic synthetic
/// message, so no padding oracle exists; a wrong key then fails the content check like any other
/// authentication failure.
pub(super) fn unwrap_pkcs1v15<R: TryCryptoRng + ?Sized>(
    key: &PrivateKey,
    rng: &mut R,
    edk: &[u8],
) -> Result<DataKey> {
    let r = decrypt_pkcs1v15(key, rng, edk)?;
    // A synthetic message of another length than a key (bad padding, or the wrong key) goes on
    // as a key derived from it, so that it fails later exactly like a well-padded wrong key does:
    // one error, one path.
    DataKey::from_slice(&r).or_else(|_| {
        use sha2::Digest;
        let d: [u8; 32] = sha2::Sha256::digest(&r[..]).into();
        Ok(DataKey::new_256(d))
    })
}

/// The padding step of [`unwrap_pkcs1v15`]: PKCS#1 v1.5 decryption with implicit rejection (a
/// malformed encoding gives a deterministic synthetic message, not an error); a ciphertext of the
/// wrong length or not below the modulus is [`Error::Authentication`].
pub(crate) fn decrypt_pkcs1v15<R: TryCryptoRng + ?Sized>(
    key: &PrivateKey,
    rng: &mut R,
    edk: &[u8],
) -> Result<zeroize::Zeroizing<alloc::vec::Vec<u8>>> {
    key.decrypt_blinded(rng, Pkcs1v15Encrypt, edk)
        .map(zeroize::Zeroizing::new)
        .map_err(|_| Error::Authentication)
}
