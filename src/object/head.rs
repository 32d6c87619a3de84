//! Response heads: the few headers the protocol depends on, read strictly, and the envelope
//! entries of the user metadata, kept (within caps) until the envelope can be parsed.

use super::text::Text;
use super::{HEADER_COUNT_LIMIT, METADATA_LIMIT};
use crate::envelope::keys::is_envelope_key;
use crate::error::{Error, Result};

/// What a response said about the object it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjectHead {
    pub(crate) stored_len: u64,
    pub(crate) etag: Option<Text<256>>,
    pub(crate) version_id: Option<Text<1024>>,
}

impl ObjectHead {
    /// The stored (ciphertext) length.
    pub fn stored_len(&self) -> u64 {
        self.stored_len
    }
    /// The ETag.
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_ref().map(|t| t.as_str())
    }
    /// The version id (versioned buckets).
    pub fn version_id(&self) -> Option<&str> {
        self.version_id.as_ref().map(|t| t.as_str())
    }
}

/// Whether two ETags name the same entity: compared without their quotes (stores differ in
/// whether an XML answer, such as CompleteMultipartUpload's, quotes it).
pub(crate) fn same_etag(a: &str, b: &str) -> bool {
    a.trim().trim_matches('"') == b.trim().trim_matches('"')
}

/// The headers of one response that the protocol checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseHead {
    pub(crate) status: u16,
    pub(crate) content_length: Option<u64>,
    /// `Content-Range: bytes first-last/total` (total `None` for `*`).
    pub(crate) content_range: Option<(u64, u64, Option<u64>)>,
    pub(crate) etag: Option<Text<256>>,
    pub(crate) version_id: Option<Text<1024>>,
}

fn number(v: &str) -> Result<u64> {
    let t = v.trim();
    if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::UnexpectedResponse("a number header is malformed"));
    }
    t.parse()
        .map_err(|_| Error::UnexpectedResponse("a number header is malformed"))
}

fn content_range(v: &str) -> Result<(u64, u64, Option<u64>)> {
    let bad = Error::UnexpectedResponse("Content-Range is malformed");
    let r = v.trim().strip_prefix("bytes ").ok_or(bad)?;
    let (span, total) = r.split_once('/').ok_or(bad)?;
    let (a, b) = span.split_once('-').ok_or(bad)?;
    let (a, b) = (number(a).map_err(|_| bad)?, number(b).map_err(|_| bad)?);
    let total = match total.trim() {
        "*" => None,
        t => Some(number(t).map_err(|_| bad)?),
    };
    if b < a || total.is_some_and(|t| b >= t) {
        return Err(bad);
    }
    Ok((a, b, total))
}

/// The envelope entries of a response's user metadata, copied out of the headers (names without
/// `x-amz-meta-`), so the envelope can be parsed once an instruction file arrives.
#[derive(Clone)]
pub(crate) struct EnvelopeMetadata {
    buf: [u8; 8192],
    used: usize,
    spans: [(u16, u16, u16, u16); 16],
    n: usize,
}

impl EnvelopeMetadata {
    pub(crate) const fn new() -> Self {
        EnvelopeMetadata {
            buf: [0; 8192],
            used: 0,
            spans: [(0, 0, 0, 0); 16],
            n: 0,
        }
    }

    fn push(&mut self, name: &str, value: &str) -> Result<()> {
        if self.n == self.spans.len() {
            // More envelope keys than there are: repeated keys.
            return Err(Error::AmbiguousFormat);
        }
        let need = name.len() + value.len();
        if self.used + need > self.buf.len() {
            return Err(Error::TooLarge);
        }
        let a = self.used;
        self.buf[a..a + name.len()].copy_from_slice(name.as_bytes());
        let b = a + name.len();
        self.buf[b..b + value.len()].copy_from_slice(value.as_bytes());
        self.used = b + value.len();
        self.spans[self.n] = (a as u16, name.len() as u16, b as u16, value.len() as u16);
        self.n += 1;
        Ok(())
    }

