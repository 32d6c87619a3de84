//! The GET machine driven over the transport ([`GetDriver`]), with the released plaintext put in
//! memory, in the caller's buffer or in a file ([`Out`]). `get_object` itself is in `getobj.rs`.

use crate::errors::R;
use crate::keyring::Keyring;
use crate::transport::{Io, close_body, read_pieces};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use s3_encryption::Error;
use s3_encryption::object::{GetDone, GetIntent, GetNext, GetObject, Released, RequestId};
use std::collections::HashMap;
use std::fs::File;

fn lost() -> Error {
    Error::Internal("the binding lost track of a request")
}

/// Where released plaintext goes, and the caller's storage for the storage modes.
#[derive(Default)]
pub(crate) struct Out<'b> {
    /// Released plaintext, in memory (the in-memory plan, ranged and delayed reads).
    pub(crate) mem: Vec<u8>,
    /// The storage: a file (storage mode, downloads).
    pub(crate) file: Option<File>,
    /// The storage: the caller's buffer, exactly the ciphertext's length (the single pass of
    /// `get_object` for GCM objects within the memory budget: the `bytes` object being built,
    /// which no Python code can see until the read is done). Pieces of the body are copied
    /// straight to their place in it and decrypted there.
    pub(crate) dest: Option<&'b mut [u8]>,
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
    /// Stop at the first body the machine asks for while no storage is given
    /// ([`Step::Storage`]): the caller chooses it once the object's size and format are known.
    pub(crate) choose_storage: bool,
}

impl Out<'_> {
    pub(crate) fn plaintext(&mut self, offset: u64, data: &[u8], replayed: bool) -> R<()> {
        let offset = if self.ranged {
            let base = *self.base.get_or_insert(offset);
            offset.checked_sub(base).ok_or_else(lost)?
        } else {
            offset
        };
        if let Some(d) = &mut self.digest {
            d.update(offset, data)?;
        }
        if self.to_file || replayed {
            let f = self.file.as_ref().ok_or_else(lost)?;
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
        let f = self.file.as_ref().ok_or_else(lost)?;
        crate::pio::write_all_at(f, data, offset).map_err(PyErr::from)?;
        Ok(())
    }
    fn has_storage(&self) -> bool {
        self.file.is_some() || self.dest.is_some()
    }
}

