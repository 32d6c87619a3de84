//! Multipart upload part rules: S3's limits and the GCM stream's, in one plan. Non-final parts
//! are multiples of 16 bytes and at least 5 MiB; the last part carries the 16-byte tag.

use crate::error::{Error, Result};
use crate::gcm::GCM_MAX_PLAINTEXT;
use crate::suite::TAG_LEN;

/// Encrypted body length for a plaintext of `plaintext_len` bytes (V2 and V3: plus the tag).
pub const fn ciphertext_len(plaintext_len: u64) -> u64 {
    plaintext_len + TAG_LEN as u64
}

/// One part of a multipart upload plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// S3 part number, from 1.
    pub number: u32,
    /// Offset of the part's plaintext in the object.
    pub plaintext_offset: u64,
    /// Plaintext bytes in this part.
    pub plaintext_len: u64,
    /// Bytes uploaded for this part (the last part carries the 16-byte tag).
    pub upload_len: u64,
}

/// A multipart upload plan: non-final parts are multiples of 16 bytes and at least 5 MiB, at most
/// 10,000 parts, each at most 5 GiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    plaintext_len: u64,
    part_size: u64,
    parts: u32,
}

/// S3's minimum size of a non-final part.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's maximum part size.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's maximum number of parts.
pub const MAX_PARTS: u64 = 10_000;

impl PartPlan {
    /// Plan parts of about `preferred` bytes (rounded down to a multiple of 16, raised to 5 MiB,
    /// and grown when 10,000 parts would not hold the object).
    pub fn new(plaintext_len: u64, preferred: u64) -> Result<Self> {
        if plaintext_len > GCM_MAX_PLAINTEXT {
            return Err(Error::MessageTooLong);
        }
        let mut size = (preferred.clamp(MIN_PART_SIZE, MAX_PART_SIZE)) / 16 * 16;
        let min_for_count = plaintext_len.div_ceil(MAX_PARTS).div_ceil(16) * 16;
        if size < min_for_count {
            size = min_for_count;
        }
        if size > MAX_PART_SIZE {
            return Err(Error::TooLarge);
        }
        let parts = if plaintext_len == 0 {
            1
        } else {
            plaintext_len.div_ceil(size)
        };
        // The last part also carries the tag; S3's 5 GiB limit applies to it too.
        let last = plaintext_len - (parts - 1) * size + 16;
        if last > MAX_PART_SIZE {
            return Err(Error::TooLarge);
        }
        Ok(PartPlan {
            plaintext_len,
            part_size: size,
            parts: parts as u32,
        })
    }
    /// Number of parts.
    pub fn len(&self) -> u32 {
        self.parts
    }
    /// Always false: an empty object is one (empty, tag-only) part.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// The size of every non-final part.
    pub fn part_size(&self) -> u64 {
        self.part_size
    }
    /// The parts, in order.
    pub fn parts(&self) -> impl Iterator<Item = Part> + '_ {
        (0..self.parts).map(move |i| {
            let off = i as u64 * self.part_size;
            let len = if i + 1 == self.parts {
                self.plaintext_len - off
            } else {
                self.part_size
            };
            let upload = if i + 1 == self.parts { len + 16 } else { len };
            Part {
                number: i + 1,
                plaintext_offset: off,
                plaintext_len: len,
                upload_len: upload,
            }
        })
    }
}
