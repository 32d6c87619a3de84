//! The envelope: parse, inspect, key requests, and the decryption of an object already in hand.

use crate::convert::{
    Js, JsResult, borrow_pairs, decrypt_policy, map_object, num, obj, opt, pairs, set,
};
use crate::keys::{WasmAesKey, WasmRsaPrivateKey};
use js_sys::{Object, Uint8Array};
use s3_encryption::{
    ByteRange, DataKey, DecryptPolicy, Envelope, KeyRequest, KmsDecryptRequest, RangePlan,
};
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

/// A data key (for example KMS `Decrypt`'s `Plaintext`), wiped when freed.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmDataKey {
    pub(crate) key: DataKey,
}

#[wasm_bindgen]
impl WasmDataKey {
    /// A data key from its bytes (16, 24 or 32).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> JsResult<WasmDataKey> {
        Ok(WasmDataKey {
            key: DataKey::from_slice(bytes).js()?,
        })
    }
}

/// A parsed envelope and the policy it was parsed under.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmEnvelope {
    pub(crate) env: Envelope,
    policy: DecryptPolicy,
}

/// Whether the metadata (flat `[name, value, …]`, names without `x-amz-meta-`) holds no envelope,
/// so that the instruction file must be fetched.
#[wasm_bindgen(js_name = needsInstructionFile)]
pub fn needs_instruction_file(metadata: Vec<String>) -> JsResult<bool> {
    let m = pairs(metadata)?;
    Envelope::needs_instruction_file(borrow_pairs(&m)).js()
}

/// Whether `name` (any case, with or without `x-amz-meta-`) is an envelope key: the core's
/// `envelope::keys::is_envelope_key`, so that user metadata can be told apart from the envelope.
#[wasm_bindgen(js_name = isEnvelopeKey)]
pub fn is_envelope_key(name: &str) -> bool {
    s3_encryption::envelope::keys::is_envelope_key(name)
}

/// Parse an envelope from the object metadata (flat `[name, value, …]`, names without
/// `x-amz-meta-`) and the instruction file's bytes, under the policy of `options`
/// (`commitmentPolicy`, `enableLegacyWrappingAlgorithms`, `enableLegacyUnauthenticatedModes`,
/// `enableDelayedAuthenticationMode`).
#[wasm_bindgen(js_name = parseEnvelope)]
pub fn parse_envelope(
    metadata: Vec<String>,
    instruction_file: Option<Vec<u8>>,
    options: JsValue,
) -> JsResult<WasmEnvelope> {
    let policy = decrypt_policy(&options)?;
    let m = pairs(metadata)?;
    let env = Envelope::parse(borrow_pairs(&m), instruction_file.as_deref(), &policy).js()?;
    Ok(WasmEnvelope { env, policy })
}

/// A key request as a plain object: `{kind: "kms", ciphertextBlob, encryptionContext,
/// keyIdHint}`, `{kind: "aes", wrap}`, `{kind: "rsa", wrap}` or `{kind: "aesOrRsa"}`.
pub(crate) fn key_request_object(r: &KeyRequest<'_>) -> Object {
    let o = obj();
    match r {
        KeyRequest::Kms(k) => {
            set(&o, "kind", "kms");
            kms_fields(&o, k);
        }
        KeyRequest::Aes { wrap } => {
            set(&o, "kind", "aes");
            set(&o, "wrap", format!("{wrap:?}"));
        }
        KeyRequest::Rsa { wrap } => {
            set(&o, "kind", "rsa");
            set(&o, "wrap", format!("{wrap:?}"));
        }
        _ => set(&o, "kind", "aesOrRsa"),
    }
    o
}

fn kms_fields(o: &Object, k: &KmsDecryptRequest<'_>) {
    set(o, "ciphertextBlob", Uint8Array::from(k.ciphertext_blob));
    let ctx = k.encryption_context();
    set(
        o,
        "encryptionContext",
        crate::convert::owned_map_object(&ctx),
    );
    match &k.key_id_hint {
        Some(h) => set(o, "keyIdHint", h.to_string_lossless()),
        None => set(o, "keyIdHint", JsValue::NULL),
    }
}

