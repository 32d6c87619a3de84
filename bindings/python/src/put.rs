//! `put_object`: the PUT machine driven over the transport, multipart parts encrypted in
//! parallel with the GIL released.

use crate::errors::{Fail, R, UsageError};
use crate::keyring::{Keyring, pairs_ref};
use crate::options::{context_of, encrypt_config, opt};
use crate::stream::{EncryptingBody, encrypt_part_of_file};
use crate::transport::{Io, read_pieces};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::types::PyDict;
use s3_encryption::Error;
use s3_encryption::object::{
    EncryptedPart, Operation, PartJob, PutDone, PutIntent, PutNext, PutObject, RequestBody,
    RequestId,
};
use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) fn encrypt_batch(
    py: Python<'_>,
    work: Vec<(PartJob, Vec<u8>)>,
) -> Vec<(
    u32,
    Vec<u8>,
    Result<s3_encryption::object::EncryptedPart, Error>,
)> {
    py.detach(move || {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .max(1);
        let mut results = Vec::with_capacity(work.len());
        let mut it = work.into_iter().peekable();
        while it.peek().is_some() {
            let batch: Vec<_> = it.by_ref().take(threads).collect();
            std::thread::scope(|s| {
                let hs: Vec<_> = batch
                    .into_iter()
                    .map(|(job, mut buf)| {
                        s.spawn(move || {
                            let r = job.encrypt(&mut buf);
                            (job.number(), buf, r)
                        })
                    })
                    .collect();
                for h in hs {
                    if let Ok(r) = h.join() {
                        results.push(r);
                    }
                }
            });
        }
        results
    })
}

/// The file of `_Reader.file_source()` (upload_file: its path and where the body starts),
/// opened for positional reads; None for any other body.
fn file_source(reader: &Bound<'_, PyAny>) -> PyResult<Option<(Arc<File>, u64)>> {
    // The parts are read from several threads at once: only where a positional read needs no
    // shared file position (pio.rs).
    if cfg!(not(any(unix, windows))) || !reader.hasattr("file_source")? {
        return Ok(None);
    }
    let got = reader.call_method0("file_source")?;
    if got.is_none() {
        return Ok(None);
    }
    let (path, start): (PathBuf, u64) = got.extract()?;
    let f = File::open(&path)
        .map_err(|e| PyOSError::new_err(format!("opening {}: {e}", path.display())))?;
    Ok(Some((Arc::new(f), start)))
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1)
}

/// The first pass over parts of a file ([`encrypt_part_of_file`]), as many at once as there are
/// cores, with the GIL released.
fn encrypt_file_batch(
    py: Python<'_>,
    file: &File,
    work: Vec<(PartJob, u64)>,
) -> Vec<(PartJob, Result<EncryptedPart, String>)> {
    py.detach(move || {
        let threads = cores();
        let mut results = Vec::with_capacity(work.len());
        let mut it = work.into_iter().peekable();
        while it.peek().is_some() {
            let batch: Vec<_> = it.by_ref().take(threads).collect();
            std::thread::scope(|s| {
                let hs: Vec<_> = batch
                    .into_iter()
                    .map(|(job, at)| {
                        s.spawn(move || {
                            let r = encrypt_part_of_file(file, at, &job);
                            (job, r)
                        })
                    })
                    .collect();
                for h in hs {
                    if let Ok(r) = h.join() {
                        results.push(r);
                    }
                }
            });
        }
        results
    })
}

/// Read up to `n` bytes of the body (exactly `n` unless it ends). A body in memory
/// (`_Reader.read_span`) is copied once, straight from the caller's `bytes` (which is only
/// read); other bodies through `read(n)`, in the pieces it returns.
fn read_part(reader: &Bound<'_, PyAny>, n: usize) -> PyResult<Vec<u8>> {
    let mut buf = Vec::with_capacity(n.min(64 << 20));
    if reader.hasattr("read_span")? {
        let span = reader.call_method1("read_span", (n,))?;
        if !span.is_none() {
            let (data, start, len): (Bound<'_, PyBytes>, usize, usize) = span.extract()?;
            let src = start
                .checked_add(len)
                .and_then(|end| data.as_bytes().get(start..end))
                .filter(|s| s.len() <= n)
                .ok_or_else(|| {
                    PyValueError::new_err("read_span answered a span outside the body")
                })?;
            buf.extend_from_slice(src);
            return Ok(buf);
        }
    }
    for p in read_pieces(reader, n, true)? {
        buf.extend_from_slice(p.as_bytes());
    }
    Ok(buf)
}

pub(crate) struct Inflight<'py> {
    pub(crate) id: RequestId,
    pub(crate) op: Operation,
    pub(crate) fut: Bound<'py, PyAny>,
    /// A single PutObject's streamed body, given back to the machine once it is answered.
    pub(crate) stream: Option<Bound<'py, EncryptingBody>>,
}

