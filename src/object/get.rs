//! The GET machine: open the object, fetch its instruction file when needed, have the caller
//! unwrap the data key, then read the body so that nothing is released before it is verified.
//!
//! Driving order (see [`GetObject::poll`]):
//!
//! ```text
//! let mut get = GetObject::new(intent)?;
//! loop {
//!     match get.poll()? {
//!         GetNext::Send(id) => {            // get.request(id): HEAD or GET, pinned and capped
//!             let resp = http.send(get.request(id)?);
//!             get.response(id, resp.status, resp.headers)?;
//!             // keep resp.body: the machine asks for it with ReadBody (maybe after other steps)
//!         }
//!         GetNext::ReadBody(id) => loop {   // feed the body in pieces of get.feed(id)
//!             let piece = read(body[id], get.feed(id));
//!             if piece.is_empty() { get.end_of_body(id)?; break }
//!             match get.body(id, &mut piece)? {
//!                 Released::Plaintext { start, len, offset } => emit(offset, &piece[start..start + len]),
//!                 Released::Store { offset } => storage.write_at(offset, &piece),
//!                 Released::Nothing => {}
//!             }
//!         },
//!         GetNext::Replay(id) => ..,        // storage mode: read get.replay_range(id) back, as a body
//!         GetNext::UnwrapKey => get.data_key(keyring.unwrap(get.key_request()?)?)?,
//!         GetNext::Wait => { /* deliver a response of an outstanding request first */ }
//!         GetNext::Done(done) => break,
//!     }
//! }
//! ```
//!
//! How a verified read releases plaintext, chosen from the stored length:
//! * **In memory** (stored length ≤ the memory budget): the whole body in one caller buffer,
//!   verified, then decrypted in place.
//! * **Storage** (the caller offers random-access storage, e.g. the destination file): pass one
//!   copies the ciphertext there while it is authenticated; pass two reads it back and releases
//!   each chunk after its bytes match pass one's (so a changed file is caught too). One GET.
//! * **Two passes**: pass one authenticates the object from S3, recording a digest of every
//!   [`DIGEST_CHUNK`] (for GCM the chunk's GHASH under the object's hash key `H`, which the store
//!   never learns, so it cannot make other bytes with the same value; for legacy CBC, SHA-256);
//!   pass two is a second GET pinned to the ETag and version, and releases a chunk only when its
//!   bytes have pass one's digest. No released byte differs from an authenticated one, whatever the
//!   store says about ETags, lengths or versions.
//!
//! With [`GetIntent::connections`] > 1, objects over one part are fetched as that many concurrent
//! ranged GETs (each checked against its `Content-Range`), authenticated as GCM segments whose
//! partial values combine into the tag.

use super::INSTRUCTION_FILE_LIMIT;
use super::head::{EnvelopeMetadata, ObjectHead, ResponseHead, read_head};
use super::request::{Operation, Request, RequestId};
use crate::decrypt::Decryptor;
use crate::envelope::{ContentAlgorithm, Envelope};
use crate::error::{Error, Result};
use crate::gcm::Gcm;
use crate::hazmat::RangedStream;
use crate::hazmat::{DelayedRelease, ReadKind, UnauthenticatedRead};
use crate::parallel::{ParallelGcm, PartialGhash};
use crate::policy::DecryptPolicy;
use crate::range::RangePlan;
use crate::secret::DataKey;
use crate::wrap::{EncryptionContext, KeyRequest};
use sha2::Digest as _;
use subtle::ConstantTimeEq;

/// Bytes per digest in the two-pass and storage modes (pass two releases plaintext in pieces of
/// this size).
pub const DIGEST_CHUNK: u64 = 1 << 20;

/// The default part size of parallel ranged GETs.
pub const DEFAULT_PARALLEL_PART: u64 = 8 << 20;

/// At most this many ranged GETs in flight.
pub const MAX_CONNECTIONS: u16 = 16;

const SLOTS: usize = MAX_CONNECTIONS as usize + 2;

/// How plaintext may be released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadMode {
    /// The whole object, verified before any byte is released (the default).
    Verified,
    /// **Hazmat.** A read that releases unauthenticated plaintext, made only by
    /// [`crate::hazmat::delayed_authentication_read`] (needs
    /// [`DecryptPolicy::delayed_authentication`]) or [`crate::hazmat::ranged_read`] (needs
    /// [`DecryptPolicy::legacy_unauthenticated_modes`]).
    Unauthenticated(crate::hazmat::UnauthenticatedRead),
}

/// What to read, and how.
#[derive(Debug, Clone, Copy)]
pub struct GetIntent<'a> {
    /// Bucket.
    pub bucket: &'a str,
    /// Object key.
    pub key: &'a str,
    /// A version to read (default: the current one).
    pub version_id: Option<&'a str>,
    /// `If-Match` for the first request: read only the object with this ETag (a 412, or another
    /// ETag in the answer, is [`Error::ObjectChanged`]). Later requests are pinned to the first
    /// response's ETag and version whatever this says.
    pub if_match: Option<&'a str>,
    /// How plaintext may be released.
    pub mode: ReadMode,
    /// What may be decrypted.
    pub policy: DecryptPolicy,
    /// The instruction-file suffix (default `.instruction`).
    pub instruction_file_suffix: &'a str,
    /// The KMS encryption context expected on the object; `None` accepts the stored one (KMS
    /// discovery). Ignored for other wraps.
    pub encryption_context: Option<EncryptionContext<'a>>,
    /// Objects up to this stored size are verified in one caller buffer.
    pub memory_budget: u64,
    /// The caller offers random-access storage (a file) for objects over the budget.
    pub storage: bool,
    /// Concurrent ranged GETs for objects over one part (1: a single GET per pass).
    pub connections: u16,
    /// Part size of parallel ranged GETs (a multiple of [`DIGEST_CHUNK`], at least 8 MiB).
    pub part_size: u64,
    /// Send a HEAD before the first GET (for callers that cannot hold a response body open while
    /// they make another request); parallel and ranged reads always do.
    pub head_first: bool,
}

