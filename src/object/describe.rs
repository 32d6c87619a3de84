//! The HEAD machine: describe an object's envelope without a key and without applying a policy
//! (for `inspect`, `ls`, `head`): its HEAD, then its instruction file when the metadata holds no
//! envelope (capped like every instruction-file read).

use super::head::{ObjectHead, read_head};
use super::lookup::EnvelopeLookup;
use super::request::{OneAtATime, Operation, Request, RequestId};
use crate::envelope::Envelope;
use crate::error::{Error, Result};

/// What [`DescribeObject::poll`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescribeNext {
    /// Make this request and report its response (the instruction file's GET with
    /// [`DescribeObject::body`] first).
    Send(RequestId),
    /// Finished: [`DescribeObject::envelope`] and [`DescribeObject::object`].
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Head,
    InstructionFile,
    Done,
}

/// A description of one object.
pub struct DescribeObject<'a> {
    bucket: &'a str,
    key: &'a str,
    version_id: Option<&'a str>,
    suffix: &'a str,
    step: Step,
    sent: OneAtATime,
    lookup: EnvelopeLookup,
    object: Option<ObjectHead>,
    ifile_object: Option<ObjectHead>,
    envelope: Option<Envelope>,
    error: Option<Error>,
}

impl core::fmt::Debug for DescribeObject<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DescribeObject")
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl<'a> DescribeObject<'a> {
    /// Describe `bucket/key` (a version, if given), its instruction file at `key + suffix`.
    pub fn new(
        bucket: &'a str,
        key: &'a str,
        version_id: Option<&'a str>,
        suffix: &'a str,
    ) -> Result<Self> {
        if suffix.is_empty() {
            return Err(Error::InvalidConfig);
        }
        Ok(DescribeObject {
            bucket,
            key,
            version_id,
            suffix,
            step: Step::Head,
            sent: OneAtATime::new(),
            lookup: EnvelopeLookup::new(),
            object: None,
            ifile_object: None,
            envelope: None,
            error: None,
        })
    }

    /// What the machine needs next.
    pub fn poll(&mut self) -> Result<DescribeNext> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.step == Step::Done {
            return Ok(DescribeNext::Done);
        }
        let id = self.sent.send();
        Ok(DescribeNext::Send(id))
    }

    /// The request `id`.
    pub fn request(&self, id: RequestId) -> Result<Request<'_>> {
        if !self.sent.is(id) {
            return Err(Error::ApiMisuse(
                "DescribeObject::request: not valid in this state",
            ));
        }
        Ok(match self.step {
            Step::Head => {
                let mut r = Request::new(id, Operation::HeadObject, self.bucket, self.key);
                r.version_id = self.version_id;
                r
            }
            Step::InstructionFile => {
                EnvelopeLookup::request(id, self.bucket, self.key, self.suffix)
            }
            Step::Done => {
                return Err(Error::ApiMisuse(
                    "DescribeObject::request: not valid in this state",
                ));
            }
        })
    }

    /// A piece of the instruction file's body; past
    /// [`INSTRUCTION_FILE_LIMIT`](super::INSTRUCTION_FILE_LIMIT) bytes it is refused
    /// ([`Error::InvalidMetadata`]).
    pub fn body(&mut self, id: RequestId, piece: &[u8]) -> Result<()> {
        if !self.sent.is(id) || self.step != Step::InstructionFile {
            return Err(Error::ApiMisuse(
                "DescribeObject::body: not valid in this state",
            ));
        }
        self.lookup
            .body(piece)
            .inspect_err(|&e| self.error = Some(e))
    }

    /// Report the response to `id`.
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
                h.check_status(false)?;
                let len = h
                    .content_length
                    .ok_or(Error::UnexpectedResponse("no Content-Length"))?;
                self.object = Some(h.object(len));
                if self.lookup.needs_instruction_file()? {
                    self.step = Step::InstructionFile;
                } else {
                    self.envelope = Some(self.lookup.envelope(None)?);
                    self.step = Step::Done;
                }
            }
            Step::InstructionFile => {
                let h = read_head(status, headers, None)?;
                self.lookup.answered(&h)?;
                let bytes = self.lookup.instruction_file()?;
                let len = h.content_length.unwrap_or(bytes.len() as u64);
                self.ifile_object = Some(h.object(len));
                self.envelope = Some(self.lookup.envelope(None)?);
                self.step = Step::Done;
            }
            Step::Done => {
                return Err(Error::ApiMisuse(
                    "DescribeObject::response: not valid in this state",
                ));
            }
        }
        Ok(())
    }

    /// The object, once its HEAD came back.
    pub fn object(&self) -> Option<&ObjectHead> {
        self.object.as_ref()
    }

    /// The instruction file read (its ETag and version), when the envelope came from one.
    pub fn instruction_file_object(&self) -> Option<&ObjectHead> {
        self.ifile_object.as_ref()
    }

    /// The envelope (parsed without a policy: never decrypt with it).
    pub fn envelope(&self) -> Option<&Envelope> {
        self.envelope.as_ref()
    }

    /// Whether the envelope came from the instruction file.
    pub fn instruction_file_used(&self) -> bool {
        self.lookup.used_instruction_file() || self.step == Step::InstructionFile
    }
}
