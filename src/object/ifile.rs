//! An instruction file's bytes, held by a machine: capped at [`INSTRUCTION_FILE_LIMIT`] on the
//! bytes received, and wiped on drop (it holds an encrypted data key and its description).

use super::INSTRUCTION_FILE_LIMIT;
use crate::error::{Error, Result};

pub(crate) struct InstructionFileBuf {
    buf: [u8; INSTRUCTION_FILE_LIMIT],
    len: usize,
    overflowed: bool,
}

impl InstructionFileBuf {
    pub(crate) const fn new() -> Self {
        InstructionFileBuf {
            buf: [0; INSTRUCTION_FILE_LIMIT],
            len: 0,
            overflowed: false,
        }
    }

    /// Append received bytes; past the cap the file is refused (not an envelope).
    pub(crate) fn push(&mut self, piece: &[u8]) -> Result<()> {
        if self.overflowed || self.len + piece.len() > self.buf.len() {
            self.overflowed = true;
            return Err(Error::InvalidMetadata("instruction file"));
        }
        self.buf[self.len..self.len + piece.len()].copy_from_slice(piece);
        self.len += piece.len();
        Ok(())
    }

    /// Whether more bytes came than the cap allows.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Replace the contents with what `write` renders (an instruction file to send).
    pub(crate) fn render(&mut self, write: impl FnOnce(&mut [u8]) -> Result<usize>) -> Result<()> {
        self.len = 0;
        self.len = write(&mut self.buf)?;
        Ok(())
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for InstructionFileBuf {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.buf[..]);
    }
}
