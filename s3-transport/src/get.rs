//! GET: a driver of the core's [`GetObject`] machine over aws-sdk-s3 and tokio. The machine
//! decides which requests to make, checks every response, and releases only verified plaintext;
//! this file only performs the requests, moves the bytes, and writes what was released.

use crate::client::{GetOptions, LargeObjectVerification, S3EncryptionClient};
use crate::error::{Error, Result};
use crate::info::{EnvelopeInfo, GetOutput, ObjectInfo, Verification};
use crate::part_bodies::{Arrival, PartBodies};
use crate::reader::ObjectReader;
use crate::sdk::{self, Answer, ReadReq};
use crate::storage::{Read, Storage};
use crate::unnamed::UnnamedFile;
use aws_sdk_s3::primitives::ByteStream;
use bytes::{Buf, Bytes};
use s3_encryption::envelope::keys::is_envelope_key;
use s3_encryption::hazmat::unverified_plaintext_storage;
use s3_encryption::object::{
    self, DescribeNext, DescribeObject, GetDone, GetIntent, GetNext, GetObject, ReadMode, Released,
    RequestId,
};
use s3_encryption::{ByteRange, Envelope};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::task::JoinSet;

/// Where released plaintext goes.
enum Output<'w, W> {
    /// Collected in memory.
    Bytes(Vec<u8>),
    /// Written in order (pieces released out of order wait; the machine bounds how many).
    Writer {
        w: &'w mut W,
        next: u64,
        held: BTreeMap<u64, Vec<u8>>,
    },
    /// Written back into the storage file at its offset (decrypted in place).
    Storage,
}

/// A response head and its body, if any.
type Answered = (Answer, Option<ByteStream>);

/// Bytes of storage writes that may wait behind the download (one part).
const WRITE_BEHIND: usize = 8 << 20;

/// Perform a read request (in a task, so that several are out at once).
async fn send_read(req: ReadReq, s3: aws_sdk_s3::Client) -> Result<Answered> {
    let mut a = sdk::read(&s3, &req).await?;
    let body = a.body.take();
    Ok((a, body))
}

/// A request task's end.
type Joined = std::result::Result<(RequestId, Result<Answered>), tokio::task::JoinError>;

/// What the driver woke up for.
enum Woke {
    /// A request task finished (boxed: a response head is large), or none was out.
    Answer(Box<Option<Joined>>),
    /// A part body sent a chunk, its end or its error.
    Chunk(Option<Arrival>),
}

/// What the driver knows about the object besides what the machine keeps.
struct Seen {
    headers: Vec<(String, String)>,
}

impl S3EncryptionClient {
    fn not_found(bucket: &str, key: &str) -> Error {
        Error::NotFound {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        }
    }

    /// The core's verdicts in the transport's words.
    pub(crate) fn machine_error(&self, e: s3_encryption::Error, bucket: &str, key: &str) -> Error {
        match e {
            s3_encryption::Error::NotFound => Self::not_found(bucket, key),
            s3_encryption::Error::NotEncrypted => Error::NotEncrypted {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            },
            s3_encryption::Error::ObjectChanged => Error::ObjectChanged,
            e => Error::Crypto(e),
        }
    }

