//! The machine classes: each method hands its arguments to the glue's machine and converts the
//! answer.

use crate::keys::{AesKey, RsaPublicKey};
use crate::{Host, Options, Slot, js};
use napi::bindgen_prelude::{BufferSlice, Either, Env, Result, Unknown};
use napi_derive::napi;
use s3_encryption_glue as glue;

/// A verified read.
#[napi(js_name = "WasmGet")]
#[derive(Debug)]
pub struct Get(Slot<glue::Get>);

machine_class!(Get);
unwrapping!(Get);
described!(Get);

#[napi]
impl Get {
    /// Start a read (options as in the glue's `Get::new`).
    #[napi(constructor)]
    pub fn new(env: &Env, options: Unknown) -> Result<Get> {
        Ok(Get(Slot::new(
            glue::Get::new(&Options::of(env, options)?).h(env)?,
        )))
    }
    /// How many bytes the next `body` takes.
    #[napi]
    pub fn feed<'e>(&self, env: &'e Env, id: u32) -> Result<Unknown<'e>> {
        js(env, self.0.r()?.feed(id))
    }
    /// A piece of the body of `id`, decrypted in place when released.
    #[napi]
    pub fn body<'e>(
        &mut self,
        env: &'e Env,
        id: u32,
        mut piece: BufferSlice,
    ) -> Result<Unknown<'e>> {
        js(env, self.0.w()?.body(id, &mut piece))
    }
    /// The body of `id` ended.
    #[napi(js_name = "endOfBody")]
    pub fn end_of_body(&mut self, env: &Env, id: u32) -> Result<()> {
        self.0.w()?.end_of_body(id).h(env)
    }
    /// The storage range `[first, last]` to replay for `id`.
    #[napi(js_name = "replayRange")]
    pub fn replay_range(&self, env: &Env, id: u32) -> Result<Vec<f64>> {
        self.0.r()?.replay_range(id).h(env)
    }
    /// Plaintext bytes released so far.
    #[napi]
    pub fn released(&self) -> Result<f64> {
        Ok(self.0.r()?.released())
    }
}

/// An encrypted write.
#[napi(js_name = "WasmPut")]
#[derive(Debug)]
pub struct Put(Slot<glue::Put>);

machine_class!(Put);

