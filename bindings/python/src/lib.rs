//! `s3ec._native`: the Python binding of the `s3-encryption` core.
//!
//! The core's object machines ([`s3_encryption::object`]) decide every request, check every
//! response and release only authenticated plaintext. This module drives them: each request goes
//! to a Python *transport* (`s3ec._transport.Boto3Transport`, which maps it onto one boto3 call
//! in a thread pool and hands back status, headers and body), each key request to a keyring
//! (the native `AesKeyring` / `RsaKeyring`, or any Python object with the keyring protocol).
//! Encryption and decryption run here, with the GIL released. This crate adds no format logic.
//!
//! No `unsafe`: the crate forbids it (as the workspace does); PyO3 0.30's macros need no exception.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use s3_encryption::object::{
    DeleteNext, DeleteObject, DescribeNext, DescribeObject, GetDone, GetIntent, GetNext, GetObject,
    Operation, PartJob, PutDone, PutIntent, PutNext, PutObject, ReadMode, Released, Request,
    RequestBody, RequestId, RotateInstructionFile, RotateIntent, RotateNext,
};
use s3_encryption::rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use s3_encryption::rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use s3_encryption::rsa::{PrivateKey, PublicKey};
use s3_encryption::{
    AesKey, ByteRange, CommitmentPolicy, DataKey, DecryptPolicy, EncryptConfig,
    EncryptionMaterials, Envelope, Error, ErrorClass, KeyRequest, Placement,
};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

mod custom;
mod migrate;

// ---------------------------------------------------------------- exceptions

pyo3::create_exception!(
    s3ec,
    S3ECError,
    PyException,
    "Every error of this package. `code` names the core's error (e.g. `Authentication`)."
);
pyo3::create_exception!(
    s3ec,
    AuthenticationError,
    S3ECError,
    "A tag, key commitment, key unwrap, padding or KMS failure (deliberately opaque)."
);
pyo3::create_exception!(
    s3ec,
    PolicyError,
    S3ECError,
    "Refused by configuration: commitment policy, a legacy gate, or an encryption context."
);
pyo3::create_exception!(
    s3ec,
    FormatError,
    S3ECError,
    "The envelope is missing, malformed, ambiguous or names an unknown value."
);
pyo3::create_exception!(
    s3ec,
    NotEncryptedError,
    FormatError,
    "The object is not an S3EC object (no envelope in its metadata or instruction file)."
);
pyo3::create_exception!(
    s3ec,
    UnsupportedKeyError,
    FormatError,
    "The keyring does not hold the key the envelope names, or not for its wrap (`code` \
     `UnsupportedWrap`). A keyring of your own raises it from `unwrap_data_key` for \"not my key\"."
);
pyo3::create_exception!(
    s3ec,
    StorageError,
    S3ECError,
    "S3 answered an error status, or something other than what was asked."
);
pyo3::create_exception!(
    s3ec,
    NoSuchKeyError,
    StorageError,
    "The object (or bucket) does not exist."
);
pyo3::create_exception!(
    s3ec,
    ObjectChangedError,
    StorageError,
    "The object changed during the operation (ETag, version, length, or bytes between passes)."
);
pyo3::create_exception!(
    s3ec,
    UsageError,
    S3ECError,
    "A caller error: a bad key, length, range, configuration or state."
);

fn error_code(e: &Error) -> &'static str {
    e.code()
}

/// The Python exception for a core error.
fn py_error(py: Python<'_>, e: Error) -> PyErr {
    let msg = e.to_string();
    let err = match (e, e.class()) {
        (Error::NotEncrypted, _) => NotEncryptedError::new_err(msg),
        (Error::NotFound, _) => NoSuchKeyError::new_err(msg),
        (Error::ObjectChanged, _) => ObjectChangedError::new_err(msg),
        (Error::UnsupportedWrap, _) => UnsupportedKeyError::new_err(msg),
        (_, ErrorClass::Authentication) => AuthenticationError::new_err(msg),
        (_, ErrorClass::Policy) => PolicyError::new_err(msg),
        (_, ErrorClass::Format) => FormatError::new_err(msg),
        (_, ErrorClass::Storage) => StorageError::new_err(msg),
        _ => UsageError::new_err(msg),
    };
    let v = err.value(py);
    let _ = v.setattr("code", error_code(&e));
    if let Error::RequestFailed { status } = e {
        let _ = v.setattr("status", status);
    }
    err
}