    fn info_of(
        &self,
        bucket: &str,
        key: &str,
        env: &Envelope,
        head: &object::ObjectHead,
        headers: &[(String, String)],
        suffix: Option<&str>,
    ) -> ObjectInfo {
        let ikey = suffix.map(|s| format!("{key}{s}"));
        ObjectInfo {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            stored_len: head.stored_len(),
            plaintext_len: env.plaintext_len(head.stored_len()),
            e_tag: head.etag().map(str::to_owned),
            version_id: head.version_id().map(str::to_owned),
            envelope: EnvelopeInfo::new(env, ikey),
            user_metadata: headers
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("x-amz-meta-").map(|k| (k, v)))
                .filter(|(k, _)| !is_envelope_key(k))
                .map(|(k, v)| (k.to_owned(), v.clone()))
                .collect(),
        }
    }

    fn intent<'a>(&'a self, bucket: &'a str, key: &'a str, opts: &'a GetOptions) -> GetIntent<'a> {
        let mut i = GetIntent::new(bucket, key);
        i.version_id = opts.version_id.as_deref();
        i.policy = self.inner.policy;
        i.instruction_file_suffix = opts
            .instruction_file_suffix
            .as_deref()
            .unwrap_or(&self.inner.suffix);
        // The keyring checks the encryption context when it unwraps the key.
        i.encryption_context = None;
        i.memory_budget = self.inner.memory_budget;
        i.connections = opts.connections.unwrap_or(self.inner.connections).max(1);
        i.read_instruction_file = !self.inner.instruction_files_disabled;
        i
    }

    /// Drive one read to its end. `storage` is the random-access file offered to the machine;
    /// `opened` is told the object's description once the key is unwrapped.
    #[allow(clippy::too_many_arguments)]
    async fn drive<W: AsyncWrite + Unpin + Send>(
        &self,
        intent: GetIntent<'_>,
        opts: &GetOptions,
        mut storage: Option<&mut Storage>,
        out: &mut Output<'_, W>,
        must_fit: bool,
        mut opened: Option<tokio::sync::oneshot::Sender<ObjectInfo>>,
    ) -> Result<(GetDone, ObjectInfo)> {
        let (bucket, key) = (intent.bucket, intent.key);
        let range = range_of(&intent);
        let parallel = intent.connections > 1;
        let mut get = GetObject::new(intent)?;
        let mut tasks: JoinSet<(RequestId, Result<Answered>)> = JoinSet::new();
        let mut bodies: HashMap<RequestId, ByteStream> = HashMap::new();
        // Parallel parts, whose bodies are read at once.
        let mut parted: HashSet<RequestId> = HashSet::new();
        let mut parts = PartBodies::new();
        let mut seen: Option<Seen> = None;
        let mut info: Option<ObjectInfo> = None;
        let err = |e: s3_encryption::Error| self.machine_error(e, bucket, key);
        loop {
            let next = match get.poll() {
                Ok(n) => n,
                Err(s3_encryption::Error::InvalidRange) if range.is_some() => {
                    return Err(self.unsatisfiable(range, &get));
                }
                Err(e) => return Err(err(e)),
            };
            match next {
                GetNext::Send(id) => {
                    let r = get.request(id).map_err(err)?;
                    let req = ReadReq::of(&r);
                    if parallel && r.range.is_some() {
                        parted.insert(id);
                    }
                    let s3 = self.inner.s3.clone();
                    tasks.spawn(async move { (id, send_read(req, s3).await) });
                }
                GetNext::Wait => {
                    let woke = tokio::select! {
                        j = tasks.join_next(), if !tasks.is_empty() => Woke::Answer(Box::new(j)),
                        c = parts.next(), if !parts.is_empty() => Woke::Chunk(c),
                        else => return Err(Error::Internal("the read waits with no request out")),
                    };
                    let joined = match woke {
                        Woke::Answer(j) => match *j {
                            Some(j) => j,
                            None => {
                                return Err(Error::Internal("the read waits with no request out"));
                            }
                        },
                        Woke::Chunk(Some((id, chunk))) => {
                            feed_part(
                                &mut get,
                                &mut parts,
                                id,
                                chunk,
                                out,
                                storage.as_deref_mut(),
                                opts,
                            )
                            .await
                            .map_err(|e| match e {
                                Error::Crypto(c) => err(c),
                                e => e,
                            })?;
                            continue;
                        }
                        Woke::Chunk(None) => {
                            return Err(Error::Internal("the read waits with no request out"));
                        }
                    };
                    let (id, answer) = joined.map_err(|e| Error::Io(std::io::Error::other(e)))?;
                    let (a, body) = answer?;
                    get.response(id, a.status, a.pairs()).map_err(err)?;
                    if seen.is_none() {
                        seen = Some(Seen { headers: a.headers });
                        if must_fit
                            && let Some(o) = get.object()
                            && o.stored_len() > self.inner.memory_budget
                        {
                            return Err(Error::config(format!(
                                "s3://{bucket}/{key} is {} bytes, over the memory budget of {} bytes; stream it to a writer or a file",
                                o.stored_len(),
                                self.inner.memory_budget
                            )));
                        }
                    }
                    if let Some(b) = body {
                        bodies.insert(id, b);
                    }
                }
                GetNext::ReadBody(id) => {
                    let body = bodies
                        .remove(&id)
                        .ok_or_else(|| Error::Internal("a body was asked for that never came"))?;
                    if parted.remove(&id) {
                        parts.start(id, body);
                        continue;
                    }
                    let fed = feed(&mut get, id, body, out, storage.as_deref_mut(), opts).await;
                    fed.map_err(|e| match e {
                        Error::Crypto(c) => err(c),
                        e => e,
                    })?;
                }
                GetNext::Replay(id) => {
                    let (a, b) = get.replay_range(id).map_err(err)?;
                    let f = storage
                        .as_deref_mut()
                        .ok_or_else(|| Error::Internal("a replay without storage"))?;
                    replay(&mut get, id, f, a, b, out, opts)
                        .await
                        .map_err(|e| match e {
                            Error::Crypto(c) => err(c),
                            e => e,
                        })?;
                }
                GetNext::UnwrapKey => {
                    let env = get
                        .envelope()
                        .ok_or_else(|| Error::Internal("no envelope"))?;
                    let dk = self
                        .inner
                        .keyring
                        .unwrap_data_key(
                            env,
                            self.inner.kms.as_ref(),
                            opts.encryption_context.as_ref(),
                        )
                        .await?;
                    match get.data_key(dk) {
                        Err(s3_encryption::Error::InvalidRange) if range.is_some() => {
                            return Err(self.unsatisfiable(range, &get));
                        }
                        r => r.map_err(err)?,
                    }
                    let head = get.object().ok_or_else(|| Error::Internal("no object"))?;
                    let env = get
                        .envelope()
                        .ok_or_else(|| Error::Internal("no envelope"))?;
                    let suffix = get
                        .instruction_file_used()
                        .then_some(intent_suffix(opts, &self.inner.suffix));
                    let i = self.info_of(
                        bucket,
                        key,
                        env,
                        head,
                        seen.as_ref().map(|s| &s.headers[..]).unwrap_or(&[]),
                        suffix,
                    );
                    if let Some(tx) = opened.take() {
                        let _ = tx.send(i.clone());
                    }
                    info = Some(i);
                }
                GetNext::Done(done) => {
                    if let Some(s) = storage.as_deref_mut() {
                        s.settle().await?;
                    }
                    if let Output::Writer { w, held, .. } = out {
                        if !held.is_empty() {
                            return Err(Error::Internal("released plaintext left a gap"));
                        }
                        w.flush().await?;
                    }
                    let info = info.ok_or_else(|| Error::Internal("no object description"))?;
                    return Ok((done, info));
                }
            }
        }
    }

    fn unsatisfiable(&self, range: Option<ByteRange>, get: &GetObject<'_>) -> Error {
        let plaintext_len = match (get.envelope(), get.object()) {
            (Some(e), Some(o)) => e.plaintext_len(o.stored_len()).unwrap_or(0),
            _ => 0,
        };
        Error::RangeNotSatisfiable {
            range: range.map(range_text).unwrap_or_default(),
            plaintext_len,
        }
    }

    fn output(done: &GetDone, info: ObjectInfo, verification: Verification) -> GetOutput {
        GetOutput {
            info,
            released: done.released,
            range_first: done.range_first,
            verification,
            fetched: done.fetched,
        }
    }

    /// A verified read of `intent` (made by this crate) into `w`, in order; nothing is written
    /// that was not authenticated. Objects over the memory budget take two passes.
    pub(crate) async fn read_verified_into<W: AsyncWrite + Unpin + Send>(
        &self,
        mut intent: GetIntent<'_>,
        opts: &GetOptions,
        w: &mut W,
    ) -> Result<(GetDone, ObjectInfo)> {
        intent.memory_budget = self.inner.memory_budget;
        intent.connections = 1;
        intent.storage = false;
        let mut out = Output::Writer {
            w,
            next: 0,
            held: BTreeMap::new(),
        };
        Box::pin(self.drive(intent, opts, None, &mut out, false, None)).await
    }

    /// HEAD an object and describe its envelope (no key needed, no policy applied). A plain
    /// object is [`Error::NotEncrypted`]; a missing one [`Error::NotFound`].
    pub async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        opts: &GetOptions,
    ) -> Result<ObjectInfo> {
        let suffix = intent_suffix(opts, &self.inner.suffix);
        let mut d = DescribeObject::new(bucket, key, opts.version_id.as_deref(), suffix)?;
        let err = |e| self.machine_error(e, bucket, key);
        let mut headers = None;
        while let DescribeNext::Send(id) = d.poll().map_err(err)? {
            let req = ReadReq::of(&d.request(id).map_err(err)?);
            let (a, body) = send_read(req, self.inner.s3.clone()).await?;
            if let Some(mut b) = body {
                while let Some(c) = b.try_next().await.map_err(sdk::stream_err)? {
                    d.body(id, &c).map_err(err)?;
                }
            }
            d.response(id, a.status, a.pairs()).map_err(err)?;
            headers.get_or_insert(a.headers);
        }
        let (env, head) = match (d.envelope(), d.object()) {
            (Some(e), Some(o)) => (e, o),
            _ => return Err(Error::Internal("no envelope")),
        };
        let ifile = d.instruction_file_used().then_some(suffix);
        Ok(self.info_of(bucket, key, env, head, &headers.unwrap_or_default(), ifile))
    }

    /// Decrypt and return a whole object held in memory: it is verified before it is returned.
    /// Objects whose stored size exceeds the memory budget are refused (use
    /// [`S3EncryptionClient::get_object_to_writer`] or [`S3EncryptionClient::get_object_to_file`]).
    pub async fn get_object_bytes(
        &self,
        bucket: &str,
        key: &str,
        opts: &GetOptions,
    ) -> Result<(Vec<u8>, GetOutput)> {
        let mut out: Output<'_, tokio::io::Sink> = Output::Bytes(Vec::new());
        let mut intent = self.intent(bucket, key, opts);
        intent.connections = 1;
        let (done, info) = Box::pin(self.drive(intent, opts, None, &mut out, true, None)).await?;
        let Output::Bytes(pt) = out else {
            return Err(Error::Internal("no plaintext"));
        };
        Ok((pt, Self::output(&done, info, Verification::InMemory)))
    }

    /// Decrypt an object into `w`, releasing nothing that was not authenticated: within the memory
    /// budget it is verified in memory; above it, by [`LargeObjectVerification`]: two passes (pass
    /// two releases each 1 MiB chunk only once its bytes match what pass one authenticated), or a
    /// spill file (one GET; the file's bytes are checked the same way when they are read back). If
    /// the store serves other bytes on pass two, the read fails at the first changed chunk, and
    /// everything written before it was verified plaintext.
    pub async fn get_object_to_writer<W: AsyncWrite + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        w: &mut W,
        opts: &GetOptions,
    ) -> Result<GetOutput> {
        Box::pin(self.get_to_writer(bucket, key, w, opts, None)).await
    }

    async fn get_to_writer<W: AsyncWrite + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        w: &mut W,
        opts: &GetOptions,
        opened: Option<tokio::sync::oneshot::Sender<ObjectInfo>>,
    ) -> Result<GetOutput> {
        let mut intent = self.intent(bucket, key, opts);
        let spill = match &self.inner.large_get {
            LargeObjectVerification::SpillFile { dir } => Some(match dir {
                Some(d) => tempfile::tempfile_in(d)?,
                None => tempfile::tempfile()?,
            }),
            LargeObjectVerification::TwoPass => None,
        };
        intent.storage = spill.is_some();
        let mut file = spill.map(|f| Storage::new(f, WRITE_BEHIND));
        let mut out = Output::Writer {
            w,
            next: 0,
            held: BTreeMap::new(),
        };
        let (done, info) = self
            .drive(intent, opts, file.as_mut(), &mut out, false, opened)
            .await?;
        let v = match done.verification {
            object::Verification::InMemory => Verification::InMemory,
            object::Verification::Storage => Verification::SpillFile,
            _ => Verification::TwoPass,
        };
        Ok(Self::output(&done, info, v))
    }

    /// Decrypt an object as an [`AsyncRead`](tokio::io::AsyncRead) of verified plaintext. The
    /// object is opened and its data key unwrapped before this returns (so a missing object, a
    /// plain object or a wrong key is an error here); the body is then read by a background task
    /// exactly as [`S3EncryptionClient::get_object_to_writer`] does, and nothing reaches the
    /// reader that was not authenticated. The reader reports end of stream only after the task
    /// succeeded; any failure is an `io::Error` wrapping this crate's [`Error`] (`get_ref()` and
    /// `downcast_ref`). Dropping the reader cancels the task.
    pub async fn get_object_reader(
        &self,
        bucket: &str,
        key: &str,
        opts: &GetOptions,
    ) -> Result<ObjectReader> {
        let (mut tx, rx) = tokio::io::duplex(256 * 1024);
        let (verdict_tx, verdict_rx) = tokio::sync::oneshot::channel();
        let (opened_tx, opened_rx) = tokio::sync::oneshot::channel();
        let (this, b, k, o) = (
            self.clone(),
            bucket.to_owned(),
            key.to_owned(),
            opts.clone(),
        );
        let task = tokio::spawn(async move {
            let r = Box::pin(this.get_to_writer(&b, &k, &mut tx, &o, Some(opened_tx))).await;
            drop(tx);
            let _ = verdict_tx.send(r);
        });
        match opened_rx.await {
            Ok(info) => Ok(ObjectReader::new(info, rx, verdict_rx, task)),
            // The task ended before the key was unwrapped: its error is the answer.
            Err(_) => match verdict_rx.await {
                Ok(Err(e)) => Err(e),
                _ => Err(Error::Internal("the GET task stopped")),
            },
        }
    }

    /// Decrypt an object into the file at `path`. The plaintext is written to a temporary file
    /// beside it and named `path` only after the read succeeded, so a failure leaves no partial
    /// plaintext behind. Objects over the memory budget take one GET. On Linux (where the
    /// directory's filesystem supports `O_TMPFILE`), a GCM object is decrypted as it arrives into
    /// an *unnamed* file, which no other process can open by name, and linked into place only
    /// after the GET machine verified the whole object's tag: one pass over the bytes, and a
    /// failure (or a crash) leaves no file at all ([`Verification::UnnamedFile`]). Elsewhere the
    /// ciphertext goes to a named temporary file while it is authenticated, then it is read back,
    /// checked again chunk by chunk, and decrypted in place before the rename
    /// ([`Verification::InPlace`]). Like `aws s3 cp`, the file is not fsynced; call `sync_all` on
    /// it if you need durability.
    pub async fn get_object_to_file(
        &self,
        bucket: &str,
        key: &str,
        path: impl AsRef<Path>,
        opts: &GetOptions,
    ) -> Result<GetOutput> {
        let path = path.as_ref();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => std::path::PathBuf::from("."),
        };
        let mut intent = self.intent(bucket, key, opts);
        intent.storage = true;
        let mut out: Output<'_, tokio::io::Sink> = Output::Storage;
        if let Some(unnamed) = UnnamedFile::create_in(&dir)? {
            // Hazmat, kept: the file has no name until the machine's Done (the whole tag
            // verified); any error drops it, and with it every byte written.
            intent.unverified_plaintext_storage = Some(unverified_plaintext_storage());
            let mut f = Storage::new(unnamed.file().try_clone()?, WRITE_BEHIND);
            let (done, info) =
                Box::pin(self.drive(intent, opts, Some(&mut f), &mut out, false, None)).await?;
            f.finish(done.released).await?;
            let v = match done.verification {
                object::Verification::InMemory => Verification::InMemory,
                object::Verification::DecryptedInStorage => Verification::UnnamedFile,
                object::Verification::Storage => Verification::InPlace,
                _ => return Err(Error::Internal("an unexpected verification for a file")),
            };
            unnamed.link_as(path)?;
            return Ok(Self::output(&done, info, v));
        }
        let tmp = tempfile::NamedTempFile::new_in(&dir)?;
        let mut f = Storage::new(tmp.reopen()?, WRITE_BEHIND);
        let (done, info) =
            Box::pin(self.drive(intent, opts, Some(&mut f), &mut out, false, None)).await?;
        f.finish(done.released).await?;
        tmp.persist(path).map_err(|e| Error::Io(e.error))?;
        let v = match done.verification {
            object::Verification::InMemory => Verification::InMemory,
            _ => Verification::InPlace,
        };
        Ok(Self::output(&done, info, v))
    }

    /// **Hazmat.** Stream plaintext into `w` *before* the tag is checked (the spec's delayed
    /// authentication mode; needs `enable_delayed_authentication_mode`). Memory stays bounded
    /// whatever the object size. An `Err` at the end means the tag did not verify: everything
    /// written must be discarded.
    pub async fn get_object_delayed_authentication_hazmat<W: AsyncWrite + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        w: &mut W,
        opts: &GetOptions,
    ) -> Result<GetOutput> {
        let mut intent = self.intent(bucket, key, opts);
        intent.mode =
            ReadMode::Unauthenticated(s3_encryption::hazmat::delayed_authentication_read());
        intent.connections = 1;
        let mut out = Output::Writer {
            w,
            next: 0,
            held: BTreeMap::new(),
        };
        let (done, info) = Box::pin(self.drive(intent, opts, None, &mut out, false, None)).await?;
        Ok(Self::output(
            &done,
            info,
            Verification::DelayedAuthentication,
        ))
    }

    /// **Hazmat.** A ranged read (never authenticated; needs
    /// `enable_legacy_unauthenticated_modes`). Fetches only the bytes the core's range plan asks
    /// for, pinned to the object's ETag and version, and refuses a response that is not exactly
    /// that range of that object. `bytes=a-b`, `bytes=a-` and `bytes=-n` are accepted; a range
    /// running past the end is clamped; one starting at or past the end is
    /// [`Error::RangeNotSatisfiable`].
    pub async fn get_object_range_hazmat<W: AsyncWrite + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        range: ByteRange,
        w: &mut W,
        opts: &GetOptions,
    ) -> Result<GetOutput> {
        if !self.inner.policy.legacy_unauthenticated_modes {
            return Err(s3_encryption::Error::LegacyModeDisabled.into());
        }
        let mut intent = self.intent(bucket, key, opts);
        intent.mode = ReadMode::Unauthenticated(s3_encryption::hazmat::ranged_read(range));
        intent.connections = 1;
        let mut out = Output::Writer {
            w,
            // A range's plaintext starts where the plan says: its first piece sets the start.
            next: u64::MAX,
            held: BTreeMap::new(),
        };
        let (done, info) = Box::pin(self.drive(intent, opts, None, &mut out, false, None)).await?;
        Ok(Self::output(
            &done,
            info,
            Verification::UnauthenticatedRange,
        ))
    }
}

