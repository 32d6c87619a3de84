//! Rewrap: the instruction file rewritten (the rotation driver), or the object copied onto itself
//! server-side with the new envelope (KMS `ReEncrypt` where both keyrings are KMS), read back.

use super::{MigrateOptions, MigrateOutcome, MigrateStatus, new_key, own_description, owned};
use crate::client::S3EncryptionClient;
use crate::error::{Error, Result};
use crate::keyring::ClientKeyring;
use crate::rotate::ReEncryptOptions;
use crate::sdk::{self, ReadReq};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use s3_encryption::object::migrate::{
    RewrapInPlace, RewrapIntent, RewrapNext, Source, check_instruction_file_rewrap,
};
use s3_encryption::object::{DescribeNext, DescribeObject, Operation};

/// Whether the re-wrap can be KMS `ReEncrypt`: a `kms+context` object, a KMS old keyring and a
/// new one with a key id.
fn server_side(old: &ClientKeyring, new: &ClientKeyring, source: &Source) -> bool {
    old.uses_kms()
        && new.kms_key_id().is_some()
        && source
            .envelope()
            .is_some_and(|e| e.wrap_algorithm() == s3_encryption::WrapAlgorithm::KmsContext)
}

impl S3EncryptionClient {
    /// Rewrap, instruction-file placement: rewrite the instruction file (conditional on the one
    /// read), then check a fresh description against what was written.
    pub(super) async fn rewrap_instruction_file(
        &self,
        source: &Source,
        opts: &MigrateOptions,
    ) -> Result<MigrateOutcome> {
        // The old keyring must no longer open the new instruction file, unless it is KMS
        // discovery (which opens every blob its caller may decrypt).
        let old = &self.inner.keyring;
        let ropts = ReEncryptOptions {
            enforce_rotation: !old.uses_kms() || old.kms_key_id().is_some(),
            ..ReEncryptOptions::default()
        };
        let server_side = server_side(old, &opts.new_keyring, source);
        // The new wrap keeps the object's description unless the new key brings its own.
        let own = own_description(&opts.new_keyring, opts);
        let (desc, _) = source.description_for(new_key(&opts.new_keyring, &own))?;
        let described = opts.new_keyring.clone().with_context(owned(&desc));
        let (_, written) = Box::pin(self.rotate(
            source.bucket(),
            source.key(),
            &described,
            &ropts,
            server_side,
        ))
        .await?;
        let mut out = MigrateOutcome::of(source, MigrateStatus::Migrated, None);
        out.bytes = source.stored_len();
        if opts.verify {
            let suffix = source.suffix();
            // The current object, not the source version: a newer one is another writer's.
            let mut d = DescribeObject::new(source.bucket(), source.key(), None, suffix)?;
            let err = |e| self.machine_error(e, source.bucket(), source.key());
            while let DescribeNext::Send(id) = d.poll().map_err(err)? {
                let req = ReadReq::of(&d.request(id).map_err(err)?);
                let mut a = sdk::read(&self.inner.s3, &req).await?;
                if let Some(mut b) = a.body.take() {
                    let bytes = sdk::collect(&mut b, req.limit.unwrap_or(u64::MAX)).await?;
                    d.body(id, &bytes).map_err(err)?;
                }
                d.response(id, a.status, a.pairs()).map_err(err)?;
            }
            check_instruction_file_rewrap(source, &written, &d)?;
        } else {
            out.detail = Some("not verified".to_owned());
        }
        out.new_etag = source.etag().map(str::to_owned);
        out.new_version = source.version_id().map(str::to_owned);
        Ok(out)
    }

