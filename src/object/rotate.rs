//! Key rotation without touching the object: re-encrypt its instruction file. The data key is
//! unwrapped with the old key (for V3 it must match the stored key commitment), wrapped again
//! under the new key, and the new instruction file is checked to parse before it is written. The
//! object, its IV or message id and its V3 commitment are unchanged.

use super::head::read_head;
use super::lookup::EnvelopeLookup;
use super::request::{OneAtATime, Operation, Request, RequestBody, RequestId};
use super::text::Text;
use crate::envelope::{ContentAlgorithm, Envelope, FormatVersion, Placement};
use crate::error::{Error, Result};
use crate::policy::{DecryptPolicy, EncryptConfig};
use crate::secret::DataKey;
use crate::wrap::EncryptionMaterials;
use crate::wrap::{EncryptionContext, KeyRequest};

/// What to rotate.
#[derive(Debug, Clone, Copy)]
pub struct RotateIntent<'a> {
    /// Bucket.
    pub bucket: &'a str,
    /// Object key.
    pub key: &'a str,
    /// What may be decrypted (the old envelope is parsed under it).
    pub policy: DecryptPolicy,
    /// Suffix of the instruction file to read.
    pub source_suffix: &'a str,
    /// Suffix to write the new instruction file at (verbatim).
    pub new_suffix: &'a str,
    /// The KMS encryption context expected on the object (`None`: accept the stored one).
    pub encryption_context: Option<EncryptionContext<'a>>,
    /// Fail if the old key can still unwrap the new instruction file.
    pub enforce_rotation: bool,
}

impl<'a> RotateIntent<'a> {
    /// Rotate `bucket/key` in place at the default suffix, under the default policy.
    pub fn new(bucket: &'a str, key: &'a str) -> Self {
        RotateIntent {
            bucket,
            key,
            policy: DecryptPolicy::new(),
            source_suffix: crate::envelope::keys::INSTRUCTION_SUFFIX,
            new_suffix: crate::envelope::keys::INSTRUCTION_SUFFIX,
            encryption_context: Some(&[]),
            enforce_rotation: false,
        }
    }
}

/// What [`RotateInstructionFile::poll`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateNext {
    /// Make this request and report its response (the instruction file's GET with
    /// [`RotateInstructionFile::body`] first).
    Send(RequestId),
    /// Unwrap the data key with the old key: [`RotateInstructionFile::key_request`], then
    /// [`RotateInstructionFile::data_key`] (or, KMS→KMS, [`RotateInstructionFile::reencrypted_key`]).
    UnwrapKey,
    /// Wrap [`RotateInstructionFile::data_key_to_wrap`] under the new key for
    /// [`RotateInstructionFile::new_config`] (AES/RSA locally, KMS `Encrypt`), then
    /// [`RotateInstructionFile::new_materials`].
    WrapKey,
    /// Unwrap the new envelope with the NEW key, as for [`RotateNext::UnwrapKey`]
    /// ([`RotateInstructionFile::envelope_to_unwrap`] and
    /// [`RotateInstructionFile::key_request`] now name the new envelope), and hand the key to
    /// [`RotateInstructionFile::data_key`]: it must be the data key that opens the object, so a
    /// new key that cannot read what it wrapped is found before anything is written. A new key
    /// that cannot decrypt at all (an RSA public key) says so with
    /// [`RotateInstructionFile::new_key_cannot_decrypt`].
    CheckNewKey,
    /// Try the old key on the new envelope ([`RotateInstructionFile::check_request`]) and report
    /// with [`RotateInstructionFile::old_key_opens`].
    CheckOldKey,
    /// Finished.
    Done(RotateDone),
}

/// The result of a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotateDone {
    /// The format version of the object.
    pub version: FormatVersion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Head,
    GetInstructionFile,
    Unwrap,
    Wrap,
    CheckNew,
    Check,
    Put,
    Done,
}

/// A rotation of one instruction file.
pub struct RotateInstructionFile<'a> {
    intent: RotateIntent<'a>,
    step: Step,
    sent: OneAtATime,
    lookup: EnvelopeLookup,
    old: Option<Envelope>,
    new: Option<Envelope>,
    data_key: Option<DataKey>,
    /// The ETag of the instruction file read: the new one is written only over that one.
    ifile_etag: Option<Text<256>>,
    error: Option<Error>,
}