/// The range of a ranged read (the intent was made with one; the machine keeps it to itself).
fn range_of(intent: &GetIntent<'_>) -> Option<ByteRange> {
    match intent.mode {
        ReadMode::Unauthenticated(r) => r.range(),
        _ => None,
    }
}

fn intent_suffix<'a>(opts: &'a GetOptions, default: &'a str) -> &'a str {
    opts.instruction_file_suffix.as_deref().unwrap_or(default)
}

fn range_text(r: ByteRange) -> String {
    match r {
        ByteRange::Inclusive(a, b) => format!("bytes={a}-{b}"),
        ByteRange::From(a) => format!("bytes={a}-"),
        ByteRange::Suffix(n) => format!("bytes=-{n}"),
    }
}

/// Where the bytes of one `body` call go, besides the writer or the collected bytes: a range of
/// the piece that belongs in the storage file at an offset.
type StoreSpan = (u64, Range<usize>);

/// Pass on what one `body` call released: plaintext for the caller goes out here; what belongs in
/// the storage file (ciphertext in pass one, plaintext decrypted in place) is returned as a span
/// of `piece` for the caller to write.
async fn emit<W: AsyncWrite + Unpin + Send>(
    released: Released,
    piece: &[u8],
    out: &mut Output<'_, W>,
    opts: &GetOptions,
) -> Result<Option<StoreSpan>> {
    match released {
        Released::Nothing => {}
        Released::Store { offset } => return Ok(Some((offset, 0..piece.len()))),
        Released::Plaintext { start, len, offset } => {
            let data = &piece[start..start + len];
            if let Some(p) = &opts.progress {
                p(len as u64);
            }
            match out {
                Output::Bytes(v) => {
                    if offset as usize != v.len() {
                        return Err(Error::Internal("released plaintext out of order"));
                    }
                    v.extend_from_slice(data);
                }
                Output::Storage => return Ok(Some((offset, start..start + len))),
                Output::Writer { w, next, held } => {
                    if *next == u64::MAX {
                        *next = offset;
                    }
                    if offset != *next {
                        held.insert(offset, data.to_vec());
                        return Ok(None);
                    }
                    w.write_all(data).await?;
                    *next += len as u64;
                    while let Some(entry) = held.first_entry() {
                        if *entry.key() != *next {
                            break;
                        }
                        let d = entry.remove();
                        w.write_all(&d).await?;
                        *next += d.len() as u64;
                    }
                }
            }
        }
    }
    Ok(None)
}