    /// The kept `(name, value)` pairs.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.spans[..self.n].iter().map(|&(a, al, b, bl)| {
            let s = |o: u16, l: u16| {
                core::str::from_utf8(&self.buf[o as usize..(o + l) as usize]).unwrap_or("")
            };
            (s(a, al), s(b, bl))
        })
    }

    /// Whether any envelope key was present.
    pub(crate) fn is_empty(&self) -> bool {
        self.n == 0
    }
}

impl Drop for EnvelopeMetadata {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.buf[..]);
    }
}

fn strip_meta(name: &str) -> Option<&str> {
    let n = name.trim();
    (n.len() > 11 && n.as_bytes()[..11].eq_ignore_ascii_case(b"x-amz-meta-")).then(|| &n[11..])
}

/// Read a response's status and headers: at most [`HEADER_COUNT_LIMIT`] headers and
/// [`METADATA_LIMIT`] bytes of user metadata; a repeated protocol header is refused. The envelope
/// entries of the user metadata go to `meta` when given.
pub(crate) fn read_head<'h, I>(
    status: u16,
    headers: I,
    mut meta: Option<&mut EnvelopeMetadata>,
) -> Result<ResponseHead>
where
    I: IntoIterator<Item = (&'h str, &'h str)>,
{
    let mut h = ResponseHead {
        status,
        content_length: None,
        content_range: None,
        etag: None,
        version_id: None,
    };
    let mut count = 0usize;
    let mut meta_bytes = 0usize;
    let repeated = Error::UnexpectedResponse("a response header is repeated");
    for (name, value) in headers {
        count += 1;
        if count > HEADER_COUNT_LIMIT {
            return Err(Error::TooLarge);
        }
        let lname = name.trim();
        if let Some(m) = strip_meta(lname) {
            meta_bytes += m.len() + value.len();
            if meta_bytes > METADATA_LIMIT {
                return Err(Error::TooLarge);
            }
            if is_envelope_key(m)
                && let Some(store) = meta.as_deref_mut()
            {
                store.push(m, value)?;
            }
            continue;
        }
        if lname.eq_ignore_ascii_case("content-length") {
            if h.content_length.replace(number(value)?).is_some() {
                return Err(repeated);
            }
        } else if lname.eq_ignore_ascii_case("content-range") {
            if h.content_range.replace(content_range(value)?).is_some() {
                return Err(repeated);
            }
        } else if lname.eq_ignore_ascii_case("etag") {
            let t = Text::from_str(value.trim())
                .map_err(|_| Error::UnexpectedResponse("the ETag is too long"))?;
            if h.etag.replace(t).is_some() {
                return Err(repeated);
            }
        } else if lname.eq_ignore_ascii_case("x-amz-version-id") {
            let v = value.trim();
            if v.is_empty() || v == "null" {
                continue;
            }
            let t = Text::from_str(v)
                .map_err(|_| Error::UnexpectedResponse("the version id is too long"))?;
            if h.version_id.replace(t).is_some() {
                return Err(repeated);
            }
        }
    }
    Ok(h)
}

impl ResponseHead {
    /// Map a failed status onto the error it means for a request of this kind.
    pub(crate) fn check_status(&self, pinned: bool) -> Result<()> {
        match self.status {
            200..=299 => Ok(()),
            404 => Err(Error::NotFound),
            // A pinned request (If-Match / versionId) whose precondition fails: the object changed.
            412 if pinned => Err(Error::ObjectChanged),
            416 => Err(Error::InvalidRange),
            s => Err(Error::RequestFailed { status: s }),
        }
    }

    /// The object identity this response describes.
    pub(crate) fn object(&self, stored_len: u64) -> ObjectHead {
        ObjectHead {
            stored_len,
            etag: self.etag,
            version_id: self.version_id,
        }
    }
}
