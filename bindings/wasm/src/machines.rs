//! The machine classes: each method hands its arguments to the glue's machine and converts the
//! answer.

use crate::convert::{Js, JsResult, Options, js};
use crate::keys::{WasmAesKey as AesKey, WasmRsaPublicKey as RsaPublicKey};
use s3_encryption_glue as glue;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

/// A verified read.
#[wasm_bindgen(js_name = WasmGet)]
#[derive(Debug)]
pub struct Get(glue::Get);

machine_class!(Get, WasmGet);
unwrapping!(Get, WasmGet);
described!(Get, WasmGet);

#[wasm_bindgen(js_class = WasmGet)]
impl Get {
    /// Start a read (options as in the glue's `Get::new`).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> JsResult<Get> {
        Ok(Get(glue::Get::new(&Options(&options)).js()?))
    }
    /// How many bytes the next `body` takes.
    pub fn feed(&self, id: u32) -> JsResult<JsValue> {
        js(self.0.feed(id))
    }
    /// A piece of the body of `id`, decrypted in place when released.
    pub fn body(&mut self, id: u32, piece: &mut [u8]) -> JsResult<JsValue> {
        js(self.0.body(id, piece))
    }
    /// For the whole body of `id` (`len` bytes) of an in-memory GCM read: `{key, iv, aad}` for
    /// the host's AES-GCM (WebCrypto), or `null`.
    #[wasm_bindgen(js_name = hostAead)]
    pub fn host_aead(&mut self, id: u32, len: f64) -> JsResult<JsValue> {
        js(self.0.host_aead(id, len))
    }
    /// The host AEAD's verdict on the body of `id`: what `body` returns, released only now.
    #[wasm_bindgen(js_name = hostAeadResult)]
    pub fn host_aead_result(&mut self, id: u32, verified: bool) -> JsResult<JsValue> {
        js(self.0.host_aead_result(id, verified))
    }
    /// The body of `id` ended.
    #[wasm_bindgen(js_name = endOfBody)]
    pub fn end_of_body(&mut self, id: u32) -> JsResult<()> {
        self.0.end_of_body(id).js()
    }
    /// The storage range `[first, last]` to replay for `id`.
    #[wasm_bindgen(js_name = replayRange)]
    pub fn replay_range(&self, id: u32) -> JsResult<Vec<f64>> {
        self.0.replay_range(id).js()
    }
    /// Plaintext bytes released so far.
    pub fn released(&self) -> f64 {
        self.0.released()
    }
}

/// An encrypted write.
#[wasm_bindgen(js_name = WasmPut)]
#[derive(Debug)]
pub struct Put(glue::Put);

machine_class!(Put, WasmPut);

