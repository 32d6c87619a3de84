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

mod reencrypt;
mod rewrap;

use crate::client::S3EncryptionClient;
use crate::error::{Error, Result};
use crate::keyring::{ClientKeyring, Pairs};
use crate::sdk::{self, ReadReq};
use s3_encryption::object::migrate::{DescribeSource, MigrateTarget, NewKey, Plan, Source};
use s3_encryption::{DecryptPolicy, Envelope};

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
    pub new_keyring: ClientKeyring,
    /// The KMS encryption context for the new keyring's writes and its read-back (default: the
    /// new keyring's own). Old objects are read with the client's keyring as configured.
    pub encryption_context: Option<Pairs>,
    /// Classify only: report what would be migrated, write nothing.
    pub dry_run: bool,
    /// Read the new object back and verify it before reporting success (default true). Off, a
    /// re-encryption or instruction-file re-wrap reports success with the detail `not verified`
    /// (a re-wrap in place always reads its copy back: the copy conditions may be ignored).
    pub verify: bool,
    /// Rewrap of a metadata-placement object: objects larger than this are copied as a
    /// multipart upload of `UploadPartCopy` ranges of this size, smaller ones with one
    /// `CopyObject` (at least 5 MiB, at most and by default 5 GiB, S3's single-copy limit).
    pub copy_part_size: u64,
    /// ToV3 (verified): remove the source's instruction file once the new object (envelope in
    /// its metadata) is verified, conditional on that file's ETag (a HEAD pinned to it, then a
    /// DELETE with `If-Match`); reported in [`MigrateOutcome::instruction_file_removed`].
    /// Default false: nothing is deleted.
    pub remove_instruction_files: bool,
}

impl MigrateOptions {
    /// `mode` to `new_keyring`, verified, not a dry run.
    pub fn new(mode: MigrateMode, new_keyring: ClientKeyring) -> Self {
        MigrateOptions {
            mode,
            new_keyring,
            encryption_context: None,
            dry_run: false,
            verify: true,
            copy_part_size: s3_encryption::object::migrate::MAX_COPY_SIZE,
            remove_instruction_files: false,
        }
    }
}

impl MigrateOptions {
    /// The configuration errors every object would hit, found before the first one: a new
    /// keyring that cannot wrap data keys, or (re-encryption with verification) cannot decrypt
    /// the objects it writes. [`Error::Config`]; [`crate::bulk::run`] checks this first.
    pub fn validate(&self) -> Result<()> {
        let new = &self.new_keyring;
        if !new.can_encrypt() {
            return Err(Error::config(format!(
                "the new keyring ({}) cannot wrap data keys",
                new.describe()
            )));
        }
        if self.mode == MigrateMode::ToV3 && self.verify && !new.can_decrypt() {
            return Err(Error::config(format!(
                "the new keyring ({}) cannot decrypt, so the re-encrypted objects cannot be read back; give its private key",
                new.describe()
            )));
        }
        Ok(())
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
    /// Plaintext bytes re-encrypted (ToV3), or stored bytes re-wrapped (Rewrap), or, in a dry
    /// run, those that would be; 0 otherwise.
    pub bytes: u64,
    /// A short note (why it cannot be opened, what was left behind); never key material.
    pub detail: Option<String>,
    /// The superseded instruction file was removed ([`MigrateOptions::remove_instruction_files`]).
    pub instruction_file_removed: bool,
}

fn form_of(s: &Source) -> ObjectForm {
    let f = s.form();
    ObjectForm {
        format: f.format.name(),
        content: f.content_name(),
        wrap: f.wrap_name().to_owned(),
        placement: f.placement_name(),
        size: f.stored_len,
    }
}

/// The new key's own description: for KMS the options' context when given, else the keyring's.
fn own_description<'a>(
    new: &'a ClientKeyring,
    opts: &'a MigrateOptions,
) -> Vec<(&'a str, &'a str)> {
    let p = match &opts.encryption_context {
        Some(c) if new.uses_kms() => c,
        _ => new.context(),
    };
    p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The new key as the core's description rule names it.
fn new_key<'a>(new: &ClientKeyring, own: &'a [(&'a str, &'a str)]) -> NewKey<'a> {
    if new.uses_kms() {
        NewKey::Kms(own)
    } else {
        NewKey::Local(own)
    }
}

/// Owned pairs.
fn owned(p: &[(&str, &str)]) -> Pairs {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
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
            instruction_file_removed: false,
        }
    }
}

