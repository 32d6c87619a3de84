//! `get_object`: the GET machine driven over the transport, plaintext released into memory or a
//! file (storage mode, downloads).

use crate::errors::{R, py_error};
use crate::keyring::{Keyring, pairs_ref};
use crate::options::{context_of, decrypt_policy, opt};
use crate::transport::{Io, close_body, read_body};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use s3_encryption::object::{
    GetDone, GetIntent, GetNext, GetObject, ReadMode, Released, RequestId,
};
use s3_encryption::{ByteRange, Error};
use std::collections::HashMap;
use std::fs::File;

/// Where released plaintext goes, and the caller's storage (a file) for storage mode.
pub(crate) struct Out {
    pub(crate) mem: Vec<u8>,
    pub(crate) file: Option<File>,
    /// Released plaintext goes to the file (a download) rather than memory.
    pub(crate) to_file: bool,
    /// A ranged read: offsets are the object's; the output starts at the first one released.
    pub(crate) ranged: bool,
    pub(crate) base: Option<u64>,
    /// A running SHA-256 of the released plaintext, in order (a migration's read and read-back).
    pub(crate) digest: Option<s3_encryption::object::migrate::PlaintextDigest>,
    /// The format of the envelope the read opened.
    pub(crate) version: Option<s3_encryption::FormatVersion>,
    /// Its stored materials description and encryption context (a migration's read-back checks
    /// what the new object carries).
    pub(crate) described: (Option<String>, Option<String>),
}

impl Out {
    pub(crate) fn plaintext(&mut self, offset: u64, data: &[u8], replayed: bool) -> R<()> {
        let offset = if self.ranged {
            let base = *self.base.get_or_insert(offset);
            offset
                .checked_sub(base)
                .ok_or(Error::Internal("the binding lost track of a request"))?
        } else {
            offset
        };
        if let Some(d) = &mut self.digest {
            d.update(offset, data)?;
        }
        if self.to_file || replayed {
            let f = self
                .file
                .as_ref()
                .ok_or(Error::Internal("the binding lost track of a request"))?;
            crate::pio::write_all_at(f, data, offset)
                .map_err(|e| PyErr::from(std::io::Error::other(e)))?;
        } else {
            let end = offset as usize + data.len();
            if self.mem.len() < end {
                self.mem.resize(end, 0);
            }
            self.mem[offset as usize..end].copy_from_slice(data);
        }
        Ok(())
    }
    pub(crate) fn store(&mut self, offset: u64, data: &[u8]) -> R<()> {
        let f = self
            .file
            .as_ref()
            .ok_or(Error::Internal("the binding lost track of a request"))?;
        crate::pio::write_all_at(f, data, offset).map_err(PyErr::from)?;
        Ok(())
    }
}