pub(crate) enum Source<'a, 'py> {
    Py(&'a Bound<'py, PyAny>),
    /// The storage file, and the last stored offset to read back (the first is `first`).
    File(&'a File, u64),
}

/// Feed one body (a response or a replay from storage) to the machine. `first` is the stored
/// offset of the body's first byte.
fn feed_body(
    py: Python<'_>,
    g: &mut GetObject<'_>,
    id: RequestId,
    first: u64,
    src: Source<'_, '_>,
    out: &mut Out<'_>,
) -> R<()> {
    let replayed = matches!(src, Source::File(..));
    let mut at = first;
    let mut scratch: Vec<u8> = Vec::new();
    loop {
        let f = g.feed(id)?;
        let n = match f.len {
            // Past the asked length: offer a few bytes so that a longer body is refused.
            0 => 100,
            n if f.exact => n,
            n => n.min(4 << 20),
        };
        // The piece, as Python `bytes` objects (a response) or read from the storage file.
        let pieces: Vec<Bound<'_, PyBytes>> = match &src {
            Source::Py(b) => read_pieces(b, n, f.exact)?,
            Source::File(file, last) => {
                let take = (n as u64).min((*last + 1).saturating_sub(at)) as usize;
                scratch.resize(take, 0);
                crate::pio::read_exact_at(file, &mut scratch, at).map_err(PyErr::from)?;
                Vec::new()
            }
        };
        let parts: Vec<&[u8]> = pieces.iter().map(|p| p.as_bytes()).collect();
        let len = if replayed {
            scratch.len()
        } else {
            parts.iter().map(|p| p.len()).sum()
        };
        // An exact piece that came short: the body ended early (a piece is never more than
        // what remains of the asked length), so the machine's answer is TruncatedBody.
        if len == 0 || (f.exact && len < n) {
            if let Source::Py(b) = &src {
                close_body(b);
            }
            g.end_of_body(id)?;
            return Ok(());
        }
        // Where the machine sees the piece: its own place in the caller's buffer when it is
        // ciphertext the buffer holds, else the scratch buffer.
        let in_dest = !replayed
            && out
                .dest
                .as_ref()
                .is_some_and(|d| at.saturating_add(len as u64) <= d.len() as u64);
        let buf: &mut [u8] = if in_dest {
            let d = out.dest.as_deref_mut().ok_or_else(lost)?;
            &mut d[at as usize..at as usize + len]
        } else {
            if !replayed {
                scratch.resize(len, 0);
            }
            &mut scratch[..]
        };
        // Copy, decrypt and write to the storage file without the GIL (the body's reader thread
        // needs it meanwhile). A piece released to a download's file is written here too.
        let file = out.file.as_ref();
        let plain_to_file = out.digest.is_none() && !out.ranged && (out.to_file || replayed);
        type WorkError = Result<Error, std::io::Error>;
        let mut work = |buf: &mut [u8]| -> Result<(Released, bool), WorkError> {
            let mut o = 0;
            for p in &parts {
                buf[o..o + p.len()].copy_from_slice(p);
                o += p.len();
            }
            let r = g.body(id, buf).map_err(Ok)?;
            let written = match (r, file) {
                (Released::Store { offset }, Some(f)) if !in_dest => {
                    crate::pio::write_all_at(f, buf, offset).map_err(Err)?;
                    true
                }
                (Released::Plaintext { start, len, offset }, Some(f))
                    if plain_to_file && !in_dest =>
                {
                    crate::pio::write_all_at(f, &buf[start..start + len], offset).map_err(Err)?;
                    true
                }
                _ => false,
            };
            Ok((r, written))
        };
        let worked = if len >= 64 << 10 {
            py.detach(|| work(buf))
        } else {
            work(buf)
        };
        let (released, written) = match worked {
            Ok(v) => v,
            Err(Ok(e)) => return Err(e.into()),
            Err(Err(e)) => return Err(PyErr::from(e).into()),
        };
        drop(parts);
        drop(pieces);
        match released {
            _ if written => {}
            Released::Plaintext { start, len, offset } if !in_dest => {
                if len > 0 {
                    out.plaintext(offset, &scratch[start..start + len], replayed)?;
                }
            }
            // Already in place: the machine decrypted it where it lies.
            Released::Store { offset } if in_dest && offset == at => {}
            Released::Store { offset } if !in_dest => out.store(offset, &scratch)?,
            Released::Nothing => {}
            _ => return Err(lost().into()),
        }
        at += len as u64;
    }
}

/// What [`GetDriver::run`] stopped for.
pub(crate) enum Step {
    /// The read is finished.
    Done(Box<GetDone>),
    /// The machine wants a body and `Out` has no storage: give it one, then run again.
    Storage,
}

/// A GET machine and its outstanding requests and bodies. Dropping it closes every body and
/// waits for every request still in flight.
pub(crate) struct GetDriver<'a, 'py> {
    io: &'a Io<'py>,
    keyring: &'a Keyring<'py>,
    pub(crate) g: GetObject<'a>,
    inflight: Vec<(RequestId, Bound<'py, PyAny>)>,
    bodies: HashMap<RequestId, Bound<'py, PyAny>>,
    /// A step taken from the machine and not yet carried out (a body, while storage is chosen).
    pending: Option<GetNext>,
}

impl<'a, 'py> GetDriver<'a, 'py> {
    pub(crate) fn new(
        io: &'a Io<'py>,
        keyring: &'a Keyring<'py>,
        intent: GetIntent<'a>,
    ) -> R<Self> {
        Ok(GetDriver {
            io,
            keyring,
            g: GetObject::new(intent)?,
            inflight: Vec::new(),
            bodies: HashMap::new(),
            pending: None,
        })
    }

