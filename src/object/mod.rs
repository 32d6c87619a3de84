//! The S3EC object protocol as sans-IO machines: which requests to make, in which order, how
//! each response is checked, how a large object is verified before release, and how multipart
//! parts and the tag are planned.
//!
//! Every machine is driven the same way (the quinn-proto / str0m shape): ask it what it needs
//! with `poll`, perform that (an S3 request, a key unwrap, a part encryption), and hand back
//! what came. The machine checks every response against the request it made — status,
//! `Content-Range`, `Content-Length`, ETag, version id, and the bytes actually received — and a
//! mismatch is an error, never a guess. Every cap (instruction file, metadata, parts) holds on
//! the bytes received, whatever the headers say.
//!
//! * [`GetObject`]: a verified read. Nothing leaves it unless it is authenticated: the object is
//!   verified in the caller's buffer when it fits the memory budget; or copied once into the
//!   caller's random-access storage (a file) and then decrypted in place; or read twice, pass two
//!   releasing each 1 MiB chunk only after its bytes match what pass one authenticated (their
//!   GHASH under the object's secret hash key, which the store cannot forge). Ranged reads and
//!   delayed authentication are opt-ins named as in the spec.
//! * [`PutObject`]: a single PutObject or a multipart upload whose parts are encrypted as
//!   independent segments of one GCM stream, on any thread and in any order; the combined tag
//!   goes on the last part. Any failure yields an `AbortMultipartUpload`.
//! * [`DescribeObject`]: an object's envelope without a key (HEAD, and the instruction file).
//! * [`DeleteObject`]: the object and, when it has one, its instruction file.
//! * [`RotateInstructionFile`]: re-encrypt an instruction file under a new key (key rotation
//!   without touching the object).
//! * [`migrate`] (feature `alloc`): migrate one object to V3, or re-wrap its data key, reusing the
//!   machines above.
//!
//! The machines allocate nothing: body bytes live in the caller's buffers, and the machine
//! decrypts them in place only once they are verified.

mod delete;
mod describe;
mod get;
mod head;
mod ifile;
mod lookup;
#[cfg(feature = "alloc")]
pub mod migrate;
mod put;
mod request;
mod rotate;
mod text;

pub use delete::{DeleteDone, DeleteNext, DeleteObject};
pub use describe::{DescribeNext, DescribeObject};
pub use get::{
    DEFAULT_PARALLEL_PART, DIGEST_CHUNK, Feed, GetDone, GetIntent, GetNext, GetObject,
    MAX_CONNECTIONS, ReadMode, Released, Verification,
};
pub use head::ObjectHead;
pub use put::{
    EncryptedPart, MAX_PARTS_IN_FLIGHT, PartEncryptor, PartJob, PutDone, PutIntent, PutNext,
    PutObject, SingleBody,
};
pub use request::{CopySource, FullKey, Operation, RangeValue, Request, RequestBody, RequestId};
pub use rotate::{RotateDone, RotateInstructionFile, RotateIntent, RotateNext};

/// The largest instruction file a machine reads: bytes past it are refused whatever the headers
/// say. Any real envelope fits the 8 KiB envelope storage ([`crate::ARENA_CAPACITY`]).
pub const INSTRUCTION_FILE_LIMIT: usize = 16 * 1024;

/// The most user-metadata bytes (names and values of `x-amz-meta-*` headers) a response may carry
/// (S3 itself allows 2 KB); more is [`crate::Error::TooLarge`].
pub const METADATA_LIMIT: usize = 16 * 1024;

/// The most headers a response may carry; more is [`crate::Error::TooLarge`].
pub const HEADER_COUNT_LIMIT: usize = 512;