pub(crate) enum Source<'a, 'py> {
    Py(&'a Bound<'py, PyAny>),
    File(&'a File, u64, u64),
}

/// Feed one body (a response or a replay from storage) to the machine.
pub(crate) fn feed_body(
    py: Python<'_>,
    g: &mut GetObject<'_>,
    id: RequestId,
    src: Source<'_, '_>,
    out: &mut Out,
) -> R<()> {
    let replayed = matches!(src, Source::File(..));
    let mut pos = 0u64;
    loop {
        let f = g.feed(id)?;
        let n = match f.len {
            // Past the asked length: offer a few bytes so that a longer body is refused.
            0 => 100,
            n if f.exact => n,
            n => n.min(4 << 20),
        };
        let mut buf = match &src {
            Source::Py(b) => read_body(b, n, f.exact)?,
            Source::File(file, first, last) => {
                let end = *last + 1;
                let at = *first + pos;
                let take = (n as u64).min(end.saturating_sub(at)) as usize;
                let mut v = vec![0u8; take];
                crate::pio::read_exact_at(file, &mut v, at).map_err(PyErr::from)?;
                pos += take as u64;
                v
            }
        };
        // An exact piece that came short: the body ended early (a piece is never more than
        // what remains of the asked length), so the machine's answer is TruncatedBody.
        if buf.is_empty() || (f.exact && buf.len() < n) {
            if let Source::Py(b) = &src {
                close_body(b);
            }
            g.end_of_body(id)?;
            return Ok(());
        }
        let released = if buf.len() >= 64 << 10 {
            py.detach(|| g.body(id, &mut buf))?
        } else {
            g.body(id, &mut buf)?
        };
        match released {
            Released::Plaintext { start, len, offset } => {
                if len > 0 {
                    out.plaintext(offset, &buf[start..start + len], replayed)?;
                }
            }
            Released::Store { offset } => out.store(offset, &buf)?,
            Released::Nothing => {}
        }
    }
}

pub(crate) fn drive_get<'py>(
    io: &Io<'py>,
    keyring: &Keyring<'py>,
    intent: GetIntent<'_>,
    out: &mut Out,
) -> R<GetDone> {
    let py = io.py;
    let mut g = GetObject::new(intent)?;
    let mut inflight: Vec<(RequestId, Bound<'py, PyAny>)> = Vec::new();
    let mut bodies: HashMap<RequestId, Bound<'py, PyAny>> = HashMap::new();
    let r = (|| -> R<GetDone> {
        loop {
            match g.poll()? {
                GetNext::Send(id) => {
                    let r = g.request(id)?;
                    let f = io.submit(&r, None)?;
                    inflight.push((id, f));
                }
                GetNext::Wait => {
                    if inflight.is_empty() {
                        return Err(Error::Internal("the binding lost track of a request").into());
                    }
                    let futs: Vec<_> = inflight.iter().map(|(_, f)| f.clone()).collect();
                    let i = io.wait_any(&futs)?;
                    let (id, f) = inflight.swap_remove(i);
                    let resp = io.result(&f)?;
                    let res = g.response(id, resp.status, resp.pairs());
                    if let Some(b) = resp.body {
                        if res.is_ok() && (200..300).contains(&resp.status) {
                            bodies.insert(id, b);
                        } else {
                            close_body(&b);
                        }
                    }
                    res?;
                }
                GetNext::ReadBody(id) => {
                    let b = bodies
                        .remove(&id)
                        .ok_or(Error::Internal("the binding lost track of a request"))?;
                    feed_body(py, &mut g, id, Source::Py(&b), out)?;
                }
                GetNext::Replay(id) => {
                    let (a, b) = g.replay_range(id)?;
                    let file = out
                        .file
                        .as_ref()
                        .ok_or(Error::Internal("the binding lost track of a request"))?
                        .try_clone()
                        .map_err(PyErr::from)?;
                    feed_body(py, &mut g, id, Source::File(&file, a, b), out)?;
                }
                GetNext::UnwrapKey => {
                    let env = g
                        .envelope()
                        .ok_or(Error::Internal("the binding lost track of a request"))?;
                    out.version = Some(env.version());
                    out.described = (
                        env.materials_description().map(str::to_owned),
                        env.encryption_context().map(str::to_owned),
                    );
                    let req = g.key_request()?;
                    let dk = keyring.unwrap(py, env, req)?;
                    g.data_key(dk)?;
                }
                GetNext::Done(d) => return Ok(d),
            }
        }
    })();
    for (_, f) in inflight {
        // Let outstanding requests finish; their bodies are dropped unread.
        if let Ok(resp) = io.result(&f)
            && let Some(b) = resp.body
        {
            close_body(&b);
        }
    }
    for b in bodies.values() {
        close_body(b);
    }
    r
}

pub(crate) fn verification_name(d: &GetDone) -> String {
    format!("{:?}", d.verification)
}

/// Read an object. `options`: commitment_policy, enable_legacy_wrapping_algorithms,
/// enable_legacy_unauthenticated_modes, enable_delayed_authentication, version_id,
/// encryption_context (dict; None = the empty context), discovery (accept the stored context),
/// instruction_file_suffix, memory_budget, storage_path (a file for objects over the budget, or
/// the download target with `download`), connections, part_size, range (an HTTP `Range` value,
/// `bytes=a-b`, `bytes=a-` or `bytes=-n`: an unauthenticated read, behind
/// `enable_legacy_unauthenticated_modes`), delayed, download.
/// Returns a dict: plaintext (bytes, unless in the storage file), verification, released,
/// range_first, etag, version_id, stored_len, in_storage.
#[pyfunction]
#[pyo3(signature = (transport, keyring, bucket, key, options))]
pub(crate) fn get_object<'py>(
    py: Python<'py>,
    transport: Bound<'py, PyAny>,
    keyring: Bound<'py, PyAny>,
    bucket: &str,
    key: &str,
    options: Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    let io = Io { py, t: transport };
    let keyring = Keyring::from_py(&keyring)?;
    let o = &options;
    let version_id: Option<String> = opt(o, "version_id", None)?;
    let suffix: String = opt(o, "instruction_file_suffix", ".instruction".into())?;
    let ctx = context_of(o, "encryption_context")?.unwrap_or_default();
    let ctx_ref = pairs_ref(&ctx);
    let discovery: bool = opt(o, "discovery", false)?;
    let download: bool = opt(o, "download", false)?;
    let storage_path: Option<String> = opt(o, "storage_path", None)?;
    let range: Option<String> = opt(o, "range", None)?;
    let delayed: bool = opt(o, "delayed", false)?;
    let mut intent = GetIntent::new(bucket, key);
    intent.version_id = version_id.as_deref();
    intent.policy = decrypt_policy(o)?;
    intent.instruction_file_suffix = &suffix;
    intent.encryption_context = if discovery { None } else { Some(&ctx_ref) };
    intent.memory_budget = opt(o, "memory_budget", intent.memory_budget)?;
    intent.connections = opt(o, "connections", 1u16)?;
    intent.part_size = opt(o, "part_size", intent.part_size)?;
    intent.read_instruction_file = opt(o, "read_instruction_file", true)?;
    intent.storage = storage_path.is_some();
    if download {
        intent.memory_budget = 0;
    }
    if let Some(r) = &range {
        let r = ByteRange::parse(r).map_err(|e| py_error(py, e))?;
        intent.mode = ReadMode::Unauthenticated(s3_encryption::hazmat::ranged_read(r));
    } else if delayed {
        intent.mode =
            ReadMode::Unauthenticated(s3_encryption::hazmat::delayed_authentication_read());
    }
    let file = match &storage_path {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(p)?,
        ),
        None => None,
    };
    let mut out = Out {
        mem: Vec::new(),
        file,
        to_file: download,
        ranged: range.is_some(),
        base: None,
        digest: None,
        version: None,
        described: (None, None),
    };
    let done = drive_get(&io, &keyring, intent, &mut out).map_err(|f| f.into_py(py))?;
    let d = PyDict::new(py);
    let in_storage = download || done.verification == s3_encryption::object::Verification::Storage;
    if let (true, Some(f)) = (in_storage, &out.file) {
        f.set_len(done.released)?;
    }
    if in_storage {
        d.set_item("plaintext", py.None())?;
    } else {
        out.mem.resize(done.released as usize, 0);
        d.set_item("plaintext", PyBytes::new(py, &out.mem))?;
    }
    d.set_item("in_storage", in_storage)?;
    d.set_item("verification", verification_name(&done))?;
    d.set_item("released", done.released)?;
    d.set_item("range_first", done.range_first)?;
    d.set_item("fetched", done.fetched)?;
    d.set_item("etag", done.object.etag())?;
    d.set_item("version_id", done.object.version_id())?;
    d.set_item("stored_len", done.object.stored_len())?;
    Ok(d)
}