/// Hand `buf` to the storage's background writer when `span` of it is to be stored; `buf` is
/// then the spare buffer the writer gave back.
async fn store(
    storage: Option<&mut Storage>,
    buf: &mut Vec<u8>,
    span: Option<StoreSpan>,
) -> Result<()> {
    let Some(span) = span else { return Ok(()) };
    let s = storage.ok_or_else(|| Error::Internal("a store without storage"))?;
    *buf = s.write_behind(std::mem::take(buf), vec![span]).await?;
    Ok(())
}

/// Feed a streamed response body to the machine in the pieces it asks for.
async fn feed<W: AsyncWrite + Unpin + Send>(
    get: &mut GetObject<'_>,
    id: RequestId,
    mut body: ByteStream,
    out: &mut Output<'_, W>,
    mut storage: Option<&mut Storage>,
    opts: &GetOptions,
) -> Result<()> {
    let mut carry = Bytes::new();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let f = get.feed(id)?;
        // Nothing more is expected: read one byte more to see that the body really ends.
        let want = f.len.max(1);
        buf.clear();
        while buf.len() < want {
            if carry.is_empty() {
                match body.try_next().await.map_err(sdk::stream_err)? {
                    Some(c) => carry = c,
                    None => break,
                }
                continue;
            }
            let take = (want - buf.len()).min(carry.len());
            buf.extend_from_slice(&carry[..take]);
            carry.advance(take);
            if !f.exact {
                break;
            }
        }
        if buf.is_empty() {
            get.end_of_body(id)?;
            return Ok(());
        }
        let released = get.body(id, &mut buf)?;
        let span = emit(released, &buf, out, opts).await?;
        store(storage.as_deref_mut(), &mut buf, span).await?;
    }
}