/// The envelope's fields as a plain object.
pub(crate) fn envelope_info(env: &Envelope) -> Object {
    let o = obj();
    set(&o, "version", format!("{:?}", env.version()));
    set(
        &o,
        "contentAlgorithm",
        format!("{:?}", env.content_algorithm()),
    );
    set(&o, "contentCipher", env.content_cipher_id());
    set(&o, "wrapAlgorithm", format!("{:?}", env.wrap_algorithm()));
    set(&o, "placement", format!("{:?}", env.placement()));
    opt(&o, "encryptionContext", env.encryption_context());
    opt(&o, "materialsDescription", env.materials_description());
    num(
        &o,
        "unencryptedContentLength",
        env.unencrypted_content_length(),
    );
    set(&o, "metadata", map_object(env.metadata()));
    o
}

#[wasm_bindgen]
impl WasmEnvelope {
    /// The envelope's fields: `version`, `contentAlgorithm`, `contentCipher`, `wrapAlgorithm`,
    /// `placement`, `encryptionContext` (JSON), `materialsDescription` (JSON),
    /// `unencryptedContentLength`, `metadata`.
    pub fn info(&self) -> Object {
        envelope_info(&self.env)
    }

    /// The plaintext length of a stored body of `stored_len` bytes, when the format says.
    #[wasm_bindgen(js_name = plaintextLength)]
    pub fn plaintext_length(&self, stored_len: f64) -> Option<f64> {
        self.env.plaintext_len(stored_len as u64).map(|n| n as f64)
    }

    /// What key to supply. `context` (flat pairs) is the caller's encryption context, checked
    /// against the stored one for KMS wraps; `undefined` accepts the stored one (KMS discovery).
    #[wasm_bindgen(js_name = keyRequest)]
    pub fn key_request(&self, context: Option<Vec<String>>) -> JsResult<Object> {
        let r = match context {
            Some(c) => {
                let c = pairs(c)?;
                let b = borrow_pairs(&c);
                key_request_object(&self.env.key_request(&b).js()?)
            }
            None => key_request_object(&self.env.key_request_accepting_stored_context().js()?),
        };
        Ok(r)
    }

    /// Unwrap the data key with an AES master key.
    #[wasm_bindgen(js_name = unwrapAes)]
    pub fn unwrap_aes(&self, key: &WasmAesKey) -> JsResult<WasmDataKey> {
        Ok(WasmDataKey {
            key: self.env.unwrap_aes(&key.key).js()?,
        })
    }

    /// Unwrap the data key with an RSA private key.
    #[wasm_bindgen(js_name = unwrapRsa)]
    pub fn unwrap_rsa(&self, key: &WasmRsaPrivateKey) -> JsResult<WasmDataKey> {
        Ok(WasmDataKey {
            key: self.env.unwrap_rsa_os_rng(&key.key).js()?,
        })
    }

    /// Decrypt a whole stored body held in memory: it is authenticated before any plaintext is
    /// returned.
    pub fn decrypt(&self, data_key: &WasmDataKey, body: &[u8]) -> JsResult<Uint8Array> {
        let dec = self
            .env
            .decryptor(data_key.key.clone(), &self.policy)
            .js()?;
        let mut out = vec![0u8; body.len()];
        let n = dec.decrypt_whole(body, &mut out).js()?;
        let r = Uint8Array::from(&out[..n]);
        zeroize(&mut out);
        Ok(r)
    }

    /// **Hazmat.** An unauthenticated ranged decryption (needs
    /// `enableLegacyUnauthenticatedModes`): plaintext bytes `first..=last` of the object whose
    /// whole stored body is `body`.
    #[wasm_bindgen(js_name = decryptRangeHazmat)]
    pub fn decrypt_range_hazmat(
        &self,
        data_key: &WasmDataKey,
        body: &[u8],
        first: f64,
        last: f64,
    ) -> JsResult<Uint8Array> {
        let dec = self
            .env
            .decryptor(data_key.key.clone(), &self.policy)
            .js()?;
        let plan = RangePlan::for_envelope(
            ByteRange::Inclusive(first as u64, last as u64),
            body.len() as u64,
            &self.env,
        )
        .js()?;
        let a = plan.fetch_first as usize;
        let b = (plan.fetch_last as usize).min(body.len().saturating_sub(1));
        let fetched = body.get(a..=b).unwrap_or(&[]);
        let mut r = s3_encryption::hazmat::ranged(dec, &plan).js()?;
        let mut out = vec![0u8; fetched.len() + 16];
        let n = r.update(fetched, &mut out).js()?;
        r.finish().js()?;
        let res = Uint8Array::from(&out[..n]);
        zeroize(&mut out);
        Ok(res)
    }
}

/// Wipe the module's plaintext copy once it was handed to JavaScript.
pub(crate) fn zeroize(b: &mut [u8]) {
    zeroize::Zeroize::zeroize(b);
}