/// A failure while driving: the core's error, or one raised by Python (transport, keyring, body).
enum Fail {
    Core(Error),
    Py(PyErr),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Core(e)
    }
}
impl From<PyErr> for Fail {
    fn from(e: PyErr) -> Self {
        Fail::Py(e)
    }
}

impl Fail {
    fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            Fail::Core(e) => py_error(py, e),
            Fail::Py(e) => e,
        }
    }
}

type R<T> = std::result::Result<T, Fail>;

// ---------------------------------------------------------------- keyrings

/// A raw AES master key (16, 24 or 32 bytes). Writes use the `AES/GCM` wrap; reads also open
/// V1 `x-amz-key` (AES-ECB) objects and `AESWrap` when `enable_legacy_wrapping_algorithms` is
/// set on the client.
#[pyclass(module = "s3ec._native", frozen)]
#[derive(Clone)]
struct AesKeyring {
    key: AesKey,
    matdesc: Vec<(String, String)>,
}

impl std::fmt::Debug for AesKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AesKeyring(AES-{})", self.key.len() * 8)
    }
}

#[pymethods]
impl AesKeyring {
    #[new]
    #[pyo3(signature = (key, materials_description = None))]
    fn new(
        py: Python<'_>,
        key: &[u8],
        materials_description: Option<HashMap<String, String>>,
    ) -> PyResult<Self> {
        let key = AesKey::from_slice(key).map_err(|e| py_error(py, e))?;
        let mut matdesc: Vec<(String, String)> = materials_description
            .unwrap_or_default()
            .into_iter()
            .collect();
        matdesc.sort();
        Ok(AesKeyring { key, matdesc })
    }

    /// The key length in bits.
    #[getter]
    fn bits(&self) -> usize {
        self.key.len() * 8
    }

    fn __repr__(&self) -> String {
        format!("AesKeyring(<AES-{} key>)", self.key.len() * 8)
    }
}

/// An RSA key pair: the public key wraps data keys on writes (`RSA-OAEP-SHA1`), the private key
/// unwraps them on reads (and V1 PKCS#1 v1.5 / OAEP-SHA-256 behind the legacy flag). PEM in
/// PKCS#8 or PKCS#1; either half may be omitted (the public key is derived from the private one).
#[pyclass(module = "s3ec._native", frozen)]
#[derive(Clone)]
struct RsaKeyring {
    private: Option<Box<PrivateKey>>,
    public: Option<Box<PublicKey>>,
    matdesc: Vec<(String, String)>,
}

impl std::fmt::Debug for RsaKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RsaKeyring(private: {}, public: {})",
            self.private.is_some(),
            self.public.is_some()
        )
    }
}

fn pem_text(v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = v.extract::<String>() {
        return Ok(s);
    }
    let b: Vec<u8> = v.cast::<PyBytes>()?.as_bytes().to_vec();
    String::from_utf8(b).map_err(|_| UsageError::new_err("PEM is not UTF-8"))
}

