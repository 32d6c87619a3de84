//! The fixed storage an [`Envelope`](crate::Envelope) keeps its decoded values in: an append-only
//! arena of [`ARENA_CAPACITY`] bytes, addressed by [`Span`]s, wiped on drop.

use crate::error::{Error, Result};

/// Capacity in bytes of the fixed storage an [`crate::Envelope`] keeps its decoded values in
/// (encrypted data key, materials description, encryption context). S3 limits user metadata to
/// 2 KB, so only an unusually large instruction file can exceed it ([`Error::TooLarge`]).
pub const ARENA_CAPACITY: usize = 8192;

/// A position in an [`Arena`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u16,
    len: u16,
}

impl Span {
    pub(crate) fn len(self) -> usize {
        self.len as usize
    }
}

/// Fixed-capacity append-only byte storage.
#[derive(Clone)]
pub(crate) struct Arena {
    buf: [u8; ARENA_CAPACITY],
    len: usize,
}

impl Arena {
    pub(crate) const fn new() -> Self {
        Arena {
            buf: [0; ARENA_CAPACITY],
            len: 0,
        }
    }
    pub(crate) fn get(&self, s: Span) -> &[u8] {
        &self.buf[s.start as usize..s.start as usize + s.len as usize]
    }
    pub(crate) fn str(&self, s: Span) -> &str {
        // Every span holding text was validated as UTF-8 when it was stored.
        core::str::from_utf8(self.get(s)).unwrap_or("")
    }
    pub(crate) fn push(&mut self, b: &[u8]) -> Result<Span> {
        let start = self.len;
        let end = start.checked_add(b.len()).ok_or(Error::TooLarge)?;
        if end > ARENA_CAPACITY {
            return Err(Error::TooLarge);
        }
        self.buf[start..end].copy_from_slice(b);
        self.len = end;
        Ok(Span {
            start: start as u16,
            len: b.len() as u16,
        })
    }
    /// Reserve `n` bytes and let `f` fill them; `f` returns how many it used.
    pub(crate) fn fill(
        &mut self,
        n: usize,
        f: impl FnOnce(&mut [u8]) -> Result<usize>,
    ) -> Result<Span> {
        let start = self.len;
        let avail = ARENA_CAPACITY - start;
        let n = n.min(avail);
        let used = f(&mut self.buf[start..start + n])?;
        if used > n {
            return Err(Error::TooLarge);
        }
        self.len = start + used;
        Ok(Span {
            start: start as u16,
            len: used as u16,
        })
    }
    pub(crate) fn free(&self) -> usize {
        ARENA_CAPACITY - self.len
    }
    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = len.min(self.len)
    }
    pub(crate) fn used(&self) -> usize {
        self.len
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.buf[..]);
    }
}
