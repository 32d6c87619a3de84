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

machine_class!(Rotate, WasmRotate, body);
unwrapping!(Rotate, WasmRotate);

#[wasm_bindgen(js_class = WasmRotate)]
impl Rotate {
    /// Start a rotation (options as in the glue's `Rotate::new`).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> JsResult<Rotate> {
        Ok(Rotate(glue::Rotate::new(&Options(&options)).js()?))
    }
    /// At `checkNewKey`: the new key cannot decrypt.
    #[wasm_bindgen(js_name = newKeyCannotDecrypt)]
    pub fn new_key_cannot_decrypt(&mut self) -> JsResult<()> {
        self.0.new_key_cannot_decrypt().js()
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
