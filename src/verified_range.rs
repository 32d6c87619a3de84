//! Authenticated ranged reads of GCM objects (feature `alloc`).
//!
//! A ranged GET of an S3EC object cannot be authenticated by itself: the GCM tag covers the
//! whole body. This module makes ranged reads authenticated at the cost of one verified pass
//! per object:
//!
//! 1. [`ChunkTableBuilder`] reads the whole stored body once (ciphertext ‖ tag), in pieces of
//!    any size, and checks the tag. While it does, it records the digest of every
//!    [`ChunkTable::chunk_size`] chunk of ciphertext: the chunk's GHASH under the object's hash
//!    key `H = AES_K(0¹²⁸)`, which only the key holder knows. Its [`finish`](ChunkTableBuilder::finish)
//!    returns a [`ChunkTable`] only if the tag verified.
//! 2. The driver keeps the table (it owns the data key in zeroizing, redacted storage, so it can
//!    never be used with another object's key), bound to the object it was built from: the ETag,
//!    the version id and the stored length ([`ChunkTable::check_object`]).
//! 3. For a plaintext range, [`ChunkTable::plan`] says which ciphertext bytes to fetch (whole
//!    chunks, never the tag); [`ChunkTable::open`] checks each fetched chunk against its digest
//!    in constant time, and only when **every** chunk matched decrypts them with CTR from the
//!    chunk's counter and tells which bytes are the asked-for plaintext.
//!
//! Why a chunk digest is as good as the tag for its bytes: GHASH under a secret `H` is a
//! universal hash; two different chunks of the same length collide for at most `L / 2¹²⁸` of
//! the keys (`L` blocks per chunk), and the store never sees `H` nor a digest (the digests stay
//! in the driver's memory and are wiped on drop). GHASH from a zero state ignores leading zero
//! blocks and trailing zero padding, so the length of every fetched chunk is fixed by the table
//! (chunks are `chunk_size` bytes, the last one what is left of the bound ciphertext length) and
//! any other length is refused. Chunks are multiples of 16 bytes, so every chunk starts on an AES
//! block and its counter is `2 + offset / 16`; a range that starts or ends inside a block is
//! served from the whole chunk. Chunk `i`'s bytes are compared with digest `i` only, so chunks
//! cannot be swapped. A failed check is [`Error::ObjectChanged`] (the bytes are not those that
//! were authenticated) and leaves no plaintext in the buffer.

use crate::decrypt::Decryptor;
use crate::error::{Error, Result};
use crate::gcm::Gcm;
use crate::parallel::{ParallelGcm, PartialGhash, TagAccumulator};
use alloc::string::String;
use alloc::vec::Vec;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// The default bytes per digest: 64 KiB (16 bytes of table per 64 KiB of object, 256 bytes per
/// MiB; a ranged read fetches at most two chunks more than it asks for).
pub const DEFAULT_TABLE_CHUNK: u64 = 64 << 10;

/// The smallest chunk size a table accepts.
pub const MIN_TABLE_CHUNK: u64 = 4 << 10;

/// The largest chunk size a table accepts.
pub const MAX_TABLE_CHUNK: u64 = 64 << 20;

const TAG: u64 = 16;

/// The object a table was built from. Every later read is pinned to it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Binding {
    etag: Option<String>,
    version_id: Option<String>,
    stored_len: u64,
}

/// Builds a [`ChunkTable`] from one streaming pass over the whole stored body.
pub struct ChunkTableBuilder {
    gcm: ParallelGcm,
    binding: Binding,
    chunk: u64,
    ct_len: u64,
    at: u64,
    engine: Option<Gcm<aes::Aes256>>,
    acc: TagAccumulator,
    digests: Vec<[u8; 16]>,
    tag: [u8; 16],
}

impl core::fmt::Debug for ChunkTableBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChunkTableBuilder")
            .field("stored_len", &self.binding.stored_len)
            .field("received", &self.at)
            .finish_non_exhaustive()
    }
}

