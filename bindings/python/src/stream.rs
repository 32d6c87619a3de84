//! Request bodies as file-like objects boto3 reads, encrypting as they are read: a single
//! PutObject's body over the caller's bytes (the core's [`SingleBody`]), and an UploadPart's
//! body over a range of a file (a [`PartEncryptor`] per pass). boto3 reads a body up to three
//! times over plain HTTP (its checksum, the SigV4 payload hash, the send) and seeks back to 0
//! between passes; each pass encrypts again (same key and nonce, same bytes), so no ciphertext is
//! ever whole in memory. The caller's `bytes` and file are only read.

use crate::errors::py_error;
use crate::pio::read_exact_at;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use s3_encryption::Error;
use s3_encryption::object::{EncryptedPart, PartEncryptor, PartJob, SingleBody};
use std::fs::File;
use std::sync::Arc;

/// Reads of at least this many bytes read and encrypt with the GIL released.
const DETACH_AT: usize = 64 << 10;
/// A forward seek encrypts what it skips in pieces of this size.
const SKIP_PIECE: usize = 1 << 20;

/// Where the plaintext comes from.
enum Source {
    /// `data[start..]` (immutable `bytes`).
    Bytes { data: Py<PyBytes>, start: usize },
    /// The file from byte `start`.
    File { file: Arc<File>, start: u64 },
}

/// What encrypts it.
enum Engine {
    /// A single PutObject's body; None once given back to the machine.
    Single(Option<SingleBody>),
    /// An UploadPart's body: a fresh encryptor per pass, each pass checked against the value
    /// the machine was given (a file changed since is refused before the pass ends).
    Part {
        job: PartJob,
        pass: Option<PartEncryptor>,
        expect: EncryptedPart,
        tag: Option<[u8; 16]>,
    },
}

/// `read(n)`, `seek`, `tell`, `__len__`: the stored body (ciphertext, then the 16-byte tag when
/// the body ends with it).
#[pyclass(module = "s3ec._native")]
pub(crate) struct EncryptingBody {
    source: Source,
    engine: Engine,
    plaintext_len: u64,
    /// Bytes of the stored body before the next read.
    pos: u64,
}

impl EncryptingBody {
    /// A single PutObject's body over `data[start..start + body.plaintext_len()]`.
    pub(crate) fn single(body: SingleBody, data: Py<PyBytes>, start: usize) -> Self {
        EncryptingBody {
            source: Source::Bytes { data, start },
            plaintext_len: body.plaintext_len(),
            engine: Engine::Single(Some(body)),
            pos: 0,
        }
    }

    /// An UploadPart's body over `file[start..start + job.len()]`, encrypted by `job` (which gave
    /// `expect`), ending with `tag` for the last part.
    pub(crate) fn part(
        file: Arc<File>,
        start: u64,
        job: PartJob,
        expect: EncryptedPart,
        tag: Option<[u8; 16]>,
    ) -> Self {
        EncryptingBody {
            source: Source::File { file, start },
            plaintext_len: job.len(),
            engine: Engine::Part {
                pass: Some(job.encryptor()),
                job,
                expect,
                tag,
            },
            pos: 0,
        }
    }

    /// The core's single body, for [`s3_encryption::object::PutObject::body_sent`].
    pub(crate) fn take(&mut self) -> Option<SingleBody> {
        match &mut self.engine {
            Engine::Single(b) => b.take(),
            Engine::Part { .. } => None,
        }
    }

    fn stored_len(&self) -> u64 {
        let tag = match &self.engine {
            Engine::Single(_) => true,
            Engine::Part { tag, .. } => tag.is_some(),
        };
        self.plaintext_len + if tag { 16 } else { 0 }
    }

    fn rewind(&mut self) -> PyResult<()> {
        match &mut self.engine {
            Engine::Single(Some(b)) => b.rewind(),
            Engine::Single(None) => return Err(sent()),
            Engine::Part { job, pass, .. } => *pass = Some(job.encryptor()),
        }
        self.pos = 0;
        Ok(())
    }

