//! `describe_object`, `delete_object`, `reencrypt_instruction_file` and the metadata helpers.

use crate::errors::{Fail, R, is_error};
use crate::keyring::{Keyring, pairs_ref, wrap_name};
use crate::options::{context_of, decrypt_policy, opt};
use crate::transport::Io;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use s3_encryption::object::{
    DeleteNext, DeleteObject, DescribeNext, DescribeObject, RotateInstructionFile, RotateIntent,
    RotateNext,
};
use s3_encryption::{CommitmentPolicy, DecryptPolicy, Envelope, Error};

pub(crate) fn envelope_dict<'py>(
    py: Python<'py>,
    env: &Envelope,
    stored: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("format_version", format!("{:?}", env.version()))?;
    d.set_item(
        "content_algorithm",
        format!("{:?}", env.content_algorithm()),
    )?;
    d.set_item("content_cipher", env.content_cipher_id())?;
    d.set_item("wrap_algorithm", wrap_name(env))?;
    d.set_item("placement", format!("{:?}", env.placement()))?;
    d.set_item("materials_description", env.materials_description())?;
    d.set_item("encryption_context", env.encryption_context())?;
    d.set_item("plaintext_len", env.plaintext_len(stored))?;
    d.set_item("committing", env.key_commitment().is_some())?;
    Ok(d)
}

/// Describe an object's envelope (HEAD, and its instruction file when the metadata has none);
/// no key is used. Returns a dict (format_version, content_algorithm, wrap_algorithm, placement,
/// plaintext_len, ...), plus etag, version_id, stored_len, instruction_file.
#[pyfunction]
#[pyo3(signature = (transport, bucket, key, version_id = None, suffix = ".instruction"))]
pub(crate) fn describe_object<'py>(
    py: Python<'py>,
    transport: Bound<'py, PyAny>,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    suffix: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let io = Io { py, t: transport };
    let r = (|| -> R<Bound<'py, PyDict>> {
        let mut m = DescribeObject::new(bucket, key, version_id, suffix)?;
        loop {
            match m.poll()? {
                DescribeNext::Send(id) => {
                    let (resp, body) = io.call_small(&m.request(id)?)?;
                    if let Some(bytes) = body {
                        m.body(id, &bytes)?;
                    }
                    m.response(id, resp.status, resp.pairs())?;
                }
                DescribeNext::Done => {
                    let obj = m
                        .object()
                        .ok_or(Error::Internal("the binding lost track of a request"))?;
                    let env = m
                        .envelope()
                        .ok_or(Error::Internal("the binding lost track of a request"))?;
                    let d = envelope_dict(py, env, obj.stored_len())?;
                    d.set_item("etag", obj.etag())?;
                    d.set_item("version_id", obj.version_id())?;
                    d.set_item("stored_len", obj.stored_len())?;
                    d.set_item("instruction_file", m.instruction_file_used())?;
                    return Ok(d);
                }
            }
        }
    })();
    r.map_err(|f| f.into_py(py))
}

/// Delete an object and, when it has one, its instruction file. Returns
/// `(object_deleted, instruction_file_deleted)`.
#[pyfunction]
#[pyo3(signature = (transport, bucket, key, suffix = ".instruction"))]
pub(crate) fn delete_object(
    py: Python<'_>,
    transport: Bound<'_, PyAny>,
    bucket: &str,
    key: &str,
    suffix: &str,
) -> PyResult<(bool, bool)> {
    let io = Io { py, t: transport };
    let r = (|| -> R<(bool, bool)> {
        let mut d = DeleteObject::new(bucket, key, suffix)?;
        loop {
            match d.poll()? {
                DeleteNext::Send(id) => {
                    let (resp, body) = io.call_small(&d.request(id)?)?;
                    if let Some(bytes) = body {
                        d.body(id, &bytes)?;
                    }
                    d.response(id, resp.status, resp.pairs())?;
                }
                DeleteNext::Done(done) => return Ok((done.object, done.instruction_file)),
            }
        }
    })();
    r.map_err(|f| f.into_py(py))
}

