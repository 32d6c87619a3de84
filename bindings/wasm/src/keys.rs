//! Master keys held in the module's memory (wiped on drop by the core's types).

use crate::convert::{Js, JsResult, usage};
use s3_encryption::AesKey;
use s3_encryption::rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use s3_encryption::rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use s3_encryption::rsa::{PrivateKey, PublicKey};
use wasm_bindgen::prelude::wasm_bindgen;

/// An AES master key (16, 24 or 32 bytes).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmAesKey {
    pub(crate) key: AesKey,
}

#[wasm_bindgen]
impl WasmAesKey {
    /// A key from its raw bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> JsResult<WasmAesKey> {
        Ok(WasmAesKey {
            key: AesKey::from_slice(bytes).js()?,
        })
    }
    /// The key length in bits.
    #[wasm_bindgen(getter)]
    pub fn bits(&self) -> u32 {
        self.key.len() as u32 * 8
    }
}

/// An RSA private key (it also wraps, with its public half).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmRsaPrivateKey {
    pub(crate) key: Box<PrivateKey>,
}

#[wasm_bindgen]
impl WasmRsaPrivateKey {
    /// A key from DER: PKCS#8 `PrivateKeyInfo` or PKCS#1 `RSAPrivateKey`.
    #[wasm_bindgen(js_name = fromDer)]
    pub fn from_der(der: &[u8]) -> JsResult<WasmRsaPrivateKey> {
        let key = PrivateKey::from_pkcs8_der(der)
            .or_else(|_| PrivateKey::from_pkcs1_der(der))
            .map_err(|_| usage("not an RSA private key (PKCS#8 or PKCS#1 DER)"))?;
        Ok(WasmRsaPrivateKey { key: Box::new(key) })
    }
    /// The public half.
    #[wasm_bindgen(js_name = publicKey)]
    pub fn public_key(&self) -> WasmRsaPublicKey {
        WasmRsaPublicKey {
            key: Box::new(self.key.to_public_key()),
        }
    }
}

/// An RSA public key (writes only).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmRsaPublicKey {
    pub(crate) key: Box<PublicKey>,
}

#[wasm_bindgen]
impl WasmRsaPublicKey {
    /// A key from DER: SPKI `SubjectPublicKeyInfo` or PKCS#1 `RSAPublicKey`.
    #[wasm_bindgen(js_name = fromDer)]
    pub fn from_der(der: &[u8]) -> JsResult<WasmRsaPublicKey> {
        let key = PublicKey::from_public_key_der(der)
            .or_else(|_| PublicKey::from_pkcs1_der(der))
            .map_err(|_| usage("not an RSA public key (SPKI or PKCS#1 DER)"))?;
        Ok(WasmRsaPublicKey { key: Box::new(key) })
    }
}
