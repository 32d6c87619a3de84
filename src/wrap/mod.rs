//! Key wraps: local unwrapping inside the core (AES/GCM, AES-ECB, AESWrap, RSA), and the
//! request/response types for KMS, which the caller performs.

use crate::encoding::json::{self, JStr};
use crate::envelope::{Envelope, FormatVersion, WrapAlgorithm, keys};
use crate::error::{Error, Result};
use crate::gcm;
use crate::secret::{AesKey, DataKey};
use aes::cipher::{BlockCipherDecrypt, KeyInit, array::Array};
use subtle::ConstantTimeEq;

/// An encryption context supplied by the caller: `(key, value)` pairs.
pub type EncryptionContext<'a> = &'a [(&'a str, &'a str)];

enum AnyAes {
    A128(aes::Aes128),
    A192(aes::Aes192),
    A256(aes::Aes256),
}

fn any_aes(key: &AesKey) -> Result<AnyAes> {
    let k = key.as_bytes();
    Ok(match k.len() {
        16 => AnyAes::A128(aes::Aes128::new_from_slice(k).map_err(|_| Error::InvalidKey)?),
        24 => AnyAes::A192(aes::Aes192::new_from_slice(k).map_err(|_| Error::InvalidKey)?),
        32 => AnyAes::A256(aes::Aes256::new_from_slice(k).map_err(|_| Error::InvalidKey)?),
        _ => return Err(Error::InvalidKey),
    })
}

/// Run `$body` with `$c` bound to the AES cipher of the right size for `$key`.
macro_rules! with_aes {
    ($key:expr, |$c:ident| $body:expr) => {
        match any_aes($key)? {
            AnyAes::A128($c) => $body,
            AnyAes::A192($c) => $body,
            AnyAes::A256($c) => $body,
        }
    };
}

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

fn aes_gcm_unwrap(master: &AesKey, aad: &[u8], edk: &[u8]) -> Result<DataKey> {
    if edk.len() != 12 + 32 + 16 {
        return Err(Error::Authentication);
    }
    let mut iv = [0u8; 12];
    iv.copy_from_slice(&edk[..12]);
    let mut out = [0u8; 32];
    with_aes!(master, |c| gcm::open(c, &iv, aad, &edk[12..], &mut out))?;
    Ok(DataKey::new_256(out))
}

/// Legacy V1: AES-ECB with PKCS#7 padding under the master key (JCE `"AES"`).
fn aes_ecb_unwrap(master: &AesKey, edk: &[u8]) -> Result<DataKey> {
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

/// PKCS#7 padding check over the last block, without early exit on the padding bytes.
/// Returns the unpadded length.
pub(crate) fn unpad_pkcs7(b: &[u8]) -> Option<usize> {
    if b.is_empty() || !b.len().is_multiple_of(16) {
        return None;
    }
    let last = b[b.len() - 1];
    let p = last as usize;
    let mut bad = subtle::Choice::from((p == 0 || p > 16) as u8);
    let tail = &b[b.len() - 16..];
    for (i, &x) in tail.iter().enumerate() {
        // Byte i (from the end, 1-based: 16 - i) must equal `last` if it is within the padding.
        let in_pad = subtle::Choice::from(((16 - i) <= p) as u8);
        bad |= in_pad & !x.ct_eq(&last);
    }
    if bool::from(bad) {
        None
    } else {
        Some(b.len() - p)
    }
}

fn aes_kw_unwrap(master: &AesKey, edk: &[u8]) -> Result<DataKey> {
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

/// Which kind of key the caller must supply to unwrap this envelope's data key.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyRequest<'e> {
    /// Call KMS `Decrypt` with this request, then pass the plaintext to
    /// [`Envelope::decryptor`].
    Kms(KmsDecryptRequest<'e>),
    /// Unwrap locally with an AES master key: [`Envelope::unwrap_aes`].
    Aes {
        /// The wrap in use.
        wrap: WrapAlgorithm,
    },
    /// Unwrap locally with an RSA private key: `Envelope::unwrap_rsa` (feature `rsa`).
    Rsa {
        /// The wrap in use.
        wrap: WrapAlgorithm,
    },
    /// A V1 `x-amz-key`: AES-ECB under an AES master key, or RSA PKCS#1 v1.5 under an RSA key;
    /// the format does not say which. Use the key you hold.
    AesOrRsa,
}

/// A KMS `Decrypt` call for the caller to perform.
#[derive(Debug, Clone, Copy)]
pub struct KmsDecryptRequest<'e> {
    /// `CiphertextBlob`.
    pub ciphertext_blob: &'e [u8],
    /// The stored encryption context JSON, to pass as `EncryptionContext` (every pair, verbatim).
    pub encryption_context_json: &'e str,
    /// For legacy `kms` objects, the `kms_cmk_id` the writer recorded (informational).
    pub key_id_hint: Option<JsonString<'e>>,
}

/// A string value inside stored JSON (escapes resolved lazily).
#[derive(Debug, Clone, Copy)]
pub struct JsonString<'a>(JStr<'a>);

