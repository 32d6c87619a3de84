//! `migrate_object`: the core's migration of one object to V3
//! ([`s3_encryption::object::migrate`]), driven over the Python transport. The same steps and
//! verdicts as the Rust transport's `migrate_object` (what `s3ec migrate` runs per object):
//!
//! 1. describe the object (HEAD and instruction file) into a [`Source`] snapshot;
//! 2. plan: a plain object is `not-encrypted`; a V3 object the new keyring opens is `skipped`;
//!    one the old keyring and policy cannot open is `cannot-open`; with `dry_run` the rest is
//!    `would-migrate`;
//! 3. read its tags (pinned to its version);
//! 4. [`Reencrypt`]: the old object read (pinned to its version and ETag, verified), written as
//!    V3 conditional on its ETag (`If-Match` on the PutObject or the CompleteMultipartUpload),
//!    then read back and compared (length, SHA-256) before `migrated` is reported.
//!
//! A failed condition anywhere (412, or an answer that shows another object) is `changed`: the
//! other writer's object is left as it is. Nothing is deleted: on a versioned bucket the source
//! version stays (`source_version`), and an instruction file the new object no longer needs is
//! left in place (named in `detail`). Transport failures raise (the caller records `failed`).

use super::{
    Fail, Io, Keyring, Out, R, close_body, context_of, decrypt_policy, drive_get, drive_put, opt,
    pairs_ref,
};
use crate::errors::{UsageError, is_error};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use s3_encryption::object::migrate::{
    DescribeSource, MigrateTarget, NewKey, PlaintextDigest, Plan, Reencrypt, Source,
};
use s3_encryption::object::{GetDone, Verification};
use s3_encryption::{CommitmentPolicy, DecryptPolicy, Envelope, Error, ErrorClass, KeyRequest};
use std::fs::File;

/// What happened to one object (the fields of an entry of `s3ec migrate`'s report).
struct Outcome {
    status: &'static str,
    form: Option<Form>,
    source_etag: Option<String>,
    source_version: Option<String>,
    new_etag: Option<String>,
    new_version: Option<String>,
    bytes: u64,
    detail: Option<String>,
}

/// An object's form, named as `s3ec migrate` names it.
struct Form {
    format: &'static str,
    content: &'static str,
    wrap: String,
    placement: &'static str,
    size: u64,
}

fn form_of(s: &Source) -> Form {
    let f = s.form();
    Form {
        format: f.format.name(),
        content: f.content_name(),
        wrap: f.wrap_name().to_owned(),
        placement: f.placement_name(),
        size: f.stored_len,
    }
}

impl Outcome {
    fn of(s: &Source, status: &'static str, detail: Option<String>) -> Self {
        Outcome {
            status,
            form: Some(form_of(s)),
            source_etag: s.etag().map(str::to_owned),
            source_version: s.version_id().map(str::to_owned),
            new_etag: None,
            new_version: None,
            bytes: 0,
            detail,
        }
    }

    fn into_dict<'py>(self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("key", key)?;
        d.set_item("status", self.status)?;
        match self.form {
            Some(f) => {
                let fd = PyDict::new(py);
                fd.set_item("format", f.format)?;
                fd.set_item("content", f.content)?;
                fd.set_item("wrap", f.wrap)?;
                fd.set_item("placement", f.placement)?;
                fd.set_item("size", f.size)?;
                d.set_item("form", fd)?;
            }
            None => d.set_item("form", py.None())?,
        }
        d.set_item("source_etag", self.source_etag)?;
        d.set_item("source_version", self.source_version)?;
        d.set_item("new_etag", self.new_etag)?;
        d.set_item("new_version", self.new_version)?;
        d.set_item("bytes", self.bytes)?;
        d.set_item("detail", self.detail)?;
        Ok(d)
    }
}

