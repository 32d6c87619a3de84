//! Re-encryption to V3: the steps around three runs of the existing machines.
//!
//! 1. **Read** ([`Reencrypt::read_intent`]): a [`GetObject`](crate::object::GetObject) of the
//!    source pinned to its version id and ETag (`If-Match`), under the old keyring and policy. Its
//!    verified plaintext is fed, as it is released, to a [`PlaintextDigest`] and to
//! 2. **Write** ([`Reencrypt::write_intent`]): a [`PutObject`](crate::object::PutObject) as V3,
//!    metadata placement, the user metadata, content type and tags kept, conditional on the
//!    source ETag (`If-Match` on the PutObject or the CompleteMultipartUpload; a 412 is
//!    [`Error::ObjectChanged`] and the upload is aborted). Memory is the two machines' own bounds:
//!    released plaintext goes straight into the PUT's parts.
//! 3. **Verify** ([`Reencrypt::verify_intent`]): a [`GetObject`](crate::object::GetObject) of the
//!    new object, pinned to the version id and ETag the write returned, under the new keyring and
//!    REQUIRE_ENCRYPT_REQUIRE_DECRYPT; its plaintext must have the length and SHA-256 of the
//!    plaintext copied, or the migration fails with [`Error::ReadBackMismatch`].
//!
//! What the new envelope carries: the driver names the new key's kind and its own label with
//! [`Reencrypt::set_new_key`] before the write. The new object's materials description (AES/RSA,
//! V3 `x-amz-m`) or KMS encryption context (V3 `x-amz-t`) is the new key's own when one is given,
//! else the source's (`x-amz-matdesc` → `x-amz-m`; a KMS context → `x-amz-t`), so readers that
//! select master keys by the description, or pass the context, still find it. A description of
//! the other kind (an AES label for a KMS key, a KMS context for an AES key) cannot be carried
//! and is reported ([`ReencryptDone::description_not_carried`]). The read-back checks the stored
//! value ([`Reencrypt::check_new_envelope`]).
//!
//! The read must end (authenticated) before the write completes: a driver streams the plaintext
//! through a pipe that fails the PUT if the GET fails, so that a partial body is never stored.

use super::plan::{NewKey, Source, carries, etag_eq};
use crate::envelope::{Envelope, FormatVersion, Placement};
use crate::error::{Error, Result};
use crate::object::{GetDone, GetIntent, PutIntent};
use crate::policy::{CommitmentPolicy, DecryptPolicy, EncryptConfig, WriteSuite};
use crate::wrap::EncryptionContext;
use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use sha2::Digest as _;
use subtle::ConstantTimeEq;

/// A running SHA-256 of released plaintext, taken in order.
#[derive(Clone)]
pub struct PlaintextDigest {
    sha: sha2::Sha256,
    len: u64,
}

impl core::fmt::Debug for PlaintextDigest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PlaintextDigest")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Default for PlaintextDigest {
    fn default() -> Self {
        Self::new()
    }
}

impl PlaintextDigest {
    /// An empty digest.
    pub fn new() -> Self {
        PlaintextDigest {
            sha: sha2::Sha256::new(),
            len: 0,
        }
    }
    /// Plaintext at `offset`: it must follow what came before ([`Error::ApiMisuse`] if not).
    pub fn update(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        if offset != self.len {
            return Err(Error::ApiMisuse(
                "PlaintextDigest::update: not valid in this state",
            ));
        }
        self.sha.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }
    /// Bytes taken.
    pub fn len(&self) -> u64 {
        self.len
    }
    /// Whether nothing was taken.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    fn finish(self) -> (u64, [u8; 32]) {
        (self.len, self.sha.finalize().into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Read,
    Write,
    Verify,
    Done,
}

/// The result of a re-encryption, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReencryptDone {
    /// Plaintext bytes copied (and verified).
    pub plaintext_len: u64,
    /// The new object's ETag.
    pub new_etag: Option<String>,
    /// The new object's version (versioned buckets: the source version is kept).
    pub new_version_id: Option<String>,
    /// The source had an instruction file; it was left in place (the new object keeps its
    /// envelope in its metadata, which readers take first).
    pub instruction_file_left: bool,
    /// The source's materials description or encryption context could not be carried to the
    /// new key's kind (an AES/RSA label for a KMS key, or the reverse) and no new one was given.
    pub description_not_carried: bool,
}

/// A re-encryption of one object to V3. See the [module documentation](crate::object::migrate).
pub struct Reencrypt<'a> {
    source: &'a Source,
    old_envelope: &'a Envelope,
    config: EncryptConfig,
    meta: Vec<(&'a str, &'a str)>,
    step: Step,
    copied: Option<(u64, [u8; 32])>,
    new_etag: Option<String>,
    new_version: Option<String>,
    /// The new key's kind (`Some(true)`: KMS), once set.
    new_kms: Option<bool>,
    /// The materials description or encryption context the new object is written with.
    description: Vec<(&'a str, &'a str)>,
    not_carried: bool,
    description_checked: bool,
}