impl JsonString<'_> {
    /// Write the decoded text into `out`, returning it.
    pub fn decode<'o>(&self, out: &'o mut [u8]) -> Result<&'o str> {
        let mut n = 0;
        for c in self.0.chars() {
            let mut t = [0u8; 4];
            let e = c.encode_utf8(&mut t).as_bytes();
            if n + e.len() > out.len() {
                return Err(Error::TooLarge);
            }
            out[n..n + e.len()].copy_from_slice(e);
            n += e.len();
        }
        core::str::from_utf8(&out[..n]).map_err(|_| Error::InvalidState)
    }
    /// Compare with `s`.
    pub fn eq_str(&self, s: &str) -> bool {
        self.0.eq_str(s)
    }
    /// The decoded text.
    #[cfg(feature = "alloc")]
    pub fn to_string_lossless(&self) -> alloc::string::String {
        self.0.chars().collect()
    }
}

impl KmsDecryptRequest<'_> {
    /// Call `f` with every `(key, value)` pair of the encryption context, decoded.
    pub fn for_each_context_pair(&self, f: impl FnMut(&str, &str)) -> Result<()> {
        for_each_pair(self.encryption_context_json, f)
    }
    /// The encryption context pairs.
    #[cfg(feature = "alloc")]
    pub fn encryption_context(
        &self,
    ) -> alloc::vec::Vec<(alloc::string::String, alloc::string::String)> {
        // Decoded without the fixed-size buffers of `for_each_context_pair`: no pair is dropped.
        let mut v = alloc::vec::Vec::new();
        json::string_map_entries(self.encryption_context_json.as_bytes(), |k, val| {
            v.push((k.chars().collect(), val.chars().collect()));
            true
        });
        v
    }
}

/// Decode every pair of a flat JSON string map and call `f`.
pub(crate) fn for_each_pair(json: &str, mut f: impl FnMut(&str, &str)) -> Result<()> {
    let mut kb = [0u8; 2048];
    let mut vb = [0u8; 2048];
    let mut err = None;
    json::string_map_entries(json.as_bytes(), |k, v| {
        let k = match JsonString(k).decode(&mut kb) {
            Ok(k) => k,
            Err(e) => {
                err = Some(e);
                return false;
            }
        };
        let v = match JsonString(v).decode(&mut vb) {
            Ok(v) => v,
            Err(e) => {
                err = Some(e);
                return false;
            }
        };
        f(k, v);
        true
    });
    err.map_or(Ok(()), Err)
}

fn stored_get<'a>(json: &'a str, key: &str) -> Option<JStr<'a>> {
    let mut found = None;
    json::string_map_entries(json.as_bytes(), |k, v| {
        if k.eq_str(key) {
            found = Some(v);
            false
        } else {
            true
        }
    });
    found
}

