//! AWS KMS as a core [`Keyring`]: [`KmsKeyring`] owns its KMS client and a one-thread runtime of
//! its own, so code that speaks only the core's synchronous trait (an `object_store` wrapper, a
//! batch pipeline, a [`MultiKeyring`](s3_encryption::MultiKeyring) beside an HSM) can wrap and
//! unwrap under KMS without being async itself.
//!
//! It writes `kms+context` (KMS `Encrypt` of the data key under the encryption context the core
//! builds: the caller's pairs and `aws:x-amz-cek-alg`) and reads `kms+context` and legacy `kms`
//! (KMS `Decrypt`, the key id pinned unless the keyring is for discovery). The core's errors carry
//! no text, so the mapping is: KMS refused (wrong key, context, access, invalid blob) →
//! [`Error::Authentication`](s3_encryption::Error::Authentication), the one opaque failure; KMS
//! could not answer (throttling, an outage, the network) →
//! [`Error::KeyringFailed`](s3_encryption::Error::KeyringFailed). [`KmsKeyring::last_failure`]
//! keeps the text of the last failure for logs.
//!
//! The transport's own client keeps its async KMS path ([`ClientKeyring::kms`](crate::ClientKeyring::kms)):
//! it tells refusals from retryable failures in its errors, and re-wraps KMS→KMS with
//! `ReEncrypt` so the data key never reaches the client. This type is for everything else.

use crate::error::{Error, Result};
use aws_sdk_kms::primitives::Blob;
use s3_encryption::{
    DataKey, EncryptConfig, EncryptionContext, EncryptionMaterials, Envelope, KeyRequest, Keyring,
};
use std::collections::HashMap;
use std::sync::Mutex;

/// A KMS key (or KMS discovery) as a core [`Keyring`], owning its KMS client and a one-thread
/// runtime, so the synchronous trait works from plain threads and inside async code alike.
///
/// It writes `kms+context` (KMS `Encrypt` under the context the core builds) and reads
/// `kms+context` and legacy `kms` (KMS `Decrypt`, the key id pinned unless it is a discovery
/// keyring). A KMS refusal is the opaque [`Error::Authentication`](s3_encryption::Error), a call
/// KMS did not answer [`Error::KeyringFailed`](s3_encryption::Error);
/// [`KmsKeyring::last_failure`] keeps the text.
pub struct KmsKeyring {
    client: aws_sdk_kms::Client,
    key_id: Option<String>,
    context: Vec<(String, String)>,
    accept_stored_context: bool,
    runtime: OwnRuntime,
    last_failure: Mutex<Option<String>>,
}

impl std::fmt::Debug for KmsKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsKeyring")
            .field("key_id", &self.key_id)
            .field("context", &self.context)
            .field("accept_stored_context", &self.accept_stored_context)
            .finish_non_exhaustive()
    }
}

