//! An S3 Batch Operations handler for AWS Lambda: for each task of an invocation it runs the
//! per-object migration of [`s3_encryption_transport`] (re-encrypt as V3, or re-wrap the data key
//! under a new key) and answers with the result codes S3 Batch Operations expects.
//!
//! * [`JobArgs`]: the operation and the keys, from the job's `userArguments` (schema 2.0) over the
//!   function's environment (`S3EC_*`, the only source for schema 1.0). KMS keys by id; AES or RSA
//!   keys only from files in the deployment package, named by environment variables.
//! * [`Handler::handle`]: event → tasks → results; testable without the Lambda runtime.
//! * [`result_of`]: an outcome or error → `Succeeded` / `TemporaryFailure` / `PermanentFailure`
//!   and a short result string without key material.
//!
//! The `bootstrap` binary is `lambda_runtime::run` around [`Handler::handle`]; README.md says how
//! to build, deploy and run it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod handler;

pub use args::{Env, JobArgs, KeySource};
pub use handler::{Handler, ResultCode, result_of};

pub use aws_lambda_events::event::s3::batch_job::{
    S3BatchJobEvent, S3BatchJobResponse, S3BatchJobResult,
};
