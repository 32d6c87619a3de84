//! Keyrings: where data keys come from and how they are wrapped (raw AES, RSA, AWS KMS).

use crate::error::{Error, Result};
use aws_sdk_kms::primitives::Blob;
use s3_encryption::envelope::keys::{EC_CEK_ALG, EC_KMS_CMK_ID};
use s3_encryption::rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use s3_encryption::rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use s3_encryption::{
    AesKey, AesKeyring, DataKey, EncryptConfig, EncryptionMaterials, Envelope, KeyRequest,
    Keyring as _, RsaKeyring, WrapAlgorithm,
};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

mod external;
mod kms;
mod program;

use external::External;
pub use external::{KeyringError, SharedKeyring};
pub use kms::KmsKeyring;
pub use program::{DEFAULT_TIMEOUT, MAX_LINE, ProgramKeyring, split_command_line};

/// `(key, value)` pairs: a materials description or a KMS encryption context.
pub type Pairs = Vec<(String, String)>;

#[derive(Clone)]
enum Inner {
    Aes {
        keyring: AesKeyring,
        matdesc: Pairs,
    },
    Rsa {
        keyring: Box<RsaKeyring>,
        matdesc: Pairs,
    },
    Kms {
        key_id: String,
        context: Pairs,
    },
    KmsDiscovery {
        context: Option<Pairs>,
    },
    /// A core keyring or a keyring program, called on the blocking pool.
    External {
        keyring: External,
        matdesc: Pairs,
        can_wrap: bool,
        can_unwrap: bool,
    },
    /// Several keyrings (at least two, none of them `Multi`): writes with the first, reads with
    /// whichever opens the object.
    Multi(Vec<ClientKeyring>),
}

/// The key material a client wraps and unwraps data keys with.
///
/// * [`ClientKeyring::aes`]: a raw AES master key (`AES/GCM` wrap), for writes and reads.
/// * [`ClientKeyring::rsa_public`] (writes only), [`ClientKeyring::rsa_private`] (reads and writes):
///   `RSA-OAEP-SHA1`.
/// * [`ClientKeyring::kms`]: an AWS KMS key id (`kms+context`), for writes and reads; reads pass the key
///   id to KMS, which refuses blobs made under another key.
/// * [`ClientKeyring::kms_discovery`]: reads only; KMS decrypts with whichever key the blob names.
/// * [`ClientKeyring::custom`]: any [`s3_encryption::Keyring`] (an HSM, a Vault transit key, a
///   hardware token), called on tokio's blocking pool; [`ClientKeyring::program`]: a keyring
///   program (`KEYRINGS.md`).
/// * [`ClientKeyring::multi`]: several of these; writes with the first, reads with whichever opens the
///   object (a bucket written under several keys).
#[derive(Clone)]
pub struct ClientKeyring(Inner);

impl fmt::Debug for ClientKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Aes { keyring, matdesc } => f
                .debug_struct("ClientKeyring::Aes")
                .field("key", keyring.key())
                .field("materials_description", matdesc)
                .finish(),
            Inner::Rsa { keyring, matdesc } => f
                .debug_struct("ClientKeyring::Rsa")
                .field("public", &keyring.public_key().is_some())
                .field(
                    "private",
                    &keyring.has_private_key().then_some("<redacted>"),
                )
                .field("materials_description", matdesc)
                .finish(),
            Inner::Kms { key_id, context } => f
                .debug_struct("ClientKeyring::Kms")
                .field("key_id", key_id)
                .field("encryption_context", context)
                .finish(),
            Inner::KmsDiscovery { context } => f
                .debug_struct("ClientKeyring::KmsDiscovery")
                .field("encryption_context", context)
                .finish(),
            Inner::External {
                keyring,
                matdesc,
                can_wrap,
                can_unwrap,
            } => f
                .debug_struct("ClientKeyring::External")
                .field("keyring", &keyring.describe())
                .field("can_wrap", can_wrap)
                .field("can_unwrap", can_unwrap)
                .field("materials_description", matdesc)
                .finish(),
            Inner::Multi(k) => f.debug_tuple("ClientKeyring::Multi").field(k).finish(),
        }
    }
}

