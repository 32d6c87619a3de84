//! Finding an object's envelope, one way for every machine that needs it (GET, describe, delete,
//! rotate, and the migration through them): the envelope keys of the object's first answer (its
//! HEAD or GET) are kept; when they hold no envelope, the instruction file `key + suffix` is
//! fetched with one request shape, its answer gets one set of checks, and its bytes are capped
//! as they arrive, whatever the headers say.

use super::INSTRUCTION_FILE_LIMIT;
use super::head::{EnvelopeMetadata, ResponseHead};
use super::ifile::InstructionFileBuf;
use super::request::{Operation, Request, RequestId};
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::policy::DecryptPolicy;

/// The envelope's sources for one object: its metadata's envelope keys, and the instruction
/// file when one was fetched.
pub(crate) struct EnvelopeLookup {
    meta: EnvelopeMetadata,
    ifile: InstructionFileBuf,
    /// The instruction file's answer was checked.
    answered: bool,
    /// Its `Content-Length`, when it sent one.
    declared: Option<u64>,
}

impl EnvelopeLookup {
    pub(crate) const fn new() -> Self {
        EnvelopeLookup {
            meta: EnvelopeMetadata::new(),
            ifile: InstructionFileBuf::new(),
            answered: false,
            declared: None,
        }
    }

    /// Where the object's answer leaves its envelope keys (for `read_head`).
    pub(crate) fn metadata_mut(&mut self) -> &mut EnvelopeMetadata {
        &mut self.meta
    }

    /// After the object's answer: whether the envelope must come from the instruction file.
    pub(crate) fn needs_instruction_file(&self) -> Result<bool> {
        Envelope::needs_instruction_file(self.meta.pairs())
    }

    /// The error for an object that needs its instruction file when reading one is disabled:
    /// [`Error::NotEncrypted`] when the metadata names no envelope key (a plain object, as the
    /// instruction file's 404 would have said), else [`Error::InstructionFileRequired`].
    pub(crate) fn instruction_file_disabled(&self) -> Error {
        if self.meta.is_empty() {
            Error::NotEncrypted
        } else {
            Error::InstructionFileRequired
        }
    }

    /// The instruction file's GET: `key + suffix`, its body capped at
    /// [`INSTRUCTION_FILE_LIMIT`].
    pub(crate) fn request<'a>(
        id: RequestId,
        bucket: &'a str,
        key: &'a str,
        suffix: &'a str,
    ) -> Request<'a> {
        let mut r = Request::new(id, Operation::GetObject, bucket, key);
        r.key_suffix = suffix;
        r.response_body_limit = Some(INSTRUCTION_FILE_LIMIT as u64);
        r
    }

    /// A piece of the instruction file's body; past the cap it is not an instruction file
    /// ([`Error::InvalidMetadata`], and it stays refused).
    pub(crate) fn body(&mut self, piece: &[u8]) -> Result<()> {
        self.ifile.push(piece)
    }

    /// The instruction file's answer (before or after its body). A 404 is
    /// [`Error::NotEncrypted`] when the object named no envelope key (a plain object), else
    /// [`Error::InstructionFileRequired`]; a `Content-Range` is not an answer to a whole-file
    /// GET; a declared length past the cap is refused before any byte is read.
    pub(crate) fn answered(&mut self, h: &ResponseHead) -> Result<()> {
        match h.check_status(false) {
            Err(Error::NotFound) => {
                return Err(if self.meta.is_empty() {
                    Error::NotEncrypted
                } else {
                    Error::InstructionFileRequired
                });
            }
            r => r?,
        }
        if h.content_range.is_some() {
            return Err(Error::UnexpectedResponse(
                "an instruction file response carries a Content-Range",
            ));
        }
        if h.content_length
            .is_some_and(|l| l > INSTRUCTION_FILE_LIMIT as u64)
        {
            return Err(Error::InvalidMetadata("instruction file"));
        }
        self.answered = true;
        self.declared = h.content_length;
        Ok(())
    }

    /// The instruction file as received, once its answer and whole body came: refused when it
    /// overflowed the cap, is empty, or is not as long as its `Content-Length` said.
    pub(crate) fn instruction_file(&self) -> Result<&[u8]> {
        if !self.answered {
            return Err(Error::ApiMisuse(
                "the instruction file was asked for before it was read",
            ));
        }
        let got = self.ifile.bytes();
        if self.ifile.overflowed() || got.is_empty() {
            return Err(Error::InvalidMetadata("instruction file"));
        }
        if self.declared.is_some_and(|l| l != got.len() as u64) {
            return Err(Error::UnexpectedResponse(
                "the instruction file is not as long as its Content-Length",
            ));
        }
        Ok(got)
    }

    /// The envelope: from the metadata alone, or with the instruction file once it came. Under
    /// `policy`; `None` parses without one (to describe an object, never to decrypt it).
    pub(crate) fn envelope(&self, policy: Option<&DecryptPolicy>) -> Result<Envelope> {
        let ifile = if self.answered {
            Some(self.instruction_file()?)
        } else {
            None
        };
        match policy {
            Some(p) => Envelope::parse(self.meta.pairs(), ifile, p),
            None => Envelope::parse_unchecked(self.meta.pairs(), ifile),
        }
    }

    /// Whether the envelope came from an instruction file.
    pub(crate) fn used_instruction_file(&self) -> bool {
        self.answered
    }

    /// The buffer, to render a new instruction file into once the old one was parsed (rotation).
    pub(crate) fn buffer_mut(&mut self) -> &mut InstructionFileBuf {
        &mut self.ifile
    }

    /// The buffer's bytes (a new instruction file rendered into it).
    pub(crate) fn buffer(&self) -> &[u8] {
        self.ifile.bytes()
    }

    /// The envelope the rendered buffer makes beside the object's metadata, under `policy`.
    pub(crate) fn rendered_envelope(&self, policy: &DecryptPolicy) -> Result<Envelope> {
        Envelope::parse(self.meta.pairs(), Some(self.ifile.bytes()), policy)
    }
}
