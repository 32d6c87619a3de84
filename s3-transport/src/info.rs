//! What the client reports about objects: envelopes, descriptions, results of reads and lists.

use s3_encryption::{ContentAlgorithm, Envelope, FormatVersion, Placement, WrapAlgorithm};

/// What an envelope says, for display (never key material).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvelopeInfo {
    /// Format version (V1, V2, V3).
    pub format_version: FormatVersion,
    /// Content algorithm (algorithm suite).
    pub content_algorithm: ContentAlgorithm,
    /// Key-wrapping algorithm.
    pub wrap_algorithm: WrapAlgorithm,
    /// Where the key material is stored.
    pub placement: Placement,
    /// The instruction file's key, when the envelope came from one.
    pub instruction_file_key: Option<String>,
    /// Whether the envelope carries a V3 key commitment.
    pub key_commitment: bool,
    /// Materials description JSON (AES / RSA wraps).
    pub materials_description: Option<String>,
    /// KMS encryption context JSON (KMS wraps).
    pub encryption_context: Option<String>,
    /// The stored plaintext length (`x-amz-unencrypted-content-length`), if any.
    pub unencrypted_content_length: Option<u64>,
}

impl EnvelopeInfo {
    /// Summarise a parsed envelope.
    pub fn new(env: &Envelope, instruction_file_key: Option<String>) -> Self {
        EnvelopeInfo {
            format_version: env.version(),
            content_algorithm: env.content_algorithm(),
            wrap_algorithm: env.wrap_algorithm(),
            placement: env.placement(),
            instruction_file_key,
            key_commitment: env.key_commitment().is_some(),
            materials_description: env.materials_description().map(str::to_owned),
            encryption_context: env.encryption_context().map(str::to_owned),
            unencrypted_content_length: env.unencrypted_content_length(),
        }
    }
}

/// An encrypted object's description from HEAD (and its instruction file).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Stored (ciphertext) length.
    pub stored_len: u64,
    /// Plaintext length, where it can be derived without decrypting.
    pub plaintext_len: Option<u64>,
    /// ETag.
    pub e_tag: Option<String>,
    /// Version id.
    pub version_id: Option<String>,
    /// The envelope.
    pub envelope: EnvelopeInfo,
    /// User metadata that is not part of the envelope.
    pub user_metadata: Vec<(String, String)>,
}

/// How plaintext was released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verification {
    /// The whole object was held in memory and verified before release.
    InMemory,
    /// Verified by a first pass; released by a second GET pinned to the ETag / version.
    TwoPass,
    /// Verified while spilling to a temporary file; released from the file.
    SpillFile,
    /// Verified while the ciphertext was written to the (not yet visible) destination file, then
    /// decrypted in place there ([`S3EncryptionClient::get_object_to_file`](crate::S3EncryptionClient::get_object_to_file), objects over the
    /// memory budget). One GET.
    InPlace,
    /// Decrypted as it arrived into an unnamed file in the destination's directory (Linux
    /// `O_TMPFILE`: no other process can open it by name) and linked into place only after the
    /// whole object's tag verified; a failure leaves nothing behind
    /// ([`S3EncryptionClient::get_object_to_file`](crate::S3EncryptionClient::get_object_to_file),
    /// GCM objects over the memory budget). One GET, one pass over the bytes.
    UnnamedFile,
    /// Released before the tag was checked; the tag verified at the end.
    DelayedAuthentication,
    /// A ranged read: never authenticated.
    UnauthenticatedRange,
}

/// The result of a GET.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GetOutput {
    /// The object.
    pub info: ObjectInfo,
    /// Plaintext bytes released.
    pub released: u64,
    /// For ranged reads, the first plaintext byte released.
    pub range_first: Option<u64>,
    /// How the plaintext was verified.
    pub verification: Verification,
    /// Stored-body bytes downloaded for this read (all passes).
    pub fetched: u64,
}

/// One listed object.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListEntry {
    /// Key.
    pub key: String,
    /// Stored size.
    pub stored_len: u64,
    /// What the object is.
    pub status: ListStatus,
}

/// What a listed object is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ListStatus {
    /// An S3EC object.
    Encrypted(Box<ObjectInfo>),
    /// A plain object.
    NotEncrypted,
    /// The instruction file of the object without the suffix.
    InstructionFile,
    /// It could not be described (the message says why).
    Error(String),
}