#[napi]
impl Put {
    /// Start a write (options as in the glue's `Put::new`).
    #[napi(constructor)]
    pub fn new(env: &Env, options: Unknown) -> Result<Put> {
        Ok(Put(Slot::new(
            glue::Put::new(&Options::of(env, options)?).h(env)?,
        )))
    }
    /// The encryption context of the write, `{k: v}`.
    #[napi(js_name = "encryptionContext")]
    pub fn encryption_context<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        js(env, Ok(self.0.r()?.encryption_context()))
    }
    /// Materials under an AES master key.
    #[napi(js_name = "materialsAes")]
    pub fn materials_aes(&mut self, env: &Env, key: &AesKey) -> Result<()> {
        self.0.w()?.materials_aes(key.0.r()?).h(env)
    }
    /// Materials under an RSA public key.
    #[napi(js_name = "materialsRsa")]
    pub fn materials_rsa(&mut self, env: &Env, key: &RsaPublicKey) -> Result<()> {
        self.0.w()?.materials_rsa(key.0.r()?).h(env)
    }
    /// The KMS `GenerateDataKey` to make.
    #[napi(js_name = "kmsRequest")]
    pub fn kms_request<'e>(&mut self, env: &'e Env) -> Result<Unknown<'e>> {
        js(env, self.0.w()?.kms_request())
    }
    /// KMS's answer: `Plaintext` and `CiphertextBlob`.
    #[napi(js_name = "materialsKms")]
    pub fn materials_kms(
        &mut self,
        env: &Env,
        plaintext: BufferSlice,
        ciphertext_blob: BufferSlice,
    ) -> Result<()> {
        self.0
            .w()?
            .materials_kms(&plaintext, &ciphertext_blob)
            .h(env)
    }
    /// At `encryptionMaterials`, for a JavaScript keyring: a fresh data key to wrap.
    #[napi(js_name = "externalWrapRequest")]
    pub fn external_wrap_request<'e>(&mut self, env: &'e Env) -> Result<Unknown<'e>> {
        js(env, self.0.w()?.external_wrap_request())
    }
    /// The keyring's wrap of that data key.
    #[napi(js_name = "materialsExternal")]
    pub fn materials_external(
        &mut self,
        env: &Env,
        wrap: String,
        encrypted_data_key: BufferSlice,
        materials_description: Vec<String>,
    ) -> Result<()> {
        self.0
            .w()?
            .materials_external(&wrap, &encrypted_data_key, materials_description)
            .h(env)
    }
    /// Encrypt the next bytes of a single PutObject's body in place.
    #[napi]
    pub fn encrypt(&mut self, env: &Env, mut buf: BufferSlice) -> Result<()> {
        self.0.w()?.encrypt(&mut buf).h(env)
    }
    /// The 16-byte tag.
    #[napi]
    pub fn tag<'e>(&mut self, env: &'e Env) -> Result<Unknown<'e>> {
        js(env, self.0.w()?.tag())
    }
    /// The plaintext of part `number` was read: `n` bytes.
    #[napi(js_name = "partRead")]
    pub fn part_read(&mut self, env: &Env, number: u32, n: f64) -> Result<()> {
        self.0.w()?.part_read(number, n).h(env)
    }
    /// Encrypt part `number` (its whole plaintext) in place.
    #[napi(js_name = "encryptPart")]
    pub fn encrypt_part(&mut self, env: &Env, number: u32, mut buf: BufferSlice) -> Result<()> {
        self.0.w()?.encrypt_part(number, &mut buf).h(env)
    }
    /// `CreateMultipartUpload` answered.
    #[napi(js_name = "uploadCreated")]
    pub fn upload_created(
        &mut self,
        env: &Env,
        id: u32,
        status: u16,
        upload_id: String,
    ) -> Result<()> {
        self.0.w()?.upload_created(id, status, &upload_id).h(env)
    }
    /// The request `id` could not be made.
    #[napi(js_name = "requestFailed")]
    pub fn request_failed(&mut self, id: u32, status: u16) -> Result<()> {
        self.0.w()?.request_failed(id, status);
        Ok(())
    }
    /// Give up: the machine aborts a multipart upload.
    #[napi]
    pub fn abort(&mut self) -> Result<()> {
        self.0.w()?.abort();
        Ok(())
    }
    /// The envelope written, once the materials are in, or `null`.
    #[napi]
    pub fn envelope<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        js(env, Ok(self.0.r()?.envelope()))
    }
}

/// An object's envelope without a key.
#[napi(js_name = "WasmDescribeObject")]
#[derive(Debug)]
pub struct Describe(Slot<glue::Describe>);

machine_class!(Describe, body);
described!(Describe);

#[napi]
impl Describe {
    /// Describe `bucket/key` (a version, if given), instruction file at `key + suffix`.
    #[napi(constructor)]
    pub fn new(
        env: &Env,
        bucket: String,
        key: String,
        version_id: Option<String>,
        suffix: Option<String>,
    ) -> Result<Describe> {
        Ok(Describe(Slot::new(
            glue::Describe::new(&bucket, &key, version_id, suffix).h(env)?,
        )))
    }
}

/// A delete of an object and its instruction file.
#[napi(js_name = "WasmDelete")]
#[derive(Debug)]
pub struct Delete(Slot<glue::Delete>);

machine_class!(Delete, body);

#[napi]
impl Delete {
    /// Delete `bucket/key` and, when it has one, its instruction file at `key + suffix`.
    #[napi(constructor)]
    pub fn new(env: &Env, bucket: String, key: String, suffix: Option<String>) -> Result<Delete> {
        Ok(Delete(Slot::new(
            glue::Delete::new(&bucket, &key, suffix).h(env)?,
        )))
    }
}