impl core::fmt::Debug for Reencrypt<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reencrypt")
            .field("key", &self.source.key)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl<'a> Reencrypt<'a> {
    /// Start re-encrypting `source` (an encrypted object with an ETag) as V3 with metadata
    /// placement, under `commitment` (REQUIRE_ENCRYPT_*: V3 only).
    pub fn new(source: &'a Source, commitment: CommitmentPolicy) -> Result<Self> {
        let old_envelope = source.envelope.as_ref().ok_or(Error::NotEncrypted)?;
        if source.etag.is_none() {
            // Nothing to make the write conditional on.
            return Err(Error::UnexpectedResponse("the object has no ETag"));
        }
        let config = EncryptConfig::new(
            WriteSuite::V3AesGcmCommitting,
            commitment,
            Placement::ObjectMetadata,
        )?;
        let meta = source
            .user_metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Ok(Reencrypt {
            source,
            old_envelope,
            config,
            meta,
            step: Step::Read,
            copied: None,
            new_etag: None,
            new_version: None,
            new_kms: None,
            description: Vec::new(),
            not_carried: false,
            description_checked: false,
        })
    }

    /// Name the new key (before [`Reencrypt::write_intent`]): its kind and its own description.
    /// The new object is written with that description when it is not empty, else with the
    /// source's of the same kind ([`Reencrypt::new_description`]).
    pub fn set_new_key(&mut self, key: NewKey<'a>) -> Result<()> {
        if self.step != Step::Read && self.step != Step::Write {
            return Err(Error::ApiMisuse(
                "Reencrypt::set_new_key: not valid in this state",
            ));
        }
        let (description, not_carried) = self.source.description_for(key)?;
        self.description = description;
        self.not_carried = not_carried;
        let kms = matches!(key, NewKey::Kms(_));
        self.new_kms = Some(kms);
        Ok(())
    }

    /// The materials description (AES/RSA) or encryption context (KMS) the new object is
    /// written with: the new key's materials must be made with exactly this
    /// ([`PutIntent::encryption_context`] holds it too), and the read-back of a KMS object
    /// passes it.
    pub fn new_description(&self) -> EncryptionContext<'_> {
        &self.description
    }

    /// The read of the source under the old `policy`, pinned to its version id and ETag. Tune
    /// the budget, storage and connections on the result; leave the pins.
    pub fn read_intent(&self, policy: DecryptPolicy) -> Result<GetIntent<'_>> {
        if self.step != Step::Read {
            return Err(Error::ApiMisuse(
                "Reencrypt::read_intent: not valid in this state",
            ));
        }
        let s = self.source;
        let mut i = GetIntent::new(&s.bucket, &s.key);
        i.version_id = s.version_id.as_deref();
        i.if_match = s.etag.as_deref();
        i.policy = policy;
        i.instruction_file_suffix = &s.suffix;
        i.encryption_context = None;
        Ok(i)
    }

    /// The plaintext length the write must have, when the envelope says (GCM objects; CBC ones
    /// when the length is stored). `None`: the write learns it from the body.
    pub fn plaintext_len(&self) -> Option<u64> {
        self.old_envelope.plaintext_len(self.source.stored_len)
    }

    /// The write of the new object: V3, metadata placement, the source's user metadata,
    /// content type and tags, `If-Match` the source ETag. Set the part size, threshold, parts in
    /// flight and encryption context on the result; leave the rest.
    pub fn write_intent(&self) -> Result<PutIntent<'_>> {
        if self.step == Step::Done || self.step == Step::Verify || self.new_kms.is_none() {
            return Err(Error::ApiMisuse(
                "Reencrypt::write_intent: not valid in this state",
            ));
        }
        let s = self.source;
        let mut i = PutIntent::new(&s.bucket, &s.key, self.plaintext_len());
        i.config = self.config;
        i.encryption_context = &self.description;
        i.content_type = s.content_type.as_deref();
        i.metadata = &self.meta;
        i.if_match = s.etag.as_deref();
        i.tagging = s.tagging.as_deref();
        Ok(i)
    }

    /// The read ended: `done` is its result, `digest` took every byte it released. The read must
    /// have been the source (its ETag and version) and released all its plaintext.
    pub fn read_done(&mut self, done: &GetDone, digest: PlaintextDigest) -> Result<()> {
        if self.step != Step::Read {
            return Err(Error::ApiMisuse(
                "Reencrypt::read_done: not valid in this state",
            ));
        }
        let s = self.source;
        if !etag_eq(done.object.etag(), s.etag.as_deref())
            || (s.version_id.is_some() && done.object.version_id() != s.version_id.as_deref())
        {
            return Err(Error::ObjectChanged);
        }
        if digest.len() != done.released || self.plaintext_len().is_some_and(|l| l != done.released)
        {
            return Err(Error::LengthMismatch);
        }
        self.copied = Some(digest.finish());
        self.step = Step::Write;
        Ok(())
    }

    /// The write ended: it stored `plaintext_len` bytes (its result's `plaintext_len`), and the
    /// PutObject or CompleteMultipartUpload answered `etag` and `version_id`. It must have stored
    /// what was read.
    pub fn written(
        &mut self,
        plaintext_len: u64,
        etag: Option<&str>,
        version_id: Option<&str>,
    ) -> Result<()> {
        let (len, _) = self.copied.ok_or(Error::ApiMisuse(
            "Reencrypt::written: not valid in this state",
        ))?;
        // `null` is the version id of an unversioned bucket's object: no version.
        let version_id = version_id.filter(|v| !v.trim().is_empty() && v.trim() != "null");
        if self.step != Step::Write {
            return Err(Error::ApiMisuse(
                "Reencrypt::written: not valid in this state",
            ));
        }
        if plaintext_len != len {
            return Err(Error::LengthMismatch);
        }
        if version_id.is_some() && version_id == self.source.version_id.as_deref() {
            // A new write cannot keep the old version id.
            return Err(Error::ReadBackMismatch);
        }
        self.new_etag = etag.map(str::to_owned);
        self.new_version = version_id.map(str::to_owned);
        self.step = Step::Verify;
        Ok(())
    }

    /// The read-back of the new object, pinned to the version and ETag the write returned,
    /// under REQUIRE_ENCRYPT_REQUIRE_DECRYPT with every legacy mode off (it must be V3).
    pub fn verify_intent(&self) -> Result<GetIntent<'_>> {
        if self.step != Step::Verify {
            return Err(Error::ApiMisuse(
                "Reencrypt::verify_intent: not valid in this state",
            ));
        }
        let s = self.source;
        let mut i = GetIntent::new(&s.bucket, &s.key);
        i.version_id = self.new_version.as_deref();
        i.if_match = self.new_etag.as_deref();
        i.policy = DecryptPolicy::new();
        i.instruction_file_suffix = &s.suffix;
        i.encryption_context = None;
        Ok(i)
    }

    /// The envelope the read-back found (its [`Envelope::materials_description`] and
    /// [`Envelope::encryption_context`]): it must carry exactly
    /// [`Reencrypt::new_description`] (a KMS context besides its `aws:x-amz-cek-alg`), or the
    /// migration fails with [`Error::ReadBackMismatch`]. Before [`Reencrypt::verified`].
    pub fn check_new_envelope(
        &mut self,
        materials_description: Option<&str>,
        encryption_context: Option<&str>,
    ) -> Result<()> {
        if self.step != Step::Verify {
            return Err(Error::ApiMisuse(
                "Reencrypt::check_new_envelope: not valid in this state",
            ));
        }
        let kms = self.new_kms.ok_or(Error::ApiMisuse(
            "Reencrypt::check_new_envelope: not valid in this state",
        ))?;
        if !carries(
            &self.description,
            kms,
            materials_description,
            encryption_context,
        ) {
            return Err(Error::ReadBackMismatch);
        }
        self.description_checked = true;
        Ok(())
    }

    /// The read-back ended (after [`Reencrypt::check_new_envelope`]): `done` its result,
    /// `version` the format of the envelope it read ([`Envelope::version`]), `digest` took
    /// every byte it released. The new object must be V3, with the ETag and version written,
    /// and hold exactly the plaintext copied.
    pub fn verified(
        &mut self,
        done: &GetDone,
        version: FormatVersion,
        digest: PlaintextDigest,
    ) -> Result<ReencryptDone> {
        if self.step != Step::Verify || !self.description_checked {
            return Err(Error::ApiMisuse(
                "Reencrypt::verified: not valid in this state",
            ));
        }
        let (len, sha) = self.copied.ok_or(Error::ApiMisuse(
            "Reencrypt::verified: not valid in this state",
        ))?;
        let ok_object = (self.new_etag.is_none()
            || etag_eq(done.object.etag(), self.new_etag.as_deref()))
            && (self.new_version.is_none()
                || done.object.version_id() == self.new_version.as_deref());
        if !ok_object {
            return Err(Error::ObjectChanged);
        }
        let released = digest.len();
        let (got_len, got) = digest.finish();
        if version != FormatVersion::V3
            || released != done.released
            || got_len != len
            || !bool::from(got.ct_eq(&sha))
        {
            return Err(Error::ReadBackMismatch);
        }
        self.step = Step::Done;
        Ok(ReencryptDone {
            plaintext_len: len,
            new_etag: self.new_etag.clone(),
            new_version_id: self.new_version.clone(),
            instruction_file_left: self.source.instruction_file,
            description_not_carried: self.not_carried,
        })
    }

    /// The source's version id (kept on a versioned bucket).
    pub fn source_version_id(&self) -> Option<&str> {
        self.source.version_id.as_deref()
    }

    /// The new object's ETag, once written.
    pub fn new_etag(&self) -> Option<&str> {
        self.new_etag.as_deref()
    }

    /// The new object's version id, once written (versioned buckets).
    pub fn new_version_id(&self) -> Option<&str> {
        self.new_version.as_deref()
    }
}