/// Feed one arrival of a part body to the machine. A piece the machine takes whole goes as it
/// is; otherwise it is gathered into pieces of the lengths the machine asks for. At the end the
/// rest goes, and the machine checks the length.
async fn feed_part<W: AsyncWrite + Unpin + Send>(
    get: &mut GetObject<'_>,
    parts: &mut PartBodies,
    id: RequestId,
    arrival: Result<Option<Vec<u8>>>,
    out: &mut Output<'_, W>,
    mut storage: Option<&mut Storage>,
    opts: &GetOptions,
) -> Result<()> {
    let lost = || Error::Internal("a part body arrived for no request");
    let Some(mut data) = arrival? else {
        let mut piece = parts.finish(id).ok_or_else(lost)?;
        if !piece.is_empty() {
            let f = get.feed(id)?;
            if !f.exact || piece.len() == f.len {
                let released = get.body(id, &mut piece)?;
                let span = emit(released, &piece, out, opts).await?;
                store(storage.as_deref_mut(), &mut piece, span).await?;
            }
        }
        parts.recycle(piece);
        // A short body is the machine's to refuse.
        get.end_of_body(id)?;
        return Ok(());
    };
    let f = get.feed(id)?;
    let gathering = !parts.piece(id).ok_or_else(lost)?.is_empty();
    if !gathering && !data.is_empty() && data.len() <= f.len && (!f.exact || data.len() == f.len) {
        let released = get.body(id, &mut data)?;
        let span = emit(released, &data, out, opts).await?;
        store(storage, &mut data, span).await?;
        parts.recycle(data);
        return Ok(());
    }
    let mut rest = &data[..];
    while !rest.is_empty() {
        let f = get.feed(id)?;
        if f.len == 0 {
            // More than was asked for: the machine refuses it.
            get.body(id, &mut [rest[0]])?;
            return Err(Error::Internal("a part body ran past its range"));
        }
        let piece = parts.piece(id).ok_or_else(lost)?;
        if piece.capacity() == 0 {
            piece.reserve_exact(f.len);
        }
        let take = f.len.saturating_sub(piece.len()).min(rest.len());
        piece.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        if piece.len() >= f.len {
            let mut full = std::mem::take(piece);
            let released = get.body(id, &mut full)?;
            let span = emit(released, &full, out, opts).await?;
            store(storage.as_deref_mut(), &mut full, span).await?;
            full.clear();
            *parts.piece(id).ok_or_else(lost)? = full;
        }
    }
    parts.recycle(data);
    Ok(())
}

