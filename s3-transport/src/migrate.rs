//! Migration of one object: a driver of the core's [`s3_encryption::object::migrate`] steps over
//! aws-sdk-s3, aws-sdk-kms and tokio. The core decides what to do, pins and conditions every
//! request and checks every answer; this file performs the requests, runs the existing GET and
//! PUT drivers, and moves the plaintext between them.
//!
//! [`S3EncryptionClient::migrate_object`] classifies the object (HEAD and instruction file), then:
//! * a plain object is [`MigrateStatus::NotEncrypted`], one the client's keyring and policy cannot
//!   open [`MigrateStatus::CannotOpen`]; both are left untouched;
//! * one already in the target form (V3 that the new keyring opens, for [`MigrateMode::ToV3`];
//!   wrapped so that the new keyring opens it, for [`MigrateMode::Rewrap`]) is
//!   [`MigrateStatus::Skipped`], so a rerun is safe;
//! * with `dry_run`, the rest is [`MigrateStatus::WouldMigrate`];
//! * otherwise it is migrated, conditional on the ETag it had at the HEAD (a 412, or a read-back
//!   that shows another object, is [`MigrateStatus::Changed`]: the other writer's object is left
//!   as it is), and read back and verified before [`MigrateStatus::Migrated`] is reported. On a
//!   versioned bucket the previous version is kept ([`MigrateOutcome::source_version`]).
//!
//! Transient failures (throttling, 5xx, network) are `Err` with [`Error::is_retryable`] true;
//! every per-object verdict is an `Ok` outcome.

use crate::client::{GetOptions, PutOptions, S3EncryptionClient};
use crate::error::{Error, Result};
use crate::keyring::{Keyring, Pairs};
use crate::rotate::ReEncryptOptions;
use crate::sdk::{self, ReadReq};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use s3_encryption::object::migrate::{
    MigrateTarget, PlaintextDigest, Plan, Reencrypt, RewrapInPlace, RewrapIntent, RewrapNext,
    Source, check_instruction_file_rewrap,
};
use s3_encryption::object::{DescribeNext, DescribeObject, MAX_PARTS_IN_FLIGHT, Operation};
use s3_encryption::{CommitmentPolicy, ContentAlgorithm, DecryptPolicy, Envelope, Placement};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// What a migration does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrateMode {
    /// Re-encrypt as V3 under the new keyring (V1, V2 and V3 sources; a new data key).
    ToV3,
    /// Keep the content, re-wrap the data key under the new keyring (V3 and V2 AES-GCM sources).
    Rewrap,
}

/// Options for [`S3EncryptionClient::migrate_object`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MigrateOptions {
    /// The operation.
    pub mode: MigrateMode,
    /// The keyring the migrated object is written (or re-wrapped) under.
    pub new_keyring: Keyring,
    /// The KMS encryption context for the new keyring's writes and its read-back (default: the
    /// new keyring's own). Old objects are read with the client's keyring as configured.
    pub encryption_context: Option<Pairs>,
    /// Classify only: report what would be migrated, write nothing.
    pub dry_run: bool,
    /// Read the new object back and verify it before reporting success (default true). Off, a
    /// success is reported with the detail `not verified`.
    pub verify: bool,
}

impl MigrateOptions {
    /// `mode` to `new_keyring`, verified, not a dry run.
    pub fn new(mode: MigrateMode, new_keyring: Keyring) -> Self {
        MigrateOptions {
            mode,
            new_keyring,
            encryption_context: None,
            dry_run: false,
            verify: true,
        }
    }
}

/// An object's form, as an inventory counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectForm {
    /// `V1`, `V2`, `V3`, `kms` (the legacy `kms` wrap) or `plain`.
    pub format: &'static str,
    /// `AES/GCM/NoPadding`, `AES/CBC/PKCS5Padding` or `none`.
    pub content: &'static str,
    /// The wrap's stored name (`kms+context`, `AES/GCM`, `RSA-OAEP-SHA1`, `kms`, `AESWrap`, …;
    /// `x-amz-key (V1 legacy)` for V1) or `none`.
    pub wrap: String,
    /// `metadata`, `instruction-file` or `none`.
    pub placement: &'static str,
    /// Stored bytes.
    pub size: u64,
}

