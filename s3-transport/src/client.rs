//! The encrypting client and its configuration.

use crate::error::{Error, Result};
use crate::keyring::{ClientKeyring, Pairs};
use s3_encryption::{
    CommitmentPolicy, DecryptPolicy, EncryptConfig, MAX_PART_SIZE, MIN_PART_SIZE, Placement,
};
use std::path::PathBuf;
use std::sync::Arc;

/// Default memory budget: objects up to this size are read in one GET, verified, then released.
pub const DEFAULT_MEMORY_BUDGET: u64 = 64 * 1024 * 1024;
/// Default multipart part size (plaintext bytes per part).
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;
/// Default number of parts uploading at once.
pub const DEFAULT_PARTS_IN_FLIGHT: usize = 4;
/// The default instruction-file suffix.
pub const DEFAULT_INSTRUCTION_FILE_SUFFIX: &str = s3_encryption::envelope::keys::INSTRUCTION_SUFFIX;

/// How a GET of an object larger than the memory budget is verified before any plaintext is
/// released.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LargeObjectVerification {
    /// Pass one streams the body and checks the tag; pass two is a second GET pinned to the same
    /// ETag (`If-Match`) and version id, decrypts, and checks the tag again. Nothing is stored.
    #[default]
    TwoPass,
    /// Pass one streams the body to an anonymous temporary file (in `dir`, or the system's temporary
    /// directory) while checking the tag; pass two decrypts from that file. One GET.
    SpillFile {
        /// Where to create the spill file.
        dir: Option<PathBuf>,
    },
}

/// A callback told how many more plaintext bytes have been transferred.
pub type ProgressFn = Arc<dyn Fn(u64) + Send + Sync>;

/// The S3EC client: an encrypting wrapper around `aws_sdk_s3::Client` (and `aws_sdk_kms::Client`
/// for KMS keyrings). Cheap to clone.
#[derive(Clone, Debug)]
pub struct S3EncryptionClient {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) kms: Option<aws_sdk_kms::Client>,
    pub(crate) keyring: ClientKeyring,
    pub(crate) commitment_policy: CommitmentPolicy,
    pub(crate) placement: Placement,
    /// Instruction files are neither read nor written (the spec's `disableInstructionFile`).
    pub(crate) instruction_files_disabled: bool,
    pub(crate) policy: DecryptPolicy,
    pub(crate) suffix: String,
    pub(crate) memory_budget: u64,
    pub(crate) part_size: u64,
    pub(crate) parts_in_flight: usize,
    pub(crate) multipart_threshold: Option<u64>,
    pub(crate) large_get: LargeObjectVerification,
    pub(crate) checksum: Option<aws_sdk_s3::types::ChecksumAlgorithm>,
    pub(crate) connections: u16,
}

/// Builder for [`S3EncryptionClient`]. Defaults: format V3, metadata placement,
/// REQUIRE_ENCRYPT_REQUIRE_DECRYPT, every legacy mode off, suffix `.instruction`,
/// a 64 MiB memory budget, 8 MiB parts, 4 parts in flight.
#[derive(Debug)]
pub struct Builder {
    s3: aws_sdk_s3::Client,
    kms: Option<aws_sdk_kms::Client>,
    keyring: ClientKeyring,
    commitment_policy: CommitmentPolicy,
    placement: Placement,
    instruction_files_disabled: bool,
    legacy_wrapping: bool,
    legacy_unauthenticated: bool,
    delayed_auth: bool,
    suffix: String,
    memory_budget: u64,
    part_size: u64,
    parts_in_flight: usize,
    multipart_threshold: Option<u64>,
    large_get: LargeObjectVerification,
    checksum: Option<aws_sdk_s3::types::ChecksumAlgorithm>,
    connections: u16,
}

