//! Re-wrap in place: keep the content, wrap the same data key under the new keyring.
//!
//! * Instruction-file placement: the existing [`RotateInstructionFile`](crate::object::RotateInstructionFile)
//!   rewrites the instruction file (conditional on the ETag of the one it read); then
//!   [`check_instruction_file_rewrap`] checks a fresh description of the object against it.
//! * Metadata placement: [`RewrapInPlace`]. The data key comes from the old keyring
//!   ([`RewrapNext::UnwrapKey`]; for V3 it must match the commitment) and is wrapped under the new
//!   one ([`RewrapNext::WrapKey`]), or, KMS→KMS, the stored blob is re-encrypted by KMS
//!   (`ReEncrypt`, [`RewrapInPlace::reencrypted_key`]: the data key never reaches the client).
//!   The object is then copied onto itself server-side with the new envelope
//!   (`CopyObject`, `x-amz-metadata-directive: REPLACE`, user metadata and content type kept,
//!   tags copied; above [`RewrapIntent::copy_threshold`] a multipart upload of `UploadPartCopy`
//!   ranges), the source pinned to its version id and guarded by `x-amz-copy-source-if-match`
//!   and `If-Match` (both the source ETag). No body byte passes through the client. The copy
//!   is read back (HEAD, pinned to the version it made): its envelope must be exactly the one
//!   written, its length the source's, its ETag the source's when both are single-part MD5s;
//!   a mismatch is [`Error::ObjectChanged`] (a server that ignored the conditions copied another
//!   object). Last, the new keyring must open the new envelope ([`RewrapNext::CheckNewKey`]).
//!
//! The message id, IV and V3 commitment are unchanged: the data key is the same.

use super::plan::{NewKey, Source, carries, etag_eq};
use crate::envelope::{ContentAlgorithm, Envelope, FormatVersion, Placement};
use crate::error::{Error, Result};
use crate::object::describe::DescribeObject;
use crate::object::head::{EnvelopeMetadata, read_head};
use crate::object::request::{CopySource, OneAtATime, Operation, Request, RequestId};
use crate::policy::{DecryptPolicy, EncryptConfig};
use crate::secret::DataKey;
use crate::wrap::EncryptionMaterials;
use crate::wrap::KeyRequest;
use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

/// S3's largest single CopyObject, and its largest part.
pub const MAX_COPY_SIZE: u64 = 5 << 30;

/// How to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RewrapIntent {
    /// What may be decrypted (the old key's data key is checked against the object under it).
    pub policy: DecryptPolicy,
    /// Objects up to this size are copied with one CopyObject (at most [`MAX_COPY_SIZE`]).
    pub copy_threshold: u64,
    /// Bytes per `UploadPartCopy` range above it (at least 5 MiB, at most [`MAX_COPY_SIZE`]).
    pub copy_part_size: u64,
}

impl RewrapIntent {
    /// One CopyObject up to 5 GiB, 5 GiB ranges above.
    pub fn new(policy: DecryptPolicy) -> Self {
        RewrapIntent {
            policy,
            copy_threshold: MAX_COPY_SIZE,
            copy_part_size: MAX_COPY_SIZE,
        }
    }
}

/// What [`RewrapInPlace::poll`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewrapNext {
    /// Unwrap the data key with the old keyring ([`RewrapInPlace::key_request`], then
    /// [`RewrapInPlace::data_key`]); or, KMS→KMS, re-encrypt the stored blob with KMS
    /// `ReEncrypt` and hand the result to [`RewrapInPlace::reencrypted_key`].
    UnwrapKey,
    /// Wrap [`RewrapInPlace::data_key_to_wrap`] under the new keyring for
    /// [`RewrapInPlace::new_config`], then [`RewrapInPlace::new_materials`].
    WrapKey,
    /// Make this request ([`RewrapInPlace::request`]) and report its response
    /// ([`RewrapInPlace::response`]; CreateMultipartUpload: [`RewrapInPlace::upload_created`]).
    Send(RequestId),
    /// Unwrap [`RewrapInPlace::new_envelope`] with the new keyring and hand the key to
    /// [`RewrapInPlace::new_key_opens`] (or [`RewrapInPlace::new_key_cannot_decrypt`] for a
    /// keyring that only encrypts).
    CheckNewKey,
    /// Finished.
    Done(RewrapDone),
}

