#![cfg(feature = "std")]
//! The object machines driven against an in-memory S3 stand-in that can misbehave per case:
//! round trips in every release mode and placement, and the hostile-storage matrix (sans-IO, so
//! every case is exact). For every hostile case: the typed error, and no released byte that
//! differs from the true plaintext.

use s3_encryption::object::{
    DeleteNext, DeleteObject, DescribeNext, DescribeObject, EncryptedPart, GetDone, GetIntent,
    GetNext, GetObject, Operation, PartJob, PutIntent, PutNext, PutObject, ReadMode, Released,
    Request, RequestBody, RequestId, RotateInstructionFile, RotateIntent, RotateNext, Verification,
};
use s3_encryption::{
    AesKey, ByteRange, DataKey, DecryptPolicy, EncryptConfig, EncryptionMaterials, Error, Placement,
};
use std::collections::{BTreeMap, HashMap};

const MIB: usize = 1 << 20;

#[derive(Clone, Default)]
struct Stored {
    metadata: Vec<(String, String)>,
    body: Vec<u8>,
    etag: String,
    version: u32,
}

/// How the stand-in lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lie {
    Honest,
    /// Flip a bit in the body of the n-th GET of the object (same ETag and length).
    FlipOnGet(usize, usize),
    /// Answer ranged GETs with 200 and the whole body.
    IgnoreRange,
    /// Answer ranged GETs with a Content-Range shifted by 16 bytes.
    ShiftRange,
    /// Send fewer body bytes than Content-Length.
    Truncate,
    /// Send more body bytes than Content-Length.
    Extend,
    /// The instruction file never ends (chunked, no length).
    EndlessInstructionFile,
    /// Thousands of metadata headers.
    ManyHeaders,
    /// One huge metadata value.
    HugeHeader,
    /// The GET answers with another ETag than the HEAD.
    HeadGetDisagree,
    /// The instruction file of another object.
    SwapInstructionFile,
    /// Every request fails with 503.
    Unavailable,
    /// The instruction file's answer carries a Content-Range.
    InstructionFileRange,
    /// The instruction file's Content-Length says 10 bytes more than its body has.
    InstructionFileShort,
    /// The instruction file's Content-Length is past the cap (its body is the real one).
    InstructionFileHugeLength,
}

/// An open multipart upload: key, metadata (`name\0value`), parts.
type Upload = (String, Vec<String>, BTreeMap<u32, Vec<u8>>);

#[derive(Default)]
struct Store {
    objects: HashMap<String, Stored>,
    gets: HashMap<String, usize>,
    uploads: HashMap<String, Upload>,
    next: u32,
    requests: Vec<(Operation, String)>,
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    endless: bool,
}

impl Store {
    fn serve(&mut self, r: &Request<'_>, body: &[u8], lie: Lie) -> Response {
        let key = r.full_key().to_string();
        self.requests.push((r.operation, key.clone()));
        let mut resp = Response {
            status: 200,
            headers: vec![],
            body: vec![],
            endless: false,
        };
        if lie == Lie::Unavailable {
            resp.status = 503;
            return resp;
        }
        match r.operation {
            Operation::HeadObject | Operation::GetObject => {
                let Some(mut o) = self.objects.get(&key).cloned() else {
                    resp.status = 404;
                    return resp;
                };
                if key.ends_with(".instruction") {
                    if lie == Lie::EndlessInstructionFile {
                        resp.endless = true;
                        return resp;
                    }
                    if lie == Lie::SwapInstructionFile
                        && let Some(other) = self.objects.get("other.instruction")
                    {
                        o = other.clone();
                    }
                }
                let n = if r.operation == Operation::GetObject {
                    let c = self.gets.entry(key.clone()).or_default();
                    *c += 1;
                    *c
                } else {
                    0
                };
                if let Some(m) = r.if_match
                    && m != o.etag
                {
                    resp.status = 412;
                    return resp;
                }
                let mut etag = o.etag.clone();
                if lie == Lie::HeadGetDisagree && r.operation == Operation::GetObject {
                    etag.push('x');
                }
                resp.headers.push(("ETag".into(), etag));
                resp.headers
                    .push(("x-amz-version-id".into(), format!("v{}", o.version)));
                for (k, v) in &o.metadata {
                    resp.headers.push((format!("x-amz-meta-{k}"), v.clone()));
                }
                if lie == Lie::ManyHeaders {
                    for i in 0..10_000 {
                        resp.headers
                            .push((format!("x-amz-meta-junk{i}"), "x".into()));
                    }
                }
                if lie == Lie::HugeHeader {
                    resp.headers
                        .push(("x-amz-meta-junk".into(), "x".repeat(MIB)));
                }
                let mut data = o.body.clone();
                if let Lie::FlipOnGet(nth, at) = lie
                    && nth == n
                    && !key.ends_with(".instruction")
                {
                    data[at] ^= 0x04;
                }
                let total = data.len() as u64;
                match r.range {
                    Some((a, b)) if lie != Lie::IgnoreRange => {
                        let (a, b) = if lie == Lie::ShiftRange {
                            (a + 16, (b + 16).min(total - 1))
                        } else {
                            (a, b.min(total - 1))
                        };
                        resp.status = 206;
                        resp.headers
                            .push(("Content-Range".into(), format!("bytes {a}-{b}/{total}")));
                        data = data[a as usize..=b as usize].to_vec();
                    }
                    _ => {}
                }
                let declared = match lie {
                    _ if !key.ends_with(".instruction") => data.len(),
                    Lie::InstructionFileShort => data.len() + 10,
                    Lie::InstructionFileHugeLength => 1 << 20,
                    Lie::InstructionFileRange => {
                        let n = data.len();
                        resp.headers
                            .push(("Content-Range".into(), format!("bytes 0-{}/{n}", n - 1)));
                        n
                    }
                    _ => data.len(),
                };
                resp.headers
                    .push(("Content-Length".into(), declared.to_string()));
                match lie {
                    Lie::Truncate => {
                        data.truncate(data.len() / 2);
                    }
                    Lie::Extend => data.extend_from_slice(&[0u8; 100]),
                    _ => {}
                }
                if r.operation == Operation::GetObject {
                    resp.body = data;
                }
            }
            Operation::PutObject => {
                self.next += 1;
                let meta = r
                    .metadata()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                let version = self.objects.get(&key).map(|o| o.version + 1).unwrap_or(1);
                let etag = format!("\"e{}\"", self.next);
                resp.headers.push(("ETag".into(), etag.clone()));
                self.objects.insert(
                    key,
                    Stored {
                        metadata: meta,
                        body: body.to_vec(),
                        etag,
                        version,
                    },
                );
            }
            Operation::CreateMultipartUpload => {
                self.next += 1;
                let id = format!("up{}", self.next);
                let meta = r.metadata().map(|(k, v)| format!("{k}\u{0}{v}")).collect();
                self.uploads
                    .insert(id.clone(), (key, meta, BTreeMap::new()));
                resp.headers.push(("x-test-upload-id".into(), id));
            }
            Operation::UploadPart => {
                let up = self.uploads.get_mut(r.upload_id.unwrap()).unwrap();
                up.2.insert(r.part_number.unwrap(), body.to_vec());
                resp.headers.push(("ETag".into(), "\"p\"".into()));
            }
            Operation::CompleteMultipartUpload => {
                let (key, meta, parts) = self.uploads.remove(r.upload_id.unwrap()).unwrap();
                self.next += 1;
                let body: Vec<u8> = parts.into_values().flatten().collect();
                let metadata = meta
                    .iter()
                    .map(|m| {
                        let (k, v) = m.split_once('\u{0}').unwrap();
                        (k.to_owned(), v.to_owned())
                    })
                    .collect();
                let etag = format!("\"m{}-3\"", self.next);
                let version = self.objects.get(&key).map(|o| o.version + 1).unwrap_or(1);
                self.objects.insert(
                    key,
                    Stored {
                        metadata,
                        body,
                        etag: etag.clone(),
                        version,
                    },
                );
                resp.headers.push(("ETag".into(), etag));
            }
            Operation::AbortMultipartUpload => {
                self.uploads.remove(r.upload_id.unwrap());
                resp.status = 204;
            }
            Operation::DeleteObject => {
                resp.status = if self.objects.remove(&key).is_some() {
                    204
                } else {
                    404
                };
            }
            _ => unreachable!(),
        }
        resp
    }
}

