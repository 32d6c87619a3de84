//! Keyrings written in Python with the protocol of `KEYRINGS.md`: an object with
//! `wrap_data_key(request) -> dict` and `unwrap_data_key(request) -> bytes` (an HSM, a Vault
//! transit key, a hardware token). The core draws the data key and builds the envelope from the
//! keyring's wrap ([`EncryptionMaterials::externally_wrapped`]); every data key handed back is
//! checked by the core (the V3 key commitment, then the tag) as for the native keyrings.

use crate::errors::{Fail, R, UsageError, is_error};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict};
use s3_encryption::{DataKey, EncryptConfig, EncryptionMaterials, Envelope, Error, WrapAlgorithm};

/// A Python keyring of the wrap/unwrap protocol, and the materials description it stores when
/// a write names none (its `materials_description` attribute, if any).
pub(crate) struct UserKeyring<'py> {
    obj: Bound<'py, PyAny>,
    pub(crate) matdesc: Vec<(String, String)>,
}

/// Whether `k` speaks the wrap/unwrap protocol (rather than the KMS-shaped one).
pub(crate) fn is_user_keyring(k: &Bound<'_, PyAny>) -> bool {
    k.hasattr("wrap_data_key").unwrap_or(false) || k.hasattr("unwrap_data_key").unwrap_or(false)
}

/// A `str → str` mapping as pairs (sorted, so that what is stored does not depend on order).
fn str_pairs(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<(String, String)>> {
    let d = v
        .cast::<PyDict>()
        .map_err(|_| UsageError::new_err(format!("{what} must be a dict of str to str")))?;
    let mut out = Vec::with_capacity(d.len());
    for (k, val) in d.iter() {
        let k: String = k
            .extract()
            .map_err(|_| UsageError::new_err(format!("{what} must be a dict of str to str")))?;
        let val: String = val
            .extract()
            .map_err(|_| UsageError::new_err(format!("{what} must be a dict of str to str")))?;
        out.push((k, val));
    }
    out.sort();
    Ok(out)
}

fn dict_of<'py>(py: Python<'py>, p: &[(&str, &str)]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in p {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// Bytes a keyring returned (`bytes` or `bytearray`), or `None`.
fn bytes_of(v: &Bound<'_, PyAny>) -> Option<Vec<u8>> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return Some(b.as_bytes().to_vec());
    }
    v.cast::<PyByteArray>().ok().map(|b| b.to_vec())
}

impl<'py> UserKeyring<'py> {
    /// The same keyring, naming its key with `matdesc`.
    pub(crate) fn with_matdesc(&self, matdesc: Vec<(String, String)>) -> Self {
        UserKeyring {
            obj: self.obj.clone(),
            matdesc,
        }
    }

    /// The keyring `k` (`materials_description`, when present, must be a dict of str to str).
    pub(crate) fn new(k: &Bound<'py, PyAny>) -> PyResult<Self> {
        let matdesc = match k.getattr("materials_description") {
            Ok(v) if !v.is_none() => str_pairs(&v, "materials_description")?,
            _ => Vec::new(),
        };
        Ok(UserKeyring {
            obj: k.clone(),
            matdesc,
        })
    }

    /// Whether it unwraps (a rotation reads back what it wrapped).
    pub(crate) fn can_decrypt(&self) -> bool {
        self.obj.hasattr("unwrap_data_key").unwrap_or(false)
    }

    /// Unwrap the data key of `env`. Only `AES/GCM` and `RSA-OAEP-SHA1` envelopes are handed to
    /// the keyring; `UnsupportedKeyError` from it is "not my key"; any other exception is the
    /// opaque authentication failure.
    pub(crate) fn unwrap(&self, py: Python<'py>, env: &Envelope) -> R<DataKey> {
        let wrap = env.wrap_algorithm();
        if !matches!(wrap, WrapAlgorithm::AesGcm | WrapAlgorithm::RsaOaepSha1) {
            return Err(Error::UnsupportedWrap.into());
        }
        if !self.can_decrypt() {
            return Err(UsageError::new_err(
                "this keyring cannot unwrap: it has no unwrap_data_key",
            )
            .into());
        }
        let md = py
            .import("json")?
            .call_method1("loads", (env.materials_description().unwrap_or("{}"),))?;
        let d = PyDict::new(py);
        d.set_item("wrap", wrap.v2_name())?;
        d.set_item("content_cipher", env.content_cipher_id())?;
        d.set_item(
            "encrypted_data_key",
            PyBytes::new(py, env.encrypted_data_key()),
        )?;
        d.set_item("materials_description", md)?;
        let key = match self.obj.call_method1("unwrap_data_key", (d,)) {
            Ok(k) => k,
            Err(e) if is_error(py, &e, "UnsupportedKeyError") => {
                return Err(Error::UnsupportedWrap.into());
            }
            // Wrong key, tampered blob, a refusal of the HSM: one opaque failure.
            Err(e) if e.is_instance_of::<PyException>(py) => {
                return Err(Error::Authentication.into());
            }
            Err(e) => return Err(Fail::Py(e)),
        };
        let mut bytes = bytes_of(&key).ok_or_else(|| {
            Fail::Py(UsageError::new_err(
                "unwrap_data_key must return the data key as bytes",
            ))
        })?;
        let dk = DataKey::from_slice(&bytes).map_err(|_| Error::Authentication);
        zeroize::Zeroize::zeroize(&mut bytes);
        Ok(dk?)
    }

    /// Materials for `data_key` under `config`: the keyring wraps it; `md` is the materials
    /// description of the request (the keyring's answer may replace it).
    pub(crate) fn wrap(
        &self,
        py: Python<'py>,
        config: &EncryptConfig,
        data_key: DataKey,
        md: &[(&str, &str)],
    ) -> R<EncryptionMaterials> {
        if !self.obj.hasattr("wrap_data_key").unwrap_or(false) {
            return Err(
                UsageError::new_err("this keyring cannot wrap: it has no wrap_data_key").into(),
            );
        }
        let d = PyDict::new(py);
        d.set_item("data_key", PyBytes::new(py, data_key.as_bytes()))?;
        d.set_item("content_cipher", config.content_cipher_id())?;
        d.set_item("materials_description", dict_of(py, md)?)?;
        let r = self.obj.call_method1("wrap_data_key", (d,))?;
        let bad = || {
            UsageError::new_err(
                "wrap_data_key must return {'wrap': 'AES/GCM' | 'RSA-OAEP-SHA1', \
                 'encrypted_data_key': bytes, 'materials_description': dict (optional)}",
            )
        };
        let r = r.cast::<PyDict>().map_err(|_| bad())?;
        let wrap: String = r
            .get_item("wrap")?
            .ok_or_else(bad)?
            .extract()
            .map_err(|_| bad())?;
        let wrap = match wrap.as_str() {
            "AES/GCM" => WrapAlgorithm::AesGcm,
            "RSA-OAEP-SHA1" => WrapAlgorithm::RsaOaepSha1,
            _ => return Err(bad().into()),
        };
        let edk = bytes_of(&r.get_item("encrypted_data_key")?.ok_or_else(bad)?).ok_or_else(bad)?;
        let stored = match r.get_item("materials_description")? {
            Some(v) if !v.is_none() => Some(str_pairs(&v, "materials_description")?),
            _ => None,
        };
        let stored_ref: Vec<(&str, &str)> = match &stored {
            Some(s) => s.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect(),
            None => md.to_vec(),
        };
        Ok(EncryptionMaterials::externally_wrapped(
            config,
            data_key,
            wrap,
            &edk,
            &stored_ref,
        )?)
    }
}
