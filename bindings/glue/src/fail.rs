//! [`Fail`]: an error as the JavaScript package sees it, with the core's `code`, the
//! `errorClass` and, for a failed request, the `status`. Each host turns it into an `Error`.

use s3_encryption::{Error, ErrorClass};

/// A result of the bindings.
pub type R<T> = Result<T, Fail>;

/// An error thrown to JavaScript.
#[derive(Debug, Clone, PartialEq)]
pub struct Fail {
    /// The message.
    pub message: String,
    /// The core's variant name, or `InvalidArgument` for a value of the wrong shape.
    pub code: &'static str,
    /// `format`, `policy`, `authentication`, `usage`, `storage`, `keyring`, or `internal` (a
    /// machine driven out of order: the package's bug, not the user's).
    pub class: &'static str,
    /// For `RequestFailed`: the HTTP status (0 for none).
    pub status: Option<u16>,
    /// For `BufferTooSmall`: the bytes needed.
    pub required: Option<u64>,
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        let class = match e.class() {
            ErrorClass::Format => "format",
            ErrorClass::Policy => "policy",
            ErrorClass::Authentication => "authentication",
            ErrorClass::Storage => "storage",
            ErrorClass::Keyring => "keyring",
            ErrorClass::Internal => "internal",
            _ if matches!(e, Error::ApiMisuse(_)) => "internal",
            _ => "usage",
        };
        Fail {
            message: e.to_string(),
            code: e.code(),
            class,
            status: match e {
                Error::RequestFailed { status } => Some(status),
                _ => None,
            },
            required: match e {
                Error::BufferTooSmall { required } => Some(required as u64),
                _ => None,
            },
        }
    }
}

/// A usage error raised by the bindings themselves (a JavaScript value of the wrong shape).
pub fn usage(what: &str) -> Fail {
    Fail {
        message: what.into(),
        code: "InvalidArgument",
        class: "usage",
        status: None,
        required: None,
    }
}

/// The package drove a machine out of order.
pub(crate) fn out_of_order() -> Fail {
    Error::Internal("the package called the machine out of order").into()
}

/// `Result<T, Error>` as a binding result.
pub(crate) trait Core<T> {
    /// Convert the error.
    fn c(self) -> R<T>;
}

impl<T> Core<T> for Result<T, Error> {
    fn c(self) -> R<T> {
        self.map_err(Fail::from)
    }
}
