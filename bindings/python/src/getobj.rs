//! `get_object`: one read of an object, its plaintext returned as `bytes` or as a file.
//!
//! A verified read of a GCM object (unix) is one pass: each piece of the body is authenticated
//! and decrypted as it arrives, into storage that nobody can read until the machine says `Done`
//! (the core's hazmat `unverified_plaintext_storage`, whose promise this module keeps):
//!
//! * within the memory budget, the storage is the `bytes` object being built
//!   (`PyBytes::new_with`): no Python code holds a reference to it until the closure that fills
//!   it returns, which it does only after `Done`; on any error it is freed unread. Each piece of
//!   the body is copied once, from the response's `bytes` to its place there;
//! * over the budget, an anonymous file: on Linux an `O_TMPFILE` that never has a name, elsewhere
//!   the temporary file unlinked before its first byte is written; handed to Python as a file
//!   descriptor only after `Done`; on any error it is closed, which frees it.
//!
//! A download (Linux) takes the same single pass into an `O_TMPFILE` in the target's directory,
//! handed to Python only after `Done`, which links it to a name beside the target and renames it
//! over the target. Other reads (legacy CBC objects, ranges, delayed authentication, downloads
//! elsewhere, and every read where no file can be unlinked while open) go through the core's
//! other plans unchanged.

use crate::errors::{R, py_error};
use crate::get::{GetDriver, Out, Step, verification_name};
use crate::keyring::{Keyring, pairs_ref};
use crate::options::{context_of, decrypt_policy, opt};
use crate::transport::Io;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use s3_encryption::object::{GetDone, GetIntent, ReadMode, Verification};
use s3_encryption::{ByteRange, ContentAlgorithm, Error};
use std::fs::File;

fn lost() -> Error {
    Error::Internal("the binding lost track of a request")
}

/// The storage of a single-pass read over the budget: a file without a name before its first
/// byte is written. On Linux an `O_TMPFILE` beside `path` (never named at all); elsewhere, or on a
/// filesystem without it, `path` itself (the caller's fresh 0600 temporary file) opened and
/// unlinked at once. Either way `path` is gone on return.
fn unnamed_storage(path: &str) -> std::io::Result<File> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, Mode, OFlags, openat};
        use rustix::io::Errno;
        let dir = match std::path::Path::new(path).parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
        match openat(CWD, dir, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => {
                std::fs::remove_file(path)?;
                return Ok(File::from(fd));
            }
            // No O_TMPFILE on this filesystem (EOPNOTSUPP) or kernel (EISDIR, EINVAL).
            Err(e) if e == Errno::OPNOTSUPP || e == Errno::ISDIR || e == Errno::INVAL => {}
            Err(e) => return Err(e.into()),
        }
    }
    let f = open_storage(path)?;
    std::fs::remove_file(path)?;
    Ok(f)
}

fn open_storage(path: &str) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// Whether this platform can take the single pass: the storage file can be unlinked while open.
const SINGLE_PASS: bool = cfg!(unix);

/// Whether a download can take the single pass: on Linux its storage is an `O_TMPFILE` in the
/// target's directory, which the caller links to a name once the object is verified (where the
/// filesystem has no `O_TMPFILE`, the caller copies the file out instead).
const SINGLE_PASS_DOWNLOAD: bool = cfg!(target_os = "linux");

/// Where the plaintext of a finished read is.
enum Plaintext<'py> {
    Bytes(Bound<'py, PyBytes>),
    /// In the storage file (anonymous on unix).
    File,
    /// In `Out::mem`.
    Mem,
}

/// Choose the storage once the machine wants the body, then finish the read.
fn finish_single_pass<'py>(
    py: Python<'py>,
    drv: &mut GetDriver<'_, 'py>,
    out: &mut Out<'_>,
    budget: u64,
    path: &str,
) -> R<(GetDone, Plaintext<'py>)> {
    let stored = drv.g.object().ok_or_else(lost)?.stored_len();
    let env = drv.g.envelope().ok_or_else(lost)?;
    // A download passes a budget of 0: it is never held in memory, its storage becomes the file.
    let in_memory = match env.plaintext_len(stored) {
        Some(p) if env.content_algorithm() != ContentAlgorithm::AesCbc && stored <= budget => {
            Some(usize::try_from(p).map_err(|_| Error::TooLarge)?)
        }
        _ => None,
    };
    if let Some(len) = in_memory {
        let mut done = None;
        let bytes = PyBytes::new_with(py, len, |buf| {
            let mut o = Out {
                dest: Some(&mut *buf),
                ..Out::default()
            };
            let r = match drv.run(&mut o) {
                Ok(Step::Done(d)) if d.released == len as u64 => {
                    done = Some(*d);
                    Ok(())
                }
                Ok(_) => Err(py_error(py, lost())),
                Err(f) => Err(f.into_py(py)),
            };
            if r.is_err() {
                // Discarded: what it held was never verified; it is not left in freed memory.
                buf.fill(0);
            }
            r
        })?;
        return Ok((done.ok_or_else(lost)?, Plaintext::Bytes(bytes)));
    }
    let f = unnamed_storage(path).map_err(PyErr::from)?;
    out.file = Some(f);
    match drv.run(out)? {
        Step::Done(d) => Ok((*d, Plaintext::File)),
        Step::Storage => Err(lost().into()),
    }
}