#[pymethods]
impl RsaKeyring {
    #[new]
    #[pyo3(signature = (private_pem = None, public_pem = None, materials_description = None))]
    fn new(
        private_pem: Option<&Bound<'_, PyAny>>,
        public_pem: Option<&Bound<'_, PyAny>>,
        materials_description: Option<HashMap<String, String>>,
    ) -> PyResult<Self> {
        let private = match private_pem {
            Some(p) => {
                let pem = pem_text(p)?;
                let k = PrivateKey::from_pkcs8_pem(&pem)
                    .or_else(|_| PrivateKey::from_pkcs1_pem(&pem))
                    .map_err(|_| UsageError::new_err("not an RSA private key PEM"))?;
                Some(Box::new(k))
            }
            None => None,
        };
        let public = match public_pem {
            Some(p) => {
                let pem = pem_text(p)?;
                let k = PublicKey::from_public_key_pem(&pem)
                    .or_else(|_| PublicKey::from_pkcs1_pem(&pem))
                    .map_err(|_| UsageError::new_err("not an RSA public key PEM"))?;
                Some(Box::new(k))
            }
            None => private.as_ref().map(|k| Box::new(k.to_public_key())),
        };
        if public.is_none() {
            return Err(UsageError::new_err("give private_pem, public_pem, or both"));
        }
        let mut matdesc: Vec<(String, String)> = materials_description
            .unwrap_or_default()
            .into_iter()
            .collect();
        matdesc.sort();
        Ok(RsaKeyring {
            private,
            public,
            matdesc,
        })
    }

    fn __repr__(&self) -> String {
        format!("{self:?}")
    }
}