/// Re-encrypt an object's instruction file under `new_keyring` (the data key and the object are
/// unchanged). `options`: the read policy (as for `get_object`), placement-independent;
/// source_suffix, new_suffix, encryption_context (the expected old one), new_encryption_context,
/// enforce_rotation (the old keyring must no longer open the new envelope). Returns the format
/// version written.
#[pyfunction]
#[pyo3(signature = (transport, keyring, new_keyring, bucket, key, options))]
pub(crate) fn reencrypt_instruction_file<'py>(
    py: Python<'py>,
    transport: Bound<'py, PyAny>,
    keyring: Bound<'py, PyAny>,
    new_keyring: Bound<'py, PyAny>,
    bucket: &str,
    key: &str,
    options: Bound<'py, PyDict>,
) -> PyResult<String> {
    let io = Io { py, t: transport };
    let old = Keyring::from_py(&keyring)?;
    let new = Keyring::from_py(&new_keyring)?;
    let o = &options;
    let src: String = opt(o, "source_suffix", ".instruction".into())?;
    let dst: String = opt(o, "new_suffix", src.clone())?;
    let ctx = context_of(o, "encryption_context")?.unwrap_or_default();
    let ctx_ref = pairs_ref(&ctx);
    let new_ctx = context_of(o, "new_encryption_context")?.unwrap_or_default();
    let new_ctx_ref = pairs_ref(&new_ctx);
    let mut intent = RotateIntent::new(bucket, key);
    intent.policy = decrypt_policy(o)?;
    intent.source_suffix = &src;
    intent.new_suffix = &dst;
    intent.encryption_context = Some(&ctx_ref);
    intent.enforce_rotation = opt(o, "enforce_rotation", true)?;
    let r = (|| -> R<String> {
        let mut m = RotateInstructionFile::new(intent)?;
        loop {
            match m.poll()? {
                RotateNext::Send(id) => {
                    let (resp, body) = io.call_small(&m.request(id)?)?;
                    if let Some(bytes) = body {
                        m.body(id, &bytes)?;
                    }
                    m.response(id, resp.status, resp.pairs())?;
                }
                RotateNext::UnwrapKey => {
                    let env = m.envelope_to_unwrap()?;
                    let req = m.key_request()?;
                    let dk = old.unwrap(py, env, req)?;
                    m.data_key(dk)?;
                }
                RotateNext::WrapKey => {
                    let dk = m.data_key_to_wrap()?.clone();
                    let cfg = m.new_config()?;
                    let mat = new.rewrap(py, &cfg, dk, &new_ctx_ref)?;
                    m.new_materials(mat)?;
                }
                RotateNext::CheckNewKey if new.can_decrypt() => {
                    let env = m.envelope_to_unwrap()?;
                    let req = m.key_request()?;
                    let dk = new.unwrap(py, env, req)?;
                    m.data_key(dk)?;
                }
                RotateNext::CheckNewKey => m.new_key_cannot_decrypt()?,
                RotateNext::CheckOldKey => {
                    let env = m
                        .new_envelope()
                        .ok_or(Error::Internal("the binding lost track of a request"))?;
                    let opens = match m.check_request() {
                        Ok(req) => match old.unwrap(py, env, req) {
                            // A key handed back opens it (for V3: if the key commitment matches).
                            Ok(dk) => env.decryptor(dk, &opens_policy()).is_ok(),
                            Err(Fail::Core(_)) => false,
                            Err(Fail::Py(e)) => {
                                // A keyring that refuses (e.g. KMS on another key) does not open it.
                                let is_ours = is_error(py, &e, "S3ECError");
                                if !is_ours && !e.is_instance_of::<PyException>(py) {
                                    return Err(Fail::Py(e));
                                }
                                false
                            }
                        },
                        Err(_) => false,
                    };
                    m.old_key_opens(opens)?;
                }
                RotateNext::Done(d) => return Ok(format!("{:?}", d.version)),
            }
        }
    })();
    r.map_err(|f| f.into_py(py))
}

/// The policy that asks of a key only what the envelope can vouch for (V3: the commitment).
pub(crate) fn opens_policy() -> DecryptPolicy {
    DecryptPolicy::new().with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
}

/// Whether a metadata name (without `x-amz-meta-`) belongs to the S3EC envelope.
#[pyfunction]
pub(crate) fn is_envelope_key(name: &str) -> bool {
    s3_encryption::envelope::keys::is_envelope_key(name)
}

/// The instruction-file suffix the core uses by default.
#[pyfunction]
pub(crate) fn default_instruction_suffix() -> &'static str {
    s3_encryption::envelope::keys::INSTRUCTION_SUFFIX
}
