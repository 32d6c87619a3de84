//! The key classes and the envelope of an object in hand (wiped on drop by the core's types).

use crate::convert::{Js, JsResult, Options, js};
use s3_encryption_glue as glue;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

/// An AES master key (16, 24 or 32 bytes).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmAesKey(pub(crate) glue::AesKey);

#[wasm_bindgen]
impl WasmAesKey {
    /// A key from its raw bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> JsResult<WasmAesKey> {
        Ok(WasmAesKey(glue::aes_key(bytes).js()?))
    }
    /// The key length in bits.
    #[wasm_bindgen(getter)]
    pub fn bits(&self) -> u32 {
        self.0.len() as u32 * 8
    }
}

/// An RSA private key (it also wraps, with its public half).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmRsaPrivateKey(pub(crate) Box<glue::PrivateKey>);

#[wasm_bindgen]
impl WasmRsaPrivateKey {
    /// A key from DER: PKCS#8 `PrivateKeyInfo` or PKCS#1 `RSAPrivateKey`.
    #[wasm_bindgen(js_name = fromDer)]
    pub fn from_der(der: &[u8]) -> JsResult<WasmRsaPrivateKey> {
        Ok(WasmRsaPrivateKey(glue::rsa_private_key(der).js()?))
    }
    /// The public half.
    #[wasm_bindgen(js_name = publicKey)]
    pub fn public_key(&self) -> WasmRsaPublicKey {
        WasmRsaPublicKey(Box::new(self.0.to_public_key()))
    }
}

/// An RSA public key (writes only).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmRsaPublicKey(pub(crate) Box<glue::PublicKey>);

#[wasm_bindgen]
impl WasmRsaPublicKey {
    /// A key from DER: SPKI `SubjectPublicKeyInfo` or PKCS#1 `RSAPublicKey`.
    #[wasm_bindgen(js_name = fromDer)]
    pub fn from_der(der: &[u8]) -> JsResult<WasmRsaPublicKey> {
        Ok(WasmRsaPublicKey(glue::rsa_public_key(der).js()?))
    }
}

/// A data key (for example KMS `Decrypt`'s `Plaintext`), wiped when freed.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmDataKey(pub(crate) glue::DataKey);

#[wasm_bindgen]
impl WasmDataKey {
    /// A data key from its bytes (16, 24 or 32).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> JsResult<WasmDataKey> {
        Ok(WasmDataKey(glue::data_key(bytes).js()?))
    }
}

/// A parsed envelope and the policy it was parsed under.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmEnvelope(glue::Env);

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
    let o = Options(&options);
    Ok(WasmEnvelope(
        glue::Env::parse(metadata, instruction_file.as_deref(), &o).js()?,
    ))
}

#[wasm_bindgen]
impl WasmEnvelope {
    /// The envelope's fields: `version`, `contentAlgorithm`, `contentCipher`, `wrapAlgorithm`,
    /// `placement`, `encryptionContext` (JSON), `materialsDescription` (JSON),
    /// `unencryptedContentLength`, `metadata`.
    pub fn info(&self) -> JsResult<JsValue> {
        js(Ok(self.0.info()))
    }
    /// The plaintext length of a stored body of `stored_len` bytes, when the format says.
    #[wasm_bindgen(js_name = plaintextLength)]
    pub fn plaintext_length(&self, stored_len: f64) -> Option<f64> {
        self.0.plaintext_length(stored_len)
    }
    /// What key to supply. `context` (flat pairs) is the caller's encryption context, checked
    /// against the stored one for KMS wraps; `undefined` accepts the stored one (KMS discovery).
    #[wasm_bindgen(js_name = keyRequest)]
    pub fn key_request(&self, context: Option<Vec<String>>) -> JsResult<JsValue> {
        js(self.0.key_request(context))
    }
    /// Unwrap the data key with an AES master key.
    #[wasm_bindgen(js_name = unwrapAes)]
    pub fn unwrap_aes(&self, key: &WasmAesKey) -> JsResult<WasmDataKey> {
        Ok(WasmDataKey(self.0.unwrap_aes(&key.0).js()?))
    }
    /// Unwrap the data key with an RSA private key.
    #[wasm_bindgen(js_name = unwrapRsa)]
    pub fn unwrap_rsa(&self, key: &WasmRsaPrivateKey) -> JsResult<WasmDataKey> {
        Ok(WasmDataKey(self.0.unwrap_rsa(&key.0).js()?))
    }
    /// For a JavaScript keyring: `{wrap, contentCipher, encryptedDataKey,
    /// materialsDescription}`.
    #[wasm_bindgen(js_name = externalUnwrapRequest)]
    pub fn external_unwrap_request(&self) -> JsResult<JsValue> {
        js(self.0.external_unwrap_request())
    }
    /// Decrypt a whole stored body held in memory: it is authenticated before any plaintext is
    /// returned.
    pub fn decrypt(&self, data_key: &WasmDataKey, body: &[u8]) -> JsResult<JsValue> {
        js(self.0.decrypt(&data_key.0, body))
    }
    /// For a GCM object whose whole stored body (`len` bytes) the host holds: `{key, iv, aad}`
    /// for the host's AES-GCM (WebCrypto), or `null`.
    #[wasm_bindgen(js_name = hostAead)]
    pub fn host_aead(&mut self, data_key: &WasmDataKey, len: f64) -> JsResult<JsValue> {
        js(self.0.host_aead(&data_key.0, len))
    }
    /// The host AEAD's verdict: the plaintext length to release.
    #[wasm_bindgen(js_name = hostAeadResult)]
    pub fn host_aead_result(&mut self, verified: bool) -> JsResult<f64> {
        self.0.host_aead_result(verified).js()
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
    ) -> JsResult<JsValue> {
        js(self.0.decrypt_range_hazmat(&data_key.0, body, first, last))
    }
}
