//! The rotation class: re-encryption of an instruction file under a new key.

use crate::convert::{Js, JsResult, Options, js};
use crate::keys::{
    WasmAesKey as AesKey, WasmDataKey as DataKey, WasmRsaPrivateKey as RsaPrivateKey,
    WasmRsaPublicKey as RsaPublicKey,
};
use s3_encryption_glue as glue;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

/// Re-encryption of an instruction file under a new key.
#[wasm_bindgen(js_name = WasmRotate)]
#[derive(Debug)]
pub struct Rotate(glue::Rotate);

#[wasm_bindgen(js_class = WasmRotate)]
impl Rotate {
    /// Start a rotation (options as in the glue's `Rotate::new`).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> JsResult<Rotate> {
        Ok(Rotate(glue::Rotate::new(&Options(&options)).js()?))
    }
    /// What the machine needs.
    pub fn poll(&mut self) -> JsResult<JsValue> {
        js(self.0.poll())
    }
    /// The request `id`.
    pub fn request(&self, id: u32) -> JsResult<JsValue> {
        js(self.0.request(id))
    }
    /// A piece of the instruction file's body.
    pub fn body(&mut self, id: u32, piece: &[u8]) -> JsResult<()> {
        self.0.body(id, piece).js()
    }
    /// The response to `id`.
    pub fn response(&mut self, id: u32, status: u16, headers: Vec<String>) -> JsResult<()> {
        self.0.response(id, status, &headers).js()
    }
    /// At `checkNewKey`: the new key cannot decrypt.
    #[wasm_bindgen(js_name = newKeyCannotDecrypt)]
    pub fn new_key_cannot_decrypt(&mut self) -> JsResult<()> {
        self.0.new_key_cannot_decrypt().js()
    }
    /// The key to supply now.
    #[wasm_bindgen(js_name = keyRequest)]
    pub fn key_request(&self) -> JsResult<JsValue> {
        js(self.0.key_request())
    }
    /// The data key unwrapped by the caller (KMS `Decrypt`).
    #[wasm_bindgen(js_name = dataKey)]
    pub fn data_key(&mut self, key: &DataKey) -> JsResult<()> {
        self.0.data_key(&key.0).js()
    }
    /// Unwrap the data key with an AES master key.
    #[wasm_bindgen(js_name = unwrapAes)]
    pub fn unwrap_aes(&mut self, key: &AesKey) -> JsResult<()> {
        self.0.unwrap_aes(&key.0).js()
    }
    /// Unwrap the data key with an RSA private key.
    #[wasm_bindgen(js_name = unwrapRsa)]
    pub fn unwrap_rsa(&mut self, key: &RsaPrivateKey) -> JsResult<()> {
        self.0.unwrap_rsa(&key.0).js()
    }
    /// Wrap the data key under a new AES master key.
    #[wasm_bindgen(js_name = wrapAes)]
    pub fn wrap_aes(&mut self, key: &AesKey, materials_description: Vec<String>) -> JsResult<()> {
        self.0.wrap_aes(&key.0, materials_description).js()
    }
    /// Wrap the data key under a new RSA public key.
    #[wasm_bindgen(js_name = wrapRsa)]
    pub fn wrap_rsa(
        &mut self,
        key: &RsaPublicKey,
        materials_description: Vec<String>,
    ) -> JsResult<()> {
        self.0.wrap_rsa(&key.0, materials_description).js()
    }
    /// The KMS `Encrypt` to make under the new KMS key.
    #[wasm_bindgen(js_name = kmsWrapRequest)]
    pub fn kms_wrap_request(&mut self, encryption_context: Vec<String>) -> JsResult<JsValue> {
        js(self.0.kms_wrap_request(encryption_context))
    }
    /// KMS `Encrypt`'s `CiphertextBlob`.
    #[wasm_bindgen(js_name = wrapKms)]
    pub fn wrap_kms(&mut self, ciphertext_blob: &[u8]) -> JsResult<()> {
        self.0.wrap_kms(ciphertext_blob).js()
    }
    /// The key request of the new envelope, for `checkOldKey`.
    #[wasm_bindgen(js_name = checkRequest)]
    pub fn check_request(&self) -> JsResult<JsValue> {
        js(self.0.check_request())
    }
    /// Whether the old AES key opens the new envelope.
    #[wasm_bindgen(js_name = checkAes)]
    pub fn check_aes(&self, key: &AesKey) -> bool {
        self.0.check_aes(&key.0)
    }
    /// Whether the old RSA key opens the new envelope.
    #[wasm_bindgen(js_name = checkRsa)]
    pub fn check_rsa(&self, key: &RsaPrivateKey) -> bool {
        self.0.check_rsa(&key.0)
    }
    /// Report whether the old key opened the new envelope.
    #[wasm_bindgen(js_name = oldKeyOpens)]
    pub fn old_key_opens(&mut self, opens: bool) -> JsResult<()> {
        self.0.old_key_opens(opens).js()
    }
    /// For a JavaScript keyring: the unwrap request (old or new envelope).
    #[wasm_bindgen(js_name = externalUnwrapRequest)]
    pub fn external_unwrap_request(&self) -> JsResult<JsValue> {
        js(self.0.external_unwrap_request())
    }
    /// At `wrapKey`, for a JavaScript keyring: the data key to wrap.
    #[wasm_bindgen(js_name = externalWrapRequest)]
    pub fn external_wrap_request(&self, materials_description: Vec<String>) -> JsResult<JsValue> {
        js(self.0.external_wrap_request(materials_description))
    }
    /// The keyring's wrap of that data key.
    #[wasm_bindgen(js_name = wrapExternal)]
    pub fn wrap_external(
        &mut self,
        wrap: &str,
        encrypted_data_key: &[u8],
        materials_description: Vec<String>,
    ) -> JsResult<()> {
        self.0
            .wrap_external(wrap, encrypted_data_key, materials_description)
            .js()
    }
    /// At `checkOldKey`, for a JavaScript keyring: the new envelope's unwrap request.
    #[wasm_bindgen(js_name = checkExternalRequest)]
    pub fn check_external_request(&self) -> JsResult<JsValue> {
        js(self.0.check_external_request())
    }
    /// Whether `key` opens the new envelope.
    #[wasm_bindgen(js_name = checkDataKey)]
    pub fn check_data_key(&self, key: &DataKey) -> bool {
        self.0.check_data_key(&key.0)
    }
}
