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
