//! The DELETE machine: the object and, when it has one, its instruction file (as the spec asks
//! of DeleteObject). The instruction file is deleted only when the object's metadata says its
//! envelope lives there and the file parses as one, so an unrelated object that happens to be
//! named `<key>.instruction` is never removed.

use super::head::read_head;
use super::lookup::EnvelopeLookup;
use super::request::{OneAtATime, Operation, Request, RequestId};
use crate::error::{Error, Result};

/// What [`DeleteObject::poll`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteNext {
    /// Make this request and report its response (with [`DeleteObject::body`] for the
    /// instruction file's GET).
    Send(RequestId),
    /// Finished.
    Done(DeleteDone),
}

/// The result of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteDone {
    /// Whether the object existed.
    pub object: bool,
    /// Whether its instruction file was deleted too.
    pub instruction_file: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Head,
    GetInstructionFile,
    DeleteObject,
    DeleteInstructionFile,
    Done,
}

/// A delete of one object. Drive it with [`DeleteObject::poll`].
pub struct DeleteObject<'a> {
    bucket: &'a str,
    key: &'a str,
    suffix: &'a str,
    step: Step,
    sent: OneAtATime,
    lookup: EnvelopeLookup,
    exists: bool,
    with_ifile: bool,
    error: Option<Error>,
}

impl core::fmt::Debug for DeleteObject<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeleteObject")
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl<'a> DeleteObject<'a> {
    /// Delete `bucket/key` and its instruction file at `key + suffix`.
    pub fn new(bucket: &'a str, key: &'a str, suffix: &'a str) -> Result<Self> {
        if suffix.is_empty() {
            return Err(Error::InvalidConfig);
        }
        Ok(DeleteObject {
            bucket,
            key,
            suffix,
            step: Step::Head,
            sent: OneAtATime::new(),
            lookup: EnvelopeLookup::new(),
            exists: false,
            with_ifile: false,
            error: None,
        })
    }

    /// What the machine needs next.
    pub fn poll(&mut self) -> Result<DeleteNext> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(id) = self.sent.outstanding() {
            return Ok(DeleteNext::Send(id));
        }
        if self.step == Step::Done {
            return Ok(DeleteNext::Done(DeleteDone {
                object: self.exists,
                instruction_file: self.with_ifile,
            }));
        }
        let id = self.sent.send();
        Ok(DeleteNext::Send(id))
    }

    /// The request `id`.
    pub fn request(&self, id: RequestId) -> Result<Request<'_>> {
        if !self.sent.is(id) {
            return Err(Error::ApiMisuse(
                "DeleteObject::request: not valid in this state",
            ));
        }
        let (op, suffixed) = match self.step {
            Step::Head => (Operation::HeadObject, false),
            Step::GetInstructionFile => {
                return Ok(EnvelopeLookup::request(
                    id,
                    self.bucket,
                    self.key,
                    self.suffix,
                ));
            }
            Step::DeleteObject => (Operation::DeleteObject, false),
            Step::DeleteInstructionFile => (Operation::DeleteObject, true),
            Step::Done => {
                return Err(Error::ApiMisuse(
                    "DeleteObject::request: not valid in this state",
                ));
            }
        };
        let mut r = Request::new(id, op, self.bucket, self.key);
        if suffixed {
            r.key_suffix = self.suffix;
        }
        Ok(r)
    }

    /// A piece of the instruction file's body (its GET); past the cap the file is not one.
    pub fn body(&mut self, id: RequestId, piece: &[u8]) -> Result<()> {
        if !self.sent.is(id) || self.step != Step::GetInstructionFile {
            return Err(Error::ApiMisuse(
                "DeleteObject::body: not valid in this state",
            ));
        }
        // Past the cap the file is not an instruction file: it is kept (not deleted).
        let _ = self.lookup.body(piece);
        Ok(())
    }

    /// Report the response to `id`; for the instruction file's GET, after its body.
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
        match self.step {
            Step::Head => {
                let h = read_head(status, headers, Some(self.lookup.metadata_mut()))?;
                match h.check_status(false) {
                    Err(Error::NotFound) => {
                        self.step = Step::Done;
                        return Ok(());
                    }
                    r => r?,
                }
                self.exists = true;
                self.step = if self.lookup.needs_instruction_file()? {
                    Step::GetInstructionFile
                } else {
                    Step::DeleteObject
                };
            }
            Step::GetInstructionFile => {
                let h = read_head(status, headers, None)?;
                // The lookup's checks. No file, one past the cap, or one that is not the
                // object's envelope: only the object is deleted, the file (if any) is kept.
                // A malformed answer fails the delete, before anything is deleted.
                match self.lookup.answered(&h) {
                    Ok(()) => match self.lookup.envelope(None) {
                        Ok(_) => self.with_ifile = true,
                        Err(e @ Error::UnexpectedResponse(_)) => return Err(e),
                        Err(_) => {}
                    },
                    Err(
                        Error::NotEncrypted
                        | Error::InstructionFileRequired
                        | Error::InvalidMetadata(_),
                    ) => {}
                    Err(e) => return Err(e),
                }
                self.step = Step::DeleteObject;
            }
            Step::DeleteObject => {
                let h = read_head(status, headers, None)?;
                match h.check_status(false) {
                    Err(Error::NotFound) | Ok(()) => {}
                    Err(e) => return Err(e),
                }
                self.step = if self.with_ifile {
                    Step::DeleteInstructionFile
                } else {
                    Step::Done
                };
            }
            Step::DeleteInstructionFile => {
                let h = read_head(status, headers, None)?;
                match h.check_status(false) {
                    Err(Error::NotFound) | Ok(()) => {}
                    Err(e) => return Err(e),
                }
                self.step = Step::Done;
            }
            Step::Done => {
                return Err(Error::ApiMisuse(
                    "DeleteObject::response: not valid in this state",
                ));
            }
        }
        Ok(())
    }
}