/// A failure the migration reports as a verdict rather than raising.
fn is_changed(f: &Fail) -> bool {
    matches!(
        f,
        Fail::Core(Error::ObjectChanged | Error::RequestFailed { status: 412 })
    )
}

/// A core error that is about the object's envelope or keys (not the storage): `cannot-open`.
fn is_crypto(f: &Fail) -> Option<Error> {
    match f {
        Fail::Core(e) if e.class() != ErrorClass::Storage => Some(*e),
        _ => None,
    }
}

/// A short, secret-free note.
fn short(e: &Error) -> String {
    format!("{}: {e}", e.code())
}

/// The key request for `env`: checked against `ctx` when one is expected, else accepting the
/// stored context.
fn key_request<'e>(
    env: &'e Envelope,
    ctx: Option<&[(&str, &str)]>,
) -> Result<KeyRequest<'e>, Error> {
    match ctx {
        Some(c) => env.key_request(c),
        None => env.key_request_accepting_stored_context(),
    }
}

/// Whether `keyring` opens `env` under `policy`. A keyring that refuses (a core error, or a
/// Python exception such as KMS's) does not; anything else (KeyboardInterrupt) propagates.
fn opens(
    py: Python<'_>,
    keyring: &Keyring<'_>,
    env: &Envelope,
    policy: &DecryptPolicy,
    ctx: Option<&[(&str, &str)]>,
) -> R<Result<(), String>> {
    if let Err(e) = env.check_policy(policy) {
        return Ok(Err(short(&e)));
    }
    let req = match key_request(env, ctx) {
        Ok(r) => r,
        Err(e) => return Ok(Err(short(&e))),
    };
    match keyring.unwrap(py, env, req) {
        Ok(dk) => Ok(env.decryptor(dk, policy).map(|_| ()).map_err(|e| short(&e))),
        Err(Fail::Core(e)) => Ok(Err(short(&e))),
        // Throttling, 5xx, a network failure: not a verdict; the caller may retry.
        Err(Fail::Py(e)) if transient(py, &e)? => Err(Fail::Py(e)),
        Err(Fail::Py(e))
            if is_error(py, &e, "S3ECError") || e.is_instance_of::<PyException>(py) =>
        {
            let name = e
                .get_type(py)
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "error".into());
            Ok(Err(format!("the keyring refused: {name}")))
        }
        Err(f) => Err(f),
    }
}

/// Whether a keyring's exception is transient (`s3ec.migrate.is_transient`).
fn transient(py: Python<'_>, e: &PyErr) -> R<bool> {
    let f = py.import("s3ec.migrate")?.getattr("is_transient")?;
    Ok(f.call1((e.value(py),))?.is_truthy()?)
}

/// HEAD the object (and its instruction file) and take the snapshot every later request is
/// pinned to.
fn describe(io: &Io<'_>, bucket: &str, key: &str, suffix: &str) -> R<Source> {
    let mut d = DescribeSource::new(bucket, key, suffix)?;
    while let Some(id) = d.poll()? {
        let (resp, body) = io.call_small(&d.request(id)?)?;
        if let Some(bytes) = body {
            d.body(id, &bytes)?;
        }
        d.response(id, resp.status, resp.pairs())?;
    }
    Ok(d.finish()?)
}

/// The options of one migration.
struct Opts {
    policy: DecryptPolicy,
    suffix: String,
    old_ctx: Option<Vec<(String, String)>>,
    new_ctx: Option<Vec<(String, String)>>,
    storage_path: String,
    memory_budget: Option<u64>,
    part_size: Option<u64>,
    multipart_threshold: Option<u64>,
    parts_in_flight: Option<u16>,
    dry_run: bool,
    verify: bool,
}

fn storage(path: &str) -> R<File> {
    Ok(std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(PyErr::from)?)
}

fn out_for(path: &str) -> R<Out<'static>> {
    Ok(Out {
        mem: Vec::new(),
        file: Some(storage(path)?),
        to_file: false,
        ranged: false,
        base: None,
        digest: Some(PlaintextDigest::new()),
        version: None,
        described: (None, None),
        ..Out::default()
    })
}

