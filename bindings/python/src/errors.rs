//! The errors the binding raises. The classes are Python's (`s3ec.errors`): storage errors are
//! botocore `ClientError`s there, which a class made by `create_exception!` cannot be. This
//! module names each class and builds its instances through `s3ec.errors._from_core`.

use pyo3::prelude::*;
use s3_encryption::{Error, ErrorClass};

/// Build an instance of the `s3ec.errors` class `class`, with the core's error `code` and, for
/// storage errors, the HTTP status.
fn build(py: Python<'_>, class: &str, code: &str, msg: String, status: Option<u16>) -> PyErr {
    let made = py
        .import("s3ec.errors")
        .and_then(|m| m.getattr("_from_core"))
        .and_then(|f| f.call1((class, code, msg, status)));
    match made {
        Ok(v) => PyErr::from_value(v),
        Err(e) => e,
    }
}

/// Whether `e` is an instance of the `s3ec.errors` class `class`.
pub(crate) fn is_error(py: Python<'_>, e: &PyErr, class: &str) -> bool {
    py.import("s3ec.errors")
        .and_then(|m| m.getattr(class))
        .map(|t| e.value(py).is_instance(&t).unwrap_or(false))
        .unwrap_or(false)
}

macro_rules! error_class {
    ($name:ident, $code:literal) => {
        #[doc = concat!("`s3ec.errors.", stringify!($name), "`.")]
        pub(crate) struct $name;
        impl $name {
            /// A new instance with `msg`.
            pub(crate) fn new_err(msg: impl Into<String>) -> PyErr {
                let msg = msg.into();
                Python::attach(|py| build(py, stringify!($name), $code, msg, None))
            }
        }
    };
}

error_class!(UsageError, "Usage");

/// The Python exception for a core error.
pub(crate) fn py_error(py: Python<'_>, e: Error) -> PyErr {
    let msg = e.to_string();
    let (class, status) = match (e, e.class()) {
        (Error::NotEncrypted, _) => ("NotEncryptedError", None),
        (Error::NotFound, _) => ("NoSuchKeyError", Some(404)),
        (Error::ObjectChanged, _) => ("ObjectChangedError", None),
        (Error::UnsupportedWrap, _) => ("UnsupportedKeyError", None),
        (Error::RequestFailed { status }, _) => ("StorageError", Some(status)),
        (_, ErrorClass::Authentication) => ("AuthenticationError", None),
        (_, ErrorClass::Policy) => ("PolicyError", None),
        (_, ErrorClass::Format) => ("FormatError", None),
        (_, ErrorClass::Storage) => ("StorageError", None),
        (_, ErrorClass::Keyring) => ("KeyringError", None),
        // The binding drives the core's machines: a call out of order is its bug, not the user's.
        (_, ErrorClass::Internal) | (Error::ApiMisuse(_), _) => ("InternalError", None),
        _ => ("UsageError", None),
    };
    build(py, class, e.code(), msg, status)
}

/// A failure while driving: the core's error, or one raised by Python (transport, keyring, body).
pub(crate) enum Fail {
    /// The core's error.
    Core(Error),
    /// An exception raised by Python code.
    Py(PyErr),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Core(e)
    }
}
impl From<PyErr> for Fail {
    fn from(e: PyErr) -> Self {
        Fail::Py(e)
    }
}

impl Fail {
    /// The Python exception.
    pub(crate) fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            Fail::Core(e) => py_error(py, e),
            Fail::Py(e) => e,
        }
    }
}

/// A result whose error is a [`Fail`].
pub(crate) type R<T> = std::result::Result<T, Fail>;
