//! The random-access file a verified read keeps ciphertext in (the core's storage mode: the
//! destination file of `get_object_to_file`, or a spill file). Reads and writes are positional
//! and run on tokio's blocking pool, so the async threads keep driving the connections. Writes
//! run behind, several at once, up to a byte budget (their buffers are the memory they hold); a
//! read waits only for the writes its range overlaps. Buffers come back from finished writes and
//! are handed out again, so a long read does not keep touching fresh memory.

use crate::error::{Error, Result};
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// One background write: the file range it covers, its size, and the task, which hands its
/// buffer back.
struct Pending {
    range: Range<u64>,
    bytes: usize,
    task: JoinHandle<std::io::Result<Vec<u8>>>,
}

/// A read running in the background.
pub(crate) struct Read {
    offset: u64,
    len: usize,
    task: JoinHandle<std::io::Result<Vec<u8>>>,
}

impl Read {
    /// Whether this reads exactly `len` bytes at `offset`.
    pub(crate) fn covers(&self, offset: u64, len: usize) -> bool {
        self.offset == offset && self.len == len
    }

    /// The bytes read.
    pub(crate) async fn bytes(self) -> Result<Vec<u8>> {
        self.task.await.map_err(join_err)?.map_err(Error::Io)
    }
}

/// A file written and read at offsets, with writes behind.
pub(crate) struct Storage {
    file: Arc<std::fs::File>,
    pending: VecDeque<Pending>,
    pending_bytes: usize,
    budget: usize,
    pool: Vec<Vec<u8>>,
}

/// Buffers kept for reuse.
const POOL: usize = 16;

impl Storage {
    /// Use `file` (opened for reading and writing); at most `budget` bytes wait to be written
    /// (one write of any size is always let through).
    pub(crate) fn new(file: std::fs::File, budget: usize) -> Storage {
        Storage {
            file: Arc::new(file),
            pending: VecDeque::new(),
            pending_bytes: 0,
            budget,
            pool: Vec::new(),
        }
    }

    /// Wait for the oldest background write; its buffer comes back for reuse.
    async fn settle_one(&mut self) -> Result<Vec<u8>> {
        match self.pending.pop_front() {
            Some(p) => {
                self.pending_bytes -= p.bytes;
                Ok(p.task.await.map_err(join_err)??)
            }
            None => Ok(Vec::new()),
        }
    }

    /// Wait for every background write.
    pub(crate) async fn settle(&mut self) -> Result<()> {
        while !self.pending.is_empty() {
            let b = self.settle_one().await?;
            self.recycle(b);
        }
        Ok(())
    }

    /// Keep `buf` for reuse.
    pub(crate) fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < POOL && buf.capacity() > 0 {
            buf.clear();
            self.pool.push(buf);
        }
    }

    /// An empty buffer, one used before when there is one.
    pub(crate) fn spare(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_default()
    }

    /// Write `spans` of `buf` (each a file offset and the range of `buf` that goes there) in the
    /// background, once the writes before it fit the budget with it; returns a spare buffer.
    pub(crate) async fn write_behind(
        &mut self,
        buf: Vec<u8>,
        spans: Vec<(u64, Range<usize>)>,
    ) -> Result<Vec<u8>> {
        if spans
            .iter()
            .any(|(_, r)| r.start > r.end || r.end > buf.len())
        {
            return Err(Error::Internal("a storage write outside its buffer"));
        }
        let bytes: usize = spans.iter().map(|(_, r)| r.len()).sum();
        let (Some(lo), Some(hi)) = (
            spans.iter().map(|s| s.0).min(),
            spans.iter().map(|(o, r)| o + r.len() as u64).max(),
        ) else {
            return Ok(buf);
        };
        while !self.pending.is_empty() && self.pending_bytes + bytes > self.budget {
            let b = self.settle_one().await?;
            self.recycle(b);
        }
        // Finished writes hand their buffers back without waiting.
        while self.pending.front().is_some_and(|p| p.task.is_finished()) {
            let b = self.settle_one().await?;
            self.recycle(b);
        }
        let file = Arc::clone(&self.file);
        let task = tokio::task::spawn_blocking(move || {
            for (offset, r) in &spans {
                write_all_at(&file, &buf[r.clone()], *offset)?;
            }
            Ok(buf)
        });
        self.pending.push_back(Pending {
            range: lo..hi,
            bytes,
            task,
        });
        self.pending_bytes += bytes;
        Ok(self.spare())
    }

    /// Start reading `len` bytes at `offset` into `buf` (resized to `len`), once the
    /// background writes that cover any of them are done; the read runs in the background.
    pub(crate) async fn read_at(&mut self, offset: u64, len: usize, buf: Vec<u8>) -> Result<Read> {
        let end = offset.saturating_add(len as u64);
        if let Some(last) = self
            .pending
            .iter()
            .rposition(|p| p.range.start < end && offset < p.range.end)
        {
            for _ in 0..=last {
                let b = self.settle_one().await?;
                self.recycle(b);
            }
        }
        let file = Arc::clone(&self.file);
        let mut buf = buf;
        let task = tokio::task::spawn_blocking(move || {
            buf.resize(len, 0);
            read_exact_at(&file, &mut buf, offset).map(|()| buf)
        });
        Ok(Read { offset, len, task })
    }

    /// Finish the background writes and cut the file to `len` bytes.
    pub(crate) async fn finish(mut self, len: u64) -> Result<()> {
        self.settle().await?;
        let file = self.file;
        tokio::task::spawn_blocking(move || file.set_len(len))
            .await
            .map_err(join_err)?
            .map_err(Error::Io)
    }
}

fn join_err(e: tokio::task::JoinError) -> Error {
    Error::Io(std::io::Error::other(e))
}

#[cfg(unix)]
fn write_all_at(f: &std::fs::File, data: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, data, offset)
}

#[cfg(unix)]
fn read_exact_at(f: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
}

#[cfg(windows)]
fn write_all_at(f: &std::fs::File, mut data: &[u8], mut offset: u64) -> std::io::Result<()> {
    while !data.is_empty() {
        match std::os::windows::fs::FileExt::seek_write(f, data, offset)? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            n => {
                data = &data[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(windows)]
fn read_exact_at(f: &std::fs::File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(f, buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}