/// The verified plaintext of a finished read, as a Python file-like object for the write.
fn plaintext_reader<'py>(
    py: Python<'py>,
    done: &GetDone,
    out: &mut Out,
    path: &str,
) -> R<Bound<'py, PyAny>> {
    if done.verification == Verification::Storage {
        let f = out
            .file
            .as_ref()
            .ok_or(Error::Internal("the binding lost track of a request"))?;
        f.set_len(done.released).map_err(PyErr::from)?;
        let builtins = py.import("builtins")?;
        Ok(builtins.call_method1("open", (path, "rb"))?)
    } else {
        out.mem.resize(done.released as usize, 0);
        let bytes = PyBytes::new(py, &out.mem);
        out.mem = Vec::new();
        Ok(py.import("io")?.call_method1("BytesIO", (bytes,))?)
    }
}

/// The transport's answer to the object's write (boto3's PutObject or CompleteMultipartUpload
/// response): its ETag and version id.
fn written(io: &Io<'_>) -> R<(Option<String>, Option<String>)> {
    let w = io.t.getattr("written")?;
    if w.is_none() {
        return Ok((None, None));
    }
    let get = |k: &str| -> PyResult<Option<String>> {
        match w.call_method1("get", (k,))? {
            v if v.is_none() => Ok(None),
            v => v.extract(),
        }
    };
    Ok((get("ETag")?, get("VersionId")?))
}

fn run(
    io: &Io<'_>,
    old: &Keyring<'_>,
    new: &Keyring<'_>,
    bucket: &str,
    key: &str,
    o: &Opts,
) -> R<Outcome> {
    let py = io.py;
    let mut source = match describe(io, bucket, key, &o.suffix) {
        Ok(s) => s,
        Err(f) => {
            // A malformed, ambiguous or over-large envelope: nothing can open it.
            let Some(e) = is_crypto(&f) else {
                return Err(f);
            };
            return Ok(Outcome {
                status: "cannot-open",
                form: None,
                source_etag: None,
                source_version: None,
                new_etag: None,
                new_version: None,
                bytes: 0,
                detail: Some(short(&e)),
            });
        }
    };
    let plan = match source.plan(MigrateTarget::ToV3) {
        Ok(p) => p,
        Err(e) => return Ok(Outcome::of(&source, "unsupported", Some(short(&e)))),
    };
    let env = match (plan, source.envelope()) {
        (Plan::NotEncrypted, _) | (_, None) => {
            return Ok(Outcome::of(&source, "not-encrypted", None));
        }
        (_, Some(env)) => env.clone(),
    };
    let new_ctx = o.new_ctx.as_deref().map(pairs_ref);
    let old_ctx = o.old_ctx.as_deref().map(pairs_ref);
    // Already in the target form first: a rerun with the same keys skips what the first run
    // migrated (which the old keyring may no longer open).
    if plan == Plan::SkipIfNewKeyOpens
        && opens(py, new, &env, &DecryptPolicy::new(), new_ctx.as_deref())?.is_ok()
    {
        return Ok(Outcome::of(&source, "skipped", None));
    }
    if let Err(why) = opens(py, old, &env, &o.policy, old_ctx.as_deref())? {
        return Ok(Outcome::of(&source, "cannot-open", Some(why)));
    }
    if o.dry_run {
        return Ok(Outcome::of(&source, "would-migrate", None));
    }
    let tagging = io.t.call_method1(
        "get_object_tagging",
        (bucket, key, source.version_id().map(str::to_owned)),
    )?;
    let (status, tags): (u16, Option<String>) = tagging.extract()?;
    match status {
        200..=299 => source.set_tagging(tags),
        404 => {
            return Ok(Outcome::of(
                &source,
                "changed",
                Some("the object is gone".into()),
            ));
        }
        s => return Err(Error::RequestFailed { status: s }.into()),
    }
    match reencrypt(io, old, new, &source, o) {
        Ok(out) => Ok(out),
        Err(f) if is_changed(&f) => {
            let detail = match &f {
                Fail::Core(e) => Some(short(e)),
                Fail::Py(_) => None,
            };
            Ok(Outcome::of(&source, "changed", detail))
        }
        Err(f) => Err(f),
    }
}