impl Builder {
    /// Attach the KMS client (required for KMS keyrings).
    pub fn kms_client(mut self, kms: aws_sdk_kms::Client) -> Self {
        self.kms = Some(kms);
        self
    }
    /// The commitment policy: REQUIRE_ENCRYPT_REQUIRE_DECRYPT (default) and
    /// REQUIRE_ENCRYPT_ALLOW_DECRYPT write V3; FORBID_ENCRYPT_ALLOW_DECRYPT writes V2.
    pub fn commitment_policy(mut self, p: CommitmentPolicy) -> Self {
        self.commitment_policy = p;
        self
    }
    /// Where new objects keep their envelope (default: object metadata).
    pub fn placement(mut self, p: Placement) -> Self {
        self.placement = p;
        self
    }
    /// Neither read nor write instruction files (the spec's `disableInstructionFile`): an object
    /// whose envelope lives in one is refused without a request for it, and instruction-file
    /// placement for writes is a configuration error.
    pub fn disable_instruction_files(mut self, on: bool) -> Self {
        self.instruction_files_disabled = on;
        self
    }
    /// Read objects whose data key uses a legacy wrap (V1, `AESWrap`, RSA-OAEP-SHA-256, `kms`).
    pub fn enable_legacy_wrapping_algorithms(mut self, on: bool) -> Self {
        self.legacy_wrapping = on;
        self
    }
    /// Read unauthenticated content: AES-CBC objects and ranged reads.
    pub fn enable_legacy_unauthenticated_modes(mut self, on: bool) -> Self {
        self.legacy_unauthenticated = on;
        self
    }
    /// Allow [`S3EncryptionClient::get_object_delayed_authentication_hazmat`], which releases
    /// plaintext before the tag is checked.
    pub fn enable_delayed_authentication_mode(mut self, on: bool) -> Self {
        self.delayed_auth = on;
        self
    }
    /// The instruction-file suffix for writes and reads (default `.instruction`, used verbatim).
    pub fn instruction_file_suffix(mut self, s: impl Into<String>) -> Self {
        self.suffix = s.into();
        self
    }
    /// Memory budget in bytes: the largest object a GET holds in memory, and the bound on the
    /// multipart buffers (part size × (parts in flight + 1)).
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }
    /// Plaintext bytes per multipart part: at least 5 MiB and a multiple of 16.
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }
    /// Parts uploading concurrently while encryption runs ahead (at least 1; reduced to fit the
    /// memory budget).
    pub fn parts_in_flight(mut self, n: usize) -> Self {
        self.parts_in_flight = n;
        self
    }
    /// Bodies of known length up to this many bytes go up in one PutObject, encrypted on the fly
    /// as they stream (memory: a few MiB); larger bodies, and bodies of unknown length, go up as
    /// a multipart upload. Default: the part size. At most 5 GiB − 16 (S3's single-PUT limit).
    /// A single streamed PUT is not retried by the SDK (its body cannot be replayed); multipart
    /// parts are.
    pub fn multipart_threshold(mut self, bytes: u64) -> Self {
        self.multipart_threshold = Some(bytes);
        self
    }
    /// How GETs of objects over the memory budget are verified before release.
    pub fn large_object_verification(mut self, v: LargeObjectVerification) -> Self {
        self.large_get = v;
        self
    }
    /// Concurrent ranged GETs for objects over the memory budget (default 1; at most 16), of
    /// 8 MiB parts. Each range is checked against what was asked for and authenticated as a GCM
    /// segment as its bytes arrive; the combined tag is checked before anything is released.
    /// Memory: about 1 MiB per connection, plus at most 8 MiB of writes behind into a file or
    /// spill file, plus (two passes into a writer) the parts released out of order that wait
    /// for an earlier one, at most `n` parts.
    pub fn connections(mut self, n: u16) -> Self {
        self.connections = n;
        self
    }
    /// Ask S3 to check a checksum of each uploaded body (computed over the ciphertext).
    pub fn checksum_algorithm(mut self, c: aws_sdk_s3::types::ChecksumAlgorithm) -> Self {
        self.checksum = Some(c);
        self
    }

    /// Check the configuration and build the client.
    pub fn build(self) -> Result<S3EncryptionClient> {
        if self.part_size < MIN_PART_SIZE
            || !self.part_size.is_multiple_of(16)
            || self.part_size > MAX_PART_SIZE
        {
            return Err(Error::config(format!(
                "part size {} is invalid: it must be at least 5 MiB ({MIN_PART_SIZE} bytes), at most 5 GiB, and a multiple of 16",
                self.part_size
            )));
        }
        if self.memory_budget < 2 * self.part_size {
            return Err(Error::config(format!(
                "memory budget {} is smaller than two parts of {} bytes; raise the budget or lower the part size",
                self.memory_budget, self.part_size
            )));
        }
        if let Some(t) = self.multipart_threshold
            && t > MAX_PART_SIZE - 16
        {
            return Err(Error::config(format!(
                "multipart threshold {t} is over S3's single-PUT limit of 5 GiB (less the 16-byte tag)"
            )));
        }
        if self.parts_in_flight == 0 {
            return Err(Error::config("parts in flight must be at least 1"));
        }
        if self.connections == 0 || self.connections > s3_encryption::object::MAX_CONNECTIONS {
            return Err(Error::config("connections must be between 1 and 16"));
        }
        let fit = (self.memory_budget / self.part_size)
            .saturating_sub(1)
            .max(1) as usize;
        let parts_in_flight = self.parts_in_flight.min(fit);
        if self.suffix.is_empty() {
            return Err(Error::config(
                "the instruction-file suffix must not be empty",
            ));
        }
        if self.keyring.uses_kms() && self.kms.is_none() {
            return Err(Error::config(
                "a KMS keyring needs a KMS client: call Builder::kms_client",
            ));
        }
        if self.instruction_files_disabled && self.placement == Placement::InstructionFile {
            return Err(Error::config(
                "instruction-file placement needs instruction files: they are disabled",
            ));
        }
        let policy = DecryptPolicy {
            commitment_policy: self.commitment_policy,
            legacy_wrapping_algorithms: self.legacy_wrapping,
            legacy_unauthenticated_modes: self.legacy_unauthenticated,
            delayed_authentication: self.delayed_auth,
        };
        Ok(S3EncryptionClient {
            inner: Arc::new(Inner {
                s3: self.s3,
                kms: self.kms,
                keyring: self.keyring,
                commitment_policy: self.commitment_policy,
                placement: self.placement,
                instruction_files_disabled: self.instruction_files_disabled,
                policy,
                suffix: self.suffix,
                memory_budget: self.memory_budget,
                part_size: self.part_size,
                parts_in_flight,
                multipart_threshold: self.multipart_threshold,
                large_get: self.large_get,
                checksum: self.checksum,
                connections: self.connections,
            }),
        })
    }
}