fn refs(p: &Pairs) -> Vec<(&str, &str)> {
    p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn to_map(p: &[(String, String)]) -> HashMap<String, String> {
    p.iter().cloned().collect()
}

/// Parse a flat JSON object of strings (a stored materials description or encryption context).
pub(crate) fn json_pairs(json: &str) -> Pairs {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json) {
        Ok(m) => m
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn kms_error<E>(operation: &'static str, e: aws_sdk_kms::error::SdkError<E>) -> Error
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(se) = e.as_service_error() {
        let code = se.code().unwrap_or("error").to_owned();
        // Throttling and KMS-side failures are transient, not refusals: the caller may retry.
        if matches!(
            code.as_str(),
            "ThrottlingException"
                | "LimitExceededException"
                | "KMSInternalException"
                | "DependencyTimeoutException"
                | "KeyUnavailableException"
        ) {
            return Error::Kms {
                operation,
                source: format!("{code}: {}", se.message().unwrap_or("")).into(),
            };
        }
        let msg = se.message().unwrap_or("").to_owned();
        return Error::KmsRefused(format!("{operation}: {code}: {msg}"));
    }
    Error::Kms {
        operation,
        source: aws_sdk_kms::error::DisplayErrorContext(&e)
            .to_string()
            .into(),
    }
}

impl ClientKeyring {
    /// A raw AES master key (128, 192 or 256 bits; V2/V3 writes wrap with `AES/GCM`).
    pub fn aes(key: AesKey) -> Self {
        ClientKeyring(Inner::Aes {
            keyring: AesKeyring::new(key),
            matdesc: Vec::new(),
        })
    }

    /// An RSA public key: writes only.
    pub fn rsa_public(key: s3_encryption::rsa::PublicKey) -> Self {
        ClientKeyring(Inner::Rsa {
            keyring: Box::new(RsaKeyring::public_only(key)),
            matdesc: Vec::new(),
        })
    }

    /// An RSA private key: reads, and writes with its public half.
    pub fn rsa_private(key: s3_encryption::rsa::PrivateKey) -> Self {
        ClientKeyring(Inner::Rsa {
            keyring: Box::new(RsaKeyring::new(key)),
            matdesc: Vec::new(),
        })
    }

    /// An RSA key from PEM text: a private key (PKCS#8 or PKCS#1) or a public key (SPKI or PKCS#1).
    pub fn rsa_pem(pem: &str) -> Result<Self> {
        use s3_encryption::rsa::{PrivateKey, PublicKey};
        if let Ok(k) = PrivateKey::from_pkcs8_pem(pem).or_else(|_| PrivateKey::from_pkcs1_pem(pem))
        {
            return Ok(Self::rsa_private(k));
        }
        if let Ok(k) =
            PublicKey::from_public_key_pem(pem).or_else(|_| PublicKey::from_pkcs1_pem(pem))
        {
            return Ok(Self::rsa_public(k));
        }
        Err(Error::config(
            "not an RSA key in PEM form (expected PKCS#8 / PKCS#1 private key or SPKI / PKCS#1 public key)",
        ))
    }

    /// An AWS KMS key (id, ARN or alias): writes with `GenerateDataKey`, reads with `Decrypt`
    /// naming this key.
    pub fn kms(key_id: impl Into<String>) -> Self {
        ClientKeyring(Inner::Kms {
            key_id: key_id.into(),
            context: Vec::new(),
        })
    }

    /// Any core keyring: an HSM, a Vault transit key, a hardware token. Its calls may block; the
    /// client runs them on tokio's blocking pool. It wraps (`AES/GCM` or `RSA-OAEP-SHA1`) and
    /// unwraps; [`ClientKeyring::with_capabilities`] narrows that. Inside a
    /// [`ClientKeyring::multi`], a keyring that answers `UnsupportedWrap` lets the next try.
    pub fn custom(keyring: SharedKeyring) -> Self {
        ClientKeyring(Inner::External {
            keyring: External::Core(keyring),
            matdesc: Vec::new(),
            can_wrap: true,
            can_unwrap: true,
        })
    }

    /// A keyring program (`KEYRINGS.md`), with what its hello said it can do.
    pub fn program(program: ProgramKeyring) -> Self {
        let (can_wrap, can_unwrap) = (program.can_wrap(), program.can_unwrap());
        ClientKeyring(Inner::External {
            keyring: External::Program(Arc::new(program)),
            matdesc: Vec::new(),
            can_wrap,
            can_unwrap,
        })
    }

    /// Say what a [`ClientKeyring::custom`] keyring can do (both, unless told): a write-only
    /// or read-only key store is refused up front for the operations it cannot serve. No effect
    /// on other keyrings.
    pub fn with_capabilities(mut self, wrap: bool, unwrap: bool) -> Self {
        if let Inner::External {
            can_wrap,
            can_unwrap,
            ..
        } = &mut self.0
        {
            (*can_wrap, *can_unwrap) = (wrap, unwrap);
        }
        self
    }

    /// KMS discovery: reads only, `Decrypt` without a key id (KMS uses the key the blob names).
    /// Unless an encryption context is set, the stored context is accepted as it is.
    pub fn kms_discovery() -> Self {
        ClientKeyring(Inner::KmsDiscovery { context: None })
    }

    /// Set the materials description (AES and RSA keyrings) or the encryption context (KMS).
    /// For KMS reads the context given here must equal the one stored with the object.
    pub fn with_context<K: Into<String>, V: Into<String>>(
        mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let p: Pairs = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        match &mut self.0 {
            Inner::Aes { matdesc, .. }
            | Inner::Rsa { matdesc, .. }
            | Inner::External { matdesc, .. } => *matdesc = p,
            Inner::Kms { context, .. } => *context = p,
            Inner::KmsDiscovery { context } => *context = Some(p),
            Inner::Multi(k) => {
                for m in k {
                    *m = m.clone().with_context(p.clone());
                }
            }
        }
        self
    }

    /// Several keyrings as one: writes use the first, reads try each in turn (the first that
    /// opens the object wins; a transient KMS failure stops the search). One keyring is itself;
    /// none is a configuration error.
    pub fn multi(keyrings: impl IntoIterator<Item = ClientKeyring>) -> Result<Self> {
        let mut all = Vec::new();
        for k in keyrings {
            match k.0 {
                Inner::Multi(inner) => all.extend(inner),
                _ => all.push(k),
            }
        }
        match all.len() {
            0 => Err(Error::config("no keyring given")),
            1 => Ok(all.remove(0)),
            _ => Ok(ClientKeyring(Inner::Multi(all))),
        }
    }

    /// The keyrings a [`ClientKeyring::multi`] holds (itself for any other).
    pub fn members(&self) -> &[ClientKeyring] {
        match &self.0 {
            Inner::Multi(k) => k,
            _ => std::slice::from_ref(self),
        }
    }

    /// The materials description (AES, RSA) or encryption context (KMS) set with
    /// [`ClientKeyring::with_context`]; empty when none was set.
    pub fn context(&self) -> &[(String, String)] {
        match &self.0 {
            Inner::Aes { matdesc, .. }
            | Inner::Rsa { matdesc, .. }
            | Inner::External { matdesc, .. } => matdesc,
            Inner::Kms { context, .. } => context,
            Inner::KmsDiscovery { context } => context.as_deref().unwrap_or(&[]),
            Inner::Multi(k) => k[0].context(),
        }
    }

    /// Whether the keyring needs a KMS client.
    pub fn uses_kms(&self) -> bool {
        match &self.0 {
            Inner::Multi(k) => k.iter().any(ClientKeyring::uses_kms),
            i => matches!(i, Inner::Kms { .. } | Inner::KmsDiscovery { .. }),
        }
    }

    /// Whether this keyring can wrap new data keys.
    pub fn can_encrypt(&self) -> bool {
        match &self.0 {
            Inner::Aes { .. } | Inner::Kms { .. } => true,
            Inner::Rsa { keyring, .. } => keyring.public_key().is_some(),
            Inner::KmsDiscovery { .. } => false,
            Inner::External { can_wrap, .. } => *can_wrap,
            Inner::Multi(k) => k[0].can_encrypt(),
        }
    }

    /// Whether this keyring can unwrap data keys.
    pub fn can_decrypt(&self) -> bool {
        match &self.0 {
            Inner::Rsa { keyring, .. } => keyring.has_private_key(),
            Inner::External { can_unwrap, .. } => *can_unwrap,
            Inner::Multi(k) => k.iter().any(ClientKeyring::can_decrypt),
            _ => true,
        }
    }

    /// A short description (`AES-256`, `RSA-2048 private`, `KMS key …`), never key material.
    pub fn describe(&self) -> String {
        match &self.0 {
            Inner::Aes { keyring, .. } => format!("AES-{} key", keyring.key().len() * 8),
            Inner::Rsa { keyring, .. } => {
                use s3_encryption::rsa::traits::PublicKeyParts;
                let bits = keyring.public_key().map(|k| k.n().bit_width()).unwrap_or(0);
                if keyring.has_private_key() {
                    format!("RSA-{bits} private key")
                } else {
                    format!("RSA-{bits} public key")
                }
            }
            Inner::Kms { key_id, .. } => format!("KMS key {key_id}"),
            Inner::KmsDiscovery { .. } => "KMS discovery".to_owned(),
            Inner::External { keyring, .. } => keyring.describe(),
            Inner::Multi(k) => {
                let d: Vec<String> = k.iter().map(ClientKeyring::describe).collect();
                format!("{} keys ({})", k.len(), d.join(", "))
            }
        }
    }

    fn kms_client(kms: Option<&aws_sdk_kms::Client>) -> Result<&aws_sdk_kms::Client> {
        kms.ok_or_else(|| Error::config("a KMS keyring needs a KMS client"))
    }

    /// Fresh encryption materials for one object (a new data key, wrapped). `context` (KMS only)
    /// overrides the keyring's encryption context. KMS keyrings call `GenerateDataKey`.
    pub async fn encryption_materials(
        &self,
        config: &EncryptConfig,
        kms: Option<&aws_sdk_kms::Client>,
        context: Option<&Pairs>,
    ) -> Result<EncryptionMaterials> {
        match &self.0 {
            Inner::Aes { .. } | Inner::Rsa { .. } => self.wrap_local(config, DataKey::generate()?),
            Inner::External { .. } => self.wrap_external(config, DataKey::generate()?).await,
            Inner::Kms {
                key_id,
                context: own,
            } => {
                let ctx = context.unwrap_or(own);
                let req = EncryptionMaterials::kms(config, &refs(ctx))?;
                let out = Self::kms_client(kms)?
                    .generate_data_key()
                    .key_id(key_id)
                    .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
                    .set_encryption_context(Some(to_map(&req.encryption_context())))
                    .send()
                    .await
                    .map_err(|e| kms_error("GenerateDataKey", e))?;
                let pt = out.plaintext().ok_or_else(|| {
                    Error::KmsRefused("GenerateDataKey returned no plaintext".into())
                })?;
                let blob = out.ciphertext_blob().ok_or_else(|| {
                    Error::KmsRefused("GenerateDataKey returned no ciphertext blob".into())
                })?;
                let dk = DataKey::from_slice(pt.as_ref())?;
                Ok(req.into_materials(dk, blob.as_ref())?)
            }
            Inner::KmsDiscovery { .. } => Err(Error::config(
                "a KMS discovery keyring can only decrypt; give a KMS key id to encrypt",
            )),
            Inner::Multi(k) => Box::pin(k[0].encryption_materials(config, kms, context)).await,
        }
    }

    fn wrap_local(&self, config: &EncryptConfig, dk: DataKey) -> Result<EncryptionMaterials> {
        match &self.0 {
            Inner::Aes { keyring, matdesc } => {
                Ok(keyring.wrap_data_key(config, dk, &refs(matdesc))?)
            }
            Inner::Rsa { keyring, matdesc } if keyring.public_key().is_some() => {
                Ok(keyring.wrap_data_key(config, dk, &refs(matdesc))?)
            }
            Inner::Rsa { .. } => Err(Error::config("this RSA keyring has no public key")),
            _ => Err(Error::config("not a local keyring")),
        }
    }

    async fn wrap_external(
        &self,
        config: &EncryptConfig,
        dk: DataKey,
    ) -> Result<EncryptionMaterials> {
        match &self.0 {
            Inner::External {
                keyring,
                matdesc,
                can_wrap: true,
                ..
            } => keyring.wrap_blocking(config, dk, matdesc).await,
            Inner::External { keyring, .. } => Err(Error::config(format!(
                "the {} cannot wrap data keys; give a key that can encrypt",
                keyring.describe()
            ))),
            _ => Err(Error::config("not an external keyring")),
        }
    }

    /// Materials that wrap an existing data key (re-encrypting an instruction file). KMS keyrings
    /// call `Encrypt`.
    pub async fn rewrap_data_key(
        &self,
        config: &EncryptConfig,
        dk: DataKey,
        kms: Option<&aws_sdk_kms::Client>,
    ) -> Result<EncryptionMaterials> {
        match &self.0 {
            Inner::Aes { .. } | Inner::Rsa { .. } => self.wrap_local(config, dk),
            Inner::External { .. } => self.wrap_external(config, dk).await,
            Inner::Kms { key_id, context } => {
                let req = EncryptionMaterials::kms(config, &refs(context))?;
                let out = Self::kms_client(kms)?
                    .encrypt()
                    .key_id(key_id)
                    .plaintext(Blob::new(dk.as_bytes().to_vec()))
                    .set_encryption_context(Some(to_map(&req.encryption_context())))
                    .send()
                    .await
                    .map_err(|e| kms_error("Encrypt", e))?;
                let blob = out.ciphertext_blob().ok_or_else(|| {
                    Error::KmsRefused("Encrypt returned no ciphertext blob".into())
                })?;
                Ok(req.into_materials(dk, blob.as_ref())?)
            }
            Inner::KmsDiscovery { .. } => Err(Error::config(
                "a KMS discovery keyring cannot wrap keys; give a KMS key id",
            )),
            Inner::Multi(k) => Box::pin(k[0].rewrap_data_key(config, dk, kms)).await,
        }
    }

    /// The KMS key id of a KMS keyring (`None` for other keyrings and for discovery).
    pub fn kms_key_id(&self) -> Option<&str> {
        match &self.0 {
            Inner::Kms { key_id, .. } => Some(key_id),
            Inner::Multi(k) => k[0].kms_key_id(),
            _ => None,
        }
    }

    /// KMS→KMS re-wrap without the data key reaching the client: KMS `ReEncrypt` of `env`'s
    /// encrypted data key from `source` (the old keyring: its key id, or discovery) to this
    /// keyring's key id, with the stored encryption context on both sides (the context is bound
    /// to the content cipher, so it stays the same). Returns the new ciphertext blob; nothing here
    /// proves it holds the same data key (unwrap it and open the object for that).
    pub async fn reencrypt_data_key(
        &self,
        env: &Envelope,
        source: &ClientKeyring,
        kms: Option<&aws_sdk_kms::Client>,
    ) -> Result<Vec<u8>> {
        if let Inner::Multi(sources) = &source.0 {
            // The KMS members in turn: the blob names its key, and KMS refuses another source key.
            let mut last = None;
            for s in sources.iter().filter(|s| s.uses_kms()) {
                match Box::pin(self.reencrypt_data_key(env, s, kms)).await {
                    Ok(b) => return Ok(b),
                    Err(e) if e.ends_key_search() => return Err(e),
                    Err(e) => last = Some(e),
                }
            }
            return Err(last.unwrap_or_else(|| {
                Error::config("ReEncrypt applies to kms+context objects and a KMS source keyring")
            }));
        }
        let Inner::Kms { key_id, .. } = &self.0 else {
            return Err(Error::config("ReEncrypt needs a KMS keyring with a key id"));
        };
        if !source.uses_kms() || env.wrap_algorithm() != s3_encryption::WrapAlgorithm::KmsContext {
            return Err(Error::config(
                "ReEncrypt applies to kms+context objects and a KMS source keyring",
            ));
        }
        // The exact context KMS bound the blob to, as a Decrypt of it would send it.
        let stored = match env.key_request_accepting_stored_context()? {
            KeyRequest::Kms(r) => to_map(&r.encryption_context()),
            _ => return Err(Error::Internal("not a KMS-wrapped data key")),
        };
        let out = Self::kms_client(kms)?
            .re_encrypt()
            .ciphertext_blob(Blob::new(env.encrypted_data_key().to_vec()))
            .set_source_encryption_context(Some(stored.clone()))
            .set_source_key_id(source.kms_key_id().map(str::to_owned))
            .destination_key_id(key_id)
            .set_destination_encryption_context(Some(stored))
            .send()
            .await
            .map_err(|e| kms_error("ReEncrypt", e))?;
        let blob = out
            .ciphertext_blob()
            .ok_or_else(|| Error::KmsRefused("ReEncrypt returned no ciphertext blob".into()))?;
        Ok(blob.as_ref().to_vec())
    }

    /// Unwrap the data key of `env` (KMS keyrings call `Decrypt`). `context` (KMS only) overrides
    /// the keyring's encryption context for the check against the stored one; a discovery keyring
    /// without one accepts the stored context.
    pub async fn unwrap_data_key(
        &self,
        env: &Envelope,
        kms: Option<&aws_sdk_kms::Client>,
        context: Option<&Pairs>,
    ) -> Result<DataKey> {
        if let Inner::Multi(k) = &self.0 {
            // The first that opens it; a refusal of the right kind says more than "needs a KMS
            // keyring", so it is the error reported when none does.
            let mut err: Option<Error> = None;
            for m in k {
                match Box::pin(m.unwrap_data_key(env, kms, context)).await {
                    Ok(dk) => return Ok(dk),
                    // A transient failure, or a keyring program that stopped answering, is the
                    // command's error, never a reason to try the next key.
                    Err(e) if e.ends_key_search() => return Err(e),
                    Err(e) => {
                        if err.as_ref().is_none_or(|p| matches!(p, Error::Config(_))) {
                            err = Some(e);
                        }
                    }
                }
            }
            return Err(err.unwrap_or_else(|| Error::config("no keyring given")));
        }
        if let Inner::External {
            keyring,
            can_unwrap,
            ..
        } = &self.0
        {
            if !can_unwrap {
                return Err(Error::config(format!(
                    "the {} cannot unwrap data keys",
                    keyring.describe()
                )));
            }
            return keyring.unwrap_blocking(env).await;
        }
        let caller: Pairs = if env.wrap_algorithm().is_kms() {
            match (&self.0, context) {
                (_, Some(c)) => c.clone(),
                (Inner::Kms { context, .. }, None) => context.clone(),
                (Inner::KmsDiscovery { context: Some(c) }, None) => c.clone(),
                (Inner::KmsDiscovery { context: None }, None) => {
                    // Discovery without an expected context accepts the stored one.
                    json_pairs(env.encryption_context().unwrap_or("{}"))
                        .into_iter()
                        .filter(|(k, _)| k != EC_CEK_ALG && k != EC_KMS_CMK_ID)
                        .collect()
                }
                _ => Vec::new(),
            }
        } else {
            Vec::new()
        };
        let req = env.key_request(&refs(&caller))?;
        match (req, &self.0) {
            (KeyRequest::Kms(r), Inner::Kms { .. } | Inner::KmsDiscovery { .. }) => {
                let key_id = match &self.0 {
                    Inner::Kms { key_id: k, .. } => Some(k.as_str()),
                    _ => None,
                };
                let out = Self::kms_client(kms)?
                    .decrypt()
                    .ciphertext_blob(Blob::new(r.ciphertext_blob.to_vec()))
                    .set_encryption_context(Some(to_map(&r.encryption_context())))
                    .set_key_id(key_id.map(str::to_owned))
                    .send()
                    .await
                    .map_err(|e| kms_error("Decrypt", e))?;
                let pt = out
                    .plaintext()
                    .ok_or_else(|| Error::KmsRefused("Decrypt returned no plaintext".into()))?;
                DataKey::from_slice(pt.as_ref())
                    .map_err(|_| Error::Crypto(s3_encryption::Error::Authentication))
            }
            (KeyRequest::Aes { .. } | KeyRequest::AesOrRsa, Inner::Aes { keyring, .. }) => {
                Ok(keyring.decrypt_data_key(env, &[])?)
            }
            (KeyRequest::Rsa { .. } | KeyRequest::AesOrRsa, Inner::Rsa { keyring, .. })
                if keyring.has_private_key() =>
            {
                Ok(keyring.decrypt_data_key(env, &[])?)
            }
            (KeyRequest::Rsa { .. } | KeyRequest::AesOrRsa, Inner::Rsa { .. }) => {
                Err(Error::config(
                    "this object needs an RSA private key to decrypt; the keyring holds only a public key",
                ))
            }
            (req, _) => Err(Error::config(format!(
                "this object's data key is wrapped with {} and needs {}; the client has {}",
                env.wrap_algorithm().name(),
                match req {
                    KeyRequest::Kms(_) => "a KMS keyring",
                    KeyRequest::Aes { .. } => "an AES key",
                    KeyRequest::Rsa { .. } => "an RSA private key",
                    _ => "an AES key or an RSA private key",
                },
                self.describe()
            ))),
        }
    }
}

/// The stored name of a wrap algorithm (`AES/GCM`, `kms+context`, …; V1 legacy as `x-amz-key`).
/// (Kept for callers of this crate; it is [`WrapAlgorithm::name`].)
pub fn wrap_name(w: WrapAlgorithm) -> &'static str {
    w.name()
}
