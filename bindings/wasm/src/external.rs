//! Keyrings written in JavaScript (an HSM, a Vault transit key, a hardware token): the protocol
//! of `KEYRINGS.md`. The JavaScript keyring wraps a data key the core draws and returns the
//! encrypted data key (`AES/GCM` or `RSA-OAEP-SHA1`), or unwraps the envelope's encrypted data
//! key and returns the data key; the core builds the envelope from the wrap
//! ([`EncryptionMaterials::externally_wrapped`]) and checks every data key handed back (the V3
//! key commitment, the tag) as for its own keyrings.
//!
//! A wrap request is `{dataKey, contentCipher, materialsDescription}` (the data key's bytes are
//! a copy for the keyring: the package wipes it after the call); an unwrap request is `{wrap,
//! contentCipher, encryptedDataKey, materialsDescription}`.

use crate::convert::{Js, JsResult, borrow_pairs, js_err, map_object, obj, pairs, set};
use crate::envelope::{WasmDataKey, WasmEnvelope};
use crate::machines::{WasmGet, WasmPut, WasmRotate};
use js_sys::{Object, Uint8Array};
use s3_encryption::{
    CommitmentPolicy, DataKey, DecryptPolicy, EncryptConfig, EncryptionContext,
    EncryptionMaterials, Envelope, Error, WrapAlgorithm,
};
use wasm_bindgen::prelude::wasm_bindgen;

/// The wraps an external keyring may use, by their stored names.
fn wrap_named(name: &str) -> JsResult<WrapAlgorithm> {
    match name {
        "AES/GCM" => Ok(WrapAlgorithm::AesGcm),
        "RSA-OAEP-SHA1" => Ok(WrapAlgorithm::RsaOaepSha1),
        _ => Err(js_err(Error::UnsupportedWrap)),
    }
}

/// The unwrap request for `env`: only its `AES/GCM` and `RSA-OAEP-SHA1` wraps go to an external
/// keyring (KMS and the legacy wraps are [`Error::UnsupportedWrap`]).
fn unwrap_request(env: &Envelope) -> JsResult<Object> {
    let wrap = env.wrap_algorithm();
    if !matches!(wrap, WrapAlgorithm::AesGcm | WrapAlgorithm::RsaOaepSha1) {
        return Err(js_err(Error::UnsupportedWrap));
    }
    let o = obj();
    set(&o, "wrap", wrap.v2_name());
    set(&o, "contentCipher", env.content_cipher_id());
    set(
        &o,
        "encryptedDataKey",
        Uint8Array::from(env.encrypted_data_key()),
    );
    let md = env.materials_description().unwrap_or("{}");
    let md = js_sys::JSON::parse(md)
        .map_err(|_| js_err(Error::InvalidMetadata("materials description")))?;
    set(&o, "materialsDescription", md);
    Ok(o)
}

/// A wrap request for `data_key` under `config`, with the materials description `md`.
fn wrap_request(config: &EncryptConfig, data_key: &DataKey, md: EncryptionContext<'_>) -> Object {
    let o = obj();
    set(&o, "dataKey", Uint8Array::from(data_key.as_bytes()));
    set(&o, "contentCipher", config.content_cipher_id());
    set(&o, "materialsDescription", map_object(md.iter().copied()));
    o
}

/// Materials from the keyring's answer: `wrap`, `encryptedDataKey` and the materials description
/// to store (flat pairs).
fn materials(
    config: &EncryptConfig,
    data_key: DataKey,
    wrap: &str,
    encrypted_data_key: &[u8],
    materials_description: Vec<String>,
) -> JsResult<EncryptionMaterials> {
    let md = pairs(materials_description)?;
    EncryptionMaterials::externally_wrapped(
        config,
        data_key,
        wrap_named(wrap)?,
        encrypted_data_key,
        &borrow_pairs(&md),
    )
    .js()
}

#[wasm_bindgen]
impl WasmPut {
    /// At `encryptionMaterials`, for a JavaScript keyring: a fresh data key and what it must be
    /// wrapped for, `{dataKey, contentCipher, materialsDescription}` (the write's). Answer with
    /// `materialsExternal`.
    #[wasm_bindgen(js_name = externalWrapRequest)]
    pub fn external_wrap_request(&mut self) -> JsResult<Object> {
        let dk = DataKey::generate().js()?;
        let o = wrap_request(self.m().config(), &dk, self.m().encryption_context());
        self.external = Some(dk);
        Ok(o)
    }

