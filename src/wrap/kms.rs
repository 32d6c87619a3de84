//! KMS wraps, performed by the caller: `kms+context` (V3 `12`; the context binds the content
//! cipher under `aws:x-amz-cek-alg`) and legacy `kms` (the materials description is the
//! context). The core builds the `GenerateDataKey` and `Decrypt` requests and checks contexts.

use super::EncryptionContext;
use super::EncryptionMaterials;
use crate::encoding::json::{self, JStr};
use crate::envelope::{Envelope, WrapAlgorithm, keys};
use crate::error::{Error, Result};
use crate::policy::EncryptConfig;
use crate::secret::DataKey;

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
        core::str::from_utf8(&out[..n])
            .map_err(|_| Error::Internal("the encryption context written is not UTF-8"))
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

/// [`Envelope::key_request`] for KMS wraps.
/// `caller: None` (KMS discovery) accepts the stored context as it is; the binding of the
/// content cipher is still verified.
pub(super) fn decrypt_request<'e>(
    env: &'e Envelope,
    caller: Option<EncryptionContext<'_>>,
) -> Result<KmsDecryptRequest<'e>> {
    let ec = env.encryption_context().unwrap_or("{}");
    let wrap = env.wrap_algorithm();
    match wrap {
        WrapAlgorithm::KmsContext => {
            match stored_get(ec, keys::EC_CEK_ALG) {
                Some(v) if v.eq_str(env.content_cipher_id()) => {}
                // A stored context that does not bind this content cipher: a downgrade attempt.
                _ => return Err(Error::Authentication),
            }
            if let Some(caller) = caller {
                context_matches(ec, caller)?;
            }
        }
        WrapAlgorithm::Kms => {
            if let Some(caller) = caller
                && !caller.is_empty()
            {
                context_matches(ec, caller)?;
            }
        }
        _ => return Err(Error::UnsupportedWrap),
    }
    let hint = if wrap == WrapAlgorithm::Kms {
        stored_get(ec, keys::EC_KMS_CMK_ID).map(JsonString)
    } else {
        None
    };
    Ok(KmsDecryptRequest {
        ciphertext_blob: env.encrypted_data_key(),
        encryption_context_json: ec,
        key_id_hint: hint,
    })
}

impl EncryptionMaterials {
    /// Start a `kms+context` wrap (V3 code `12`): the request carries the encryption context the
    /// caller must pass to KMS `GenerateDataKey` (caller context ∪ `aws:x-amz-cek-alg`). A caller
    /// context using the reserved key is [`Error::ReservedEncryptionContextKey`].
    pub fn kms(
        config: &EncryptConfig,
        caller_context: EncryptionContext<'_>,
    ) -> Result<KmsGenerateDataKeyRequest> {
        let mut env = Envelope::for_write(config, WrapAlgorithm::KmsContext);
        env.set_kms_context(caller_context)?;
        Ok(KmsGenerateDataKeyRequest { env })
    }
}

/// A KMS `GenerateDataKey` call for the caller to perform (`KeySpec = AES_256`).
#[derive(Debug)]
pub struct KmsGenerateDataKeyRequest {
    env: Envelope,
}

impl KmsGenerateDataKeyRequest {
    /// The key spec to request.
    pub const KEY_SPEC: &'static str = "AES_256";

    /// The encryption context as compact JSON.
    pub fn encryption_context_json(&self) -> &str {
        self.env.encryption_context().unwrap_or("{}")
    }
    /// Call `f` with each `(key, value)` of the encryption context to send.
    pub fn for_each_context_pair(&self, f: impl FnMut(&str, &str)) -> Result<()> {
        for_each_pair(self.encryption_context_json(), f)
    }
    /// The encryption context pairs to send.
    #[cfg(feature = "alloc")]
    pub fn encryption_context(
        &self,
    ) -> alloc::vec::Vec<(alloc::string::String, alloc::string::String)> {
        let mut v = alloc::vec::Vec::new();
        json::string_map_entries(self.encryption_context_json().as_bytes(), |k, val| {
            v.push((k.chars().collect(), val.chars().collect()));
            true
        });
        v
    }
    /// Finish with KMS's answer: the `Plaintext` (32 bytes) and `CiphertextBlob`.
    pub fn into_materials(
        self,
        plaintext: DataKey,
        ciphertext_blob: &[u8],
    ) -> Result<EncryptionMaterials> {
        if plaintext.len() != 32 {
            return Err(Error::InvalidKey);
        }
        if ciphertext_blob.is_empty() {
            return Err(Error::InvalidKey);
        }
        let mut env = self.env;
        env.set_wrapped_key(ciphertext_blob)?;
        Ok(EncryptionMaterials::from_parts(plaintext, env))
    }
}