/// Check that `caller` equals `stored` minus the reserved keys.
fn context_matches(stored: &str, caller: EncryptionContext<'_>) -> Result<()> {
    for (k, _) in caller {
        if *k == keys::EC_CEK_ALG {
            return Err(Error::ReservedEncryptionContextKey);
        }
    }
    let mut stored_n = 0usize;
    let mut ok = true;
    json::string_map_entries(stored.as_bytes(), |k, v| {
        if k.eq_str(keys::EC_CEK_ALG) || k.eq_str(keys::EC_KMS_CMK_ID) {
            return true;
        }
        stored_n += 1;
        let hits = caller
            .iter()
            .filter(|(ck, cv)| k.eq_str(ck) && v.eq_str(cv))
            .count();
        if hits != 1 {
            ok = false;
        }
        ok
    });
    let caller_n = caller
        .iter()
        .filter(|(k, _)| *k != keys::EC_KMS_CMK_ID)
        .count();
    if ok && stored_n == caller_n && caller.len() == caller_n {
        Ok(())
    } else {
        Err(Error::EncryptionContextMismatch)
    }
}

impl Envelope {
    /// What key the caller must supply. For KMS wraps the caller's encryption context (what the
    /// writer's caller passed; empty if none) is checked against the stored one first, and the
    /// stored binding to the content cipher (`aws:x-amz-cek-alg`) is verified.
    pub fn key_request<'e>(
        &'e self,
        caller_context: EncryptionContext<'_>,
    ) -> Result<KeyRequest<'e>> {
        Ok(match self.wrap {
            WrapAlgorithm::Kms | WrapAlgorithm::KmsContext => {
                KeyRequest::Kms(self.kms_request(caller_context)?)
            }
            WrapAlgorithm::AesGcm | WrapAlgorithm::AesWrap => KeyRequest::Aes { wrap: self.wrap },
            WrapAlgorithm::RsaOaepSha1 | WrapAlgorithm::RsaOaepSha256 => {
                KeyRequest::Rsa { wrap: self.wrap }
            }
            WrapAlgorithm::V1Legacy => KeyRequest::AesOrRsa,
        })
    }

    fn kms_request<'e>(&'e self, caller: EncryptionContext<'_>) -> Result<KmsDecryptRequest<'e>> {
        let ec = self.encryption_context().unwrap_or("{}");
        match self.wrap {
            WrapAlgorithm::KmsContext => {
                match stored_get(ec, keys::EC_CEK_ALG) {
                    Some(v) if v.eq_str(self.cek.as_str()) => {}
                    // A stored context that does not bind this content cipher: a downgrade attempt.
                    _ => return Err(Error::Authentication),
                }
                context_matches(ec, caller)?;
            }
            WrapAlgorithm::Kms => {
                if !caller.is_empty() {
                    context_matches(ec, caller)?;
                }
            }
            _ => return Err(Error::UnsupportedWrap),
        }
        let hint = if self.wrap == WrapAlgorithm::Kms {
            stored_get(ec, keys::EC_KMS_CMK_ID).map(JsonString)
        } else {
            None
        };
        Ok(KmsDecryptRequest {
            ciphertext_blob: self.encrypted_data_key(),
            encryption_context_json: ec,
            key_id_hint: hint,
        })
    }

    /// Unwrap the data key with an AES master key (`AES/GCM`, legacy `AESWrap`, legacy V1 AES-ECB).
    /// Every failure is [`Error::Authentication`]; a wrap that does not take an AES key is
    /// [`Error::UnsupportedWrap`].
    pub fn unwrap_aes(&self, master: &AesKey) -> Result<DataKey> {
        let edk = self.encrypted_data_key();
        match self.wrap {
            WrapAlgorithm::AesGcm => {
                // The wrap binds the content cipher named on the object (Java v3 uses the constant
                // "AES/GCM/NoPadding": the same bytes for every GCM object). A relabelled
                // `x-amz-cek-alg` therefore fails to unwrap.
                let aad = if self.version == FormatVersion::V3 {
                    "115"
                } else {
                    self.cek.as_str()
                };
                aes_gcm_unwrap(master, aad.as_bytes(), edk)
            }
            WrapAlgorithm::AesWrap => aes_kw_unwrap(master, edk),
            WrapAlgorithm::V1Legacy => aes_ecb_unwrap(master, edk),
            _ => Err(Error::UnsupportedWrap),
        }
    }
}

