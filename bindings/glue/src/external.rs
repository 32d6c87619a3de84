//! Keyrings written in JavaScript (an HSM, a Vault transit key, a hardware token): the protocol
//! of `KEYRINGS.md`. The JavaScript keyring wraps a data key the core draws and returns the
//! encrypted data key (`AES/GCM` or `RSA-OAEP-SHA1`), or unwraps the envelope's encrypted data
//! key and returns the data key; the core builds the envelope from the wrap
//! ([`EncryptionMaterials::externally_wrapped`]) and checks every data key handed back (the V3
//! key commitment, the tag) as for its own keyrings.
//!
//! A wrap request is `{dataKey, contentCipher, materialsDescription}` (the data key's bytes are
//! a copy for the keyring: the package wipes it after the call); an unwrap request is `{wrap,
//! contentCipher, encryptedDataKey, materialsDescription}`.

use crate::fail::{Core, Fail, R};
use crate::opts::{borrow_pairs, pairs};
use crate::val::Val;
use s3_encryption::{
    DataKey, EncryptConfig, EncryptionContext, EncryptionMaterials, Envelope, Error, WrapAlgorithm,
};

/// The wraps an external keyring may use, by their stored names.
fn wrap_named(name: &str) -> R<WrapAlgorithm> {
    match name {
        "AES/GCM" => Ok(WrapAlgorithm::AesGcm),
        "RSA-OAEP-SHA1" => Ok(WrapAlgorithm::RsaOaepSha1),
        _ => Err(Error::UnsupportedWrap.into()),
    }
}

/// The unwrap request for `env`: only its `AES/GCM` and `RSA-OAEP-SHA1` wraps go to an external
/// keyring (KMS and the legacy wraps are [`Error::UnsupportedWrap`]).
pub(crate) fn unwrap_request(env: &Envelope) -> R<Val> {
    let wrap = env.wrap_algorithm();
    if !matches!(wrap, WrapAlgorithm::AesGcm | WrapAlgorithm::RsaOaepSha1) {
        return Err(Error::UnsupportedWrap.into());
    }
    let md = env.materials_description().unwrap_or("{}");
    let md: Val = serde_json::from_str(md)
        .map_err(|_| Fail::from(Error::InvalidMetadata("materials description")))?;
    Ok(Val::obj()
        .with("wrap", wrap.v2_name())
        .with("contentCipher", env.content_cipher_id())
        .with("encryptedDataKey", Val::bytes(env.encrypted_data_key()))
        .with("materialsDescription", md))
}

/// A wrap request for `data_key` under `config`, with the materials description `md`.
pub(crate) fn wrap_request(
    config: &EncryptConfig,
    data_key: &DataKey,
    md: EncryptionContext<'_>,
) -> Val {
    Val::obj()
        .with("dataKey", Val::bytes(data_key.as_bytes()))
        .with("contentCipher", config.content_cipher_id())
        .with("materialsDescription", Val::map(md.iter().copied()))
}

/// Materials from the keyring's answer: `wrap`, `encryptedDataKey` and the materials description
/// to store (flat pairs).
pub(crate) fn materials(
    config: &EncryptConfig,
    data_key: DataKey,
    wrap: &str,
    encrypted_data_key: &[u8],
    materials_description: Vec<String>,
) -> R<EncryptionMaterials> {
    let md = pairs(materials_description)?;
    EncryptionMaterials::externally_wrapped(
        config,
        data_key,
        wrap_named(wrap)?,
        encrypted_data_key,
        &borrow_pairs(&md),
    )
    .c()
}