impl<'a> GetIntent<'a> {
    /// A verified read of `bucket/key` with the defaults: REQUIRE_ENCRYPT_REQUIRE_DECRYPT, suffix
    /// `.instruction`, a 64 MiB budget, no storage, one connection.
    pub fn new(bucket: &'a str, key: &'a str) -> Self {
        GetIntent {
            bucket,
            key,
            version_id: None,
            if_match: None,
            mode: ReadMode::Verified,
            policy: DecryptPolicy::new(),
            instruction_file_suffix: crate::envelope::keys::INSTRUCTION_SUFFIX,
            encryption_context: Some(&[]),
            memory_budget: 64 << 20,
            storage: false,
            connections: 1,
            part_size: DEFAULT_PARALLEL_PART,
            head_first: false,
        }
    }
}

/// How the released plaintext was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verification {
    /// The whole object in one buffer, verified, then decrypted.
    InMemory,
    /// Copied into the caller's storage while verified; released from there chunk by chunk after
    /// each chunk matched.
    Storage,
    /// Verified by a first pass; released by a second, chunk by chunk after each chunk matched.
    TwoPass,
    /// Released before the tag was checked; the tag verified at the end.
    DelayedAuthentication,
    /// A ranged read: never authenticated.
    UnauthenticatedRange,
}

/// What [`GetObject::poll`] asks for.
#[allow(clippy::large_enum_variant)] // no allocator: the result lives inline
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GetNext {
    /// Make this request ([`GetObject::request`]); report its head with [`GetObject::response`]
    /// and keep its body until [`GetNext::ReadBody`] asks for it.
    Send(RequestId),
    /// Feed this response's body now: [`GetObject::feed`], [`GetObject::body`],
    /// [`GetObject::end_of_body`].
    ReadBody(RequestId),
    /// Read [`GetObject::replay_range`] back from the storage and feed it like a body.
    Replay(RequestId),
    /// Unwrap the data key: [`GetObject::key_request`], then [`GetObject::data_key`].
    UnwrapKey,
    /// Requests are outstanding and nothing else can start: hand back one of their results.
    Wait,
    /// Finished: every released byte was verified (or the mode said otherwise).
    Done(GetDone),
}

/// The result of a finished read.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct GetDone {
    /// How the plaintext was verified.
    pub verification: Verification,
    /// Plaintext bytes released (the object's plaintext length, or the range's).
    pub released: u64,
    /// For ranged reads, the first plaintext byte.
    pub range_first: Option<u64>,
    /// Body bytes received from S3, all passes.
    pub fetched: u64,
    /// The object read.
    pub object: ObjectHead,
}

/// What one [`GetObject::body`] call released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Nothing yet.
    Nothing,
    /// `piece[start..start + len]` is plaintext of the object (verified unless the mode is a
    /// hazmat one), at plaintext offset `offset`.
    Plaintext {
        /// Start in the piece.
        start: usize,
        /// Length.
        len: usize,
        /// Offset of these bytes in the object's plaintext.
        offset: u64,
    },
    /// Storage mode, pass one: write the piece (ciphertext) to the storage at `offset`.
    Store {
        /// Offset in the storage.
        offset: u64,
    },
}

/// How many bytes the next [`GetObject::body`] call takes: exactly `len` when `exact` (fewer only
/// if the body ends), else at most `len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feed {
    /// The size.
    pub len: usize,
    /// Whether the piece must be exactly that long.
    pub exact: bool,
}

// ---------------------------------------------------------------- state

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// HEAD or whole GET of the object.
    Open {
        head: bool,
    },
    InstructionFile,
    /// Body GET of the object for pass one, in memory, or delayed; `whole` without a range.
    Body,
    /// Pass-two GET or storage replay.
    Release {
        replay: bool,
    },
    /// Hazmat ranged GET.
    Ranged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Issued,
    Sent,
    Answered,
    Reading,
}

#[derive(Clone, Copy)]
struct Slot {
    id: RequestId,
    kind: Kind,
    state: SlotState,
    /// Stored-body bytes `[first, last]` this request covers (for bodies).
    first: u64,
    last: u64,
    /// Whether a `Range` header is sent.
    ranged: bool,
    received: u64,
}