fn pairs(h: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u32).wrapping_mul(2654435761).to_le_bytes()[1] ^ seed)
        .collect()
}

fn master() -> AesKey {
    AesKey::new_256([0x42; 32])
}

// ---------------------------------------------------------------- PUT driver

struct PutOpts {
    placement: Placement,
    known_len: bool,
    part_size: u64,
    threshold: u64,
    /// Encrypt and upload parts in reverse order of their arrival.
    reverse: bool,
    fail_part: Option<u32>,
    /// A single PutObject's body goes through [`PutObject::body`]: read twice partly (rewound),
    /// then whole, in odd pieces.
    stream_body: bool,
}

impl Default for PutOpts {
    fn default() -> Self {
        PutOpts {
            placement: Placement::ObjectMetadata,
            known_len: true,
            part_size: 5 * MIB as u64,
            threshold: 5 * MIB as u64,
            reverse: false,
            fail_part: None,
            stream_body: false,
        }
    }
}

fn put(store: &mut Store, key: &str, plaintext: &[u8], o: &PutOpts) -> Result<(), Error> {
    let mut intent = PutIntent::new("b", key, o.known_len.then_some(plaintext.len() as u64));
    intent.config = EncryptConfig::v3(o.placement);
    intent.part_size = o.part_size;
    intent.multipart_threshold = o.threshold;
    intent.metadata = &[("owner", "test")];
    let mut p = PutObject::new(intent)?;
    let mut bufs: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut jobs = Vec::new();
    let mut sends: Vec<RequestId> = Vec::new();
    loop {
        match p.poll()? {
            PutNext::EncryptionMaterials => {
                let md = p.encryption_context();
                let m = EncryptionMaterials::aes_gcm(p.config(), &master(), md)?;
                p.materials(m)?;
            }
            PutNext::ReadPart {
                number,
                offset,
                len,
            } => {
                let a = (offset as usize).min(plaintext.len());
                let b = (a + len as usize).min(plaintext.len());
                bufs.insert(number, plaintext[a..b].to_vec());
                p.part_read(number, (b - a) as u64)?;
            }
            PutNext::EncryptPart(job) => {
                jobs.push(job);
                if !o.reverse {
                    let job = jobs.pop().unwrap();
                    let b = bufs.get_mut(&job.number()).unwrap();
                    let done = if o.stream_body {
                        encrypt_in_pieces(&job, b)?
                    } else {
                        job.encrypt(b)?
                    };
                    p.part_encrypted(done)?;
                }
            }
            PutNext::Send(id) => {
                sends.push(id);
                if !o.reverse {
                    send_put(store, &mut p, id, plaintext, &mut bufs, o)?;
                    sends.clear();
                }
            }
            PutNext::Wait => {
                // Reverse mode: finish what is outstanding, newest first.
                if let Some(job) = jobs.pop() {
                    let b = bufs.get_mut(&job.number()).unwrap();
                    let done = job.encrypt(b)?;
                    p.part_encrypted(done)?;
                } else if let Some(id) = sends.pop() {
                    send_put(store, &mut p, id, plaintext, &mut bufs, o)?;
                } else {
                    panic!("waiting with nothing outstanding");
                }
            }
            PutNext::Done(_) => return Ok(()),
        }
    }
}

/// A part encrypted in odd pieces by two [`PartJob::encryptor`]s (the same bytes and value each
/// time); a pass over changed plaintext gives another value.
fn encrypt_in_pieces(job: &PartJob, b: &mut [u8]) -> Result<EncryptedPart, Error> {
    let plain = b.to_vec();
    let mut first = job.encryptor();
    let mut out = vec![0u8; plain.len()];
    for (src, dst) in plain.chunks(5001).zip(out.chunks_mut(5001)) {
        first.encrypt(src, dst)?;
    }
    assert_eq!(first.position(), plain.len() as u64);
    let first = first.finish()?;
    let mut second = job.encryptor();
    for c in b.chunks_mut(65_537) {
        second.encrypt_in_place(c)?;
    }
    assert_eq!(
        second.encrypt_in_place(&mut [0u8; 1]),
        Err(Error::LengthMismatch)
    );
    assert!(out == *b, "every pass gives the same ciphertext");
    let second = second.finish()?;
    assert_eq!(first, second);
    if !plain.is_empty() {
        let mut changed = plain.clone();
        changed[plain.len() / 2] ^= 1;
        let mut third = job.encryptor();
        third.encrypt_in_place(&mut changed)?;
        assert_ne!(third.finish()?, second, "changed plaintext, another value");
        let short = job.encryptor();
        assert_eq!(short.finish().unwrap_err(), Error::LengthMismatch);
    }
    Ok(second)
}

fn send_put(
    store: &mut Store,
    p: &mut PutObject<'_>,
    id: RequestId,
    plaintext: &[u8],
    bufs: &mut HashMap<u32, Vec<u8>>,
    o: &PutOpts,
) -> Result<(), Error> {
    let r = p.request(id)?;
    let op = r.operation;
    let body: Vec<u8> = match (r.operation, r.body) {
        (
            Operation::PutObject,
            RequestBody::Ciphertext {
                len,
                plaintext_len,
                ends_with_tag,
            },
        ) => {
            assert!(ends_with_tag, "a single PutObject body ends with the tag");
            assert_eq!(plaintext_len, plaintext.len() as u64);
            assert_eq!(r.content_length, Some(len));
            let b = if o.stream_body {
                let mut s = p.body()?;
                assert_eq!(s.plaintext_len(), plaintext.len() as u64);
                let mut passes: Vec<Vec<u8>> = Vec::new();
                // Two passes cut short (an HTTP client hashing, then a retry), then a whole one.
                let n = plaintext.len();
                for cut in [n / 3, (n / 2 + 1).min(n), n] {
                    s.rewind();
                    let mut out = vec![0u8; cut];
                    for (i, (src, dst)) in plaintext[..cut]
                        .chunks(4099)
                        .zip(out.chunks_mut(4099))
                        .enumerate()
                    {
                        if i % 2 == 0 {
                            s.encrypt(src, dst)?;
                        } else {
                            dst.copy_from_slice(src);
                            s.encrypt_in_place(dst)?;
                        }
                    }
                    assert_eq!(s.position(), cut as u64);
                    passes.push(out);
                }
                let mut b = passes.pop().unwrap();
                for early in &passes {
                    assert!(
                        b[..early.len()] == early[..],
                        "a rewound pass gives the same bytes"
                    );
                }
                assert_eq!(
                    s.encrypt_in_place(&mut [0u8; 1]),
                    Err(Error::LengthMismatch)
                );
                b.extend_from_slice(&s.tag()?);
                p.body_sent(s);
                b
            } else {
                let mut b = plaintext.to_vec();
                for c in b.chunks_mut(7777) {
                    p.encrypt(c)?;
                }
                b.extend_from_slice(&p.tag()?);
                b
            };
            assert_eq!(len, b.len() as u64, "the body's length");
            b
        }
        (
            Operation::UploadPart,
            RequestBody::Ciphertext {
                len,
                plaintext_len,
                ends_with_tag,
            },
        ) => {
            let n = p.request(id)?.part_number.unwrap();
            if o.fail_part == Some(n) {
                p.request_failed(id, Error::RequestFailed { status: 500 });
                return Ok(());
            }
            let mut b = bufs[&n].clone();
            assert_eq!(plaintext_len, b.len() as u64, "the body's plaintext length");
            if ends_with_tag {
                b.extend_from_slice(&p.tag()?);
            }
            assert_eq!(len, b.len() as u64, "the body's length");
            b
        }
        (_, RequestBody::Bytes(b)) => b.to_vec(),
        _ => vec![],
    };
    let r = p.request(id)?;
    let resp = store.serve(&r, &body, Lie::Honest);
    if op == Operation::CreateMultipartUpload {
        let up = resp
            .headers
            .iter()
            .find(|(k, _)| k == "x-test-upload-id")
            .unwrap();
        p.upload_created(id, resp.status, &up.1.clone())
    } else {
        p.response(id, resp.status, pairs(&resp.headers))
    }
}

