//! WebAssembly bindings of the `s3-encryption` core, for the npm package `s3-encryption`.
//!
//! This crate adds no format logic: every export converts JavaScript values to the core's types,
//! calls the core, and converts the answer back. The JavaScript package (`npm/`) performs the
//! requests the core's sans-IO machines ask for, with `@aws-sdk/client-s3` and
//! `@aws-sdk/client-kms`.
//!
//! Conventions:
//! * string maps (metadata, headers, encryption contexts) cross as flat arrays
//!   `[name0, value0, name1, value1, …]`;
//! * 64-bit sizes cross as JavaScript numbers (exact below 2^53, which every S3 object is);
//! * every error is thrown as a JavaScript `Error` with `code` (the core's variant name),
//!   `errorClass` (`format`, `policy`, `authentication`, `usage`, `storage`, `keyring`, or
//!   `internal` for a bug in the package or the core: a machine driven out of order) and, for
//!   `RequestFailed`, `status`.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod convert;
mod envelope;
mod external;
mod keys;
mod machines;
mod texts;

pub use envelope::{WasmDataKey, WasmEnvelope, needs_instruction_file, parse_envelope};
pub use keys::{WasmAesKey, WasmRsaPrivateKey, WasmRsaPublicKey};
pub use machines::{WasmDelete, WasmDescribeObject, WasmGet, WasmPut, WasmRotate};

use wasm_bindgen::prelude::wasm_bindgen;

/// The core's version (the crate version of this binding, which is built from the same tree).
#[wasm_bindgen(js_name = coreVersion)]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").into()
}