/// A migration's verdict on one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrateStatus {
    /// Written in the target form, read back and verified.
    Migrated,
    /// Already in the target form: untouched.
    Skipped,
    /// A plain object: untouched.
    NotEncrypted,
    /// The client's keyring and policy cannot open it: untouched.
    CannotOpen,
    /// Another writer changed it during the migration (a failed condition, or a read-back that
    /// shows another object): left as that writer left it.
    Changed,
    /// Dry run: it would be migrated.
    WouldMigrate,
    /// The operation does not apply to this object (a re-wrap of V1 or AES-CBC content, which
    /// cannot be written again: re-encrypt it to V3 instead): untouched.
    Unsupported,
}

/// What happened to one object.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MigrateOutcome {
    /// The key.
    pub key: String,
    /// The verdict.
    pub status: MigrateStatus,
    /// Its form before the migration (`None` if it could not be described).
    pub form: Option<ObjectForm>,
    /// The ETag it had when described.
    pub source_etag: Option<String>,
    /// The version it had when described (kept on a versioned bucket).
    pub source_version: Option<String>,
    /// The new object's ETag.
    pub new_etag: Option<String>,
    /// The new object's version.
    pub new_version: Option<String>,
    /// Plaintext bytes re-encrypted (ToV3), or stored bytes re-wrapped (Rewrap); 0 otherwise.
    pub bytes: u64,
    /// A short note (why it cannot be opened, what was left behind); never key material.
    pub detail: Option<String>,
}

fn form_of(s: &Source) -> ObjectForm {
    let f = s.form();
    ObjectForm {
        format: f.format.name(),
        content: match f.content {
            None => "none",
            Some(ContentAlgorithm::AesCbc) => "AES/CBC/PKCS5Padding",
            Some(_) => "AES/GCM/NoPadding",
        },
        wrap: f
            .wrap
            .map(|w| w.name().to_owned())
            .unwrap_or_else(|| "none".to_owned()),
        placement: match f.placement {
            None => "none",
            Some(Placement::InstructionFile) => "instruction-file",
            Some(_) => "metadata",
        },
        size: f.stored_len,
    }
}

/// A short, secret-free description of a failure.
fn short(e: &Error) -> String {
    let mut s = e.to_string();
    if s.len() > 200 {
        let mut cut = 200;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

impl MigrateOutcome {
    fn of(source: &Source, status: MigrateStatus, detail: Option<String>) -> Self {
        MigrateOutcome {
            key: source.key().to_owned(),
            status,
            form: Some(form_of(source)),
            source_etag: source.etag().map(str::to_owned),
            source_version: source.version_id().map(str::to_owned),
            new_etag: None,
            new_version: None,
            bytes: 0,
            detail,
        }
    }
}

/// Tells a [`GuardedReader`] whether its writer ended because the read succeeded.
type Flag = Arc<AtomicBool>;

/// The PUT's end of the plaintext pipe: the end of the pipe is the end of the body only if the
/// GET succeeded; otherwise it is an error, so that the PUT aborts and never stores a prefix.
struct GuardedReader {
    inner: tokio::io::DuplexStream,
    ok: Flag,
}

impl AsyncRead for GuardedReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                if self.ok.load(Ordering::SeqCst) {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Ready(Err(std::io::Error::other(
                        "the source read failed: the body is incomplete",
                    )))
                }
            }
            r => r,
        }
    }
}

