//! Options objects: the host reads one property at a time ([`Opts`]); the readers here check
//! its shape and build the core's policies and configurations from it.

use crate::fail::{Fail, R, usage};
use crate::texts::Texts;
use crate::val::Val;
use s3_encryption::{
    CommitmentPolicy, ContentAlgorithm, DecryptPolicy, EncryptConfig, Error, Placement, WriteSuite,
};

/// A JavaScript options object, read by property (a value that is not an object has none).
pub trait Opts {
    /// The property `key` (`Val::Null` when absent).
    fn get(&self, key: &str) -> R<Val>;
}

/// Options already read into a plain object.
impl Opts for Val {
    fn get(&self, key: &str) -> R<Val> {
        Ok(match self {
            Val::Obj(props) => props
                .iter()
                .find(|(k, _)| k == key)
                .map_or(Val::Null, |(_, v)| v.clone()),
            _ => Val::Null,
        })
    }
}

/// An optional string option.
pub fn opt_str(o: &dyn Opts, k: &str) -> R<Option<String>> {
    match o.get(k)? {
        Val::Null => Ok(None),
        Val::Str(s) => Ok(Some(s)),
        _ => Err(usage(&format!("option {k} must be a string"))),
    }
}

/// An optional non-negative integer option.
pub fn opt_u64(o: &dyn Opts, k: &str) -> R<Option<u64>> {
    let f = match o.get(k)? {
        Val::Null => return Ok(None),
        Val::Num(f) => f,
        _ => return Err(usage(&format!("option {k} must be a number"))),
    };
    count(f, &format!("option {k}")).map(Some)
}

/// A JavaScript number that counts bytes: a non-negative integer up to 2^53 - 1 (NaN, a
/// negative or fractional number, or one past `Number.MAX_SAFE_INTEGER` is refused, never
/// rounded or clamped).
pub fn count(f: f64, what: &str) -> R<u64> {
    if !(f >= 0.0 && f.fract() == 0.0 && f <= 9_007_199_254_740_991.0) {
        return Err(usage(&format!("{what} must be a non-negative integer")));
    }
    Ok(f as u64)
}

/// An optional boolean option (`None` when absent).
pub fn opt_bool_or_none(o: &dyn Opts, k: &str) -> R<Option<bool>> {
    match o.get(k)? {
        Val::Null => Ok(None),
        Val::Bool(b) => Ok(Some(b)),
        _ => Err(usage(&format!("option {k} must be a boolean"))),
    }
}

/// An optional boolean option (absent: false).
pub fn opt_bool(o: &dyn Opts, k: &str) -> R<bool> {
    Ok(opt_bool_or_none(o, k)?.unwrap_or(false))
}

/// An optional flat string-pair array option (`[k0, v0, k1, v1, …]`).
pub fn opt_pairs(o: &dyn Opts, k: &str) -> R<Option<Vec<(String, String)>>> {
    let bad = || usage(&format!("option {k} must be an array of strings"));
    let list = match o.get(k)? {
        Val::Null => return Ok(None),
        Val::List(l) => l,
        _ => return Err(bad()),
    };
    let mut flat = Vec::with_capacity(list.len());
    for x in list {
        match x {
            Val::Str(s) => flat.push(s),
            _ => return Err(bad()),
        }
    }
    pairs(flat).map(Some)
}

