//! The PUT machine: a single PutObject, or a multipart upload whose parts are encrypted as
//! independent segments of one GCM stream (on any thread, in any order) with the combined tag on
//! the last part. The envelope headers go out before any body byte; any failure aborts the
//! upload, so nothing half-written remains.
//!
//! Driving order (see [`PutObject::poll`]):
//!
//! ```text
//! let mut put = PutObject::new(intent)?;
//! loop {
//!     match put.poll()? {
//!         PutNext::EncryptionMaterials => put.materials(keyring.materials(put.config(), ctx)?)?,
//!         PutNext::ReadPart { number, offset, len } => {    // read `len` plaintext bytes (fewer: the end)
//!             let n = source.read(&mut bufs[number], len);
//!             put.part_read(number, n)?;
//!         }
//!         PutNext::EncryptPart(job) => {                     // on any thread
//!             let done = job.encrypt(&mut bufs[job.number()])?;
//!             put.part_encrypted(done)?;
//!         }
//!         PutNext::Send(id) => {                              // put.request(id)
//!             // a single PutObject streams its body through put.encrypt(), then put.tag()
//!             // (or hands it to the transport: put.body(), a rewindable stream given back
//!             // with put.body_sent() before the response); the last UploadPart appends put.tag()
//!             let resp = http.send(put.request(id)?, body);
//!             put.response(id, resp.status, resp.headers)?;  // CreateMultipartUpload: put.upload_created
//!         }
//!         PutNext::Wait => { /* hand back an outstanding result */ }
//!         PutNext::Done(done) => break,
//!     }
//! }
//! ```
//!
//! After an error, `poll` first returns the `AbortMultipartUpload` (or, when the object was
//! written but its instruction file was not, the `DeleteObject`) to send, and only then the
//! error. A retried request must re-send the same bytes: keep each part's ciphertext until its
//! upload succeeded.

//!
//! The machine by concern: this file holds the intent, the states and the driving loop
//! (`poll`, materials); `body.rs` the single PutObject's streamed body; `parts.rs` the multipart
//! parts (read, encrypted on any thread, their GHASH combined into the tag); `requests.rs` the
//! requests the machine asks for and the checks of their responses.

use super::INSTRUCTION_FILE_LIMIT;
use super::head::read_head;
use super::request::{Operation, Request, RequestBody, RequestId};
use super::text::Text;
use crate::encrypt::Encryptor;
use crate::envelope::{Envelope, Placement};
use crate::error::{Error, Result};
use crate::gcm::GCM_MAX_PLAINTEXT;
use crate::multipart::{MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, PartPlan};
use crate::parallel::{ParallelGcm, PartialGhash, TagAccumulator};
use crate::policy::EncryptConfig;
use crate::wrap::EncryptionContext;
use crate::wrap::EncryptionMaterials;

mod body;
mod parts;
mod requests;

pub use body::SingleBody;
pub use parts::{EncryptedPart, PartEncryptor, PartJob};

/// At most this many parts in flight.
pub const MAX_PARTS_IN_FLIGHT: u16 = 16;

/// What to write, and how.
#[derive(Debug, Clone, Copy)]
pub struct PutIntent<'a> {
    /// Bucket.
    pub bucket: &'a str,
    /// Object key.
    pub key: &'a str,
    /// Suite, commitment policy and placement.
    pub config: EncryptConfig,
    /// The KMS encryption context, or the materials description of an AES/RSA keyring: passed
    /// to whoever supplies the [`EncryptionMaterials`].
    pub encryption_context: EncryptionContext<'a>,
    /// The plaintext length, when known (enforced: a body of another length fails).
    pub plaintext_len: Option<u64>,
    /// Plaintext bytes per multipart part (at least 5 MiB, a multiple of 16).
    pub part_size: u64,
    /// Bodies of known length up to this go up in one PutObject (at most 5 GiB − 16).
    pub multipart_threshold: u64,
    /// Parts read, encrypted or uploading at once (memory: part size × this).
    pub parts_in_flight: u16,
    /// `Content-Type` of the stored object.
    pub content_type: Option<&'a str>,
    /// Extra user metadata (names without `x-amz-meta-`; none may start with `x-amz-`).
    pub metadata: &'a [(&'a str, &'a str)],
    /// The instruction-file suffix for instruction-file placement.
    pub instruction_file_suffix: &'a str,
    /// `If-Match` on the PutObject or CompleteMultipartUpload that stores the object: a
    /// conditional write, which a concurrent writer's object makes fail (412:
    /// [`Error::ObjectChanged`]; a multipart upload is then aborted). Only with metadata placement
    /// (an instruction file is a second object the condition cannot cover).
    pub if_match: Option<&'a str>,
    /// `x-amz-tagging` (URL-encoded `key=value&...`) for the stored object.
    pub tagging: Option<&'a str>,
}