impl S3EncryptionClient {
    /// Migrate one object: old keyring and policy are this client's; the new keyring and the
    /// mode are in `opts`. Permanent per-object states (not encrypted, cannot open, changed,
    /// skipped, unsupported) are `Ok` outcomes; transport and throttling failures are `Err`
    /// ([`Error::is_retryable`] tells the transient ones).
    ///
    /// The object is classified (HEAD and instruction file), then:
    /// * a plain object is [`MigrateStatus::NotEncrypted`];
    /// * one already in the target form (V3 that the new keyring opens, for
    ///   [`MigrateMode::ToV3`]; wrapped so that the new keyring opens it, for
    ///   [`MigrateMode::Rewrap`]) is [`MigrateStatus::Skipped`], so a rerun is safe;
    /// * one this client's keyring and policy cannot open is [`MigrateStatus::CannotOpen`];
    /// * with `dry_run`, the rest is [`MigrateStatus::WouldMigrate`];
    /// * otherwise it is migrated, conditional on the ETag it had at the HEAD: a 412, or a
    ///   read-back that shows another object, is [`MigrateStatus::Changed`] and the other
    ///   writer's object is left as it is. The new object is read back and verified before
    ///   [`MigrateStatus::Migrated`] is reported; on a versioned bucket the previous version is
    ///   kept and reported ([`MigrateOutcome::source_version`]), never deleted.
    ///
    /// ToV3 streams the verified plaintext of the old object (in memory within the memory
    /// budget, else two pinned passes) into a V3 PUT (multipart above the part size) with the
    /// user metadata, content type and tags; it always writes metadata placement and leaves an
    /// old instruction file in place (reported in `detail`). Rewrap copies a metadata-placement
    /// object onto itself server-side (`CopyObject`, `UploadPartCopy` above 5 GiB) with the new
    /// envelope, or rewrites the instruction file; KMS→KMS uses KMS `ReEncrypt`.
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
        opts.validate()?;
        let new = &opts.new_keyring;
        let mut source = match self.describe_source(bucket, key).await {
            Ok(s) => s,
            Err(e @ Error::Crypto(_)) if !e.is_retryable() => {
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
                    instruction_file_removed: false,
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
        // Already in the target form first: a rerun with the same keys skips what the first
        // run migrated (which the old keyring may no longer open).
        if plan == Plan::SkipIfNewKeyOpens {
            let policy = match opts.mode {
                MigrateMode::ToV3 => DecryptPolicy::new(),
                MigrateMode::Rewrap => self.inner.policy,
            };
            // A KMS object the migration wrote carries the source's context: accept the stored
            // one when no context was given.
            let ctx = opts.encryption_context.clone().or_else(|| {
                (new.uses_kms() && new.context().is_empty())
                    .then(|| source.encryption_context().to_vec())
            });
            if newc.new_key_opens(&env, policy, ctx.as_ref()).await? {
                return Ok(MigrateOutcome::of(&source, MigrateStatus::Skipped, None));
            }
        }
        if let Some(why) = self.old_key_refuses(&env).await? {
            return Ok(MigrateOutcome::of(
                &source,
                MigrateStatus::CannotOpen,
                Some(why),
            ));
        }
        if opts.dry_run {
            let mut o = MigrateOutcome::of(&source, MigrateStatus::WouldMigrate, None);
            // What the migration would handle: the plaintext a re-encryption copies (stored
            // bytes where the envelope does not say), the stored bytes a re-wrap copies.
            let f = source.form();
            o.bytes = match opts.mode {
                MigrateMode::ToV3 => f.plaintext_len.unwrap_or(f.stored_len),
                MigrateMode::Rewrap => f.stored_len,
            };
            return Ok(o);
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
        let mut d = DescribeSource::new(bucket, key, suffix).map_err(Error::from)?;
        let err = |e| self.machine_error(e, bucket, key);
        while let Some(id) = d.poll().map_err(err)? {
            let req = ReadReq::of(&d.request(id).map_err(err)?);
            let mut a = sdk::read(&self.inner.s3, &req).await?;
            if let Some(mut b) = a.body.take() {
                let bytes = sdk::collect(&mut b, req.limit.unwrap_or(u64::MAX)).await?;
                d.body(id, &bytes).map_err(err)?;
            }
            d.response(id, a.status, a.pairs()).map_err(err)?;
        }
        d.finish().map_err(err)
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
            Err(e) if e.ends_key_search() => Err(e),
            Err(e) => Ok(Some(short(&e))),
        }
    }

    /// Whether this (new) client's keyring opens `env` under `policy`.
    async fn new_key_opens(
        &self,
        env: &Envelope,
        policy: DecryptPolicy,
        ctx: Option<&Pairs>,
    ) -> Result<bool> {
        if !self.inner.keyring.can_decrypt() {
            return Ok(false);
        }
        let kms = self.inner.kms.as_ref();
        match self.inner.keyring.unwrap_data_key(env, kms, ctx).await {
            Ok(dk) => Ok(env.decryptor(dk, &policy).is_ok()),
            Err(e) if e.ends_key_search() => Err(e),
            Err(_) => Ok(false),
        }
    }
}