// ---------------------------------------------------------------- GET driver

struct Got {
    result: Result<GetDone, Error>,
    /// Released bytes by plaintext offset.
    released: BTreeMap<u64, Vec<u8>>,
    storage: Vec<u8>,
}

impl Got {
    fn released_total(&self) -> usize {
        self.released.values().map(Vec::len).sum()
    }
    /// Every released byte equals the plaintext at its offset.
    fn assert_only_true_bytes(&self, plaintext: &[u8]) {
        for (off, b) in &self.released {
            let o = *off as usize;
            assert!(
                plaintext[o..o + b.len()] == b[..],
                "released bytes at {off} differ from the plaintext"
            );
        }
    }
    fn assembled(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for b in self.released.values() {
            v.extend_from_slice(b);
        }
        v
    }
}

fn get(store: &mut Store, intent: GetIntent<'_>, lie: Lie, piece: usize) -> Got {
    let mut got = Got {
        result: Err(Error::Internal("the test never ran the machine")),
        released: BTreeMap::new(),
        storage: Vec::new(),
    };
    got.result = drive_get(
        store,
        intent,
        lie,
        piece,
        &mut got.released,
        &mut got.storage,
    );
    got
}

fn feed(
    g: &mut GetObject<'_>,
    id: RequestId,
    body: &[u8],
    endless: bool,
    piece_max: usize,
    released: &mut BTreeMap<u64, Vec<u8>>,
    storage: &mut Vec<u8>,
) -> Result<(), Error> {
    let mut pos = 0usize;
    let mut sent_endless = 0usize;
    loop {
        let f = g.feed(id)?;
        let avail = if endless {
            usize::MAX
        } else {
            body.len() - pos
        };
        if avail == 0 {
            return g.end_of_body(id);
        }
        let n = if f.len == 0 {
            avail.min(100)
        } else if f.exact {
            f.len.min(avail)
        } else {
            f.len.min(avail).min(piece_max)
        };
        let mut buf = if endless {
            sent_endless += n;
            assert!(
                sent_endless < 64 * MIB,
                "the machine kept reading an endless body"
            );
            vec![b'A'; n]
        } else {
            body[pos..pos + n].to_vec()
        };
        pos += n.min(body.len().saturating_sub(pos));
        match g.body(id, &mut buf)? {
            Released::Plaintext { start, len, offset } => {
                if len > 0 {
                    released.insert(offset, buf[start..start + len].to_vec());
                }
            }
            Released::Store { offset } => {
                let end = offset as usize + buf.len();
                if storage.len() < end {
                    storage.resize(end, 0);
                }
                storage[offset as usize..end].copy_from_slice(&buf);
            }
            Released::Nothing => {}
        }
    }
}

fn drive_get(
    store: &mut Store,
    intent: GetIntent<'_>,
    lie: Lie,
    piece: usize,
    released: &mut BTreeMap<u64, Vec<u8>>,
    storage: &mut Vec<u8>,
) -> Result<GetDone, Error> {
    let mut g = GetObject::new(intent)?;
    let mut bodies: HashMap<RequestId, Response> = HashMap::new();
    let mut sent: Vec<RequestId> = Vec::new();
    loop {
        match g.poll()? {
            GetNext::Send(id) => {
                // Answer later, newest first, to deliver out of order when several are out.
                sent.push(id);
            }
            GetNext::Wait => {
                let id = sent.pop().expect("waiting with nothing outstanding");
                let r = g.request(id)?;
                let resp = store.serve(&r, &[], lie);
                g.response(id, resp.status, pairs(&resp.headers))?;
                bodies.insert(id, resp);
            }
            GetNext::ReadBody(id) => {
                let resp = bodies.remove(&id).unwrap();
                feed(
                    &mut g,
                    id,
                    &resp.body,
                    resp.endless,
                    piece,
                    released,
                    storage,
                )?;
            }
            GetNext::Replay(id) => {
                let (a, b) = g.replay_range(id)?;
                let bytes = storage[a as usize..=b as usize].to_vec();
                let mut out = BTreeMap::new();
                feed(&mut g, id, &bytes, false, piece, &mut out, storage)?;
                // Storage mode writes the verified plaintext back in place.
                for (off, b) in out {
                    storage[off as usize..off as usize + b.len()].copy_from_slice(&b);
                    released.insert(off, b);
                }
            }
            GetNext::UnwrapKey => g.unwrap_aes(&master())?,
            GetNext::Done(d) => return Ok(d),
        }
        // Answer everything sent before polling again when not testing concurrency.
        if intent.connections == 1
            && let Some(id) = sent.pop()
        {
            let r = g.request(id)?;
            let resp = store.serve(&r, &[], lie);
            g.response(id, resp.status, pairs(&resp.headers))?;
            bodies.insert(id, resp);
        }
    }
}

fn intent<'a>(key: &'a str) -> GetIntent<'a> {
    GetIntent::new("b", key)
}

// ---------------------------------------------------------------- round trips

#[test]
fn round_trips_in_every_release_mode() {
    let cases: &[(usize, Placement, bool)] = &[
        (0, Placement::ObjectMetadata, true),
        (1, Placement::ObjectMetadata, true),
        (4101, Placement::InstructionFile, true),
        (3 * MIB + 7, Placement::ObjectMetadata, true),
        (11 * MIB + 5, Placement::ObjectMetadata, true),
        (11 * MIB + 5, Placement::InstructionFile, false),
        (10 * MIB, Placement::ObjectMetadata, false),
    ];
    for (i, &(n, placement, known)) in cases.iter().enumerate() {
        for reverse in [false, true] {
            let mut store = Store::default();
            let pt = data(n, i as u8);
            let o = PutOpts {
                placement,
                known_len: known,
                reverse,
                ..PutOpts::default()
            };
            put(&mut store, "k", &pt, &o).unwrap_or_else(|e| panic!("put {n}: {e}"));
            assert!(store.uploads.is_empty());
            // In memory, two passes, storage, and parallel ranged GETs in both.
            let modes: [(u64, bool, u16, Verification); 5] = [
                (64 * MIB as u64, false, 1, Verification::InMemory),
                (0, false, 1, Verification::TwoPass),
                (0, true, 1, Verification::Storage),
                (0, false, 3, Verification::TwoPass),
                (0, true, 4, Verification::Storage),
            ];
            for (budget, storage, connections, want) in modes {
                let mut it = intent("k");
                it.memory_budget = budget;
                it.storage = storage;
                it.connections = connections;
                let want = if n == 0 && budget == 0 {
                    // An empty object's body (its tag) still goes through the passes.
                    want
                } else {
                    want
                };
                for piece in [1 << 20, 4097] {
                    let got = get(&mut store, it, Lie::Honest, piece);
                    let done = got
                        .result
                        .unwrap_or_else(|e| panic!("{n} bytes, {want:?}, {connections}: {e}"));
                    assert_eq!(done.verification, want);
                    assert_eq!(done.released, n as u64);
                    assert!(got.assembled() == pt, "{n} bytes, {want:?}");
                    if storage {
                        assert!(got.storage[..n] == pt[..], "plaintext in place");
                    }
                }
            }
        }
    }
}