    /// Fill `out` with the stored bytes from `self.pos` (ciphertext, then tag bytes).
    fn fill(&mut self, py: Python<'_>, out: &mut [u8]) -> PyResult<()> {
        let plain = self.plaintext_len;
        let pos = self.pos;
        let ct = (plain.saturating_sub(pos) as usize).min(out.len());
        let (head, rest) = out.split_at_mut(ct);
        if ct > 0 {
            let data = match &self.source {
                Source::Bytes { data, .. } => Some(data.clone_ref(py)),
                Source::File { .. } => None,
            };
            let data = data.as_ref().map(|d| d.bind(py).as_bytes());
            let (source, engine) = (&self.source, &mut self.engine);
            let r = if ct >= DETACH_AT {
                py.detach(|| encrypt_from(source, data, engine, pos, head))
            } else {
                encrypt_from(source, data, engine, pos, head)
            };
            r.map_err(|f| f.into_py(py))?;
        }
        if !rest.is_empty() {
            let tag = match &mut self.engine {
                Engine::Single(Some(b)) => b.tag().map_err(|e| py_error(py, e))?,
                Engine::Single(None) => return Err(sent()),
                Engine::Part { tag: Some(t), .. } => *t,
                Engine::Part { tag: None, .. } => return Err(py_error(py, Error::LengthMismatch)),
            };
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
            self.rewind()?;
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

fn sent() -> PyErr {
    PyValueError::new_err("the body was already sent")
}

/// Why a read failed, raised once the GIL is held again.
enum ReadFail {
    Core(Error),
    Io(std::io::Error),
    Changed,
    Sent,
}

impl ReadFail {
    fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            ReadFail::Core(e) => py_error(py, e),
            ReadFail::Io(e) => PyOSError::new_err(format!("reading the file to upload: {e}")),
            ReadFail::Changed => PyOSError::new_err(
                "the file changed while it was uploaded (a part read again differs from the part \
                 encrypted); the upload is aborted",
            ),
            ReadFail::Sent => sent(),
        }
    }
}

/// Encrypt the plaintext at `pos` into `out` (all of it plaintext).
fn encrypt_from(
    source: &Source,
    data: Option<&[u8]>,
    engine: &mut Engine,
    pos: u64,
    out: &mut [u8],
) -> Result<(), ReadFail> {
    match (source, engine) {
        (Source::Bytes { start, .. }, Engine::Single(b)) => {
            let b = b.as_mut().ok_or(ReadFail::Sent)?;
            let from = start + pos as usize;
            let src = data
                .and_then(|d| d.get(from..from + out.len()))
                .ok_or(ReadFail::Core(Error::LengthMismatch))?;
            b.encrypt(src, out).map_err(ReadFail::Core)
        }
        (
            Source::File { file, start },
            Engine::Part {
                pass, expect, job, ..
            },
        ) => {
            read_exact_at(file, out, start + pos).map_err(ReadFail::Io)?;
            let p = pass.as_mut().ok_or(ReadFail::Core(Error::LengthMismatch))?;
            p.encrypt_in_place(out).map_err(ReadFail::Core)?;
            if p.position() == job.len() {
                let done = pass.take().ok_or(ReadFail::Sent)?;
                if done.finish().map_err(ReadFail::Core)? != *expect {
                    return Err(ReadFail::Changed);
                }
            }
            Ok(())
        }
        _ => Err(ReadFail::Core(Error::Internal(
            "a body's source and engine disagree",
        ))),
    }
}

/// The first pass over a part of a file: its encryption's value for the machine (the
/// ciphertext is dropped; it is made again as the part is sent). Runs on any thread.
pub(crate) fn encrypt_part_of_file(
    file: &File,
    start: u64,
    job: &PartJob,
) -> Result<EncryptedPart, String> {
    let mut pass = job.encryptor();
    let mut buf = vec![0u8; (job.len() as usize).min(SKIP_PIECE)];
    let mut at = 0u64;
    while at < job.len() {
        let n = ((job.len() - at) as usize).min(buf.len());
        read_exact_at(file, &mut buf[..n], start + at)
            .map_err(|e| format!("reading the file to upload: {e}"))?;
        pass.encrypt_in_place(&mut buf[..n])
            .map_err(|e| e.to_string())?;
        at += n as u64;
    }
    pass.finish().map_err(|e| e.to_string())
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

    /// Nothing to release (the machine takes a single body back when its PutObject is answered).
    fn close(&self) {}
}