/// Read (pinned, verified) → write (V3, conditional) → read back and compare.
fn reencrypt(
    io: &Io<'_>,
    old: &Keyring<'_>,
    new: &Keyring<'_>,
    source: &Source,
    o: &Opts,
) -> R<Outcome> {
    let py = io.py;
    // The new key's own description (a KMS key's context, an AES/RSA key's materials
    // description); the core decides what the new object carries: that one, or the source's of
    // the same kind (`x-amz-matdesc` becomes `x-amz-m`).
    let kms = matches!(new, Keyring::Py(_));
    let own: Vec<(String, String)> = if kms {
        o.new_ctx.clone().unwrap_or_default()
    } else {
        new.matdesc().to_vec()
    };
    let own_ref = pairs_ref(&own);
    let mut re = Reencrypt::new(source, CommitmentPolicy::RequireEncryptRequireDecrypt)?;
    re.set_new_key(if kms {
        NewKey::Kms(&own_ref)
    } else {
        NewKey::Local(&own_ref)
    })?;
    let carried: Vec<(String, String)> = re
        .new_description()
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let writer = new.with_matdesc(carried);
    let old_ctx = o.old_ctx.as_deref().map(pairs_ref);
    // 1. The read.
    let mut ri = re.read_intent(o.policy)?;
    ri.storage = true;
    if let Some(b) = o.memory_budget {
        ri.memory_budget = b;
    }
    if let Some(c) = &old_ctx {
        ri.encryption_context = Some(c);
    }
    let mut out = out_for(&o.storage_path)?;
    let done = match drive_get(io, old, ri, &mut out) {
        Ok(d) => d,
        Err(f) if is_changed(&f) => return Err(f),
        Err(f) => match is_crypto(&f) {
            // The source did not authenticate (or is refused by the read's policy): nothing
            // was written.
            Some(e) => return Ok(Outcome::of(source, "cannot-open", Some(short(&e)))),
            None => return Err(f),
        },
    };
    let digest = out
        .digest
        .take()
        .ok_or(Error::Internal("the binding lost track of a request"))?;
    re.read_done(&done, digest)?;
    // 2. The write.
    let reader = plaintext_reader(py, &done, &mut out, &o.storage_path)?;
    let mut wi = re.write_intent()?;
    wi.instruction_file_suffix = &o.suffix;
    if let Some(v) = o.part_size {
        wi.part_size = v;
    }
    if let Some(v) = o.multipart_threshold {
        wi.multipart_threshold = v;
    }
    if let Some(v) = o.parts_in_flight {
        wi.parts_in_flight = v;
    }
    let put = drive_put(io, &writer, wi, &reader);
    close_body(&reader);
    drop(out);
    let put = put?;
    let (etag, version) = written(io)?;
    re.written(put.plaintext_len, etag.as_deref(), version.as_deref())?;
    let mut outcome = Outcome::of(source, "migrated", None);
    outcome.new_etag = re.new_etag().map(str::to_owned);
    outcome.new_version = re.new_version_id().map(str::to_owned);
    outcome.bytes = put.plaintext_len;
    // 3. The read-back.
    let mut notes = Vec::new();
    if o.verify {
        let mut vi = re.verify_intent()?;
        vi.storage = true;
        if let Some(b) = o.memory_budget {
            vi.memory_budget = b;
        }
        let mut vout = out_for(&o.storage_path)?;
        let vdone = drive_get(io, new, vi, &mut vout)?;
        let version = vout
            .version
            .ok_or(Error::Internal("the binding lost track of a request"))?;
        let digest = vout
            .digest
            .take()
            .ok_or(Error::Internal("the binding lost track of a request"))?;
        re.check_new_envelope(vout.described.0.as_deref(), vout.described.1.as_deref())?;
        let v = re.verified(&vdone, version, digest)?;
        if v.description_not_carried {
            notes.push(
                "the source's materials description or encryption context does not apply to the new key's kind and was not carried (give the new key's own)"
                    .to_owned(),
            );
        }
        if v.instruction_file_left {
            notes.push(format!(
                "the old instruction file {}{} was left in place",
                source.key(),
                source.suffix()
            ));
        }
    } else {
        notes.push("not verified".to_owned());
    }
    outcome.detail = (!notes.is_empty()).then(|| notes.join("; "));
    Ok(outcome)
}