#[test]
fn put_bodies_stream_in_pieces_and_rewind() {
    // PutObject::body: the body read by the transport in pieces, rewound and read again, gives
    // the object a GET verifies; a body whose last pass stops short of its tag is refused. Above
    // the threshold, parts encrypted in pieces by PartJob::encryptor (several passes).
    for (i, n) in [0usize, 1, 15, 16, 4099 * 3 + 5, 2 * MIB + 3, 11 * MIB + 5]
        .into_iter()
        .enumerate()
    {
        for placement in [Placement::ObjectMetadata, Placement::InstructionFile] {
            let mut store = Store::default();
            let pt = data(n, 40 + i as u8);
            let o = PutOpts {
                placement,
                stream_body: true,
                ..PutOpts::default()
            };
            put(&mut store, "k", &pt, &o).unwrap_or_else(|e| panic!("put {n}: {e}"));
            let got = get(&mut store, intent("k"), Lie::Honest, 4097);
            got.result.unwrap_or_else(|e| panic!("get {n}: {e}"));
            assert!(got.assembled() == pt, "{n} bytes");
        }
    }
    let mut p = single_put_with_materials(100);
    let PutNext::Send(id) = p.poll().unwrap() else {
        panic!()
    };
    let mut s = p.body().unwrap();
    s.encrypt_in_place(&mut [0u8; 100]).unwrap();
    s.tag().unwrap();
    // Rewound and read again only partly: this pass has no tag.
    s.rewind();
    s.encrypt_in_place(&mut [0u8; 50]).unwrap();
    assert_eq!(s.tag(), Err(Error::LengthMismatch));
    p.body_sent(s);
    assert_eq!(
        p.response(id, 200, [("ETag", "\"e1\"")]),
        Err(Error::TruncatedBody)
    );
    // What the short body stored is deleted before the error is reported.
    let PutNext::Send(del) = p.poll().unwrap() else {
        panic!("the object written is deleted first")
    };
    assert_eq!(p.request(del).unwrap().operation, Operation::DeleteObject);
    p.response(del, 204, []).unwrap();
    assert_eq!(p.poll().unwrap_err(), Error::TruncatedBody);
}

#[test]
fn delayed_authentication_and_ranges_are_opt_ins() {
    let mut store = Store::default();
    let pt = data(100_000, 9);
    put(&mut store, "k", &pt, &PutOpts::default()).unwrap();
    let mut it = intent("k");
    it.mode = ReadMode::Unauthenticated(s3_encryption::hazmat::delayed_authentication_read());
    assert_eq!(GetObject::new(it).unwrap_err(), Error::LegacyModeDisabled);
    it.policy.delayed_authentication = true;
    let got = get(&mut store, it, Lie::Honest, 3000);
    assert_eq!(
        got.result.unwrap().verification,
        Verification::DelayedAuthentication
    );
    assert!(got.assembled() == pt);
    // A changed body or tag is found at the end: the read fails (the caller discards what it
    // released).
    for at in [10usize, pt.len() + 3] {
        store.gets.clear();
        let got = get(&mut store, it, Lie::FlipOnGet(1, at), 3000);
        assert_eq!(
            got.result.unwrap_err(),
            Error::Authentication,
            "flip at {at}"
        );
    }

    let mut it = intent("k");
    it.mode = ReadMode::Unauthenticated(s3_encryption::hazmat::ranged_read(ByteRange::Inclusive(
        1000, 50_000,
    )));
    assert_eq!(GetObject::new(it).unwrap_err(), Error::LegacyModeDisabled);
    it.policy.legacy_unauthenticated_modes = true;
    for piece in [7, 1 << 16] {
        let got = get(&mut store, it, Lie::Honest, piece);
        let d = got.result.unwrap();
        assert_eq!(d.range_first, Some(1000));
        assert!(got.assembled() == pt[1000..=50_000]);
    }
    let mut it2 = it;
    it2.mode = ReadMode::Unauthenticated(s3_encryption::hazmat::ranged_read(ByteRange::Suffix(17)));
    let got = get(&mut store, it2, Lie::Honest, 5);
    got.result.unwrap();
    assert!(got.assembled() == pt[pt.len() - 17..]);
}

/// A body that ends before its Content-Length in the in-memory plan (whose pieces are exact):
/// the short last piece is the end of the body, `TruncatedBody`, never a usage error (found by
/// the `machine_responses` fuzz target).
#[test]
fn a_short_body_read_in_memory_is_truncated() {
    let pt = data(5000, 3);
    let mut store = Store::default();
    put(&mut store, "k", &pt, &PutOpts::default()).unwrap();
    let got = get(&mut store, intent("k"), Lie::Truncate, 1 << 20);
    assert_eq!(got.result.unwrap_err(), Error::TruncatedBody);
    assert_eq!(got.released_total(), 0);
}

// ---------------------------------------------------------------- hostile storage

/// The matrix: each lie against each release mode; every failure typed, and no released byte
/// differs from the plaintext.
#[test]
fn hostile_storage_matrix() {
    let n = 11 * MIB + 3;
    let pt = data(n, 1);
    let mut store = Store::default();
    put(&mut store, "k", &pt, &PutOpts::default()).unwrap();
    put(&mut store, "small", &pt[..5000], &PutOpts::default()).unwrap();
    let modes: [(u64, bool, u16); 4] = [(0, false, 1), (0, true, 1), (0, false, 3), (0, true, 2)];
    for (budget, storage, connections) in modes {
        let mut it = intent("k");
        it.memory_budget = budget;
        it.storage = storage;
        it.connections = connections;
        let label = format!("budget {budget}, storage {storage}, connections {connections}");
        // Second pass (or a part of it) with other bytes under the same ETag and length.
        for at in [0usize, 5 * MIB + 17, n - 1, n + 5] {
            let nth = if storage { 1 } else { 2 };
            let lie = Lie::FlipOnGet(nth, at);
            store.gets.clear();
            let got = get(&mut store, it, lie, 1 << 20);
            got.assert_only_true_bytes(&pt);
            if storage || connections > 1 {
                // A changed first read fails its tag (or the changed part its chunk check).
                if got.result.is_ok() {
                    assert!(got.assembled() == pt, "{label}: flip at {at}");
                    continue;
                }
            }
            let e = got.result.unwrap_err();
            assert!(
                matches!(e, Error::ObjectChanged | Error::Authentication),
                "{label}: flip at {at}: {e:?}"
            );
            if at < n {
                // The changed chunk and everything after it stayed unreleased.
                assert!(got.released_total() <= at, "{label}: flip at {at} released");
            }
        }
        for (lie, want) in [
            (Lie::Truncate, Error::TruncatedBody),
            (
                Lie::Extend,
                Error::UnexpectedResponse("the body is longer than the length asked for"),
            ),
            (Lie::ManyHeaders, Error::TooLarge),
            (Lie::HugeHeader, Error::TooLarge),
            (Lie::HeadGetDisagree, Error::ObjectChanged),
            (Lie::Unavailable, Error::RequestFailed { status: 503 }),
        ] {
            store.gets.clear();
            let got = get(&mut store, it, lie, 1 << 20);
            got.assert_only_true_bytes(&pt);
            if lie == Lie::HeadGetDisagree && storage && connections == 1 {
                // One GET and no HEAD: nothing to disagree with, and the bytes verified.
                assert!(got.assembled() == pt, "{label}");
                continue;
            }
            let e = got.result.unwrap_err();
            assert_eq!(e, want, "{label}: {lie:?}");
            if lie != Lie::Extend {
                assert_eq!(got.released_total(), 0, "{label}: {lie:?} released");
            }
        }
        if connections > 1 {
            for lie in [Lie::IgnoreRange, Lie::ShiftRange] {
                let got = get(&mut store, it, lie, 1 << 20);
                assert!(
                    matches!(got.result, Err(Error::UnexpectedResponse(_))),
                    "{label}: {lie:?}: {:?}",
                    got.result
                );
                assert_eq!(got.released_total(), 0);
            }
        }
    }
    // In memory: a changed or short body releases nothing.
    for lie in [Lie::FlipOnGet(1, 100), Lie::Truncate, Lie::Extend] {
        store.gets.clear();
        let got = get(&mut store, intent("small"), lie, 1 << 20);
        assert!(got.result.is_err(), "{lie:?}");
        got.assert_only_true_bytes(&pt);
        if lie != Lie::Extend {
            assert_eq!(got.released_total(), 0, "{lie:?}");
        }
    }
}

