//! Removal of a superseded instruction file (opt-in): after a verified re-encryption the new
//! object keeps its envelope in its metadata, so the source's instruction file is no longer read.
//!
//! 1. A HEAD of the instruction file, pinned to the ETag it had when the object was described
//!    (`If-Match`): a 412 or another ETag means another writer replaced it since, and it is left
//!    ([`Error::ObjectChanged`]); a 404 means it is gone already.
//! 2. A `DeleteObject` of it, conditional on the same ETag (`If-Match`). The HEAD before it is the
//!    re-check for a store that ignores `If-Match` on DELETE: only a write in the instant between
//!    the two could then be lost.
//!
//! On a versioned bucket the DELETE adds a delete marker: the file's version is kept.

use super::plan::{Source, etag_eq};
use super::reencrypt::ReencryptDone;
use crate::error::{Error, Result};
use crate::object::head::read_head;
use crate::object::request::{OneAtATime, Operation, Request, RequestId};

/// What [`RemoveInstructionFile::poll`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveNext {
    /// Make this request ([`RemoveInstructionFile::request`]) and report its response
    /// ([`RemoveInstructionFile::response`]).
    Send(RequestId),
    /// Finished: whether this run removed the file (false: it was gone already).
    Done(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Check,
    Delete,
    Done,
}

/// The removal of one superseded instruction file: a HEAD pinned to the ETag it had when the
/// object was described, then a `DeleteObject` with `If-Match` on that ETag. A 412 or another
/// ETag leaves it ([`Error::ObjectChanged`]); a 404 means it is gone already.
pub struct RemoveInstructionFile<'a> {
    source: &'a Source,
    etag: &'a str,
    step: Step,
    sent: OneAtATime,
    removed: bool,
    error: Option<Error>,
}

impl core::fmt::Debug for RemoveInstructionFile<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RemoveInstructionFile")
            .field("key", &self.source.key)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl<'a> RemoveInstructionFile<'a> {
    /// Start: `done` is the verified re-encryption of `source`, whose envelope came from an
    /// instruction file ([`ReencryptDone::instruction_file_left`]) with an ETag.
    pub fn new(source: &'a Source, done: &ReencryptDone) -> Result<Self> {
        if !done.instruction_file_left || !source.instruction_file {
            return Err(Error::ApiMisuse(
                "RemoveInstructionFile::new: not valid in this state",
            ));
        }
        let etag = source
            .instruction_file_etag
            .as_deref()
            .ok_or(Error::UnexpectedResponse(
                "the instruction file has no ETag",
            ))?;
        Ok(RemoveInstructionFile {
            source,
            etag,
            step: Step::Check,
            sent: OneAtATime::new(),
            removed: false,
            error: None,
        })
    }

    /// What the machine needs next.
    pub fn poll(&mut self) -> Result<RemoveNext> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.step == Step::Done {
            return Ok(RemoveNext::Done(self.removed));
        }
        let id = self.sent.send();
        Ok(RemoveNext::Send(id))
    }

    /// The request `id`: the HEAD, then the DELETE, of `key + suffix`, both `If-Match` the ETag
    /// read.
    pub fn request(&self, id: RequestId) -> Result<Request<'_>> {
        if !self.sent.is(id) {
            return Err(Error::ApiMisuse(
                "RemoveInstructionFile::request: not valid in this state",
            ));
        }
        let op = match self.step {
            Step::Check => Operation::HeadObject,
            Step::Delete => Operation::DeleteObject,
            Step::Done => {
                return Err(Error::ApiMisuse(
                    "RemoveInstructionFile::request: not valid in this state",
                ));
            }
        };
        let s = self.source;
        let mut r = Request::new(id, op, &s.bucket, &s.key);
        r.key_suffix = &s.suffix;
        r.if_match = Some(self.etag);
        Ok(r)
    }

    /// Report the response to `id` (status and headers). A 412, or a HEAD with another ETag, is
    /// [`Error::ObjectChanged`]: the file is left.
    pub fn response<'h, I>(&mut self, id: RequestId, status: u16, headers: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        self.sent.answered(id)?;
        let r = self.response_inner(status, headers);
        r.inspect_err(|&e| self.error = Some(e))
    }

    fn response_inner<'h, I>(&mut self, status: u16, headers: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        let h = read_head(status, headers, None)?;
        match (self.step, h.check_status(true)) {
            (_, Err(Error::NotFound)) => self.step = Step::Done,
            (_, Err(e)) => return Err(e),
            (Step::Check, Ok(())) => {
                if !etag_eq(h.etag.as_ref().map(|e| e.as_str()), Some(self.etag)) {
                    return Err(Error::ObjectChanged);
                }
                self.step = Step::Delete;
            }
            (Step::Delete, Ok(())) => {
                self.removed = true;
                self.step = Step::Done;
            }
            (Step::Done, Ok(())) => {
                return Err(Error::ApiMisuse(
                    "RemoveInstructionFile::response: not valid in this state",
                ));
            }
        }
        Ok(())
    }
}