impl<'a> PutIntent<'a> {
    /// A PUT with the defaults: V3, metadata placement, 8 MiB parts, single PutObject up to one
    /// part, 4 parts in flight.
    pub fn new(bucket: &'a str, key: &'a str, plaintext_len: Option<u64>) -> Self {
        PutIntent {
            bucket,
            key,
            config: EncryptConfig::default(),
            encryption_context: &[],
            plaintext_len,
            part_size: 8 << 20,
            multipart_threshold: 8 << 20,
            parts_in_flight: 4,
            content_type: None,
            metadata: &[],
            instruction_file_suffix: crate::envelope::keys::INSTRUCTION_SUFFIX,
            if_match: None,
            tagging: None,
        }
    }
}

/// What [`PutObject::poll`] asks for.
#[allow(clippy::large_enum_variant)] // no allocator: the part's key schedule travels inline
#[derive(Debug, Clone)]
pub enum PutNext {
    /// Supply the encryption materials for [`PutObject::config`] and
    /// [`PutObject::encryption_context`]: [`PutObject::materials`].
    EncryptionMaterials,
    /// Make this request ([`PutObject::request`]) and report its response.
    Send(RequestId),
    /// Read the plaintext of part `number`: `len` bytes (fewer only at the end of the body), then
    /// [`PutObject::part_read`].
    ReadPart {
        /// Part number (from 1).
        number: u32,
        /// Offset of the part's plaintext in the object.
        offset: u64,
        /// Bytes to read.
        len: u64,
    },
    /// Encrypt a part in place, on any thread, then [`PutObject::part_encrypted`].
    EncryptPart(PartJob),
    /// Results are outstanding: hand one back.
    Wait,
    /// The object is stored.
    Done(PutDone),
}

/// The result of a PUT.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PutDone {
    /// Plaintext bytes stored.
    pub plaintext_len: u64,
    /// Stored bytes (ciphertext and tag).
    pub stored_len: u64,
    /// Parts (1 for a single PutObject).
    pub parts: u32,
    /// Whether a multipart upload was used.
    pub multipart: bool,
    /// Whether an instruction file was written.
    pub instruction_file: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Materials,
    /// Unknown length: the first part is read to see whether the body fits one PutObject.
    Probe,
    Single,
    Create,
    Parts,
    Complete,
    InstructionFile,
    /// Cleaning up after an error: the abort or delete is `cleanup`.
    Cleanup,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartState {
    Reading,
    Read,
    Encrypting,
    Encrypted,
    Uploading,
}

#[derive(Debug, Clone, Copy)]
struct Part {
    number: u32,
    offset: u64,
    len: u64,
    last: bool,
    state: PartState,
    request: RequestId,
}

/// A write of one object. See the [module documentation](crate::object) for the driving order.
pub struct PutObject<'a> {
    intent: PutIntent<'a>,
    phase: Phase,
    error: Option<Error>,
    next_id: u32,
    outstanding: Option<(RequestId, Operation)>,
    envelope: Option<Envelope>,
    encryptor: Option<Encryptor>,
    gcm: Option<ParallelGcm>,
    plan: Option<PartPlan>,
    upload_id: Option<Text<1024>>,
    parts: [Option<Part>; MAX_PARTS_IN_FLIGHT as usize],
    pending: [Option<PartialGhash>; MAX_PARTS_IN_FLIGHT as usize],
    acc: Option<TagAccumulator>,
    absorbed: u32,
    next_part: u32,
    read_done: bool,
    consumed: u64,
    uploaded: u32,
    last_part: Option<u32>,
    tag: Option<[u8; 16]>,
    encrypted: u64,
    ifile: [u8; INSTRUCTION_FILE_LIMIT],
    ifile_len: usize,
    object_written: bool,
    cleanup_sent: bool,
    multipart: bool,
    /// The length a probed body turned out to have (it fit one part).
    probed: Option<u64>,
}

impl core::fmt::Debug for PutObject<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PutObject")
            .field("bucket", &self.intent.bucket)
            .field("key", &self.intent.key)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