/// Migrate one object to V3, as `s3ec migrate` does (see the module documentation). `keyring`
/// opens the old object under the read policy of `options` (commitment_policy,
/// enable_legacy_wrapping_algorithms, enable_legacy_unauthenticated_modes); `new_keyring` writes
/// the new one and must open it again. `options` also: instruction_file_suffix, storage_path (a
/// scratch file for objects over memory_budget and for the plaintext between read and write),
/// memory_budget, encryption_context (the old object's expected one; None accepts the stored
/// one), new_encryption_context, part_size, multipart_threshold, parts_in_flight, dry_run,
/// verify (default True). The transport needs `get_object_tagging(bucket, key, version_id) ->
/// (status, tagging)` and `written` besides the calls of the other machines. Returns the
/// report entry: key, status (`migrated`, `skipped`, `not-encrypted`, `cannot-open`, `changed`,
/// `would-migrate`, `unsupported`), form, source_etag, source_version, new_etag, new_version,
/// bytes, detail.
#[pyfunction]
#[pyo3(signature = (transport, keyring, new_keyring, bucket, key, options))]
pub(crate) fn migrate_object<'py>(
    py: Python<'py>,
    transport: Bound<'py, PyAny>,
    keyring: Bound<'py, PyAny>,
    new_keyring: Bound<'py, PyAny>,
    bucket: &str,
    key: &str,
    options: Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    let io = Io { py, t: transport };
    let old = Keyring::from_py(&keyring)?;
    let new = Keyring::from_py(&new_keyring)?;
    let o = &options;
    let verify: bool = opt(o, "verify", true)?;
    if let Keyring::Rsa(r) = &new
        && verify
        && r.private.is_none()
    {
        return Err(UsageError::new_err(
            "the new keyring cannot decrypt, so the re-encrypted object cannot be read back; \
             give its private key",
        ));
    }
    let storage_path: Option<String> = opt(o, "storage_path", None)?;
    let opts = Opts {
        policy: decrypt_policy(o)?,
        suffix: opt(o, "instruction_file_suffix", ".instruction".into())?,
        old_ctx: context_of(o, "encryption_context")?,
        new_ctx: context_of(o, "new_encryption_context")?,
        storage_path: storage_path
            .ok_or_else(|| UsageError::new_err("options need a storage_path (a scratch file)"))?,
        memory_budget: opt(o, "memory_budget", None)?,
        part_size: opt(o, "part_size", None)?,
        multipart_threshold: opt(o, "multipart_threshold", None)?,
        parts_in_flight: opt(o, "parts_in_flight", None)?,
        dry_run: opt(o, "dry_run", false)?,
        verify,
    };
    if opts.new_ctx.is_some() && !matches!(new, Keyring::Py(_)) {
        return Err(UsageError::new_err(
            "NewEncryptionContext applies to KMS (and Python) keyrings",
        ));
    }
    let outcome = run(&io, &old, &new, bucket, key, &opts).map_err(|f| f.into_py(py))?;
    outcome.into_dict(py, key)
}
