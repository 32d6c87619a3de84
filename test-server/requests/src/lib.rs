//! The request shapes of AWS's cross-SDK S3EC test harness, parsed and checked without I/O.
//!
//! The harness's Smithy model (`S3ECTestServer`, restJson1; it lives in
//! `aws/amazon-s3-encryption-client-python`, `test-server/model/`) sends a server JSON documents
//! and headers: `CreateClient` carries an `S3ECConfig`, `ReEncrypt` a `KeyMaterial`, and every
//! object call a `Content-Metadata` list header. `s3ec test-server` (in `s3-transport`) reads them
//! through this crate, so that everything a harness request can put into the server is parsed by
//! code that builds without an HTTP stack or an AWS SDK, and is fuzzed as such (the fuzz target
//! `harness_requests`).
//!
//! The crate decides what a request means (which keyring, which policy, which placement) and
//! refuses what the model or the S3EC refuses; the server builds its client from the result.
//!
//! ```
//! use s3ec_harness_requests::{ClientConfig, KeyMaterial};
//!
//! let config = ClientConfig::from_create_client(
//!     br#"{"config": {"keyMaterial": {"kmsKeyId": "alias/test"},
//!                     "commitmentPolicy": "REQUIRE_ENCRYPT_ALLOW_DECRYPT"}}"#,
//! )?;
//! assert!(matches!(config.keyring.material, KeyMaterial::Kms(ref id) if id == "alias/test"));
//! assert!(!config.keyring.is_raw());
//! # Ok::<(), s3ec_harness_requests::Error>(())
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod config;
mod error;
mod headers;

pub use config::{ClientConfig, KeyMaterial, Keyring};
pub use error::Error;
pub use headers::{
    enforce_rotation, parse_metadata_list, percent_decode, reencrypt_suffix, render_metadata_list,
};