fn is_reserved(name: &str) -> bool {
    let n = name.trim();
    let n = if n.len() >= 11 && n.as_bytes()[..11].eq_ignore_ascii_case(b"x-amz-meta-") {
        &n[11..]
    } else {
        n
    };
    n.len() >= 6 && n.as_bytes()[..6].eq_ignore_ascii_case(b"x-amz-")
}

impl<'a> PutObject<'a> {
    /// Start a write. Bad sizes, reserved metadata names (`x-amz-*`) and a body longer than GCM
    /// allows are refused here.
    pub fn new(intent: PutIntent<'a>) -> Result<Self> {
        if intent.part_size < MIN_PART_SIZE
            || intent.part_size > MAX_PART_SIZE
            || !intent.part_size.is_multiple_of(16)
            || intent.multipart_threshold > MAX_PART_SIZE - 16
            || intent.parts_in_flight == 0
            || intent.parts_in_flight > MAX_PARTS_IN_FLIGHT
            || intent.instruction_file_suffix.is_empty()
        {
            return Err(Error::InvalidConfig);
        }
        if intent.plaintext_len.is_some_and(|l| l > GCM_MAX_PLAINTEXT) {
            return Err(Error::MessageTooLong);
        }
        if intent.metadata.iter().any(|(k, _)| is_reserved(k)) {
            return Err(Error::InvalidConfig);
        }
        if intent.if_match.is_some() && intent.config.placement() == Placement::InstructionFile {
            return Err(Error::InvalidConfig);
        }
        Ok(PutObject {
            intent,
            phase: Phase::Materials,
            error: None,
            next_id: 1,
            outstanding: None,
            envelope: None,
            encryptor: None,
            gcm: None,
            plan: None,
            upload_id: None,
            parts: [None; MAX_PARTS_IN_FLIGHT as usize],
            pending: [None; MAX_PARTS_IN_FLIGHT as usize],
            acc: None,
            absorbed: 0,
            next_part: 1,
            read_done: false,
            consumed: 0,
            uploaded: 0,
            last_part: None,
            tag: None,
            encrypted: 0,
            ifile: [0; INSTRUCTION_FILE_LIMIT],
            ifile_len: 0,
            object_written: false,
            cleanup_sent: false,
            multipart: false,
            probed: None,
        })
    }

    /// The write configuration the materials must be made for.
    pub fn config(&self) -> &EncryptConfig {
        &self.intent.config
    }