impl Slot {
    fn remaining(&self) -> u64 {
        (self.last + 1 - self.first).saturating_sub(self.received)
    }
    fn at(&self) -> u64 {
        self.first + self.received
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    InstructionFile,
    Key,
    Body,
    Release,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    InMemory,
    Storage,
    TwoPass,
    Delayed,
    Ranged,
}

/// Chunk digests of pass one.
struct Digests {
    #[cfg(feature = "alloc")]
    v: alloc::vec::Vec<[u8; 32]>,
    #[cfg(not(feature = "alloc"))]
    v: [[u8; 32]; 512],
    chunk: u64,
}

impl Digests {
    fn new() -> Self {
        Digests {
            #[cfg(feature = "alloc")]
            v: alloc::vec::Vec::new(),
            #[cfg(not(feature = "alloc"))]
            v: [[0; 32]; 512],
            chunk: DIGEST_CHUNK,
        }
    }
    /// Size the table for `ct_len` ciphertext bytes (without an allocator the chunk grows so
    /// that 512 digests cover the object).
    fn size_for(&mut self, ct_len: u64) -> Result<()> {
        let n = ct_len.div_ceil(DIGEST_CHUNK);
        #[cfg(feature = "alloc")]
        {
            let n = usize::try_from(n).map_err(|_| Error::TooLarge)?;
            self.v.try_reserve_exact(n).map_err(|_| Error::TooLarge)?;
            self.v.resize(n, [0; 32]);
        }
        #[cfg(not(feature = "alloc"))]
        {
            let per = n.div_ceil(self.v.len() as u64).max(1);
            self.chunk = DIGEST_CHUNK * per;
        }
        Ok(())
    }
    fn count(&self, ct_len: u64) -> u64 {
        ct_len.div_ceil(self.chunk)
    }
    fn get(&self, i: u64) -> &[u8; 32] {
        &self.v[i as usize]
    }
    fn set(&mut self, i: u64, d: [u8; 32]) {
        self.v[i as usize] = d;
    }
}

/// Pass-one hashing of one request's bytes, chunk by chunk.
#[allow(clippy::large_enum_variant)] // no allocator: the engine lives inline
enum Hasher {
    Gcm {
        g: Gcm<aes::Aes256>,
        chunk_start: u64,
    },
    Sha {
        h: sha2::Sha256,
        chunk_start: u64,
    },
}

/// The CBC state of a sequential release (legacy objects).
type CbcRelease = crate::decrypt::CbcInPlace;

/// A read of one object. See the [module documentation](crate::object) for the driving order.
pub struct GetObject<'a> {
    intent: GetIntent<'a>,
    phase: Phase,
    plan: Plan,
    error: Option<Error>,
    next_id: u32,
    slots: [Option<Slot>; SLOTS],
    hashers: [Option<Hasher>; SLOTS],
    open_id: Option<RequestId>,
    object: Option<ObjectHead>,
    meta: EnvelopeMetadata,
    ifile: [u8; INSTRUCTION_FILE_LIMIT],
    ifile_len: usize,
    envelope: Option<Envelope>,
    decryptor: Option<Decryptor>,
    parallel: Option<ParallelGcm>,
    cbc: Option<CbcRelease>,
    delayed: Option<DelayedRelease>,
    ranged: Option<RangedStream>,
    range_plan: Option<RangePlan>,
    digests: Digests,
    /// Pass one: bytes authenticated so far, per chunk completion.
    chunks_done: u64,
    tag: [u8; 16],
    /// Pass-one parts issued / completed (parallel), and pass-two ones.
    parts_issued: u64,
    parts_done: u64,
    released: u64,
    fetched: u64,
    declared_len: Option<u64>,
}

impl core::fmt::Debug for GetObject<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GetObject")
            .field("bucket", &self.intent.bucket)
            .field("key", &self.intent.key)
            .field("phase", &self.phase)
            .field("plan", &self.plan)
            .field("released", &self.released)
            .finish_non_exhaustive()
    }
}

impl Drop for GetObject<'_> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.ifile[..]);
    }
}

impl<'a> GetObject<'a> {
    /// Start a read. The intent is checked: a hazmat mode its policy does not allow is
    /// [`Error::LegacyModeDisabled`]; a bad part size or connection count [`Error::InvalidConfig`].
    pub fn new(mut intent: GetIntent<'a>) -> Result<Self> {
        if let ReadMode::Unauthenticated(r) = intent.mode
            && !r.allowed(&intent.policy)
        {
            return Err(Error::LegacyModeDisabled);
        }
        if intent.connections == 0 || intent.connections > MAX_CONNECTIONS {
            return Err(Error::InvalidConfig);
        }
        if intent.part_size < 8 << 20 || !intent.part_size.is_multiple_of(DIGEST_CHUNK) {
            return Err(Error::InvalidConfig);
        }
        if intent.instruction_file_suffix.is_empty() {
            return Err(Error::InvalidConfig);
        }
        if matches!(
            intent.mode,
            ReadMode::Unauthenticated(UnauthenticatedRead(ReadKind::Range(_)))
        ) || intent.connections > 1
        {
            intent.head_first = true;
        }
        Ok(GetObject {
            intent,
            phase: Phase::Open,
            plan: Plan::InMemory,
            error: None,
            next_id: 1,
            slots: [None; SLOTS],
            hashers: [const { None }; SLOTS],
            open_id: None,
            object: None,
            meta: EnvelopeMetadata::new(),
            ifile: [0; INSTRUCTION_FILE_LIMIT],
            ifile_len: 0,
            envelope: None,
            decryptor: None,
            parallel: None,
            cbc: None,
            delayed: None,
            ranged: None,
            range_plan: None,
            digests: Digests::new(),
            chunks_done: 0,
            tag: [0; 16],
            parts_issued: 0,
            parts_done: 0,
            released: 0,
            fetched: 0,
            declared_len: None,
        })
    }

    // ------------------------------------------------------------ driving

