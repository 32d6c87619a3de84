//! WebAssembly bindings of the `s3-encryption` core, for the npm package `s3-encryption` in
//! browsers, workers and edge runtimes (and in Node.js where its native addon, `bindings/node`,
//! is absent).
//!
//! Everything but the host is in `s3-encryption-glue`, shared with the Node-API addon: this
//! crate declares the classes with wasm-bindgen and converts values. The JavaScript package
//! (`npm/`) performs the requests the core's sans-IO machines ask for, with
//! `@aws-sdk/client-s3` and `@aws-sdk/client-kms`. See the glue crate for the conventions of
//! the surface (flat string pairs, numbers, the `Error`s' `code`, `errorClass` and `status`).
#![deny(missing_docs)]
#![deny(unsafe_code)]

/// The methods every machine class has: `poll`, `request` and `response`; with `, body`, also
/// `body` (a piece of an instruction file). wasm-bindgen adds `free`.
macro_rules! machine_class {
    ($ty:ident, $js:ident) => {
        #[wasm_bindgen::prelude::wasm_bindgen(js_class = $js)]
        impl $ty {
            /// What the machine needs next.
            pub fn poll(&mut self) -> $crate::convert::JsResult<wasm_bindgen::JsValue> {
                $crate::convert::js(self.0.poll())
            }
            /// The request `id`.
            pub fn request(&self, id: u32) -> $crate::convert::JsResult<wasm_bindgen::JsValue> {
                $crate::convert::js(self.0.request(id))
            }
            /// The response to `id`: its status and flat headers.
            pub fn response(
                &mut self,
                id: u32,
                status: u16,
                headers: Vec<String>,
            ) -> $crate::convert::JsResult<()> {
                use $crate::convert::Js;
                self.0.response(id, status, &headers).js()
            }
        }
    };
    ($ty:ident, $js:ident, body) => {
        machine_class!($ty, $js);

        #[wasm_bindgen::prelude::wasm_bindgen(js_class = $js)]
        impl $ty {
            /// A piece of the instruction file's body.
            pub fn body(&mut self, id: u32, piece: &[u8]) -> $crate::convert::JsResult<()> {
                use $crate::convert::Js;
                self.0.body(id, piece).js()
            }
        }
    };
}

/// The key-unwrapping methods of the machines that read an envelope (`Get`, `Rotate`).
macro_rules! unwrapping {
    ($ty:ident, $js:ident) => {
        #[wasm_bindgen::prelude::wasm_bindgen(js_class = $js)]
        impl $ty {
            /// The key to supply.
            #[wasm_bindgen(js_name = keyRequest)]
            pub fn key_request(&self) -> $crate::convert::JsResult<wasm_bindgen::JsValue> {
                $crate::convert::js(self.0.key_request())
            }
            /// The unwrapped data key.
            #[wasm_bindgen(js_name = dataKey)]
            pub fn data_key(
                &mut self,
                key: &$crate::keys::WasmDataKey,
            ) -> $crate::convert::JsResult<()> {
                self.0.data_key(&key.0).js()
            }
            /// Unwrap the data key with an AES master key.
            #[wasm_bindgen(js_name = unwrapAes)]
            pub fn unwrap_aes(
                &mut self,
                key: &$crate::keys::WasmAesKey,
            ) -> $crate::convert::JsResult<()> {
                self.0.unwrap_aes(&key.0).js()
            }
            /// Unwrap the data key with an RSA private key.
            #[wasm_bindgen(js_name = unwrapRsa)]
            pub fn unwrap_rsa(
                &mut self,
                key: &$crate::keys::WasmRsaPrivateKey,
            ) -> $crate::convert::JsResult<()> {
                self.0.unwrap_rsa(&key.0).js()
            }
            /// At `unwrapKey`, for a JavaScript keyring: the unwrap request.
            #[wasm_bindgen(js_name = externalUnwrapRequest)]
            pub fn external_unwrap_request(
                &self,
            ) -> $crate::convert::JsResult<wasm_bindgen::JsValue> {
                $crate::convert::js(self.0.external_unwrap_request())
            }
        }
    };
}

/// The methods of the machines that describe the object read (`Get`, `Describe`).
macro_rules! described {
    ($ty:ident, $js:ident) => {
        #[wasm_bindgen::prelude::wasm_bindgen(js_class = $js)]
        impl $ty {
            /// The envelope, once read, or `null`.
            pub fn envelope(&self) -> $crate::convert::JsResult<wasm_bindgen::JsValue> {
                $crate::convert::js(Ok(self.0.envelope()))
            }
            /// The object, once its first response came, or `null`.
            pub fn object(&self) -> $crate::convert::JsResult<wasm_bindgen::JsValue> {
                $crate::convert::js(Ok(self.0.object()))
            }
            /// Whether the envelope came from the instruction file.
            #[wasm_bindgen(js_name = instructionFileUsed)]
            pub fn instruction_file_used(&self) -> bool {
                self.0.instruction_file_used()
            }
            /// The object's whole plaintext length, when known, or `undefined`.
            #[wasm_bindgen(js_name = plaintextLength)]
            pub fn plaintext_length(&self) -> Option<f64> {
                self.0.plaintext_length()
            }
        }
    };
}

mod convert;
mod keys;
mod machines;
mod rotate;

pub use keys::{WasmAesKey, WasmDataKey, WasmEnvelope, WasmRsaPrivateKey, WasmRsaPublicKey};
pub use machines::{Delete, Describe, Get, Put};
pub use rotate::Rotate;

use convert::{Js, JsResult, Options};
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

/// The core's version (the crate version of the bindings, built from the same tree).
#[wasm_bindgen(js_name = coreVersion)]
pub fn core_version() -> String {
    s3_encryption_glue::core_version()
}

/// Check a client's write settings (`suite`, `commitmentPolicy`) when it is made, not at its
/// first write; returns the suite's spec name.
#[wasm_bindgen(js_name = checkWriteSettings)]
pub fn check_write_settings(options: JsValue) -> JsResult<String> {
    s3_encryption_glue::check_write_settings(&Options(&options)).js()
}

/// Whether the metadata (flat `[name, value, …]`, names without `x-amz-meta-`) holds no envelope,
/// so that the instruction file must be fetched.
#[wasm_bindgen(js_name = needsInstructionFile)]
pub fn needs_instruction_file(metadata: Vec<String>) -> JsResult<bool> {
    s3_encryption_glue::needs_instruction_file(metadata).js()
}

/// Whether `name` (any case, with or without `x-amz-meta-`) is an envelope key, so that user
/// metadata can be told apart from the envelope.
#[wasm_bindgen(js_name = isEnvelopeKey)]
pub fn is_envelope_key(name: &str) -> bool {
    s3_encryption_glue::is_envelope_key(name)
}