/// A writer that takes a SHA-256 of what passes (the verified plaintext, in order).
struct HashWriter<W> {
    inner: W,
    digest: PlaintextDigest,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for HashWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                let at = this.digest.len();
                this.digest
                    .update(at, &buf[..n])
                    .map_err(std::io::Error::other)?;
                Poll::Ready(Ok(n))
            }
            r => r,
        }
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl S3EncryptionClient {
    /// Migrate one object: old keyring and policy are this client's; the new keyring and the
    /// mode are in `opts`. Permanent per-object states (not encrypted, cannot open, changed,
    /// skipped, unsupported) are `Ok` outcomes; transport and throttling failures are `Err`
    /// ([`Error::is_retryable`] tells the transient ones). See the [module documentation](self).
    pub async fn migrate_object(
        &self,
        bucket: &str,
        key: &str,
        opts: &MigrateOptions,
    ) -> Result<MigrateOutcome> {
        Box::pin(self.migrate_inner(bucket, key, opts)).await
    }

    async fn migrate_inner(
        &self,
        bucket: &str,
        key: &str,
        opts: &MigrateOptions,
    ) -> Result<MigrateOutcome> {
        let mut source = match self.describe_source(bucket, key).await {
            Ok(s) => s,
            Err(e @ Error::Crypto(_)) => {
                // A malformed, ambiguous or over-large envelope: nothing can open it.
                return Ok(MigrateOutcome {
                    key: key.to_owned(),
                    status: MigrateStatus::CannotOpen,
                    form: None,
                    source_etag: None,
                    source_version: None,
                    new_etag: None,
                    new_version: None,
                    bytes: 0,
                    detail: Some(short(&e)),
                });
            }
            Err(e) => return Err(e),
        };
        let target = match opts.mode {
            MigrateMode::ToV3 => MigrateTarget::ToV3,
            MigrateMode::Rewrap => MigrateTarget::Rewrap,
        };
        let plan = match source.plan(target) {
            Ok(p) => p,
            Err(e) => {
                return Ok(MigrateOutcome::of(
                    &source,
                    MigrateStatus::Unsupported,
                    Some(format!(
                        "{}: {} content cannot be re-wrapped; migrate it to V3",
                        e.code(),
                        form_of(&source).format
                    )),
                ));
            }
        };
        let newc = self.for_migration(opts.new_keyring.clone())?;
        let env = match (plan, source.envelope()) {
            (Plan::NotEncrypted, _) | (_, None) => {
                return Ok(MigrateOutcome::of(
                    &source,
                    MigrateStatus::NotEncrypted,
                    None,
                ));
            }
            (_, Some(env)) => env.clone(),
        };
        if let Some(why) = self.old_key_refuses(&env).await? {
            return Ok(MigrateOutcome::of(
                &source,
                MigrateStatus::CannotOpen,
                Some(why),
            ));
        }
        if plan == Plan::SkipIfNewKeyOpens {
            let policy = match opts.mode {
                MigrateMode::ToV3 => DecryptPolicy::new(),
                MigrateMode::Rewrap => self.inner.policy,
            };
            if newc.new_key_opens(&env, policy, opts).await? {
                return Ok(MigrateOutcome::of(&source, MigrateStatus::Skipped, None));
            }
        }
        if opts.dry_run {
            return Ok(MigrateOutcome::of(
                &source,
                MigrateStatus::WouldMigrate,
                None,
            ));
        }
        let tagging = sdk::get_object_tagging(&self.inner.s3, bucket, key, source.version_id())
            .await
            .map_err(|e| {
                if e.is_not_found() {
                    Error::ObjectChanged
                } else {
                    e
                }
            });
        match tagging {
            Ok(t) => source.set_tagging(t),
            Err(Error::ObjectChanged) => {
                return Ok(MigrateOutcome::of(&source, MigrateStatus::Changed, None));
            }
            Err(e) => return Err(e),
        }
        let r = match opts.mode {
            MigrateMode::ToV3 => self.reencrypt(&newc, &source, opts).await,
            MigrateMode::Rewrap if source.instruction_file_used() => {
                self.rewrap_instruction_file(&source, opts).await
            }
            MigrateMode::Rewrap => self.rewrap_in_place(&newc, &source, opts).await,
        };
        match r {
            Ok(o) => Ok(o),
            Err(e) if e.is_precondition_failed() => Ok(MigrateOutcome::of(
                &source,
                MigrateStatus::Changed,
                Some(short(&e)),
            )),
            Err(e) => Err(e),
        }
    }

    /// HEAD the object (and its instruction file) and take the snapshot every later request is
    /// pinned to.
    async fn describe_source(&self, bucket: &str, key: &str) -> Result<Source> {
        let suffix = self.inner.suffix.as_str();
        let mut d = DescribeObject::new(bucket, key, None, suffix)?;
        let err = |e| self.machine_error(e, bucket, key);
        let mut headers: Option<Vec<(String, String)>> = None;
        loop {
            let id = match d.poll() {
                Ok(DescribeNext::Send(id)) => id,
                Ok(DescribeNext::Done) | Err(s3_encryption::Error::NotEncrypted) => break,
                Err(e) => return Err(err(e)),
            };
            let req = ReadReq::of(&d.request(id).map_err(err)?);
            let mut a = sdk::read(&self.inner.s3, &req).await?;
            if let Some(mut b) = a.body.take() {
                let bytes = sdk::collect(&mut b, req.limit.unwrap_or(u64::MAX)).await?;
                d.body(id, &bytes).map_err(err)?;
            }
            match d.response(id, a.status, a.pairs()) {
                Ok(()) | Err(s3_encryption::Error::NotEncrypted) => {}
                Err(e) => return Err(err(e)),
            }
            headers.get_or_insert(a.headers);
        }
        let h = headers.unwrap_or_default();
        Ok(Source::described(
            bucket,
            key,
            suffix,
            &d,
            h.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )?)
    }

    /// Whether this client's keyring and policy cannot open `env`: `Some(why)` if not; a
    /// transient failure is `Err`.
    async fn old_key_refuses(&self, env: &Envelope) -> Result<Option<String>> {
        if let Err(e) = env.check_policy(&self.inner.policy) {
            return Ok(Some(short(&Error::Crypto(e))));
        }
        let kms = self.inner.kms.as_ref();
        match self.inner.keyring.unwrap_data_key(env, kms, None).await {
            Ok(dk) => Ok(env
                .decryptor(dk, &self.inner.policy)
                .err()
                .map(|e| short(&Error::Crypto(e)))),
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => Ok(Some(short(&e))),
        }
    }

    /// Whether this (new) client's keyring opens `env` under `policy`.
    async fn new_key_opens(
        &self,
        env: &Envelope,
        policy: DecryptPolicy,
        opts: &MigrateOptions,
    ) -> Result<bool> {
        if !self.inner.keyring.can_decrypt() {
            return Ok(false);
        }
        let kms = self.inner.kms.as_ref();
        let ctx = opts.encryption_context.as_ref();
        match self.inner.keyring.unwrap_data_key(env, kms, ctx).await {
            Ok(dk) => Ok(env.decryptor(dk, &policy).is_ok()),
            Err(e) if e.is_retryable() => Err(e),
            Err(_) => Ok(false),
        }
    }

    /// ToV3: read (pinned, verified) → write (V3, conditional) → read back and compare.
    async fn reencrypt(
        &self,
        newc: &S3EncryptionClient,
        source: &Source,
        opts: &MigrateOptions,
    ) -> Result<MigrateOutcome> {
        let mut re = Reencrypt::new(source, CommitmentPolicy::RequireEncryptRequireDecrypt)?;
        let read_intent = re.read_intent(self.inner.policy)?;
        let mut write_intent = re.write_intent()?;
        let n = &newc.inner;
        write_intent.part_size = n.part_size;
        write_intent.multipart_threshold = n.multipart_threshold.unwrap_or(n.part_size);
        write_intent.parts_in_flight = n.parts_in_flight.min(MAX_PARTS_IN_FLIGHT as usize) as u16;
        write_intent.instruction_file_suffix = &n.suffix;
        let popts = PutOptions {
            encryption_context: opts.encryption_context.clone(),
            ..PutOptions::default()
        };
        let ok: Flag = Arc::new(AtomicBool::new(false));
        let (pipe_w, pipe_r) = tokio::io::duplex(1 << 20);
        let reader = GuardedReader {
            inner: pipe_r,
            ok: ok.clone(),
        };
        let read = async {
            let mut w = HashWriter {
                inner: pipe_w,
                digest: PlaintextDigest::new(),
            };
            let r = self
                .read_verified_into(read_intent, &GetOptions::default(), &mut w)
                .await;
            if r.is_ok() {
                ok.store(true, Ordering::SeqCst);
            }
            let _ = w.shutdown().await;
            (r, w.digest)
        };
        let write = newc.put_with_intent(write_intent, reader, re.plaintext_len(), &popts);
        let ((read, digest), written) = tokio::join!(read, write);
        let done = match read {
            Ok((done, _)) => done,
            // The source changed since the HEAD (a failed pin): nothing was written.
            Err(e) if e.is_precondition_failed() => return Err(e),
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) => {
                // The put saw an incomplete body and aborted; the source is untouched.
                return Ok(MigrateOutcome::of(
                    source,
                    MigrateStatus::CannotOpen,
                    Some(short(&e)),
                ));
            }
        };
        let put = written?;
        re.read_done(&done, digest)?;
        re.written(
            put.plaintext_len,
            put.e_tag.as_deref(),
            put.version_id.as_deref(),
        )?;
        let mut out = MigrateOutcome::of(source, MigrateStatus::Migrated, None);
        out.new_etag = put.e_tag.clone();
        out.new_version = put.version_id.clone();
        out.bytes = put.plaintext_len;
        let mut notes = Vec::new();
        if opts.verify {
            let intent = re.verify_intent()?;
            let gopts = GetOptions {
                encryption_context: opts.encryption_context.clone(),
                ..GetOptions::default()
            };
            let mut w = HashWriter {
                inner: tokio::io::sink(),
                digest: PlaintextDigest::new(),
            };
            let (vdone, info) = newc.read_verified_into(intent, &gopts, &mut w).await?;
            let v = re.verified(&vdone, info.envelope.format_version, w.digest)?;
            if v.instruction_file_left {
                notes.push(format!(
                    "the old instruction file {}{} was left in place",
                    source.key(),
                    source.suffix()
                ));
            }
        } else {
            notes.push("not verified".to_owned());
        }
        out.detail = (!notes.is_empty()).then(|| notes.join("; "));
        Ok(out)
    }

    /// Rewrap, instruction-file placement: rewrite the instruction file (conditional on the one
    /// read), then check a fresh description against what was written.
    async fn rewrap_instruction_file(
        &self,
        source: &Source,
        opts: &MigrateOptions,
    ) -> Result<MigrateOutcome> {
        let ropts = ReEncryptOptions {
            enforce_rotation: true,
            ..ReEncryptOptions::default()
        };
        let (_, written) =
            Box::pin(self.rotate(source.bucket(), source.key(), &opts.new_keyring, &ropts)).await?;
        let mut out = MigrateOutcome::of(source, MigrateStatus::Migrated, None);
        out.bytes = source.stored_len();
        if opts.verify {
            let suffix = source.suffix();
            let mut d =
                DescribeObject::new(source.bucket(), source.key(), source.version_id(), suffix)?;
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
    async fn rewrap_in_place(
        &self,
        newc: &S3EncryptionClient,
        source: &Source,
        opts: &MigrateOptions,
    ) -> Result<MigrateOutcome> {
        let mut rw = RewrapInPlace::new(source, RewrapIntent::new(self.inner.policy))?;
        let kms = self.inner.kms.as_ref();
        let new = &opts.new_keyring;
        let old = &self.inner.keyring;
        let server_side = old.uses_kms()
            && new.kms_key_id().is_some()
            && rw.old_envelope().wrap_algorithm() == s3_encryption::WrapAlgorithm::KmsContext;
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
                            rw.response(id, a.status, a.pairs()).map_err(err)?;
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
                        _ => return Err(Error::config("unexpected request")),
                    }
                }
                RewrapNext::CheckNewKey => {
                    if new.can_decrypt() {
                        let env = rw
                            .new_envelope()
                            .ok_or_else(|| Error::config("no envelope"))?;
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