impl ChunkTableBuilder {
    /// Start a table for the object whose decryptor is `decryptor` (GCM content only: legacy CBC
    /// is [`Error::LegacyModeDisabled`]), whose stored body (ciphertext ‖ 16-byte tag) is
    /// `stored_len` bytes, with the ETag and version id its response carried. `chunk` is the
    /// bytes per digest: a multiple of 16 from [`MIN_TABLE_CHUNK`] to [`MAX_TABLE_CHUNK`]
    /// ([`Error::InvalidConfig`] otherwise). A body shorter than the tag is
    /// [`Error::TruncatedBody`]; one over the GCM limit [`Error::MessageTooLong`].
    pub fn new(
        decryptor: &Decryptor,
        stored_len: u64,
        etag: Option<&str>,
        version_id: Option<&str>,
        chunk: u64,
    ) -> Result<Self> {
        if !(MIN_TABLE_CHUNK..=MAX_TABLE_CHUNK).contains(&chunk) || !chunk.is_multiple_of(16) {
            return Err(Error::InvalidConfig);
        }
        if decryptor.content_algorithm() == crate::ContentAlgorithm::AesCbc {
            return Err(Error::LegacyModeDisabled);
        }
        let ct_len = stored_len.checked_sub(TAG).ok_or(Error::TruncatedBody)?;
        if ct_len > crate::GCM_MAX_PLAINTEXT {
            return Err(Error::MessageTooLong);
        }
        let n = usize::try_from(ct_len.div_ceil(chunk)).map_err(|_| Error::TooLarge)?;
        let mut digests = Vec::new();
        digests.try_reserve_exact(n).map_err(|_| Error::TooLarge)?;
        let gcm = decryptor.parallel()?;
        let acc = gcm.accumulator();
        Ok(ChunkTableBuilder {
            gcm,
            binding: Binding {
                etag: etag.map(String::from),
                version_id: version_id.map(String::from),
                stored_len,
            },
            chunk,
            ct_len,
            at: 0,
            engine: None,
            acc,
            digests,
            tag: [0; 16],
        })
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.at
    }

    /// Feed the next piece of the stored body (any size). Bytes past the stored length are
    /// [`Error::UnexpectedResponse`].
    pub fn update(&mut self, mut piece: &[u8]) -> Result<()> {
        if piece.len() as u64 > self.binding.stored_len - self.at {
            return Err(Error::UnexpectedResponse(
                "the body is longer than the object's length",
            ));
        }
        while !piece.is_empty() {
            if self.at >= self.ct_len {
                let k = (self.at - self.ct_len) as usize;
                let n = piece.len().min(16 - k);
                self.tag[k..k + n].copy_from_slice(&piece[..n]);
                piece = &piece[n..];
                self.at += n as u64;
                continue;
            }
            let chunk_start = self.at / self.chunk * self.chunk;
            let chunk_end = (chunk_start + self.chunk).min(self.ct_len);
            let n = (piece.len() as u64).min(chunk_end - self.at) as usize;
            let g = self
                .engine
                .get_or_insert_with(|| self.gcm.segment_engine(chunk_start));
            g.authenticate_only(&piece[..n])?;
            piece = &piece[n..];
            self.at += n as u64;
            if self.at == chunk_end {
                let g = self
                    .engine
                    .take()
                    .ok_or(Error::Internal("no GHASH engine at the end of a chunk"))?;
                let value = g.partial();
                let p = PartialGhash::from_parts(chunk_start, chunk_end - chunk_start, value);
                self.gcm.absorb(&mut self.acc, &p)?;
                self.digests.push(value);
            }
        }
        Ok(())
    }