    /// The keyring's wrap of the data key of `externalWrapRequest`: `wrap` (`AES/GCM` or
    /// `RSA-OAEP-SHA1`), the encrypted data key, and the materials description to store (flat
    /// pairs).
    #[wasm_bindgen(js_name = materialsExternal)]
    pub fn materials_external(
        &mut self,
        wrap: &str,
        encrypted_data_key: &[u8],
        materials_description: Vec<String>,
    ) -> JsResult<()> {
        let dk = self.external.take().ok_or_else(|| {
            js_err(Error::Internal(
                "the package called the machine out of order",
            ))
        })?;
        let m = materials(
            self.m().config(),
            dk,
            wrap,
            encrypted_data_key,
            materials_description,
        )?;
        self.m_mut(|mm| mm.materials(m)).js()
    }
}

#[wasm_bindgen]
impl WasmGet {
    /// At `unwrapKey`, for a JavaScript keyring: `{wrap, contentCipher, encryptedDataKey,
    /// materialsDescription}`. Hand the data key back with `dataKey`.
    #[wasm_bindgen(js_name = externalUnwrapRequest)]
    pub fn external_unwrap_request(&self) -> JsResult<Object> {
        unwrap_request(self.m().envelope().ok_or_else(|| {
            js_err(Error::Internal(
                "the package called the machine out of order",
            ))
        })?)
    }
}

#[wasm_bindgen]
impl WasmEnvelope {
    /// For a JavaScript keyring: `{wrap, contentCipher, encryptedDataKey,
    /// materialsDescription}`.
    #[wasm_bindgen(js_name = externalUnwrapRequest)]
    pub fn external_unwrap_request(&self) -> JsResult<Object> {
        unwrap_request(&self.env)
    }
}

#[wasm_bindgen]
impl WasmRotate {
    /// At `unwrapKey` (the old envelope) or `checkNewKey` (the new one), for a JavaScript
    /// keyring: `{wrap, contentCipher, encryptedDataKey, materialsDescription}`. Hand the data
    /// key back with `dataKey`.
    #[wasm_bindgen(js_name = externalUnwrapRequest)]
    pub fn external_unwrap_request(&self) -> JsResult<Object> {
        unwrap_request(self.m().envelope_to_unwrap().js()?)
    }

    /// At `wrapKey`, for a JavaScript keyring: the object's data key and what it must be wrapped
    /// for, `{dataKey, contentCipher, materialsDescription}` (`materialsDescription`: flat
    /// pairs). Answer with `wrapExternal`.
    #[wasm_bindgen(js_name = externalWrapRequest)]
    pub fn external_wrap_request(&self, materials_description: Vec<String>) -> JsResult<Object> {
        let md = pairs(materials_description)?;
        let cfg = self.m().new_config().js()?;
        let dk = self.m().data_key_to_wrap().js()?;
        Ok(wrap_request(&cfg, dk, &borrow_pairs(&md)))
    }

    /// The keyring's wrap of the data key of `externalWrapRequest` (see
    /// `WasmPut.materialsExternal`).
    #[wasm_bindgen(js_name = wrapExternal)]
    pub fn wrap_external(
        &mut self,
        wrap: &str,
        encrypted_data_key: &[u8],
        materials_description: Vec<String>,
    ) -> JsResult<()> {
        let cfg = self.m().new_config().js()?;
        let dk = self.m().data_key_to_wrap().js()?.clone();
        let m = materials(&cfg, dk, wrap, encrypted_data_key, materials_description)?;
        self.m_mut(|mm| mm.new_materials(m)).js()
    }

    /// At `checkOldKey`, for a JavaScript keyring: the new envelope's unwrap request.
    #[wasm_bindgen(js_name = checkExternalRequest)]
    pub fn check_external_request(&self) -> JsResult<Object> {
        unwrap_request(self.m().new_envelope().ok_or_else(|| {
            js_err(Error::Internal(
                "the package called the machine out of order",
            ))
        })?)
    }

    /// Whether `key` (what the old keyring unwrapped from the new envelope) opens it: for V3 the
    /// key commitment must match (a V2 envelope has none, so an unwrap that succeeded opens it).
    #[wasm_bindgen(js_name = checkDataKey)]
    pub fn check_data_key(&self, key: &WasmDataKey) -> bool {
        let policy = DecryptPolicy::new()
            .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
        self.m()
            .new_envelope()
            .is_some_and(|e| e.decryptor(key.key.clone(), &policy).is_ok())
    }
}