/// What answers key requests.
enum Keyring<'py> {
    Aes(AesKeyring),
    Rsa(RsaKeyring),
    /// A Python object with `wrap_data_key(request) -> dict` and `unwrap_data_key(request) ->
    /// bytes`: the protocol of `KEYRINGS.md` (see `custom`).
    User(custom::UserKeyring<'py>),
    /// A Python object with `decrypt_data_key(request) -> bytes`, and for writes
    /// `generate_data_key(encryption_context) -> (plaintext, ciphertext_blob)` (a `kms+context`
    /// wrap), and for rotation `encrypt_data_key(data_key, encryption_context) -> blob`.
    Py(Bound<'py, PyAny>),
}

impl<'py> Keyring<'py> {
    fn from_py(k: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(a) = k.cast::<AesKeyring>() {
            return Ok(Keyring::Aes(a.get().clone()));
        }
        if let Ok(r) = k.cast::<RsaKeyring>() {
            return Ok(Keyring::Rsa(r.get().clone()));
        }
        if custom::is_user_keyring(k) {
            return Ok(Keyring::User(custom::UserKeyring::new(k)?));
        }
        Ok(Keyring::Py(k.clone()))
    }

    /// The same keyring naming its key with `desc` (what a migration carries to the new object);
    /// a KMS-shaped keyring takes its context per write instead.
    fn with_matdesc(&self, desc: Vec<(String, String)>) -> Keyring<'py> {
        match self {
            Keyring::Aes(a) => Keyring::Aes(AesKeyring {
                matdesc: desc,
                ..a.clone()
            }),
            Keyring::Rsa(r) => Keyring::Rsa(RsaKeyring {
                matdesc: desc,
                ..r.clone()
            }),
            Keyring::User(u) => Keyring::User(u.with_matdesc(desc)),
            Keyring::Py(p) => Keyring::Py(p.clone()),
        }
    }

    fn matdesc(&self) -> &[(String, String)] {
        match self {
            Keyring::Aes(a) => &a.matdesc,
            Keyring::Rsa(r) => &r.matdesc,
            Keyring::User(u) => &u.matdesc,
            Keyring::Py(_) => &[],
        }
    }

    /// Whether this keyring can unwrap at all (an RSA keyring needs its private key; a Python
    /// keyring its `decrypt_data_key`).
    fn can_decrypt(&self) -> bool {
        match self {
            Keyring::Aes(_) => true,
            Keyring::Rsa(r) => r.private.is_some(),
            Keyring::User(u) => u.can_decrypt(),
            Keyring::Py(obj) => obj.hasattr("decrypt_data_key").unwrap_or(false),
        }
    }

    /// Unwrap the data key of `env` (whose key request is `req`).
    fn unwrap(&self, py: Python<'py>, env: &Envelope, req: KeyRequest<'_>) -> R<DataKey> {
        match self {
            Keyring::Aes(a) => Ok(env.unwrap_aes(&a.key)?),
            Keyring::Rsa(r) => {
                let k = r.private.as_ref().ok_or(Fail::Py(UsageError::new_err(
                    "this RsaKeyring has no private key",
                )))?;
                Ok(env.unwrap_rsa(k, &mut getrandom::SysRng)?)
            }
            Keyring::User(u) => u.unwrap(py, env),
            Keyring::Py(obj) => {
                let d = key_request_dict(py, env, &req)?;
                let r = obj.call_method1("decrypt_data_key", (d,))?;
                let b = r.cast::<PyBytes>().map_err(PyErr::from)?;
                Ok(DataKey::from_slice(b.as_bytes()).map_err(|_| Error::Authentication)?)
            }
        }
    }

    /// Fresh materials for a write.
    fn materials(
        &self,
        py: Python<'py>,
        config: &EncryptConfig,
        context: &[(&str, &str)],
    ) -> R<EncryptionMaterials> {
        match self {
            Keyring::Aes(a) => {
                let md = pairs_ref(&a.matdesc);
                Ok(EncryptionMaterials::aes_gcm(config, &a.key, &md)?)
            }
            Keyring::Rsa(r) => {
                let md = pairs_ref(&r.matdesc);
                let pk = r.public.as_ref().ok_or(Error::InvalidKey)?;
                Ok(EncryptionMaterials::rsa_oaep(
                    config,
                    pk,
                    DataKey::generate()?,
                    &mut getrandom::SysRng,
                    &md,
                )?)
            }
            Keyring::User(u) => u.wrap(py, config, DataKey::generate()?, &pairs_ref(&u.matdesc)),
            Keyring::Py(obj) => {
                let req = EncryptionMaterials::kms(config, context)?;
                let ctx = PyDict::new(py);
                for (k, v) in req.encryption_context() {
                    ctx.set_item(k, v)?;
                }
                let r = obj.call_method1("generate_data_key", (ctx,))?;
                let t = r.cast::<PyTuple>().map_err(PyErr::from)?;
                let pt = t.get_item(0)?;
                let blob = t.get_item(1)?;
                let pt = pt.cast::<PyBytes>().map_err(PyErr::from)?;
                let blob = blob.cast::<PyBytes>().map_err(PyErr::from)?;
                let dk = DataKey::from_slice(pt.as_bytes())?;
                Ok(req.into_materials(dk, blob.as_bytes())?)
            }
        }
    }

    /// Materials wrapping an existing data key (instruction-file rotation).
    fn rewrap(
        &self,
        py: Python<'py>,
        config: &EncryptConfig,
        dk: DataKey,
        context: &[(&str, &str)],
    ) -> R<EncryptionMaterials> {
        match self {
            Keyring::Aes(a) => {
                let md = pairs_ref(&a.matdesc);
                Ok(EncryptionMaterials::aes_gcm_wrapping(
                    config,
                    &a.key,
                    dk,
                    &mut getrandom::SysRng,
                    &md,
                )?)
            }
            Keyring::Rsa(r) => {
                let md = pairs_ref(&r.matdesc);
                let pk = r.public.as_ref().ok_or(Error::InvalidKey)?;
                Ok(EncryptionMaterials::rsa_oaep(
                    config,
                    pk,
                    dk,
                    &mut getrandom::SysRng,
                    &md,
                )?)
            }
            Keyring::User(u) => u.wrap(py, config, dk, &pairs_ref(&u.matdesc)),
            Keyring::Py(obj) => {
                let req = EncryptionMaterials::kms(config, context)?;
                let ctx = PyDict::new(py);
                for (k, v) in req.encryption_context() {
                    ctx.set_item(k, v)?;
                }
                let key = PyBytes::new(py, dk.as_bytes());
                let r = obj.call_method1("encrypt_data_key", (key, ctx))?;
                let blob = r.cast::<PyBytes>().map_err(PyErr::from)?;
                Ok(req.into_materials(dk, blob.as_bytes())?)
            }
        }
    }
}

