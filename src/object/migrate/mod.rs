//! Migration of one object (feature `alloc`): re-encrypt it as V3, or re-wrap its data key under
//! a new keyring, without ever losing it or making it unreadable. The same per-object operation
//! serves a command-line run over a bucket and an S3 Batch Operations handler.
//!
//! * [`plan`](Source::plan): from a [`DescribeSource`] (HEAD and instruction file; a plain object
//!   is a source too) an owned [`Source`] snapshot, its [`ObjectForm`], and what to do: a plain
//!   object is reported and left alone; an object possibly in the target form is skipped when the
//!   new keyring opens it; the rest proceeds.
//! * [`Reencrypt`]: the old object read and verified (pinned), written back as V3 (conditional on
//!   its ETag), and the new object read back and compared (length, SHA-256 of the plaintext).
//! * [`RewrapInPlace`] and [`check_instruction_file_rewrap`]: the data key re-wrapped, the
//!   content kept (a server-side copy onto itself, or a new instruction file), read back.
//! * [`RemoveInstructionFile`] (opt-in): after a verified re-encryption, the source's superseded
//!   instruction file deleted, conditional on its ETag and re-checked first.
//!
//! What the new object carries: the user metadata, content type and tags, and the envelope
//! fields readers use to pick keys: the source's materials description (V1/V2 `x-amz-matdesc`,
//! V3 `x-amz-m`) becomes V3 `x-amz-m`, its KMS encryption context V3 `x-amz-t`, unless the new
//! key brings its own ([`Reencrypt::set_new_key`]).
//!
//! Decisions where the protocol leaves a choice:
//! * Tags are read by the driver (`GetObjectTagging`, pinned to the source version) and handed to
//!   [`Source::set_tagging`]; a re-encryption writes them with `x-amz-tagging`, a single-part copy
//!   keeps them (`x-amz-tagging-directive: COPY`), a multipart copy writes them on its
//!   CreateMultipartUpload.
//! * A re-encryption always writes metadata placement: an instruction-file write is two objects,
//!   which one `If-Match` cannot cover, and the PUT machine's cleanup of a half-written pair would
//!   delete the new object. The source's instruction file is left in place (readers take the
//!   envelope in the metadata first) and reported, unless the driver opts in to
//!   [`RemoveInstructionFile`].
//! * Nothing else is ever deleted: on a versioned bucket the source version stays, and is
//!   reported.
//!
//! Safety rules every step follows: each write is conditional on the source ETag (`If-Match`,
//! `x-amz-copy-source-if-match`), so a concurrent writer's newer object is never overwritten (a
//! 412 is [`Error::ObjectChanged`](crate::Error::ObjectChanged)); nothing is reported migrated
//! before the new object was read back and verified; on a versioned bucket the source version is
//! kept; an instruction file the new object no longer needs is left in place and reported
//! ([`ReencryptDone::instruction_file_left`]), or on request removed after the verification,
//! conditional on its own ETag.

mod cleanup;
mod describe;
mod plan;
mod reencrypt;
mod rewrap;

pub use cleanup::{RemoveInstructionFile, RemoveNext};
pub use describe::DescribeSource;
pub use plan::{MigrateTarget, NewKey, ObjectForm, Plan, Source, SourceFormat};
pub use reencrypt::{PlaintextDigest, Reencrypt, ReencryptDone};
pub use rewrap::{
    MAX_COPY_SIZE, RewrapDone, RewrapInPlace, RewrapIntent, RewrapNext,
    check_instruction_file_rewrap,
};