/// Track a request handed to boto3 (`sent`: its future and, for a streamed single PutObject, the
/// body) until it is answered. One that could not be handed over fails in the machine as a
/// request without an answer, and its Python error is kept for the caller (the first one only).
fn track<'py>(
    sent: PyResult<(Bound<'py, PyAny>, Option<Bound<'py, EncryptingBody>>)>,
    (id, op): (RequestId, Operation),
    p: &mut PutObject<'_>,
    inflight: &mut Vec<Inflight<'py>>,
    first_py: &mut Option<PyErr>,
) {
    match sent {
        Ok((fut, stream)) => inflight.push(Inflight {
            id,
            op,
            fut,
            stream,
        }),
        Err(e) => {
            if first_py.is_none() {
                *first_py = Some(e);
            }
            p.request_failed(id, Error::RequestFailed { status: 0 });
        }
    }
}

/// A body in memory of exactly `n` bytes (`_Reader.take_whole`): the caller's `bytes` and
/// where the body starts in it. None for any other body (read into a buffer instead).
fn whole_body<'py>(
    reader: &Bound<'py, PyAny>,
    n: u64,
) -> PyResult<Option<(Bound<'py, PyBytes>, usize)>> {
    if !reader.hasattr("take_whole")? {
        return Ok(None);
    }
    let got = reader.call_method1("take_whole", (n,))?;
    if got.is_none() {
        return Ok(None);
    }
    let (data, start): (Bound<'py, PyBytes>, usize) = got.extract()?;
    let fits = start
        .checked_add(n as usize)
        .is_some_and(|end| end <= data.as_bytes().len());
    if !fits {
        return Err(PyValueError::new_err(
            "take_whole answered a span outside the body",
        ));
    }
    Ok(Some((data, start)))
}

pub(crate) fn drive_put<'py>(
    io: &Io<'py>,
    keyring: &Keyring<'py>,
    intent: PutIntent<'_>,
    reader: &Bound<'py, PyAny>,
) -> R<PutDone> {
    let py = io.py;
    let mut p = PutObject::new(intent)?;
    let mut first_py: Option<PyErr> = None;
    let mut bufs: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut jobs: Vec<PartJob> = Vec::new();
    let mut inflight: Vec<Inflight<'py>> = Vec::new();
    // A file read by position (upload_file): its parts are never held in memory. Each is
    // encrypted once for the machine (the ciphertext dropped), then again as boto3 reads it.
    let file = file_source(reader)?;
    let mut offsets: HashMap<u32, u64> = HashMap::new();
    let mut file_jobs: Vec<PartJob> = Vec::new();
    let mut encrypted: HashMap<u32, (PartJob, EncryptedPart)> = HashMap::new();
    let note = |first_py: &mut Option<PyErr>, e: PyErr| {
        if first_py.is_none() {
            *first_py = Some(e);
        }
    };
    loop {
        let next = match p.poll() {
            Ok(n) => n,
            Err(e) => {
                return Err(match first_py {
                    Some(pe) => Fail::Py(pe),
                    None => Fail::Core(e),
                });
            }
        };
        match next {
            PutNext::EncryptionMaterials => {
                let ctx = p.encryption_context();
                match keyring.materials(py, p.config(), ctx) {
                    Ok(m) => {
                        let _ = p.materials(m);
                    }
                    Err(Fail::Core(e)) => p.abort(e),
                    Err(Fail::Py(e)) => {
                        note(&mut first_py, e);
                        p.abort(Error::Internal("the binding lost track of a request"));
                    }
                }
            }
            PutNext::ReadPart {
                number,
                offset,
                len,
            } if file.is_some() => {
                offsets.insert(number, offset);
                let _ = p.part_read(number, len);
            }
            PutNext::EncryptPart(job) if file.is_some() => file_jobs.push(job),
            PutNext::ReadPart { number, len, .. } => match read_part(reader, len as usize) {
                Ok(b) => {
                    let n = b.len() as u64;
                    bufs.insert(number, b);
                    let _ = p.part_read(number, n);
                }
                Err(e) => {
                    note(&mut first_py, e);
                    p.abort(Error::LengthMismatch);
                }
            },
            PutNext::EncryptPart(job) => jobs.push(job),
            PutNext::Send(id) => {
                let r = p.request(id)?;
                let op = r.operation;
                // A single PutObject of a body in memory: boto3 reads it as a file that encrypts
                // as it is read (and again after each seek back), never whole in memory.
                if let (Operation::PutObject, RequestBody::Ciphertext { plaintext_len, .. }) =
                    (op, r.body)
                    && bufs.is_empty()
                {
                    match whole_body(reader, plaintext_len) {
                        Ok(Some((data, start))) => {
                            let stream = match p.body() {
                                Ok(b) => EncryptingBody::single(b, data.unbind(), start),
                                Err(e) => {
                                    p.request_failed(id, e);
                                    continue;
                                }
                            };
                            let r = p.request(id)?;
                            let sent = Bound::new(py, stream)
                                .and_then(|s| io.submit_file(&r, s.as_any()).map(|f| (f, Some(s))));
                            track(sent, (id, op), &mut p, &mut inflight, &mut first_py);
                            continue;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            note(&mut first_py, e);
                            p.request_failed(id, Error::LengthMismatch);
                            continue;
                        }
                    }
                }
                let body: Option<Vec<u8>> = match (op, r.body) {
                    (Operation::PutObject, RequestBody::Ciphertext { plaintext_len, .. }) => {
                        let n = plaintext_len as usize;
                        // A body of unknown length that fit one part was read by the probe:
                        // that part is the body (the reader is past it).
                        let probed = bufs.keys().next().copied();
                        let body = match probed.and_then(|k| bufs.remove(&k)) {
                            Some(b) => Ok(b),
                            None => read_part(reader, n),
                        };
                        match body {
                            Ok(mut b) => {
                                let enc = if b.len() >= 64 << 10 {
                                    py.detach(|| p.encrypt(&mut b))
                                } else {
                                    p.encrypt(&mut b)
                                };
                                match enc.and_then(|_| p.tag()) {
                                    Ok(t) => {
                                        b.extend_from_slice(&t);
                                        Some(b)
                                    }
                                    Err(e) => {
                                        p.request_failed(id, e);
                                        continue;
                                    }
                                }
                            }
                            Err(e) => {
                                note(&mut first_py, e);
                                p.request_failed(id, Error::LengthMismatch);
                                continue;
                            }
                        }
                    }
                    (Operation::UploadPart, RequestBody::Ciphertext { ends_with_tag, .. })
                        if file.is_some() =>
                    {
                        let n = r
                            .part_number
                            .ok_or(Error::Internal("the binding lost track of a request"))?;
                        let (job, done) = encrypted
                            .remove(&n)
                            .ok_or(Error::Internal("the binding lost track of a request"))?;
                        let tag = if ends_with_tag {
                            match p.tag() {
                                Ok(t) => Some(t),
                                Err(e) => {
                                    p.request_failed(id, e);
                                    continue;
                                }
                            }
                        } else {
                            None
                        };
                        let (f, start) = file
                            .as_ref()
                            .ok_or(Error::Internal("the binding lost track of a request"))?;
                        let at = start + offsets.remove(&n).unwrap_or_default();
                        let body = EncryptingBody::part(f.clone(), at, job, done, tag);
                        let r = p.request(id)?;
                        let sent = Bound::new(py, body)
                            .and_then(|s| io.submit_file(&r, s.as_any()))
                            .map(|f| (f, None));
                        track(sent, (id, op), &mut p, &mut inflight, &mut first_py);
                        continue;
                    }
                    (Operation::UploadPart, RequestBody::Ciphertext { ends_with_tag, .. }) => {
                        let n = r
                            .part_number
                            .ok_or(Error::Internal("the binding lost track of a request"))?;
                        let mut b = bufs
                            .remove(&n)
                            .ok_or(Error::Internal("the binding lost track of a request"))?;
                        if ends_with_tag {
                            match p.tag() {
                                Ok(t) => b.extend_from_slice(&t),
                                Err(e) => {
                                    p.request_failed(id, e);
                                    continue;
                                }
                            }
                        }
                        Some(b)
                    }
                    _ => None,
                };
                let r = p.request(id)?;
                let sent = io.submit(&r, body.as_deref()).map(|f| (f, None));
                drop(body);
                track(sent, (id, op), &mut p, &mut inflight, &mut first_py);
            }
            PutNext::Wait => {
                if let (Some((f, start)), false) = (&file, file_jobs.is_empty()) {
                    // One part per core at a time, so that each goes to boto3 as soon as it is
                    // encrypted rather than after every part in flight.
                    let k = file_jobs.len().min(cores());
                    let work: Vec<(PartJob, u64)> = file_jobs
                        .drain(..k)
                        .map(|j| {
                            let at = start + offsets.get(&j.number()).copied().unwrap_or_default();
                            (j, at)
                        })
                        .collect();
                    for (job, r) in encrypt_file_batch(py, f, work) {
                        match r {
                            Ok(done) => {
                                let n = job.len();
                                encrypted.insert(job.number(), (job, done));
                                let _ = p.part_encrypted(done);
                                if let Err(e) = reader.call_method1("advance", (n,)) {
                                    note(&mut first_py, e);
                                    p.abort(Error::LengthMismatch);
                                }
                            }
                            Err(msg) => {
                                note(&mut first_py, PyOSError::new_err(msg));
                                p.abort(Error::LengthMismatch);
                            }
                        }
                    }
                    continue;
                }
                if !jobs.is_empty() {
                    let work: Vec<(PartJob, Vec<u8>)> = jobs
                        .drain(..)
                        .map(|j| {
                            let b = bufs.remove(&j.number()).unwrap_or_default();
                            (j, b)
                        })
                        .collect();
                    for (number, buf, r) in encrypt_batch(py, work) {
                        bufs.insert(number, buf);
                        match r {
                            Ok(e) => {
                                let _ = p.part_encrypted(e);
                            }
                            Err(e) => p.abort(e),
                        }
                    }
                    continue;
                }
                if inflight.is_empty() {
                    p.abort(Error::Internal("the binding lost track of a request"));
                    continue;
                }
                let futs: Vec<_> = inflight.iter().map(|f| f.fut.clone()).collect();
                let i = match io.wait_any(&futs) {
                    Ok(i) if i < inflight.len() => i,
                    Ok(_) => 0,
                    Err(e) => {
                        note(&mut first_py, e);
                        0
                    }
                };
                let f = inflight.swap_remove(i);
                if let Some(s) = &f.stream
                    && let Some(b) = s.try_borrow_mut().ok().and_then(|mut s| s.take())
                {
                    p.body_sent(b);
                }
                match io.result(&f.fut) {
                    Ok(resp) => {
                        if f.op == Operation::CreateMultipartUpload {
                            let _ = p.upload_created(
                                f.id,
                                resp.status,
                                resp.upload_id.as_deref().unwrap_or(""),
                            );
                        } else {
                            let _ = p.response(f.id, resp.status, resp.pairs());
                        }
                    }
                    Err(e) => {
                        note(&mut first_py, e);
                        p.request_failed(f.id, Error::RequestFailed { status: 0 });
                    }
                }
            }
            PutNext::Done(d) => return Ok(d),
        }
    }
}

