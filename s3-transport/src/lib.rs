//! `s3-encryption-transport`: Amazon S3 client-side encryption over `aws-sdk-s3` (and
//! `aws-sdk-kms`), built only on the public API of the sans-IO core [`s3_encryption`].
//!
//! * [`S3EncryptionClient`] encrypts on PUT (single request or multipart, memory bounded by
//!   part size × (parts in flight + 1)) and decrypts on GET, authenticated by default and
//!   bounded in memory: objects within the memory budget are verified in memory; larger ones
//!   by two passes pinned to the same ETag / version, or through a spill file. Plaintext that
//!   was not authenticated is only released by the opt-ins named as in the spec
//!   ([`S3EncryptionClient::get_object_delayed_authentication_hazmat`] under
//!   `enable_delayed_authentication_mode`, [`S3EncryptionClient::get_object_range_hazmat`]
//!   under `enable_legacy_unauthenticated_modes`).
//! * [`ClientKeyring`]: raw AES, RSA (public key to write, private key to read), KMS key id, KMS
//!   discovery; any [`s3_encryption::Keyring`] ([`ClientKeyring::custom`]: an HSM, a Vault
//!   transit key, run on the blocking pool) and a keyring program ([`ProgramKeyring`],
//!   `KEYRINGS.md`). [`KmsKeyring`] is KMS as a core [`s3_encryption::Keyring`], owning its
//!   client, for code that speaks only the core trait.
//! * Instruction files: write (placement), read (custom suffix),
//!   [`S3EncryptionClient::reencrypt_instruction_file`] for AES, RSA and KMS keyrings.
//! * [`S3EncryptionClient::head_object`] / [`S3EncryptionClient::list_objects`] report plaintext
//!   lengths; a plain object is [`Error::NotEncrypted`], distinct from every crypto failure.
//! * [`S3EncryptionClient::migrate_object`]: migrate one object to V3, or re-wrap its data key
//!   under a new keyring, conditionally and verified ([`MigrateOptions`], [`MigrateOutcome`]).
//! * No silent plaintext: copy, part-copy and presigned PUT are refused ([`Error::Refused`]).
//! * [`local::LocalS3`] (feature `embedded-s3`): an S3 server embedded in the process.
//!
//! ```no_run
//! # async fn demo() -> Result<(), s3_encryption_transport::Error> {
//! use s3_encryption_transport::{GetOptions, ClientKeyring, PutOptions, S3EncryptionClient};
//! let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let key = s3_encryption::AesKey::generate()?;
//! let client = S3EncryptionClient::from_sdk_config(&config, ClientKeyring::aes(key))?;
//! client.put_bytes("bucket", "key", b"secret", &PutOptions::default()).await?;
//! let (plaintext, _) = client.get_object_bytes("bucket", "key", &GetOptions::default()).await?;
//! assert_eq!(plaintext, b"secret");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bulk;
mod client;
mod error;
mod get;
mod info;
mod keyring;
mod list;
#[cfg(feature = "embedded-s3")]
pub mod local;
mod migrate;
mod part_bodies;
mod put;
mod reader;
mod rotate;
mod sdk;
mod storage;
mod unnamed;

pub use client::{
    Builder, DEFAULT_INSTRUCTION_FILE_SUFFIX, DEFAULT_MEMORY_BUDGET, DEFAULT_PART_SIZE,
    DEFAULT_PARTS_IN_FLIGHT, GetOptions, LargeObjectVerification, ProgressFn, PutOptions,
    S3EncryptionClient,
};
pub use error::{Error, ErrorKind, Result};
pub use info::{EnvelopeInfo, GetOutput, ListEntry, ListStatus, ObjectInfo, Verification};
pub use keyring::{
    ClientKeyring, DEFAULT_TIMEOUT as KEYRING_PROGRAM_TIMEOUT, KeyringError, KmsKeyring,
    MAX_LINE as KEYRING_PROGRAM_MAX_LINE, Pairs, ProgramKeyring, SharedKeyring, split_command_line,
    wrap_name,
};
pub use migrate::{MigrateMode, MigrateOptions, MigrateOutcome, MigrateStatus, ObjectForm};
pub use put::{ObjectWriter, PutOutput};
pub use reader::ObjectReader;
pub use rotate::{ReEncryptOptions, ReEncryptOutput};
pub use s3_encryption::object::DeleteDone;

pub use aws_config;
pub use aws_sdk_kms;
pub use aws_sdk_s3;
pub use s3_encryption;