/// The hazmat unverified plaintext storage: one GET (or one per part), every stored piece is
/// plaintext at its offset (never the tag), nothing is released as `Plaintext`, and `Done` comes
/// only after the tag verified; a changed, short or long body, or a lying range, fails instead.
#[test]
fn unverified_plaintext_storage_is_done_only_after_the_tag() {
    let n = 11 * MIB + 3;
    let pt = data(n, 4);
    let mut store = Store::default();
    put(&mut store, "k", &pt, &PutOpts::default()).unwrap();
    for connections in [1u16, 2, 4] {
        let mut it = intent("k");
        it.memory_budget = 0;
        it.storage = true;
        it.unverified_plaintext_storage =
            Some(s3_encryption::hazmat::unverified_plaintext_storage());
        it.connections = connections;
        let label = format!("{connections} connections");
        for piece in [1 << 20, 4097] {
            let got = get(&mut store, it, Lie::Honest, piece);
            let done = got.result.unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(done.verification, Verification::DecryptedInStorage);
            assert_eq!(done.released, n as u64);
            assert_eq!(done.fetched, n as u64 + 16, "{label}: one pass");
            assert_eq!(got.released_total(), 0, "{label}: released as Plaintext");
            assert!(got.storage == pt, "{label}: storage is not the plaintext");
        }
        let mut failed = 0;
        for at in [0usize, 5 * MIB + 17, n - 1, n + 5] {
            store.gets.clear();
            let got = get(&mut store, it, Lie::FlipOnGet(1, at), 1 << 20);
            assert_eq!(got.released_total(), 0);
            match got.result {
                Err(e) => {
                    assert_eq!(e, Error::Authentication, "{label}: flip at {at}");
                    failed += 1;
                }
                // With parts, the first GET may not cover the flipped byte.
                Ok(_) => assert!(connections > 1 && got.storage == pt, "{label}: {at}"),
            }
        }
        assert!(failed > 0, "{label}: no flip was caught");
        let mut lies = vec![
            (Lie::Truncate, Error::TruncatedBody),
            (
                Lie::Extend,
                Error::UnexpectedResponse("the body is longer than the length asked for"),
            ),
        ];
        if connections > 1 {
            for lie in [Lie::IgnoreRange, Lie::ShiftRange] {
                let got = get(&mut store, it, lie, 1 << 20);
                assert!(
                    matches!(got.result, Err(Error::UnexpectedResponse(_))),
                    "{label}: {lie:?}: {:?}",
                    got.result
                );
            }
        } else {
            lies.push((Lie::HeadGetDisagree, Error::ObjectChanged));
        }
        for (lie, want) in lies {
            let got = get(&mut store, it, lie, 1 << 20);
            if lie == Lie::HeadGetDisagree {
                // One GET and no HEAD: nothing to disagree with.
                assert!(got.result.is_ok() && got.storage == pt, "{label}");
                continue;
            }
            assert_eq!(got.result.unwrap_err(), want, "{label}: {lie:?}");
            assert_eq!(got.released_total(), 0);
        }
    }
    // Without `storage` the promise changes nothing: two passes.
    let mut it = intent("k");
    it.memory_budget = 0;
    it.unverified_plaintext_storage = Some(s3_encryption::hazmat::unverified_plaintext_storage());
    let got = get(&mut store, it, Lie::Honest, 1 << 20);
    assert_eq!(got.result.unwrap().verification, Verification::TwoPass);
    assert!(got.assembled() == pt);
}

#[test]
fn ranged_reads_refuse_responses_that_do_not_match() {
    let pt = data(200_000, 3);
    let mut store = Store::default();
    put(&mut store, "k", &pt, &PutOpts::default()).unwrap();
    let mut it = intent("k");
    it.policy.legacy_unauthenticated_modes = true;
    it.mode = ReadMode::Unauthenticated(s3_encryption::hazmat::ranged_read(ByteRange::Inclusive(
        40_000, 40_100,
    )));
    for lie in [Lie::IgnoreRange, Lie::ShiftRange] {
        let got = get(&mut store, it, lie, 1 << 20);
        assert!(
            matches!(got.result, Err(Error::UnexpectedResponse(_))),
            "{lie:?}"
        );
        assert_eq!(got.released_total(), 0, "{lie:?}");
    }
    // A short range body: the (unauthenticated) bytes that came are the right ones, and the read
    // fails.
    let got = get(&mut store, it, Lie::Truncate, 1 << 20);
    assert_eq!(got.result.unwrap_err(), Error::TruncatedBody);
    got.assert_only_true_bytes(&pt);
}

#[test]
fn instruction_files_are_capped_and_bound() {
    let pt = data(3000, 4);
    let mut store = Store::default();
    let o = PutOpts {
        placement: Placement::InstructionFile,
        ..PutOpts::default()
    };
    put(&mut store, "k", &pt, &o).unwrap();
    put(&mut store, "other", &data(3000, 5), &o).unwrap();
    let got = get(
        &mut store,
        intent("k"),
        Lie::EndlessInstructionFile,
        1 << 20,
    );
    assert_eq!(
        got.result.unwrap_err(),
        Error::InvalidMetadata("instruction file")
    );
    let got = get(&mut store, intent("k"), Lie::SwapInstructionFile, 1 << 20);
    assert_eq!(got.result.unwrap_err(), Error::Authentication);
    assert_eq!(got.released_total(), 0);
    // A missing instruction file of an encrypted object, and a plain object.
    store.objects.remove("k.instruction");
    assert_eq!(
        get(&mut store, intent("k"), Lie::Honest, 1 << 20)
            .result
            .unwrap_err(),
        Error::InstructionFileRequired
    );
    store.objects.insert(
        "plain".into(),
        Stored {
            body: b"hello".to_vec(),
            etag: "\"x\"".into(),
            ..Stored::default()
        },
    );
    assert_eq!(
        get(&mut store, intent("plain"), Lie::Honest, 1 << 20)
            .result
            .unwrap_err(),
        Error::NotEncrypted
    );
    assert_eq!(
        get(&mut store, intent("missing"), Lie::Honest, 1 << 20)
            .result
            .unwrap_err(),
        Error::NotFound
    );
}

/// Describe `key` through the store, lying as `lie`.
fn describe(store: &mut Store, key: &str, lie: Lie) -> Result<(), Error> {
    let mut d = DescribeObject::new("b", key, None, ".instruction")?;
    loop {
        match d.poll()? {
            DescribeNext::Send(id) => {
                let r = d.request(id)?;
                let resp = store.serve(&r, &[], lie);
                if r.operation == Operation::GetObject {
                    d.body(id, &resp.body)?;
                }
                d.response(id, resp.status, pairs(&resp.headers))?;
            }
            DescribeNext::Done => return d.envelope().map(|_| ()).ok_or(Error::NotEncrypted),
        }
    }
}