fn pairs_ref(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

fn wrap_name(env: &Envelope) -> String {
    format!("{:?}", env.wrap_algorithm())
}

fn key_request_dict<'py>(
    py: Python<'py>,
    env: &Envelope,
    req: &KeyRequest<'_>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("wrap", wrap_name(env))?;
    d.set_item("content_cipher", env.content_cipher_id())?;
    d.set_item("format_version", format!("{:?}", env.version()))?;
    d.set_item(
        "encrypted_data_key",
        PyBytes::new(py, env.encrypted_data_key()),
    )?;
    d.set_item("materials_description", env.materials_description())?;
    match req {
        KeyRequest::Kms(k) => {
            d.set_item("kind", "kms")?;
            d.set_item("ciphertext_blob", PyBytes::new(py, k.ciphertext_blob))?;
            let ctx = PyDict::new(py);
            for (a, b) in k.encryption_context() {
                ctx.set_item(a, b)?;
            }
            d.set_item("encryption_context", ctx)?;
            d.set_item("key_id_hint", k.key_id_hint.map(|h| h.to_string_lossless()))?;
        }
        KeyRequest::Aes { .. } => d.set_item("kind", "aes")?,
        KeyRequest::Rsa { .. } => d.set_item("kind", "rsa")?,
        _ => d.set_item("kind", "aes_or_rsa")?,
    }
    Ok(d)
}

// ---------------------------------------------------------------- transport

/// The Python transport: `submit(request, body) -> Future`, `wait_any(futures) -> index`; a
/// future's result is `(status, headers, body, upload_id)`.
struct Io<'py> {
    py: Python<'py>,
    t: Bound<'py, PyAny>,
}

struct Resp<'py> {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Bound<'py, PyAny>>,
    upload_id: Option<String>,
}