#[wasm_bindgen(js_class = WasmPut)]
impl Put {
    /// Start a write (options as in the glue's `Put::new`).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> JsResult<Put> {
        Ok(Put(glue::Put::new(&Options(&options)).js()?))
    }
    /// The encryption context of the write, `{k: v}`.
    #[wasm_bindgen(js_name = encryptionContext)]
    pub fn encryption_context(&self) -> JsResult<JsValue> {
        js(Ok(self.0.encryption_context()))
    }
    /// Materials under an AES master key.
    #[wasm_bindgen(js_name = materialsAes)]
    pub fn materials_aes(&mut self, key: &AesKey) -> JsResult<()> {
        self.0.materials_aes(&key.0).js()
    }
    /// Materials under an RSA public key.
    #[wasm_bindgen(js_name = materialsRsa)]
    pub fn materials_rsa(&mut self, key: &RsaPublicKey) -> JsResult<()> {
        self.0.materials_rsa(&key.0).js()
    }
    /// The KMS `GenerateDataKey` to make.
    #[wasm_bindgen(js_name = kmsRequest)]
    pub fn kms_request(&mut self) -> JsResult<JsValue> {
        js(self.0.kms_request())
    }
    /// KMS's answer: `Plaintext` and `CiphertextBlob`.
    #[wasm_bindgen(js_name = materialsKms)]
    pub fn materials_kms(&mut self, plaintext: &[u8], ciphertext_blob: &[u8]) -> JsResult<()> {
        self.0.materials_kms(plaintext, ciphertext_blob).js()
    }
    /// At `encryptionMaterials`, for a JavaScript keyring: a fresh data key to wrap.
    #[wasm_bindgen(js_name = externalWrapRequest)]
    pub fn external_wrap_request(&mut self) -> JsResult<JsValue> {
        js(self.0.external_wrap_request())
    }
    /// The keyring's wrap of that data key.
    #[wasm_bindgen(js_name = materialsExternal)]
    pub fn materials_external(
        &mut self,
        wrap: &str,
        encrypted_data_key: &[u8],
        materials_description: Vec<String>,
    ) -> JsResult<()> {
        self.0
            .materials_external(wrap, encrypted_data_key, materials_description)
            .js()
    }
    /// Encrypt the next bytes of a single PutObject's body in place.
    pub fn encrypt(&mut self, buf: &mut [u8]) -> JsResult<()> {
        self.0.encrypt(buf).js()
    }
    /// The 16-byte tag.
    pub fn tag(&mut self) -> JsResult<JsValue> {
        js(self.0.tag())
    }
    /// The plaintext of part `number` was read: `n` bytes.
    #[wasm_bindgen(js_name = partRead)]
    pub fn part_read(&mut self, number: u32, n: f64) -> JsResult<()> {
        self.0.part_read(number, n).js()
    }
    /// Encrypt part `number` (its whole plaintext) in place.
    #[wasm_bindgen(js_name = encryptPart)]
    pub fn encrypt_part(&mut self, number: u32, buf: &mut [u8]) -> JsResult<()> {
        self.0.encrypt_part(number, buf).js()
    }
    /// `CreateMultipartUpload` answered.
    #[wasm_bindgen(js_name = uploadCreated)]
    pub fn upload_created(&mut self, id: u32, status: u16, upload_id: &str) -> JsResult<()> {
        self.0.upload_created(id, status, upload_id).js()
    }
    /// The request `id` could not be made.
    #[wasm_bindgen(js_name = requestFailed)]
    pub fn request_failed(&mut self, id: u32, status: u16) {
        self.0.request_failed(id, status);
    }
    /// Give up: the machine aborts a multipart upload.
    pub fn abort(&mut self) {
        self.0.abort();
    }
    /// The envelope written, once the materials are in, or `null`.
    pub fn envelope(&self) -> JsResult<JsValue> {
        js(Ok(self.0.envelope()))
    }
}

/// An object's envelope without a key.
#[wasm_bindgen(js_name = WasmDescribeObject)]
#[derive(Debug)]
pub struct Describe(glue::Describe);

machine_class!(Describe, WasmDescribeObject, body);
described!(Describe, WasmDescribeObject);

#[wasm_bindgen(js_class = WasmDescribeObject)]
impl Describe {
    /// Describe `bucket/key` (a version, if given), instruction file at `key + suffix`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        bucket: &str,
        key: &str,
        version_id: Option<String>,
        suffix: Option<String>,
    ) -> JsResult<Describe> {
        Ok(Describe(
            glue::Describe::new(bucket, key, version_id, suffix).js()?,
        ))
    }
}

/// A delete of an object and its instruction file.
#[wasm_bindgen(js_name = WasmDelete)]
#[derive(Debug)]
pub struct Delete(glue::Delete);

machine_class!(Delete, WasmDelete, body);

#[wasm_bindgen(js_class = WasmDelete)]
impl Delete {
    /// Delete `bucket/key` and, when it has one, its instruction file at `key + suffix`.
    #[wasm_bindgen(constructor)]
    pub fn new(bucket: &str, key: &str, suffix: Option<String>) -> JsResult<Delete> {
        Ok(Delete(glue::Delete::new(bucket, key, suffix).js()?))
    }
}