    /// The body ended: a short body is [`Error::TruncatedBody`], a wrong tag
    /// [`Error::Authentication`]; otherwise the verified table.
    pub fn finish(mut self) -> Result<ChunkTable> {
        if self.at != self.binding.stored_len {
            return Err(Error::TruncatedBody);
        }
        let acc = self.acc.clone();
        let t = self.gcm.finish_tag(acc);
        if !bool::from(t.ct_eq(&self.tag)) {
            return Err(Error::Authentication);
        }
        Ok(ChunkTable {
            gcm: self.gcm.clone(),
            binding: core::mem::replace(
                &mut self.binding,
                Binding {
                    etag: None,
                    version_id: None,
                    stored_len: 0,
                },
            ),
            chunk: self.chunk,
            ct_len: self.ct_len,
            digests: core::mem::take(&mut self.digests),
        })
    }
}

impl Drop for ChunkTableBuilder {
    fn drop(&mut self) {
        self.digests.iter_mut().for_each(Zeroize::zeroize);
        self.tag.zeroize();
    }
}

/// The verified digest table of one object: its key material, its chunk digests, and the
/// object it was built from. See the [module documentation](self).
pub struct ChunkTable {
    gcm: ParallelGcm,
    binding: Binding,
    chunk: u64,
    ct_len: u64,
    digests: Vec<[u8; 16]>,
}

impl core::fmt::Debug for ChunkTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChunkTable")
            .field("etag", &self.binding.etag)
            .field("version_id", &self.binding.version_id)
            .field("stored_len", &self.binding.stored_len)
            .field("chunk", &self.chunk)
            .field("digests", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Drop for ChunkTable {
    fn drop(&mut self) {
        self.digests.iter_mut().for_each(Zeroize::zeroize);
    }
}

/// Which stored bytes to fetch for a plaintext range ([`ChunkTable::plan`]), and where the
/// asked-for plaintext lies in them once [`ChunkTable::open`]ed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkFetch {
    /// First stored byte to fetch (a chunk boundary).
    pub first: u64,
    /// One past the last stored byte to fetch (a chunk boundary, or the end of the ciphertext).
    pub end: u64,
    /// The asked-for plaintext range, `[start, end)` in object offsets.
    pub plaintext: (u64, u64),
}

impl ChunkFetch {
    /// Bytes to fetch.
    pub fn len(&self) -> u64 {
        self.end - self.first
    }
    /// Whether nothing is fetched (an empty range).
    pub fn is_empty(&self) -> bool {
        self.end == self.first
    }
}

impl ChunkTable {
    /// The plaintext length of the object (its ciphertext length: GCM adds only the tag).
    pub fn plaintext_len(&self) -> u64 {
        self.ct_len
    }
    /// The stored length the table was built from (ciphertext and tag).
    pub fn stored_len(&self) -> u64 {
        self.binding.stored_len
    }
    /// Bytes per digest.
    pub fn chunk_size(&self) -> u64 {
        self.chunk
    }
    /// The ETag of the object the table was built from.
    pub fn etag(&self) -> Option<&str> {
        self.binding.etag.as_deref()
    }
    /// The version id of the object the table was built from.
    pub fn version_id(&self) -> Option<&str> {
        self.binding.version_id.as_deref()
    }
    /// Heap and inline bytes this table holds (for caches bounded in bytes).
    pub fn memory_size(&self) -> usize {
        core::mem::size_of::<Self>()
            + self.digests.capacity() * 16
            + self.binding.etag.as_ref().map_or(0, String::capacity)
            + self.binding.version_id.as_ref().map_or(0, String::capacity)
    }

    /// Check that a response describes the object this table was built from: the same ETag and
    /// version id (where the table has them) and, when given, the same stored length. Anything
    /// else is [`Error::ObjectChanged`].
    pub fn check_object(
        &self,
        etag: Option<&str>,
        version_id: Option<&str>,
        stored_len: Option<u64>,
    ) -> Result<()> {
        let same = |want: &Option<String>, got: Option<&str>| match want {
            Some(w) => got == Some(w.as_str()),
            None => true,
        };
        if !same(&self.binding.etag, etag)
            || !same(&self.binding.version_id, version_id)
            || stored_len.is_some_and(|n| n != self.binding.stored_len)
        {
            return Err(Error::ObjectChanged);
        }
        Ok(())
    }