impl<'py> Resp<'py> {
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<'py> Io<'py> {
    fn request_dict(&self, r: &Request<'_>) -> PyResult<Bound<'py, PyDict>> {
        let py = self.py;
        let d = PyDict::new(py);
        d.set_item("id", r.id.get())?;
        d.set_item("op", r.operation.name())?;
        d.set_item("bucket", r.bucket)?;
        d.set_item("key", r.full_key().to_string())?;
        d.set_item("object_key", r.key)?;
        d.set_item("is_object", r.key_suffix.is_empty())?;
        d.set_item("version_id", r.version_id)?;
        d.set_item("range", r.range_header().map(|v| v.to_string()))?;
        d.set_item("if_match", r.if_match)?;
        d.set_item("upload_id", r.upload_id)?;
        d.set_item("part_number", r.part_number)?;
        d.set_item("content_length", r.content_length)?;
        d.set_item("content_type", r.content_type)?;
        d.set_item("tagging", r.tagging)?;
        d.set_item("body_limit", r.response_body_limit)?;
        let md = PyDict::new(py);
        for (k, v) in r.metadata() {
            md.set_item(k, v)?;
        }
        d.set_item("metadata", md)?;
        Ok(d)
    }

    fn submit(&self, r: &Request<'_>, body: Option<&[u8]>) -> PyResult<Bound<'py, PyAny>> {
        let d = self.request_dict(r)?;
        let body = match (body, r.body) {
            (Some(b), _) => Some(PyBytes::new(self.py, b)),
            (None, RequestBody::Bytes(b)) => Some(PyBytes::new(self.py, b)),
            _ => None,
        };
        self.t.call_method1("submit", (d, body))
    }

    fn wait_any(&self, futs: &[Bound<'py, PyAny>]) -> PyResult<usize> {
        let l = PyList::new(self.py, futs)?;
        self.t.call_method1("wait_any", (l,))?.extract()
    }

    fn result(&self, fut: &Bound<'py, PyAny>) -> PyResult<Resp<'py>> {
        let r = fut.call_method0("result")?;
        let t = r.cast::<PyTuple>().map_err(PyErr::from)?;
        let status: u16 = t.get_item(0)?.extract()?;
        let headers: Vec<(String, String)> = t.get_item(1)?.extract()?;
        let body = t.get_item(2)?;
        let body = if body.is_none() { None } else { Some(body) };
        let upload_id: Option<String> = t.get_item(3)?.extract()?;
        Ok(Resp {
            status,
            headers,
            body,
            upload_id,
        })
    }

    /// Submit and wait (sequential machines).
    fn call(&self, r: &Request<'_>, body: Option<&[u8]>) -> PyResult<Resp<'py>> {
        let f = self.submit(r, body)?;
        self.result(&f)
    }
}

/// Read up to `n` bytes (exactly `n` unless the stream ends when `exact`).
fn read_body(body: &Bound<'_, PyAny>, n: usize, exact: bool) -> PyResult<Vec<u8>> {
    let mut out = Vec::with_capacity(n.min(16 << 20));
    while out.len() < n {
        let want = n - out.len();
        let chunk = body.call_method1("read", (want,))?;
        let b = chunk.cast::<PyBytes>().map_err(PyErr::from)?;
        let b = b.as_bytes();
        if b.is_empty() {
            break;
        }
        out.extend_from_slice(b);
        if !exact {
            break;
        }
    }
    Ok(out)
}

fn close_body(body: &Bound<'_, PyAny>) {
    if body.hasattr("close").unwrap_or(false) {
        let _ = body.call_method0("close");
    }
}

/// Read a small body whole (an instruction file), at most `limit + 1` bytes.
fn read_small(body: &Bound<'_, PyAny>, limit: u64) -> PyResult<Vec<u8>> {
    let v = read_body(body, limit as usize + 1, true)?;
    close_body(body);
    Ok(v)
}

// ---------------------------------------------------------------- policy

fn commitment_policy(s: &str) -> PyResult<CommitmentPolicy> {
    s.parse()
        .map_err(|_| UsageError::new_err(format!("unknown commitment policy {s}")))
}

fn opt<'py, T: for<'a> FromPyObject<'a, 'py>>(
    o: &Bound<'py, PyDict>,
    k: &str,
    default: T,
) -> PyResult<T> {
    match o.get_item(k)? {
        Some(v) if !v.is_none() => v.extract().map_err(Into::into),
        _ => Ok(default),
    }
}

fn decrypt_policy(o: &Bound<'_, PyDict>) -> PyResult<DecryptPolicy> {
    let cp: String = opt(
        o,
        "commitment_policy",
        CommitmentPolicy::default().spec_name().into(),
    )?;
    Ok(DecryptPolicy {
        commitment_policy: commitment_policy(&cp)?,
        legacy_wrapping_algorithms: opt(o, "enable_legacy_wrapping_algorithms", false)?,
        legacy_unauthenticated_modes: opt(o, "enable_legacy_unauthenticated_modes", false)?,
        delayed_authentication: opt(o, "enable_delayed_authentication", false)?,
    })
}

fn context_of(o: &Bound<'_, PyDict>, k: &str) -> PyResult<Option<Vec<(String, String)>>> {
    match o.get_item(k)? {
        Some(v) if !v.is_none() => {
            let m: HashMap<String, String> = v.extract()?;
            let mut v: Vec<_> = m.into_iter().collect();
            v.sort();
            Ok(Some(v))
        }
        _ => Ok(None),
    }
}

fn placement(o: &Bound<'_, PyDict>) -> PyResult<Placement> {
    let p: String = opt(o, "placement", "metadata".into())?;
    match p.as_str() {
        "metadata" | "object_metadata" | "ObjectMetadata" => Ok(Placement::ObjectMetadata),
        "instruction_file" | "InstructionFile" => Ok(Placement::InstructionFile),
        _ => Err(UsageError::new_err(format!("unknown placement {p}"))),
    }
}

/// The write configuration from `commitment_policy`, `encryption_algorithm` (the spec's name;
/// absent: the suite the policy writes) and `placement`; the names are parsed, and the suite
/// checked against the policy, by the core.
fn encrypt_config(o: &Bound<'_, PyDict>) -> PyResult<EncryptConfig> {
    let cp: String = opt(
        o,
        "commitment_policy",
        CommitmentPolicy::default().spec_name().into(),
    )?;
    let policy = commitment_policy(&cp)?;
    let alg: Option<String> = opt(o, "encryption_algorithm", None)?;
    let algorithm = match alg.as_deref() {
        None => None,
        Some(name) => Some(
            name.parse::<s3_encryption::ContentAlgorithm>()
                .map_err(|_| UsageError::new_err(format!("unknown encryption_algorithm {name}")))?,
        ),
    };
    EncryptConfig::from_settings(policy, algorithm, placement(o)?).map_err(|e| match e {
        Error::UnsupportedSuite => UsageError::new_err(format!(
            "encryption_algorithm {} is a legacy algorithm and is never written",
            alg.as_deref().unwrap_or("")
        )),
        _ => UsageError::new_err(format!(
            "encryption_algorithm {} is not written under commitment_policy {policy}",
            alg.as_deref().unwrap_or("")
        )),
    })
}

/// Check a client's write settings when it is made (`commitment_policy`,
/// `encryption_algorithm`, `placement`); returns the spec name of the suite it writes.
#[pyfunction]
fn check_write_settings(options: &Bound<'_, PyDict>) -> PyResult<&'static str> {
    Ok(encrypt_config(options)?.suite().spec_name())
}

// ---------------------------------------------------------------- GET

/// Where released plaintext goes, and the caller's storage (a file) for storage mode.
struct Out {
    mem: Vec<u8>,
    file: Option<File>,
    /// Released plaintext goes to the file (a download) rather than memory.
    to_file: bool,
    /// A ranged read: offsets are the object's; the output starts at the first one released.
    ranged: bool,
    base: Option<u64>,
    /// A running SHA-256 of the released plaintext, in order (a migration's read and read-back).
    digest: Option<s3_encryption::object::migrate::PlaintextDigest>,
    /// The format of the envelope the read opened.
    version: Option<s3_encryption::FormatVersion>,
    /// Its stored materials description and encryption context (a migration's read-back checks
    /// what the new object carries).
    described: (Option<String>, Option<String>),
}

impl Out {
    fn plaintext(&mut self, offset: u64, data: &[u8], replayed: bool) -> R<()> {
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
            f.write_all_at(data, offset)
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
    fn store(&mut self, offset: u64, data: &[u8]) -> R<()> {
        let f = self
            .file
            .as_ref()
            .ok_or(Error::Internal("the binding lost track of a request"))?;
        f.write_all_at(data, offset).map_err(PyErr::from)?;
        Ok(())
    }
}

enum Source<'a, 'py> {
    Py(&'a Bound<'py, PyAny>),
    File(&'a File, u64, u64),
}

/// Feed one body (a response or a replay from storage) to the machine.
fn feed_body(
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
                file.read_exact_at(&mut v, at).map_err(PyErr::from)?;
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

fn drive_get<'py>(
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

fn verification_name(d: &GetDone) -> String {
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
fn get_object<'py>(
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

// ---------------------------------------------------------------- PUT

fn encrypt_batch(
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

struct Inflight<'py> {
    id: RequestId,
    op: Operation,
    fut: Bound<'py, PyAny>,
}

fn drive_put<'py>(
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
            PutNext::ReadPart { number, len, .. } => match read_body(reader, len as usize, true) {
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
                let body: Option<Vec<u8>> = match (op, r.body) {
                    (Operation::PutObject, RequestBody::Ciphertext { plaintext_len, .. }) => {
                        let n = plaintext_len as usize;
                        // A body of unknown length that fit one part was read by the probe:
                        // that part is the body (the reader is past it).
                        let probed = bufs.keys().next().copied();
                        let body = match probed.and_then(|k| bufs.remove(&k)) {
                            Some(b) => Ok(b),
                            None => read_body(reader, n, true),
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
                match io.submit(&r, body.as_deref()) {
                    Ok(fut) => inflight.push(Inflight { id, op, fut }),
                    Err(e) => {
                        note(&mut first_py, e);
                        p.request_failed(id, Error::RequestFailed { status: 0 });
                    }
                }
            }
            PutNext::Wait => {
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
fn put_object<'py>(
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

// ---------------------------------------------------------------- HEAD, DELETE, rotation

fn envelope_dict<'py>(
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
fn describe_object<'py>(
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
                    let req = m.request(id)?;
                    let limit = req.response_body_limit;
                    let resp = io.call(&req, None)?;
                    if let (Some(b), true) = (&resp.body, (200..300).contains(&resp.status)) {
                        let bytes = read_small(b, limit.unwrap_or(1 << 20))?;
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
fn delete_object(
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
                    let req = d.request(id)?;
                    let is_get = req.operation == Operation::GetObject;
                    let limit = req.response_body_limit;
                    let resp = io.call(&req, None)?;
                    if let (Some(b), true) = (&resp.body, is_get) {
                        if (200..300).contains(&resp.status) {
                            let bytes = read_small(b, limit.unwrap_or(1 << 20))?;
                            d.body(id, &bytes)?;
                        } else {
                            close_body(b);
                        }
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
fn reencrypt_instruction_file<'py>(
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
                    let req = m.request(id)?;
                    let is_get = req.operation == Operation::GetObject;
                    let limit = req.response_body_limit;
                    let resp = io.call(&req, None)?;
                    if let (Some(b), true) = (&resp.body, is_get) {
                        if (200..300).contains(&resp.status) {
                            let bytes = read_small(b, limit.unwrap_or(1 << 20))?;
                            m.body(id, &bytes)?;
                        } else {
                            close_body(b);
                        }
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
                                let is_ours = e.is_instance_of::<S3ECError>(py);
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
fn opens_policy() -> DecryptPolicy {
    DecryptPolicy::new().with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
}

/// Whether a metadata name (without `x-amz-meta-`) belongs to the S3EC envelope.
#[pyfunction]
fn is_envelope_key(name: &str) -> bool {
    s3_encryption::envelope::keys::is_envelope_key(name)
}

/// The instruction-file suffix the core uses by default.
#[pyfunction]
fn default_instruction_suffix() -> &'static str {
    s3_encryption::envelope::keys::INSTRUCTION_SUFFIX
}

// ---------------------------------------------------------------- module

/// The native half of `s3ec`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<AesKeyring>()?;
    m.add_class::<RsaKeyring>()?;
    m.add_function(wrap_pyfunction!(get_object, m)?)?;
    m.add_function(wrap_pyfunction!(put_object, m)?)?;
    m.add_function(wrap_pyfunction!(describe_object, m)?)?;
    m.add_function(wrap_pyfunction!(delete_object, m)?)?;
    m.add_function(wrap_pyfunction!(reencrypt_instruction_file, m)?)?;
    m.add_function(wrap_pyfunction!(migrate::migrate_object, m)?)?;
    m.add_function(wrap_pyfunction!(is_envelope_key, m)?)?;
    m.add_function(wrap_pyfunction!(default_instruction_suffix, m)?)?;
    m.add_function(wrap_pyfunction!(check_write_settings, m)?)?;
    m.add("S3ECError", py.get_type::<S3ECError>())?;
    m.add("AuthenticationError", py.get_type::<AuthenticationError>())?;
    m.add("PolicyError", py.get_type::<PolicyError>())?;
    m.add("FormatError", py.get_type::<FormatError>())?;
    m.add("NotEncryptedError", py.get_type::<NotEncryptedError>())?;
    m.add("StorageError", py.get_type::<StorageError>())?;
    m.add("NoSuchKeyError", py.get_type::<NoSuchKeyError>())?;
    m.add("ObjectChangedError", py.get_type::<ObjectChangedError>())?;
    m.add("UsageError", py.get_type::<UsageError>())?;
    m.add("UnsupportedKeyError", py.get_type::<UnsupportedKeyError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
