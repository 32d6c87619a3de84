//! The options dicts of the Python side: commitment policy, read policy, encryption context,
//! placement and the write configuration, parsed (and checked) by the core.

use crate::errors::UsageError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use s3_encryption::{CommitmentPolicy, DecryptPolicy, EncryptConfig, Error, Placement};
use std::collections::HashMap;

pub(crate) fn commitment_policy(s: &str) -> PyResult<CommitmentPolicy> {
    s.parse()
        .map_err(|_| UsageError::new_err(format!("unknown commitment policy {s}")))
}

pub(crate) fn opt<'py, T: for<'a> FromPyObject<'a, 'py>>(
    o: &Bound<'py, PyDict>,
    k: &str,
    default: T,
) -> PyResult<T> {
    match o.get_item(k)? {
        Some(v) if !v.is_none() => v.extract().map_err(Into::into),
        _ => Ok(default),
    }
}

pub(crate) fn decrypt_policy(o: &Bound<'_, PyDict>) -> PyResult<DecryptPolicy> {
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

pub(crate) fn context_of(
    o: &Bound<'_, PyDict>,
    k: &str,
) -> PyResult<Option<Vec<(String, String)>>> {
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

pub(crate) fn placement(o: &Bound<'_, PyDict>) -> PyResult<Placement> {
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
pub(crate) fn encrypt_config(o: &Bound<'_, PyDict>) -> PyResult<EncryptConfig> {
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
pub(crate) fn check_write_settings(options: &Bound<'_, PyDict>) -> PyResult<&'static str> {
    Ok(encrypt_config(options)?.suite().spec_name())
}
