//! Instruction-file re-encryption (key rotation without touching the object) and DELETE: drivers
//! of the core's [`RotateInstructionFile`] and [`DeleteObject`] machines.

use crate::client::S3EncryptionClient;
use crate::error::{Error, Result};
use crate::info::EnvelopeInfo;
use crate::keyring::{ClientKeyring, Pairs};
use crate::sdk::{self, ReadReq};
use aws_sdk_s3::primitives::ByteStream;
use s3_encryption::Envelope;
use s3_encryption::object::{
    DeleteDone, DeleteNext, DeleteObject, Operation, RequestBody, RotateInstructionFile,
    RotateIntent, RotateNext,
};

/// Options for [`S3EncryptionClient::reencrypt_instruction_file`].
#[derive(Debug, Clone, Default)]
pub struct ReEncryptOptions {
    /// Suffix of the instruction file to read (default: the client's).
    pub source_suffix: Option<String>,
    /// Suffix to write the new instruction file at (default: the client's), verbatim.
    pub new_suffix: Option<String>,
    /// KMS encryption context expected on the object (default: the keyring's).
    pub encryption_context: Option<Pairs>,
    /// Fail if the current keyring can still unwrap the new instruction file.
    pub enforce_rotation: bool,
}

/// The result of re-encrypting an instruction file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReEncryptOutput {
    /// The instruction file written.
    pub instruction_file_key: String,
    /// The new envelope.
    pub envelope: EnvelopeInfo,
}

impl S3EncryptionClient {
    /// Re-encrypt the instruction file of `key` under `new_keyring` (key rotation without touching
    /// the object): the data key is unwrapped with this client's keyring (for V3 it must match the
    /// key commitment), wrapped again (AES, RSA or KMS), checked to parse beside the object's
    /// metadata and, when `new_keyring` can decrypt, to unwrap to a key that opens the object; then
    /// the new instruction file is written at `opts.new_suffix` (default: the client's suffix). The
    /// object, its IV or message id and its V3 key commitment are untouched.
    pub async fn reencrypt_instruction_file(
        &self,
        bucket: &str,
        key: &str,
        new_keyring: &ClientKeyring,
        opts: &ReEncryptOptions,
    ) -> Result<ReEncryptOutput> {
        Box::pin(self.rotate(bucket, key, new_keyring, opts, false))
            .await
            .map(|(out, _)| out)
    }

