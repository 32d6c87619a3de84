//! The transport's error type: S3 / KMS / I/O failures beside the core's [`s3_encryption::Error`].

use std::fmt;

/// Boxed source error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, in the classes a caller (or the `s3ec` exit code) distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The object, instruction file or bucket does not exist.
    NotFound,
    /// The object exists but carries no S3EC envelope: a plain S3 object.
    NotEncrypted,
    /// Authentication failed: tag, key commitment, key unwrap, padding, a KMS refusal, or an object
    /// that changed between the two passes of a verify-first read.
    Authentication,
    /// Refused by configuration: commitment policy, a legacy gate, an encryption-context mismatch.
    Policy,
    /// The envelope is malformed, ambiguous or names an unknown algorithm.
    Format,
    /// The caller asked for something invalid: configuration, key, range, a refused operation.
    Usage,
    /// S3, KMS, network or local I/O failure, or a keyring that could not answer.
    Transport,
    /// A bug in this library or in the core it drives (an invariant failed, or the transport
    /// drove a core machine out of order): please report it.
    Internal,
}

/// Every error the transport returns.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The object (or its bucket) does not exist.
    NotFound {
        /// Bucket.
        bucket: String,
        /// Object key.
        key: String,
    },
    /// The object has no S3EC envelope in its metadata and no instruction file: it is not encrypted
    /// (distinct from every cryptographic failure).
    NotEncrypted {
        /// Bucket.
        bucket: String,
        /// Object key.
        key: String,
    },
    /// A failure from the core: format, policy or (opaque) authentication.
    Crypto(s3_encryption::Error),
    /// KMS refused to decrypt or generate a data key (wrong key, encryption context, access).
    KmsRefused(String),
    /// The object changed between the verification pass and the release pass (ETag, version or
    /// length differ): nothing from the second pass may be used.
    ObjectChanged,
    /// A ranged read that starts at or past the end of the plaintext (S3 answers 416).
    RangeNotSatisfiable {
        /// The range requested.
        range: String,
        /// The plaintext length of the object.
        plaintext_len: u64,
    },
    /// The operation would bypass client-side encryption, so this client refuses it.
    Refused(&'static str),
    /// The configuration or the arguments are invalid.
    Config(String),
    /// An S3 request failed.
    S3 {
        /// The operation (`GetObject`, `UploadPart`, …).
        operation: &'static str,
        /// HTTP status, when a response arrived.
        status: Option<u16>,
        /// The service error code, when there was one.
        code: Option<String>,
        /// The underlying error.
        source: BoxError,
    },
    /// A KMS request failed for a reason other than a refusal (network, throttling, …).
    Kms {
        /// The operation.
        operation: &'static str,
        /// The underlying error.
        source: BoxError,
    },
    /// Local I/O (the body source, a spill file, an output file).
    Io(std::io::Error),
    /// An external keyring could not answer: a keyring program that exited, closed its pipe,
    /// answered a malformed or over-long line, timed out or refused a wrap, or a custom
    /// keyring whose call panicked. (A wrong key is [`Error::Crypto`] `Authentication`.)
    Keyring(crate::keyring::KeyringError),
    /// A state the transport's own invariants rule out (a bug: please report it, with the text).
    Internal(&'static str),
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        use s3_encryption::ErrorClass;
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::NotEncrypted { .. } => ErrorKind::NotEncrypted,
            Error::Crypto(s3_encryption::Error::NotEncrypted) => ErrorKind::NotEncrypted,
            Error::Crypto(e) => match e.class() {
                ErrorClass::Format => ErrorKind::Format,
                ErrorClass::Policy => ErrorKind::Policy,
                ErrorClass::Authentication => ErrorKind::Authentication,
                // The store answered something other than what was asked: as untrustworthy as
                // a failed tag. A missing object, or an error status, is what it says.
                ErrorClass::Storage => match e {
                    s3_encryption::Error::NotFound => ErrorKind::NotFound,
                    s3_encryption::Error::RequestFailed { .. } => ErrorKind::Transport,
                    _ => ErrorKind::Authentication,
                },
                // The transport drives the core's machines: a call out of order is its own bug,
                // not the user's.
                ErrorClass::Internal => ErrorKind::Internal,
                _ if matches!(e, s3_encryption::Error::ApiMisuse(_)) => ErrorKind::Internal,
                ErrorClass::Keyring => ErrorKind::Transport,
                _ => ErrorKind::Usage,
            },
            Error::KmsRefused(_) | Error::ObjectChanged => ErrorKind::Authentication,
            Error::RangeNotSatisfiable { .. } | Error::Refused(_) | Error::Config(_) => {
                ErrorKind::Usage
            }
            Error::S3 {
                status: Some(404), ..
            } => ErrorKind::NotFound,
            Error::S3 { .. } | Error::Kms { .. } | Error::Io(_) | Error::Keyring(_) => {
                ErrorKind::Transport
            }
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Whether this is the "not encrypted" error.
    pub fn is_not_encrypted(&self) -> bool {
        self.kind() == ErrorKind::NotEncrypted
    }

    /// Whether retrying the same request later may succeed: S3 throttling and server errors
    /// (503 `SlowDown`, 500, 502, 504, 429, `RequestTimeout`), KMS throttling and KMS or network
    /// failures that are not refusals ([`Error::Kms`]), a connection that failed without a
    /// response, and local I/O errors of the transfer. Refusals, authentication, format and policy
    /// failures, missing objects and failed preconditions are permanent.
    pub fn is_retryable(&self) -> bool {
        const CODES: [&str; 6] = [
            "SlowDown",
            "RequestTimeout",
            "InternalError",
            "ServiceUnavailable",
            "ThrottlingException",
            "RequestTimeTooSkewed",
        ];
        match self {
            Error::S3 { status, code, .. } => match status {
                Some(s) => {
                    matches!(s, 429 | 500 | 502 | 503 | 504)
                        || code.as_deref().is_some_and(|c| CODES.contains(&c))
                }
                // No response at all: a network failure (the SDK already retried it).
                None => true,
            },
            Error::Kms { .. } | Error::Io(_) => true,
            Error::Crypto(s3_encryption::Error::RequestFailed { status }) => {
                matches!(status, 429 | 500 | 502 | 503 | 504)
            }
            _ => false,
        }
    }

    /// Whether this failure must end a search over keys instead of counting as "this key does
    /// not open it": a transient failure, or an external keyring that could not answer (a
    /// keyring program that exited or timed out is an error of the command, never a skip).
    pub(crate) fn ends_key_search(&self) -> bool {
        self.is_retryable()
            || matches!(
                self,
                Error::Keyring(_) | Error::Crypto(s3_encryption::Error::KeyringFailed)
            )
    }

    /// Whether a conditional request failed (HTTP 412) or the object changed under a pinned
    /// read: another writer got there first.
    pub fn is_precondition_failed(&self) -> bool {
        matches!(
            self,
            Error::ObjectChanged
                | Error::Crypto(s3_encryption::Error::ObjectChanged)
                | Error::S3 {
                    status: Some(412),
                    ..
                }
        )
    }

    /// Whether this is a "not found" error.
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// An S3 SDK error, with its HTTP status and error code kept (404 reads as
    /// [`ErrorKind::NotFound`]).
    pub fn from_s3<E>(
        operation: &'static str,
        e: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> Self
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let code = e
            .as_service_error()
            .and_then(|s| s.code())
            .map(str::to_owned);
        let source: BoxError = match e.as_service_error() {
            Some(se) => match (se.code(), se.message(), status) {
                (Some(c), Some(m), _) => format!("{c}: {m}").into(),
                (Some(c), None, _) => c.to_owned().into(),
                // An error answer without a body (every HEAD answer, and some proxies): the
                // status is all S3 said; the SDK's debug dump of it helps nobody.
                (None, _, Some(s)) => no_error_body(s).into(),
                (None, _, None) => aws_sdk_s3::error::DisplayErrorContext(&e)
                    .to_string()
                    .into(),
            },
            None => aws_sdk_s3::error::DisplayErrorContext(&e)
                .to_string()
                .into(),
        };
        Error::S3 {
            operation,
            status,
            code,
            source,
        }
    }

    /// Whether S3 answered with an error status and no error code (a HEAD answer has no body).
    pub fn is_bodyless_s3_error(&self) -> bool {
        matches!(
            self,
            Error::S3 {
                status: Some(_),
                code: None,
                ..
            }
        )
    }

    pub(crate) fn config(msg: impl Into<String>) -> Self {
        Error::Config(msg.into())
    }
}

/// What an error status without a body says: its reason phrase, and that S3 gave no detail.
fn no_error_body(status: u16) -> String {
    let reason = match status {
        301 => "Moved Permanently (the bucket is in another region)",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        412 => "Precondition Failed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "error",
    };
    format!("{reason}, with no error body to say more")
}

impl From<s3_encryption::Error> for Error {
    fn from(e: s3_encryption::Error) -> Self {
        Error::Crypto(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound { bucket, key } => write!(f, "s3://{bucket}/{key} does not exist"),
            Error::NotEncrypted { bucket, key } => write!(
                f,
                "s3://{bucket}/{key} is not S3EC-encrypted: it has no envelope in its metadata and no instruction file"
            ),
            Error::Crypto(e) => write!(f, "{e}"),
            Error::KmsRefused(m) => write!(f, "KMS refused: {m}"),
            Error::ObjectChanged => f.write_str(
                "the object changed between the verification pass and the release pass; read it again",
            ),
            Error::RangeNotSatisfiable {
                range,
                plaintext_len,
            } => write!(
                f,
                "range {range} is not satisfiable: the plaintext is {plaintext_len} bytes (HTTP 416)"
            ),
            Error::Refused(m) => write!(f, "refused: {m}"),
            Error::Config(m) => write!(f, "{m}"),
            Error::S3 {
                operation,
                status,
                code,
                source,
            } => {
                write!(f, "S3 {operation} failed")?;
                if let Some(s) = status {
                    write!(f, " (HTTP {s}")?;
                    if let Some(c) = code {
                        write!(f, " {c}")?;
                    }
                    f.write_str(")")?;
                }
                write!(f, ": {source}")
            }
            Error::Kms { operation, source } => write!(f, "KMS {operation} failed: {source}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Keyring(e) => write!(f, "{e}"),
            Error::Internal(what) => write!(f, "internal error, please report it: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Crypto(e) => Some(e),
            Error::Io(e) => Some(e),
            Error::Keyring(e) => Some(e),
            Error::S3 { source, .. } | Error::Kms { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// Shorthand for the transport's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(status: Option<u16>, code: Option<&str>) -> Error {
        Error::S3 {
            operation: "HeadObject",
            status,
            code: code.map(str::to_owned),
            source: "x".into(),
        }
    }

    #[test]
    fn transient_failures_are_retryable_and_verdicts_are_not() {
        for e in [
            s3(Some(503), Some("SlowDown")),
            s3(Some(500), None),
            s3(Some(400), Some("RequestTimeout")),
            s3(None, None),
            Error::Kms {
                operation: "Decrypt",
                source: "ThrottlingException: rate exceeded".into(),
            },
            Error::Crypto(s3_encryption::Error::RequestFailed { status: 503 }),
        ] {
            assert!(e.is_retryable(), "{e}");
            assert!(!e.is_precondition_failed(), "{e}");
        }
        for e in [
            s3(Some(403), Some("AccessDenied")),
            s3(Some(404), None),
            Error::KmsRefused("Decrypt: IncorrectKeyException".into()),
            Error::Crypto(s3_encryption::Error::Authentication),
            Error::Crypto(s3_encryption::Error::ReadBackMismatch),
        ] {
            assert!(!e.is_retryable(), "{e}");
        }
        for e in [
            s3(Some(412), Some("PreconditionFailed")),
            Error::ObjectChanged,
            Error::Crypto(s3_encryption::Error::ObjectChanged),
        ] {
            assert!(e.is_precondition_failed(), "{e}");
            assert!(!e.is_retryable(), "{e}");
        }
    }
}