/// A runtime that may be dropped anywhere (inside async code too): it shuts down in the
/// background.
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl KmsKeyring {
    /// Wrap under `key_id` (a key id, ARN or alias) and unwrap only what that key wrapped.
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Result<Self> {
        Self::build(client, Some(key_id.into()))
    }

    /// KMS discovery: unwrap with whichever key an object names (`Decrypt` without a key id);
    /// it cannot wrap. The stored encryption context is accepted as it is unless
    /// [`KmsKeyring::with_context`] says which one to expect.
    pub fn discovery(client: aws_sdk_kms::Client) -> Result<Self> {
        let mut k = Self::build(client, None)?;
        k.accept_stored_context = true;
        Ok(k)
    }

    fn build(client: aws_sdk_kms::Client, key_id: Option<String>) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("s3ec-kms-keyring")
            .enable_all()
            .build()?;
        Ok(KmsKeyring {
            client,
            key_id,
            context: Vec::new(),
            accept_stored_context: false,
            runtime: OwnRuntime(Some(rt)),
            last_failure: Mutex::new(None),
        })
    }

    /// The encryption context written with new objects and expected of objects read, when the
    /// core's caller passes none. Setting one also ends a discovery keyring's acceptance of any
    /// stored context.
    pub fn with_context(mut self, context: &[(&str, &str)]) -> Self {
        self.context = context
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.accept_stored_context = false;
        self
    }

    /// The text of the last KMS failure (a refusal or an unanswered call), for logs.
    pub fn last_failure(&self) -> Option<String> {
        self.last_failure.lock().ok().and_then(|g| g.clone())
    }

    fn failed(&self, e: &Error) -> s3_encryption::Error {
        if let Ok(mut g) = self.last_failure.lock() {
            *g = Some(e.to_string());
        }
        match e {
            Error::KmsRefused(_) => s3_encryption::Error::Authentication,
            _ => s3_encryption::Error::KeyringFailed,
        }
    }

    /// Run `f` on the keyring's own runtime and wait for it (from any thread, async or not).
    fn run<T, F>(&self, f: F) -> std::result::Result<T, s3_encryption::Error>
    where
        T: Send + 'static,
        F: std::future::Future<Output = T> + Send + 'static,
    {
        let rt = self
            .runtime
            .0
            .as_ref()
            .ok_or(s3_encryption::Error::Internal(
                "the KMS keyring's runtime is gone",
            ))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv()
            .map_err(|_| s3_encryption::Error::Internal("a KMS keyring task panicked"))
    }

    fn context_for<'c>(&'c self, caller: EncryptionContext<'c>) -> Vec<(&'c str, &'c str)> {
        if caller.is_empty() {
            self.context
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect()
        } else {
            caller.to_vec()
        }
    }
}

fn to_map(pairs: &[(String, String)]) -> HashMap<String, String> {
    pairs.iter().cloned().collect()
}

impl Keyring for KmsKeyring {
    fn wrap_data_key(
        &self,
        config: &EncryptConfig,
        data_key: DataKey,
        context: EncryptionContext<'_>,
    ) -> s3_encryption::Result<EncryptionMaterials> {
        let key_id = self.key_id.clone().ok_or(s3_encryption::Error::ApiMisuse(
            "KmsKeyring::wrap_data_key: a discovery keyring cannot wrap; give a key id",
        ))?;
        let req = EncryptionMaterials::kms(config, &self.context_for(context))?;
        let call = self
            .client
            .encrypt()
            .key_id(key_id)
            .plaintext(Blob::new(data_key.as_bytes().to_vec()))
            .set_encryption_context(Some(to_map(&req.encryption_context())))
            .send();
        let out = self
            .run(call)?
            .map_err(|e| self.failed(&super::kms_error("Encrypt", e)))?;
        let blob = out.ciphertext_blob().ok_or_else(|| {
            self.failed(&Error::KmsRefused(
                "Encrypt returned no ciphertext blob".into(),
            ))
        })?;
        req.into_materials(data_key, blob.as_ref())
    }

    fn decrypt_data_key(
        &self,
        envelope: &Envelope,
        context: EncryptionContext<'_>,
    ) -> s3_encryption::Result<DataKey> {
        let request = if context.is_empty() && self.accept_stored_context {
            envelope.key_request_accepting_stored_context()?
        } else {
            envelope.key_request(&self.context_for(context))?
        };
        let KeyRequest::Kms(r) = request else {
            return Err(s3_encryption::Error::UnsupportedWrap);
        };
        let call = self
            .client
            .decrypt()
            .ciphertext_blob(Blob::new(r.ciphertext_blob.to_vec()))
            .set_encryption_context(Some(to_map(&r.encryption_context())))
            .set_key_id(self.key_id.clone())
            .send();
        let out = self
            .run(call)?
            .map_err(|e| self.failed(&super::kms_error("Decrypt", e)))?;
        let plaintext = out.plaintext().ok_or_else(|| {
            self.failed(&Error::KmsRefused("Decrypt returned no plaintext".into()))
        })?;
        DataKey::from_slice(plaintext.as_ref()).map_err(|_| s3_encryption::Error::Authentication)
    }
}