    /// The rotation, returning the new envelope as well. With `server_side` (KMS→KMS, a
    /// `kms+context` object) the blob is re-encrypted by KMS `ReEncrypt` and the data key never
    /// reaches the client; the new envelope is then checked with the new keyring before it is
    /// written.
    pub(crate) async fn rotate(
        &self,
        bucket: &str,
        key: &str,
        new_keyring: &ClientKeyring,
        opts: &ReEncryptOptions,
        server_side: bool,
    ) -> Result<(ReEncryptOutput, Envelope)> {
        let source = opts.source_suffix.as_deref().unwrap_or(&self.inner.suffix);
        let target = opts.new_suffix.as_deref().unwrap_or(&self.inner.suffix);
        let mut intent = RotateIntent::new(bucket, key);
        intent.policy = self.inner.policy;
        intent.source_suffix = source;
        intent.new_suffix = target;
        intent.encryption_context = None;
        intent.enforce_rotation = opts.enforce_rotation;
        let mut r = RotateInstructionFile::new(intent)?;
        let err = |e| self.machine_error(e, bucket, key);
        let kms = self.inner.kms.as_ref();
        loop {
            match r.poll().map_err(err)? {
                RotateNext::Send(id) => {
                    let req = r.request(id).map_err(err)?;
                    let a = match (req.operation, req.body) {
                        (Operation::PutObject, RequestBody::Bytes(b)) => {
                            let body = ByteStream::from(b.to_vec());
                            sdk::put_object(&self.inner.s3, &req, body, None).await?
                        }
                        _ => {
                            let rr = ReadReq::of(&req);
                            let mut a = sdk::read(&self.inner.s3, &rr).await?;
                            if let Some(mut b) = a.body.take() {
                                let limit = rr.limit.unwrap_or(u64::MAX);
                                let bytes = sdk::collect(&mut b, limit).await?;
                                r.body(id, &bytes).map_err(err)?;
                            }
                            a
                        }
                    };
                    r.response(id, a.status, a.pairs()).map_err(err)?;
                }
                RotateNext::UnwrapKey if server_side => {
                    let env = r
                        .old_envelope()
                        .ok_or_else(|| Error::Internal("no envelope"))?;
                    let blob = new_keyring
                        .reencrypt_data_key(env, &self.inner.keyring, kms)
                        .await?;
                    r.reencrypted_key(&blob).map_err(err)?;
                }
                RotateNext::UnwrapKey => {
                    let env = r
                        .old_envelope()
                        .ok_or_else(|| Error::Internal("no envelope"))?;
                    let dk = self
                        .inner
                        .keyring
                        .unwrap_data_key(env, kms, opts.encryption_context.as_ref())
                        .await?;
                    r.data_key(dk).map_err(err)?;
                }
                RotateNext::WrapKey => {
                    let config = r.new_config().map_err(err)?;
                    let dk = r.data_key_to_wrap().map_err(err)?.clone();
                    let m = new_keyring.rewrap_data_key(&config, dk, kms).await?;
                    r.new_materials(m).map_err(err)?;
                }
                RotateNext::CheckNewKey if new_keyring.can_decrypt() => {
                    let env = r.envelope_to_unwrap().map_err(err)?;
                    let dk = new_keyring.unwrap_data_key(env, kms, None).await?;
                    r.data_key(dk).map_err(err)?;
                }
                RotateNext::CheckNewKey => r.new_key_cannot_decrypt().map_err(err)?,
                RotateNext::CheckOldKey => {
                    let env = r
                        .new_envelope()
                        .ok_or_else(|| Error::Internal("no envelope"))?;
                    let opens = match self
                        .inner
                        .keyring
                        .unwrap_data_key(env, kms, opts.encryption_context.as_ref())
                        .await
                    {
                        Ok(_) => true,
                        // A key that could not be asked has not shown that it no longer opens it.
                        Err(e) if e.ends_key_search() => return Err(e),
                        Err(_) => false,
                    };
                    r.old_key_opens(opens).map_err(err)?;
                }
                RotateNext::Done(_) => {
                    let env = r
                        .new_envelope()
                        .ok_or_else(|| Error::Internal("no envelope"))?;
                    return Ok((
                        ReEncryptOutput {
                            instruction_file_key: format!("{key}{target}"),
                            envelope: EnvelopeInfo::new(env, None),
                        },
                        env.clone(),
                    ));
                }
            }
        }
    }

    /// Delete an object and, when its envelope lives in one, its instruction file (as the spec
    /// asks of DeleteObject). An object that does not exist is not an error
    /// ([`DeleteDone::object`] says whether it did). An unrelated object that happens to be named
    /// `<key><suffix>` is left alone: the instruction file is deleted only when the object's
    /// metadata says its envelope is there and the file parses as one.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<DeleteDone> {
        let mut d = DeleteObject::new(bucket, key, &self.inner.suffix)?;
        let err = |e| self.machine_error(e, bucket, key);
        loop {
            match d.poll().map_err(err)? {
                DeleteNext::Send(id) => {
                    let req = d.request(id).map_err(err)?;
                    let a = match req.operation {
                        Operation::DeleteObject => sdk::delete_object(&self.inner.s3, &req).await?,
                        _ => {
                            let rr = ReadReq::of(&req);
                            let mut a = sdk::read(&self.inner.s3, &rr).await?;
                            if let Some(mut b) = a.body.take() {
                                let limit = rr.limit.unwrap_or(u64::MAX);
                                let bytes = sdk::collect(&mut b, limit).await?;
                                d.body(id, &bytes).map_err(err)?;
                            }
                            a
                        }
                    };
                    d.response(id, a.status, a.pairs()).map_err(err)?;
                }
                DeleteNext::Done(done) => return Ok(done),
            }
        }
    }
}
