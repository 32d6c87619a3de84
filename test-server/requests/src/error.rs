//! The one error of this crate: which of the model's error answers a request earns.

use core::fmt;

/// Why a harness request was refused, in the terms of the model's two error shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed (a member of the wrong type, a missing member, an unknown
    /// name): the model's `GenericServerError`, HTTP 400.
    Malformed(String),
    /// The request asks for something this server does not offer: `GenericServerError`,
    /// HTTP 501.
    Unsupported(String),
    /// The S3EC refuses the configuration (a bad key, a legacy algorithm for writing, settings
    /// that contradict each other): the model's `S3EncryptionClientError`, which negative
    /// scenarios expect.
    Refused(String),
}

impl Error {
    /// The message, whichever the shape.
    pub fn message(&self) -> &str {
        match self {
            Error::Malformed(m) | Error::Unsupported(m) | Error::Refused(m) => m,
        }
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Error::Malformed(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}