/// Write an object. `options`: commitment_policy, placement ("metadata" | "instruction_file"),
/// encryption_context (KMS keyrings), metadata (dict), content_type, plaintext_len (None when
/// unknown), part_size, multipart_threshold, parts_in_flight, instruction_file_suffix.
/// `reader` is a file-like object (`read(n)`). Returns a dict of the result.
#[pyfunction]
#[pyo3(signature = (transport, keyring, bucket, key, reader, options))]
pub(crate) fn put_object<'py>(
    py: Python<'py>,
    transport: Bound<'py, PyAny>,
    keyring: Bound<'py, PyAny>,
    bucket: &str,
    key: &str,
    reader: Bound<'py, PyAny>,
    options: Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    let io = Io { py, t: transport };
    let keyring = Keyring::from_py(&keyring)?;
    let o = &options;
    let config = encrypt_config(o)?;
    let ctx = context_of(o, "encryption_context")?;
    if ctx.is_some() && !matches!(keyring, Keyring::Py(_)) {
        return Err(UsageError::new_err(
            "EncryptionContext applies to KMS (and KMS-shaped Python) keyrings; an AES, RSA or \
             wrap_data_key keyring stores its materials_description instead",
        ));
    }
    let ctx = ctx.unwrap_or_default();
    let ctx_ref = pairs_ref(&ctx);
    let matdesc = keyring.matdesc().to_vec();
    let md_ref = pairs_ref(&matdesc);
    let meta = context_of(o, "metadata")?.unwrap_or_default();
    let meta_ref = pairs_ref(&meta);
    let content_type: Option<String> = opt(o, "content_type", None)?;
    let suffix: String = opt(o, "instruction_file_suffix", ".instruction".into())?;
    let len: Option<u64> = opt(o, "plaintext_len", None)?;
    let mut intent = PutIntent::new(bucket, key, len);
    intent.config = config;
    intent.encryption_context = if matches!(keyring, Keyring::Py(_)) {
        &ctx_ref
    } else {
        &md_ref
    };
    intent.metadata = &meta_ref;
    intent.content_type = content_type.as_deref();
    intent.instruction_file_suffix = &suffix;
    intent.part_size = opt(o, "part_size", intent.part_size)?;
    intent.multipart_threshold = opt(o, "multipart_threshold", intent.multipart_threshold)?;
    intent.parts_in_flight = opt(o, "parts_in_flight", intent.parts_in_flight)?;
    let done = drive_put(&io, &keyring, intent, &reader).map_err(|f| f.into_py(py))?;
    let d = PyDict::new(py);
    d.set_item("plaintext_len", done.plaintext_len)?;
    d.set_item("stored_len", done.stored_len)?;
    d.set_item("parts", done.parts)?;
    d.set_item("multipart", done.multipart)?;
    d.set_item("instruction_file", done.instruction_file)?;
    Ok(d)
}
