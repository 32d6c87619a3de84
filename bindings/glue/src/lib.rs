//! The host-independent half of the JavaScript bindings of the `s3-encryption` core: the npm
//! package `s3-encryption` runs on WebAssembly (`bindings/wasm`) or on a Node-API addon
//! (`bindings/node`), and both export the same classes and functions. Everything they share
//! lives here, in plain Rust: the wrappers of the core's sans-IO machines, the parsing of option
//! objects, the shapes of requests, envelopes and answers ([`Val`]), and the classification of
//! errors ([`Fail`]). A host layer only declares its classes, converts its values to and from
//! [`Val`], and throws [`Fail`] as a JavaScript `Error`.
//!
//! Conventions of the JavaScript surface:
//! * string maps (metadata, headers, encryption contexts) cross as flat arrays
//!   `[name0, value0, name1, value1, …]`;
//! * 64-bit sizes cross as JavaScript numbers (exact below 2^53, which every S3 object is);
//! * every error is thrown as a JavaScript `Error` with `code` (the core's variant name),
//!   `errorClass` (`format`, `policy`, `authentication`, `usage`, `storage`, `keyring`, or
//!   `internal` for a bug in the package or the core: a machine driven out of order) and, for
//!   `RequestFailed`, `status`.
//!
//! This crate adds no format logic: every call converts values to the core's types, calls the
//! core, and converts the answer back.
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[macro_use]
mod common;
mod envelope;
mod external;
mod fail;
mod get;
mod opts;
mod put;
mod rotate;
mod shape;
mod small;
mod texts;
mod val;

pub use envelope::{
    Env, aes_key, core_version, data_key, is_envelope_key, needs_instruction_file, rsa_private_key,
    rsa_public_key,
};
pub use fail::{Fail, R, usage};
pub use get::Get;
pub use opts::{Opts, check_write_settings};
pub use put::Put;
pub use rotate::Rotate;
pub use s3_encryption::rsa::{PrivateKey, PublicKey};
pub use s3_encryption::{AesKey, DataKey};
pub use small::{Delete, Describe};
pub use val::Val;
