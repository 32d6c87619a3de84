//! Range planning for ranged reads: which stored bytes to fetch for a plaintext range, and which
//! decrypted bytes to keep. Planning releases nothing; decrypting the fetched bytes is
//! unauthenticated and lives in [`crate::hazmat::ranged()`].

use crate::envelope::{ContentAlgorithm, Envelope};
use crate::error::{Error, Result};

/// A requested plaintext byte range, as in an HTTP `Range: bytes=` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last` (inclusive).
    Inclusive(u64, u64),
    /// `bytes=first-`.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Parse `bytes=a-b`, `bytes=a-` or `bytes=-n` (one range only).
    pub fn parse(s: &str) -> Result<Self> {
        let r = s.trim().strip_prefix("bytes=").ok_or(Error::InvalidRange)?;
        let (a, b) = r.split_once('-').ok_or(Error::InvalidRange)?;
        let num = |t: &str| -> Result<u64> {
            if t.is_empty() || t.len() > 20 || !t.bytes().all(|c| c.is_ascii_digit()) {
                return Err(Error::InvalidRange);
            }
            t.parse().map_err(|_| Error::InvalidRange)
        };
        match (a.trim(), b.trim()) {
            ("", n) => Ok(ByteRange::Suffix(num(n)?)),
            (a, "") => Ok(ByteRange::From(num(a)?)),
            (a, b) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a {
                    return Err(Error::InvalidRange);
                }
                Ok(ByteRange::Inclusive(a, b))
            }
        }
    }
}

/// What to fetch for a ranged read, and which decrypted bytes to keep (the AWS S3EC
/// specification, `decryption.md`, ranged gets: one block of slack before and after the
/// request, the end clamped to the object length minus the tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangePlan {
    pub(crate) content: ContentAlgorithm,
    /// First plaintext byte returned.
    pub first: u64,
    /// Number of plaintext bytes returned at most (CBC ranges that reach the end may return
    /// fewer: the padding is removed).
    pub len: u64,
    /// First stored-body byte to fetch.
    pub fetch_first: u64,
    /// Last stored-body byte to fetch (inclusive): use `Range: bytes=fetch_first-fetch_last`.
    pub fetch_last: u64,
    pub(crate) object_len: u64,
}

impl RangePlan {
    /// Plan a ranged read of an object whose stored body is `object_len` bytes. A range that runs
    /// past the end is clamped, like S3; one that starts past the end is [`Error::InvalidRange`]
    /// (S3 answers 416). For CBC (legacy) objects the plaintext length is not known from the body
    /// length: a suffix range needs [`RangePlan::for_envelope`] and the declared length.
    pub fn new(range: ByteRange, object_len: u64, content: ContentAlgorithm) -> Result<Self> {
        if content == ContentAlgorithm::AesCbc && matches!(range, ByteRange::Suffix(_)) {
            return Err(Error::InvalidRange);
        }
        Self::plan(range, object_len, content, None)
    }

    /// [`RangePlan::new`] for the object `envelope` describes: for CBC objects the declared
    /// plaintext length (`x-amz-unencrypted-content-length`), if present, bounds the range, so
    /// suffix ranges work.
    pub fn for_envelope(range: ByteRange, object_len: u64, envelope: &Envelope) -> Result<Self> {
        let content = envelope.content_algorithm();
        let known = match content {
            ContentAlgorithm::AesCbc => envelope.unencrypted_content_length(),
            _ => None,
        };
        if let Some(k) = known {
            // The declared length must fit the padded body.
            if k >= object_len || object_len - k > 16 {
                return Err(Error::LengthMismatch);
            }
        } else if content == ContentAlgorithm::AesCbc && matches!(range, ByteRange::Suffix(_)) {
            return Err(Error::InvalidRange);
        }
        Self::plan(range, object_len, content, known)
    }

    fn plan(
        range: ByteRange,
        object_len: u64,
        content: ContentAlgorithm,
        known_plain: Option<u64>,
    ) -> Result<Self> {
        let tag = content.tag_len();
        let plain_max = match known_plain {
            Some(k) => k,
            None => object_len.checked_sub(tag).ok_or(Error::InvalidRange)?,
        };
        if plain_max == 0 {
            return Err(Error::InvalidRange);
        }
        let (a, b) = match range {
            ByteRange::Inclusive(a, b) => (a, b),
            ByteRange::From(a) => (a, u64::MAX),
            ByteRange::Suffix(n) => {
                if n == 0 {
                    return Err(Error::InvalidRange);
                }
                (plain_max.saturating_sub(n), plain_max - 1)
            }
        };
        if a >= plain_max || b < a {
            return Err(Error::InvalidRange);
        }
        let b = b.min(plain_max - 1);
        let fetch_first = if a < 16 { 0 } else { a - a % 16 - 16 };
        let fetch_last = (b / 16 + 2)
            .saturating_mul(16)
            .saturating_sub(1)
            .min(object_len - 1);
        Ok(RangePlan {
            content,
            first: a,
            len: b - a + 1,
            fetch_first,
            fetch_last,
            object_len,
        })
    }
    /// The HTTP `Range` header value to send.
    pub fn fetch_header(&self) -> RangeHeader {
        RangeHeader(self.fetch_first, self.fetch_last)
    }
    /// Bytes to fetch.
    pub fn fetch_len(&self) -> u64 {
        self.fetch_last - self.fetch_first + 1
    }
}

/// Displays as `bytes=a-b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeHeader(u64, u64);

impl core::fmt::Display for RangeHeader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "bytes={}-{}", self.0, self.1)
    }
}
