//! Keyrings: the native `AesKeyring` and `RsaKeyring`, and [`Keyring`], which answers the
//! core's key requests from a native keyring or a Python object (the wrap/unwrap protocol of
//! `custom`, or the KMS-shaped one).

use crate::errors::{Fail, R, UsageError, py_error};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use s3_encryption::rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use s3_encryption::rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use s3_encryption::rsa::{PrivateKey, PublicKey};
use s3_encryption::{
    AesKey, DataKey, EncryptConfig, EncryptionMaterials, Envelope, Error, KeyRequest,
};
use std::collections::HashMap;

/// A raw AES master key (16, 24 or 32 bytes). Writes use the `AES/GCM` wrap; reads also open
/// V1 `x-amz-key` (AES-ECB) objects and `AESWrap` when `enable_legacy_wrapping_algorithms` is
/// set on the client.
#[pyclass(module = "s3ec._native", frozen)]
#[derive(Clone)]
pub(crate) struct AesKeyring {
    pub(crate) key: AesKey,
    pub(crate) matdesc: Vec<(String, String)>,
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
    pub(crate) fn new(
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
    pub(crate) fn bits(&self) -> usize {
        self.key.len() * 8
    }

    pub(crate) fn __repr__(&self) -> String {
        format!("AesKeyring(<AES-{} key>)", self.key.len() * 8)
    }
}

/// An RSA key pair: the public key wraps data keys on writes (`RSA-OAEP-SHA1`), the private key
/// unwraps them on reads (and V1 PKCS#1 v1.5 / OAEP-SHA-256 behind the legacy flag). PEM in
/// PKCS#8 or PKCS#1; either half may be omitted (the public key is derived from the private one).
#[pyclass(module = "s3ec._native", frozen)]
#[derive(Clone)]
pub(crate) struct RsaKeyring {
    pub(crate) private: Option<Box<PrivateKey>>,
    pub(crate) public: Option<Box<PublicKey>>,
    pub(crate) matdesc: Vec<(String, String)>,
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

pub(crate) fn pem_text(v: &Bound<'_, PyAny>) -> PyResult<String> {
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
    pub(crate) fn new(
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

    pub(crate) fn __repr__(&self) -> String {
        format!("{self:?}")
    }
}

/// What answers key requests.
pub(crate) enum Keyring<'py> {
    Aes(AesKeyring),
    Rsa(RsaKeyring),
    /// A Python object with `wrap_data_key(request) -> dict` and `unwrap_data_key(request) ->
    /// bytes`: the protocol of `KEYRINGS.md` (see `custom`).
    User(crate::custom::UserKeyring<'py>),
    /// A Python object with `decrypt_data_key(request) -> bytes`, and for writes
    /// `generate_data_key(encryption_context) -> (plaintext, ciphertext_blob)` (a `kms+context`
    /// wrap), and for rotation `encrypt_data_key(data_key, encryption_context) -> blob`.
    Py(Bound<'py, PyAny>),
}

impl<'py> Keyring<'py> {
    pub(crate) fn from_py(k: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(a) = k.cast::<AesKeyring>() {
            return Ok(Keyring::Aes(a.get().clone()));
        }
        if let Ok(r) = k.cast::<RsaKeyring>() {
            return Ok(Keyring::Rsa(r.get().clone()));
        }
        if crate::custom::is_user_keyring(k) {
            return Ok(Keyring::User(crate::custom::UserKeyring::new(k)?));
        }
        Ok(Keyring::Py(k.clone()))
    }

    /// The same keyring naming its key with `desc` (what a migration carries to the new object);
    /// a KMS-shaped keyring takes its context per write instead.
    pub(crate) fn with_matdesc(&self, desc: Vec<(String, String)>) -> Keyring<'py> {
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

    pub(crate) fn matdesc(&self) -> &[(String, String)] {
        match self {
            Keyring::Aes(a) => &a.matdesc,
            Keyring::Rsa(r) => &r.matdesc,
            Keyring::User(u) => &u.matdesc,
            Keyring::Py(_) => &[],
        }
    }

    /// Whether this keyring can unwrap at all (an RSA keyring needs its private key; a Python
    /// keyring its `decrypt_data_key`).
    pub(crate) fn can_decrypt(&self) -> bool {
        match self {
            Keyring::Aes(_) => true,
            Keyring::Rsa(r) => r.private.is_some(),
            Keyring::User(u) => u.can_decrypt(),
            Keyring::Py(obj) => obj.hasattr("decrypt_data_key").unwrap_or(false),
        }
    }

    /// Unwrap the data key of `env` (whose key request is `req`).
    pub(crate) fn unwrap(
        &self,
        py: Python<'py>,
        env: &Envelope,
        req: KeyRequest<'_>,
    ) -> R<DataKey> {
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
    pub(crate) fn materials(
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
    pub(crate) fn rewrap(
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

pub(crate) fn pairs_ref(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

pub(crate) fn wrap_name(env: &Envelope) -> String {
    format!("{:?}", env.wrap_algorithm())
}

pub(crate) fn key_request_dict<'py>(
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