    /// Rewrap, metadata placement: a server-side copy of the object onto itself with the new
    /// envelope, read back.
    pub(super) async fn rewrap_in_place(
        &self,
        newc: &S3EncryptionClient,
        source: &Source,
        opts: &MigrateOptions,
    ) -> Result<MigrateOutcome> {
        let mut intent = RewrapIntent::new(self.inner.policy);
        intent.copy_threshold = opts.copy_part_size;
        intent.copy_part_size = opts.copy_part_size;
        let own = own_description(&opts.new_keyring, opts);
        let mut rw = RewrapInPlace::new(source, intent)?;
        rw.set_new_key(new_key(&opts.new_keyring, &own))?;
        // The new wrap keeps the object's description unless the new key brings its own.
        let described = opts
            .new_keyring
            .clone()
            .with_context(owned(rw.new_description().unwrap_or_default()));
        let kms = self.inner.kms.as_ref();
        let new = &described;
        let old = &self.inner.keyring;
        let server_side = server_side(old, new, source);
        let s3 = &self.inner.s3;
        let mut parts: Vec<CompletedPart> = Vec::new();
        let err = |e| self.machine_error(e, source.bucket(), source.key());
        let done = loop {
            match rw.poll().map_err(err)? {
                RewrapNext::UnwrapKey if server_side => {
                    let blob = new.reencrypt_data_key(rw.old_envelope(), old, kms).await?;
                    rw.reencrypted_key(&blob).map_err(err)?;
                }
                RewrapNext::UnwrapKey => {
                    let dk = old.unwrap_data_key(rw.old_envelope(), kms, None).await?;
                    rw.data_key(dk).map_err(err)?;
                }
                RewrapNext::WrapKey => {
                    let config = rw.new_config().map_err(err)?;
                    let dk = rw.data_key_to_wrap().map_err(err)?.clone();
                    let m = new.rewrap_data_key(&config, dk, kms).await?;
                    rw.new_materials(m).map_err(err)?;
                }
                RewrapNext::Send(id) => {
                    let req = rw.request(id).map_err(err)?;
                    match req.operation {
                        Operation::CopyObject => {
                            let a = sdk::copy_object(s3, &req).await?;
                            rw.response(id, a.status, a.pairs()).map_err(err)?;
                        }
                        Operation::HeadObject => {
                            let a = sdk::read(s3, &ReadReq::of(&req)).await?;
                            rw.response(id, a.status, a.pairs()).map_err(err)?;
                        }
                        Operation::CreateMultipartUpload => {
                            let metadata = req
                                .metadata()
                                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                                .collect();
                            let o = s3
                                .create_multipart_upload()
                                .bucket(req.bucket)
                                .key(req.key)
                                .set_metadata(Some(metadata))
                                .set_content_type(req.content_type.map(str::to_owned))
                                .set_tagging(req.tagging.map(str::to_owned))
                                .send()
                                .await
                                .map_err(|e| Error::from_s3("CreateMultipartUpload", e))?;
                            rw.upload_created(id, 200, o.upload_id().unwrap_or(""))
                                .map_err(err)?;
                        }
                        Operation::UploadPartCopy => {
                            let number = req.part_number.unwrap_or(0) as i32;
                            let r = sdk::upload_part_copy(s3, &req).await;
                            let (a, etag) = match r {
                                Ok(x) => x,
                                Err(e) => {
                                    // The machine aborts the upload before it reports this.
                                    rw.response(id, 500, []).ok();
                                    self.finish_abort(&mut rw).await;
                                    return Err(e);
                                }
                            };
                            parts.push(
                                CompletedPart::builder()
                                    .part_number(number)
                                    .set_e_tag(etag)
                                    .build(),
                            );
                            if let Err(e) = rw.response(id, a.status, a.pairs()) {
                                self.finish_abort(&mut rw).await;
                                return Err(err(e));
                            }
                        }
                        Operation::CompleteMultipartUpload => {
                            parts.sort_by_key(|p| p.part_number());
                            let r = s3
                                .complete_multipart_upload()
                                .bucket(req.bucket)
                                .key(req.key)
                                .set_upload_id(req.upload_id.map(str::to_owned))
                                .set_if_match(req.if_match.map(str::to_owned))
                                .multipart_upload(
                                    CompletedMultipartUpload::builder()
                                        .set_parts(Some(std::mem::take(&mut parts)))
                                        .build(),
                                )
                                .send()
                                .await;
                            match r {
                                Ok(o) => {
                                    let mut h = Vec::new();
                                    if let Some(e) = o.e_tag() {
                                        h.push(("etag", e.to_owned()));
                                    }
                                    if let Some(v) = o.version_id() {
                                        h.push(("x-amz-version-id", v.to_owned()));
                                    }
                                    rw.response(id, 200, h.iter().map(|(k, v)| (*k, v.as_str())))
                                        .map_err(err)?;
                                }
                                Err(e) => {
                                    let e = Error::from_s3("CompleteMultipartUpload", e);
                                    let status = if e.is_precondition_failed() { 412 } else { 500 };
                                    rw.response(id, status, []).ok();
                                    self.finish_abort(&mut rw).await;
                                    return Err(e);
                                }
                            }
                        }
                        Operation::AbortMultipartUpload => {
                            let status = sdk::abort(s3, &req).await.map(|a| a.status);
                            rw.response(id, status.unwrap_or(500), []).ok();
                        }
                        _ => return Err(Error::Internal("unexpected request")),
                    }
                }
                RewrapNext::CheckNewKey => {
                    if new.can_decrypt() {
                        let env = rw
                            .new_envelope()
                            .ok_or_else(|| Error::Internal("no envelope"))?;
                        let dk = new
                            .unwrap_data_key(env, newc.inner.kms.as_ref(), None)
                            .await?;
                        rw.new_key_opens(dk).map_err(err)?;
                    } else {
                        rw.new_key_cannot_decrypt().map_err(err)?;
                    }
                }
                RewrapNext::Done(d) => break d,
            }
        };
        let mut out = MigrateOutcome::of(source, MigrateStatus::Migrated, None);
        out.new_etag = rw.new_etag().map(str::to_owned);
        out.new_version = rw.new_version_id().map(str::to_owned);
        out.bytes = source.stored_len();
        if !done.new_key_checked {
            out.detail = Some("the new keyring cannot decrypt: its envelope was not opened".into());
        }
        Ok(out)
    }

    /// Send the abort the machine asks for after a failed part copy or completion.
    async fn finish_abort(&self, rw: &mut RewrapInPlace<'_>) {
        while let Ok(RewrapNext::Send(id)) = rw.poll() {
            let Ok(req) = rw.request(id) else { return };
            if req.operation != Operation::AbortMultipartUpload {
                return;
            }
            let status = sdk::abort(&self.inner.s3, &req).await.map(|a| a.status);
            let _ = rw.response(id, status.unwrap_or(500), []);
        }
    }
}
