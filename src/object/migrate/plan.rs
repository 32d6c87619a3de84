//! What an object is and what a migration should do with it: an owned snapshot of the object
//! ([`Source`], from a [`DescribeObject`] and the HEAD's headers), its form ([`ObjectForm`]),
//! and the decision for a target ([`Plan`]).

use super::super::describe::DescribeObject;
use super::super::{HEADER_COUNT_LIMIT, METADATA_LIMIT};
use crate::envelope::keys::{EC_CEK_ALG, EC_KMS_CMK_ID, is_envelope_key};
use crate::envelope::{ContentAlgorithm, Envelope, FormatVersion, Placement, WrapAlgorithm};
use crate::error::{Error, Result};
use crate::wrap::EncryptionContext;
use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

/// What a migration makes of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrateTarget {
    /// Re-encrypt the content as V3 under the new keyring (a new data key, a new message id).
    ToV3,
    /// Keep the content and re-wrap its data key under the new keyring.
    Rewrap,
}

/// The format of a stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceFormat {
    /// V1 (`x-amz-key`).
    V1,
    /// V2 (`x-amz-key-v2`).
    V2,
    /// V3 (`x-amz-3`).
    V3,
    /// A V1/V2 object whose data key uses the legacy `kms` wrap.
    LegacyKms,
    /// No S3EC envelope: a plain S3 object.
    Plain,
}

impl SourceFormat {
    /// `V1`, `V2`, `V3`, `kms` or `plain`.
    pub const fn name(self) -> &'static str {
        match self {
            SourceFormat::V1 => "V1",
            SourceFormat::V2 => "V2",
            SourceFormat::V3 => "V3",
            SourceFormat::LegacyKms => "kms",
            SourceFormat::Plain => "plain",
        }
    }
}

/// An object's form, as an inventory counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectForm {
    /// The format.
    pub format: SourceFormat,
    /// The content cipher (`None`: plain).
    pub content: Option<ContentAlgorithm>,
    /// The data-key wrap (`None`: plain).
    pub wrap: Option<WrapAlgorithm>,
    /// Where the envelope lives (`None`: plain).
    pub placement: Option<Placement>,
    /// Stored bytes.
    pub stored_len: u64,
    /// Plaintext bytes, when the envelope says (GCM always; CBC when the length is stored).
    pub plaintext_len: Option<u64>,
}

impl ObjectForm {
    /// The content cipher as a migration report names it: `AES/GCM/NoPadding`,
    /// `AES/CBC/PKCS5Padding`, or `none` for a plain object.
    pub const fn content_name(&self) -> &'static str {
        match self.content {
            None => "none",
            Some(ContentAlgorithm::AesCbc) => "AES/CBC/PKCS5Padding",
            Some(ContentAlgorithm::AesGcm | ContentAlgorithm::AesGcmCommitting) => {
                "AES/GCM/NoPadding"
            }
        }
    }
    /// The wrap as a migration report names it ([`WrapAlgorithm::name`]), or `none`.
    pub const fn wrap_name(&self) -> &'static str {
        match self.wrap {
            Some(w) => w.name(),
            None => "none",
        }
    }
    /// The placement as a migration report names it: `metadata`, `instruction-file`, or `none`.
    pub const fn placement_name(&self) -> &'static str {
        match self.placement {
            None => "none",
            Some(Placement::InstructionFile) => "instruction-file",
            Some(Placement::ObjectMetadata) => "metadata",
        }
    }
}

/// What a migration does with an object, before any key is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Plan {
    /// A plain object: report it, leave it untouched.
    NotEncrypted,
    /// Possibly in the target form already: if the new keyring opens it (unwraps its data key,
    /// and for V3 the key matches the commitment), skip it; otherwise proceed.
    SkipIfNewKeyOpens,
    /// Migrate it.
    Proceed,
}

