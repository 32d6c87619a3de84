//! Fixed-capacity copies of short response values (ETags, version ids, upload ids).

use crate::error::{Error, Result};

/// A string of at most `N` bytes held inline.
#[derive(Clone, Copy)]
pub(crate) struct Text<const N: usize> {
    buf: [u8; N],
    len: u16,
}

impl<const N: usize> Text<N> {
    pub(crate) const fn new() -> Self {
        Text {
            buf: [0; N],
            len: 0,
        }
    }

    /// A copy of `s`, or [`Error::TooLarge`] when it does not fit.
    pub(crate) fn from_str(s: &str) -> Result<Self> {
        let mut t = Self::new();
        if s.len() > N {
            return Err(Error::TooLarge);
        }
        t.buf[..s.len()].copy_from_slice(s.as_bytes());
        t.len = s.len() as u16;
        Ok(t)
    }

    pub(crate) fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

impl<const N: usize> core::fmt::Debug for Text<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> PartialEq for Text<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