/// How a rotation's driver answers the new-key check.
#[derive(Clone, Copy, Debug, PartialEq)]
enum NewKeyCheck {
    /// Unwraps the new envelope with the new key.
    Honest,
    /// Hands back another data key (a keyring that does not read back what it wrapped).
    WrongKey,
    /// Says the new key cannot decrypt (an RSA public key).
    CannotDecrypt,
}

/// Rotate `key`'s instruction file (old key [`master`], a new AES key), lying as `lie`.
fn rotate(store: &mut Store, key: &str, lie: Lie) -> Result<(), Error> {
    rotate_checked(store, key, lie, NewKeyCheck::Honest)
}

fn rotate_checked(store: &mut Store, key: &str, lie: Lie, check: NewKeyCheck) -> Result<(), Error> {
    let mut r = RotateInstructionFile::new(RotateIntent::new("b", key))?;
    loop {
        match r.poll()? {
            RotateNext::Send(id) => {
                let req = r.request(id)?;
                let body = match req.body {
                    RequestBody::Bytes(b) => b.to_vec(),
                    _ => vec![],
                };
                let resp = store.serve(&req, &body, lie);
                if req.operation == Operation::GetObject {
                    r.body(id, &resp.body)?;
                }
                r.response(id, resp.status, pairs(&resp.headers))?;
            }
            RotateNext::UnwrapKey => {
                let dk = store_env_unwrap(&r, &master());
                r.data_key(dk)?;
            }
            RotateNext::WrapKey => {
                let dk = r.data_key_to_wrap()?.clone();
                let m = EncryptionMaterials::aes_gcm_deterministic(
                    &r.new_config()?,
                    &AesKey::new_256([0x66; 32]),
                    dk,
                    &[3; 12],
                    &[],
                )?;
                r.new_materials(m)?;
            }
            RotateNext::CheckNewKey => match check {
                NewKeyCheck::Honest => {
                    let dk = r
                        .envelope_to_unwrap()?
                        .unwrap_aes(&AesKey::new_256([0x66; 32]))?;
                    r.data_key(dk)?;
                }
                NewKeyCheck::WrongKey => r.data_key(DataKey::from_slice(&[0x77; 32])?)?,
                NewKeyCheck::CannotDecrypt => r.new_key_cannot_decrypt()?,
            },
            RotateNext::CheckOldKey => r.old_key_opens(false)?,
            RotateNext::Done(_) => return Ok(()),
        }
    }
}

/// Delete `key` through the store, lying as `lie`: whether its instruction file went too.
fn delete(store: &mut Store, key: &str, lie: Lie) -> Result<bool, Error> {
    let mut d = DeleteObject::new("b", key, ".instruction")?;
    loop {
        match d.poll()? {
            DeleteNext::Send(id) => {
                let r = d.request(id)?;
                let resp = store.serve(&r, &[], lie);
                if r.operation == Operation::GetObject {
                    d.body(id, &resp.body)?;
                }
                d.response(id, resp.status, pairs(&resp.headers))?;
            }
            DeleteNext::Done(done) => return Ok(done.instruction_file),
        }
    }
}

#[test]
fn every_machine_checks_the_instruction_file_alike() {
    // One lookup, one set of checks: GET, describe, rotate and delete refuse the same answers.
    let cases = [
        (
            Lie::InstructionFileRange,
            Error::UnexpectedResponse("an instruction file response carries a Content-Range"),
        ),
        (
            Lie::InstructionFileShort,
            Error::UnexpectedResponse("the instruction file is not as long as its Content-Length"),
        ),
        (
            Lie::InstructionFileHugeLength,
            Error::InvalidMetadata("instruction file"),
        ),
        (
            Lie::EndlessInstructionFile,
            Error::InvalidMetadata("instruction file"),
        ),
    ];
    let o = PutOpts {
        placement: Placement::InstructionFile,
        ..PutOpts::default()
    };
    for (lie, want) in cases {
        let mut store = Store::default();
        put(&mut store, "k", &data(3000, 9), &o).unwrap();
        let got = get(&mut store, intent("k"), lie, 1 << 20);
        assert_eq!(got.result.unwrap_err(), want, "GET, {lie:?}");
        assert_eq!(got.released_total(), 0);
        assert_eq!(
            describe(&mut store, "k", lie),
            Err(want),
            "describe, {lie:?}"
        );
        let before = store.objects["k.instruction"].body.clone();
        assert_eq!(rotate(&mut store, "k", lie), Err(want), "rotate, {lie:?}");
        assert_eq!(
            store.objects["k.instruction"].body, before,
            "rotate wrote nothing"
        );
        // Delete: a file past the cap is not the object's instruction file and is kept; a
        // malformed answer fails the delete before anything is deleted.
        match want {
            Error::InvalidMetadata(_) => {
                assert_eq!(delete(&mut store, "k", lie), Ok(false), "{lie:?}");
                assert!(!store.objects.contains_key("k"));
                assert!(store.objects.contains_key("k.instruction"));
            }
            _ => {
                assert_eq!(delete(&mut store, "k", lie), Err(want), "delete, {lie:?}");
                assert!(store.objects.contains_key("k"));
            }
        }
    }
    // The honest store: every machine reads the same envelope, and delete removes both.
    let mut store = Store::default();
    put(&mut store, "k", &data(3000, 9), &o).unwrap();
    let got = get(&mut store, intent("k"), Lie::Honest, 1 << 20);
    assert!(got.result.is_ok());
    describe(&mut store, "k", Lie::Honest).unwrap();
    rotate(&mut store, "k", Lie::Honest).unwrap();
    assert_eq!(delete(&mut store, "k", Lie::Honest), Ok(true));
    assert!(store.objects.is_empty());
}

#[test]
fn rotation_checks_the_new_key_before_anything_is_written() {
    let o = PutOpts {
        placement: Placement::InstructionFile,
        ..PutOpts::default()
    };
    let mut store = Store::default();
    put(&mut store, "k", &data(3000, 9), &o).unwrap();
    let before = store.objects["k.instruction"].clone();
    let puts = |s: &Store| {
        s.requests
            .iter()
            .filter(|(op, _)| *op == Operation::PutObject)
            .count()
    };
    let n = puts(&store);
    // A new key that unwraps to another data key: refused, opaque, nothing written.
    assert_eq!(
        rotate_checked(&mut store, "k", Lie::Honest, NewKeyCheck::WrongKey),
        Err(Error::Authentication)
    );
    assert_eq!(puts(&store), n);
    assert_eq!(store.objects["k.instruction"].body, before.body);
    // A key that cannot decrypt says so, and the rotation goes on; the new key then reads it.
    rotate_checked(&mut store, "k", Lie::Honest, NewKeyCheck::CannotDecrypt).unwrap();
    assert_eq!(puts(&store), n + 1);
    assert_ne!(store.objects["k.instruction"].body, before.body);
    let mut it = RotateIntent::new("b", "k");
    it.enforce_rotation = true;
    let mut r = RotateInstructionFile::new(it).unwrap();
    // The machine asks for the new-key check only after it wrapped: answering it early is
    // refused, and so is the old key's data key where the new one's is asked for.
    assert!(matches!(
        r.new_key_cannot_decrypt(),
        Err(Error::ApiMisuse(_))
    ));
    assert!(r.envelope_to_unwrap().is_err());
}

/// A single V3 PUT of `len` bytes (object metadata) that has its AES/GCM materials, before its
/// PutObject is sent.
fn single_put_with_materials(len: u64) -> PutObject<'static> {
    let mut intent = PutIntent::new("b", "k", Some(len));
    intent.config = EncryptConfig::v3(Placement::ObjectMetadata);
    let mut p = PutObject::new(intent).unwrap();
    assert!(matches!(p.poll().unwrap(), PutNext::EncryptionMaterials));
    let m = EncryptionMaterials::aes_gcm(p.config(), &master(), &[]).unwrap();
    p.materials(m).unwrap();
    p
}