    /// The encryption context (KMS) or materials description (AES/RSA) for the materials.
    pub fn encryption_context(&self) -> EncryptionContext<'a> {
        self.intent.encryption_context
    }

    /// The envelope, once the materials are in.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.envelope.as_ref()
    }

    fn id(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Abort the write (the caller's body failed, or it gave up): the next [`PutObject::poll`]
    /// calls return the cleanup request, then `reason`.
    pub fn abort(&mut self, reason: Error) {
        self.fail(reason);
    }

    /// The request `id` could not be made (a network failure after the SDK's retries): the write
    /// fails with `error` and cleans up.
    pub fn request_failed(&mut self, id: RequestId, error: Error) {
        self.forget(id);
        self.fail(error);
    }

    fn forget(&mut self, id: RequestId) {
        if matches!(self.outstanding, Some((oid, _)) if oid == id) {
            self.outstanding = None;
        }
        if let Some(i) = self
            .parts
            .iter()
            .position(|p| p.is_some_and(|p| p.state == PartState::Uploading && p.request == id))
        {
            self.parts[i] = None;
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        if self.error.is_none() {
            self.error = Some(e);
            self.phase = Phase::Cleanup;
        }
        e
    }

    // ------------------------------------------------------------ driving

    /// What the machine needs next. After an error it first asks for what cleans up (waiting
    /// for requests in flight, then `AbortMultipartUpload`, or `DeleteObject` when the object was
    /// written but its instruction file was not), and then returns the error.
    pub fn poll(&mut self) -> Result<PutNext> {
        let r = self.poll_inner();
        match r {
            Err(e) => {
                self.fail(e);
                self.cleanup_step()
            }
            ok => ok,
        }
    }

    fn cleanup_step(&mut self) -> Result<PutNext> {
        let e = self
            .error
            .unwrap_or(Error::Internal("cleanup without a recorded error"));
        let uploading = self
            .parts
            .iter()
            .flatten()
            .any(|p| p.state == PartState::Uploading);
        if self.outstanding.is_some() || uploading {
            // Nothing may be uploading when the upload is aborted.
            return Ok(PutNext::Wait);
        }
        if self.upload_id.is_some() && !self.cleanup_sent {
            self.cleanup_sent = true;
            let id = self.id();
            self.outstanding = Some((id, Operation::AbortMultipartUpload));
            return Ok(PutNext::Send(id));
        }
        if self.object_written && !self.cleanup_sent {
            self.cleanup_sent = true;
            let id = self.id();
            self.outstanding = Some((id, Operation::DeleteObject));
            return Ok(PutNext::Send(id));
        }
        Err(e)
    }

    fn poll_inner(&mut self) -> Result<PutNext> {
        if self.phase == Phase::Cleanup {
            return self.cleanup_step();
        }
        if self.outstanding.is_some() {
            return Ok(PutNext::Wait);
        }
        match self.phase {
            Phase::Materials => Ok(PutNext::EncryptionMaterials),
            Phase::Probe => {
                if self.parts.iter().flatten().next().is_none() {
                    return self.next_read();
                }
                Ok(PutNext::Wait)
            }
            Phase::Single => {
                let id = self.id();
                self.outstanding = Some((id, Operation::PutObject));
                Ok(PutNext::Send(id))
            }
            Phase::Create => {
                let id = self.id();
                self.outstanding = Some((id, Operation::CreateMultipartUpload));
                Ok(PutNext::Send(id))
            }
            Phase::Parts => self.poll_parts(),
            Phase::Complete => {
                let id = self.id();
                self.outstanding = Some((id, Operation::CompleteMultipartUpload));
                Ok(PutNext::Send(id))
            }
            Phase::InstructionFile => {
                let id = self.id();
                self.outstanding = Some((id, Operation::PutObject));
                Ok(PutNext::Send(id))
            }
            Phase::Done => Ok(PutNext::Done(self.done())),
            Phase::Cleanup => self.cleanup_step(),
        }
    }

    fn done(&self) -> PutDone {
        let plaintext_len = self.consumed;
        PutDone {
            plaintext_len,
            stored_len: plaintext_len + 16,
            parts: if self.multipart { self.uploaded } else { 1 },
            multipart: self.multipart,
            instruction_file: self.ifile_len > 0,
        }
    }

    /// The materials: a fresh data key wrapped for [`PutObject::config`] (from a keyring, or KMS
    /// `GenerateDataKey`). The message id (V3) or IV (V2) is drawn from the operating system.
    #[cfg(feature = "getrandom")]
    pub fn materials(&mut self, materials: EncryptionMaterials) -> Result<()> {
        let mut r = [0u8; 28];
        getrandom::fill(&mut r).map_err(|_| Error::Rng)?;
        self.materials_with_random(materials, &r)
    }

    /// [`PutObject::materials`] with 28 fresh random bytes from the caller's RNG (without
    /// `getrandom`). Never reuse them: a repeated value breaks confidentiality and integrity.
    pub fn materials_with_random(
        &mut self,
        materials: EncryptionMaterials,
        random: &[u8; 28],
    ) -> Result<()> {
        let r = self.materials_inner(materials, random);
        r.map_err(|e| self.fail(e))
    }

    fn materials_inner(&mut self, m: EncryptionMaterials, random: &[u8; 28]) -> Result<()> {
        if self.phase != Phase::Materials {
            return Err(Error::ApiMisuse(
                "PutObject::materials: not valid in this state",
            ));
        }
        let placement = self.intent.config.placement();
        if m.envelope().placement() != placement
            || m.envelope().content_algorithm() != self.intent.config.suite().content()
        {
            return Err(Error::InvalidConfig);
        }
        let len = self.intent.plaintext_len;
        let enc = Encryptor::new_deterministic(m, random, len)?;
        let env = enc.envelope().clone();
        if placement == Placement::InstructionFile {
            self.ifile_len = env.write_instruction_file(&mut self.ifile)?;
        }
        self.envelope = Some(env);
        let single = len.is_some_and(|l| l <= self.intent.multipart_threshold);
        if single {
            self.encryptor = Some(enc);
            self.phase = Phase::Single;
        } else if len.is_none() {
            self.encryptor = Some(enc);
            self.phase = Phase::Probe;
        } else {
            if let Some(l) = len {
                self.plan = Some(PartPlan::new(l, self.intent.part_size)?);
            }
            self.gcm = Some(enc.into_parallel()?);
            self.multipart = true;
            self.phase = Phase::Create;
        }
        Ok(())
    }
}

#[allow(dead_code)]
const _: () = {
    // The part table is indexed by number modulo its size: it must hold every part in flight.
    assert!(MAX_PARTS_IN_FLIGHT as usize >= 1);
};