/// The new key, as far as the new object's description goes ([`Reencrypt::set_new_key`](super::Reencrypt::set_new_key),
/// [`RewrapInPlace::set_new_key`](super::RewrapInPlace::set_new_key)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NewKey<'k> {
    /// An AES or RSA key with its own materials description (empty: none given).
    Local(EncryptionContext<'k>),
    /// A KMS key with its own encryption context (empty: none given).
    Kms(EncryptionContext<'k>),
}

/// Whether a stored materials description (`kms` false) or KMS encryption context (`kms` true,
/// its `aws:x-amz-cek-alg` aside) holds exactly `want`.
pub(crate) fn carries(
    want: &[(&str, &str)],
    kms: bool,
    materials_description: Option<&str>,
    encryption_context: Option<&str>,
) -> bool {
    let stored = if kms {
        encryption_context.map(|j| json_pairs(j, &[EC_CEK_ALG]))
    } else {
        materials_description.map(|j| json_pairs(j, &[]))
    };
    let mut want = want.to_vec();
    want.sort();
    stored.is_some_and(|got| {
        got.len() == want.len()
            && got
                .iter()
                .zip(&want)
                .all(|((a, b), (c, d))| a == c && b == d)
    })
}

/// An owned snapshot of one object, taken from its description: what every later request of the
/// migration is pinned to (ETag, version id) and what it keeps (user metadata, content type, tags).
#[derive(Clone)]
pub struct Source {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) suffix: String,
    pub(crate) etag: Option<String>,
    pub(crate) version_id: Option<String>,
    pub(crate) stored_len: u64,
    pub(crate) content_type: Option<String>,
    pub(crate) user_metadata: Vec<(String, String)>,
    pub(crate) tagging: Option<String>,
    pub(crate) envelope: Option<Envelope>,
    pub(crate) instruction_file: bool,
    /// The ETag of the instruction file read, when the envelope came from one.
    pub(crate) instruction_file_etag: Option<String>,
    /// The materials description of an AES/RSA wrap (`x-amz-matdesc`, `x-amz-m`), sorted.
    pub(crate) materials_description: Vec<(String, String)>,
    /// The KMS encryption context (`x-amz-matdesc` of a V1/V2 KMS wrap, `x-amz-t`) without the
    /// reserved `aws:x-amz-cek-alg` and `kms_cmk_id`, sorted.
    pub(crate) encryption_context: Vec<(String, String)>,
}

impl core::fmt::Debug for Source {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Source")
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .field("etag", &self.etag)
            .field("version_id", &self.version_id)
            .field("stored_len", &self.stored_len)
            .field("form", &self.form())
            .finish_non_exhaustive()
    }
}

/// Both present and the same entity (quotes aside).
pub(crate) fn etag_eq(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if crate::object::head::same_etag(a, b))
}

/// The members of a stored JSON string map (validated when the envelope was parsed), without
/// the names in `skip`, sorted.
pub(crate) fn json_pairs(json: &str, skip: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    crate::encoding::json::string_map_entries(json.as_bytes(), |k, v| {
        let k: String = k.chars().collect();
        if !skip.contains(&k.as_str()) {
            out.push((k, v.chars().collect()));
        }
        true
    });
    out.sort();
    out
}

fn strip_meta(name: &str) -> Option<&str> {
    let n = name.trim();
    (n.len() > 11 && n.as_bytes()[..11].eq_ignore_ascii_case(b"x-amz-meta-")).then(|| &n[11..])
}

/// What a migration keeps from an object's HEAD response: its content type and user metadata
/// (envelope keys aside, names lower-cased, sorted). The response caps (header count, metadata
/// bytes) hold here.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeadFacts {
    content_type: Option<String>,
    user_metadata: Vec<(String, String)>,
}

impl HeadFacts {
    pub(crate) fn read<'h, I>(head_headers: I) -> Result<Self>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        let mut content_type = None;
        let mut user_metadata = Vec::new();
        let (mut count, mut bytes) = (0usize, 0usize);
        for (name, value) in head_headers {
            count += 1;
            if count > HEADER_COUNT_LIMIT {
                return Err(Error::TooLarge);
            }
            if let Some(m) = strip_meta(name) {
                bytes += m.len() + value.len();
                if bytes > METADATA_LIMIT {
                    return Err(Error::TooLarge);
                }
                if !is_envelope_key(m) {
                    user_metadata.push((m.to_ascii_lowercase(), value.to_owned()));
                }
            } else if name.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_owned());
            }
        }
        user_metadata.sort();
        Ok(HeadFacts {
            content_type,
            user_metadata,
        })
    }
}

