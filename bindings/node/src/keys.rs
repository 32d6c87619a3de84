//! The key classes and the envelope of an object in hand.

use crate::{Host, Options, Slot, js};
use napi::bindgen_prelude::{BufferSlice, Either, Env, Result, Unknown};
use napi_derive::napi;
use s3_encryption_glue as glue;

/// An AES master key (16, 24 or 32 bytes).
#[napi(js_name = "WasmAesKey")]
#[derive(Debug)]
pub struct AesKey(pub(crate) Slot<glue::AesKey>);

freeable!(AesKey);

#[napi]
impl AesKey {
    /// A key from its raw bytes.
    #[napi(constructor)]
    pub fn new(env: &Env, bytes: BufferSlice) -> Result<AesKey> {
        Ok(AesKey(Slot::new(glue::aes_key(&bytes).h(env)?)))
    }
    /// The key length in bits.
    #[napi(getter)]
    pub fn bits(&self) -> Result<u32> {
        Ok(self.0.r()?.len() as u32 * 8)
    }
}

/// An RSA private key (it also wraps, with its public half).
#[napi(js_name = "WasmRsaPrivateKey")]
#[derive(Debug)]
pub struct RsaPrivateKey(pub(crate) Slot<Box<glue::PrivateKey>>);

freeable!(RsaPrivateKey);

#[napi]
impl RsaPrivateKey {
    /// A key from DER: PKCS#8 `PrivateKeyInfo` or PKCS#1 `RSAPrivateKey`.
    #[napi(factory, js_name = "fromDer")]
    pub fn from_der(env: &Env, der: BufferSlice) -> Result<RsaPrivateKey> {
        Ok(RsaPrivateKey(Slot::new(
            glue::rsa_private_key(&der).h(env)?,
        )))
    }
    /// The public half.
    #[napi(js_name = "publicKey")]
    pub fn public_key(&self) -> Result<RsaPublicKey> {
        Ok(RsaPublicKey(Slot::new(Box::new(
            self.0.r()?.to_public_key(),
        ))))
    }
}

/// An RSA public key (writes only).
#[napi(js_name = "WasmRsaPublicKey")]
#[derive(Debug)]
pub struct RsaPublicKey(pub(crate) Slot<Box<glue::PublicKey>>);

freeable!(RsaPublicKey);

#[napi]
impl RsaPublicKey {
    /// A key from DER: SPKI `SubjectPublicKeyInfo` or PKCS#1 `RSAPublicKey`.
    #[napi(factory, js_name = "fromDer")]
    pub fn from_der(env: &Env, der: BufferSlice) -> Result<RsaPublicKey> {
        Ok(RsaPublicKey(Slot::new(glue::rsa_public_key(&der).h(env)?)))
    }
}

/// A data key (for example KMS `Decrypt`'s `Plaintext`), wiped when freed.
#[napi(js_name = "WasmDataKey")]
#[derive(Debug)]
pub struct DataKey(pub(crate) Slot<glue::DataKey>);

freeable!(DataKey);

#[napi]
impl DataKey {
    /// A data key from its bytes (16, 24 or 32).
    #[napi(factory, js_name = "fromBytes")]
    pub fn from_bytes(env: &Env, bytes: BufferSlice) -> Result<DataKey> {
        Ok(DataKey(Slot::new(glue::data_key(&bytes).h(env)?)))
    }
}

/// A parsed envelope and the policy it was parsed under.
#[napi(js_name = "WasmEnvelope")]
#[derive(Debug)]
pub struct Envelope(Slot<glue::Env>);

freeable!(Envelope);

/// Parse an envelope from the object metadata (flat pairs) and the instruction file's bytes,
/// under the policy of `options`.
#[napi(js_name = "parseEnvelope")]
pub fn parse_envelope(
    env: &Env,
    metadata: Vec<String>,
    instruction_file: Option<BufferSlice>,
    options: Unknown,
) -> Result<Envelope> {
    let o = Options::of(env, options)?;
    Ok(Envelope(Slot::new(
        glue::Env::parse(metadata, instruction_file.as_deref(), &o).h(env)?,
    )))
}

/// `Some(n)` as a number, `None` as `undefined` (as the WebAssembly build returns it).
pub(crate) fn num_or_undefined(n: Option<f64>) -> Either<f64, ()> {
    n.map_or(Either::B(()), Either::A)
}

#[napi]
impl Envelope {
    /// The envelope's fields.
    #[napi]
    pub fn info<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        js(env, Ok(self.0.r()?.info()))
    }
    /// The plaintext length of a stored body of `stored_len` bytes, when the format says.
    #[napi(js_name = "plaintextLength")]
    pub fn plaintext_length(&self, stored_len: f64) -> Result<Either<f64, ()>> {
        Ok(num_or_undefined(self.0.r()?.plaintext_length(stored_len)))
    }
    /// What key to supply (`context`: the caller's encryption context as flat pairs, or
    /// `undefined` to accept the stored one).
    #[napi(js_name = "keyRequest")]
    pub fn key_request<'e>(
        &self,
        env: &'e Env,
        context: Option<Vec<String>>,
    ) -> Result<Unknown<'e>> {
        js(env, self.0.r()?.key_request(context))
    }
    /// Unwrap the data key with an AES master key.
    #[napi(js_name = "unwrapAes")]
    pub fn unwrap_aes(&self, env: &Env, key: &AesKey) -> Result<DataKey> {
        Ok(DataKey(Slot::new(
            self.0.r()?.unwrap_aes(key.0.r()?).h(env)?,
        )))
    }
    /// Unwrap the data key with an RSA private key.
    #[napi(js_name = "unwrapRsa")]
    pub fn unwrap_rsa(&self, env: &Env, key: &RsaPrivateKey) -> Result<DataKey> {
        Ok(DataKey(Slot::new(
            self.0.r()?.unwrap_rsa(key.0.r()?).h(env)?,
        )))
    }
    /// For a JavaScript keyring: the unwrap request.
    #[napi(js_name = "externalUnwrapRequest")]
    pub fn external_unwrap_request<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        js(env, self.0.r()?.external_unwrap_request())
    }
    /// Decrypt a whole stored body held in memory (authenticated before any plaintext is
    /// returned).
    #[napi]
    pub fn decrypt<'e>(
        &self,
        env: &'e Env,
        data_key: &DataKey,
        body: BufferSlice,
    ) -> Result<Unknown<'e>> {
        js(env, self.0.r()?.decrypt(data_key.0.r()?, &body))
    }
    /// **Hazmat.** An unauthenticated ranged decryption of plaintext bytes `first..=last`.
    #[napi(js_name = "decryptRangeHazmat")]
    pub fn decrypt_range_hazmat<'e>(
        &self,
        env: &'e Env,
        data_key: &DataKey,
        body: BufferSlice,
        first: f64,
        last: f64,
    ) -> Result<Unknown<'e>> {
        js(
            env,
            self.0
                .r()?
                .decrypt_range_hazmat(data_key.0.r()?, &body, first, last),
        )
    }
}
