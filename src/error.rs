//! The crate's one error type.

use core::fmt;

/// Every error this crate returns.
///
/// `Error` is `Copy`, carries no secret and no variable text, and its [`Display`](fmt::Display) is a
/// static message. All tag, commitment, key-unwrap and padding failures are the single opaque
/// [`Error::Authentication`] so that no caller can build an oracle from them.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The output buffer is too small; nothing was written and no state changed.
    BufferTooSmall {
        /// The number of bytes the output must hold for this call to succeed.
        required: usize,
    },
    /// A metadata key the format requires is absent (the key is named as in the spec).
    MissingMetadata(&'static str),
    /// A metadata value is malformed: bad base64, bad JSON, a wrong length, a bad number.
    InvalidMetadata(&'static str),
    /// The metadata mixes keys of different format versions (for example `x-amz-key` and
    /// `x-amz-key-v2`, or V3 keys beside V2 ones), or repeats a key.
    AmbiguousFormat,
    /// The object metadata holds no S3EC envelope and no instruction file was supplied:
    /// fetch `<key><suffix>` and parse again with it.
    InstructionFileRequired,
    /// Neither the object metadata nor the instruction file is an S3EC envelope.
    NotEncrypted,
    /// The instruction file holds keys that must only live in the object metadata
    /// (`x-amz-c`, `x-amz-d`, `x-amz-i`).
    ForbiddenInstructionFileKey,
    /// The content algorithm is unknown or not supported.
    UnsupportedSuite,
    /// The key-wrapping algorithm is unknown, or does not match the key supplied.
    UnsupportedWrap,
    /// The commitment policy refuses this suite (a V2 object under REQUIRE_DECRYPT, V2 writes under
    /// REQUIRE_ENCRYPT, V3 writes under FORBID_ENCRYPT).
    PolicyRejected,
    /// The object needs `legacy_wrapping_algorithms`, `legacy_unauthenticated_modes` or
    /// delayed authentication, and the policy does not enable it.
    LegacyModeDisabled,
    /// The caller's encryption context does not match the one stored with the object.
    EncryptionContextMismatch,
    /// The caller's encryption context uses a key that is reserved (`aws:x-amz-cek-alg`).
    ReservedEncryptionContextKey,
    /// Authentication failed: tag, key commitment, key unwrap or padding. Deliberately opaque.
    Authentication,
    /// More plaintext than AES-GCM allows under one key and nonce (2^36 − 32 bytes).
    MessageTooLong,
    /// The body ended before the authentication tag (or before a whole CBC block).
    TruncatedBody,
    /// The data does not have the length that was declared for it.
    LengthMismatch,
    /// A byte range is malformed or starts past the end of the object.
    InvalidRange,
    /// A value is larger than this crate's fixed capacity (see [`crate::ARENA_CAPACITY`]).
    TooLarge,
    /// A key has a length this algorithm does not accept, or a random value is all zero.
    InvalidKey,
    /// The configuration is contradictory (for example V2 under REQUIRE_ENCRYPT).
    InvalidConfig,
    /// A name from the specification (a commitment policy, an encryption algorithm) is not one
    /// this crate knows; the text says which kind of name.
    UnknownName(&'static str),
    /// The caller used the API in a way it does not allow: a machine method called out of order,
    /// a request id the machine did not issue, a key of the wrong kind. The text names the call.
    ApiMisuse(&'static str),
    /// A keyring could not answer: an HSM, a key service or a keyring program failed or was
    /// unreachable (not a wrong key, which is [`Error::Authentication`]). The keyring keeps the
    /// details.
    KeyringFailed,
    /// A state this crate's own invariants rule out. It is a bug: please report it, with the
    /// text, which says which invariant failed.
    Internal(&'static str),
    /// The random number generator failed.
    Rng,
    /// The object (or its bucket) does not exist (S3 answered 404).
    NotFound,
    /// The object changed between two requests of one read: its ETag, version or length differ,
    /// a pinned request's precondition failed, or pass two's bytes differ from the bytes pass one
    /// authenticated. Nothing that differs was released.
    ObjectChanged,
    /// A response does not answer the request that was made (the status, `Content-Range`,
    /// `Content-Length`, or the body received); the text says which.
    UnexpectedResponse(&'static str),
    /// S3 answered with this error status.
    RequestFailed {
        /// The HTTP status.
        status: u16,
    },
    /// The object keeps its envelope in its metadata, which takes precedence over any
    /// instruction file: only instruction-file objects can have their key re-wrapped in place.
    EnvelopeInMetadata,
    /// Rotation was to be enforced, but the old key still unwraps the new envelope.
    RotationNotEnforced,
    /// A migration's read-back does not match what it wrote (length, plaintext digest, envelope
    /// or ETag): the new object is not reported as migrated.
    ReadBackMismatch,
}

/// The classes every failure falls into, for callers that map errors to outcomes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The envelope is missing, malformed, ambiguous or names an unknown value.
    Format,
    /// Refused by configuration: commitment policy, a legacy gate, or an encryption context.
    Policy,
    /// Any tag, commitment, unwrap or padding failure (and a KMS refusal, in a transport).
    Authentication,
    /// Caller errors: buffers, lengths, ranges, capacity, keys, a call out of order.
    Usage,
    /// The store: the object is missing, changed during the read, or answered something other
    /// than what was asked.
    Storage,
    /// A keyring (an HSM, a key service, a keyring program) could not answer:
    /// [`Error::KeyringFailed`].
    Keyring,
    /// A bug in this crate (or, for a driver, in the driver): [`Error::Internal`].
    Internal,
}

impl Error {
    /// The class of this error.
    pub const fn class(&self) -> ErrorClass {
        match self {
            Error::MissingMetadata(_)
            | Error::InvalidMetadata(_)
            | Error::AmbiguousFormat
            | Error::InstructionFileRequired
            | Error::NotEncrypted
            | Error::ForbiddenInstructionFileKey
            | Error::UnsupportedSuite
            | Error::UnsupportedWrap => ErrorClass::Format,
            Error::PolicyRejected
            | Error::LegacyModeDisabled
            | Error::EncryptionContextMismatch
            | Error::ReservedEncryptionContextKey => ErrorClass::Policy,
            Error::Authentication | Error::TruncatedBody => ErrorClass::Authentication,
            Error::NotFound
            | Error::ObjectChanged
            | Error::UnexpectedResponse(_)
            | Error::RequestFailed { .. }
            | Error::ReadBackMismatch => ErrorClass::Storage,
            Error::BufferTooSmall { .. }
            | Error::MessageTooLong
            | Error::LengthMismatch
            | Error::InvalidRange
            | Error::TooLarge
            | Error::InvalidKey
            | Error::InvalidConfig
            | Error::UnknownName(_)
            | Error::ApiMisuse(_)
            | Error::Rng
            | Error::EnvelopeInMetadata
            | Error::RotationNotEnforced => ErrorClass::Usage,
            Error::KeyringFailed => ErrorClass::Keyring,
            Error::Internal(_) => ErrorClass::Internal,
        }
    }
}

impl Error {
    /// The variant's name (`"Authentication"`, `"TooLarge"`, …): a stable code for bindings that
    /// carry errors across a language boundary.
    pub const fn code(&self) -> &'static str {
        match self {
            Error::BufferTooSmall { .. } => "BufferTooSmall",
            Error::MissingMetadata(_) => "MissingMetadata",
            Error::InvalidMetadata(_) => "InvalidMetadata",
            Error::AmbiguousFormat => "AmbiguousFormat",
            Error::InstructionFileRequired => "InstructionFileRequired",
            Error::NotEncrypted => "NotEncrypted",
            Error::ForbiddenInstructionFileKey => "ForbiddenInstructionFileKey",
            Error::UnsupportedSuite => "UnsupportedSuite",
            Error::UnsupportedWrap => "UnsupportedWrap",
            Error::PolicyRejected => "PolicyRejected",
            Error::LegacyModeDisabled => "LegacyModeDisabled",
            Error::EncryptionContextMismatch => "EncryptionContextMismatch",
            Error::ReservedEncryptionContextKey => "ReservedEncryptionContextKey",
            Error::Authentication => "Authentication",
            Error::MessageTooLong => "MessageTooLong",
            Error::TruncatedBody => "TruncatedBody",
            Error::LengthMismatch => "LengthMismatch",
            Error::InvalidRange => "InvalidRange",
            Error::TooLarge => "TooLarge",
            Error::InvalidKey => "InvalidKey",
            Error::InvalidConfig => "InvalidConfig",
            Error::UnknownName(_) => "UnknownName",
            Error::ApiMisuse(_) => "ApiMisuse",
            Error::KeyringFailed => "KeyringFailed",
            Error::Internal(_) => "Internal",
            Error::Rng => "Rng",
            Error::NotFound => "NotFound",
            Error::ObjectChanged => "ObjectChanged",
            Error::UnexpectedResponse(_) => "UnexpectedResponse",
            Error::RequestFailed { .. } => "RequestFailed",
            Error::EnvelopeInMetadata => "EnvelopeInMetadata",
            Error::RotationNotEnforced => "RotationNotEnforced",
            Error::ReadBackMismatch => "ReadBackMismatch",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BufferTooSmall { required } => {
                write!(f, "output buffer too small: {required} bytes required")
            }
            Error::MissingMetadata(k) => write!(f, "missing S3EC metadata key {k}"),
            Error::InvalidMetadata(k) => write!(f, "invalid S3EC metadata value for {k}"),
            Error::AmbiguousFormat => f.write_str("ambiguous S3EC envelope: keys of several format versions or a repeated key"),
            Error::InstructionFileRequired => f.write_str("no envelope in the object metadata: an instruction file is required"),
            Error::NotEncrypted => f.write_str("object is not S3EC-encrypted (no envelope found)"),
            Error::ForbiddenInstructionFileKey => f.write_str("instruction file holds x-amz-c, x-amz-d or x-amz-i, which must stay in object metadata"),
            Error::UnsupportedSuite => f.write_str("unsupported content encryption algorithm"),
            Error::UnsupportedWrap => f.write_str("unsupported or mismatched key wrapping algorithm"),
            Error::PolicyRejected => f.write_str("refused by the commitment policy"),
            Error::LegacyModeDisabled => f.write_str("object needs a legacy or unauthenticated mode that is not enabled"),
            Error::EncryptionContextMismatch => f.write_str("encryption context does not match the stored one"),
            Error::ReservedEncryptionContextKey => f.write_str("encryption context uses the reserved key aws:x-amz-cek-alg"),
            Error::Authentication => f.write_str("authentication failed"),
            Error::MessageTooLong => f.write_str("message exceeds the AES-GCM limit of 2^36 - 32 bytes"),
            Error::TruncatedBody => f.write_str("body truncated"),
            Error::LengthMismatch => f.write_str("length does not match the declared length"),
            Error::InvalidRange => f.write_str("invalid or unsatisfiable byte range"),
            Error::TooLarge => f.write_str("value exceeds the fixed capacity"),
            Error::InvalidKey => f.write_str("invalid key length or all-zero random value"),
            Error::InvalidConfig => f.write_str("contradictory configuration"),
            Error::UnknownName(kind) => write!(f, "unknown {kind} name"),
            Error::ApiMisuse(call) => write!(f, "API misuse: {call}"),
            Error::KeyringFailed => f.write_str("the keyring could not answer"),
            Error::Internal(what) => write!(f, "internal error, please report it: {what}"),
            Error::Rng => f.write_str("random number generator failure"),
            Error::NotFound => f.write_str("no such object"),
            Error::ObjectChanged => f.write_str("the object changed during the read; nothing that differs was released"),
            Error::UnexpectedResponse(what) => write!(f, "the store's response does not answer the request: {what}"),
            Error::RequestFailed { status } => write!(f, "S3 answered with status {status}"),
            Error::EnvelopeInMetadata => f.write_str("the envelope is in the object metadata, which takes precedence over any instruction file"),
            Error::RotationNotEnforced => f.write_str("rotation not enforced: the old key still unwraps the new envelope"),
            Error::ReadBackMismatch => f.write_str("the migrated object read back does not match what was written"),
        }
    }
}

impl core::error::Error for Error {}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = core::result::Result<T, E>;
