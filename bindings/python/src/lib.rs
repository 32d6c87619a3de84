//! `s3ec._native`: the Python binding of the `s3-encryption` core.
//!
//! The core's object machines ([`s3_encryption::object`]) decide every request, check every
//! response and release only authenticated plaintext. This module drives them: each request goes
//! to a Python *transport* (`s3ec._transport.Boto3Transport`, which maps it onto one boto3 call
//! in a thread pool and hands back status, headers and body), each key request to a keyring
//! (the native `AesKeyring` / `RsaKeyring`, or any Python object with the keyring protocol).
//! Encryption and decryption run here, with the GIL released. This crate adds no format logic.
//!
//! No `unsafe`: the crate forbids it (as the workspace does); PyO3 0.30's macros need no exception.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod custom;
mod errors;
mod get;
mod getobj;
mod keyring;
mod migrate;
mod object;
mod options;
mod pio;
mod put;
mod stream;
mod transport;

use errors::{Fail, R};
use get::{Out, drive_get};
use keyring::{Keyring, pairs_ref};
use options::{context_of, decrypt_policy, opt};
use put::drive_put;
use pyo3::prelude::*;
use transport::{Io, close_body};

/// The native half of `s3ec`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<keyring::AesKeyring>()?;
    m.add_class::<keyring::RsaKeyring>()?;
    m.add_function(wrap_pyfunction!(getobj::get_object, m)?)?;
    m.add_function(wrap_pyfunction!(put::put_object, m)?)?;
    m.add_function(wrap_pyfunction!(object::describe_object, m)?)?;
    m.add_function(wrap_pyfunction!(object::delete_object, m)?)?;
    m.add_function(wrap_pyfunction!(object::reencrypt_instruction_file, m)?)?;
    m.add_function(wrap_pyfunction!(migrate::migrate_object, m)?)?;
    m.add_function(wrap_pyfunction!(object::is_envelope_key, m)?)?;
    m.add_function(wrap_pyfunction!(object::default_instruction_suffix, m)?)?;
    m.add_function(wrap_pyfunction!(options::check_write_settings, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