#[test]
fn the_tag_ends_a_body_that_was_sent() {
    // Before its PutObject is out, a single PUT has no body to end: the tag is refused (the
    // encryptor stays), as a misuse of the machine (found by the host_calls fuzz target).
    let mut p = single_put_with_materials(10);
    assert!(matches!(p.tag(), Err(Error::ApiMisuse(_))));
}

#[test]
fn a_refused_answer_to_a_write_that_happened_is_cleaned_up() {
    // The store stored the object (200) but its answer is malformed: the PUT fails, and the
    // object it wrote is deleted before the error is reported (nothing half-written remains).
    let mut p = single_put_with_materials(100);
    let PutNext::Send(id) = p.poll().unwrap() else {
        panic!()
    };
    assert_eq!(p.request(id).unwrap().operation, Operation::PutObject);
    p.encrypt(&mut [0u8; 100]).unwrap();
    p.tag().unwrap();
    let malformed = [("ETag", "\"e1\""), ("Content-Length", "not a number")];
    assert!(p.response(id, 200, malformed).is_err());
    let PutNext::Send(del) = p.poll().unwrap() else {
        panic!("the object written is deleted first")
    };
    assert_eq!(p.request(del).unwrap().operation, Operation::DeleteObject);
    p.response(del, 204, []).unwrap();
    assert_eq!(
        p.poll().unwrap_err(),
        Error::UnexpectedResponse("a number header is malformed")
    );
}

#[test]
fn instruction_file_reads_can_be_disabled() {
    // The spec's disableInstructionFile: an object whose envelope lives in its instruction file
    // is refused without a request for the file; one with its envelope in metadata still reads.
    let mut store = Store::default();
    let ifile = PutOpts {
        placement: Placement::InstructionFile,
        ..PutOpts::default()
    };
    put(&mut store, "i", &data(3000, 1), &ifile).unwrap();
    put(&mut store, "m", &data(3000, 2), &PutOpts::default()).unwrap();
    store.objects.insert(
        "plain".into(),
        Stored {
            body: b"hello".to_vec(),
            etag: "\"x\"".into(),
            ..Stored::default()
        },
    );
    let off = |key| {
        let mut i = intent(key);
        i.read_instruction_file = false;
        i
    };
    store.requests.clear();
    let got = get(&mut store, off("i"), Lie::Honest, 1 << 20);
    assert_eq!(got.result.unwrap_err(), Error::InstructionFileRequired);
    assert_eq!(got.released_total(), 0);
    let got = get(&mut store, off("plain"), Lie::Honest, 1 << 20);
    assert_eq!(got.result.unwrap_err(), Error::NotEncrypted);
    assert!(
        store
            .requests
            .iter()
            .all(|(_, k)| !k.ends_with(".instruction")),
        "no instruction file was asked for: {:?}",
        store.requests
    );
    let got = get(&mut store, off("m"), Lie::Honest, 1 << 20);
    assert!(got.result.is_ok());
    assert_eq!(got.released_total(), 3000);
}

#[test]
fn failed_multipart_uploads_are_aborted() {
    let pt = data(12 * MIB, 6);
    let mut store = Store::default();
    let o = PutOpts {
        fail_part: Some(2),
        ..PutOpts::default()
    };
    assert_eq!(
        put(&mut store, "k", &pt, &o).unwrap_err(),
        Error::RequestFailed { status: 500 }
    );
    assert!(store.uploads.is_empty(), "the upload was aborted");
    assert!(!store.objects.contains_key("k"));
    assert!(
        store
            .requests
            .iter()
            .any(|(op, _)| *op == Operation::AbortMultipartUpload)
    );
    // A body shorter than declared.
    let mut p = single_put_with_materials(100);
    let PutNext::Send(id) = p.poll().unwrap() else {
        panic!()
    };
    p.encrypt(&mut [0u8; 50]).unwrap();
    assert_eq!(p.tag().unwrap_err(), Error::LengthMismatch);
    // The refused tag closed the body: more bytes are a misuse of the machine, not a broken
    // invariant of it (found by the host_calls fuzz target).
    assert!(matches!(
        p.encrypt(&mut [0u8; 50]),
        Err(Error::ApiMisuse(_))
    ));
    // The request is still out: the machine waits for it, then reports the failure.
    assert!(matches!(p.poll().unwrap(), PutNext::Wait));
    p.request_failed(id, Error::LengthMismatch);
    assert_eq!(p.poll().unwrap_err(), Error::LengthMismatch);
}

#[test]
fn delete_removes_the_instruction_file_only_when_it_is_one() {
    let mut store = Store::default();
    let o = PutOpts {
        placement: Placement::InstructionFile,
        ..PutOpts::default()
    };
    put(&mut store, "a", b"x", &o).unwrap();
    put(&mut store, "b", b"y", &PutOpts::default()).unwrap();
    // An unrelated object that happens to be named like an instruction file.
    store.objects.insert(
        "b.instruction".into(),
        Stored {
            body: b"not an envelope".to_vec(),
            etag: "\"z\"".into(),
            ..Stored::default()
        },
    );
    for (key, both) in [("a", true), ("b", false)] {
        let mut d = DeleteObject::new("b", key, ".instruction").unwrap();
        loop {
            match d.poll().unwrap() {
                DeleteNext::Send(id) => {
                    let r = d.request(id).unwrap();
                    let resp = store.serve(&r, &[], Lie::Honest);
                    if r.operation == Operation::GetObject {
                        d.body(id, &resp.body).unwrap();
                    }
                    d.response(id, resp.status, pairs(&resp.headers)).unwrap();
                }
                DeleteNext::Done(done) => {
                    assert!(done.object);
                    assert_eq!(done.instruction_file, both);
                    break;
                }
            }
        }
    }
    assert!(!store.objects.contains_key("a"));
    assert!(!store.objects.contains_key("a.instruction"));
    assert!(!store.objects.contains_key("b"));
    assert!(store.objects.contains_key("b.instruction"));
}

