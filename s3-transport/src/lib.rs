//! Placeholder for the aws-sdk-s3 / aws-sdk-kms binding of `s3-encryption` (its own issue fills it).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
