//! The body of a single PutObject as a file-like object boto3 reads: the core's
//! [`SingleBody`] encrypting the caller's bytes as they are read. boto3 reads a body up to three
//! times over plain HTTP (its checksum, the SigV4 payload hash, the send) and seeks back to 0
//! between passes; each pass encrypts again (same key and nonce, same bytes), so the ciphertext
//! is never whole in memory. The caller's `bytes` are only read.

use crate::errors::py_error;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use s3_encryption::object::SingleBody;

/// Reads of at least this many bytes encrypt with the GIL released.
const DETACH_AT: usize = 64 << 10;
/// A forward seek encrypts what it skips in pieces of this size.
const SKIP_PIECE: usize = 1 << 20;

/// `read(n)`, `seek`, `tell`, `__len__`: the stored body (ciphertext, then the 16-byte tag).
#[pyclass(module = "s3ec._native")]
pub(crate) struct EncryptingBody {
    body: Option<SingleBody>,
    /// The plaintext: `data[start..start + len]` (immutable `bytes`).
    data: Py<PyBytes>,
    start: usize,
    /// Bytes of the stored body before the next read.
    pos: u64,
}

impl EncryptingBody {
    pub(crate) fn new(body: SingleBody, data: Py<PyBytes>, start: usize) -> Self {
        EncryptingBody {
            body: Some(body),
            data,
            start,
            pos: 0,
        }
    }

    /// The core's body, for [`s3_encryption::object::PutObject::body_sent`].
    pub(crate) fn take(&mut self) -> Option<SingleBody> {
        self.body.take()
    }

    fn body(&mut self) -> PyResult<&mut SingleBody> {
        self.body
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("the body was already sent"))
    }

    fn plaintext_len(&self) -> u64 {
        self.body.as_ref().map_or(0, |b| b.plaintext_len())
    }

    fn stored_len(&self) -> u64 {
        self.plaintext_len() + 16
    }

    /// Fill `out` with the stored bytes from `self.pos` (ciphertext, then tag bytes).
    fn fill(&mut self, py: Python<'_>, out: &mut [u8]) -> PyResult<()> {
        let plain = self.plaintext_len();
        let pos = self.pos;
        let ct = (plain.saturating_sub(pos) as usize).min(out.len());
        let data = self.data.clone_ref(py);
        let data = data.bind(py).as_bytes();
        let from = self.start + pos.min(plain) as usize;
        let src = data
            .get(from..from + ct)
            .ok_or_else(|| PyValueError::new_err("the body's bytes changed length"))?;
        let (head, rest) = out.split_at_mut(ct);
        let body = self.body()?;
        if ct > 0 {
            let r = if ct >= DETACH_AT {
                py.detach(|| body.encrypt(src, head))
            } else {
                body.encrypt(src, head)
            };
            r.map_err(|e| py_error(py, e))?;
        }
        if !rest.is_empty() {
            let tag = body.tag().map_err(|e| py_error(py, e))?;
            let t0 = (pos + ct as u64 - plain) as usize;
            rest.copy_from_slice(&tag[t0..t0 + rest.len()]);
        }
        self.pos += out.len() as u64;
        Ok(())
    }

    /// Move to `target` (a stored offset, at most the end): backwards by rewinding, forwards by
    /// encrypting what is skipped (into a scratch buffer, dropped).
    fn move_to(&mut self, py: Python<'_>, target: u64) -> PyResult<()> {
        if target < self.pos {
            self.body()?.rewind();
            self.pos = 0;
        }
        let mut scratch = Vec::new();
        while self.pos < target {
            let n = ((target - self.pos) as usize).min(SKIP_PIECE);
            scratch.resize(n, 0);
            self.fill(py, &mut scratch)?;
        }
        Ok(())
    }
}

#[pymethods]
impl EncryptingBody {
    /// Up to `size` bytes of the stored body (`b""` at its end).
    #[pyo3(signature = (size = -1))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<i64>) -> PyResult<Bound<'py, PyBytes>> {
        let left = self.stored_len().saturating_sub(self.pos) as usize;
        let n = match size {
            Some(s) if s >= 0 => (s as usize).min(left),
            _ => left,
        };
        PyBytes::new_with(py, n, |out| self.fill(py, out))
    }

    /// Seek as a binary file does (`whence` 0, 1 or 2); returns the new position.
    #[pyo3(signature = (offset, whence = 0))]
    fn seek(&mut self, py: Python<'_>, offset: i64, whence: i32) -> PyResult<u64> {
        let base = match whence {
            0 => 0i128,
            1 => self.pos as i128,
            2 => self.stored_len() as i128,
            _ => return Err(PyValueError::new_err(format!("invalid whence ({whence})"))),
        };
        let target = base + offset as i128;
        if target < 0 {
            return Err(PyOSError::new_err("negative seek position"));
        }
        let target = (target as u64).min(self.stored_len());
        self.move_to(py, target)?;
        Ok(self.pos)
    }

    fn tell(&self) -> u64 {
        self.pos
    }

    fn seekable(&self) -> bool {
        true
    }

    fn readable(&self) -> bool {
        true
    }

    fn __len__(&self) -> usize {
        self.stored_len() as usize
    }

    /// Nothing to release (the machine takes the body back when the PutObject is answered).
    fn close(&self) {}
}