/// Read an object. `options`: commitment_policy, enable_legacy_wrapping_algorithms,
/// enable_legacy_unauthenticated_modes, enable_delayed_authentication, version_id,
/// encryption_context (dict; None = the empty context), discovery (accept the stored context),
/// instruction_file_suffix, memory_budget, storage_path (a new empty file for objects over the
/// budget, or the download target with `download`), connections, part_size, range (an HTTP
/// `Range` value, `bytes=a-b`, `bytes=a-` or `bytes=-n`: an unauthenticated read, behind
/// `enable_legacy_unauthenticated_modes`), delayed, download.
/// Returns a dict: plaintext (bytes, or None when in storage), fd (unix: the storage file, open,
/// with no name, at its start; the caller owns it), in_storage, verification, released,
/// range_first, etag, version_id, stored_len.
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
    let budget = intent.memory_budget;
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
    let single_pass = SINGLE_PASS
        && intent.storage
        && (!download || SINGLE_PASS_DOWNLOAD)
        && intent.mode == ReadMode::Verified;
    if single_pass {
        // The storage is chosen when the body comes (finish_single_pass): the memory budget
        // decides between memory and file there, so the machine's own is not used.
        intent.memory_budget = 0;
        intent.unverified_plaintext_storage =
            Some(s3_encryption::hazmat::unverified_plaintext_storage());
    }
    let mut out = Out {
        // Released plaintext is written to the download's file, except in the single pass,
        // whose storage already is that file.
        to_file: download && !single_pass,
        ranged: range.is_some(),
        choose_storage: single_pass,
        ..Out::default()
    };
    if let (false, Some(p)) = (single_pass, &storage_path) {
        out.file = Some(open_storage(p)?);
    }
    let r = (|| -> R<(GetDone, Plaintext<'py>)> {
        let mut drv = GetDriver::new(&io, &keyring, intent)?;
        match drv.run(&mut out)? {
            Step::Done(d) => {
                if download && out.file.is_none() {
                    // Done before any body (nothing to store): the download is an empty file.
                    let path = storage_path.as_deref().ok_or_else(lost)?;
                    out.file = Some(unnamed_storage(path).map_err(PyErr::from)?);
                }
                let stored = download || d.verification == Verification::Storage;
                Ok((
                    *d,
                    if stored {
                        Plaintext::File
                    } else {
                        Plaintext::Mem
                    },
                ))
            }
            Step::Storage => {
                let path = storage_path.as_deref().ok_or_else(lost)?;
                let budget = if download { 0 } else { budget };
                finish_single_pass(py, &mut drv, &mut out, budget, path)
            }
        }
    })();
    let (done, plaintext) = r.map_err(|f| f.into_py(py))?;
    let d = PyDict::new(py);
    let in_memory = matches!(plaintext, Plaintext::Bytes(_));
    match plaintext {
        Plaintext::Bytes(b) => d.set_item("plaintext", b)?,
        Plaintext::Mem => {
            out.mem.resize(done.released as usize, 0);
            d.set_item("plaintext", PyBytes::new(py, &out.mem))?;
        }
        Plaintext::File => {
            d.set_item("plaintext", py.None())?;
            let f = out.file.take().ok_or_else(|| py_error(py, lost()))?;
            f.set_len(done.released)?;
            if single_pass {
                // Ours to read (get_object) or to link to a name (a download), then close.
                #[cfg(unix)]
                d.set_item("fd", std::os::fd::IntoRawFd::into_raw_fd(f))?;
            }
        }
    }
    d.set_item(
        "in_storage",
        d.get_item("plaintext")?.is_none_or(|p| p.is_none()),
    )?;
    // The single pass reports where the verified plaintext was kept, as the other plans do.
    let verification = match (done.verification, in_memory) {
        (Verification::DecryptedInStorage, true) => "InMemory".to_owned(),
        (Verification::DecryptedInStorage, false) => "Storage".to_owned(),
        _ => verification_name(&done),
    };
    d.set_item("verification", verification)?;
    d.set_item("released", done.released)?;
    d.set_item("range_first", done.range_first)?;
    d.set_item("fetched", done.fetched)?;
    d.set_item("etag", done.object.etag())?;
    d.set_item("version_id", done.object.version_id())?;
    d.set_item("stored_len", done.object.stored_len())?;
    Ok(d)
}