/// The result of a re-wrap in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RewrapDone {
    /// Whether a multipart copy was used.
    pub multipart: bool,
    /// Whether the new keyring unwrapped the new envelope (false: it cannot decrypt).
    pub new_key_checked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Unwrap,
    Wrap,
    Copy,
    Create,
    PartCopy,
    Complete,
    Abort,
    ReadBack,
    Check,
    Done,
}

/// A re-wrap of one metadata-placement object in place. See the [module documentation](crate::object::migrate).
pub struct RewrapInPlace<'a> {
    source: &'a Source,
    old: &'a Envelope,
    intent: RewrapIntent,
    meta: Vec<(&'a str, &'a str)>,
    step: Step,
    sent: OneAtATime,
    data_key: Option<DataKey>,
    new: Option<Envelope>,
    upload_id: Option<String>,
    next_part: u32,
    parts: u32,
    new_etag: Option<String>,
    new_version: Option<String>,
    new_key_checked: bool,
    /// The description the new wrap must carry, and whether the new key is KMS
    /// ([`RewrapInPlace::set_new_key`]).
    description: Option<(Vec<(&'a str, &'a str)>, bool)>,
    /// The failure being cleaned up after (the abort goes first).
    error: Option<Error>,
}

impl core::fmt::Debug for RewrapInPlace<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RewrapInPlace")
            .field("key", &self.source.key)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl<'a> RewrapInPlace<'a> {
    /// Start. `source` must be an encrypted object with its envelope in its metadata, an ETag,
    /// and content this crate also writes (V3, or V2 AES-GCM).
    pub fn new(source: &'a Source, intent: RewrapIntent) -> Result<Self> {
        let old = source.envelope.as_ref().ok_or(Error::NotEncrypted)?;
        if source.instruction_file {
            return Err(Error::ApiMisuse(
                "RewrapInPlace::new: the source keeps its envelope in an instruction file (use check_instruction_file_rewrap)",
            ));
        }
        match (old.version(), old.content_algorithm()) {
            (FormatVersion::V3, _) | (FormatVersion::V2, ContentAlgorithm::AesGcm) => {}
            _ => return Err(Error::UnsupportedSuite),
        }
        if source.etag.is_none() {
            return Err(Error::UnexpectedResponse("the object has no ETag"));
        }
        if intent.copy_threshold > MAX_COPY_SIZE
            || intent.copy_part_size < crate::multipart::MIN_PART_SIZE
            || intent.copy_part_size > MAX_COPY_SIZE
        {
            return Err(Error::InvalidConfig);
        }
        let parts = source.stored_len.div_ceil(intent.copy_part_size);
        if source.stored_len > intent.copy_threshold && parts > crate::multipart::MAX_PARTS {
            return Err(Error::TooLarge);
        }
        old.check_policy(&intent.policy)?;
        Ok(RewrapInPlace {
            source,
            old,
            intent,
            meta: source
                .user_metadata
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            step: Step::Unwrap,
            sent: OneAtATime::new(),
            data_key: None,
            new: None,
            upload_id: None,
            next_part: 1,
            parts: parts as u32,
            new_etag: None,
            new_version: None,
            new_key_checked: false,
            description: None,
            error: None,
        })
    }

    /// Name the new key (before [`RewrapNext::WrapKey`]): its kind and its own description. The
    /// new wrap must then carry that description when it is not empty, else the object's own of
    /// the same kind ([`Source::description_for`]): [`RewrapInPlace::new_materials`] refuses
    /// materials made with another. (A KMS `ReEncrypt` keeps the stored context as it is.)
    pub fn set_new_key(&mut self, key: NewKey<'a>) -> Result<()> {
        if self.step != Step::Unwrap && self.step != Step::Wrap {
            return Err(Error::ApiMisuse(
                "RewrapInPlace::set_new_key: not valid in this state",
            ));
        }
        let (d, _) = self.source.description_for(key)?;
        self.description = Some((d, matches!(key, NewKey::Kms(_))));
        Ok(())
    }

    /// The materials description (AES/RSA) or encryption context (KMS) the new materials must
    /// be made with, once [`RewrapInPlace::set_new_key`] named the new key.
    pub fn new_description(&self) -> Option<&[(&'a str, &'a str)]> {
        self.description.as_ref().map(|(d, _)| d.as_slice())
    }

    fn fail(&mut self, e: Error) -> Error {
        if self.error.is_none() {
            self.error = Some(e);
            self.data_key = None;
            self.step = if self.upload_id.is_some() {
                Step::Abort
            } else {
                Step::Done
            };
        }
        e
    }

    /// What the machine needs next. After a failure during a multipart copy it first asks for
    /// the `AbortMultipartUpload`, then returns the error.
    pub fn poll(&mut self) -> Result<RewrapNext> {
        if let Some(id) = self.sent.outstanding() {
            return Ok(RewrapNext::Send(id));
        }
        if let (Some(e), Step::Done) = (self.error, self.step) {
            return Err(e);
        }
        Ok(match self.step {
            Step::Unwrap => RewrapNext::UnwrapKey,
            Step::Wrap => RewrapNext::WrapKey,
            Step::Check => RewrapNext::CheckNewKey,
            Step::Done => RewrapNext::Done(RewrapDone {
                multipart: self.source.stored_len > self.intent.copy_threshold,
                new_key_checked: self.new_key_checked,
            }),
            _ => {
                let id = self.sent.send();
                RewrapNext::Send(id)
            }
        })
    }

    /// The old keyring's request ([`RewrapNext::UnwrapKey`]); the stored encryption context is
    /// accepted (the keyring checks its own).
    pub fn key_request(&self) -> Result<KeyRequest<'_>> {
        self.old.key_request_accepting_stored_context()
    }

    /// The envelope being re-wrapped.
    pub fn old_envelope(&self) -> &Envelope {
        self.old
    }

    /// The data key the old keyring unwrapped: it must open the object (V3: match the commitment).
    pub fn data_key(&mut self, key: DataKey) -> Result<()> {
        if self.step != Step::Unwrap {
            return Err(Error::ApiMisuse(
                "RewrapInPlace::data_key: not valid in this state",
            ));
        }
        if let Err(e) = self.old.decryptor(key.clone(), &self.intent.policy) {
            return Err(self.fail(e));
        }
        self.data_key = Some(key);
        self.step = Step::Wrap;
        Ok(())
    }

    /// The data key to wrap ([`RewrapNext::WrapKey`]).
    pub fn data_key_to_wrap(&self) -> Result<&DataKey> {
        self.data_key.as_ref().ok_or(Error::ApiMisuse(
            "RewrapInPlace::data_key_to_wrap: not valid in this state",
        ))
    }

    /// The configuration the new materials must be made for: the object's own suite.
    pub fn new_config(&self) -> Result<EncryptConfig> {
        Ok(match self.old.version() {
            FormatVersion::V3 => EncryptConfig::v3(Placement::ObjectMetadata),
            _ => EncryptConfig::v2(Placement::ObjectMetadata),
        })
    }

    /// The new materials: they must wrap the same data key.
    pub fn new_materials(&mut self, materials: EncryptionMaterials) -> Result<()> {
        if self.step != Step::Wrap {
            return Err(Error::ApiMisuse(
                "RewrapInPlace::new_materials: not valid in this state",
            ));
        }
        let dk = self.data_key.take().ok_or(Error::ApiMisuse(
            "RewrapInPlace::new_materials: not valid in this state",
        ))?;
        if materials.data_key() != &dk {
            return Err(self.fail(Error::InvalidKey));
        }
        if let Some((d, kms)) = &self.description {
            let e = materials.envelope();
            if !carries(d, *kms, e.materials_description(), e.encryption_context()) {
                return Err(self.fail(Error::InvalidConfig));
            }
        }
        match self.old.rewrapped(materials) {
            Ok(env) => self.set_new(env.with_placement(Placement::ObjectMetadata)),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// The stored blob as KMS `ReEncrypt` returned it (KMS→KMS, instead of
    /// [`RewrapInPlace::data_key`] and [`RewrapInPlace::new_materials`]). That it holds the same
    /// data key is checked by [`RewrapNext::CheckNewKey`].
    pub fn reencrypted_key(&mut self, blob: &[u8]) -> Result<()> {
        if self.step != Step::Unwrap {
            return Err(Error::ApiMisuse(
                "RewrapInPlace::reencrypted_key: not valid in this state",
            ));
        }
        match self.old.with_reencrypted_key(blob) {
            Ok(env) => self.set_new(env.with_placement(Placement::ObjectMetadata)),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn set_new(&mut self, env: Envelope) -> Result<()> {
        // What is about to be stored must parse back as itself, under the same policy.
        let mut pairs: Vec<(&str, &str)> = env.metadata().collect();
        pairs.sort();
        let back = Envelope::parse(pairs.iter().copied(), None, &self.intent.policy);
        match back {
            Ok(b) if b.same_entries(&env) => {}
            Ok(_) => {
                return Err(self.fail(Error::Internal(
                    "the re-wrapped envelope does not parse back to itself",
                )));
            }
            Err(e) => return Err(self.fail(e)),
        }
        self.new = Some(env);
        self.step = if self.source.stored_len > self.intent.copy_threshold {
            Step::Create
        } else {
            Step::Copy
        };
        Ok(())
    }

    /// The new envelope, once made.
    pub fn new_envelope(&self) -> Option<&Envelope> {
        self.new.as_ref()
    }

    fn copy_source(&self, range: Option<(u64, u64)>) -> CopySource<'_> {
        let s = self.source;
        CopySource {
            bucket: &s.bucket,
            key: &s.key,
            version_id: s.version_id.as_deref(),
            if_match: s.etag.as_deref(),
            range,
        }
    }

    /// The request `id`.
    pub fn request(&self, id: RequestId) -> Result<Request<'_>> {
        if !self.sent.is(id) {
            return Err(Error::ApiMisuse(
                "RewrapInPlace::request: not valid in this state",
            ));
        }
        let s = self.source;
        let with_meta = |op| {
            let mut r = Request::new(id, op, &s.bucket, &s.key);
            r.envelope = self.new.as_ref();
            r.user_metadata = &self.meta;
            r.content_type = s.content_type.as_deref();
            r
        };
        Ok(match self.step {
            Step::Copy => {
                let mut r = with_meta(Operation::CopyObject);
                r.copy_source = Some(self.copy_source(None));
                r.replace_metadata = true;
                r.if_match = s.etag.as_deref();
                r
            }
            Step::Create => {
                let mut r = with_meta(Operation::CreateMultipartUpload);
                r.tagging = s.tagging.as_deref();
                r
            }
            Step::PartCopy => {
                let mut r = Request::new(id, Operation::UploadPartCopy, &s.bucket, &s.key);
                let first = u64::from(self.next_part - 1) * self.intent.copy_part_size;
                let last = (first + self.intent.copy_part_size).min(s.stored_len) - 1;
                r.copy_source = Some(self.copy_source(Some((first, last))));
                r.upload_id = self.upload_id.as_deref();
                r.part_number = Some(self.next_part);
                r
            }
            Step::Complete | Step::Abort => {
                let op = if self.step == Step::Complete {
                    Operation::CompleteMultipartUpload
                } else {
                    Operation::AbortMultipartUpload
                };
                let mut r = Request::new(id, op, &s.bucket, &s.key);
                r.upload_id = self.upload_id.as_deref();
                if self.step == Step::Complete {
                    r.if_match = s.etag.as_deref();
                }
                r
            }
            Step::ReadBack => {
                let mut r = Request::new(id, Operation::HeadObject, &s.bucket, &s.key);
                r.version_id = self.new_version.as_deref();
                r.if_match = self.new_etag.as_deref();
                r
            }
            _ => {
                return Err(Error::ApiMisuse(
                    "RewrapInPlace::request: not valid in this state",
                ));
            }
        })
    }

    /// The upload id of the CreateMultipartUpload answer, with its status.
    pub fn upload_created(&mut self, id: RequestId, status: u16, upload_id: &str) -> Result<()> {
        if self.step != Step::Create {
            return Err(Error::ApiMisuse(
                "RewrapInPlace::upload_created: not valid in this state",
            ));
        }
        self.sent.answered(id)?;
        if let Err(e) = read_head(status, [], None).and_then(|h| h.check_status(false)) {
            return Err(self.fail(e));
        }
        if upload_id.is_empty() || upload_id.len() > 1024 {
            return Err(self.fail(Error::UnexpectedResponse("upload id")));
        }
        self.upload_id = Some(upload_id.to_owned());
        self.step = Step::PartCopy;
        Ok(())
    }

    /// Report the response to `id`: its status and headers (the CopyObject's and the
    /// CompleteMultipartUpload's ETag and `x-amz-version-id`; the HEAD's whole head). A 412 on a
    /// conditional request is [`Error::ObjectChanged`].
    pub fn response<'h, I>(&mut self, id: RequestId, status: u16, headers: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        self.sent.answered(id)?;
        let r = self.response_inner(status, headers);
        r.map_err(|e| self.fail(e))
    }

    fn response_inner<'h, I>(&mut self, status: u16, headers: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        match self.step {
            Step::Copy | Step::Complete => {
                let h = read_head(status, headers, None)?;
                h.check_status(true)?;
                self.new_etag = h.etag.map(|t| t.as_str().to_owned());
                self.new_version = h.version_id.map(|t| t.as_str().to_owned());
                if self.new_version.is_some() && self.new_version == self.source.version_id {
                    return Err(Error::ObjectChanged);
                }
                self.upload_id = None;
                self.step = Step::ReadBack;
            }
            Step::PartCopy => {
                read_head(status, headers, None)?.check_status(true)?;
                if self.next_part == self.parts {
                    self.step = Step::Complete;
                } else {
                    self.next_part += 1;
                }
            }
            Step::Abort => {
                // Whatever it answered, the failure is what is reported.
                self.upload_id = None;
                self.step = Step::Done;
            }
            Step::ReadBack => {
                let mut meta = EnvelopeMetadata::new();
                let h = read_head(status, headers, Some(&mut meta))?;
                h.check_status(true)?;
                let new = self.new.as_ref().ok_or(Error::Internal(
                    "no new envelope when checking the read-back",
                ))?;
                let back = Envelope::parse_unchecked(meta.pairs(), None)
                    .map_err(|_| Error::ObjectChanged)?;
                let s = self.source;
                let same_etag = match (s.multipart_etag(), self.multipart(), h.etag.as_ref()) {
                    // A single-part copy of a single-part object keeps its MD5 ETag.
                    (false, false, Some(e)) => etag_eq(Some(e.as_str()), s.etag.as_deref()),
                    (_, _, e) => e.is_some(),
                };
                if !back.same_entries(new)
                    || h.content_length != Some(s.stored_len)
                    || !same_etag
                    || (self.new_version.is_some()
                        && h.version_id.as_ref().map(|v| v.as_str()) != self.new_version.as_deref())
                {
                    return Err(Error::ObjectChanged);
                }
                self.step = Step::Check;
            }
            _ => {
                return Err(Error::ApiMisuse(
                    "RewrapInPlace::response: not valid in this state",
                ));
            }
        }
        Ok(())
    }

    fn multipart(&self) -> bool {
        self.source.stored_len > self.intent.copy_threshold
    }

    /// The new keyring unwrapped the new envelope to `key`: it must open the object (V3: match
    /// the unchanged commitment; so a `ReEncrypt` blob is proven to hold the same data key).
    pub fn new_key_opens(&mut self, key: DataKey) -> Result<()> {
        if self.step != Step::Check {
            return Err(Error::ApiMisuse(
                "RewrapInPlace::new_key_opens: not valid in this state",
            ));
        }
        let new = self.new.as_ref().ok_or(Error::ApiMisuse(
            "RewrapInPlace::new_key_opens: not valid in this state",
        ))?;
        if let Err(e) = new.decryptor(key, &self.intent.policy) {
            return Err(self.fail(e));
        }
        self.new_key_checked = true;
        self.step = Step::Done;
        Ok(())
    }

    /// The new keyring cannot decrypt (an RSA public key): the new envelope is not checked.
    pub fn new_key_cannot_decrypt(&mut self) -> Result<()> {
        if self.step != Step::Check {
            return Err(Error::ApiMisuse(
                "RewrapInPlace::new_key_cannot_decrypt: not valid in this state",
            ));
        }
        self.step = Step::Done;
        Ok(())
    }

    /// The new object's ETag, once copied.
    pub fn new_etag(&self) -> Option<&str> {
        self.new_etag.as_deref()
    }

    /// The new object's version id, once copied.
    pub fn new_version_id(&self) -> Option<&str> {
        self.new_version.as_deref()
    }
}

/// After an instruction-file re-wrap: a fresh description of the object must show the object
/// itself untouched (its ETag, version and length those of `source`) and exactly the envelope
/// `written`; anything else is [`Error::ObjectChanged`].
pub fn check_instruction_file_rewrap(
    source: &Source,
    written: &Envelope,
    described: &DescribeObject<'_>,
) -> Result<()> {
    let (Some(o), Some(env)) = (described.object(), described.envelope()) else {
        return Err(Error::ObjectChanged);
    };
    if !described.instruction_file_used()
        || !etag_eq(o.etag(), source.etag())
        || o.version_id() != source.version_id()
        || o.stored_len() != source.stored_len()
        || !env.same_entries(written)
    {
        return Err(Error::ObjectChanged);
    }
    Ok(())
}