    /// What the machine needs next. After an error every call returns that error.
    pub fn poll(&mut self) -> Result<GetNext> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.poll_inner();
        if let Err(e) = r {
            self.error = Some(e);
        }
        r
    }

    fn poll_inner(&mut self) -> Result<GetNext> {
        // A request waiting to be sent goes first.
        if let Some(s) = self
            .slots
            .iter_mut()
            .flatten()
            .find(|s| s.state == SlotState::Issued)
        {
            s.state = SlotState::Sent;
            return Ok(match s.kind {
                Kind::Release { replay: true } => {
                    s.state = SlotState::Reading;
                    GetNext::Replay(s.id)
                }
                _ => GetNext::Send(s.id),
            });
        }
        // A body to read now.
        if let Some(s) = self.slots.iter_mut().flatten().find(|s| {
            s.state == SlotState::Answered
                && (s.kind != Kind::Open { head: false } || self.phase == Phase::Body)
        }) {
            s.state = SlotState::Reading;
            return Ok(GetNext::ReadBody(s.id));
        }
        match self.phase {
            Phase::Open => {
                if self.open_id.is_none() {
                    let head = self.intent.head_first;
                    let id = self.issue(Kind::Open { head }, 0, 0, false)?;
                    self.open_id = Some(id);
                    return self.poll_inner();
                }
                Ok(GetNext::Wait)
            }
            Phase::InstructionFile => Ok(GetNext::Wait),
            Phase::Key => Ok(GetNext::UnwrapKey),
            Phase::Body | Phase::Release => {
                if self.issue_parts()? {
                    return self.poll_inner();
                }
                if self.slots.iter().flatten().next().is_none() {
                    return self.advance();
                }
                Ok(GetNext::Wait)
            }
            Phase::Done => Ok(GetNext::Done(self.done()?)),
        }
    }

    fn done(&self) -> Result<GetDone> {
        let object = self.object.ok_or(Error::InvalidState)?;
        Ok(GetDone {
            verification: match self.plan {
                Plan::InMemory => Verification::InMemory,
                Plan::Storage => Verification::Storage,
                Plan::TwoPass => Verification::TwoPass,
                Plan::Delayed => Verification::DelayedAuthentication,
                Plan::Ranged => Verification::UnauthenticatedRange,
            },
            released: self.released,
            range_first: self.range_plan.map(|p| p.first),
            fetched: self.fetched,
            object,
        })
    }

    fn issue(&mut self, kind: Kind, first: u64, last: u64, ranged: bool) -> Result<RequestId> {
        let i = self
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(Error::InvalidState)?;
        let id = RequestId(self.next_id);
        self.next_id = self.next_id.checked_add(1).ok_or(Error::InvalidState)?;
        self.slots[i] = Some(Slot {
            id,
            kind,
            state: SlotState::Issued,
            first,
            last,
            ranged,
            received: 0,
        });
        self.hashers[i] = None;
        Ok(id)
    }

    fn slot(&self, id: RequestId) -> Result<usize> {
        self.slots
            .iter()
            .position(|s| s.is_some_and(|s| s.id == id))
            .ok_or(Error::InvalidState)
    }

    /// The request `id` ([`GetNext::Send`]).
    pub fn request(&self, id: RequestId) -> Result<Request<'_>> {
        let s = self.slots[self.slot(id)?].ok_or(Error::InvalidState)?;
        let i = &self.intent;
        let op = match s.kind {
            Kind::Open { head: true } => Operation::HeadObject,
            _ => Operation::GetObject,
        };
        let mut r = Request::new(id, op, i.bucket, i.key);
        match s.kind {
            Kind::InstructionFile => {
                r.key_suffix = i.instruction_file_suffix;
                r.response_body_limit = Some(INSTRUCTION_FILE_LIMIT as u64);
            }
            Kind::Open { .. } => {
                r.version_id = i.version_id;
                r.if_match = i.if_match;
            }
            _ => {
                // Every later read is pinned to the object the first response described.
                let o = self.object.as_ref().ok_or(Error::InvalidState)?;
                r.version_id = o.version_id().or(i.version_id);
                r.if_match = o.etag();
                if s.ranged {
                    r.range = Some((s.first, s.last));
                }
                r.response_body_limit = Some(s.last + 1 - s.first);
            }
        }
        Ok(r)
    }

    /// The stored-body range `[first, last]` to read back from the storage ([`GetNext::Replay`]).
    pub fn replay_range(&self, id: RequestId) -> Result<(u64, u64)> {
        let s = self.slots[self.slot(id)?].ok_or(Error::InvalidState)?;
        if s.kind != (Kind::Release { replay: true }) {
            return Err(Error::InvalidState);
        }
        Ok((s.first, s.last))
    }

    /// The object, once its first response arrived.
    pub fn object(&self) -> Option<&ObjectHead> {
        self.object.as_ref()
    }

    /// The envelope, once parsed.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.envelope.as_ref()
    }

    /// The instruction-file key suffix read, when the envelope came from an instruction file.
    pub fn instruction_file_used(&self) -> bool {
        self.ifile_len > 0
    }

    /// Plaintext bytes released so far.
    pub fn released(&self) -> u64 {
        self.released
    }

    fn fail(&mut self, e: Error) -> Error {
        if self.error.is_none() {
            self.error = Some(e);
        }
        e
    }

    // ------------------------------------------------------------ responses

    /// Report the status and headers of the response to `id` (header names in any case; the user
    /// metadata as `x-amz-meta-*`). A status the request cannot succeed with is the error it means:
    /// 404 [`Error::NotFound`], 412 on a pinned read [`Error::ObjectChanged`], 416
    /// [`Error::InvalidRange`], others [`Error::RequestFailed`].
    pub fn response<'h, I>(&mut self, id: RequestId, status: u16, headers: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.response_inner(id, status, headers);
        r.map_err(|e| self.fail(e))
    }

    fn response_inner<'h, I>(&mut self, id: RequestId, status: u16, headers: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        let i = self.slot(id)?;
        let mut s = self.slots[i].ok_or(Error::InvalidState)?;
        if s.state != SlotState::Sent {
            return Err(Error::InvalidState);
        }
        match s.kind {
            Kind::Open { head } => {
                let h = read_head(status, headers, Some(&mut self.meta))?;
                h.check_status(self.intent.version_id.is_some() || self.intent.if_match.is_some())?;
                if let (Some(want), Some(got)) = (self.intent.if_match, h.etag.as_ref())
                    && !super::head::same_etag(want, got.as_str())
                {
                    // A store that ignores If-Match: the object is not the one asked for.
                    return Err(Error::ObjectChanged);
                }
                if h.content_range.is_some() {
                    return Err(Error::UnexpectedResponse(
                        "a whole-object response carries a Content-Range",
                    ));
                }
                let len = h
                    .content_length
                    .ok_or(Error::UnexpectedResponse("no Content-Length"))?;
                if let (Some(want), Some(got)) = (self.intent.version_id, h.version_id.as_ref())
                    && want != got.as_str()
                {
                    return Err(Error::UnexpectedResponse("another version than asked for"));
                }
                self.object = Some(h.object(len));
                s.first = 0;
                s.last = len.saturating_sub(1);
                if head {
                    self.slots[i] = None;
                } else {
                    s.state = SlotState::Answered;
                    self.slots[i] = Some(s);
                }
                self.after_open()
            }
            Kind::InstructionFile => {
                let h = read_head(status, headers, None)?;
                match h.check_status(false) {
                    Err(Error::NotFound) => {
                        self.slots[i] = None;
                        // The object names envelope keys but its instruction file is gone, or
                        // it is a plain object.
                        return Err(if self.meta.is_empty() {
                            Error::NotEncrypted
                        } else {
                            Error::InstructionFileRequired
                        });
                    }
                    r => r?,
                }
                if h.content_range.is_some() {
                    return Err(Error::UnexpectedResponse(
                        "an instruction file response carries a Content-Range",
                    ));
                }
                if h.content_length
                    .is_some_and(|l| l > INSTRUCTION_FILE_LIMIT as u64)
                {
                    return Err(Error::InvalidMetadata("instruction file"));
                }
                s.state = SlotState::Answered;
                s.first = 0;
                s.last = INSTRUCTION_FILE_LIMIT as u64 - 1;
                self.slots[i] = Some(s);
                Ok(())
            }
            Kind::Body | Kind::Release { .. } | Kind::Ranged => {
                let h = read_head(status, headers, None)?;
                h.check_status(true)?;
                self.check_pinned(&h, &s)?;
                s.state = SlotState::Answered;
                self.slots[i] = Some(s);
                Ok(())
            }
        }
    }

    /// A pinned body response must be the object the first response described, and exactly the
    /// bytes asked for.
    fn check_pinned(&self, h: &ResponseHead, s: &Slot) -> Result<()> {
        let o = self.object.as_ref().ok_or(Error::InvalidState)?;
        if let (Some(a), Some(b)) = (o.etag(), h.etag.as_ref())
            && a != b.as_str()
        {
            return Err(Error::ObjectChanged);
        }
        if let (Some(a), Some(b)) = (o.version_id(), h.version_id.as_ref())
            && a != b.as_str()
        {
            return Err(Error::ObjectChanged);
        }
        let want = s.last + 1 - s.first;
        if s.ranged {
            if h.status != 206 {
                return Err(Error::UnexpectedResponse(
                    "a ranged GET was not answered with 206 Partial Content",
                ));
            }
            match h.content_range {
                Some((a, b, total)) if a == s.first && b == s.last => {
                    if total.is_some_and(|t| t != o.stored_len) {
                        return Err(Error::ObjectChanged);
                    }
                }
                _ => {
                    return Err(Error::UnexpectedResponse(
                        "the Content-Range is not the range asked for",
                    ));
                }
            }
        } else if h.content_range.is_some() {
            return Err(Error::UnexpectedResponse(
                "a whole-object response carries a Content-Range",
            ));
        } else if h.status != 200 {
            return Err(Error::UnexpectedResponse("a GET was not answered with 200"));
        }
        match h.content_length {
            Some(l) if l == want => Ok(()),
            Some(_) if !s.ranged => Err(Error::ObjectChanged),
            Some(_) => Err(Error::UnexpectedResponse(
                "the Content-Length is not the length asked for",
            )),
            None => Ok(()),
        }
    }

    /// The object's first response arrived: fetch the instruction file, or parse the envelope.
    fn after_open(&mut self) -> Result<()> {
        if Envelope::needs_instruction_file(self.meta.pairs())? {
            self.phase = Phase::InstructionFile;
            self.issue(Kind::InstructionFile, 0, 0, false)?;
            return Ok(());
        }
        self.parse_envelope(None)
    }

    fn parse_envelope(&mut self, ifile: Option<usize>) -> Result<()> {
        let env = Envelope::parse(
            self.meta.pairs(),
            ifile.map(|n| &self.ifile[..n]),
            &self.intent.policy,
        )?;
        // The body must be able to hold this content before any key work, so that a body of the
        // wrong length fails the same way whatever the key unwraps to (no padding oracle).
        let stored = self.stored_len()?;
        let fits = match env.content_algorithm() {
            ContentAlgorithm::AesCbc => stored > 0 && stored.is_multiple_of(16),
            _ => stored >= 16,
        };
        if !fits {
            return Err(Error::TruncatedBody);
        }
        self.declared_len = env.unencrypted_content_length();
        self.envelope = Some(env);
        self.phase = Phase::Key;
        Ok(())
    }

    // ------------------------------------------------------------ key

    /// The key the caller must supply ([`GetNext::UnwrapKey`]): a KMS `Decrypt` request (the
    /// encryption context was checked against the intent's), or a local unwrap.
    pub fn key_request(&self) -> Result<KeyRequest<'_>> {
        let env = self.envelope.as_ref().ok_or(Error::InvalidState)?;
        match self.intent.encryption_context {
            Some(ctx) => env.key_request(ctx),
            None => env.key_request_accepting_stored_context(),
        }
    }

    /// The unwrapped data key. For V3 the key commitment is checked before anything else; a
    /// mismatch is [`Error::Authentication`].
    pub fn data_key(&mut self, key: DataKey) -> Result<()> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.data_key_inner(key);
        r.map_err(|e| self.fail(e))
    }

    fn data_key_inner(&mut self, key: DataKey) -> Result<()> {
        if self.phase != Phase::Key {
            return Err(Error::InvalidState);
        }
        let env = self.envelope.as_ref().ok_or(Error::InvalidState)?;
        let dec = env.decryptor(key, &self.intent.policy)?;
        self.plan_body(dec)
    }

    /// Unwrap the data key with a local AES master key (AES/GCM, and the legacy wraps the policy
    /// admits).
    pub fn unwrap_aes(&mut self, master: &crate::secret::AesKey) -> Result<()> {
        let env = self.envelope.as_ref().ok_or(Error::InvalidState)?;
        let dk = env.unwrap_aes(master).map_err(|e| self.fail(e))?;
        self.data_key(dk)
    }

    /// Unwrap the data key with a local RSA private key.
    #[cfg(feature = "rsa")]
    pub fn unwrap_rsa<R: rsa::rand_core::TryCryptoRng + ?Sized>(
        &mut self,
        key: &rsa::PrivateKey,
        rng: &mut R,
    ) -> Result<()> {
        let env = self.envelope.as_ref().ok_or(Error::InvalidState)?;
        let dk = env.unwrap_rsa(key, rng).map_err(|e| self.fail(e))?;
        self.data_key(dk)
    }

    // ------------------------------------------------------------ planning

    fn stored_len(&self) -> Result<u64> {
        Ok(self.object.as_ref().ok_or(Error::InvalidState)?.stored_len)
    }

    fn ct_len(&self) -> Result<u64> {
        let stored = self.stored_len()?;
        let tag = self.content()?.tag_len();
        stored.checked_sub(tag).ok_or(Error::TruncatedBody)
    }

    fn content(&self) -> Result<ContentAlgorithm> {
        Ok(self
            .envelope
            .as_ref()
            .ok_or(Error::InvalidState)?
            .content_algorithm())
    }

    fn plan_body(&mut self, dec: Decryptor) -> Result<()> {
        let stored = self.stored_len()?;
        let content = dec.content_algorithm();
        let gcm = content != ContentAlgorithm::AesCbc;
        dec.max_plaintext_len(stored)?;
        let open_body = self
            .open_id
            .and_then(|id| self.slot(id).ok())
            .filter(|&i| self.slots[i].is_some());
        self.plan = match self.intent.mode {
            ReadMode::Unauthenticated(UnauthenticatedRead(ReadKind::Range(range))) => {
                let env = self.envelope.as_ref().ok_or(Error::InvalidState)?;
                let plan = RangePlan::for_envelope(range, stored, env)?;
                let stream = crate::hazmat::ranged(dec.clone(), &plan)?;
                self.ranged = Some(stream);
                self.range_plan = Some(plan);
                self.issue(Kind::Ranged, plan.fetch_first, plan.fetch_last, true)?;
                self.plan = Plan::Ranged;
                self.phase = Phase::Body;
                self.decryptor = Some(dec);
                return Ok(());
            }
            ReadMode::Unauthenticated(UnauthenticatedRead(ReadKind::Delayed)) => Plan::Delayed,
            ReadMode::Verified if stored <= self.intent.memory_budget => Plan::InMemory,
            ReadMode::Verified if self.intent.storage => Plan::Storage,
            ReadMode::Verified => Plan::TwoPass,
        };
        match self.plan {
            Plan::Delayed => self.delayed = Some(DelayedRelease::new(&dec)?),
            Plan::Storage | Plan::TwoPass => {
                self.digests.size_for(self.ct_len()?)?;
                if gcm {
                    self.parallel = Some(dec.parallel()?);
                } else {
                    self.cbc = Some(dec.cbc_in_place()?);
                }
            }
            _ => {}
        }
        self.decryptor = Some(dec);
        self.phase = Phase::Body;
        let parallel = self.parallel_parts()?;
        match open_body {
            // The open GET's body is pass one (or the whole read).
            Some(_) if parallel.is_none() => {}
            Some(i) => {
                // Parallel reads open with HEAD, so this does not happen; refuse rather than guess.
                let _ = i;
                return Err(Error::InvalidState);
            }
            None if parallel.is_none() => {
                let last = stored.saturating_sub(1);
                self.issue(Kind::Body, 0, last, false)?;
                if stored == 0 {
                    return Err(Error::TruncatedBody);
                }
            }
            None => {}
        }
        Ok(())
    }

    /// `(part size, parts)` when the body is read as concurrent ranged GETs.
    fn parallel_parts(&self) -> Result<Option<(u64, u64)>> {
        if self.intent.connections <= 1
            || !matches!(self.plan, Plan::Storage | Plan::TwoPass)
            || self.parallel.is_none()
        {
            return Ok(None);
        }
        let stored = self.stored_len()?;
        let part = self.intent.part_size.max(self.digests.chunk);
        if stored <= part {
            return Ok(None);
        }
        Ok(Some((part, stored.div_ceil(part))))
    }

    /// Issue ranged part requests while fewer than `connections` are in flight. Returns whether
    /// one was issued.
    fn issue_parts(&mut self) -> Result<bool> {
        let Some((part, parts)) = self.parallel_parts()? else {
            return Ok(false);
        };
        let kind = match self.phase {
            Phase::Body => Kind::Body,
            Phase::Release => Kind::Release {
                replay: self.plan == Plan::Storage,
            },
            _ => return Ok(false),
        };
        let in_flight = self.slots.iter().flatten().count() as u64;
        // In-order release: never more than `connections` parts ahead of the oldest unfinished
        // one, so the caller holds at most that many parts waiting for an earlier one.
        let oldest = self
            .slots
            .iter()
            .flatten()
            .map(|s| s.first / part)
            .min()
            .unwrap_or(self.parts_issued);
        let window_ok = self.phase != Phase::Release
            || self.plan != Plan::TwoPass
            || self.parts_issued < oldest + self.intent.connections as u64;
        if self.parts_issued >= parts || in_flight >= self.intent.connections as u64 || !window_ok {
            return Ok(false);
        }
        let stored = self.stored_len()?;
        let first = self.parts_issued * part;
        let last = (first + part).min(stored) - 1;
        self.parts_issued += 1;
        self.issue(kind, first, last, true)?;
        Ok(true)
    }

    /// Every body of the current phase is in: verify (pass one) or finish.
    fn advance(&mut self) -> Result<GetNext> {
        match (self.phase, self.plan) {
            (Phase::Body, Plan::Storage | Plan::TwoPass) => {
                self.verify_pass_one()?;
                self.phase = Phase::Release;
                self.parts_issued = 0;
                self.parts_done = 0;
                self.chunks_done = 0;
                if self.parallel_parts()?.is_none() {
                    let stored = self.stored_len()?;
                    let replay = self.plan == Plan::Storage;
                    self.issue(Kind::Release { replay }, 0, stored - 1, replay)?;
                }
                self.poll_inner()
            }
            (Phase::Body | Phase::Release, _) => {
                self.phase = Phase::Done;
                Ok(GetNext::Done(self.done()?))
            }
            _ => Err(Error::InvalidState),
        }
    }

    fn verify_pass_one(&mut self) -> Result<()> {
        let ct_len = self.ct_len()?;
        let n = self.digests.count(ct_len);
        if self.chunks_done != n {
            return Err(Error::TruncatedBody);
        }
        if let Some(pg) = &self.parallel {
            let chunk = self.digests.chunk;
            let digests = &self.digests;
            let parts = (0..n).map(|i| {
                let off = i * chunk;
                let mut v = [0u8; 16];
                v.copy_from_slice(&digests.get(i)[..16]);
                PartialGhash::from_parts(off, chunk.min(ct_len - off), v)
            });
            pg.verify_iter(parts, &self.tag)?;
        }
        // CBC (legacy, unauthenticated): pass one only recorded digests; padding is checked as pass
        // two releases the last block.
        Ok(())
    }

    // ------------------------------------------------------------ bodies

    /// How many bytes to pass in the next [`GetObject::body`] call for `id`.
    pub fn feed(&self, id: RequestId) -> Result<Feed> {
        let i = self.slot(id)?;
        let s = self.slots[i].ok_or(Error::InvalidState)?;
        let rem = s.remaining();
        let cap = |n: u64| n.min(usize::MAX as u64) as usize;
        let cbc = self.content().is_ok_and(|c| c == ContentAlgorithm::AesCbc);
        Ok(match (s.kind, self.plan) {
            (Kind::InstructionFile, _) => Feed {
                len: cap(rem),
                exact: false,
            },
            (Kind::Open { .. } | Kind::Body, Plan::InMemory) => Feed {
                len: cap(rem),
                exact: true,
            },
            (Kind::Release { .. }, _) => {
                // Up to the next chunk boundary, or to the end of the ciphertext, or the tag.
                let at = s.at();
                let ct_len = self.ct_len()?;
                let end = if at < ct_len {
                    ((at / self.digests.chunk + 1) * self.digests.chunk).min(ct_len)
                } else {
                    s.last + 1
                };
                Feed {
                    len: cap((end - at).min(rem)),
                    exact: true,
                }
            }
            (_, Plan::Delayed | Plan::Ranged) if cbc => Feed {
                len: cap(rem.min(64 << 10)),
                exact: true,
            },
            _ => Feed {
                len: cap(rem.min(1 << 20)),
                exact: false,
            },
        })
    }

    /// Feed the next piece of the body of `id` (sized by [`GetObject::feed`]). The machine may
    /// decrypt it in place: it tells which bytes of `piece` are now releasable plaintext, or where
    /// to store it (storage mode, pass one). Bytes past the length the request asked for are
    /// refused.
    pub fn body(&mut self, id: RequestId, piece: &mut [u8]) -> Result<Released> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.body_inner(id, piece);
        r.map_err(|e| self.fail(e))
    }

    fn body_inner(&mut self, id: RequestId, piece: &mut [u8]) -> Result<Released> {
        let i = self.slot(id)?;
        let mut s = self.slots[i].ok_or(Error::InvalidState)?;
        if s.state != SlotState::Reading {
            return Err(Error::InvalidState);
        }
        if piece.is_empty() {
            return Ok(Released::Nothing);
        }
        if piece.len() as u64 > s.remaining() {
            return Err(if s.kind == Kind::InstructionFile {
                Error::InvalidMetadata("instruction file")
            } else {
                Error::UnexpectedResponse("the body is longer than the length asked for")
            });
        }
        let feed = self.feed(id)?;
        if piece.len() > feed.len || (feed.exact && piece.len() != feed.len) {
            return Err(Error::InvalidState);
        }
        let at = s.at();
        s.received += piece.len() as u64;
        if s.kind != Kind::InstructionFile && !(s.kind == Kind::Release { replay: true }) {
            self.fetched += piece.len() as u64;
        }
        self.slots[i] = Some(s);
        match s.kind {
            Kind::InstructionFile => {
                let n = self.ifile_len;
                self.ifile[n..n + piece.len()].copy_from_slice(piece);
                self.ifile_len += piece.len();
                Ok(Released::Nothing)
            }
            Kind::Ranged => self.body_ranged(piece),
            Kind::Release { .. } => self.body_release(at, piece),
            Kind::Open { .. } | Kind::Body => match self.plan {
                Plan::InMemory => self.body_in_memory(&s, piece),
                Plan::Delayed => self.body_delayed(at, piece),
                Plan::Storage | Plan::TwoPass => {
                    self.pass_one(i, at, piece)?;
                    Ok(if self.plan == Plan::Storage {
                        Released::Store { offset: at }
                    } else {
                        Released::Nothing
                    })
                }
                Plan::Ranged => Err(Error::InvalidState),
            },
        }
    }

    fn body_in_memory(&mut self, s: &Slot, piece: &mut [u8]) -> Result<Released> {
        if s.remaining() != 0 {
            return Err(Error::InvalidState);
        }
        let dec = self.decryptor.clone().ok_or(Error::InvalidState)?;
        let n = dec.decrypt_whole_in_place(piece)?;
        self.released = n as u64;
        Ok(Released::Plaintext {
            start: 0,
            len: n,
            offset: 0,
        })
    }

    /// Pass one: authenticate `piece` (at stored offset `at`), chunk by chunk.
    fn pass_one(&mut self, slot: usize, mut at: u64, mut piece: &[u8]) -> Result<()> {
        let ct_len = self.ct_len()?;
        let chunk = self.digests.chunk;
        while !piece.is_empty() {
            if at >= ct_len {
                // The tag (GCM) — CBC has none, so `at` never reaches here for it.
                let k = (at - ct_len) as usize;
                let n = piece.len().min(16 - k);
                self.tag[k..k + n].copy_from_slice(&piece[..n]);
                piece = &piece[n..];
                at += n as u64;
                continue;
            }
            let chunk_start = at / chunk * chunk;
            let chunk_end = (chunk_start + chunk).min(ct_len);
            let n = (piece.len() as u64).min(chunk_end - at) as usize;
            let hasher = match self.hashers[slot].take() {
                Some(h) => h,
                None => {
                    if at != chunk_start {
                        return Err(Error::InvalidState);
                    }
                    match &self.parallel {
                        Some(pg) => Hasher::Gcm {
                            g: pg.segment_engine(chunk_start),
                            chunk_start,
                        },
                        None => Hasher::Sha {
                            h: sha2::Sha256::new(),
                            chunk_start,
                        },
                    }
                }
            };
            let hasher = match hasher {
                Hasher::Gcm { mut g, chunk_start } => {
                    g.authenticate_only(&piece[..n])?;
                    Hasher::Gcm { g, chunk_start }
                }
                Hasher::Sha { mut h, chunk_start } => {
                    h.update(&piece[..n]);
                    Hasher::Sha { h, chunk_start }
                }
            };
            at += n as u64;
            piece = &piece[n..];
            if at == chunk_end {
                let idx = chunk_start / chunk;
                let mut d = [0u8; 32];
                match hasher {
                    Hasher::Gcm { g, .. } => d[..16].copy_from_slice(&g.partial()),
                    Hasher::Sha { h, .. } => d.copy_from_slice(&h.finalize()),
                }
                self.digests.set(idx, d);
                self.chunks_done += 1;
            } else {
                self.hashers[slot] = Some(hasher);
            }
        }
        Ok(())
    }

    /// Pass two (or the storage replay): `piece` is one chunk (or the tag); release it only when
    /// it matches pass one.
    fn body_release(&mut self, at: u64, piece: &mut [u8]) -> Result<Released> {
        let ct_len = self.ct_len()?;
        let changed = Error::ObjectChanged;
        if at >= ct_len {
            let k = (at - ct_len) as usize;
            if !bool::from(piece.ct_eq(&self.tag[k..k + piece.len()])) {
                return Err(changed);
            }
            return Ok(Released::Nothing);
        }
        let chunk = self.digests.chunk;
        let idx = at / chunk;
        if !at.is_multiple_of(chunk) {
            return Err(Error::InvalidState);
        }
        let want = *self.digests.get(idx);
        if let Some(pg) = &self.parallel {
            let p = pg.authenticate_segment(at, piece)?;
            if !bool::from(p.value().ct_eq(&want[..16])) {
                return Err(changed);
            }
            pg.decrypt_segment_unauthenticated(at, piece)?;
            self.released += piece.len() as u64;
            self.chunks_done += 1;
            return Ok(Released::Plaintext {
                start: 0,
                len: piece.len(),
                offset: at,
            });
        }
        // CBC: SHA-256 digests, decrypted in order.
        let d: [u8; 32] = sha2::Sha256::digest(&piece[..]).into();
        if !bool::from(d.ct_eq(&want)) {
            return Err(changed);
        }
        if self.chunks_done != idx {
            return Err(Error::InvalidState);
        }
        let cbc = self.cbc.as_mut().ok_or(Error::InvalidState)?;
        let last = at + piece.len() as u64 == ct_len;
        let n = cbc.decrypt(piece, last)?;
        self.chunks_done += 1;
        if last {
            let total = at + n as u64;
            if self.declared_len.is_some_and(|d| d != total) {
                piece.fill(0);
                return Err(Error::Authentication);
            }
        }
        self.released += n as u64;
        Ok(Released::Plaintext {
            start: 0,
            len: n,
            offset: at,
        })
    }

    /// **Hazmat** (delayed authentication): decrypt as it arrives; the tag is checked at the end.
    fn body_delayed(&mut self, at: u64, piece: &mut [u8]) -> Result<Released> {
        let ct_len = self.ct_len()?;
        let d = self.delayed.as_mut().ok_or(Error::InvalidState)?;
        let n = d.release(at, ct_len, piece, &mut self.tag)?;
        self.released += n as u64;
        Ok(Released::Plaintext {
            start: 0,
            len: n,
            offset: at,
        })
    }

    /// **Hazmat** (ranged): decrypt the fetched bytes, keep the asked-for ones.
    fn body_ranged(&mut self, piece: &mut [u8]) -> Result<Released> {
        let plan = self.range_plan.ok_or(Error::InvalidState)?;
        let stream = self.ranged.as_mut().ok_or(Error::InvalidState)?;
        let offset = plan.first + self.released;
        let written = crate::hazmat::release_range(stream, piece)?;
        self.released += written as u64;
        Ok(Released::Plaintext {
            start: 0,
            len: written,
            offset,
        })
    }

    /// The body of `id` ended. Fewer bytes than asked for is [`Error::TruncatedBody`].
    pub fn end_of_body(&mut self, id: RequestId) -> Result<()> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.end_inner(id);
        r.map_err(|e| self.fail(e))
    }

    fn end_inner(&mut self, id: RequestId) -> Result<()> {
        let i = self.slot(id)?;
        let s = self.slots[i].ok_or(Error::InvalidState)?;
        if s.state != SlotState::Reading {
            return Err(Error::InvalidState);
        }
        self.slots[i] = None;
        self.hashers[i] = None;
        match s.kind {
            Kind::InstructionFile => {
                if self.ifile_len == 0 {
                    return Err(Error::InvalidMetadata("instruction file"));
                }
                return self.parse_envelope(Some(self.ifile_len));
            }
            _ if s.remaining() != 0 => return Err(Error::TruncatedBody),
            Kind::Ranged => {
                self.ranged.take().ok_or(Error::InvalidState)?.finish()?;
            }
            Kind::Open { .. } | Kind::Body if self.plan == Plan::Delayed => {
                self.delayed
                    .take()
                    .ok_or(Error::InvalidState)?
                    .finish(&self.tag)?;
                let n = self.released;
                if self.declared_len.is_some_and(|d| d != n) {
                    return Err(Error::LengthMismatch);
                }
            }
            Kind::Body | Kind::Release { .. } => self.parts_done += 1,
            _ => {}
        }
        Ok(())
    }
}