impl S3EncryptionClient {
    /// Start configuring a client around `s3` with `keyring`.
    pub fn builder(s3: aws_sdk_s3::Client, keyring: ClientKeyring) -> Builder {
        Builder {
            s3,
            kms: None,
            keyring,
            commitment_policy: CommitmentPolicy::RequireEncryptRequireDecrypt,
            placement: Placement::ObjectMetadata,
            instruction_files_disabled: false,
            legacy_wrapping: false,
            legacy_unauthenticated: false,
            delayed_auth: false,
            suffix: DEFAULT_INSTRUCTION_FILE_SUFFIX.to_owned(),
            memory_budget: DEFAULT_MEMORY_BUDGET,
            part_size: DEFAULT_PART_SIZE,
            parts_in_flight: DEFAULT_PARTS_IN_FLIGHT,
            multipart_threshold: None,
            large_get: LargeObjectVerification::TwoPass,
            checksum: None,
            connections: 1,
        }
    }

    /// A client with the default configuration from an AWS SDK configuration (builds the S3 and,
    /// for KMS keyrings, the KMS client).
    pub fn from_sdk_config(config: &aws_config::SdkConfig, keyring: ClientKeyring) -> Result<Self> {
        let s3 = aws_sdk_s3::Client::new(config);
        let kms_needed = keyring.uses_kms();
        let mut b = Self::builder(s3, keyring);
        if kms_needed {
            b = b.kms_client(aws_sdk_kms::Client::new(config));
        }
        b.build()
    }

    /// The decrypt policy in force.
    pub fn decrypt_policy(&self) -> DecryptPolicy {
        self.inner.policy
    }

    /// The keyring.
    pub fn keyring(&self) -> &ClientKeyring {
        &self.inner.keyring
    }

    /// The instruction-file suffix.
    pub fn instruction_file_suffix(&self) -> &str {
        &self.inner.suffix
    }

    /// The multipart part size.
    pub fn part_size(&self) -> u64 {
        self.inner.part_size
    }

    /// Parts uploading concurrently.
    pub fn parts_in_flight(&self) -> usize {
        self.inner.parts_in_flight
    }

    /// The memory budget.
    pub fn memory_budget(&self) -> u64 {
        self.inner.memory_budget
    }