impl Source {
    /// The snapshot of a described object: `described` ran to its end (or stopped with
    /// [`Error::NotEncrypted`]: a plain object), `head_headers` are the headers of its HEAD
    /// response (user metadata as `x-amz-meta-*`, `Content-Type`), `suffix` the instruction-file
    /// suffix it was described with. The response caps (header count, metadata bytes) hold here too.
    ///
    /// [`DescribeSource`](super::DescribeSource) drives the description and calls this; use it
    /// directly only when the object was described some other way.
    pub fn described<'h, I>(
        bucket: &str,
        key: &str,
        suffix: &str,
        described: &DescribeObject<'_>,
        head_headers: I,
    ) -> Result<Self>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        Self::from_description(
            bucket,
            key,
            suffix,
            described,
            HeadFacts::read(head_headers)?,
        )
    }

    pub(crate) fn from_description(
        bucket: &str,
        key: &str,
        suffix: &str,
        described: &DescribeObject<'_>,
        head: HeadFacts,
    ) -> Result<Self> {
        let object = described.object().ok_or(Error::ApiMisuse(
            "Source::described: the description is not complete",
        ))?;
        let HeadFacts {
            content_type,
            user_metadata,
        } = head;
        let env = described.envelope();
        let materials_description = env
            .and_then(Envelope::materials_description)
            .map(|j| json_pairs(j, &[]))
            .unwrap_or_default();
        let encryption_context = env
            .and_then(Envelope::encryption_context)
            .map(|j| json_pairs(j, &[EC_CEK_ALG, EC_KMS_CMK_ID]))
            .unwrap_or_default();
        Ok(Source {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            suffix: suffix.to_owned(),
            etag: object.etag().map(str::to_owned),
            version_id: object.version_id().map(str::to_owned),
            stored_len: object.stored_len(),
            content_type,
            user_metadata,
            tagging: None,
            envelope: described.envelope().cloned(),
            instruction_file: described.envelope().is_some() && described.instruction_file_used(),
            instruction_file_etag: described
                .instruction_file_object()
                .and_then(|o| o.etag())
                .map(str::to_owned),
            materials_description,
            encryption_context,
        })
    }

    /// Set the object's tags (`key=value&...`, URL-encoded, as `x-amz-tagging` takes them), as
    /// the driver read them with `GetObjectTagging` (pinned to [`Source::version_id`]). Empty is
    /// no tags.
    pub fn set_tagging(&mut self, tagging: Option<String>) {
        self.tagging = tagging.filter(|t| !t.is_empty());
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }
    /// The instruction-file suffix.
    pub fn suffix(&self) -> &str {
        &self.suffix
    }
    /// The ETag every write is conditional on.
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }
    /// The version every read is pinned to (versioned buckets).
    pub fn version_id(&self) -> Option<&str> {
        self.version_id.as_deref()
    }
    /// Stored bytes.
    pub fn stored_len(&self) -> u64 {
        self.stored_len
    }
    /// The `Content-Type`.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }
    /// The user metadata that is not envelope (names without `x-amz-meta-`, lowercase, sorted).
    pub fn user_metadata(&self) -> &[(String, String)] {
        &self.user_metadata
    }
    /// The tags, as set by [`Source::set_tagging`].
    pub fn tagging(&self) -> Option<&str> {
        self.tagging.as_deref()
    }
    /// The envelope (parsed without a policy), `None` for a plain object.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.envelope.as_ref()
    }
    /// The materials description of an AES/RSA wrap (`x-amz-matdesc` of V1/V2, `x-amz-m` of
    /// V3): the label readers select the master key by. Sorted; empty for KMS wraps and `{}`.
    pub fn materials_description(&self) -> &[(String, String)] {
        &self.materials_description
    }
    /// The KMS encryption context of a KMS wrap (`x-amz-matdesc` of V1/V2, `x-amz-t` of V3)
    /// without the reserved `aws:x-amz-cek-alg` and `kms_cmk_id`: what a reader passes. Sorted;
    /// empty for AES/RSA wraps.
    pub fn encryption_context(&self) -> &[(String, String)] {
        &self.encryption_context
    }
    /// The ETag of the instruction file the envelope came from (what its removal is
    /// conditional on).
    pub fn instruction_file_etag(&self) -> Option<&str> {
        self.instruction_file_etag.as_deref()
    }
    /// The description a migrated object is written with under `key`: the key's own when not
    /// empty, else this object's of the same kind (an AES/RSA materials description for an
    /// AES/RSA key, a KMS encryption context for a KMS key). The flag: this object has one of
    /// the other kind, which does not carry over.
    pub fn description_for<'a>(
        &'a self,
        key: NewKey<'a>,
    ) -> Result<(Vec<(&'a str, &'a str)>, bool)> {
        let refs = |p: &'a [(String, String)]| -> Vec<(&'a str, &'a str)> {
            p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
        };
        let (own, same, other) = match key {
            NewKey::Local(own) => (own, &self.materials_description, &self.encryption_context),
            NewKey::Kms(own) => (own, &self.encryption_context, &self.materials_description),
        };
        if own.iter().any(|(k, _)| *k == EC_CEK_ALG) {
            return Err(Error::ReservedEncryptionContextKey);
        }
        Ok(if own.is_empty() {
            (refs(same), !other.is_empty())
        } else {
            (own.to_vec(), false)
        })
    }
    /// Whether the envelope came from an instruction file.
    pub fn instruction_file_used(&self) -> bool {
        self.instruction_file
    }
    /// Whether the ETag is that of a multipart upload (`"…-N"`): not an MD5 of the body, so a
    /// copy of the same bytes may get another one.
    pub fn multipart_etag(&self) -> bool {
        self.etag.as_deref().is_some_and(|e| e.contains('-'))
    }

    /// The object's form.
    pub fn form(&self) -> ObjectForm {
        match &self.envelope {
            None => ObjectForm {
                format: SourceFormat::Plain,
                content: None,
                wrap: None,
                placement: None,
                stored_len: self.stored_len,
                plaintext_len: Some(self.stored_len),
            },
            Some(env) => ObjectForm {
                format: match (env.version(), env.wrap_algorithm()) {
                    (FormatVersion::V3, _) => SourceFormat::V3,
                    (_, WrapAlgorithm::Kms) => SourceFormat::LegacyKms,
                    (FormatVersion::V2, _) => SourceFormat::V2,
                    (FormatVersion::V1, _) => SourceFormat::V1,
                },
                content: Some(env.content_algorithm()),
                wrap: Some(env.wrap_algorithm()),
                placement: Some(if self.instruction_file {
                    Placement::InstructionFile
                } else {
                    Placement::ObjectMetadata
                }),
                stored_len: self.stored_len,
                plaintext_len: env.plaintext_len(self.stored_len),
            },
        }
    }

    /// What to do for `target`. A re-wrap keeps the content, so it needs content this crate can
    /// also write (V3, or V2 AES-GCM): V1 and AES-CBC objects are [`Error::UnsupportedSuite`]
    /// (re-encrypt them to V3 instead).
    pub fn plan(&self, target: MigrateTarget) -> Result<Plan> {
        let Some(env) = &self.envelope else {
            return Ok(Plan::NotEncrypted);
        };
        Ok(match target {
            MigrateTarget::ToV3 if env.version() == FormatVersion::V3 => Plan::SkipIfNewKeyOpens,
            MigrateTarget::ToV3 => Plan::Proceed,
            MigrateTarget::Rewrap => match (env.version(), env.content_algorithm()) {
                (FormatVersion::V3, _) | (FormatVersion::V2, ContentAlgorithm::AesGcm) => {
                    Plan::SkipIfNewKeyOpens
                }
                _ => return Err(Error::UnsupportedSuite),
            },
        })
    }
}
