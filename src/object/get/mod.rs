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
//!   verified, then decrypted in place. For GCM the host may do that AEAD itself (hardware AES,
//!   e.g. WebCrypto): [`GetObject::host_aead`] hands it the checked content key, nonce and AAD
//!   instead, and [`GetObject::host_aead_result`] releases only after its AEAD verified the tag
//!   (see [`crate::HostAead`] for why that is not hazmat).
//! * **Storage** (the caller offers random-access storage, e.g. the destination file): pass one
//!   copies the ciphertext there while it is authenticated; pass two reads it back and releases
//!   each chunk after its bytes match pass one's (so a changed file is caught too). One GET.
//! * **Unverified plaintext storage** (hazmat, GCM only: the caller also gives
//!   [`GetIntent::unverified_plaintext_storage`], its promise that the storage has no name and no
//!   reader until `Done`): the body is authenticated and decrypted in one fused pass as it
//!   arrives, and each piece goes to the storage as plaintext that is not yet verified
//!   ([`Released::Store`]). [`GetNext::Done`] comes only after the whole object's tag verified:
//!   that is when the caller may expose the storage. One GET, one pass over the bytes.
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

mod body;
mod host_aead;
mod plan;
mod response;

use plan::Digests;

use super::INSTRUCTION_FILE_LIMIT;
use super::head::{ObjectHead, ResponseHead, read_head};
use super::lookup::EnvelopeLookup;
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
    /// **Hazmat** (with `storage`): the caller's promise that its storage is unnamed and
    /// unreadable until [`GetNext::Done`] and discarded on any error, which lets the machine put
    /// GCM plaintext there before the tag is checked (one pass instead of two). See
    /// [`crate::hazmat::UnverifiedPlaintextStorage`]. `None` (the default): the storage only ever
    /// holds ciphertext until a chunk is verified.
    pub unverified_plaintext_storage: Option<crate::hazmat::UnverifiedPlaintextStorage>,
    /// Concurrent ranged GETs for objects over one part (1: a single GET per pass).
    pub connections: u16,
    /// Part size of parallel ranged GETs (a multiple of [`DIGEST_CHUNK`], at least 8 MiB).
    pub part_size: u64,
    /// Send a HEAD before the first GET (for callers that cannot hold a response body open while
    /// they make another request); parallel and ranged reads always do.
    pub head_first: bool,
    /// Fetch the instruction file when the object's metadata holds no envelope (the default).
    /// `false` is the spec's `disableInstructionFile`: such an object is refused
    /// ([`Error::InstructionFileRequired`], or [`Error::NotEncrypted`] when its metadata names no
    /// envelope key at all) without a request for the file.
    pub read_instruction_file: bool,
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
            unverified_plaintext_storage: None,
            connections: 1,
            part_size: DEFAULT_PARALLEL_PART,
            head_first: false,
            read_instruction_file: true,
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
    /// Decrypted into the caller's storage as it arrived (the hazmat
    /// [`GetIntent::unverified_plaintext_storage`]); the whole object's tag and length verified
    /// before `Done`, so from `Done` on the storage holds verified plaintext.
    DecryptedInStorage,
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
    /// Write the whole piece to the storage at `offset`. What the storage holds is never
    /// released plaintext: in storage mode it is ciphertext (pass one), and with the hazmat
    /// [`GetIntent::unverified_plaintext_storage`] it is plaintext **not yet authenticated**, which
    /// the caller must not expose before [`GetNext::Done`] and must discard on any error.
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
    /// Hazmat: fused authenticate-and-decrypt into the caller's storage, tag checked at the end.
    UnverifiedStorage,
    Delayed,
    Ranged,
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
    lookup: EnvelopeLookup,
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
    host: host_aead::HostState,
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
            lookup: EnvelopeLookup::new(),
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
            host: host_aead::HostState::None,
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
        let object = self
            .object
            .ok_or(Error::ApiMisuse("GetObject::poll: not valid in this state"))?;
        Ok(GetDone {
            verification: match self.plan {
                Plan::InMemory => Verification::InMemory,
                Plan::Storage => Verification::Storage,
                Plan::TwoPass => Verification::TwoPass,
                Plan::UnverifiedStorage => Verification::DecryptedInStorage,
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
            .ok_or(Error::ApiMisuse("GetObject::poll: not valid in this state"))?;
        let id = RequestId(self.next_id);
        self.next_id = self
            .next_id
            .checked_add(1)
            .ok_or(Error::Internal("request ids exhausted"))?;
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
            .ok_or(Error::ApiMisuse(
                "GetObject: a request id this machine did not issue, or one already answered",
            ))
    }

    /// The request `id` ([`GetNext::Send`]).
    pub fn request(&self, id: RequestId) -> Result<Request<'_>> {
        let s = self.slots[self.slot(id)?].ok_or(Error::ApiMisuse(
            "GetObject::request: not valid in this state",
        ))?;
        let i = &self.intent;
        let op = match s.kind {
            Kind::Open { head: true } => Operation::HeadObject,
            _ => Operation::GetObject,
        };
        let mut r = Request::new(id, op, i.bucket, i.key);
        match s.kind {
            Kind::InstructionFile => {
                return Ok(EnvelopeLookup::request(
                    id,
                    i.bucket,
                    i.key,
                    i.instruction_file_suffix,
                ));
            }
            Kind::Open { .. } => {
                r.version_id = i.version_id;
                r.if_match = i.if_match;
            }
            _ => {
                // Every later read is pinned to the object the first response described.
                let o = self.object.as_ref().ok_or(Error::ApiMisuse(
                    "GetObject::request: not valid in this state",
                ))?;
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
        let s = self.slots[self.slot(id)?].ok_or(Error::ApiMisuse(
            "GetObject::replay_range: not valid in this state",
        ))?;
        if s.kind != (Kind::Release { replay: true }) {
            return Err(Error::ApiMisuse(
                "GetObject::replay_range: not valid in this state",
            ));
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
        self.lookup.used_instruction_file()
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
}