/// Feed `[a, b]` of the storage back to the machine (storage mode, pass two). The next piece
/// is read (guessing it is as long as this one) while this one is checked and decrypted.
async fn replay<W: AsyncWrite + Unpin + Send>(
    get: &mut GetObject<'_>,
    id: RequestId,
    f: &mut Storage,
    a: u64,
    b: u64,
    out: &mut Output<'_, W>,
    opts: &GetOptions,
) -> Result<()> {
    let mut at = a;
    let end = b + 1;
    let mut ahead: Option<Read> = None;
    loop {
        let want = get.feed(id)?.len;
        if at >= end || want == 0 {
            if let Some(r) = ahead {
                let unused = r.bytes().await?;
                f.recycle(unused);
            }
            get.end_of_body(id)?;
            return Ok(());
        }
        let n = want.min((end - at) as usize);
        let read = match ahead.take() {
            Some(r) if r.covers(at, n) => r,
            other => {
                if let Some(r) = other {
                    let unused = r.bytes().await?;
                    f.recycle(unused);
                }
                let buf = f.spare();
                f.read_at(at, n, buf).await?
            }
        };
        let mut buf = read.bytes().await?;
        let next = at + n as u64;
        if next < end {
            let m = n.min((end - next) as usize);
            let spare = f.spare();
            ahead = Some(f.read_at(next, m, spare).await?);
        }
        let released = get.body(id, &mut buf)?;
        let span = emit(released, &buf, out, opts).await?;
        store(Some(&mut *f), &mut buf, span).await?;
        f.recycle(buf);
        at = next;
    }
}
