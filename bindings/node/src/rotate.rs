//! The rotation class: re-encryption of an instruction file under a new key.

use crate::keys::{AesKey, DataKey, RsaPrivateKey, RsaPublicKey};
use crate::{Host, Options, Slot, js};
use napi::bindgen_prelude::{BufferSlice, Env, Result, Unknown};
use napi_derive::napi;
use s3_encryption_glue as glue;

/// Re-encryption of an instruction file under a new key.
#[napi(js_name = "WasmRotate")]
#[derive(Debug)]
pub struct Rotate(Slot<glue::Rotate>);

machine_class!(Rotate, body);
unwrapping!(Rotate);

#[napi]
impl Rotate {
    /// Start a rotation (options as in the glue's `Rotate::new`).
    #[napi(constructor)]
    pub fn new(env: &Env, options: Unknown) -> Result<Rotate> {
        Ok(Rotate(Slot::new(
            glue::Rotate::new(&Options::of(env, options)?).h(env)?,
        )))
    }
    /// At `checkNewKey`: the new key cannot decrypt.
    #[napi(js_name = "newKeyCannotDecrypt")]
    pub fn new_key_cannot_decrypt(&mut self, env: &Env) -> Result<()> {
        self.0.w()?.new_key_cannot_decrypt().h(env)
    }
    /// Wrap the data key under a new AES master key.
    #[napi(js_name = "wrapAes")]
    pub fn wrap_aes(
        &mut self,
        env: &Env,
        key: &AesKey,
        materials_description: Vec<String>,
    ) -> Result<()> {
        self.0
            .w()?
            .wrap_aes(key.0.r()?, materials_description)
            .h(env)
    }
    /// Wrap the data key under a new RSA public key.
    #[napi(js_name = "wrapRsa")]
    pub fn wrap_rsa(
        &mut self,
        env: &Env,
        key: &RsaPublicKey,
        materials_description: Vec<String>,
    ) -> Result<()> {
        self.0
            .w()?
            .wrap_rsa(key.0.r()?, materials_description)
            .h(env)
    }
    /// The KMS `Encrypt` to make under the new KMS key.
    #[napi(js_name = "kmsWrapRequest")]
    pub fn kms_wrap_request<'e>(
        &mut self,
        env: &'e Env,
        encryption_context: Vec<String>,
    ) -> Result<Unknown<'e>> {
        js(env, self.0.w()?.kms_wrap_request(encryption_context))
    }
    /// KMS `Encrypt`'s `CiphertextBlob`.
    #[napi(js_name = "wrapKms")]
    pub fn wrap_kms(&mut self, env: &Env, ciphertext_blob: BufferSlice) -> Result<()> {
        self.0.w()?.wrap_kms(&ciphertext_blob).h(env)
    }
    /// The key request of the new envelope, for `checkOldKey`.
    #[napi(js_name = "checkRequest")]
    pub fn check_request<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        js(env, self.0.r()?.check_request())
    }
    /// Whether the old AES key opens the new envelope.
    #[napi(js_name = "checkAes")]
    pub fn check_aes(&self, key: &AesKey) -> Result<bool> {
        Ok(self.0.r()?.check_aes(key.0.r()?))
    }
    /// Whether the old RSA key opens the new envelope.
    #[napi(js_name = "checkRsa")]
    pub fn check_rsa(&self, key: &RsaPrivateKey) -> Result<bool> {
        Ok(self.0.r()?.check_rsa(key.0.r()?))
    }
    /// Report whether the old key opened the new envelope.
    #[napi(js_name = "oldKeyOpens")]
    pub fn old_key_opens(&mut self, env: &Env, opens: bool) -> Result<()> {
        self.0.w()?.old_key_opens(opens).h(env)
    }
    /// At `wrapKey`, for a JavaScript keyring: the data key to wrap.
    #[napi(js_name = "externalWrapRequest")]
    pub fn external_wrap_request<'e>(
        &self,
        env: &'e Env,
        materials_description: Vec<String>,
    ) -> Result<Unknown<'e>> {
        js(
            env,
            self.0.r()?.external_wrap_request(materials_description),
        )
    }
    /// The keyring's wrap of that data key.
    #[napi(js_name = "wrapExternal")]
    pub fn wrap_external(
        &mut self,
        env: &Env,
        wrap: String,
        encrypted_data_key: BufferSlice,
        materials_description: Vec<String>,
    ) -> Result<()> {
        self.0
            .w()?
            .wrap_external(&wrap, &encrypted_data_key, materials_description)
            .h(env)
    }
    /// At `checkOldKey`, for a JavaScript keyring: the new envelope's unwrap request.
    #[napi(js_name = "checkExternalRequest")]
    pub fn check_external_request<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        js(env, self.0.r()?.check_external_request())
    }
    /// Whether `key` opens the new envelope.
    #[napi(js_name = "checkDataKey")]
    pub fn check_data_key(&self, key: &DataKey) -> Result<bool> {
        Ok(self.0.r()?.check_data_key(key.0.r()?))
    }
}