    /// The client a migration writes and verifies with: this one's S3 and KMS clients, sizes and
    /// suffix, with `keyring`, writing V3 (REQUIRE_ENCRYPT_REQUIRE_DECRYPT, metadata placement)
    /// and reading under the strict default policy.
    pub(crate) fn for_migration(&self, keyring: ClientKeyring) -> Result<S3EncryptionClient> {
        let i = &self.inner;
        if keyring.uses_kms() && i.kms.is_none() {
            return Err(Error::config(
                "the new KMS keyring needs a KMS client: build the client with Builder::kms_client",
            ));
        }
        Ok(S3EncryptionClient {
            inner: Arc::new(Inner {
                s3: i.s3.clone(),
                kms: i.kms.clone(),
                keyring,
                commitment_policy: CommitmentPolicy::RequireEncryptRequireDecrypt,
                placement: Placement::ObjectMetadata,
                instruction_files_disabled: i.instruction_files_disabled,
                policy: DecryptPolicy::new(),
                suffix: i.suffix.clone(),
                memory_budget: i.memory_budget,
                part_size: i.part_size,
                parts_in_flight: i.parts_in_flight,
                multipart_threshold: i.multipart_threshold,
                large_get: i.large_get.clone(),
                checksum: i.checksum.clone(),
                connections: 1,
            }),
        })
    }

    pub(crate) fn encrypt_config(&self, placement: Placement) -> Result<EncryptConfig> {
        Ok(EncryptConfig::for_policy(
            self.inner.commitment_policy,
            placement,
        ))
    }

    /// Refused: a server-side copy would carry ciphertext whose instruction file (if any) is not
    /// copied, and a plain `CopyObject` API invites copying plaintext in. (The migration's
    /// re-wrap, [`S3EncryptionClient::migrate_object`], copies an object onto itself with a new
    /// envelope; that copy is internal, conditional and read back, and is not offered here.) Read with
    /// [`S3EncryptionClient::get_object_to_writer`] and write with
    /// [`S3EncryptionClient::put_object`] instead.
    pub async fn copy_object(&self, _bucket: &str, _key: &str, _source: &str) -> Result<()> {
        Err(Error::Refused(
            "CopyObject is not offered by the encryption client: it would bypass client-side encryption; get and put instead",
        ))
    }

    /// Refused: `UploadPartCopy` would splice bytes that this client did not encrypt into an
    /// encrypted object.
    pub async fn upload_part_copy(&self, _bucket: &str, _key: &str, _source: &str) -> Result<()> {
        Err(Error::Refused(
            "UploadPartCopy is not offered by the encryption client: it would bypass client-side encryption",
        ))
    }

    /// Refused: a presigned PUT lets anyone upload plaintext under this key.
    pub async fn presigned_put_object(&self, _bucket: &str, _key: &str) -> Result<String> {
        Err(Error::Refused(
            "presigned PUT is not offered by the encryption client: the uploader would send plaintext",
        ))
    }
}

/// Options for one PUT.
#[derive(Clone, Default)]
pub struct PutOptions {
    /// Placement for this object (default: the client's).
    pub placement: Option<Placement>,
    /// KMS encryption context for this object (default: the keyring's).
    pub encryption_context: Option<Pairs>,
    /// Extra user metadata (must not use S3EC metadata names).
    pub metadata: Pairs,
    /// `Content-Type` of the stored object.
    pub content_type: Option<String>,
    /// Told how many plaintext bytes each finished upload carried.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for PutOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutOptions")
            .field("placement", &self.placement)
            .field("encryption_context", &self.encryption_context)
            .field("metadata", &self.metadata)
            .field("content_type", &self.content_type)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Options for one GET.
#[derive(Clone, Default)]
pub struct GetOptions {
    /// Instruction-file suffix to read (default: the client's).
    pub instruction_file_suffix: Option<String>,
    /// KMS encryption context expected on the object (default: the keyring's).
    pub encryption_context: Option<Pairs>,
    /// A version id to read.
    pub version_id: Option<String>,
    /// Concurrent ranged GETs for this read (default: the client's).
    pub connections: Option<u16>,
    /// Told how many plaintext bytes were released.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for GetOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetOptions")
            .field("instruction_file_suffix", &self.instruction_file_suffix)
            .field("encryption_context", &self.encryption_context)
            .field("version_id", &self.version_id)
            .field("connections", &self.connections)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}