#[test]
fn rotation_rewraps_and_enforces() {
    let pt = data(5000, 7);
    let mut store = Store::default();
    let o = PutOpts {
        placement: Placement::InstructionFile,
        ..PutOpts::default()
    };
    put(&mut store, "k", &pt, &o).unwrap();
    let new_master = AesKey::new_256([0x55; 32]);
    for (enforce, new_key) in [(true, master()), (true, new_master.clone())] {
        let mut it = RotateIntent::new("b", "k");
        it.enforce_rotation = enforce;
        let mut r = RotateInstructionFile::new(it).unwrap();
        let res = loop {
            match r.poll() {
                Err(e) => break Err(e),
                Ok(RotateNext::Send(id)) => {
                    let req = r.request(id).unwrap();
                    let body = match req.body {
                        RequestBody::Bytes(b) => b.to_vec(),
                        _ => vec![],
                    };
                    let resp = store.serve(&req, &body, Lie::Honest);
                    if req.operation == Operation::GetObject {
                        r.body(id, &resp.body).unwrap();
                    }
                    let _ = r.response(id, resp.status, pairs(&resp.headers));
                }
                Ok(RotateNext::UnwrapKey) => {
                    let dk = store_env_unwrap(&r, &master());
                    r.data_key(dk).unwrap();
                }
                Ok(RotateNext::WrapKey) => {
                    let dk = r.data_key_to_wrap().unwrap().clone();
                    let m = EncryptionMaterials::aes_gcm_deterministic(
                        &r.new_config().unwrap(),
                        &new_key,
                        dk,
                        &[9; 12],
                        &[("rotated", "yes")],
                    )
                    .unwrap();
                    r.new_materials(m).unwrap();
                }
                Ok(RotateNext::CheckNewKey) => {
                    let dk = r
                        .envelope_to_unwrap()
                        .unwrap()
                        .unwrap_aes(&new_key)
                        .unwrap();
                    r.data_key(dk).unwrap();
                }
                Ok(RotateNext::CheckOldKey) => {
                    let opens = r.new_envelope().unwrap().unwrap_aes(&master()).is_ok();
                    let _ = r.old_key_opens(opens);
                }
                Ok(RotateNext::Done(_)) => break Ok(()),
            }
        };
        if new_key == master() {
            assert_eq!(res.unwrap_err(), Error::RotationNotEnforced);
        } else {
            res.unwrap();
        }
    }
    // The old key no longer opens the object; the new one does.
    let got = get(&mut store, intent("k"), Lie::Honest, 1 << 20);
    assert_eq!(got.result.unwrap_err(), Error::Authentication);
    let mut g = GetObject::new(intent("k")).unwrap();
    let mut bodies = HashMap::new();
    let out = loop {
        match g.poll().unwrap() {
            GetNext::Send(id) => {
                let r = g.request(id).unwrap();
                let resp = store.serve(&r, &[], Lie::Honest);
                g.response(id, resp.status, pairs(&resp.headers)).unwrap();
                bodies.insert(id, resp.body);
            }
            GetNext::ReadBody(id) => {
                let mut b = bodies.remove(&id).unwrap();
                let f = g.feed(id).unwrap();
                assert!(b.len() <= f.len);
                if let Released::Plaintext { start, len, .. } = g.body(id, &mut b).unwrap() {
                    bodies.insert(id, b[start..start + len].to_vec());
                }
                g.end_of_body(id).unwrap();
            }
            GetNext::UnwrapKey => g.unwrap_aes(&new_master).unwrap(),
            GetNext::Done(_) => break bodies.into_values().max_by_key(Vec::len).unwrap(),
            other => panic!("{other:?}"),
        }
    };
    assert!(out == pt);
}

fn store_env_unwrap(r: &RotateInstructionFile<'_>, key: &AesKey) -> DataKey {
    // The machine's key request names a local AES unwrap; do it through the envelope.
    let _ = r.key_request().unwrap();
    r_env(r).unwrap_aes(key).unwrap()
}

fn r_env<'a>(r: &'a RotateInstructionFile<'_>) -> &'a s3_encryption::Envelope {
    r.old_envelope().unwrap()
}

#[test]
fn policy_is_applied_before_any_key_work() {
    let mut store = Store::default();
    put(&mut store, "k", b"abc", &PutOpts::default()).unwrap();
    // A V3 object read under a policy that forbids nothing still needs a matching key.
    let mut it = intent("k");
    it.policy = DecryptPolicy::new();
    let got = get(&mut store, it, Lie::Honest, 1 << 20);
    assert_eq!(got.assembled(), b"abc");
}

/// A refused response ends its request: the machine then cleans up (here: the object was written
/// but its instruction file was refused, so the object is deleted) and reports the refusal.
#[test]
fn a_refused_instruction_file_deletes_the_object() {
    let mut intent = PutIntent::new("b", "k", Some(10));
    intent.config = EncryptConfig::v3(Placement::InstructionFile);
    let mut p = PutObject::new(intent).unwrap();
    let mut ops = Vec::new();
    let err = loop {
        match p.poll() {
            Err(e) => break e,
            Ok(PutNext::EncryptionMaterials) => {
                let m = EncryptionMaterials::aes_gcm(p.config(), &master(), &[]).unwrap();
                p.materials(m).unwrap();
            }
            Ok(PutNext::Send(id)) => {
                let r = p.request(id).unwrap();
                ops.push(r.operation);
                let is_ifile = !r.key_suffix.is_empty();
                if r.operation == Operation::PutObject && !is_ifile {
                    p.encrypt(&mut [7u8; 10]).unwrap();
                    p.tag().unwrap();
                }
                let status = if is_ifile { 403 } else { 200 };
                let _ = p.response(id, status, []);
            }
            Ok(other) => panic!("{other:?}"),
        }
    };
    assert_eq!(err, Error::RequestFailed { status: 403 });
    assert_eq!(
        ops,
        [
            Operation::PutObject,
            Operation::PutObject,
            Operation::DeleteObject
        ]
    );
}

// ---------------------------------------------------------------- host AEAD

/// Drive a GET of `key` to its first body, answering every request honestly.
fn open_to_body<'a>(store: &mut Store, it: GetIntent<'a>) -> (GetObject<'a>, RequestId, Vec<u8>) {
    let mut g = GetObject::new(it).unwrap();
    let mut bodies = HashMap::new();
    loop {
        match g.poll().unwrap() {
            GetNext::Send(id) => {
                let r = g.request(id).unwrap();
                let resp = store.serve(&r, &[], Lie::Honest);
                g.response(id, resp.status, pairs(&resp.headers)).unwrap();
                bodies.insert(id, resp.body);
            }
            GetNext::UnwrapKey => g.unwrap_aes(&master()).unwrap(),
            GetNext::ReadBody(id) => return (g, id, bodies.remove(&id).unwrap()),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The host-AEAD hand-off is offered only for an in-memory GCM read, takes exactly the whole
/// body, and the body cannot end (nor anything be released) before the host's verdict; a failed
/// verdict is the opaque authentication error and poisons the machine.
#[test]
fn the_host_aead_hand_off_is_in_memory_only_and_releases_after_the_verdict() {
    let pt = data(5000, 9);
    let mut store = Store::default();
    put(&mut store, "k", &pt, &PutOpts::default()).unwrap();

    // Two passes (the budget is smaller than the object): not offered, nothing recorded.
    let mut it = intent("k");
    it.memory_budget = 100;
    let (mut g, id, body) = open_to_body(&mut store, it);
    assert!(g.host_aead(id, body.len()).unwrap().is_none());
    let f = g.feed(id).unwrap();
    assert_eq!((f.len, f.exact), (body.len(), false));

    // A short body is truncated, as for `body`.
    let (mut g, id, body) = open_to_body(&mut store, intent("k"));
    assert_eq!(
        g.host_aead(id, body.len() - 1).unwrap_err(),
        Error::TruncatedBody
    );

    // The verdict is due before the body ends; then the whole plaintext is released at once.
    let (mut g, id, body) = open_to_body(&mut store, intent("k"));
    let aead = g.host_aead(id, body.len()).unwrap().unwrap();
    assert_eq!(aead.aad(), &[0x00, 0x73]);
    assert_eq!(aead.ciphertext_len(), pt.len() as u64);
    assert!(format!("{aead:?}").contains("<redacted>"));
    assert!(matches!(g.end_of_body(id), Err(Error::ApiMisuse(_))));
    let (mut g, id, body) = open_to_body(&mut store, intent("k"));
    let _ = g.host_aead(id, body.len()).unwrap().unwrap();
    assert_eq!(
        g.host_aead_result(id, true).unwrap(),
        Released::Plaintext {
            start: 0,
            len: pt.len(),
            offset: 0
        }
    );
    g.end_of_body(id).unwrap();
    let GetNext::Done(d) = g.poll().unwrap() else {
        panic!("not done")
    };
    assert_eq!(
        (d.released, d.verification),
        (pt.len() as u64, Verification::InMemory)
    );

    // A failed verdict: Authentication, and the machine stays failed.
    let (mut g, id, body) = open_to_body(&mut store, intent("k"));
    let _ = g.host_aead(id, body.len()).unwrap().unwrap();
    assert_eq!(
        g.host_aead_result(id, false).unwrap_err(),
        Error::Authentication
    );
    assert_eq!(g.end_of_body(id).unwrap_err(), Error::Authentication);
    assert_eq!(g.poll().unwrap_err(), Error::Authentication);
    assert_eq!(g.released(), 0);
}