/// A flat string array as pairs.
pub fn pairs(flat: Vec<String>) -> R<Vec<(String, String)>> {
    if !flat.len().is_multiple_of(2) {
        return Err(usage("a string map must have an even number of entries"));
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

/// Borrowed pairs.
pub fn borrow_pairs(p: &[(String, String)]) -> Vec<(&str, &str)> {
    p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Flat header pairs as borrowed pairs.
pub(crate) fn header_pairs(flat: &[String]) -> R<impl Iterator<Item = (&str, &str)>> {
    if !flat.len().is_multiple_of(2) {
        return Err(usage("headers must be a flat array of names and values"));
    }
    Ok(flat.chunks_exact(2).map(|c| (c[0].as_str(), c[1].as_str())))
}

/// The decrypt policy from an options object: `commitmentPolicy`
/// (`REQUIRE_ENCRYPT_REQUIRE_DECRYPT` by default), `enableLegacyWrappingAlgorithms`,
/// `enableLegacyUnauthenticatedModes`, `enableDelayedAuthenticationMode`.
pub fn decrypt_policy(o: &dyn Opts) -> R<DecryptPolicy> {
    let commitment_policy = commitment_policy(opt_str(o, "commitmentPolicy")?.as_deref())?;
    Ok(DecryptPolicy {
        commitment_policy,
        legacy_wrapping_algorithms: opt_bool(o, "enableLegacyWrappingAlgorithms")?,
        legacy_unauthenticated_modes: opt_bool(o, "enableLegacyUnauthenticatedModes")?,
        delayed_authentication: opt_bool(o, "enableDelayedAuthenticationMode")?,
    })
}

/// A commitment policy by its spec name (the default when absent).
pub fn commitment_policy(name: Option<&str>) -> R<CommitmentPolicy> {
    match name {
        None => Ok(CommitmentPolicy::default()),
        Some(name) => name
            .parse()
            .map_err(|_| usage(&format!("unknown commitment policy {name}"))),
    }
}

/// The write configuration from `suite` (the spec's name of an encryption algorithm, or `"V3"` /
/// `"V2"` for short; absent: the suite the commitment policy writes), `commitmentPolicy`
/// (default REQUIRE_ENCRYPT_REQUIRE_DECRYPT) and `placement` (`"metadata"`, the default, or
/// `"instructionFile"`). The names are parsed, and the suite checked against the policy, by the
/// core.
pub fn encrypt_config(o: &dyn Opts) -> R<EncryptConfig> {
    let algorithm = match opt_str(o, "suite")?.as_deref() {
        None => None,
        Some("V3") => Some(WriteSuite::V3AesGcmCommitting.content()),
        Some("V2") => Some(WriteSuite::V2AesGcm.content()),
        Some(name) => Some(
            name.parse::<ContentAlgorithm>()
                .map_err(|_| usage(&format!("unknown encryptionAlgorithm {name}")))?,
        ),
    };
    let policy = commitment_policy(opt_str(o, "commitmentPolicy")?.as_deref())?;
    let placement = match opt_str(o, "placement")?.as_deref() {
        None | Some("metadata") => Placement::ObjectMetadata,
        Some("instructionFile") => Placement::InstructionFile,
        Some(other) => return Err(usage(&format!("unknown placement {other}"))),
    };
    EncryptConfig::from_settings(policy, algorithm, placement).map_err(|e| match e {
        Error::UnsupportedSuite => usage(&format!(
            "{} is a legacy algorithm and is never written",
            algorithm.map_or("", ContentAlgorithm::spec_name)
        )),
        Error::InvalidConfig => usage(&format!(
            "encryptionAlgorithm {} is not written under commitmentPolicy {policy}",
            algorithm.map_or("", ContentAlgorithm::spec_name)
        )),
        e => Fail::from(e),
    })
}

/// Check a client's write settings (`suite`, `commitmentPolicy`) when it is made, not at its
/// first write; returns the suite's spec name.
pub fn check_write_settings(o: &dyn Opts) -> R<String> {
    Ok(encrypt_config(o)?.suite().spec_name().into())
}

/// The suffix option (default `.instruction`).
pub(crate) fn suffix(o: &dyn Opts, name: &str) -> R<String> {
    Ok(opt_str(o, name)?.unwrap_or_else(|| ".instruction".into()))
}

/// The expected encryption context: `encryptionContext` (flat pairs; absent means none), or
/// the stored one when `acceptStoredEncryptionContext` (KMS discovery).
pub(crate) fn expected_context(o: &dyn Opts) -> R<Option<Vec<(String, String)>>> {
    if opt_bool(o, "acceptStoredEncryptionContext")? {
        return Ok(None);
    }
    Ok(Some(opt_pairs(o, "encryptionContext")?.unwrap_or_default()))
}

fn required(o: &dyn Opts, k: &str) -> R<String> {
    opt_str(o, k)?.ok_or_else(|| usage(&format!("option {k} is required")))
}

/// The texts of `bucket` and `key` (both required options).
pub(crate) fn texts(o: &dyn Opts) -> R<Texts> {
    Ok(Texts::new(required(o, "bucket")?, required(o, "key")?))
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_are_non_negative_safe_integers_never_clamped() {
        assert_eq!(count(0.0, "n"), Ok(0));
        assert_eq!(count(5_242_880.0, "n"), Ok(5_242_880));
        assert_eq!(
            count(9_007_199_254_740_991.0, "n"),
            Ok(9_007_199_254_740_991)
        );
        for bad in [
            -1.0,
            -0.5,
            0.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9_007_199_254_740_992.0,
            1e300,
        ] {
            let e = count(bad, "n").expect_err("refused");
            assert_eq!((e.code, e.class), ("InvalidArgument", "usage"), "{bad}");
        }
    }
}