    /// The stored bytes to fetch for the plaintext range `[start, end)`: the whole chunks that
    /// cover it. A range past the plaintext length, or with `end < start`, is
    /// [`Error::InvalidRange`]; an empty range fetches nothing.
    pub fn plan(&self, start: u64, end: u64) -> Result<ChunkFetch> {
        if end < start || end > self.ct_len {
            return Err(Error::InvalidRange);
        }
        if start == end {
            return Ok(ChunkFetch {
                first: start,
                end: start,
                plaintext: (start, end),
            });
        }
        let first = start / self.chunk * self.chunk;
        let last = (end.div_ceil(self.chunk) * self.chunk).min(self.ct_len);
        Ok(ChunkFetch {
            first,
            end: last,
            plaintext: (start, end),
        })
    }

    /// The smallest fetch covering both `a` and `b` (for coalescing adjacent or overlapping
    /// ranges into one request); its plaintext range spans both.
    pub fn merge(&self, a: &ChunkFetch, b: &ChunkFetch) -> Result<ChunkFetch> {
        self.plan(
            a.plaintext.0.min(b.plaintext.0),
            a.plaintext.1.max(b.plaintext.1),
        )
    }

    /// Authenticate and decrypt the fetched bytes of `fetch` in place. `body` must be exactly
    /// the stored bytes `[fetch.first, fetch.end)` (another length is
    /// [`Error::UnexpectedResponse`]; a `fetch` that is not on this table's chunk boundaries
    /// [`Error::InvalidRange`]). Every chunk is compared with its digest in constant time before
    /// any is decrypted; a mismatch is [`Error::ObjectChanged`] and leaves `body` as it came
    /// (ciphertext). On success `body` holds the plaintext of the fetched chunks and the returned
    /// range is where the asked-for bytes lie in it.
    pub fn open(&self, fetch: &ChunkFetch, body: &mut [u8]) -> Result<core::ops::Range<usize>> {
        let (start, end) = fetch.plaintext;
        if fetch.is_empty() && start == end && start == fetch.first && end <= self.ct_len {
            // An empty range: nothing to fetch, nothing to release.
            return if body.is_empty() {
                Ok(0..0)
            } else {
                Err(Error::UnexpectedResponse(
                    "a ranged body does not have the length asked for",
                ))
            };
        }
        if fetch.end > self.ct_len
            || fetch.first > fetch.end
            || !fetch.first.is_multiple_of(self.chunk)
            || !(fetch.end.is_multiple_of(self.chunk) || fetch.end == self.ct_len)
            || start < fetch.first
            || end > fetch.end
            || start > end
        {
            return Err(Error::InvalidRange);
        }
        if body.len() as u64 != fetch.len() {
            return Err(Error::UnexpectedResponse(
                "a ranged body does not have the length asked for",
            ));
        }
        // Check every chunk before decrypting any, so a failure leaves no plaintext behind.
        let mut ok = subtle::Choice::from(1u8);
        let mut at = fetch.first;
        for piece in body.chunks(self.chunk as usize) {
            let idx = usize::try_from(at / self.chunk).map_err(|_| Error::InvalidRange)?;
            let want = self.digests.get(idx).ok_or(Error::InvalidRange)?;
            let mut g = self.gcm.segment_engine(at);
            g.authenticate_only(piece)?;
            let mut got = g.partial();
            ok &= got.ct_eq(want);
            got.zeroize();
            at += piece.len() as u64;
        }
        if !bool::from(ok) {
            return Err(Error::ObjectChanged);
        }
        let mut at = fetch.first;
        for piece in body.chunks_mut(self.chunk as usize) {
            self.gcm.segment_engine(at).keystream_in_place(piece);
            at += piece.len() as u64;
        }
        Ok((start - fetch.first) as usize..(end - fetch.first) as usize)
    }
}

#[cfg(all(test, feature = "getrandom"))]
#[path = "verified_range_tests.rs"]
mod tests;
