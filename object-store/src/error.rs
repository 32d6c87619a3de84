//! How the adapter's failures reach `object_store` callers.

use object_store::Error;

/// The `store` name every error of this adapter carries.
pub const STORE: &str = "EncryptedStore";

/// A core error as an `object_store` error: [`s3_encryption::Error::NotFound`] is
/// [`Error::NotFound`]; every other one is [`Error::Generic`] whose `source` is the core's
/// [`s3_encryption::Error`] (downcast it to match: `Authentication`, `ObjectChanged`,
/// `TruncatedBody`, …). The source never holds key material.
pub fn crypto(path: &object_store::path::Path, e: s3_encryption::Error) -> Error {
    match e {
        s3_encryption::Error::NotFound => Error::NotFound {
            path: path.to_string(),
            source: Box::new(e),
        },
        e => Error::Generic {
            store: STORE,
            source: Box::new(e),
        },
    }
}

/// The core error behind an `object_store` error made by [`crypto`], if any.
pub fn core_error(e: &Error) -> Option<s3_encryption::Error> {
    match e {
        Error::Generic { source, .. } | Error::NotFound { source, .. } => {
            source.downcast_ref::<s3_encryption::Error>().copied()
        }
        _ => None,
    }
}

pub(crate) fn is_not_found(e: &Error) -> bool {
    matches!(e, Error::NotFound { .. })
}