    /// Drive the machine until it is done, or until it wants a body while `out` has no storage
    /// and `out.choose_storage` is set.
    pub(crate) fn run(&mut self, out: &mut Out<'_>) -> R<Step> {
        let (io, py) = (self.io, self.io.py);
        loop {
            let next = match self.pending.take() {
                Some(n) => n,
                None => self.g.poll()?,
            };
            match next {
                // The object's body (not its instruction file's), once the envelope is known.
                GetNext::ReadBody(id) | GetNext::Replay(id)
                    if out.choose_storage
                        && !out.has_storage()
                        && self.g.envelope().is_some()
                        && self.g.request(id)?.key_suffix.is_empty() =>
                {
                    self.pending = Some(next);
                    return Ok(Step::Storage);
                }
                GetNext::Send(id) => {
                    let r = self.g.request(id)?;
                    let f = io.submit(&r, None)?;
                    self.inflight.push((id, f));
                }
                GetNext::Wait => {
                    if self.inflight.is_empty() {
                        return Err(lost().into());
                    }
                    let futs: Vec<_> = self.inflight.iter().map(|(_, f)| f.clone()).collect();
                    let i = io.wait_any(&futs)?;
                    let (id, f) = self.inflight.swap_remove(i);
                    let resp = io.result(&f)?;
                    let res = self.g.response(id, resp.status, resp.pairs());
                    if let Some(b) = resp.body {
                        if res.is_ok() && (200..300).contains(&resp.status) {
                            self.bodies.insert(id, b);
                        } else {
                            close_body(&b);
                        }
                    }
                    res?;
                }
                GetNext::ReadBody(id) => {
                    let b = self.bodies.remove(&id).ok_or_else(lost)?;
                    let first = self.g.request(id)?.range.map_or(0, |r| r.0);
                    let r = feed_body(py, &mut self.g, id, first, Source::Py(&b), out);
                    close_body(&b);
                    r?;
                }
                GetNext::Replay(id) => {
                    let (a, b) = self.g.replay_range(id)?;
                    let file = out
                        .file
                        .as_ref()
                        .ok_or_else(lost)?
                        .try_clone()
                        .map_err(PyErr::from)?;
                    feed_body(py, &mut self.g, id, a, Source::File(&file, b), out)?;
                }
                GetNext::UnwrapKey => {
                    let env = self.g.envelope().ok_or_else(lost)?;
                    out.version = Some(env.version());
                    out.described = (
                        env.materials_description().map(str::to_owned),
                        env.encryption_context().map(str::to_owned),
                    );
                    let req = self.g.key_request()?;
                    let dk = self.keyring.unwrap(py, env, req)?;
                    self.g.data_key(dk)?;
                }
                GetNext::Done(d) => return Ok(Step::Done(Box::new(d))),
            }
        }
    }
}

impl Drop for GetDriver<'_, '_> {
    fn drop(&mut self) {
        for (_, f) in self.inflight.drain(..) {
            // Let outstanding requests finish; their bodies are dropped unread.
            if let Ok(resp) = self.io.result(&f)
                && let Some(b) = resp.body
            {
                close_body(&b);
            }
        }
        for b in self.bodies.values() {
            close_body(b);
        }
    }
}

/// Drive a read to the end with the storage `out` already has (migrations, downloads).
pub(crate) fn drive_get<'py>(
    io: &Io<'py>,
    keyring: &Keyring<'py>,
    intent: GetIntent<'_>,
    out: &mut Out<'_>,
) -> R<GetDone> {
    let mut d = GetDriver::new(io, keyring, intent)?;
    match d.run(out)? {
        Step::Done(done) => Ok(*done),
        Step::Storage => Err(lost().into()),
    }
}

pub(crate) fn verification_name(d: &GetDone) -> String {
    format!("{:?}", d.verification)
}