#[cfg(feature = "rsa")]
mod rsa_wrap {
    use super::*;
    use rsa::rand_core::TryCryptoRng;
    use rsa::{Oaep, Pkcs1v15Encrypt, PrivateKey, PublicKey};

    impl Envelope {
        /// Unwrap the data key with an RSA private key (`RSA-OAEP-SHA1`, legacy
        /// `RSA/ECB/OAEPWithSHA-256AndMGF1Padding`, legacy V1 PKCS#1 v1.5). `rng` blinds the
        /// private-key operation. Every failure is [`Error::Authentication`].
        pub fn unwrap_rsa<R: TryCryptoRng + ?Sized>(
            &self,
            key: &PrivateKey,
            rng: &mut R,
        ) -> Result<DataKey> {
            let edk = self.encrypted_data_key();
            match self.wrap {
                WrapAlgorithm::RsaOaepSha1 => {
                    let pt = key
                        .decrypt_blinded(rng, Oaep::<sha1::Sha1>::new(), edk)
                        .map_err(|_| Error::Authentication)?;
                    let pt = zeroize::Zeroizing::new(pt);
                    parse_pseudo_key(&pt, self.cek.as_str().as_bytes())
                }
                WrapAlgorithm::RsaOaepSha256 => {
                    // SunJCE uses MGF1-SHA-1 with OAEP-SHA-256; try it first, then MGF1-SHA-256.
                    let r = key
                        .decrypt_blinded(
                            rng,
                            Oaep::<sha2::Sha256, sha1::Sha1>::new_with_mgf_hash(),
                            edk,
                        )
                        .or_else(|_| key.decrypt_blinded(rng, Oaep::<sha2::Sha256>::new(), edk))
                        .map_err(|_| Error::Authentication)?;
                    let r = zeroize::Zeroizing::new(r);
                    DataKey::from_slice(&r).map_err(|_| Error::Authentication)
                }
                WrapAlgorithm::V1Legacy => {
                    // rsa 0.10 uses implicit rejection: bad padding yields a deterministic
                    // synthetic message, so no padding oracle exists; a wrong key then fails
                    // the content check like any other authentication failure.
                    let r = key
                        .decrypt_blinded(rng, Pkcs1v15Encrypt, edk)
                        .map_err(|_| Error::Authentication)?;
                    let r = zeroize::Zeroizing::new(r);
                    DataKey::from_slice(&r).map_err(|_| Error::Authentication)
                }
                _ => Err(Error::UnsupportedWrap),
            }
        }

        /// [`Envelope::unwrap_rsa`] with the operating system's RNG for blinding.
        #[cfg(feature = "getrandom")]
        pub fn unwrap_rsa_os_rng(&self, key: &PrivateKey) -> Result<DataKey> {
            self.unwrap_rsa(key, &mut getrandom::SysRng)
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
        let mut pseudo =
            zeroize::Zeroizing::new(alloc::vec::Vec::with_capacity(1 + 32 + cek.len()));
        pseudo.push(dk.len() as u8);
        pseudo.extend_from_slice(dk.as_bytes());
        pseudo.extend_from_slice(cek.as_bytes());
        key.encrypt(rng, Oaep::<sha1::Sha1>::new(), &pseudo)
            .map_err(|_| Error::InvalidKey)
    }
}
#[cfg(feature = "rsa")]
pub(crate) use rsa_wrap::rsa_oaep_wrap;