impl core::fmt::Debug for RotateInstructionFile<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RotateInstructionFile")
            .field("bucket", &self.intent.bucket)
            .field("key", &self.intent.key)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl<'a> RotateInstructionFile<'a> {
    /// Start a rotation.
    pub fn new(intent: RotateIntent<'a>) -> Result<Self> {
        if intent.source_suffix.is_empty() || intent.new_suffix.is_empty() {
            return Err(Error::InvalidConfig);
        }
        Ok(RotateInstructionFile {
            intent,
            step: Step::Head,
            sent: OneAtATime::new(),
            lookup: EnvelopeLookup::new(),
            old: None,
            new: None,
            data_key: None,
            ifile_etag: None,
            error: None,
        })
    }

    fn guard<T>(&mut self, r: Result<T>) -> Result<T> {
        r.inspect_err(|&e| {
            self.error.get_or_insert(e);
        })
    }

    /// What the machine needs next.
    pub fn poll(&mut self) -> Result<RotateNext> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(id) = self.sent.outstanding() {
            return Ok(RotateNext::Send(id));
        }
        Ok(match self.step {
            Step::Head | Step::GetInstructionFile | Step::Put => {
                let id = self.sent.send();
                RotateNext::Send(id)
            }
            Step::Unwrap => RotateNext::UnwrapKey,
            Step::Wrap => RotateNext::WrapKey,
            Step::CheckNew => RotateNext::CheckNewKey,
            Step::Check => RotateNext::CheckOldKey,
            Step::Done => RotateNext::Done(RotateDone {
                version: self
                    .old
                    .as_ref()
                    .map(Envelope::version)
                    .ok_or(Error::ApiMisuse(
                        "RotateInstructionFile::poll: not valid in this state",
                    ))?,
            }),
        })
    }

    /// The request `id`.
    pub fn request(&self, id: RequestId) -> Result<Request<'_>> {
        if !self.sent.is(id) {
            return Err(Error::ApiMisuse(
                "RotateInstructionFile::request: not valid in this state",
            ));
        }
        let i = &self.intent;
        let mut r = match self.step {
            Step::Head => Request::new(id, Operation::HeadObject, i.bucket, i.key),
            Step::GetInstructionFile => {
                EnvelopeLookup::request(id, i.bucket, i.key, i.source_suffix)
            }
            Step::Put => {
                let mut r = Request::new(id, Operation::PutObject, i.bucket, i.key);
                r.key_suffix = i.new_suffix;
                r.content_type = Some("application/json");
                r.instruction_file_marker = true;
                r.body = RequestBody::Bytes(self.lookup.buffer());
                r.content_length = Some(r.body.len());
                // Overwrite only the instruction file that was read, when rewriting it in place.
                if i.new_suffix == i.source_suffix {
                    r.if_match = self.ifile_etag.as_ref().map(|t| t.as_str());
                }
                r
            }
            _ => {
                return Err(Error::ApiMisuse(
                    "RotateInstructionFile::request: not valid in this state",
                ));
            }
        };
        r.id = id;
        Ok(r)
    }

    /// A piece of the instruction file's body; past
    /// [`INSTRUCTION_FILE_LIMIT`](super::INSTRUCTION_FILE_LIMIT) bytes it is
    /// refused.
    pub fn body(&mut self, id: RequestId, piece: &[u8]) -> Result<()> {
        let r = (|| {
            if !self.sent.is(id) || self.step != Step::GetInstructionFile {
                return Err(Error::ApiMisuse(
                    "RotateInstructionFile::body: not valid in this state",
                ));
            }
            self.lookup.body(piece)
        })();
        self.guard(r)
    }

    /// Report the response to `id`.
    pub fn response<'h, I>(&mut self, id: RequestId, status: u16, headers: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        let r = self.response_inner(id, status, headers);
        self.guard(r)
    }

    fn response_inner<'h, I>(&mut self, id: RequestId, status: u16, headers: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        self.sent.answered(id)?;
        match self.step {
            Step::Head => {
                let h = read_head(status, headers, Some(self.lookup.metadata_mut()))?;
                h.check_status(false)?;
                if !self.lookup.needs_instruction_file()? {
                    return Err(Error::EnvelopeInMetadata);
                }
                self.step = Step::GetInstructionFile;
            }
            Step::GetInstructionFile => {
                let h = read_head(status, headers, None)?;
                self.lookup.answered(&h)?;
                self.ifile_etag = h.etag;
                let env = self.lookup.envelope(Some(&self.intent.policy))?;
                match (env.version(), env.content_algorithm()) {
                    (FormatVersion::V3, _) | (FormatVersion::V2, ContentAlgorithm::AesGcm) => {}
                    _ => return Err(Error::UnsupportedSuite),
                }
                self.old = Some(env);
                self.step = Step::Unwrap;
            }
            Step::Put => {
                let pinned = self.ifile_etag.is_some()
                    && self.intent.new_suffix == self.intent.source_suffix;
                read_head(status, headers, None)?.check_status(pinned)?;
                self.step = Step::Done;
            }
            _ => {
                return Err(Error::ApiMisuse(
                    "RotateInstructionFile::response: not valid in this state",
                ));
            }
        }
        Ok(())
    }

    /// The envelope to unwrap now: the old one ([`RotateNext::UnwrapKey`]), or the new one
    /// with the new key ([`RotateNext::CheckNewKey`]).
    pub fn envelope_to_unwrap(&self) -> Result<&Envelope> {
        match self.step {
            Step::Unwrap => self.old.as_ref().ok_or(Error::ApiMisuse(
                "RotateInstructionFile::envelope_to_unwrap: not valid in this state",
            )),
            Step::CheckNew => self.new.as_ref().ok_or(Error::ApiMisuse(
                "RotateInstructionFile::envelope_to_unwrap: not valid in this state",
            )),
            _ => Err(Error::ApiMisuse(
                "RotateInstructionFile::envelope_to_unwrap: not valid in this state",
            )),
        }
    }

    /// The key request for [`RotateInstructionFile::envelope_to_unwrap`]: the old envelope's
    /// under the expected encryption context; the new one's under the context it stores.
    pub fn key_request(&self) -> Result<KeyRequest<'_>> {
        let env = self.envelope_to_unwrap()?;
        match (self.step, self.intent.encryption_context) {
            (Step::Unwrap, Some(ctx)) => env.key_request(ctx),
            _ => env.key_request_accepting_stored_context(),
        }
    }

    /// The data key unwrapped from [`RotateInstructionFile::envelope_to_unwrap`]. The old key's
    /// must open the object (V3: match the commitment); the new key's must be that same data key
    /// (compared in constant time) and open the object too. Any mismatch is
    /// [`Error::Authentication`].
    pub fn data_key(&mut self, key: DataKey) -> Result<()> {
        let r = (|| match self.step {
            Step::Unwrap => {
                let env = self.old.as_ref().ok_or(Error::ApiMisuse(
                    "RotateInstructionFile::data_key: not valid in this state",
                ))?;
                env.decryptor(key.clone(), &self.intent.policy)?;
                self.data_key = Some(key);
                self.step = Step::Wrap;
                Ok(())
            }
            Step::CheckNew => {
                let env = self.new.as_ref().ok_or(Error::ApiMisuse(
                    "RotateInstructionFile::data_key: not valid in this state",
                ))?;
                env.decryptor(key.clone(), &self.intent.policy)?;
                // After a KMS ReEncrypt the data key never reached the machine: the commitment
                // (V3) is what vouches for the new blob.
                if self.data_key.as_ref().is_some_and(|dk| *dk != key) {
                    return Err(Error::Authentication);
                }
                self.after_new_key_check();
                Ok(())
            }
            _ => Err(Error::ApiMisuse(
                "RotateInstructionFile::data_key: not valid in this state",
            )),
        })();
        self.guard(r)
    }

    /// At [`RotateNext::CheckNewKey`]: the new key cannot decrypt (an RSA public key), so what it
    /// wrapped cannot be read back here. Refused after a KMS `ReEncrypt`
    /// ([`RotateInstructionFile::reencrypted_key`]), whose blob nothing else vouches for.
    pub fn new_key_cannot_decrypt(&mut self) -> Result<()> {
        let r = (|| {
            if self.step != Step::CheckNew || self.data_key.is_none() {
                return Err(Error::ApiMisuse(
                    "RotateInstructionFile::new_key_cannot_decrypt: not valid in this state",
                ));
            }
            self.after_new_key_check();
            Ok(())
        })();
        self.guard(r)
    }

    fn after_new_key_check(&mut self) {
        self.data_key = None;
        self.step = if self.intent.enforce_rotation {
            Step::Check
        } else {
            Step::Put
        };
    }

    /// The data key to wrap under the new key ([`RotateNext::WrapKey`]).
    pub fn data_key_to_wrap(&self) -> Result<&DataKey> {
        self.data_key.as_ref().ok_or(Error::ApiMisuse(
            "RotateInstructionFile::data_key_to_wrap: not valid in this state",
        ))
    }

    /// The configuration the new materials must be made for: the object's own suite, with
    /// instruction-file placement.
    pub fn new_config(&self) -> Result<EncryptConfig> {
        let env = self.old.as_ref().ok_or(Error::ApiMisuse(
            "RotateInstructionFile::new_config: not valid in this state",
        ))?;
        Ok(match env.version() {
            FormatVersion::V3 => EncryptConfig::v3(Placement::InstructionFile),
            _ => EncryptConfig::v2(Placement::InstructionFile),
        })
    }

    /// The new materials (wrapping [`RotateInstructionFile::data_key_to_wrap`]).
    pub fn new_materials(&mut self, materials: EncryptionMaterials) -> Result<()> {
        let r = (|| {
            if self.step != Step::Wrap {
                return Err(Error::ApiMisuse(
                    "RotateInstructionFile::new_materials: not valid in this state",
                ));
            }
            let old = self.old.as_ref().ok_or(Error::ApiMisuse(
                "RotateInstructionFile::new_materials: not valid in this state",
            ))?;
            let dk = self.data_key.as_ref().ok_or(Error::ApiMisuse(
                "RotateInstructionFile::new_materials: not valid in this state",
            ))?;
            if materials.data_key() != dk {
                return Err(Error::InvalidKey);
            }
            let new = old.rewrapped(materials)?;
            self.set_new(new)
        })();
        self.guard(r)
    }

    /// KMS→KMS instead of [`RotateInstructionFile::data_key`] and
    /// [`RotateInstructionFile::new_materials`] ([`RotateNext::UnwrapKey`]): the stored blob as
    /// KMS `ReEncrypt` returned it, so the data key never reaches the caller. The machine then
    /// asks for [`RotateNext::CheckNewKey`]: the new key must unwrap the blob to a key that opens
    /// the object (V3: the commitment) before the instruction file is sent.
    pub fn reencrypted_key(&mut self, blob: &[u8]) -> Result<()> {
        let r = (|| {
            if self.step != Step::Unwrap {
                return Err(Error::ApiMisuse(
                    "RotateInstructionFile::reencrypted_key: not valid in this state",
                ));
            }
            let old = self.old.as_ref().ok_or(Error::ApiMisuse(
                "RotateInstructionFile::reencrypted_key: not valid in this state",
            ))?;
            let new = old
                .with_reencrypted_key(blob)?
                .with_placement(Placement::InstructionFile);
            self.set_new(new)
        })();
        self.guard(r)
    }

    /// Render the new instruction file, check it parses beside the object's metadata, and move on.
    fn set_new(&mut self, new: Envelope) -> Result<()> {
        self.lookup
            .buffer_mut()
            .render(|out| new.write_instruction_file(out))?;
        // What is about to be stored must parse, under the same policy, beside the object's
        // own metadata.
        self.lookup.rendered_envelope(&self.intent.policy)?;
        self.new = Some(new);
        self.step = Step::CheckNew;
        Ok(())
    }

    /// The new envelope's key request, for [`RotateNext::CheckOldKey`].
    pub fn check_request(&self) -> Result<KeyRequest<'_>> {
        let env = self.new.as_ref().ok_or(Error::ApiMisuse(
            "RotateInstructionFile::check_request: not valid in this state",
        ))?;
        env.key_request_accepting_stored_context()
    }

    /// The object's current envelope, once read.
    pub fn old_envelope(&self) -> Option<&Envelope> {
        self.old.as_ref()
    }

    /// The new envelope, once made.
    pub fn new_envelope(&self) -> Option<&Envelope> {
        self.new.as_ref()
    }

    /// Whether the old key could unwrap the new envelope: if it could, rotation is not enforced
    /// and the rotation fails with [`Error::RotationNotEnforced`].
    pub fn old_key_opens(&mut self, opens: bool) -> Result<()> {
        let r = (|| {
            if self.step != Step::Check {
                return Err(Error::ApiMisuse(
                    "RotateInstructionFile::old_key_opens: not valid in this state",
                ));
            }
            if opens {
                return Err(Error::RotationNotEnforced);
            }
            self.step = Step::Put;
            Ok(())
        })();
        self.guard(r)
    }
}
